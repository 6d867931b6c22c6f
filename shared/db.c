/*
 * db.c: libpq behind a small handle. Statements are prepared once per
 * connection; a dead connection is replaced on the next use (at most every
 * DB_RECONNECT_GAP_US, so a database that is down costs requests nothing but
 * a fast 503). Errors are reduced to the classes of db.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <libpq-fe.h>

#include "db.h"
#include "log.h"

#define DB_RECONNECT_GAP_US 250000

struct db {
	PGconn *conn;
	char *dsn;
	const struct db_stmt *tab;
	size_t ntab;
	int timeout_ms;
	int in_tx;
	int64_t last_attempt;
	uint64_t errors;
};

struct db_res {
	PGresult *res;
};

static void
db_drop(db *d)
{
	if (d->conn != NULL)
		PQfinish(d->conn);
	d->conn = NULL;
	d->in_tx = 0;
}

/* Server messages can quote data; keep only the first line, capped. */
static void
db_log_error(const char *what, const char *detail)
{
	char line[200];
	size_t n;

	snprintf(line, sizeof(line), "%s", detail ? detail : "");
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	log_error("database %s failed: %s", what, line);
}

static int
db_connect(db *d)
{
	const char *keys[] = { "dbname", "connect_timeout", "application_name", "options", NULL };
	char opts[192];
	const char *vals[5];
	size_t i;

	db_drop(d);
	d->last_attempt = util_mono_us();
	/* DateStyle ISO whatever the server's default: db_ts_rfc3339 reads it. */
	snprintf(opts, sizeof(opts), "-c DateStyle=ISO");
	if (d->timeout_ms > 0)
		snprintf(opts, sizeof(opts), "-c DateStyle=ISO -c statement_timeout=%d -c lock_timeout=%d "
		    "-c idle_in_transaction_session_timeout=%d",
		    d->timeout_ms, d->timeout_ms, d->timeout_ms * 4);
	vals[0] = d->dsn;
	vals[1] = "3";
	vals[2] = "esm";
	vals[3] = opts;
	vals[4] = NULL;
	d->conn = PQconnectdbParams(keys, vals, 1);
	if (d->conn == NULL || PQstatus(d->conn) != CONNECTION_OK) {
		db_log_error("connect", d->conn ? PQerrorMessage(d->conn) : "out of memory");
		db_drop(d);
		return DB_UNAVAILABLE;
	}
	for (i = 0; i < d->ntab; i++) {
		PGresult *r = PQprepare(d->conn, d->tab[i].name, d->tab[i].sql, 0, NULL);
		int ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;

		if (!ok) {
			/* A statement that does not prepare is a programming or
			 * migration error; say which one. */
			char what[96];
			snprintf(what, sizeof(what), "prepare %s", d->tab[i].name);
			db_log_error(what, PQerrorMessage(d->conn));
			PQclear(r);
			db_drop(d);
			return DB_ERROR;
		}
		PQclear(r);
	}
	return DB_OK;
}

db *
db_open(const char *dsn, const struct db_stmt *tab, size_t n, int statement_timeout_ms)
{
	db *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->dsn = strdup(dsn ? dsn : "")) == NULL) {
		free(d);
		return NULL;
	}
	d->tab = tab;
	d->ntab = n;
	d->timeout_ms = statement_timeout_ms;
	(void)db_connect(d);
	return d;
}

void
db_close(db *d)
{
	if (d == NULL)
		return;
	db_drop(d);
	free(d->dsn);
	free(d);
}

int
db_ensure(db *d)
{
	if (d->conn != NULL && PQstatus(d->conn) == CONNECTION_OK)
		return DB_OK;
	if (d->conn == NULL && util_mono_us() - d->last_attempt < DB_RECONNECT_GAP_US)
		return DB_UNAVAILABLE;
	return db_connect(d) == DB_OK ? DB_OK : DB_UNAVAILABLE;
}

/* Maps a failed result to a class; drops the connection when it is gone. */
static int
db_classify(db *d, PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	d->errors++;
	if (PQstatus(d->conn) != CONNECTION_OK) {
		db_drop(d);
		return DB_UNAVAILABLE;
	}
	if (state == NULL)
		return DB_ERROR;
	if (strcmp(state, "23505") == 0)
		return DB_CONFLICT;
	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		return DB_TIMEOUT;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
	    strcmp(state, "53300") == 0) {
		db_drop(d);
		return DB_UNAVAILABLE;
	}
	return DB_ERROR;
}

/* An idle connection has nothing to say: anything readable on it is the
 * server hanging up (a FATAL on shutdown, then EOF). Checking before a
 * statement is sent lets a request that follows a database restart
 * reconnect instead of failing, even for a write whose repetition would not
 * be safe after the fact. One poll(2) with no wait. */
static int
db_gone(db *d)
{
	struct pollfd p;

	p.fd = PQsocket(d->conn);
	p.events = POLLIN;
	p.revents = 0;
	if (p.fd < 0)
		return 1;
	/* Nothing unsolicited is expected (no LISTEN, no async notices we
	 * need), so readable means going away even before libpq has seen the
	 * EOF that follows the server's last message. */
	return poll(&p, 1, 0) > 0;
}

