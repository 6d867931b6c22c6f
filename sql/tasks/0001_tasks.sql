-- Tasks and their outbox. Ids start at 1000 (API.md). The status rules
-- (which transitions exist) live in fcgi/tasks/logic.c; the CHECKs here
-- keep the vocabulary closed whatever writes the table.
CREATE TABLE tasks (
    id              bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) PRIMARY KEY,
    reference       text NOT NULL UNIQUE CHECK (reference ~ '^TASK[0-9]{8}[0-9A-F]{8}$'),
    task_type       text NOT NULL CHECK (task_type IN ('data_processing', 'file_upload',
                        'report_generation', 'data_export', 'image_processing')),
    user_id         bigint NOT NULL CHECK (user_id > 0),
    priority        text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing',
                        'completed', 'failed', 'cancelled')),
    progress        integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    parameters      jsonb NOT NULL DEFAULT '{}',
    result          jsonb,
    error_message   text,
    processing_time double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Lists are newest first, per user or for everyone (admins).
CREATE INDEX tasks_user_created ON tasks (user_id, created_at DESC, id DESC);
CREATE INDEX tasks_created ON tasks (created_at DESC, id DESC);

-- Transactional outbox, same shape as every service's (see registrations).
CREATE TABLE outbox (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid NOT NULL UNIQUE,
    topic      text NOT NULL,
    msg_key    text NOT NULL,
    payload    text NOT NULL,
    request_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz,
    attempts   integer NOT NULL DEFAULT 0,
    last_error text
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

GRANT SELECT, INSERT ON tasks TO esm_tasks;
GRANT UPDATE (status, progress, result, error_message, processing_time, started_at,
    completed_at, updated_at) ON tasks TO esm_tasks;
GRANT INSERT ON outbox TO esm_tasks;
GRANT SELECT (id, sent_at) ON outbox TO esm_tasks;
GRANT SELECT, UPDATE (sent_at, attempts, last_error) ON outbox TO esm_relay;
