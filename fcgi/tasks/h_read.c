/*
 * h_read.c: GET /api/v1/eventstreammonitor/tasks (list with filters and
 * paging) and GET .../tasks/{id}, and the task JSON every handler returns.
 * A caller sees only its own tasks unless it has the admin role; another
 * user's task is 404, so ids reveal nothing.
 */
#include <stdio.h>
#include <string.h>

#include "svc.h"
#include "tasks.h"

/* Adds column col as a string, or null. 1 / 0 (ENOMEM). */
static int
add_text(cJSON *o, const char *name, const db_res *res, int row, int col)
{
	if (db_isnull(res, row, col))
		return cJSON_AddNullToObject(o, name) != NULL;
	return cJSON_AddStringToObject(o, name, db_get(res, row, col)) != NULL;
}

/* Adds a jsonb column (text written by PostgreSQL) as JSON, or null. */
static int
add_jsonb(cJSON *o, const char *name, const db_res *res, int row, int col)
{
	cJSON *v;

	if (db_isnull(res, row, col))
		return cJSON_AddNullToObject(o, name) != NULL;
	if ((v = cJSON_Parse(db_get(res, row, col))) == NULL)
		return 0;
	if (!cJSON_AddItemToObject(o, name, v)) {
		cJSON_Delete(v);
		return 0;
	}
	return 1;
}

static int
add_i64(cJSON *o, const char *name, const char *s, int64_t min, int64_t max)
{
	int64_t v;

	return util_parse_i64(s, min, max, &v) == 0 &&
	    cJSON_AddNumberToObject(o, name, (double)v) != NULL;
}

cJSON *
tasks_row_json(const db_res *res, int row, int full)
{
	cJSON *t = cJSON_CreateObject();
	int ok;

	ok = t != NULL &&
	    add_i64(t, "taskId", db_get(res, row, 0), 1, INT64_MAX) &&
	    cJSON_AddStringToObject(t, "taskReference", db_get(res, row, 1)) != NULL &&
	    cJSON_AddStringToObject(t, "taskType", db_get(res, row, 2)) != NULL &&
	    add_i64(t, "userId", db_get(res, row, 3), 1, INT64_MAX) &&
	    cJSON_AddStringToObject(t, "status", db_get(res, row, 4)) != NULL &&
	    cJSON_AddStringToObject(t, "priority", db_get(res, row, 5)) != NULL &&
	    add_i64(t, "progress", db_get(res, row, 6), 0, 100) &&
	    add_jsonb(t, "parameters", res, row, 7);
	if (ok && full) {
		ok = add_jsonb(t, "result", res, row, 8) &&
		    add_text(t, "errorMessage", res, row, 9);
		if (ok && db_isnull(res, row, 10))
			ok = cJSON_AddNullToObject(t, "processingTime") != NULL;
		else if (ok)
			ok = cJSON_AddRawToObject(t, "processingTime", db_get(res, row, 10)) != NULL;
	}
	ok = ok && add_text(t, "createdAt", res, row, 11);
	if (ok && full)
		ok = add_text(t, "startedAt", res, row, 12) &&
		    add_text(t, "completedAt", res, row, 13) &&
		    add_text(t, "updatedAt", res, row, 14);
	if (!ok) {
		cJSON_Delete(t);
		return NULL;
	}
	return t;
}

