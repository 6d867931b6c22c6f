/*
 * h_user.c: GET and DELETE /api/v1/eventstreammonitor/users/{id}, and the
 * user JSON shared by the handlers. A caller may see and delete only itself
 * unless it has the admin role.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "svc.h"
#include "users.h"

static int
add_text_or_null(cJSON *o, const char *name, const db_res *res, int row, int col)
{
	if (db_isnull(res, row, col))
		return cJSON_AddNullToObject(o, name) != NULL;
	return cJSON_AddStringToObject(o, name, db_get(res, row, col)) != NULL;
}

cJSON *
users_row_json(const db_res *res, int row)
{
	cJSON *u = cJSON_CreateObject();
	int64_t id;

	if (u == NULL || util_parse_i64(db_get(res, row, 0), 1, INT64_MAX, &id) == -1 ||
	    cJSON_AddNumberToObject(u, "userId", (double)id) == NULL ||
	    cJSON_AddStringToObject(u, "username", db_get(res, row, 1)) == NULL ||
	    cJSON_AddStringToObject(u, "email", db_get(res, row, 2)) == NULL ||
	    !add_text_or_null(u, "firstName", res, row, 3) ||
	    !add_text_or_null(u, "lastName", res, row, 4) ||
	    !add_text_or_null(u, "dateOfBirth", res, row, 5) ||
	    cJSON_AddStringToObject(u, "createdAt", db_get(res, row, 6)) == NULL ||
	    cJSON_AddStringToObject(u, "updatedAt", db_get(res, row, 7)) == NULL) {
		cJSON_Delete(u);
		return NULL;
	}
	return u;
}

/* 0 when the caller may act on user id, else the status replied. */
static int
authorize(struct http_req *r, int64_t *id)
{
	if (util_parse_i64(r->pv[0], 1, INT64_MAX, id) == -1)
		return http_error(r, 404, "no such user", NULL);
	if (r->auth.sub != *id && !token_has_role(&r->auth, "admin"))
		return http_error(r, 403, "not allowed to access this user", NULL);
	return 0;
}

int
users_h_get(struct http_req *r)
{
	const char *p[1] = { r->pv[0] };
	cJSON *root = NULL, *user;
	db_res *res = NULL;
	int64_t id;
	int rc;

	if ((rc = authorize(r, &id)) != 0)
		return rc;
	if ((rc = db_exec(svc_db(), US_GET, p, 1, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return http_error(r, 404, "no such user", NULL);
	}
	user = users_row_json(res, 0);
	db_res_free(res);
	if (user == NULL || (root = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(root, "user", user)) {
		cJSON_Delete(user);
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}

/* Tells the auth service to revoke the user's refresh tokens. Best effort:
 * auth also refuses refreshes for users that no longer exist. */
static void
revoke_tokens(const struct http_req *r, int64_t id)
{
	char url[512], body[64];
	buf_t resp = { 0 };
	long status = 0;

	snprintf(url, sizeof(url), "%s/internal/v1/auth/revoke-user", users_cfg.internal_url);
	snprintf(body, sizeof(body), "{\"userId\":%lld}", (long long)id);
	if (client_call("POST", url, body, r->rid, 2000, &status, &resp) == -1 || status != 204)
		log_warn("revoking refresh tokens of user %lld failed (status %ld)", (long long)id, status);
	buf_free(&resp);
}

int
users_h_delete(struct http_req *r)
{
	const char *p[1] = { r->pv[0] };
	cJSON *ev = NULL;
	db_res *res = NULL;
	char event_id[37];
	int64_t id;
	int rc;

	if ((rc = authorize(r, &id)) != 0)
		return rc;
	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = db_exec(svc_db(), US_DELETE, p, 1, &res)) != DB_OK) {
		rc = svc_db_error(r, rc);
		goto fail;
	}
	if (db_nrows(res) == 0) {
		rc = http_error(r, 404, "no such user", NULL);
		goto fail;
	}
	if ((ev = event_new("user_deleted", "usermanagement", r->rid, event_id)) == NULL ||
	    cJSON_AddNumberToObject(ev, "userId", (double)id) == NULL ||
	    cJSON_AddStringToObject(ev, "username", db_get(res, 0, 1)) == NULL) {
		rc = http_error(r, 500, NULL, NULL);
		goto fail;
	}
	if ((rc = event_outbox_add(svc_db(), US_OUTBOX, "user-registration-events", p[0], ev,
	    event_id, r->rid)) != DB_OK || (rc = db_commit(svc_db())) != DB_OK) {
		rc = svc_db_error(r, rc);
		goto fail;
	}
	metrics_add(MC_EVENTS_WRITTEN, 1);
	log_info("user %lld deleted", (long long)id);
	cJSON_Delete(ev);
	db_res_free(res);
	revoke_tokens(r, id);
	return http_reply(r, 204, NULL, NULL, 0);
fail:
	db_rollback(svc_db());
	cJSON_Delete(ev);
	db_res_free(res);
	return rc;
}
