-- spygroup schema, version 2: the monitoring audit trail.
-- Every ChanSpy/ExtenSpy session and every refused attempt leaves a row here, so
-- "who listened to whom, when, and how" can be answered after the fact (often a
-- legal requirement in call centers). Same portable rules as version 1: TEXT and
-- BIGINT only, natural keys, times as epoch milliseconds.
--
-- No CHECK constraints on mode/outcome/kind: a newer version may add values, and
-- SQLite can only change a CHECK by rebuilding the table.

CREATE TABLE monitor_sessions (
    id                 TEXT PRIMARY KEY,
    supervisor         TEXT NOT NULL,
    supervisor_channel TEXT NOT NULL,
    target_endpoint    TEXT NOT NULL,
    target_channel     TEXT NOT NULL,
    -- The spied channel's bridged peer (the customer), when it had one.
    peer_channel       TEXT,
    -- The first mode (listen, whisper or barge); later changes are events.
    mode               TEXT NOT NULL,
    -- 'allowed' or 'denied'.
    outcome            TEXT NOT NULL,
    started_at         BIGINT NOT NULL,
    -- NULL while the session runs (or when the server died before it could end it).
    ended_at           BIGINT,
    end_reason         TEXT
);

CREATE INDEX monitor_sessions_started_at ON monitor_sessions (started_at);
CREATE INDEX monitor_sessions_supervisor ON monitor_sessions (supervisor);
CREATE INDEX monitor_sessions_target ON monitor_sessions (target_endpoint);

-- What happened within a session, in order. `seq` numbers a session's events from 1:
-- it orders events written in the same millisecond, and avoids auto-increment
-- syntax, which SQLite and PostgreSQL spell differently.
CREATE TABLE monitor_events (
    session_id TEXT NOT NULL REFERENCES monitor_sessions (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    -- start, mode, end or denied.
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
