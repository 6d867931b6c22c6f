/*
 * routes.c: the notification service's route table and SQL table.
 */
#include "wmetrics.h"
#include "notifs.h"

#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
/* Columns of notifs_row_json, in order. */
#define NOTIFS_COLS "id, event_id, event_type, user_id, recipient_email, subject, message, " \
	"channel, status, attempts, " TS("created_at") ", " TS("sent_at")
/* Filters: $2 event type, $3 status (NULL = any); $1 the user, required by
 * the per-user statements (index on user_id, created_at), NULL for the
 * admin-wide ones. */
#define FILTERS "($2::text IS NULL OR event_type = $2) AND ($3::text IS NULL OR status = $3)"
#define USER_FILTERS "user_id = $1::bigint AND " FILTERS
#define ALL_FILTERS "$1::bigint IS NULL AND " FILTERS
#define NEWEST " ORDER BY created_at DESC, id DESC LIMIT $4::bigint OFFSET $5::bigint"

const struct db_stmt notifs_stmts[NF_COUNT_] = {
	[NF_LIST] = { "list", "SELECT " NOTIFS_COLS " FROM notifications WHERE " USER_FILTERS NEWEST, 1 },
	[NF_COUNT] = { "count", "SELECT count(*) FROM notifications WHERE " USER_FILTERS, 1 },
	[NF_LIST_ALL] = { "list_all", "SELECT " NOTIFS_COLS " FROM notifications WHERE " ALL_FILTERS NEWEST, 1 },
	[NF_COUNT_ALL] = { "count_all", "SELECT count(*) FROM notifications WHERE " ALL_FILTERS, 1 },
	[NF_WORKER_METRICS] = { "worker_metrics", WMETRICS_SELECT_SQL, 1 },
};

const struct route notifs_routes[] = {
	{ "GET", "/api/v1/eventstreammonitor/notifications", notifs_h_list, RB_NONE, RA_BEARER },
};
const size_t notifs_nroutes = sizeof(notifs_routes) / sizeof(notifs_routes[0]);
