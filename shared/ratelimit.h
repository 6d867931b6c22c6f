/*
 * ratelimit.h: fixed-window rate limits kept in PostgreSQL, so they hold
 * across the processes of a pool and across hosts. Each service that limits
 * has RATELIMIT_SQL in its statement table and a rate_limits table.
 */
#ifndef ESM_RATELIMIT_H
#define ESM_RATELIMIT_H

#include "db.h"

#define RATELIMIT_SQL \
	"INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES ($1, now(), 1) " \
	"ON CONFLICT (bucket) DO UPDATE SET " \
	"hits = CASE WHEN r.window_start <= now() - make_interval(secs => $2::int) " \
	"THEN 1 ELSE r.hits + 1 END, " \
	"window_start = CASE WHEN r.window_start <= now() - make_interval(secs => $2::int) " \
	"THEN now() ELSE r.window_start END " \
	"RETURNING hits, GREATEST(1, ceil(extract(epoch FROM " \
	"(window_start + make_interval(secs => $2::int) - now()))))::int"

/* Old windows are dropped now and then so the table stays small. */
#define RATELIMIT_PURGE_SQL \
	"DELETE FROM rate_limits WHERE window_start < now() - make_interval(secs => $1::int)"

struct rate {
	int limit;		/* requests per window; 0 disables the limit */
	int window_s;
};

/* Parses "N/S" (N requests per S seconds, N >= 0, 1 <= S <= 86400), or "off".
 * 0 / -1. Pure. */
int ratelimit_parse(const char *s, struct rate *out) ESM_WUR;
/* Reads the rate named by env var name (default def), exiting at start-up
 * when it is malformed. */
struct rate ratelimit_cfg(const char *name, const char *def);

/* Counts one hit on bucket. Returns 0 when allowed, 1 when over the limit
 * (*retry_after_s set), or a negative db_status. purge_stmt (or -1) is run
 * now and then to drop expired windows. */
int ratelimit_hit(db *d, size_t stmt, int purge_stmt, const char *bucket,
    const struct rate *rate, int *retry_after_s) ESM_WUR;

#endif
