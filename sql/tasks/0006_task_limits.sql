-- Task creation limits (fcgi/tasks/h_create.c). Tasks one user may create
-- per window are counted here, in the fixed windows of shared/ratelimit.h
-- that the user and auth services keep in their own databases; the cap on
-- a user's pending tasks reads task_counts (0002) and needs nothing new.
--
-- UNLOGGED: every create counts a hit, and a logged write would make each
-- create wait on a second WAL flush (the hit commits apart from the task).
-- A crash only empties the current windows, which a rate limit can afford.
CREATE UNLOGGED TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO esm_tasks;
