/*
 * routes.c: the user service's tables: SQL statements (constant, prepared
 * once per connection), the fields each JSON route accepts, and routes.
 */
#include <string.h>

#include "wmetrics.h"
#include "event.h"
#include "users.h"
#include "valid.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* Columns of users_row_json, in order. */
#define USERS_COLS "id, username, email, first_name, last_name, " \
	"to_char(date_of_birth, 'YYYY-MM-DD'), " TS("created_at") ", " TS("updated_at") ", role, " \
	"email_verified"

const struct db_stmt users_stmts[US_COUNT_] = {
	[US_RATE] = { "rate", RATELIMIT_SQL, 0 },
	[US_RATE_PURGE] = { "rate_purge", RATELIMIT_PURGE_SQL, 0 },
	[US_OUTBOX] = { "outbox", EVENT_OUTBOX_SQL, 0 },
	[US_OUTBOX_COUNT] = { "outbox_count",
	    "SELECT count(*) FROM outbox WHERE sent_at IS NULL", 1 },
	[US_TAKEN] = { "taken",
	    "SELECT bool_or(lower(username) = lower($1)), bool_or(lower(email) = lower($2)) "
	    "FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($2)", 1 },
	[US_INSERT] = { "insert",
	    "INSERT INTO users (username, email, password_hash, first_name, last_name, date_of_birth) "
	    "VALUES ($1, $2, $3, $4, $5, $6::date) RETURNING " USERS_COLS, 0 },
	[US_GET] = { "get", "SELECT " USERS_COLS " FROM users WHERE id = $1::bigint", 1 },
	[US_DELETE] = { "delete",
	    "DELETE FROM users WHERE id = $1::bigint RETURNING id, username", 0 },
	[US_CREDENTIALS] = { "credentials",
	    "SELECT id, password_hash, username, role, email_verified FROM users "
	    "WHERE lower(username) = lower($1)", 1 },
	[US_WORKER_METRICS] = { "worker_metrics", WMETRICS_SELECT_SQL, 1 },
	[US_LOCK] = { "lock",
	    "SELECT username, role, password_hash, email FROM users WHERE id = $1::bigint FOR UPDATE", 0 },
	[US_SET_PASSWORD] = { "set_password",
	    "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1::bigint", 0 },
	[US_SET_ROLE] = { "set_role",
	    "UPDATE users SET role = $2, updated_at = now() WHERE id = $1::bigint", 0 },
	[US_TOKEN_NEW] = { "token_new",
	    "INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at) "
	    "VALUES ($1, $2::bigint, $3, $4, now() + make_interval(secs => $5::int))", 0 },
	/* A mailed token works once, in time, for its purpose. */
	[US_TOKEN_USE] = { "token_use",
	    "UPDATE account_tokens SET used_at = now() WHERE token_hash = $1 AND purpose = $2 "
	    "AND used_at IS NULL AND expires_at > now() RETURNING user_id, email", 0 },
	[US_TOKENS_VOID] = { "tokens_void",
	    "UPDATE account_tokens SET used_at = now() WHERE user_id = $1::bigint AND purpose = $2 "
	    "AND used_at IS NULL", 0 },
	/* A reset request in one statement, whether or not the address is
	 * anyone's: the token row and the event that mails it exist only when
	 * it is (the event is $6 with the user's fields added). */
	[US_RESET_REQUEST] = { "reset_request",
	    "WITH u AS (SELECT id, username, email FROM users WHERE lower(email) = lower($1)), "
	    "t AS (INSERT INTO account_tokens (token_hash, user_id, purpose, email, expires_at) "
	    "SELECT $2, id, 'password_reset', email, now() + make_interval(secs => $3::int) FROM u) "
	    "INSERT INTO outbox (event_id, topic, msg_key, payload, request_id) "
	    "SELECT $4::uuid, $5, u.id::text, ($6::jsonb || jsonb_build_object('userId', u.id, "
	    "'username', u.username, 'email', u.email))::text, NULLIF($7, '') FROM u", 0 },
	/* Verified: the address the token was sent to is still the user's. */
	[US_IDEM_LOOKUP] = { "idem_lookup", IDEM_LOOKUP_SQL, 1 },
	[US_IDEM_SAVE] = { "idem_save", IDEM_SAVE_SQL, 0 },
	[US_IDEM_PURGE] = { "idem_purge", IDEM_PURGE_SQL, 0 },
	[US_VERIFY] = { "verify",
	    "UPDATE users SET email_verified = true, updated_at = now() "
	    "WHERE id = $1::bigint AND lower(email) = lower($2) RETURNING id", 0 },
};

