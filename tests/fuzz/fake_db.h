/*
 * fake_db.h: an in-memory stand-in for shared/db.c, so the worker fuzzers
 * drive the real batch and store code without a server. Each statement
 * goes to the harness's hook, which checks the parameters as the real
 * schema would and answers with rows, an affected count or a failure.
 */
#ifndef ESM_FAKE_DB_H
#define ESM_FAKE_DB_H

#include <stddef.h>
#include "db.h"

#define FAKE_DB_CELLS 16

/* What the hook answers for one statement; rc DB_OK unless it fails it. */
struct fake_db_answer {
	int rc;
	int nrows, ncols;		/* nrows * ncols <= FAKE_DB_CELLS */
	const char *cells[FAKE_DB_CELLS];	/* row-major, copied; NULL is SQL NULL */
	long affected;
};

/* Called for every db_exec inside or outside a transaction. */
typedef void (*fake_db_fn)(void *arg, size_t idx, const char *const *params, int n,
    struct fake_db_answer *a);

struct fake_db {
	fake_db_fn fn;
	void *arg;
	int fail_at;		/* > 0: the fail_at-th call from now fails (DB_UNAVAILABLE) */
	unsigned long calls;
	int commits, rollbacks;
};

extern struct fake_db fake_db;

/* Reads a PostgreSQL array literal as the server does, for the shapes our
 * code sends: {} or {e,e,...}, each e NULL or "..." with backslash escapes.
 * Decodes into *buf (a copy of lit the caller frees; NULL when out of
 * memory); element k is out[k], NULL for NULL. Returns the count, or
 * (size_t)-1 for a malformed literal or one of more than cap elements. */
size_t fake_db_array(const char *lit, char **buf, char **out, size_t cap);

#endif
