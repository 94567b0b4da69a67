-- spygroup schema, version 3: who may be monitored and who may monitor.
-- Spy groups and their members, supervisors with their grants (which groups, which
-- modes), inbound monitoring rules (calls from a trunk to a range of extensions get
-- groups), and API tokens. Same portable rules as versions 1 and 2: TEXT and BIGINT
-- only, times as epoch milliseconds, no auto-increment syntax. Flags are BIGINT 0/1
-- (SQLite has no BOOLEAN type).
--
-- Foreign keys cascade, so a row deleted by another system (SQLite enforces them
-- when the connection turns `PRAGMA foreign_keys` on, as spygroup does) leaves no
-- dangling references; spygroup also deletes dependent rows itself.

-- A spy group: the value ChanSpy's g(GROUP) option and a channel's SPYGROUP
-- variable (colon-separated) speak of.
CREATE TABLE spy_groups (
    name        TEXT PRIMARY KEY,
    description TEXT,
    created_at  BIGINT NOT NULL
);

-- Extension E is in group G: E's calls carry G in their SPYGROUP.
CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES spy_groups (name) ON DELETE CASCADE,
    extension  TEXT NOT NULL REFERENCES extensions (number) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_name, extension)
);

CREATE INDEX group_members_extension ON group_members (extension);

-- An extension that may monitor others, and how.
CREATE TABLE supervisors (
    extension   TEXT PRIMARY KEY REFERENCES extensions (number) ON DELETE CASCADE,
    -- 1: every channel, whatever its groups (supervisor_groups is then empty);
    -- 0: only channels in one of the groups listed in supervisor_groups.
    all_groups  BIGINT NOT NULL CHECK (all_groups IN (0, 1)),
    may_listen  BIGINT NOT NULL CHECK (may_listen IN (0, 1)),
    may_whisper BIGINT NOT NULL CHECK (may_whisper IN (0, 1)),
    may_barge   BIGINT NOT NULL CHECK (may_barge IN (0, 1)),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE supervisor_groups (
    supervisor TEXT NOT NULL REFERENCES supervisors (extension) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES spy_groups (name) ON DELETE CASCADE,
    PRIMARY KEY (supervisor, group_name)
);

CREATE INDEX supervisor_groups_group ON supervisor_groups (group_name);

-- Inbound monitoring rules: a call from `trunk` (NULL: any trunk) to a dialled
-- number within [low, high] (compared as numbers, inclusive) gets the rule's groups.
CREATE TABLE monitor_rules (
    id         BIGINT PRIMARY KEY,
    trunk      TEXT REFERENCES trunks (name) ON DELETE CASCADE,
    low        TEXT NOT NULL,
    high       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE monitor_rule_groups (
    rule_id    BIGINT NOT NULL REFERENCES monitor_rules (id) ON DELETE CASCADE,
    group_name TEXT NOT NULL REFERENCES spy_groups (name) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, group_name)
);

CREATE INDEX monitor_rule_groups_group ON monitor_rule_groups (group_name);

-- Last id handed out per table, so ids are never reused (portable stand-in for
-- AUTOINCREMENT / IDENTITY).
CREATE TABLE id_counters (
    name    TEXT PRIMARY KEY,
    last_id BIGINT NOT NULL
);

INSERT INTO id_counters (name, last_id) VALUES ('monitor_rules', 0);

-- HTTP API bearer tokens. Only a SHA-256 of the token is kept; the token itself
-- is shown once, when created.
CREATE TABLE api_tokens (
    id            TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL,
    -- read, supervise or admin.
    scope         TEXT NOT NULL,
    -- The supervisor a supervise token acts as; NULL for the other scopes.
    supervisor    TEXT REFERENCES supervisors (extension) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    last_used     BIGINT
);

CREATE INDEX api_tokens_supervisor ON api_tokens (supervisor);
