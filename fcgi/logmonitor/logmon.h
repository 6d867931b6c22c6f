/*
 * logmon.h: the log monitor service: the log APIs and the Grafana JSON
 * datasource over the log collector's tables (error_logs, log_counts).
 * Every route needs operator credentials: lighttpd's basic authentication
 * (REMOTE_USER set by lighttpd) or a bearer token with the admin role.
 * The dashboard itself is static files served by lighttpd.
 *
 * The decisions (query arguments, time buckets, trailing-hour sums) are pure
 * functions tested in tests/unit/test_logmon.c.
 */
#ifndef ESM_LOGMON_H
#define ESM_LOGMON_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "db.h"
#include "http.h"
#include "route.h"

#define LOGMON_LIMIT_DEFAULT 100
#define LOGMON_LIMIT_MAX 500
#define LOGMON_BUCKET_MIN_MS 60000		/* counts are kept per minute */
#define LOGMON_POINTS_MAX 2000			/* per series in a Grafana answer */
#define LOGMON_RANGE_MAX_MS (400LL * 86400 * 1000)
#define LOGMON_RECENT_MS 3600000		/* "recent": the last hour */
#define LOGMON_ANNOTATIONS_MAX 100

enum logmon_stmt {
	LM_ERRORS,
	LM_ERRORS_SERVICE,
	LM_STATS,
	LM_SERVICES,
	LM_GF_BUCKETS,
	LM_GF_MINUTES,
	LM_GF_ANNOTATIONS,
	LM_WORKER_METRICS,
	LM_COUNT_
};

extern const struct db_stmt logmon_stmts[LM_COUNT_];
extern const struct route logmon_routes[];
extern const size_t logmon_nroutes;

/* Arguments of GET /api/v1/logs/errors. */
struct logmon_q {
	int limit;
	char service[65];		/* "" = any */
	char level[9];			/* "" = any, else ERROR or CRITICAL */
	int64_t since_us;		/* -1 = no lower bound */
};

/* Parses a query string (without '?') into q. 0, or 400 with the name of
 * the offending argument in *bad (borrowed static text). Unknown arguments,
 * repeated ones and bad values are refused. Pure. */
int logmon_query_parse(const char *query, struct logmon_q *q, const char **bad);
/* Bucket width in ms for a range and Grafana's intervalMs (<= 0 when not
 * given): a whole number of minutes, at least one, and few enough buckets
 * for LOGMON_POINTS_MAX. Pure. */
int64_t logmon_bucket_ms(int64_t from_ms, int64_t to_ms, int64_t interval_ms);
/* First bucket start (aligned to bucket_ms since the epoch) at or before
 * from_ms. Pure. */
int64_t logmon_bucket_start(int64_t from_ms, int64_t bucket_ms);
/* Sum of counts[i] over minutes[i] (ms, ascending) in [end_ms - window_ms,
 * end_ms). Pure. */
int64_t logmon_window_sum(const int64_t *minutes, const int64_t *counts, size_t n,
    int64_t end_ms, int64_t window_ms);

/* 0 when the request carries operator credentials (lighttpd's REMOTE_USER
 * after basic authentication, or an admin bearer token), else the status
 * replied (401 or 403). */
int logmon_authorize(struct http_req *r);
/* One error_logs row of LM_ERRORS's columns as the API object. NULL on ENOMEM. */
cJSON *logmon_row_json(const db_res *res, int row);

/* Replies with a cached answer to r's GET (path and query) when one is
 * fresh: 1 when replied, else 0 (nothing sent). See cache.c. */
int logmon_cache_reply(struct http_req *r);
/* Replies 200 with json and keeps the text for the next identical GET.
 * Returns the status sent. */
int logmon_cache_store_reply(struct http_req *r, const cJSON *json);

int logmon_h_errors(struct http_req *r);
int logmon_h_errors_service(struct http_req *r);
int logmon_h_stats(struct http_req *r);
int logmon_h_services(struct http_req *r);
int logmon_h_gf_root(struct http_req *r);
int logmon_h_gf_search(struct http_req *r);
int logmon_h_gf_query(struct http_req *r);
int logmon_h_gf_annotations(struct http_req *r);

#endif
