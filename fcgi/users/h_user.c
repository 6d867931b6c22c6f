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

/* "name": then the JSON string of s, or null when s is NULL. */
static int
put_field(buf_t *b, const char *name, const char *s)
{
	if (buf_puts(b, name) == -1)
		return -1;
	if (s == NULL)
		return buf_puts(b, "null");
	if (buf_puts(b, "\"") == -1 || buf_json_escape(b, s, strlen(s)) == -1)
		return -1;
	return buf_puts(b, "\"");
}

int
users_user_write(buf_t *b, const char *const col[USERS_NCOLS])
{
	char id[24];
	int64_t v;

	if (col[0] == NULL || util_parse_i64(col[0], 1, INT64_MAX, &v) == -1 ||
	    col[1] == NULL || col[2] == NULL || col[6] == NULL || col[7] == NULL ||
	    col[9] == NULL || (strcmp(col[9], "t") != 0 && strcmp(col[9], "f") != 0))
		return -1;
	snprintf(id, sizeof(id), "%lld", (long long)v);
	if (buf_puts(b, "{\"userId\":") == -1 || buf_puts(b, id) == -1 ||
	    put_field(b, ",\"username\":", col[1]) == -1 ||
	    put_field(b, ",\"email\":", col[2]) == -1 ||
	    put_field(b, ",\"firstName\":", col[3]) == -1 ||
	    put_field(b, ",\"lastName\":", col[4]) == -1 ||
	    put_field(b, ",\"dateOfBirth\":", col[5]) == -1 ||
	    put_field(b, ",\"createdAt\":", col[6]) == -1 ||
	    put_field(b, ",\"updatedAt\":", col[7]) == -1 ||
	    buf_puts(b, col[9][0] == 't' ? ",\"emailVerified\":true" : ",\"emailVerified\":false") == -1)
		return -1;
	return buf_puts(b, "}");
}

/* The columns of a row, NULL for SQL NULL; borrowed from res. */
static void
row_cols(const db_res *res, int row, const char *col[USERS_NCOLS])
{
	int i;

	for (i = 0; i < USERS_NCOLS; i++)
		col[i] = db_isnull(res, row, i) ? NULL : db_get(res, row, i);
}

cJSON *
users_row_json(const db_res *res, int row)
{
	const char *col[USERS_NCOLS];
	buf_t b = { 0 };
	cJSON *u = NULL;

	/* One writer for the user object: parsing its output back keeps the
	 * object that register embeds identical to the one GET sends. */
	row_cols(res, row, col);
	if (users_user_write(&b, col) == 0)
		u = cJSON_ParseWithLength(b.p, b.len);
	buf_free(&b);
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

/* The reply is written straight from the row: no cJSON tree for the one
 * request that every client makes most. */
int
users_h_get(struct http_req *r)
{
	const char *p[1] = { r->pv[0] }, *col[USERS_NCOLS];
	db_res *res = NULL;
	buf_t b = { 0 };
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
	row_cols(res, 0, col);
	if (buf_puts(&b, "{\"user\":") == -1 || users_user_write(&b, col) == -1 ||
	    buf_puts(&b, "}") == -1)
		rc = http_error(r, 500, NULL, NULL);
	else
		rc = http_reply(r, 200, "application/json", b.p, b.len);
	buf_free(&b);
	db_res_free(res);
	return rc;
}

/* Asks the token service to end every session of user id: its refresh
 * tokens stop working and every service refuses its access tokens within
 * a second. 0, or -1 when the token service did not do it. */
int
users_revoke_sessions(const struct http_req *r, int64_t id)
{
	char url[512], body[64];
	buf_t resp = { 0 };
	long status = 0;
	int rc = 0;

	snprintf(url, sizeof(url), "%s/internal/v1/auth/revoke-user", users_cfg.internal_url);
	snprintf(body, sizeof(body), "{\"userId\":%lld}", (long long)id);
	if (client_call("POST", url, body, r->rid, 2000, &status, &resp) == -1 || status != 204) {
		log_error("revoking the sessions of user %lld failed (status %ld)", (long long)id,
		    status);
		rc = -1;
	}
	buf_free(&resp);
	return rc;
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
	/* Sessions first: a user deleted while the token service is away
	 * would keep working tokens. Revoking for a user who then turns out
	 * not to exist ends nothing that could be used. */
	if (users_revoke_sessions(r, id) == -1)
		return http_error_ex(r, 503, "token service unavailable, retry shortly", NULL, 2);
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
	if ((rc = event_outbox_add(svc_db(), US_OUTBOX, USERS_TOPIC, p[0], ev,
	    event_id, r->rid)) != DB_OK || (rc = db_commit(svc_db())) != DB_OK) {
		rc = svc_db_error(r, rc);
		goto fail;
	}
	metrics_add(MC_EVENTS_WRITTEN, 1);
	log_info("user %lld deleted", (long long)id);
	cJSON_Delete(ev);
	db_res_free(res);
	return http_reply(r, 204, NULL, NULL, 0);
fail:
	db_rollback(svc_db());
	cJSON_Delete(ev);
	db_res_free(res);
	return rc;
}
