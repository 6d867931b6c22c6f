/*
 * routes.c: the task service's route table and SQL table. Every statement
 * is constant and prepared once per connection; optional filters are
 * NULL parameters, not different SQL text.
 */
#include "wmetrics.h"
#include "event.h"
#include "tasks.h"

/* Timestamps in UTC as PostgreSQL writes them (DateStyle ISO); the writer
 * makes them RFC 3339 (db_ts_rfc3339). to_char cost the server more than
 * the rest of a list page. */
#define TS(col) col " AT TIME ZONE 'UTC'"
/* Columns of tasks_task_write, in order (TASKS_NCOLS). */
#define TASKS_COLS "id, reference, task_type, user_id, status, priority, progress, " \
	"parameters::text, result::text, error_message, processing_time, " \
	TS("created_at") ", " TS("started_at") ", " TS("completed_at") ", " TS("updated_at")
/* Visible to the caller: $2 the caller's id, $3 true for an admin. */
#define VISIBLE "(user_id = $2::bigint OR $3::boolean)"
/* List filters: $1 status, $2 task type (NULL = any); $3 the user, which
 * the per-user statements require so the (user_id, created_at) index
 * serves them, and the admin-wide ones take as NULL. */
#define FILTERS "($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR task_type = $2)"
#define USER_FILTERS "user_id = $3::bigint AND " FILTERS
#define ALL_FILTERS "$3::bigint IS NULL AND " FILTERS
#define NEWEST " ORDER BY created_at DESC, id DESC LIMIT $4::bigint OFFSET $5::bigint"
/* A page past the total (none match, or the offset is beyond them) does
 * not look at a task: "c.total > $5" is decided once, before the scan. */
#define LIST(filters) "SELECT c.total, p.* FROM (SELECT coalesce(sum(n), 0)::bigint AS total " \
	"FROM task_counts WHERE " filters ") c LEFT JOIN LATERAL (SELECT " TASKS_COLS \
	" FROM tasks WHERE c.total > $5::bigint AND " filters NEWEST ") p ON true"

const struct db_stmt tasks_stmts[TS_COUNT_] = {
	[TS_OUTBOX] = { "outbox", EVENT_OUTBOX_SQL, 0 },
	[TS_OUTBOX_COUNT] = { "outbox_count",
	    "SELECT count(*) FROM outbox WHERE sent_at IS NULL", 1 },
	/* The task and its task_created event in one statement, so one round
	 * trip (and its implicit transaction's one commit) creates both. $7 is
	 * the event object without taskId, which only this insert knows: it is
	 * spliced in as the first member. */
	[TS_CREATE] = { "create",
	    "WITH t AS (INSERT INTO tasks (reference, task_type, user_id, priority, parameters, "
	    "request_id) VALUES ($1, $2, $3::bigint, $4, $5::jsonb, NULLIF($8, '')) RETURNING *), "
	    "o AS (INSERT INTO outbox (event_id, topic, msg_key, payload, request_id) "
	    "SELECT $6::uuid, '" TASKS_TOPIC "', $3::bigint::text, "
	    "'{\"taskId\":' || t.id || ',' || substr($7, 2), NULLIF($8, '') FROM t) "
	    "SELECT " TASKS_COLS " FROM t", 0 },
	[TS_GET] = { "get", "SELECT " TASKS_COLS " FROM tasks WHERE id = $1::bigint AND " VISIBLE, 1 },
	/* A page and its total in one round trip: the total comes from the
	 * counters that triggers keep (sql/tasks/0002), a few rows per user
	 * instead of every matching task, and is joined to each row of the
	 * page, or to one row of NULLs when the page is empty. */
	[TS_LIST] = { "list", LIST(USER_FILTERS), 1 },
	[TS_LIST_ALL] = { "list_all", LIST(ALL_FILTERS), 1 },
	/* One conditional update: the row lock in the subquery makes a second
	 * concurrent cancel wait, then see 'cancelled' and change nothing. */
	[TS_CANCEL] = { "cancel",
	    "UPDATE tasks t SET status = 'cancelled', completed_at = now(), updated_at = now() "
	    "FROM (SELECT id, status FROM tasks WHERE id = $1::bigint AND " VISIBLE
	    " FOR UPDATE) p WHERE t.id = p.id AND p.status IN ('pending', 'processing') "
	    "RETURNING t.id, t.reference, t.task_type, t.user_id, p.status", 0 },
	[TS_STATUS] = { "status", "SELECT status FROM tasks WHERE id = $1::bigint AND " VISIBLE, 1 },
	[TS_WORKER_METRICS] = { "worker_metrics", WMETRICS_SELECT_SQL, 1 },
	/* Creates per user (sql/tasks/0006), and the pending tasks of one from
	 * the counters (0002): a few shard rows, never the tasks. */
	[TS_RATE] = { "rate", RATELIMIT_SQL, 0 },
	[TS_RATE_PURGE] = { "rate_purge", RATELIMIT_PURGE_SQL, 0 },
	[TS_PENDING] = { "pending", "SELECT coalesce(sum(n), 0)::bigint FROM task_counts "
	    "WHERE user_id = $1::bigint AND status = 'pending'", 1 },
	[TS_IDEM_LOOKUP] = { "idem_lookup", IDEM_LOOKUP_SQL, 1 },
	[TS_IDEM_SAVE] = { "idem_save", IDEM_SAVE_SQL, 0 },
	[TS_IDEM_PURGE] = { "idem_purge", IDEM_PURGE_SQL, 0 },
};

const struct idem_stmts tasks_idem = { TS_IDEM_LOOKUP, TS_IDEM_SAVE, TS_IDEM_PURGE };

const struct route tasks_routes[] = {
	{ "POST", "/api/v1/eventstreammonitor/tasks", tasks_h_create, RB_JSON, RA_BEARER },
	{ "GET", "/api/v1/eventstreammonitor/tasks", tasks_h_list, RB_NONE, RA_BEARER },
	{ "GET", "/api/v1/eventstreammonitor/tasks/{id}", tasks_h_get, RB_NONE, RA_BEARER },
	{ "PUT", "/api/v1/eventstreammonitor/tasks/{id}/cancel", tasks_h_cancel, RB_NONE, RA_BEARER },
};
const size_t tasks_nroutes = sizeof(tasks_routes) / sizeof(tasks_routes[0]);
