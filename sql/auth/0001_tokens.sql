-- Refresh tokens (stored only as SHA-256 hashes) and the login rate limits.
CREATE TABLE refresh_tokens (
    id         bigint GENERATED ALWAYS AS IDENTITY (START WITH 1000) PRIMARY KEY,
    token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    family_id  uuid NOT NULL,
    user_id    bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    rotated    boolean NOT NULL DEFAULT false
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id) WHERE revoked_at IS NULL;

CREATE TABLE rate_limits (
    bucket       text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON refresh_tokens TO esm_auth;
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limits TO esm_auth;
