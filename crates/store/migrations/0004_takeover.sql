-- spygroup schema, version 4: taking a call over, telling the monitored.
-- A supervisor may be granted `takeover` (release the agent's leg and keep the
-- client, talking to the supervisor from then on); no existing grant gets it. A
-- call record says who took the call over and when (NULL: nobody did).
ALTER TABLE supervisors ADD COLUMN may_takeover BIGINT NOT NULL DEFAULT 0
    CHECK (may_takeover IN (0, 1));
ALTER TABLE cdr ADD COLUMN taken_over_by TEXT;
ALTER TABLE cdr ADD COLUMN taken_over_at BIGINT;
-- What the parties of a monitored call in the group are told: none, agent (a beep
-- to the agent), both (a beep to both) or announce, at the start and at each mode
-- change; a reminder beep every notice_every_s seconds while monitored (0: none).
ALTER TABLE spy_groups ADD COLUMN notice TEXT NOT NULL DEFAULT 'none';
ALTER TABLE spy_groups ADD COLUMN notice_every_s BIGINT NOT NULL DEFAULT 0;
