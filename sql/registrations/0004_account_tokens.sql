-- Email verification and password reset. A token is mailed once and kept
-- only as its SHA-256; it works once (used_at) and until expires_at, and
-- only for the address it was sent to. Accounts from before verification
-- existed count as verified: they were never asked.
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
UPDATE users SET email_verified = true;

CREATE TABLE account_tokens (
    token_hash text PRIMARY KEY CHECK (length(token_hash) = 64),
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('password_reset', 'email_verify')),
    email      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user ON account_tokens (user_id, purpose) WHERE used_at IS NULL;

GRANT SELECT, INSERT, UPDATE, DELETE ON account_tokens TO esm_users;
GRANT UPDATE (email_verified) ON users TO esm_users;
