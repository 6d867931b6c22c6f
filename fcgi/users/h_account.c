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
#include <string.h>

#include "cfg.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "pwhash.h"
#include "svc.h"
#include "users.h"

/* Locks user id's row: its username, role and password hash in *res.
 * 0, or the status replied (404 when there is no such user). Inside the
 * caller's transaction, which is rolled back on an error. */
static int
lock_user(struct http_req *r, db_res **res)
{
	const char *p[1] = { r->pv[0] };
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

/* An event of type about user id (pv[0]) named username. */
static cJSON *
user_event(struct http_req *r, const char *type, const char *username, char event_id[37])
{
	cJSON *ev = event_new(type, "usermanagement", r->rid, event_id);
	int64_t id = 0;

	if (ev == NULL || util_parse_i64(r->pv[0], 1, INT64_MAX, &id) == -1 ||
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
	if ((rc = lock_user(r, &res)) != 0)
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
	    user_event(r, "user_password_changed", db_get(res, 0, 0), event_id), event_id);
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
	if ((rc = lock_user(r, &res)) != 0)
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
	ev = user_event(r, "user_role_changed", db_get(res, 0, 0), event_id);
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