const struct idem_stmts users_idem = { US_IDEM_LOOKUP, US_IDEM_SAVE, US_IDEM_PURGE };

const struct json_field users_register_fields[] = {
	{ "username", JT_STRING, 1, 0, 0, valid_username, 0, 0 },
	{ "email", JT_STRING, 1, 0, 0, valid_email, 0, 0 },
	{ "password", JT_STRING, 1, 0, 0, valid_password, 0, 0 },
	{ "firstName", JT_STRING_OR_NULL, 0, 0, VALID_NAME_MAX, valid_name, 0, 0 },
	{ "lastName", JT_STRING_OR_NULL, 0, 0, VALID_NAME_MAX, valid_name, 0, 0 },
	{ "dateOfBirth", JT_STRING_OR_NULL, 0, 0, 0, valid_past_date, 0, 0 },
};
const size_t users_register_nfields = ESM_NELEM(users_register_fields);

const struct json_field users_validate_fields[] = {
	{ "username", JT_STRING, 1, 1, 254, NULL, 0, 0 },
	{ "password", JT_STRING, 1, 1, VALID_PASSWORD_MAX, NULL, 0, 0 },
};
const size_t users_validate_nfields = ESM_NELEM(users_validate_fields);

const struct json_field users_password_fields[] = {
	{ "currentPassword", JT_STRING, 1, 1, VALID_PASSWORD_MAX, NULL, 0, 0 },
	{ "newPassword", JT_STRING, 1, 0, 0, valid_password, 0, 0 },
};
const size_t users_password_nfields = ESM_NELEM(users_password_fields);

static int
role_ok(const char *s, size_t n)
{
	return (n == 4 && memcmp(s, "user", 4) == 0) || (n == 5 && memcmp(s, "admin", 5) == 0);
}

const struct json_field users_role_fields[] = {
	{ "role", JT_STRING, 1, 1, 16, role_ok, 0, 0 },
};
const size_t users_role_nfields = ESM_NELEM(users_role_fields);

const struct json_field users_reset_fields[] = {
	{ "email", JT_STRING, 1, 1, 254, NULL, 0, 0 },
};
const size_t users_reset_nfields = ESM_NELEM(users_reset_fields);

const struct json_field users_reset_confirm_fields[] = {
	{ "token", JT_STRING, 1, 1, 128, NULL, 0, 0 },
	{ "newPassword", JT_STRING, 1, 0, 0, valid_password, 0, 0 },
};
const size_t users_reset_confirm_nfields = ESM_NELEM(users_reset_confirm_fields);

const struct json_field users_verify_fields[] = {
	{ "token", JT_STRING, 1, 1, 128, NULL, 0, 0 },
};
const size_t users_verify_nfields = ESM_NELEM(users_verify_fields);

const struct route users_routes[] = {
	{ "POST", "/api/v1/eventstreammonitor/users/register", users_h_register, RB_JSON, RA_NONE },
	{ "POST", "/api/v1/eventstreammonitor/users/password-reset", users_h_reset, RB_JSON, RA_NONE },
	{ "POST", "/api/v1/eventstreammonitor/users/password-reset/confirm", users_h_reset_confirm,
	    RB_JSON, RA_NONE },
	{ "POST", "/api/v1/eventstreammonitor/users/verify-email", users_h_verify, RB_JSON, RA_NONE },
	{ "GET", "/api/v1/eventstreammonitor/users/{id}", users_h_get, RB_NONE, RA_BEARER },
	{ "DELETE", "/api/v1/eventstreammonitor/users/{id}", users_h_delete, RB_NONE, RA_BEARER },
	{ "POST", "/api/v1/eventstreammonitor/users/{id}/password", users_h_password, RB_JSON, RA_BEARER },
	{ "PUT", "/api/v1/eventstreammonitor/users/{id}/role", users_h_role, RB_JSON, RA_BEARER },
	{ "POST", "/internal/v1/users/validate", users_h_validate, RB_JSON, RA_SERVICE },
	{ "GET", "/internal/v1/users/{id}", users_h_internal_get, RB_NONE, RA_SERVICE },
};
const size_t users_nroutes = sizeof(users_routes) / sizeof(users_routes[0]);
