-- Users, their outbox and the registration rate limit.
-- Ids start at 1000 (API.md); usernames and emails are unique regardless of case.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) PRIMARY KEY,
    username      text NOT NULL CHECK (length(username) BETWEEN 3 AND 20),
    email         text NOT NULL CHECK (length(email) <= 254),
    password_hash text NOT NULL,
    first_name    text CHECK (length(first_name) <= 50),
    last_name     text CHECK (length(last_name) <= 50),
    date_of_birth date,
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Transactional outbox: a row is written in the same transaction as the
-- change it announces; esm-relay publishes it and sets sent_at.
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

-- Fixed-window counters shared by every process and host.
CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

GRANT SELECT, INSERT, DELETE ON users TO esm_users;
GRANT UPDATE (updated_at) ON users TO esm_users;
GRANT INSERT ON outbox TO esm_users;
GRANT SELECT (id, sent_at) ON outbox TO esm_users;
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO esm_users;
GRANT SELECT, UPDATE (sent_at, attempts, last_error) ON outbox TO esm_relay;
