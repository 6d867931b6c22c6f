/*
 * h_logs.c: GET /api/v1/logs/errors, /errors/{service}, /stats, /services.
 */
#include <stdio.h>
#include <string.h>

#include "logmon.h"
#include "svc.h"

/* Adds a bigint column as a number, or null when the column is NULL. */
static int
lm_add_int(cJSON *o, const char *name, const db_res *res, int row, int col)
{
	int64_t v;

	if (db_isnull(res, row, col))
		return cJSON_AddNullToObject(o, name) != NULL;
	if (util_parse_i64(db_get(res, row, col), INT64_MIN / 2, INT64_MAX / 2, &v) == -1)
		return 0;
	return cJSON_AddNumberToObject(o, name, (double)v) != NULL;
}

cJSON *
logmon_row_json(const db_res *res, int row)
{
	static const char *const names[] = { "timestamp", "level", "logger", "message",
		"module", "function" };
	cJSON *e = cJSON_CreateObject();
	size_t i;

	if (e == NULL || !lm_add_int(e, "id", res, row, 0))
		goto fail;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (cJSON_AddStringToObject(e, names[i], db_get(res, row, (int)i + 1)) == NULL)
			goto fail;
	if (!lm_add_int(e, "line", res, row, 7) ||
	    cJSON_AddStringToObject(e, "service", db_get(res, row, 8)) == NULL ||
	    cJSON_AddStringToObject(e, "host", db_get(res, row, 9)) == NULL ||
	    !lm_add_int(e, "process", res, row, 10) ||
	    cJSON_AddStringToObject(e, "requestId", db_get(res, row, 11)) == NULL)
		goto fail;
	return e;
fail:
	cJSON_Delete(e);
	return NULL;
}

/* Replies with the errors matching q; with_service adds "service". */
static int
lm_errors_reply(struct http_req *r, const struct logmon_q *q, int with_service)
{
	char since[24], limit[16];
	const char *p[4];
	cJSON *root = NULL, *arr;
	db_res *res = NULL;
	int rc, i, n;

	snprintf(since, sizeof(since), "%lld", (long long)q->since_us);
	snprintf(limit, sizeof(limit), "%d", q->limit);
	p[0] = q->service;
	p[1] = q->level[0] != '\0' ? q->level : NULL;
	p[2] = q->since_us >= 0 ? since : NULL;
	p[3] = limit;
	if (q->service[0] != '\0')
		rc = db_exec(svc_db(), LM_ERRORS_SERVICE, p, 4, &res);
	else
		rc = db_exec(svc_db(), LM_ERRORS, p + 1, 3, &res);
	if (rc != DB_OK)
		return svc_db_error(r, rc);
	n = db_nrows(res);
	if ((root = cJSON_CreateObject()) == NULL ||
	    (with_service && cJSON_AddStringToObject(root, "service", q->service) == NULL) ||
	    (arr = cJSON_AddArrayToObject(root, "errors")) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		cJSON *e = logmon_row_json(res, i);
		if (e == NULL || !cJSON_AddItemToArray(arr, e)) {
			cJSON_Delete(e);
			goto fail;
		}
	}
	if (cJSON_AddNumberToObject(root, "count", n) == NULL)
		goto fail;
	db_res_free(res);
	rc = logmon_cache_store_reply(r, root);
	cJSON_Delete(root);
	return rc;
fail:
	db_res_free(res);
	cJSON_Delete(root);
	return http_error(r, 500, NULL, NULL);
}

int
logmon_h_errors(struct http_req *r)
{
	struct logmon_q q;
	const char *bad, *params[2] = { NULL, NULL };
	int rc;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if (logmon_query_parse(r->query, &q, &bad) != 0) {
		params[0] = bad;
		return http_error(r, 400, "invalid query argument", params);
	}
	if (logmon_cache_reply(r))
		return 200;
	return lm_errors_reply(r, &q, 0);
}

int
logmon_h_errors_service(struct http_req *r)
{
	struct logmon_q q;
	const char *bad, *params[2] = { NULL, NULL };
	int rc;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if (logmon_query_parse(r->query, &q, &bad) != 0) {
		params[0] = bad;
		return http_error(r, 400, "invalid query argument", params);
	}
	if (q.service[0] != '\0' && strcmp(q.service, r->pv[0]) != 0) {
		params[0] = "service";
		return http_error(r, 400, "service is given by the path", params);
	}
	snprintf(q.service, sizeof(q.service), "%s", r->pv[0]);
	if (logmon_cache_reply(r))
		return 200;
	return lm_errors_reply(r, &q, 1);
}

int
logmon_h_stats(struct http_req *r)
{
	cJSON *root = NULL, *by_level, *by_service;
	db_res *res = NULL;
	int64_t v, total = 0, recent = 0;
	int rc, i;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if (r->query[0] != '\0')
		return http_error(r, 400, "no query arguments here", (const char *const[]){ "query", NULL });
	if (logmon_cache_reply(r))
		return 200;
	if ((rc = db_exec(svc_db(), LM_STATS, NULL, 0, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if ((root = cJSON_CreateObject()) == NULL ||
	    (by_level = cJSON_CreateObject()) == NULL)
		goto fail;
	if ((by_service = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(by_level);
		goto fail;
	}
	for (i = 0; i < db_nrows(res); i++) {
		const char *kind = db_get(res, i, 0), *name = db_get(res, i, 1);
		if (util_parse_i64(db_get(res, i, 2), 0, INT64_MAX, &v) == -1)
			v = 0;
		if (strcmp(kind, "total") == 0)
			total = v;
		else if (strcmp(kind, "recent") == 0)
			recent = v;
		else if (cJSON_AddNumberToObject(strcmp(kind, "level") == 0 ? by_level : by_service,
		    name, (double)v) == NULL) {
			cJSON_Delete(by_level);
			cJSON_Delete(by_service);
			goto fail;
		}
	}
	if (cJSON_AddNumberToObject(root, "total_errors", (double)total) == NULL) {
		cJSON_Delete(by_level);
		cJSON_Delete(by_service);
		goto fail;
	}
	cJSON_AddItemToObject(root, "by_level", by_level);
	cJSON_AddItemToObject(root, "by_service", by_service);
	if (cJSON_AddNumberToObject(root, "recent_errors", (double)recent) == NULL)
		goto fail;
	db_res_free(res);
	rc = logmon_cache_store_reply(r, root);
	cJSON_Delete(root);
	return rc;
fail:
	db_res_free(res);
	cJSON_Delete(root);
	return http_error(r, 500, NULL, NULL);
}

int
logmon_h_services(struct http_req *r)
{
	cJSON *root = NULL, *arr;
	db_res *res = NULL;
	int rc, i, n;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if ((rc = db_exec(svc_db(), LM_SERVICES, NULL, 0, &res)) != DB_OK)
		return svc_db_error(r, rc);
	n = db_nrows(res);
	if ((root = cJSON_CreateObject()) == NULL ||
	    (arr = cJSON_AddArrayToObject(root, "services")) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateString(db_get(res, i, 0));
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto fail;
		}
	}
	if (cJSON_AddNumberToObject(root, "count", n) == NULL)
		goto fail;
	db_res_free(res);
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
fail:
	db_res_free(res);
	cJSON_Delete(root);
	return http_error(r, 500, NULL, NULL);
}
