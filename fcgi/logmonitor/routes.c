/*
 * routes.c: the log monitor's route table and SQL table. Filters are
 * parameters that may be NULL ("any"), so one constant statement serves
 * every combination.
 */
#include "wmetrics.h"
#include "logmon.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* Columns of logmon_row_json, in order. */
#define LOGMON_COLS "id, " TS("ts") ", level, logger, message, module, function, line, " \
	"service, host, process, request_id"
#define LOGMON_LEVELS "level IN ('ERROR', 'CRITICAL')"

const struct db_stmt logmon_stmts[LM_COUNT_] = {
	/* Two statements so each has its index: the newest of all errors
	 * (error_logs_ts), or the newest of one service (error_logs_service_ts). */
	[LM_ERRORS] = { "errors",
	    "SELECT " LOGMON_COLS " FROM error_logs "
	    "WHERE ($1::text IS NULL OR level = $1) "
	    "AND ($2::bigint IS NULL OR ts >= to_timestamp($2::bigint / 1000000.0)) "
	    "ORDER BY ts DESC, id DESC LIMIT $3::int", 1 },
	[LM_ERRORS_SERVICE] = { "errors_service",
	    "SELECT " LOGMON_COLS " FROM error_logs "
	    "WHERE service = $1 AND ($2::text IS NULL OR level = $2) "
	    "AND ($3::bigint IS NULL OR ts >= to_timestamp($3::bigint / 1000000.0)) "
	    "ORDER BY ts DESC, id DESC LIMIT $4::int", 1 },
	/* kind, name, count: one round trip for the whole stats object, from
	 * the per-minute counts (small) rather than the records (large).
	 * "recent" is the minutes that started within the last hour. */
	[LM_STATS] = { "stats",
	    "SELECT 'total', '', coalesce(sum(n), 0)::bigint FROM log_counts WHERE " LOGMON_LEVELS " "
	    "UNION ALL SELECT 'recent', '', coalesce(sum(n), 0)::bigint FROM log_counts "
	    "WHERE " LOGMON_LEVELS " AND minute > now() - interval '1 hour' "
	    "UNION ALL (SELECT 'level', level, sum(n)::bigint FROM log_counts WHERE " LOGMON_LEVELS " "
	    "GROUP BY level ORDER BY level) "
	    "UNION ALL (SELECT 'service', service, sum(n)::bigint FROM log_counts WHERE " LOGMON_LEVELS " "
	    "GROUP BY service ORDER BY service)", 1 },
	[LM_SERVICES] = { "services",
	    "SELECT service FROM log_counts GROUP BY service ORDER BY service", 1 },
	/* bucket start (ms), service, level, count over [$1, $2) ms in buckets of $3 ms. */
	[LM_GF_BUCKETS] = { "gf_buckets",
	    "SELECT (floor(extract(epoch FROM minute) * 1000 / $3::bigint) * $3::bigint)::bigint, "
	    "service, level, sum(n)::bigint FROM log_counts "
	    "WHERE minute >= to_timestamp($1::bigint / 1000.0) AND minute < to_timestamp($2::bigint / 1000.0) "
	    "AND " LOGMON_LEVELS " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", 1 },
	/* minute (ms), count of errors, over [$1, $2) ms. */
	[LM_GF_MINUTES] = { "gf_minutes",
	    "SELECT (extract(epoch FROM minute) * 1000)::bigint, sum(n)::bigint FROM log_counts "
	    "WHERE minute >= to_timestamp($1::bigint / 1000.0) AND minute < to_timestamp($2::bigint / 1000.0) "
	    "AND " LOGMON_LEVELS " GROUP BY 1 ORDER BY 1", 1 },
	[LM_GF_ANNOTATIONS] = { "gf_annotations",
	    "SELECT floor(extract(epoch FROM ts) * 1000)::bigint, level, service, message FROM error_logs "
	    "WHERE ts >= to_timestamp($1::bigint / 1000.0) AND ts < to_timestamp($2::bigint / 1000.0) "
	    "AND ($3::text IS NULL OR service = $3) ORDER BY ts DESC, id DESC LIMIT $4::int", 1 },
	[LM_WORKER_METRICS] = { "worker_metrics", WMETRICS_SELECT_SQL, 1 },
};

const struct route logmon_routes[] = {
	{ "GET", "/api/v1/logs/errors", logmon_h_errors, RB_NONE, RA_NONE },
	{ "GET", "/api/v1/logs/errors/{name}", logmon_h_errors_service, RB_NONE, RA_NONE },
	{ "GET", "/api/v1/logs/stats", logmon_h_stats, RB_NONE, RA_NONE },
	{ "GET", "/api/v1/logs/services", logmon_h_services, RB_NONE, RA_NONE },
	{ "GET", "/api/v1/grafana/", logmon_h_gf_root, RB_NONE, RA_NONE },
	{ "POST", "/api/v1/grafana/search", logmon_h_gf_search, RB_JSON, RA_NONE },
	{ "POST", "/api/v1/grafana/query", logmon_h_gf_query, RB_JSON, RA_NONE },
	{ "POST", "/api/v1/grafana/annotations", logmon_h_gf_annotations, RB_JSON, RA_NONE },
};
const size_t logmon_nroutes = sizeof(logmon_routes) / sizeof(logmon_routes[0]);
