-- The log monitor's database: ERROR and CRITICAL records as the log
-- collector stored them, per-minute counts of every record by service and
-- level (for charts and Grafana), and the next Kafka offset per partition
-- that the collector has stored (so a replayed message is recognised and
-- counted once). Rows older than the retention (default 7 days) are
-- deleted by the collector.
CREATE TABLE error_logs (
    id           bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) PRIMARY KEY,
    ts           timestamptz NOT NULL,
    level        text NOT NULL CHECK (level IN ('ERROR', 'CRITICAL')),
    service      text NOT NULL CHECK (length(service) BETWEEN 1 AND 64),
    logger       text NOT NULL DEFAULT '',
    message      text NOT NULL,
    module       text NOT NULL DEFAULT '',
    function     text NOT NULL DEFAULT '',
    line         integer,
    host         text NOT NULL DEFAULT '',
    process      bigint,
    request_id   text NOT NULL DEFAULT '',
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX error_logs_ts ON error_logs (ts DESC, id DESC);
CREATE INDEX error_logs_service_ts ON error_logs (service, ts DESC, id DESC);

CREATE TABLE log_counts (
    minute  timestamptz NOT NULL,
    service text NOT NULL,
    level   text NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (minute, service, level)
);

CREATE TABLE log_offsets (
    topic       text NOT NULL,
    part        integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, part)
);

GRANT SELECT, INSERT, DELETE ON error_logs TO esm_logcollector;
GRANT SELECT, INSERT, UPDATE, DELETE ON log_counts TO esm_logcollector;
GRANT SELECT, INSERT, UPDATE ON log_offsets TO esm_logcollector;
GRANT SELECT ON error_logs, log_counts TO esm_logmonitor;
