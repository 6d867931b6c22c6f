-- Revoked sessions. An access token names its session (sid: the refresh
-- token family it came from); a session is revoked on logout, on a replayed
-- refresh token, and for every recent session of a user who is deleted or
-- changes a password or a role. Every service keeps a copy of this table in
-- memory (revoke.h) and refuses the tokens of a listed session. A row is
-- kept until every access token of its session has expired (until); it is
-- read by revoked_at, from clock_timestamp(), which orders what one fetch
-- returns and where the next starts.
CREATE TABLE revoked_sessions (
    family_id  uuid PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    until      timestamptz NOT NULL
);
CREATE INDEX revoked_sessions_at ON revoked_sessions (revoked_at);
CREATE INDEX revoked_sessions_until ON revoked_sessions (until);

-- A user's sessions that may still have live access tokens.
CREATE INDEX refresh_tokens_user_created ON refresh_tokens (user_id, created_at);

GRANT SELECT, INSERT, UPDATE, DELETE ON revoked_sessions TO esm_auth;
