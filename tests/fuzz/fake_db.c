/*
 * fake_db.c: the in-memory database of fake_db.h. Beyond answering, it
 * refuses what PostgreSQL would refuse whatever the schema: a parameter
 * count that differs from the statement's highest $n, text that is not
 * UTF-8, a statement index outside the table, COMMIT outside a transaction.
 * Those are bugs in the caller, so they abort.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_db.h"

struct fake_db fake_db;

struct db {
	const struct db_stmt *tab;
	size_t ntab;
	int in_tx;
};

struct db_res {
	int nrows, ncols;
	char *cells[FAKE_DB_CELLS];
	long affected;
};

static void
fake_die(const char *what, const char *stmt)
{
	fprintf(stderr, "fake_db: %s (%s)\n", what, stmt ? stmt : "literal");
	abort();
}

/* Highest $n in sql: the parameter count the server expects. */
static int
fake_nparams(const char *sql)
{
	const char *p;
	int max = 0;

	for (p = sql; (p = strchr(p, '$')) != NULL; p++) {
		char *end;
		long v = strtol(p + 1, &end, 10);
		if (end != p + 1 && v > max)
			max = (int)v;
	}
	return max;
}

/* The fail_at countdown: 1 when this call is the one to fail. */
static int
fake_fails(void)
{
	fake_db.calls++;
	if (fake_db.fail_at > 0 && --fake_db.fail_at == 0)
		return 1;
	return 0;
}

db *
db_open(const char *dsn, const struct db_stmt *tab, size_t n, int statement_timeout_ms)
{
	db *d = calloc(1, sizeof(*d));

	(void)dsn;
	(void)statement_timeout_ms;
	if (d != NULL) {
		d->tab = tab;
		d->ntab = n;
	}
	return d;
}

void
db_close(db *d)
{
	free(d);
}

int
db_ensure(db *d)
{
	(void)d;
	return DB_OK;
}

int
db_ping(db *d)
{
	(void)d;
	return fake_fails() ? DB_UNAVAILABLE : DB_OK;
}

int
db_exec(db *d, size_t idx, const char *const *params, int n, db_res **out)
{
	struct fake_db_answer a;
	db_res *r;
	int i;

	if (out != NULL)
		*out = NULL;
	if (idx >= d->ntab)
		fake_die("statement index out of range", NULL);
	if (n != fake_nparams(d->tab[idx].sql))
		fake_die("parameter count differs from the statement's", d->tab[idx].name);
	for (i = 0; i < n; i++)
		if (params[i] != NULL && !util_utf8_valid(params[i], strlen(params[i])))
			fake_die("text parameter is not valid UTF-8", d->tab[idx].name);
	if (fake_fails()) {
		if (d->in_tx)
			d->in_tx = -1;	/* aborted: only ROLLBACK is allowed now */
		return DB_UNAVAILABLE;
	}
	if (d->in_tx < 0)
		fake_die("statement in an aborted transaction", d->tab[idx].name);
	memset(&a, 0, sizeof(a));
	if (fake_db.fn != NULL)
		fake_db.fn(fake_db.arg, idx, params, n, &a);
	if (a.rc != DB_OK)
		return a.rc;
	if (a.nrows < 0 || a.ncols < 0 || a.nrows * a.ncols > FAKE_DB_CELLS)
		fake_die("hook answered too many cells", d->tab[idx].name);
	if (out == NULL)
		return DB_OK;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return DB_ERROR;
	r->nrows = a.nrows;
	r->ncols = a.ncols;
	r->affected = a.affected;
	for (i = 0; i < a.nrows * a.ncols; i++)
		if (a.cells[i] != NULL && (r->cells[i] = strdup(a.cells[i])) == NULL) {
			db_res_free(r);
			return DB_ERROR;
		}
	*out = r;
	return DB_OK;
}

int
db_exec_lit(db *d, const char *sql)
{
	(void)d;
	(void)sql;
	return fake_fails() ? DB_UNAVAILABLE : DB_OK;
}

int
db_begin(db *d)
{
	if (d->in_tx)
		db_rollback(d);
	if (fake_fails())
		return DB_UNAVAILABLE;
	d->in_tx = 1;
	return DB_OK;
}

int
db_commit(db *d)
{
	int was = d->in_tx;

	d->in_tx = 0;
	if (was == 0)
		fake_die("COMMIT outside a transaction", NULL);
	if (was < 0 || fake_fails())
		return DB_UNAVAILABLE;
	fake_db.commits++;
	return DB_OK;
}

void
db_rollback(db *d)
{
	if (d->in_tx)
		fake_db.rollbacks++;
	d->in_tx = 0;
}

int
db_nrows(const db_res *r)
{
	return r ? r->nrows : 0;
}

const char *
db_get(const db_res *r, int row, int col)
{
	if (r == NULL || row < 0 || col < 0 || row >= r->nrows || col >= r->ncols)
		return "";
	return r->cells[row * r->ncols + col] ? r->cells[row * r->ncols + col] : "";
}

int
db_isnull(const db_res *r, int row, int col)
{
	if (r == NULL || row < 0 || col < 0 || row >= r->nrows || col >= r->ncols)
		return 1;
	return r->cells[row * r->ncols + col] == NULL;
}

long
db_affected(const db_res *r)
{
	return r ? r->affected : 0;
}

void
db_res_free(db_res *r)
{
	int i;

	if (r == NULL)
		return;
	for (i = 0; i < FAKE_DB_CELLS; i++)
		free(r->cells[i]);
	free(r);
}

uint64_t
db_error_count(const db *d)
{
	(void)d;
	return 0;
}

size_t
fake_db_array(const char *lit, char **buf, char **out, size_t cap)
{
	size_t n = 0;
	char *s, *w;

	if ((*buf = strdup(lit)) == NULL)
		return (size_t)-1;
	/* Decoded text is shorter than its quoted form: w never passes s. */
	s = w = *buf;
	if (*s++ != '{')
		return (size_t)-1;
	if (*s == '}' && s[1] == '\0')
		return 0;
	for (;;) {
		if (n == cap)
			return (size_t)-1;
		if (strncmp(s, "NULL", 4) == 0 && (s[4] == ',' || s[4] == '}')) {
			out[n++] = NULL;
			s += 4;
		} else if (*s == '"') {
			out[n++] = w;
			for (s++; *s != '"'; s++) {
				if (*s == '\\')
					s++;
				if (*s == '\0')
					return (size_t)-1;
				*w++ = *s;
			}
			*w++ = '\0';
			s++;
		} else
			return (size_t)-1;
		if (*s == '}' && s[1] == '\0')
			return n;
		if (*s++ != ',')
			return (size_t)-1;
	}
}
