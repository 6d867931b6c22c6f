-- Exact task counts for pagination.total without counting rows: a user
-- with many tasks made every list page scan all of them. Kept by triggers
-- in the writing transaction, so a count is as exact as the rows it stands
-- for. Each backend adds to a shard of its own (its pid modulo 64), so the
-- pool's processes creating tasks for one user do not queue on one
-- counter row until commit, which would undo group commit; a count sums a
-- user's few shard rows.
CREATE TABLE task_counts (
    user_id   bigint NOT NULL,
    status    text NOT NULL,
    task_type text NOT NULL,
    shard     smallint NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (user_id, status, task_type, shard)
);

-- Status moves forward only (logic.c), so two transactions never lock the
-- same pair of counter rows in opposite orders.
CREATE FUNCTION task_counts_trigger() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM public.task_counts;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO public.task_counts AS c (user_id, status, task_type, shard, n)
        VALUES (OLD.user_id, OLD.status, OLD.task_type, pg_backend_pid() % 64, -1)
        ON CONFLICT (user_id, status, task_type, shard) DO UPDATE SET n = c.n - 1;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO public.task_counts AS c (user_id, status, task_type, shard, n)
        VALUES (NEW.user_id, NEW.status, NEW.task_type, pg_backend_pid() % 64, 1)
        ON CONFLICT (user_id, status, task_type, shard) DO UPDATE SET n = c.n + 1;
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION task_counts_trigger() FROM PUBLIC;

CREATE TRIGGER task_counts_insert AFTER INSERT OR DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_counts_trigger();
CREATE TRIGGER task_counts_update AFTER UPDATE OF status, user_id, task_type ON tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.user_id <> NEW.user_id
        OR OLD.task_type IS DISTINCT FROM NEW.task_type)
    EXECUTE FUNCTION task_counts_trigger();
CREATE TRIGGER task_counts_truncate AFTER TRUNCATE ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_trigger();

-- The rows so far, with writers kept out until this commits.
LOCK TABLE tasks IN SHARE MODE;
INSERT INTO task_counts (user_id, status, task_type, shard, n)
    SELECT user_id, status, task_type, 0, count(*) FROM tasks GROUP BY 1, 2, 3;

GRANT SELECT ON task_counts TO esm_tasks;