int
tasks_h_get(struct http_req *r)
{
	char sub[24];
	const char *p[3] = { r->pv[0], sub, token_has_role(&r->auth, "admin") ? "true" : "false" };
	cJSON *root = NULL, *task = NULL;
	db_res *res = NULL;
	int rc;

	snprintf(sub, sizeof(sub), "%lld", (long long)r->auth.sub);
	if ((rc = db_exec(svc_db(), TS_GET, p, 3, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return http_error(r, 404, "no such task", NULL);
	}
	task = tasks_row_json(res, 0, 1);
	db_res_free(res);
	if (task == NULL || (root = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddItemToObject(root, "task", task)) {
		cJSON_Delete(task);
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}

/* Query parameters of the list, in query_parse order. */
enum { Q_STATUS, Q_TYPE, Q_USER, Q_LIMIT, Q_OFFSET, Q_N_ };
static const char *const list_names[Q_N_] = { "status", "taskType", "userId", "limit", "offset" };

/* Parses and checks the list's query into the five statement parameters
 * (status, type, user, limit, offset). 0, or the status replied. */
static int
list_args(struct http_req *r, char v[Q_N_][TASKS_QVAL_MAX + 1], const char *p[Q_N_])
{
	char bad[TASKS_QVAL_MAX + 1];
	const char *badp[2] = { bad, NULL };
	const char *which = NULL;
	int have[Q_N_];
	int64_t lim = 0, off = 0, uid = 0;

	if (query_parse(r->query, list_names, Q_N_, v, have, bad) == -1)
		return http_error(r, 400, "unknown, repeated or malformed query parameter",
		    bad[0] ? badp : NULL);
	if (have[Q_STATUS] && !tasks_valid_status(v[Q_STATUS], strlen(v[Q_STATUS])))
		which = "status";
	else if (have[Q_TYPE] && !tasks_valid_type(v[Q_TYPE], strlen(v[Q_TYPE])))
		which = "taskType";
	else if (have[Q_USER] && util_parse_i64(v[Q_USER], 1, INT64_MAX, &uid) == -1)
		which = "userId";
	else
		(void)tasks_paging(have[Q_LIMIT] ? v[Q_LIMIT] : NULL,
		    have[Q_OFFSET] ? v[Q_OFFSET] : NULL, &lim, &off, &which);
	if (which != NULL) {
		badp[0] = which;
		return http_error(r, 400, "invalid query parameter", badp);
	}
	if (!token_has_role(&r->auth, "admin")) {
		if (have[Q_USER] && uid != r->auth.sub) {
			badp[0] = "userId";
			return http_error(r, 403, "only administrators may list other users' tasks", badp);
		}
		snprintf(v[Q_USER], TASKS_QVAL_MAX + 1, "%lld", (long long)r->auth.sub);
		have[Q_USER] = 1;
	}
	snprintf(v[Q_LIMIT], TASKS_QVAL_MAX + 1, "%lld", (long long)lim);
	snprintf(v[Q_OFFSET], TASKS_QVAL_MAX + 1, "%lld", (long long)off);
	p[0] = have[Q_STATUS] ? v[Q_STATUS] : NULL;
	p[1] = have[Q_TYPE] ? v[Q_TYPE] : NULL;
	p[2] = have[Q_USER] ? v[Q_USER] : NULL;
	p[3] = v[Q_LIMIT];
	p[4] = v[Q_OFFSET];
	return 0;
}

int
tasks_h_list(struct http_req *r)
{
	char v[Q_N_][TASKS_QVAL_MAX + 1];
	const char *p[Q_N_];
	cJSON *root = NULL, *arr, *t, *pg;
	db_res *res = NULL, *cnt = NULL;
	int64_t total, lim, off;
	int rc, i;

	if ((rc = list_args(r, v, p)) != 0)
		return rc;
	if ((rc = db_exec(svc_db(), p[2] ? TS_LIST : TS_LIST_ALL, p, 5, &res)) != DB_OK ||
	    (rc = db_exec(svc_db(), p[2] ? TS_COUNT : TS_COUNT_ALL, p, 3, &cnt)) != DB_OK) {
		db_res_free(res);
		return svc_db_error(r, rc);
	}
	if (util_parse_i64(db_get(cnt, 0, 0), 0, INT64_MAX, &total) == -1 ||
	    util_parse_i64(p[3], 1, TASKS_PAGE_MAX, &lim) == -1 ||
	    util_parse_i64(p[4], 0, TASKS_OFFSET_MAX, &off) == -1 ||
	    (root = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "tasks")) == NULL)
		goto fail;
	for (i = 0; i < db_nrows(res); i++) {
		if ((t = tasks_row_json(res, i, 1)) == NULL)
			goto fail;
		cJSON_AddItemToArray(arr, t);
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
