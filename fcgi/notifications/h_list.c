/*
 * h_list.c: GET /api/v1/eventstreammonitor/notifications with filters
 * userId (own unless admin), eventType, status, unread, and paging. A
 * caller without the admin role sees only its own notifications. And the
 * notification object that every reply of the service carries.
 */
#include <stdio.h>
#include <string.h>

#include "notifs.h"
#include "svc.h"

static int
add_text(cJSON *o, const char *name, const db_res *res, int row, int col)
{
	if (db_isnull(res, row, col))
		return cJSON_AddNullToObject(o, name) != NULL;
	return cJSON_AddStringToObject(o, name, db_get(res, row, col)) != NULL;
}

static int
add_i64(cJSON *o, const char *name, const db_res *res, int row, int col)
{
	int64_t v;

	if (db_isnull(res, row, col))
		return cJSON_AddNullToObject(o, name) != NULL;
	return util_parse_i64(db_get(res, row, col), 0, INT64_MAX, &v) == 0 &&
	    cJSON_AddNumberToObject(o, name, (double)v) != NULL;
}

cJSON *
notifs_row_json(const db_res *res, int row)
{
	static const char *const names[] = { "notificationId", "eventId", "eventType", "userId",
		"recipientEmail", "subject", "message", "channel", "status", "attempts",
		"createdAt", "sentAt", "readAt", "lastError" };
	cJSON *o = cJSON_CreateObject();
	int ok = o != NULL;

	for (int c = 0; ok && c < (int)ESM_NELEM(names); c++)
		ok = (c == 0 || c == 3 || c == 9) ? add_i64(o, names[c], res, row, c) :
		    add_text(o, names[c], res, row, c);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

enum { Q_USER, Q_TYPE, Q_STATUS, Q_UNREAD, Q_LIMIT, Q_OFFSET, Q_N_ };
static const char *const list_names[Q_N_] = { "userId", "eventType", "status", "unread", "limit",
	"offset" };

/* Query into the statement parameters (user, type, status, unread, limit,
 * offset). 0, or the status replied. */
static int
list_args(struct http_req *r, char v[Q_N_][NOTIFS_QVAL_MAX + 1], const char *p[Q_N_],
    int64_t *lim, int64_t *off)
{
	char bad[NOTIFS_QVAL_MAX + 1];
	const char *badp[2] = { bad, NULL };
	const char *which = NULL;
	int have[Q_N_];
	int64_t uid = 0;

	if (query_parse(r->query, list_names, Q_N_, v, have, bad) == -1)
		return http_error(r, 400, "unknown, repeated or malformed query parameter",
		    bad[0] ? badp : NULL);
	if (have[Q_USER] && util_parse_i64(v[Q_USER], 1, INT64_MAX, &uid) == -1)
		which = "userId";
	else if (have[Q_TYPE] && !notifs_valid_event_type(v[Q_TYPE]))
		which = "eventType";
	else if (have[Q_STATUS] && !notifs_valid_status(v[Q_STATUS]))
		which = "status";
	else if (have[Q_UNREAD] && !notifs_valid_bool(v[Q_UNREAD]))
		which = "unread";
	else
		(void)notifs_paging(have[Q_LIMIT] ? v[Q_LIMIT] : NULL,
		    have[Q_OFFSET] ? v[Q_OFFSET] : NULL, lim, off, &which);
	if (which != NULL) {
		badp[0] = which;
		return http_error(r, 400, "invalid query parameter", badp);
	}
	if (!token_has_role(&r->auth, "admin")) {
		if (have[Q_USER] && uid != r->auth.sub) {
			badp[0] = "userId";
			return http_error(r, 403, "only administrators may list other users' notifications",
			    badp);
		}
		snprintf(v[Q_USER], NOTIFS_QVAL_MAX + 1, "%lld", (long long)r->auth.sub);
		have[Q_USER] = 1;
	}
	snprintf(v[Q_LIMIT], NOTIFS_QVAL_MAX + 1, "%lld", (long long)*lim);
	snprintf(v[Q_OFFSET], NOTIFS_QVAL_MAX + 1, "%lld", (long long)*off);
	p[0] = have[Q_USER] ? v[Q_USER] : NULL;
	p[1] = have[Q_TYPE] ? v[Q_TYPE] : NULL;
	p[2] = have[Q_STATUS] ? v[Q_STATUS] : NULL;
	p[3] = have[Q_UNREAD] ? v[Q_UNREAD] : NULL;
	p[4] = v[Q_LIMIT];
	p[5] = v[Q_OFFSET];
	return 0;
}


int
notifs_h_list(struct http_req *r)
{
	char v[Q_N_][NOTIFS_QVAL_MAX + 1];
	const char *p[Q_N_];
	cJSON *root = NULL, *arr, *o, *pg;
	db_res *res = NULL, *cnt = NULL;
	int64_t total, lim = NOTIFS_PAGE_DEFAULT, off = 0;
	int rc, i;

	if ((rc = list_args(r, v, p, &lim, &off)) != 0)
		return rc;
	if ((rc = db_exec(svc_db(), p[0] ? NF_LIST : NF_LIST_ALL, p, 6, &res)) != DB_OK ||
	    (rc = db_exec(svc_db(), p[0] ? NF_COUNT : NF_COUNT_ALL, p, 4, &cnt)) != DB_OK) {
		db_res_free(res);
		return svc_db_error(r, rc);
	}
	if (util_parse_i64(db_get(cnt, 0, 0), 0, INT64_MAX, &total) == -1 ||
	    (root = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "notifications")) == NULL)
		goto fail;
	for (i = 0; i < db_nrows(res); i++) {
		if ((o = notifs_row_json(res, i)) == NULL)
			goto fail;
		cJSON_AddItemToArray(arr, o);
	}
	if ((pg = query_pagination_json(total, lim, off)) == NULL)
		goto fail;
	cJSON_AddItemToObject(root, "pagination", pg);
	db_res_free(res);
	db_res_free(cnt);
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
fail:
	db_res_free(res);
	db_res_free(cnt);
	cJSON_Delete(root);
	return http_error(r, 500, NULL, NULL);
}
