-- Fair claims: within a priority, users take turns. Before this, claims went
-- by priority and then age alone, so one user's backlog held every later
-- task of that priority behind all of it (24 tasks of one user held another
-- user's task pending for 24 s).
--
-- Each pending task gets a turn, fair_tag, when it is created: one past the
-- latest turn of the same user's pending tasks of that priority, and never
-- earlier than the turn the queue of that priority has reached (the lowest
-- turn still pending there). The runner claims by priority, then turn, then
-- age (worker/taskrunner/store.c). So a user's k-th waiting task competes
-- with everyone's k-th: a user with a backlog gets one claim per round like
-- everyone else, and a newcomer's task waits behind at most one task of
-- each user ahead of it in its round (the ones created before it), not
-- behind their backlogs. No one's history counts: a user whose tasks were
-- all claimed starts again at the queue's current turn.
--
-- The turn is decided once, on insert, by whatever inserts: the claim stays
-- one walk of one partial index with SKIP LOCKED, and creating a task takes
-- no lock on anything shared (two concurrent creates of one user may draw
-- the same turn; that user then gets both in one round, which is all the
-- unfairness a race can add).
ALTER TABLE tasks ADD COLUMN fair_tag bigint NOT NULL DEFAULT 0 CHECK (fair_tag >= 0);

CREATE FUNCTION task_fair_tag() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
    r integer := public.task_priority_rank(NEW.priority);
BEGIN
    -- GREATEST skips NULLs: no pending task of the user, or none at all.
    NEW.fair_tag := GREATEST(0,
        (SELECT t.fair_tag + 1 FROM public.tasks t
          WHERE t.status = 'pending' AND t.user_id = NEW.user_id
            AND public.task_priority_rank(t.priority) = r
          ORDER BY t.fair_tag DESC LIMIT 1),
        (SELECT t.fair_tag FROM public.tasks t
          WHERE t.status = 'pending' AND public.task_priority_rank(t.priority) = r
          ORDER BY t.fair_tag LIMIT 1));
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION task_fair_tag() FROM PUBLIC;

CREATE TRIGGER tasks_fair_tag BEFORE INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_fair_tag();

-- The claim's order (it replaces 0004's), whose first entry of a priority
-- is also the queue's current turn; and a user's latest turn per priority.
-- Both hold pending tasks only.
DROP INDEX tasks_queue;
CREATE INDEX tasks_queue ON tasks (task_priority_rank(priority), fair_tag, created_at, id)
    WHERE status = 'pending';
CREATE INDEX tasks_queue_user ON tasks (user_id, task_priority_rank(priority), fair_tag)
    WHERE status = 'pending';

-- The runner orders its claim by the turn; the service sets it only
-- through the trigger (its INSERT grant covers the column).
GRANT SELECT (fair_tag) ON tasks TO esm_taskrunner;