static int
db_run(db *d, const char *name, const char *sql, const char *const *params, int n,
    int retry_safe, db_res **out)
{
	PGresult *r = NULL;
	int attempt, rc = DB_ERROR;
	ExecStatusType st;

	if (out)
		*out = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		if (!d->in_tx && d->conn != NULL && db_gone(d)) {
			log_warn("database connection closed by the server, reconnecting");
			db_drop(d);
			d->last_attempt = 0;
		}
		if (!d->in_tx && (rc = db_ensure(d)) != DB_OK)
			return rc;
		if (d->conn == NULL)
			return DB_UNAVAILABLE;
		r = name ? PQexecPrepared(d->conn, name, n, params, NULL, NULL, 0)
			 : PQexec(d->conn, sql);
		st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (out != NULL) {
				if ((*out = malloc(sizeof(**out))) == NULL) {
					PQclear(r);
					return DB_ERROR;
				}
				(*out)->res = r;
			} else
				PQclear(r);
			return DB_OK;
		}
		rc = db_classify(d, r);
		if (rc != DB_CONFLICT)
			db_log_error(name ? name : sql, r ? PQresultErrorMessage(r) : "no result");
		PQclear(r);
		r = NULL;
		/* Only a statement whose repetition is harmless is sent again,
		 * and only when the connection itself was the problem. */
		if (rc != DB_UNAVAILABLE || !retry_safe || d->in_tx)
			break;
		d->last_attempt = 0;
	}
	return rc;
}

int
db_exec(db *d, size_t idx, const char *const *params, int n, db_res **out)
{
	if (idx >= d->ntab) {
		log_error("database statement %zu out of range", idx);
		return DB_ERROR;
	}
	return db_run(d, d->tab[idx].name, NULL, params, n, d->tab[idx].retry_safe, out);
}

int
db_exec_lit(db *d, const char *sql)
{
	return db_run(d, NULL, sql, NULL, 0, 0, NULL);
}

int
db_ping(db *d)
{
	return db_run(d, NULL, "SELECT 1", NULL, 0, 1, NULL);
}

int
db_begin(db *d)
{
	int rc;

	if (d->in_tx)
		db_rollback(d);
	rc = db_run(d, NULL, "BEGIN", NULL, 0, 1, NULL);
	if (rc == DB_OK)
		d->in_tx = 1;
	return rc;
}

int
db_commit(db *d)
{
	int rc;

	rc = db_run(d, NULL, "COMMIT", NULL, 0, 0, NULL);
	d->in_tx = 0;
	return rc;
}

void
db_rollback(db *d)
{
	PGresult *r;

	if (!d->in_tx || d->conn == NULL) {
		d->in_tx = 0;
		return;
	}
	d->in_tx = 0;
	r = PQexec(d->conn, "ROLLBACK");
	PQclear(r);
	if (PQstatus(d->conn) != CONNECTION_OK)
		db_drop(d);
}

int
db_nrows(const db_res *r)
{
	return r ? PQntuples(r->res) : 0;
}

const char *
db_get(const db_res *r, int row, int col)
{
	if (r == NULL || row >= PQntuples(r->res) || col >= PQnfields(r->res))
		return "";
	return PQgetvalue(r->res, row, col);
}

int
db_isnull(const db_res *r, int row, int col)
{
	if (r == NULL || row >= PQntuples(r->res) || col >= PQnfields(r->res))
		return 1;
	return PQgetisnull(r->res, row, col);
}

long
db_affected(const db_res *r)
{
	const char *s = r ? PQcmdTuples(r->res) : "";

	return *s ? strtol(s, NULL, 10) : 0;
}

void
db_res_free(db_res *r)
{
	if (r == NULL)
		return;
	PQclear(r->res);
	free(r);
}

uint64_t
db_error_count(const db *d)
{
	return d ? d->errors : 0;
}

int
db_ts_rfc3339(const char *pg, char out[DB_TS_LEN])
{
	/* "YYYY-MM-DD HH:MM:SS": digits everywhere but these places */
	static const char shape[] = "dddd-dd-dd dd:dd:dd";
	size_t i, f;

	for (i = 0; i < sizeof(shape) - 1; i++) {
		if (shape[i] == 'd' ? pg[i] < '0' || pg[i] > '9' : pg[i] != shape[i])
			return -1;
	}
	memcpy(out, pg, 19);
	out[10] = 'T';
	out[19] = '.';
	f = 0;
	if (pg[19] == '.') {
		for (f = 0; f < 6 && pg[20 + f] >= '0' && pg[20 + f] <= '9'; f++)
			out[20 + f] = pg[20 + f];
		if (f == 0 || pg[20 + f] != '\0')
			return -1;
	} else if (pg[19] != '\0') {
		return -1;
	}
	for (; f < 6; f++)
		out[20 + f] = '0';
	out[26] = 'Z';
	out[27] = '\0';
	return 0;
}
