/*
 * routes.c: the notification service's route table and SQL table.
 */
#include "wmetrics.h"
#include "notifs.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* Columns of notifs_row_json, in order. */
#define NOTIFS_COLS "id, event_id, event_type, user_id, recipient_email, subject, message, " \
	"channel, status, attempts, " TS("created_at") ", " TS("sent_at") ", " TS("read_at") ", " \
	"last_error"
/* Filters: $2 event type, $3 status, $4 unread (NULL = any); $1 the user,
 * required by the per-user statements (index on user_id, created_at), NULL
 * for the admin-wide ones. */
#define FILTERS "($2::text IS NULL OR event_type = $2) AND ($3::text IS NULL OR status = $3) " \
	"AND ($4::boolean IS NULL OR (read_at IS NULL) = $4::boolean)"
#define USER_FILTERS "user_id = $1::bigint AND " FILTERS
#define ALL_FILTERS "$1::bigint IS NULL AND " FILTERS
#define NEWEST " ORDER BY created_at DESC, id DESC LIMIT $5::bigint OFFSET $6::bigint"

const struct db_stmt notifs_stmts[NF_COUNT_] = {
	[NF_LIST] = { "list", "SELECT " NOTIFS_COLS " FROM notifications WHERE " USER_FILTERS NEWEST, 1 },
	[NF_COUNT] = { "count", "SELECT count(*) FROM notifications WHERE " USER_FILTERS, 1 },
	[NF_LIST_ALL] = { "list_all", "SELECT " NOTIFS_COLS " FROM notifications WHERE " ALL_FILTERS NEWEST, 1 },
	[NF_COUNT_ALL] = { "count_all", "SELECT count(*) FROM notifications WHERE " ALL_FILTERS, 1 },
	[NF_GET] = { "get", "SELECT " NOTIFS_COLS " FROM notifications WHERE id = $1::bigint AND "
	    "(user_id = $2::bigint OR $3::boolean)", 1 },
	/* Idempotent: a second call keeps the first time. */
	[NF_READ] = { "read", "UPDATE notifications SET read_at = COALESCE(read_at, now()) "
	    "WHERE id = $1::bigint AND user_id = $2::bigint RETURNING " NOTIFS_COLS, 1 },
	[NF_WORKER_METRICS] = { "worker_metrics", WMETRICS_SELECT_SQL, 1 },
};

const struct route notifs_routes[] = {
	{ "GET", "/api/v1/eventstreammonitor/notifications", notifs_h_list, RB_NONE, RA_BEARER },
	{ "GET", "/api/v1/eventstreammonitor/notifications/{id}", notifs_h_get, RB_NONE, RA_BEARER },
	{ "PUT", "/api/v1/eventstreammonitor/notifications/{id}/read", notifs_h_read, RB_NONE,
	    RA_BEARER },
};
const size_t notifs_nroutes = sizeof(notifs_routes) / sizeof(notifs_routes[0]);
