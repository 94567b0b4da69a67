-- spygroup schema, version 6: a barge that becomes a conference.
-- A supervisor may be granted `conference` (turn a barge into a conference room
-- that goes on when any one party leaves); no existing grant gets it.
ALTER TABLE supervisors ADD COLUMN may_conference BIGINT NOT NULL DEFAULT 0
    CHECK (may_conference IN (0, 1));
