-- The task runner (worker/taskrunner): pending tasks are claimed, worked
-- on under a lease, and completed or failed, each status change with its
-- task_status_changed event in the same transaction.
--
-- attempts counts the claims of a task and fences its runner: every write
-- of a runner names the attempts value of its claim, so a runner whose
-- lease ran out (and whose task another runner took over) changes nothing.
-- lease_until: a processing task whose lease has passed is taken over by
-- the next runner that looks (its runner died or hung); '-infinity' is a
-- task its runner handed back on a clean stop. lost counts the takeovers
-- of leases that ran out, which a clean stop does not add to: a task that
-- keeps losing its runners is failed after ESM_TASKRUNNER_MAX_ATTEMPTS.
-- request_id: the creating request's, carried by the task's later events.
ALTER TABLE tasks
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN lost integer NOT NULL DEFAULT 0 CHECK (lost >= 0),
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN request_id text;

-- Claim order: critical, high, medium, low; within a priority the oldest
-- first. The function is inlined into the claim query, so the index below
-- serves it.
CREATE FUNCTION task_priority_rank(p text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE p WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END $$;

CREATE INDEX tasks_queue ON tasks (task_priority_rank(priority), created_at, id)
    WHERE status = 'pending';
CREATE INDEX tasks_leases ON tasks (lease_until NULLS FIRST, id) WHERE status = 'processing';

-- esm_taskrunner moves tasks through processing and writes their events;
-- it reads what a claim returns, and nothing it does not need.
GRANT SELECT (id, reference, task_type, user_id, priority, status, progress, parameters,
    attempts, lost, lease_until, request_id, created_at, started_at) ON tasks TO esm_taskrunner;
GRANT UPDATE (status, progress, result, error_message, processing_time, started_at,
    completed_at, updated_at, attempts, lost, lease_until) ON tasks TO esm_taskrunner;
GRANT INSERT (event_id, topic, msg_key, payload, request_id) ON outbox TO esm_taskrunner;
