-- Idempotency-Key (shared/idem.h): the first successful response to a
-- keyed task creation, kept 24 hours, per caller. request_hash is a
-- keyed fingerprint of the request.
CREATE TABLE idempotency_keys (
    scope        text NOT NULL,
    idem_key     text NOT NULL CHECK (length(idem_key) BETWEEN 1 AND 255),
    request_hash text NOT NULL CHECK (length(request_hash) = 64),
    status       integer NOT NULL CHECK (status BETWEEN 200 AND 299),
    location     text,
    body         text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO esm_tasks;
