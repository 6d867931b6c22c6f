-- A code that a mail carries (password reset, email verification) is kept
-- apart from the notification's text: the mail has it, the API never shows
-- it (the service's role cannot read the column), and it is cleared once
-- the mail is sent or has failed for good.
ALTER TABLE notifications ADD COLUMN mail_secret text CHECK (length(mail_secret) <= 128);

REVOKE SELECT ON notifications FROM esm_notifications;
GRANT SELECT (id, event_id, event_type, user_id, recipient_email, subject, message, channel,
    status, attempts, last_error, next_attempt_at, source_topic, created_at, sent_at)
    ON notifications TO esm_notifications;
GRANT UPDATE (mail_secret) ON notifications TO esm_notifier;
