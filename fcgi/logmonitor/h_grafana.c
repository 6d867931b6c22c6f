/*
 * h_grafana.c: the Grafana JSON-datasource endpoints: GET / (connection
 * test), POST search (the targets), query (time series over the requested
 * range from the per-minute counts) and annotations (stored errors in the
 * range). Targets:
 *   error_count       ERROR + CRITICAL records per bucket
 *   error_by_service  one series per service
 *   error_by_level    one series per level
 *   recent_errors     at each point, the errors of the hour that ends with
 *                     the point's bucket (what the dashboard calls recent)
 * Grafana sends many fields this file does not use; they are ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logmon.h"
#include "logship.h"
#include "svc.h"

#define GF_SERIES_MAX 64	/* by service or level, per answer */

static const char *const gf_targets[] = { "error_count", "error_by_service", "error_by_level",
	"recent_errors" };

struct gf_series {
	char name[65];
	int64_t *v;
};

int
logmon_h_gf_root(struct http_req *r)
{
	cJSON *root;
	int rc;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if ((root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "status", "ok") == NULL) {
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}

int
logmon_h_gf_search(struct http_req *r)
{
	cJSON *arr;
	int rc;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if ((arr = cJSON_CreateStringArray(gf_targets, 4)) == NULL)
		return http_error(r, 500, NULL, NULL);
	rc = http_reply_json(r, 200, arr);
	cJSON_Delete(arr);
	return rc;
}

/* range.from and range.to of body in ms; 0, or 400 replied. */
static int
gf_range(struct http_req *r, int64_t *from_ms, int64_t *to_ms)
{
	static const char *const bad[] = { "range", NULL };
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(r->json, "range");
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(range, "from");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(range, "to");
	int64_t fu, tu;

	if (!cJSON_IsObject(range) || !cJSON_IsString(f) || !cJSON_IsString(t) ||
	    logship_ts_parse(f->valuestring, &fu) == -1 || logship_ts_parse(t->valuestring, &tu) == -1 ||
	    tu <= fu || (tu - fu) / 1000 > LOGMON_RANGE_MAX_MS)
		return http_error(r, 400, "range needs RFC 3339 from < to (at most 400 days)", bad);
	*from_ms = fu / 1000;
	*to_ms = tu / 1000;
	return 0;
}

/* The series called name in s[0..*n), added when missing. NULL when full. */
static struct gf_series *
gf_series_get(struct gf_series *s, size_t *n, const char *name, size_t nb)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp(s[i].name, name) == 0)
			return &s[i];
	if (*n >= GF_SERIES_MAX || (s[*n].v = calloc(nb, sizeof(int64_t))) == NULL)
		return NULL;
	snprintf(s[*n].name, sizeof(s[*n].name), "%s", name);
	return &s[(*n)++];
}

/* Appends {"target": name, "datapoints": [[v, t]...]} to out. 0 / -1. */
static int
gf_emit(cJSON *out, const char *name, const int64_t *v, size_t nb, int64_t start, int64_t bucket)
{
	cJSON *o = cJSON_CreateObject(), *dp;
	size_t i;

	if (o == NULL || !cJSON_AddItemToArray(out, o))
		goto fail;
	if (cJSON_AddStringToObject(o, "target", name) == NULL ||
	    (dp = cJSON_AddArrayToObject(o, "datapoints")) == NULL)
		return -1;
	for (i = 0; i < nb; i++) {
		double pair[2] = { (double)v[i], (double)(start + (int64_t)i * bucket) };
		cJSON *p = cJSON_CreateDoubleArray(pair, 2);
		if (p == NULL || !cJSON_AddItemToArray(dp, p)) {
			cJSON_Delete(p);
			return -1;
		}
	}
	return 0;
fail:
	cJSON_Delete(o);
	return -1;
}

/* The per-minute totals of [from_ms, to_ms) into *minutes and *counts
 * (malloc'd, *n entries). DB_OK or a failure class. */
