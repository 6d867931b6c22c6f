/*
 * routes.c: the token service's tables: SQL statements, the fields each
 * JSON route accepts, and routes.
 */
#include "auth.h"
#include "valid.h"

const struct db_stmt auth_stmts[AS_COUNT_] = {
	[AS_RATE] = { "rate", RATELIMIT_SQL, 0 },
	[AS_RATE_PURGE] = { "rate_purge", RATELIMIT_PURGE_SQL, 0 },
	/* A refresh token lives $4 s, but never past $5 s after its family's
	 * login: rotation does not slide a session forever. */
	[AS_INSERT] = { "insert",
	    "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at) "
	    "VALUES ($1, $2::uuid, $3::bigint, LEAST(now() + make_interval(secs => $4::int), "
	    "coalesce((SELECT min(created_at) FROM refresh_tokens WHERE family_id = $2::uuid), now()) "
	    "+ make_interval(secs => $5::int)))", 0 },
	/* Rotation: only a live token of a family within its lifetime can be
	 * used, exactly once. */
	[AS_ROTATE] = { "rotate",
	    "UPDATE refresh_tokens SET revoked_at = now(), rotated = true "
	    "WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now() AND "
	    "(SELECT min(f.created_at) FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id) "
	    "> now() - make_interval(secs => $2::int) RETURNING family_id, user_id", 0 },
	[AS_LOOKUP] = { "lookup",
	    "SELECT family_id, rotated FROM refresh_tokens WHERE token_hash = $1", 1 },
	/* Revocations: the refresh tokens stop working and the session goes
	 * on the list every service refuses access tokens by, for $2 s. */
	[AS_REVOKE_FAMILY] = { "revoke_family",
	    "WITH r AS (UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) "
	    "WHERE family_id = $1::uuid) "
	    "INSERT INTO revoked_sessions (family_id, until) "
	    "VALUES ($1::uuid, now() + make_interval(secs => $2::int)) "
	    "ON CONFLICT (family_id) DO NOTHING", 0 },
	/* Logout: a live refresh token ends its session. */
	[AS_REVOKE] = { "revoke",
	    "WITH r AS (UPDATE refresh_tokens SET revoked_at = now() "
	    "WHERE token_hash = $1 AND revoked_at IS NULL RETURNING family_id) "
	    "INSERT INTO revoked_sessions (family_id, until) "
	    "SELECT family_id, now() + make_interval(secs => $2::int) FROM r "
	    "ON CONFLICT (family_id) DO NOTHING", 0 },
	/* Every session of the user that issued a token in the last $2 s:
	 * each access token comes with a refresh token row, so these are all
	 * the sessions whose access tokens may still be valid. */
	[AS_REVOKE_USER] = { "revoke_user",
	    "WITH r AS (UPDATE refresh_tokens SET revoked_at = now() "
	    "WHERE user_id = $1::bigint AND revoked_at IS NULL) "
	    "INSERT INTO revoked_sessions (family_id, until) "
	    "SELECT DISTINCT family_id, now() + make_interval(secs => $2::int) FROM refresh_tokens "
	    "WHERE user_id = $1::bigint AND created_at > now() - make_interval(secs => $2::int) "
	    "ON CONFLICT (family_id) DO NOTHING", 0 },
	[AS_REVOKE_PURGE] = { "revoke_purge",
	    "DELETE FROM revoked_sessions WHERE until < now()", 0 },
	/* The revocations from $1 (microseconds since the epoch) on, oldest
	 * first, one page: the clock at the read comes on every row, so an
	 * empty page is one row of NULLs with it. */
	[AS_REVOKED_SINCE] = { "revoked_since",
	    "WITH t AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now_us) "
	    "SELECT t.now_us, v.family_id, v.until_s, v.at_us FROM t LEFT JOIN LATERAL ("
	    "SELECT family_id::text AS family_id, extract(epoch FROM until)::bigint AS until_s, "
	    "(extract(epoch FROM revoked_at) * 1000000)::bigint AS at_us FROM revoked_sessions "
	    "WHERE revoked_at >= timestamptz 'epoch' + $1::bigint * interval '1 microsecond' "
	    "AND until > now() ORDER BY revoked_at LIMIT " ESM_STR(AUTH_REVOKED_PAGE) ") v ON true", 1 },
	/* Failed logins of one username from one address, in rate_limits:
	 * hits failures, the last at window_start. Past $2 free ones, the
	 * k-th further failure makes the next attempt wait 2^(k-1) s, at most
	 * $3 s; the seconds left come back while that wait lasts. */
	[AS_FAIL_WAIT] = { "fail_wait",
	    "SELECT ceil(extract(epoch FROM window_start + make_interval(secs => "
	    "LEAST($3::int, power(2, LEAST(hits - $2::int - 1, 20))::int)) - now()))::int "
	    "FROM rate_limits WHERE bucket = $1 AND hits > $2::int AND window_start + "
	    "make_interval(secs => LEAST($3::int, power(2, LEAST(hits - $2::int - 1, 20))::int)) > now()", 1 },
	/* One more failure; one older than the longest wait starts afresh. */
	[AS_FAIL_NOTE] = { "fail_note",
	    "INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES ($1, now(), 1) "
	    "ON CONFLICT (bucket) DO UPDATE SET window_start = now(), hits = CASE WHEN "
	    "r.window_start <= now() - make_interval(secs => $2::int) THEN 1 ELSE r.hits + 1 END", 0 },
	[AS_FAIL_CLEAR] = { "fail_clear", "DELETE FROM rate_limits WHERE bucket = $1", 0 },
};

const struct json_field auth_login_fields[] = {
	{ "username", JT_STRING, 1, 1, 254, NULL, 0, 0 },
	{ "password", JT_STRING, 1, 1, VALID_PASSWORD_MAX, NULL, 0, 0 },
};
const size_t auth_login_nfields = ESM_NELEM(auth_login_fields);

const struct json_field auth_refresh_fields[] = {
	{ "refreshToken", JT_STRING, 1, 1, 512, NULL, 0, 0 },
};
const size_t auth_refresh_nfields = ESM_NELEM(auth_refresh_fields);

const struct json_field auth_revoke_fields[] = {
	{ "userId", JT_INT, 1, 0, 0, NULL, 1, INT64_MAX },
};
const size_t auth_revoke_nfields = ESM_NELEM(auth_revoke_fields);

const struct route auth_routes[] = {
	{ "POST", "/api/v1/eventstreammonitor/auth/login", auth_h_login, RB_JSON, RA_NONE },
	{ "POST", "/api/v1/eventstreammonitor/auth/refresh", auth_h_refresh, RB_JSON, RA_NONE },
	{ "POST", "/api/v1/eventstreammonitor/auth/logout", auth_h_logout, RB_JSON, RA_NONE },
	{ "GET", "/api/v1/eventstreammonitor/auth/validate", auth_h_validate, RB_NONE, RA_BEARER },
	{ "GET", "/.well-known/jwks.json", auth_h_jwks, RB_NONE, RA_NONE },
	{ "POST", "/internal/v1/auth/revoke-user", auth_h_revoke_user, RB_JSON, RA_SERVICE },
	{ "GET", "/internal/v1/auth/revocations", auth_h_revocations, RB_NONE, RA_SERVICE },
};
const size_t auth_nroutes = sizeof(auth_routes) / sizeof(auth_routes[0]);
