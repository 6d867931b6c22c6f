/*
 * tasks.h: the task processing service: statement indices, handlers, and
 * the pure decisions the handlers share (vocabulary, state machine,
 * references, query strings and paging), tested in tests/unit/test_tasks.c.
 */
#ifndef ESM_TASKS_H
#define ESM_TASKS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "db.h"
#include "idem.h"
#include "query.h"
#include "http.h"
#include "ratelimit.h"
#include "route.h"

/* The topic of the events this service writes into its outbox. */
#define TASKS_TOPIC "task-events"

#define TASKS_PARAMS_MAX 16384		/* serialized bytes of "parameters" */
#define TASKS_PAGE_DEFAULT 50
#define TASKS_PAGE_MAX 100
#define TASKS_OFFSET_MAX 1000000000LL
#define TASKS_QVAL_MAX QUERY_VAL_MAX
#define TASKS_QKEYS_MAX 8
#define TASKS_REF_LEN 20		/* "TASK" + YYYYMMDD + 8 hex */
#define TASKS_PENDING_MAX_CAP 1000000000LL	/* what ESM_TASKS_PENDING_MAX may say */
/* Retry-After of a create refused for the pending cap: the queue drains at
 * the runners' pace, which this service does not know; a guess of a few
 * tasks' work. */
#define TASKS_PENDING_RETRY_S 10

enum tasks_stmt {
	TS_OUTBOX,
	TS_OUTBOX_COUNT,
	TS_CREATE,		/* task + outbox row */
	TS_GET,
	TS_LIST,		/* one user's tasks ($3 required), total first */
	TS_LIST_ALL,		/* everyone's (admins without a userId filter) */
	TS_CANCEL,
	TS_STATUS,
	TS_WORKER_METRICS,
	TS_RATE,		/* shared/ratelimit.h: creates per user */
	TS_RATE_PURGE,
	TS_PENDING,		/* a user's pending tasks, from task_counts */
	TS_IDEM_LOOKUP,
	TS_IDEM_SAVE,
	TS_IDEM_PURGE,
	TS_COUNT_
};

extern const struct db_stmt tasks_stmts[TS_COUNT_];
/* Idempotency-Key statements of task creation (idem.h). */
extern const struct idem_stmts tasks_idem;

/* Configuration read once at start by tasks_init. */
struct tasks_cfg {
	struct rate create_rate;	/* ESM_RATE_TASK_CREATE, per caller */
	int64_t pending_max;		/* ESM_TASKS_PENDING_MAX, per owner; 0: no cap */
};
extern struct tasks_cfg tasks_cfg;
/* Reads tasks_cfg (exits at start-up on a malformed setting); 0. */
int tasks_init(void);
extern const struct route tasks_routes[];
extern const size_t tasks_nroutes;

int tasks_h_create(struct http_req *r);
int tasks_h_list(struct http_req *r);
int tasks_h_get(struct http_req *r);
int tasks_h_cancel(struct http_req *r);

#define TASKS_NCOLS 15	/* TASKS_COLS of routes.c */

/* Appends the task object written from the TASKS_COLS columns of a row
 * (NULL for SQL NULL); full adds the fields of GET (result, errorMessage,
 * timings). 0, or -1 on ENOMEM or a column that is not what the schema
 * allows. */
int tasks_task_write(buf_t *b, const char *const col[TASKS_NCOLS], int full) ESM_WUR;
/* The same object as a cJSON tree, from row of res. NULL on failure. */
cJSON *tasks_row_json(const db_res *res, int row, int full);

/* ---- pure decisions (logic.c) ---- */

/* 1 when s[0..n) is one of the task types / priorities / statuses. */
int tasks_valid_type(const char *s, size_t n);
int tasks_valid_priority(const char *s, size_t n);
int tasks_valid_status(const char *s, size_t n);
/* 1 when a task may go from status from to status to: pending ->
 * processing|cancelled, processing -> completed|failed|cancelled. */
int tasks_transition_ok(const char *from, const char *to);
/* 1 when a task in status may be cancelled. */
int tasks_cancellable(const char *status);

/* 1 when a user with pending tasks waiting may create no more under the
 * cap max (0: no cap), else 0. */
int tasks_pending_full(int64_t pending, int64_t max);

/* Writes "TASK" + UTC YYYYMMDD of now_us + 8 uppercase hex of rnd into
 * out (TASKS_REF_LEN + 1 bytes). */
void tasks_reference(int64_t now_us, uint32_t rnd, char out[TASKS_REF_LEN + 1]);

/* Paging from the raw limit/offset values (NULL = absent): limit 1..100
 * (default 50), offset 0..TASKS_OFFSET_MAX (default 0). 0, or -1 with *bad
 * = "limit" or "offset". */
int tasks_paging(const char *limit, const char *offset, int64_t *lim, int64_t *off,
    const char **bad);

#endif