static int
gf_minutes(int64_t from_ms, int64_t to_ms, int64_t **minutes, int64_t **counts, size_t *n)
{
	char f[24], t[24];
	const char *p[2] = { f, t };
	db_res *res = NULL;
	int rc, i, rows;

	*minutes = *counts = NULL;
	*n = 0;
	snprintf(f, sizeof(f), "%lld", (long long)from_ms);
	snprintf(t, sizeof(t), "%lld", (long long)to_ms);
	if ((rc = db_exec(svc_db(), LM_GF_MINUTES, p, 2, &res)) != DB_OK)
		return rc;
	rows = db_nrows(res);
	*minutes = calloc((size_t)rows + 1, sizeof(int64_t));
	*counts = calloc((size_t)rows + 1, sizeof(int64_t));
	if (*minutes == NULL || *counts == NULL) {
		db_res_free(res);
		return DB_ERROR;
	}
	for (i = 0; i < rows; i++)
		if (util_parse_i64(db_get(res, i, 0), INT64_MIN / 2, INT64_MAX / 2, &(*minutes)[i]) == -1 ||
		    util_parse_i64(db_get(res, i, 1), 0, INT64_MAX, &(*counts)[i]) == -1) {
			db_res_free(res);
			return DB_ERROR;
		}
	*n = (size_t)rows;
	db_res_free(res);
	return DB_OK;
}

int
logmon_h_gf_query(struct http_req *r)
{
	static const char *const bad_targets[] = { "targets", NULL };
	const cJSON *targets = cJSON_GetObjectItemCaseSensitive(r->json, "targets"), *t;
	const cJSON *iv = cJSON_GetObjectItemCaseSensitive(r->json, "intervalMs");
	struct gf_series svc[GF_SERIES_MAX], lvl[GF_SERIES_MAX];
	size_t nsvc = 0, nlvl = 0, nb, i, nmin = 0;
	int64_t from, to, bucket, start, *total = NULL, *recent = NULL, *mins = NULL, *cnts = NULL, v, b;
	char f[24], tt[24], bs[24];
	const char *p[3] = { f, tt, bs };
	unsigned want = 0;
	cJSON *out = NULL;
	db_res *res = NULL;
	int rc, k, row;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if ((rc = gf_range(r, &from, &to)) != 0)
		return rc;
	if (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) < 1 ||
	    cJSON_GetArraySize(targets) > 16)
		return http_error(r, 400, "targets must list 1 to 16 targets", bad_targets);
	cJSON_ArrayForEach(t, targets) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "target");
		for (k = 0; k < 4; k++)
			if (cJSON_IsString(name) && strcmp(name->valuestring, gf_targets[k]) == 0)
				break;
		if (k == 4)
			return http_error(r, 400, "unknown target (see /search)", bad_targets);
		want |= 1u << k;
	}
	bucket = logmon_bucket_ms(from, to, cJSON_IsNumber(iv) ? (int64_t)iv->valuedouble : 0);
	start = logmon_bucket_start(from, bucket);
	nb = (size_t)((to - start + bucket - 1) / bucket);
	memset(svc, 0, sizeof(svc));
	memset(lvl, 0, sizeof(lvl));
	snprintf(f, sizeof(f), "%lld", (long long)start);
	snprintf(tt, sizeof(tt), "%lld", (long long)to);
	snprintf(bs, sizeof(bs), "%lld", (long long)bucket);
	rc = DB_ERROR;
	if ((total = calloc(nb, sizeof(int64_t))) == NULL || (recent = calloc(nb, sizeof(int64_t))) == NULL)
		goto fail;
	if ((rc = db_exec(svc_db(), LM_GF_BUCKETS, p, 3, &res)) != DB_OK)
		goto fail;
	rc = DB_ERROR;
	for (row = 0; row < db_nrows(res); row++) {
		struct gf_series *s, *l;
		if (util_parse_i64(db_get(res, row, 0), INT64_MIN / 2, INT64_MAX / 2, &b) == -1 ||
		    util_parse_i64(db_get(res, row, 3), 0, INT64_MAX, &v) == -1 || b < start)
			goto fail;
		i = (size_t)((b - start) / bucket);
		if (i >= nb)
			continue;
		total[i] += v;
		if ((s = gf_series_get(svc, &nsvc, db_get(res, row, 1), nb)) == NULL ||
		    (l = gf_series_get(lvl, &nlvl, db_get(res, row, 2), nb)) == NULL)
			goto fail;
		s->v[i] += v;
		l->v[i] += v;
	}
	if ((want & 8u) != 0) {
		if ((rc = gf_minutes(start - LOGMON_RECENT_MS, to, &mins, &cnts, &nmin)) != DB_OK)
			goto fail;
		rc = DB_ERROR;
		for (i = 0; i < nb; i++) {
			int64_t end = start + (int64_t)(i + 1) * bucket;
			recent[i] = logmon_window_sum(mins, cnts, nmin, end < to ? end : to, LOGMON_RECENT_MS);
		}
	}
	if ((out = cJSON_CreateArray()) == NULL)
		goto fail;
	for (k = 0; k < 4; k++) {
		if ((want & (1u << k)) == 0)
			continue;
		if (k == 0 && gf_emit(out, gf_targets[0], total, nb, start, bucket) == -1)
			goto fail;
		for (i = 0; k == 1 && i < nsvc; i++)
			if (gf_emit(out, svc[i].name, svc[i].v, nb, start, bucket) == -1)
				goto fail;
		for (i = 0; k == 2 && i < nlvl; i++)
			if (gf_emit(out, lvl[i].name, lvl[i].v, nb, start, bucket) == -1)
				goto fail;
		if (k == 3 && gf_emit(out, gf_targets[3], recent, nb, start, bucket) == -1)
			goto fail;
	}
	rc = http_reply_json(r, 200, out);
	goto out;
