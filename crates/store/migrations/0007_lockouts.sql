-- spygroup schema, version 7: lockouts (digest and PIN guessing), kept so that a
-- restart does not lift them and so that every lock and every lift is on record.
-- One row per lock: `subject_id` names what is locked (the same value for every
-- lock of one source, extension or PIN, as the API shows it), `lock_key` is what
-- the PBX's tracker keys on (never shown: for a PIN it is the stored hash).
CREATE TABLE lockouts (
    id          TEXT PRIMARY KEY,
    subject_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    lock_key    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    until_at    BIGINT NOT NULL,
    lock_count  BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    lifted_at   BIGINT,
    lifted_by   TEXT
);
CREATE INDEX lockouts_until ON lockouts (until_at);
CREATE INDEX lockouts_subject ON lockouts (subject_id);
