-- The counters of the workers on this database (shared/wmetrics.h): each
-- writes its own rows every few seconds; the service's /metrics shows the
-- fresh ones. UNLOGGED: figures need no WAL flush, and a crash only resets
-- them.
CREATE UNLOGGED TABLE worker_metrics (
    worker     text NOT NULL CHECK (length(worker) BETWEEN 1 AND 63),
    instance   text NOT NULL CHECK (length(instance) BETWEEN 1 AND 127),
    metric     text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
    value      double precision NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker, instance, metric)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON worker_metrics TO esm_logcollector;
GRANT SELECT ON worker_metrics TO esm_logmonitor;