fail:
	rc = rc == DB_ERROR ? http_error(r, 500, NULL, NULL) : svc_db_error(r, rc);
out:
	cJSON_Delete(out);
	db_res_free(res);
	for (i = 0; i < nsvc; i++)
		free(svc[i].v);
	for (i = 0; i < nlvl; i++)
		free(lvl[i].v);
	free(total);
	free(recent);
	free(mins);
	free(cnts);
	return rc;
}

int
logmon_h_gf_annotations(struct http_req *r)
{
	static const char *const bad_query[] = { "annotation", NULL };
	const cJSON *ann = cJSON_GetObjectItemCaseSensitive(r->json, "annotation"), *q;
	char f[24], t[24], lim[8];
	const char *p[4] = { f, t, NULL, lim };
	int64_t from, to, ms;
	cJSON *out = NULL;
	db_res *res = NULL;
	int rc, i;

	if ((rc = logmon_authorize(r)) != 0)
		return rc;
	if ((rc = gf_range(r, &from, &to)) != 0)
		return rc;
	q = cJSON_GetObjectItemCaseSensitive(ann, "query");
	if (cJSON_IsString(q) && q->valuestring[0] != '\0') {
		struct logmon_q lq;
		const char *bad;
		char arg[96];
		if (strlen(q->valuestring) > 64)
			return http_error(r, 400, "annotation query is a service name", bad_query);
		snprintf(arg, sizeof(arg), "service=%s", q->valuestring);
		if (logmon_query_parse(arg, &lq, &bad) != 0)
			return http_error(r, 400, "annotation query is a service name", bad_query);
		p[2] = q->valuestring;
	}
	snprintf(f, sizeof(f), "%lld", (long long)from);
	snprintf(t, sizeof(t), "%lld", (long long)to);
	snprintf(lim, sizeof(lim), "%d", LOGMON_ANNOTATIONS_MAX);
	if ((rc = db_exec(svc_db(), LM_GF_ANNOTATIONS, p, 4, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if ((out = cJSON_CreateArray()) == NULL)
		goto fail;
	for (i = 0; i < db_nrows(res); i++) {
		cJSON *a = cJSON_CreateObject(), *tags;
		char title[128];
		if (a == NULL || !cJSON_AddItemToArray(out, a)) {
			cJSON_Delete(a);
			goto fail;
		}
		if (util_parse_i64(db_get(res, i, 0), INT64_MIN / 2, INT64_MAX / 2, &ms) == -1)
			goto fail;
		snprintf(title, sizeof(title), "%s in %s", db_get(res, i, 1), db_get(res, i, 2));
		if ((cJSON_IsObject(ann) &&
		     !cJSON_AddItemToObject(a, "annotation", cJSON_Duplicate(ann, 1))) ||
		    cJSON_AddNumberToObject(a, "time", (double)ms) == NULL ||
		    cJSON_AddStringToObject(a, "title", title) == NULL ||
		    cJSON_AddStringToObject(a, "text", db_get(res, i, 3)) == NULL ||
		    (tags = cJSON_AddArrayToObject(a, "tags")) == NULL ||
		    !cJSON_AddItemToArray(tags, cJSON_CreateString(db_get(res, i, 2))) ||
		    !cJSON_AddItemToArray(tags, cJSON_CreateString(db_get(res, i, 1))))
			goto fail;
	}
	db_res_free(res);
	rc = http_reply_json(r, 200, out);
	cJSON_Delete(out);
	return rc;
fail:
	db_res_free(res);
	cJSON_Delete(out);
	return http_error(r, 500, NULL, NULL);
}
