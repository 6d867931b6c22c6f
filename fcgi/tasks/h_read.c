/*
 * h_read.c: GET /api/v1/eventstreammonitor/tasks (list with filters and
 * paging) and GET .../tasks/{id}, and the task JSON every handler returns.
 * A caller sees only its own tasks unless it has the admin role; another
 * user's task is 404, so ids reveal nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc.h"
#include "tasks.h"

/* "name": then the JSON string of s, or null when s is NULL. */
static int
put_text(buf_t *b, const char *name, const char *s)
{
	if (buf_puts(b, name) == -1)
		return -1;
	if (s == NULL)
		return buf_puts(b, "null");
	if (buf_puts(b, "\"") == -1 || buf_json_escape(b, s, strlen(s)) == -1)
		return -1;
	return buf_puts(b, "\"");
}

/* "name": then the integer s, after checking it is one in [min, max].
 * PostgreSQL writes integers in canonical decimal (no sign for positives,
 * no leading zeros), which is JSON as it stands. */
static int
put_i64(buf_t *b, const char *name, const char *s, int64_t min, int64_t max)
{
	int64_t v;

	if (s == NULL || util_parse_i64(s, min, max, &v) == -1 || s[0] == '+' ||
	    (s[0] == '0' && s[1] != '\0'))
		return -1;
	return buf_puts(b, name) == -1 ? -1 : buf_puts(b, s);
}

/* "name": then a jsonb column as PostgreSQL wrote it (always a JSON
 * value: jsonb stores only parsed JSON), or null. */
static int
put_jsonb(buf_t *b, const char *name, const char *s)
{
	if (buf_puts(b, name) == -1)
		return -1;
	return buf_puts(b, s == NULL ? "null" : s);
}

/* "name": then a double precision column, or null for NULL and for the
 * NaN and infinities that PostgreSQL can store and JSON cannot say. */
static int
put_double(buf_t *b, const char *name, const char *s)
{
	char *end;
	double v;

	if (buf_puts(b, name) == -1)
		return -1;
	if (s == NULL)
		return buf_puts(b, "null");
	v = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v))
		return buf_puts(b, "null");
	return buf_puts(b, s);
}

/* "name": then a timestamp column as RFC 3339, or null. */
static int
put_ts(buf_t *b, const char *name, const char *s)
{
	char ts[DB_TS_LEN];

	if (s == NULL)
		return put_text(b, name, NULL);
	if (db_ts_rfc3339(s, ts) == -1)
		return -1;
	return put_text(b, name, ts);
}

int
tasks_task_write(buf_t *b, const char *const col[TASKS_NCOLS], int full)
{
	if (buf_puts(b, "{") == -1 ||
	    put_i64(b, "\"taskId\":", col[0], 1, INT64_MAX) == -1 || col[1] == NULL ||
	    put_text(b, ",\"taskReference\":", col[1]) == -1 || col[2] == NULL ||
	    put_text(b, ",\"taskType\":", col[2]) == -1 ||
	    put_i64(b, ",\"userId\":", col[3], 1, INT64_MAX) == -1 || col[4] == NULL ||
	    put_text(b, ",\"status\":", col[4]) == -1 || col[5] == NULL ||
	    put_text(b, ",\"priority\":", col[5]) == -1 ||
	    put_i64(b, ",\"progress\":", col[6], 0, 100) == -1 || col[7] == NULL ||
	    put_jsonb(b, ",\"parameters\":", col[7]) == -1)
		return -1;
	if (full && (put_jsonb(b, ",\"result\":", col[8]) == -1 ||
	    put_text(b, ",\"errorMessage\":", col[9]) == -1 ||
	    put_double(b, ",\"processingTime\":", col[10]) == -1))
		return -1;
	if (col[11] == NULL || put_ts(b, ",\"createdAt\":", col[11]) == -1)
		return -1;
	if (full && (put_ts(b, ",\"startedAt\":", col[12]) == -1 ||
	    put_ts(b, ",\"completedAt\":", col[13]) == -1 ||
	    put_ts(b, ",\"updatedAt\":", col[14]) == -1))
		return -1;
	return buf_puts(b, "}");
}

