/*
 * h_cancel.c: PUT /api/v1/eventstreammonitor/tasks/{id}/cancel. One
 * conditional update (TS_CANCEL) decides; its task_cancelled event commits
 * with it. Of two concurrent cancels exactly one changes the row; the
 * other, like a cancel of a finished task, gets 409.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "metrics.h"
#include "svc.h"
#include "tasks.h"

static cJSON *
cancelled_event(const struct http_req *r, const db_res *res, char event_id[37])
{
	cJSON *ev = event_new("task_cancelled", "taskprocessing", r->rid, event_id);
	int64_t id, uid;

	if (ev == NULL || util_parse_i64(db_get(res, 0, 0), 1, INT64_MAX, &id) == -1 ||
	    util_parse_i64(db_get(res, 0, 3), 1, INT64_MAX, &uid) == -1 ||
	    cJSON_AddNumberToObject(ev, "taskId", (double)id) == NULL ||
	    cJSON_AddStringToObject(ev, "taskReference", db_get(res, 0, 1)) == NULL ||
	    cJSON_AddStringToObject(ev, "taskType", db_get(res, 0, 2)) == NULL ||
	    cJSON_AddNumberToObject(ev, "userId", (double)uid) == NULL ||
	    cJSON_AddStringToObject(ev, "previousStatus", db_get(res, 0, 4)) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

/* After a cancel that changed nothing: 404 when the caller cannot see the
 * task, else 409 naming its status. */
static int
not_cancelled(struct http_req *r, const char *const p[3])
{
	db_res *res = NULL;
	char msg[96];
	int rc;

	if ((rc = db_exec(svc_db(), TS_STATUS, p, 3, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return http_error(r, 404, "no such task", NULL);
	}
	snprintf(msg, sizeof(msg), "task is %s and cannot be cancelled", db_get(res, 0, 0));
	db_res_free(res);
	return http_error(r, 409, msg, NULL);
}

static int
reply_cancelled(struct http_req *r, const db_res *res)
{
	cJSON *root = cJSON_CreateObject(), *t = cJSON_AddObjectToObject(root, "task");
	int64_t id;
	int rc;

	if (t == NULL || util_parse_i64(db_get(res, 0, 0), 1, INT64_MAX, &id) == -1 ||
	    cJSON_AddNumberToObject(t, "taskId", (double)id) == NULL ||
	    cJSON_AddStringToObject(t, "taskReference", db_get(res, 0, 1)) == NULL ||
	    cJSON_AddStringToObject(t, "status", "cancelled") == NULL ||
	    cJSON_AddStringToObject(t, "message", "Task cancelled successfully") == NULL) {
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}

int
tasks_h_cancel(struct http_req *r)
{
	char sub[24], event_id[37], key[24];
	const char *p[3] = { r->pv[0], sub, token_has_role(&r->auth, "admin") ? "true" : "false" };
	cJSON *ev = NULL;
	db_res *res = NULL;
	int rc;

	snprintf(sub, sizeof(sub), "%lld", (long long)r->auth.sub);
	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = db_exec(svc_db(), TS_CANCEL, p, 3, &res)) != DB_OK) {
		rc = svc_db_error(r, rc);
		goto fail;
	}
	if (db_nrows(res) == 0) {
		db_rollback(svc_db());
		db_res_free(res);
		return not_cancelled(r, p);
	}
	if ((ev = cancelled_event(r, res, event_id)) == NULL) {
		rc = http_error(r, 500, NULL, NULL);
		goto fail;
	}
	snprintf(key, sizeof(key), "%s", db_get(res, 0, 3));
	if ((rc = event_outbox_add(svc_db(), TS_OUTBOX, TASKS_TOPIC, key, ev, event_id,
	    r->rid)) != DB_OK || (rc = db_commit(svc_db())) != DB_OK) {
		rc = svc_db_error(r, rc);
		goto fail;
	}
	metrics_add(MC_EVENTS_WRITTEN, 1);
	log_info("task %s cancelled (was %s)", db_get(res, 0, 1), db_get(res, 0, 4));
	cJSON_Delete(ev);
	rc = reply_cancelled(r, res);
	db_res_free(res);
	return rc;
fail:
	db_rollback(svc_db());
	cJSON_Delete(ev);
	db_res_free(res);
	return rc;
}
