-- How a notification ends besides sent and failed: 'undeliverable' when it
-- has nobody to go to (its user never became known within the notifier's
-- wait, or was deleted), the reason in last_error. And read_at: when its
-- user marked it read (the notification API's only write, column-level, so
-- mail_secret stays out of its reach).
ALTER TABLE notifications DROP CONSTRAINT notifications_status_check;
ALTER TABLE notifications ADD CONSTRAINT notifications_status_check
    CHECK (status IN ('pending', 'sent', 'failed', 'undeliverable'));
ALTER TABLE notifications ADD COLUMN read_at timestamptz;

-- The notifier's pass over mail still waiting for an address, oldest first.
CREATE INDEX notifications_no_recipient ON notifications (created_at)
    WHERE status = 'pending' AND channel = 'email' AND recipient_email IS NULL;

GRANT SELECT (read_at), UPDATE (read_at) ON notifications TO esm_notifications;
