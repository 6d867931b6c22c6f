/*
 * notifs.h: the notification service: the notifications that esm-notifier
 * writes, as a list, one at a time, and marked read by their user.
 * Statement indices, the handlers, and the pure query and paging helpers
 * (query.c, tested in tests/unit/test_notifier.c).
 */
#ifndef ESM_NOTIFS_H
#define ESM_NOTIFS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "db.h"
#include "http.h"
#include "query.h"
#include "route.h"

#define NOTIFS_PAGE_DEFAULT 50
#define NOTIFS_PAGE_MAX 100
#define NOTIFS_OFFSET_MAX 1000000000LL
#define NOTIFS_QVAL_MAX QUERY_VAL_MAX

enum notifs_stmt {
	NF_LIST,		/* one user's ($1 required) */
	NF_COUNT,
	NF_LIST_ALL,		/* everyone's (admins without a userId filter) */
	NF_COUNT_ALL,
	NF_GET,			/* one, when the caller ($2) owns it or is admin ($3) */
	NF_READ,		/* marks one of the caller's read, keeping a first readAt */
	NF_WORKER_METRICS,
	NF_COUNT_
};

extern const struct db_stmt notifs_stmts[NF_COUNT_];
extern const struct route notifs_routes[];
extern const size_t notifs_nroutes;

int notifs_h_list(struct http_req *r);
int notifs_h_get(struct http_req *r);
int notifs_h_read(struct http_req *r);

/* The notification object from a row of NOTIFS_COLS. NULL on ENOMEM. */
cJSON *notifs_row_json(const db_res *res, int row);

/* limit 1..100 (default 50), offset 0.. (default 0); -1 with *bad. Pure. */
int notifs_paging(const char *limit, const char *offset, int64_t *lim, int64_t *off,
    const char **bad);
/* 1 when s is a notification status (pending, sent, failed,
 * undeliverable). Pure. */
int notifs_valid_status(const char *s);
/* 1 when s is a boolean query value, "true" or "false". Pure. */
int notifs_valid_bool(const char *s);
/* 1 when s looks like an event type: 1-64 of [A-Za-z0-9_.-]. Pure. */
int notifs_valid_event_type(const char *s);

#endif