/* The TASKS_NCOLS columns of a row from column first on, NULL for SQL
 * NULL; borrowed from res. */
static void
row_cols(const db_res *res, int row, int first, const char *col[TASKS_NCOLS])
{
	int i;

	for (i = 0; i < TASKS_NCOLS; i++)
		col[i] = db_isnull(res, row, first + i) ? NULL : db_get(res, row, first + i);
}

cJSON *
tasks_row_json(const db_res *res, int row, int full)
{
	const char *col[TASKS_NCOLS];
	buf_t b = { 0 };
	cJSON *t = NULL;

	/* One writer for the task object: create embeds the same object
	 * that GET and the list send. */
	row_cols(res, row, 0, col);
	if (tasks_task_write(&b, col, full) == 0)
		t = cJSON_ParseWithLength(b.p, b.len);
	buf_free(&b);
	return t;
}

/* The reply is written straight from the row into the request's scratch
 * buffer, as is the list's: no allocation once it has grown. */
int
tasks_h_get(struct http_req *r)
{
	char sub[24];
	const char *p[3] = { r->pv[0], sub, token_has_role(&r->auth, "admin") ? "true" : "false" };
	const char *col[TASKS_NCOLS];
	db_res *res = NULL;
	buf_t *b;
	int rc;

	snprintf(sub, sizeof(sub), "%lld", (long long)r->auth.sub);
	if ((rc = db_exec(svc_db(), TS_GET, p, 3, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return http_error(r, 404, "no such task", NULL);
	}
	row_cols(res, 0, 0, col);
	b = &r->scratch;
	if (buf_puts(b, "{\"task\":") == -1 || tasks_task_write(b, col, 1) == -1 ||
	    buf_puts(b, "}") == -1)
		rc = http_error(r, 500, NULL, NULL);
	else
		rc = http_reply(r, 200, "application/json", b->p, b->len);
	db_res_free(res);
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

/* One statement answers a page: the total (from the counters) in column
 * 0 of every row, the task's columns after it; an empty page is one row
 * with the total and NULL task columns. */
int
tasks_h_list(struct http_req *r)
{
	char v[Q_N_][TASKS_QVAL_MAX + 1];
	const char *p[Q_N_], *col[TASKS_NCOLS];
	db_res *res = NULL;
	buf_t *b = &r->scratch;
	int64_t total, lim, off;
	int rc, i, n = 0;

	if ((rc = list_args(r, v, p)) != 0)
		return rc;
	if ((rc = db_exec(svc_db(), p[2] ? TS_LIST : TS_LIST_ALL, p, 5, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) < 1 ||
	    util_parse_i64(db_get(res, 0, 0), 0, INT64_MAX, &total) == -1 ||
	    util_parse_i64(p[3], 1, TASKS_PAGE_MAX, &lim) == -1 ||
	    util_parse_i64(p[4], 0, TASKS_OFFSET_MAX, &off) == -1 ||
	    buf_puts(b, "{\"tasks\":[") == -1)
		goto fail;
	for (i = 0; i < db_nrows(res); i++) {
		if (db_isnull(res, i, 1))
			continue;	/* the empty page's row */
		row_cols(res, i, 1, col);
		if ((n++ > 0 && buf_puts(b, ",") == -1) || tasks_task_write(b, col, 1) == -1)
			goto fail;
	}
	if (buf_puts(b, "],\"pagination\":") == -1 ||
	    query_pagination_write(b, total, lim, off) == -1 ||
	    buf_puts(b, "}") == -1)
		goto fail;
	rc = http_reply(r, 200, "application/json", b->p, b->len);
	db_res_free(res);
	return rc;
fail:
	db_res_free(res);
	return http_error(r, 500, NULL, NULL);
}
