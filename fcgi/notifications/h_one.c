/*
 * h_one.c: one notification. GET .../notifications/{id} for its user or an
 * administrator; PUT .../notifications/{id}/read by its user only, which
 * sets readAt once (a repeat keeps the first time and answers the same).
 * As with tasks, another user's notification is 404, so ids reveal
 * nothing; an administrator, who may see it, gets 403 for marking it read:
 * whether a user has read a notification is that user's to say.
 */
#include <stdio.h>

#include "notifs.h"
#include "svc.h"

/* Replies 200 {"notification":{...}} from row 0 of res, which it frees. */
static int
reply_one(struct http_req *r, db_res *res)
{
	cJSON *root = cJSON_CreateObject(), *o = notifs_row_json(res, 0);
	int rc;

	db_res_free(res);
	if (root == NULL || o == NULL) {
		cJSON_Delete(root);
		cJSON_Delete(o);
		return http_error(r, 500, NULL, NULL);
	}
	cJSON_AddItemToObject(root, "notification", o);
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}

/* The notification pv[0] as the caller may see it: DB_OK with res (0 or 1
 * rows), or a db_status. */
static int
visible(struct http_req *r, db_res **res)
{
	char sub[24];
	const char *p[3] = { r->pv[0], sub, token_has_role(&r->auth, "admin") ? "true" : "false" };

	snprintf(sub, sizeof(sub), "%lld", (long long)r->auth.sub);
	return db_exec(svc_db(), NF_GET, p, 3, res);
}

int
notifs_h_get(struct http_req *r)
{
	db_res *res = NULL;
	int rc;

	if ((rc = visible(r, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return http_error(r, 404, "no such notification", NULL);
	}
	return reply_one(r, res);
}

int
notifs_h_read(struct http_req *r)
{
	char sub[24];
	const char *p[2] = { r->pv[0], sub };
	db_res *res = NULL;
	int rc, seen;

	snprintf(sub, sizeof(sub), "%lld", (long long)r->auth.sub);
	if ((rc = db_exec(svc_db(), NF_READ, p, 2, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 1)
		return reply_one(r, res);
	db_res_free(res);
	res = NULL;
	/* Not the caller's: does it exist for them at all? */
	if ((rc = visible(r, &res)) != DB_OK)
		return svc_db_error(r, rc);
	seen = db_nrows(res) > 0;
	db_res_free(res);
	if (seen)
		return http_error(r, 403, "only its recipient may mark a notification read", NULL);
	return http_error(r, 404, "no such notification", NULL);
}
