/*
 * h_account.c: a user's password and role.
 *   POST /api/v1/eventstreammonitor/users/{id}/password (that user only)
 *   PUT  /api/v1/eventstreammonitor/users/{id}/role     (admins only)
 * Both end every session of the user (users_revoke_sessions) once the
 * row is locked and the change allowed: before the change commits, so that
 * it cannot happen while the token service is away, and after it again,
 * for a login that came in between.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "cfg.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "pwhash.h"
#include "svc.h"
#include "token.h"
#include "users.h"

/* Locks user id's row: its username, role and password hash in *res.
 * 0, or the status replied (404 when there is no such user). Inside the
 * caller's transaction, which is rolled back on an error. */
static int
lock_user(struct http_req *r, const char *id, db_res **res)
{
	const char *p[1] = { id };
	int rc;

	if ((rc = db_exec(svc_db(), US_LOCK, p, 1, res)) != DB_OK) {
		db_rollback(svc_db());
		return svc_db_error(r, rc);
	}
	if (db_nrows(*res) == 0) {
		db_rollback(svc_db());
		db_res_free(*res);
		*res = NULL;
		return http_error(r, 404, "no such user", NULL);
	}
	return 0;
}

/* Commits the change stmt(p) of user id with its event ev (consumed).
 * 0, or the status replied. */
static int
commit_change(struct http_req *r, size_t stmt, const char **p, int np, cJSON *ev,
    const char *event_id)
{
	int rc;

	if (ev == NULL) {
		db_rollback(svc_db());
		return http_error(r, 500, NULL, NULL);
	}
	if ((rc = db_exec(svc_db(), stmt, p, np, NULL)) != DB_OK ||
	    (rc = event_outbox_add(svc_db(), US_OUTBOX, USERS_TOPIC, p[0], ev, event_id,
	    r->rid)) != DB_OK || (rc = db_commit(svc_db())) != DB_OK) {
		db_rollback(svc_db());
		cJSON_Delete(ev);
		return svc_db_error(r, rc);
	}
	cJSON_Delete(ev);
	metrics_add(MC_EVENTS_WRITTEN, 1);
	return 0;
}

