/*
 * db.h: PostgreSQL through libpq, with a constant table of statements that
 * are prepared once per connection, and reconnection by itself when the
 * server comes back. Only db.c includes libpq-fe.h.
 *
 * Failure classes let callers map errors to HTTP without seeing SQLSTATEs:
 * DB_UNAVAILABLE (connection lost or server starting: 503 + Retry-After),
 * DB_CONFLICT (unique violation: 409), DB_TIMEOUT (statement or lock timeout:
 * 503), DB_ERROR (anything else: 500).
 */
#ifndef ESM_DB_H
#define ESM_DB_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

enum db_status {
	DB_OK = 0,
	DB_UNAVAILABLE = -1,
	DB_CONFLICT = -2,
	DB_TIMEOUT = -3,
	DB_ERROR = -4
};

/* One prepared statement. retry_safe: may be re-sent after a reconnect when
 * the connection turned out dead (reads, BEGIN); never for writes in
 * autocommit, whose outcome is unknown when the connection drops. */
struct db_stmt {
	const char *name;
	const char *sql;
	int retry_safe;
};

typedef struct db db;
typedef struct db_res db_res;

/* Opens a handle for dsn with the given statement table (kept by pointer; it
 * must outlive the handle). Tries to connect once; a failure is not fatal:
 * the handle reconnects on the next use. statement_timeout_ms > 0 sets
 * statement_timeout and lock_timeout on every connection. NULL on ENOMEM. */
db *db_open(const char *dsn, const struct db_stmt *tab, size_t n, int statement_timeout_ms);
void db_close(db *d);

/* Connects (and prepares) if needed. DB_OK or DB_UNAVAILABLE. */
int db_ensure(db *d) ESM_WUR;
/* Round trip to the server ("SELECT 1"). DB_OK or a failure class. */
int db_ping(db *d) ESM_WUR;

/* Runs statement number idx (index in the table) with n text parameters
 * (NULL entries are SQL NULL). On DB_OK *out (if out != NULL) receives the
 * result, which the caller frees with db_res_free; on failure *out is NULL.
 * Inside a transaction nothing is retried. */
int db_exec(db *d, size_t idx, const char *const *params, int n, db_res **out) ESM_WUR;
/* Same for a parameterless literal statement that is not in the table
 * (BEGIN, COMMIT, SET ...): constant strings only, never built at run time. */
int db_exec_lit(db *d, const char *sql) ESM_WUR;

int db_begin(db *d) ESM_WUR;	/* retried once after a reconnect */
int db_commit(db *d) ESM_WUR;
void db_rollback(db *d);	/* safe to call when no transaction is open */

int db_nrows(const db_res *r);
/* Value of row, col as text; "" for NULL. Borrowed until db_res_free. */
const char *db_get(const db_res *r, int row, int col);
int db_isnull(const db_res *r, int row, int col);
/* Rows changed by an INSERT/UPDATE/DELETE. */
long db_affected(const db_res *r);
void db_res_free(db_res *r);

/* A "timestamp without time zone" as PostgreSQL writes it in DateStyle ISO
 * (which every connection of db.c uses), "YYYY-MM-DD HH:MM:SS" with up to
 * six fraction digits and no trailing zeros, rewritten as RFC 3339 UTC with
 * microseconds: "YYYY-MM-DDTHH:MM:SS.ffffffZ" (ts AT TIME ZONE 'UTC' in the
 * query; far cheaper for the server than to_char). out holds at least 28
 * bytes. 0, or -1 when pg is not that shape (a BC or five-digit year, or
 * infinity). Pure. */
#define DB_TS_LEN 28
int db_ts_rfc3339(const char *pg, char out[DB_TS_LEN]) ESM_WUR;

/* Error counters since start, for /metrics. */
uint64_t db_error_count(const db *d);

#endif
