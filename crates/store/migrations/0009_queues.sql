-- spygroup schema, version 9: call-center queues (Asterisk's queues.conf as
-- rows), their members (static and dynamic agents, with pause state), the queue
-- log (Asterisk's queue_log columns; a line written twice by a retried write
-- is the same line, hence the key).
-- Flags are BIGINT 0/1 like every other flag.
CREATE TABLE queues (
    name                        TEXT PRIMARY KEY,
    strategy                    TEXT NOT NULL DEFAULT 'ringall',
    timeout_s                   BIGINT NOT NULL DEFAULT 15,
    retry_s                     BIGINT NOT NULL DEFAULT 5,
    wrapuptime_s                BIGINT NOT NULL DEFAULT 0,
    maxlen                      BIGINT NOT NULL DEFAULT 0,
    joinempty                   TEXT NOT NULL DEFAULT 'never',
    leavewhenempty              TEXT NOT NULL DEFAULT 'never',
    announce_frequency_s        BIGINT NOT NULL DEFAULT 0,
    announce_holdtime           BIGINT NOT NULL DEFAULT 0 CHECK (announce_holdtime IN (0, 1)),
    announce_position           BIGINT NOT NULL DEFAULT 0 CHECK (announce_position IN (0, 1)),
    periodic_announce           TEXT NOT NULL DEFAULT '',
    periodic_announce_frequency_s BIGINT NOT NULL DEFAULT 0,
    servicelevel_s              BIGINT NOT NULL DEFAULT 60,
    weight                      BIGINT NOT NULL DEFAULT 0,
    musicclass                  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE queue_members (
    queue_name TEXT NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    extension  TEXT NOT NULL REFERENCES extensions (number) ON DELETE CASCADE,
    penalty    BIGINT NOT NULL DEFAULT 0,
    dynamic    BIGINT NOT NULL DEFAULT 0 CHECK (dynamic IN (0, 1)),
    paused     BIGINT NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),
    reason     TEXT NOT NULL DEFAULT '',
    position   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_name, extension)
);
CREATE TABLE queue_log (
    time_ms   BIGINT NOT NULL,
    callid    TEXT NOT NULL,
    queuename TEXT NOT NULL,
    agent     TEXT NOT NULL,
    event     TEXT NOT NULL,
    data1     TEXT NOT NULL DEFAULT '',
    data2     TEXT NOT NULL DEFAULT '',
    data3     TEXT NOT NULL DEFAULT '',
    data4     TEXT NOT NULL DEFAULT '',
    data5     TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (time_ms, callid, queuename, agent, event)
);
CREATE INDEX queue_log_queue_time ON queue_log (queuename, time_ms);
CREATE INDEX queue_log_agent_time ON queue_log (agent, time_ms);
