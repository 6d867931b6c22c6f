-- Notifications written by esm-notifier from the event topics, and the
-- notifier's projection of users (from user events) that gives task
-- notifications the user's real address. Ids start at 1000 (API.md).
CREATE TABLE notifications (
    id              bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) PRIMARY KEY,
    -- One notification per event: a replayed event changes nothing.
    event_id        uuid NOT NULL UNIQUE,
    event_type      text NOT NULL CHECK (length(event_type) BETWEEN 1 AND 64),
    user_id         bigint,
    -- NULL until the user's address is known (the user event may arrive
    -- after a task event: they travel on different topics).
    recipient_email text CHECK (length(recipient_email) <= 254),
    subject         text NOT NULL,
    message         text NOT NULL,
    channel         text NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'log')),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    last_error      text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    source_topic    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX notifications_user_created ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_created ON notifications (created_at DESC, id DESC);
CREATE INDEX notifications_due ON notifications (next_attempt_at, id)
    WHERE status = 'pending' AND channel = 'email';

CREATE TABLE notifier_users (
    user_id    bigint PRIMARY KEY,
    username   text,
    email      text CHECK (length(email) <= 254),
    deleted    boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT ON notifications TO esm_notifications;
GRANT SELECT, INSERT ON notifications TO esm_notifier;
GRANT UPDATE (recipient_email, status, attempts, last_error, next_attempt_at, sent_at)
    ON notifications TO esm_notifier;
GRANT SELECT, INSERT, UPDATE ON notifier_users TO esm_notifier;