/* An event of type about user uid named username. */
static cJSON *
user_event(struct http_req *r, const char *uid, const char *type, const char *username,
    char event_id[37])
{
	cJSON *ev = event_new(type, "usermanagement", r->rid, event_id);
	int64_t id = 0;

	if (ev == NULL || util_parse_i64(uid, 1, INT64_MAX, &id) == -1 ||
	    cJSON_AddNumberToObject(ev, "userId", (double)id) == NULL ||
	    cJSON_AddStringToObject(ev, "username", username) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

int
users_h_password(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *badp[2] = { "currentPassword", NULL };
	const char *cur, *nw, *p[2];
	char bucket[64], hash[PWHASH_STR_LEN], event_id[37];
	db_res *res = NULL;
	size_t nbad;
	int64_t id;
	int rc, retry, ok;

	if (util_parse_i64(r->pv[0], 1, INT64_MAX, &id) == -1)
		return http_error(r, 404, "no such user", NULL);
	if (r->auth.sub != id)
		return http_error(r, 403, "only the user may change its password", NULL);
	if (!json_check_fields(r->json, users_password_fields, users_password_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	/* A stolen access token must not become a cheap password oracle. */
	snprintf(bucket, sizeof(bucket), "password:%lld", (long long)id);
	rc = ratelimit_hit(svc_db(), US_RATE, US_RATE_PURGE, bucket, &users_cfg.password_rate, &retry);
	if (rc < 0)
		return svc_db_error(r, rc);
	if (rc == 1) {
		metrics_add(MC_RATE_LIMITED, 1);
		return http_error_ex(r, 429, "too many password changes, retry later", NULL, retry);
	}
	cur = json_str(r->json, "currentPassword");
	nw = json_str(r->json, "newPassword");
	if (pwhash_hash(nw, strlen(nw), hash) == -1) {
		log_error("password hashing failed");
		return http_error(r, 500, NULL, NULL);
	}
	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = lock_user(r, r->pv[0], &res)) != 0)
		return rc;
	ok = pwhash_verify(db_get(res, 0, 2), cur, strlen(cur));
	if (!ok || users_revoke_sessions(r, id) == -1) {
		db_rollback(svc_db());
		db_res_free(res);
		return !ok ? http_error(r, 403, "the current password is wrong", badp) :
		    http_error_ex(r, 503, "token service unavailable, retry shortly", NULL, 2);
	}
	p[0] = r->pv[0];
	p[1] = hash;
	rc = commit_change(r, US_SET_PASSWORD, p, 2,
	    user_event(r, r->pv[0], "user_password_changed", db_get(res, 0, 0), event_id), event_id);
	db_res_free(res);
	if (rc != 0)
		return rc;
	log_info("user %lld changed its password", (long long)id);
	(void)users_revoke_sessions(r, id);
	return http_reply(r, 204, NULL, NULL, 0);
}

int
users_h_role(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *role, *p[2];
	char event_id[37];
	db_res *res = NULL;
	cJSON *ev;
	size_t nbad;
	int64_t id;
	int rc;

	if (util_parse_i64(r->pv[0], 1, INT64_MAX, &id) == -1)
		return http_error(r, 404, "no such user", NULL);
	if (!token_has_role(&r->auth, "admin"))
		return http_error(r, 403, "only administrators may change roles", NULL);
	if (!json_check_fields(r->json, users_role_fields, users_role_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	role = json_str(r->json, "role");
	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = lock_user(r, r->pv[0], &res)) != 0)
		return rc;
	if (strcmp(db_get(res, 0, 1), role) == 0) {	/* nothing changes */
		db_rollback(svc_db());
		db_res_free(res);
		return http_reply(r, 204, NULL, NULL, 0);
	}
	if (users_revoke_sessions(r, id) == -1) {
		db_rollback(svc_db());
		db_res_free(res);
		return http_error_ex(r, 503, "token service unavailable, retry shortly", NULL, 2);
	}
	ev = user_event(r, r->pv[0], "user_role_changed", db_get(res, 0, 0), event_id);
	if (ev != NULL && (cJSON_AddStringToObject(ev, "oldRole", db_get(res, 0, 1)) == NULL ||
	    cJSON_AddStringToObject(ev, "newRole", role) == NULL)) {
		cJSON_Delete(ev);
		ev = NULL;
	}
	p[0] = r->pv[0];
	p[1] = role;
	rc = commit_change(r, US_SET_ROLE, p, 2, ev, event_id);
	db_res_free(res);
	if (rc != 0)
		return rc;
	log_info("user %lld is now %s", (long long)id, role);
	(void)users_revoke_sessions(r, id);
	return http_reply(r, 204, NULL, NULL, 0);
}

/* ---- mailed tokens: email verification and password reset ---- */

/* The event that mails a token: type, the token, when it expires. NULL on
 * ENOMEM. The user's fields are added by the caller. */
static cJSON *
token_event(const struct http_req *r, const char *type, const char *token, int ttl_s,
    char event_id[37])
{
	cJSON *ev = event_new(type, "usermanagement", r->rid, event_id);
	char ts[UTIL_TS_LEN];

	util_ts_format(util_now_us() + (int64_t)ttl_s * 1000000, ts);
	if (ev == NULL || cJSON_AddStringToObject(ev, "token", token) == NULL ||
	    cJSON_AddStringToObject(ev, "expiresAt", ts) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

int
users_verification_add(const struct http_req *r, const char *id, const char *username,
    const char *email)
{
	char token[TOKEN_REFRESH_LEN + 1], hash[65], ttl[16], event_id[37];
	const char *p[5] = { hash, id, "email_verify", email, ttl };
	int64_t uid;
	cJSON *ev;
	int rc;

	if (token_refresh_new(token, hash) == -1 || util_parse_i64(id, 1, INT64_MAX, &uid) == -1)
		return DB_ERROR;
	snprintf(ttl, sizeof(ttl), "%d", users_cfg.verify_ttl_s);
	if ((rc = db_exec(svc_db(), US_TOKEN_NEW, p, 5, NULL)) != DB_OK)
		return rc;
	ev = token_event(r, "email_verification_requested", token, users_cfg.verify_ttl_s, event_id);
	if (ev == NULL || cJSON_AddNumberToObject(ev, "userId", (double)uid) == NULL ||
	    cJSON_AddStringToObject(ev, "username", username) == NULL ||
	    cJSON_AddStringToObject(ev, "email", email) == NULL)
		rc = DB_ERROR;
	else
		rc = event_outbox_add(svc_db(), US_OUTBOX, USERS_TOPIC, id, ev, event_id, r->rid);
	sodium_memzero(token, sizeof(token));
	cJSON_Delete(ev);
	return rc;
}

/* Counts one hit of what:key against rate: 0 within it, 1 over it
 * (nothing replied, *retry set), or -1 with the database's error replied
 * (*status). Inside the caller's transaction when one is open. */
static int
rate_hit(struct http_req *r, const char *what, const char *key, const struct rate *rate,
    int *retry, int *status)
{
	char bucket[320];
	int rc;

	snprintf(bucket, sizeof(bucket), "%s:%s", what, key);
	rc = ratelimit_hit(svc_db(), US_RATE, US_RATE_PURGE, bucket, rate, retry);
	if (rc < 0) {
		*status = svc_db_error(r, rc);
		return -1;
	}
	if (rc == 1)
		metrics_add(MC_RATE_LIMITED, 1);
	return rc == 1;
}

/* 1 with the 429 (or the database's error) replied in *status when
 * what:key is over rate, else 0. */
static int
limited(struct http_req *r, const char *what, const char *key, const struct rate *rate,
    int *status)
{
	int retry = 0, rc = rate_hit(r, what, key, rate, &retry, status);

	if (rc == 1)
		*status = http_error_ex(r, 429, "too many requests from this address, retry later",
		    NULL, retry);
	return rc != 0;
}

/* POST /users/password-reset {"email"}: 202 whatever the address, after
 * the same work: one transaction with the same writes up to the one
 * statement that mails a token only when the address is someone's. */
int
users_h_reset(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	char token[TOKEN_REFRESH_LEN + 1], hash[65], ttl[16], event_id[37], lower[256];
	const char *email, *p[7];
	char *payload = NULL;
	cJSON *ev = NULL;
	size_t nbad, i;
	int rc, retry, status = 0;

	if (limited(r, "reset", r->client, &users_cfg.reset_rate, &status))
		return status;
	if (!json_check_fields(r->json, users_reset_fields, users_reset_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	email = json_str(r->json, "email");
	for (i = 0; email[i] != '\0' && i + 1 < sizeof(lower); i++)
		lower[i] = (char)((email[i] >= 'A' && email[i] <= 'Z') ? email[i] + 32 : email[i]);
	lower[i] = '\0';
	if (token_refresh_new(token, hash) == -1 ||
	    (ev = token_event(r, "password_reset_requested", token, users_cfg.reset_ttl_s,
	    event_id)) == NULL || (payload = cJSON_PrintUnformatted(ev)) == NULL) {
		status = http_error(r, 500, NULL, NULL);
		goto out;
	}
	if ((rc = db_begin(svc_db())) != DB_OK) {
		status = svc_db_error(r, rc);
		goto out;
	}
	/* Mails to one address are limited too, silently: a 429 here would
	 * tell whose address it is not, and would let anyone stop its owner. */
	if ((rc = rate_hit(r, "reset-mail", lower, &users_cfg.reset_email_rate, &retry,
	    &status)) != 0) {
		db_rollback(svc_db());
		if (rc == 1)
			status = http_reply(r, 202, NULL, NULL, 0);
		goto out;
	}
	snprintf(ttl, sizeof(ttl), "%d", users_cfg.reset_ttl_s);
	p[0] = email;
	p[1] = hash;
	p[2] = ttl;
	p[3] = event_id;
	p[4] = USERS_TOPIC;
	p[5] = payload;
	p[6] = r->rid;
	if ((rc = db_exec(svc_db(), US_RESET_REQUEST, p, 7, NULL)) != DB_OK ||
	    (rc = db_commit(svc_db())) != DB_OK) {
		db_rollback(svc_db());
		status = svc_db_error(r, rc);
		goto out;
	}
	status = http_reply(r, 202, NULL, NULL, 0);
out:
	sodium_memzero(token, sizeof(token));
	if (payload != NULL) {
		sodium_memzero(payload, strlen(payload));
		free(payload);
	}
	cJSON_Delete(ev);
	return status;
}

/* Spends the mailed token of purpose given in the body's "token": its
 * user id and address in uid/email. 0, or the status replied (400 for a
 * token that is unknown, used, expired or malformed). Opens the
 * transaction the caller commits. */
static int
spend_token(struct http_req *r, const char *purpose, char uid[24], char email[256])
{
	const char *tok = json_str(r->json, "token"), *p[2];
	const char *badp[2] = { "token", NULL };
	char hash[65];
	db_res *res = NULL;
	int rc;

	if (token_refresh_hash(tok, strlen(tok), hash) == -1)
		return http_error(r, 400, "invalid or expired token", badp);
	p[0] = hash;
	p[1] = purpose;
	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = db_exec(svc_db(), US_TOKEN_USE, p, 2, &res)) != DB_OK) {
		db_rollback(svc_db());
		return svc_db_error(r, rc);
	}
	if (db_nrows(res) != 1) {
		db_res_free(res);
		db_rollback(svc_db());
		return http_error(r, 400, "invalid or expired token", badp);
	}
	snprintf(uid, 24, "%s", db_get(res, 0, 0));
	snprintf(email, 256, "%s", db_get(res, 0, 1));
	db_res_free(res);
	return 0;
}

int
users_h_reset_confirm(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *badp[2] = { "token", NULL };
	const char *nw, *p[2];
	char uid[24], email[256], hash[PWHASH_STR_LEN], event_id[37];
	db_res *res = NULL;
	cJSON *ev;
	size_t nbad;
	int64_t id = 0;
	int rc, status = 0;

	if (limited(r, "reset", r->client, &users_cfg.reset_rate, &status))
		return status;
	if (!json_check_fields(r->json, users_reset_confirm_fields, users_reset_confirm_nfields,
	    bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	nw = json_str(r->json, "newPassword");
	if (pwhash_hash(nw, strlen(nw), hash) == -1) {
		log_error("password hashing failed");
		return http_error(r, 500, NULL, NULL);
	}
	if ((rc = spend_token(r, "password_reset", uid, email)) != 0)
		return rc;
	if (util_parse_i64(uid, 1, INT64_MAX, &id) == -1) {
		db_rollback(svc_db());
		return http_error(r, 500, NULL, NULL);
	}
	if ((rc = lock_user(r, uid, &res)) != 0)
		return rc;
	/* The token was mailed to an address the account no longer has. */
	if (strcasecmp(db_get(res, 0, 3), email) != 0) {
		db_rollback(svc_db());
		db_res_free(res);
		return http_error(r, 400, "invalid or expired token", badp);
	}
	if (users_revoke_sessions(r, id) == -1) {
		db_rollback(svc_db());
		db_res_free(res);
		return http_error_ex(r, 503, "token service unavailable, retry shortly", NULL, 2);
	}
	p[0] = uid;
	p[1] = "password_reset";
	if ((rc = db_exec(svc_db(), US_TOKENS_VOID, p, 2, NULL)) != DB_OK) {
		db_rollback(svc_db());
		db_res_free(res);
		return svc_db_error(r, rc);
	}
	ev = user_event(r, uid, "user_password_changed", db_get(res, 0, 0), event_id);
	if (ev != NULL && cJSON_AddStringToObject(ev, "reason", "reset") == NULL) {
		cJSON_Delete(ev);
		ev = NULL;
	}
	p[1] = hash;
	rc = commit_change(r, US_SET_PASSWORD, p, 2, ev, event_id);
	db_res_free(res);
	if (rc != 0)
		return rc;
	log_info("user %s reset its password", uid);
	(void)users_revoke_sessions(r, id);
	return http_reply(r, 204, NULL, NULL, 0);
}

int
users_h_verify(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *badp[2] = { "token", NULL };
	const char *p[2];
	char uid[24], email[256];
	db_res *res = NULL;
	size_t nbad;
	int rc, status = 0;

	if (limited(r, "reset", r->client, &users_cfg.reset_rate, &status))
		return status;
	if (!json_check_fields(r->json, users_verify_fields, users_verify_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	if ((rc = spend_token(r, "email_verify", uid, email)) != 0)
		return rc;
	p[0] = uid;
	p[1] = email;
	if ((rc = db_exec(svc_db(), US_VERIFY, p, 2, &res)) != DB_OK) {
		db_rollback(svc_db());
		return svc_db_error(r, rc);
	}
	if (db_nrows(res) != 1) {
		db_res_free(res);
		db_rollback(svc_db());
		return http_error(r, 400, "invalid or expired token", badp);
	}
	db_res_free(res);
	if ((rc = db_commit(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	log_info("user %s verified its email address", uid);
	return http_reply(r, 204, NULL, NULL, 0);
}
