-- spygroup schema, version 10: supervisors granted queues. A supervisor may
-- monitor whichever agent answers a call of one of these queues, whatever the
-- agent's spy groups (on top of the groups of the grant, which may then be none).
CREATE TABLE supervisor_queues (
    supervisor TEXT NOT NULL REFERENCES supervisors (extension) ON DELETE CASCADE,
    queue_name TEXT NOT NULL REFERENCES queues (name) ON DELETE CASCADE,
    PRIMARY KEY (supervisor, queue_name)
);

CREATE INDEX supervisor_queues_queue ON supervisor_queues (queue_name);
