-- spygroup schema, version 1.
-- Written to run unchanged on SQLite and PostgreSQL: TEXT and BIGINT only,
-- natural keys (no auto-increment syntax, which the two spell differently),
-- times as epoch milliseconds in BIGINT columns.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE extensions (
    number     TEXT PRIMARY KEY,
    name       TEXT,
    context    TEXT NOT NULL DEFAULT 'from-internal',
    ha1_md5    TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE trunks (
    name       TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    port       BIGINT,
    context    TEXT NOT NULL DEFAULT 'from-trunk',
    created_at BIGINT NOT NULL
);

CREATE INDEX trunks_host ON trunks (host);

CREATE TABLE kv (
    family TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  TEXT NOT NULL,
    PRIMARY KEY (family, key)
);

CREATE TABLE cdr (
    id             TEXT PRIMARY KEY,
    call_id        TEXT NOT NULL,
    caller         TEXT NOT NULL,
    callee         TEXT NOT NULL,
    caller_channel TEXT NOT NULL,
    callee_channel TEXT,
    start_at       BIGINT NOT NULL,
    answer_at      BIGINT,
    end_at         BIGINT NOT NULL,
    disposition    TEXT NOT NULL,
    hangup_by      TEXT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    billsec_ms     BIGINT NOT NULL
);

CREATE INDEX cdr_start_at ON cdr (start_at);

CREATE TABLE locations (
    aor              TEXT NOT NULL,
    contact_uri      TEXT NOT NULL,
    source_transport TEXT NOT NULL,
    source_addr      TEXT NOT NULL,
    expires_at       BIGINT NOT NULL,
    call_id          TEXT NOT NULL,
    cseq             BIGINT NOT NULL,
    user_agent       TEXT,
    PRIMARY KEY (aor, contact_uri)
);
