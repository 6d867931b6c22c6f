/*
 * h_create.c: POST /api/v1/eventstreammonitor/tasks. The task row and its
 * task_created event commit in one statement, so in one transaction
 * (outbox); the relay publishes the event. Creating a task for another user needs the admin
 * role.
 *
 * Limits, after the checks of the body and before the insert: tasks one
 * caller may create per window (ESM_RATE_TASK_CREATE), and pending tasks
 * the task's owner may have (ESM_TASKS_PENDING_MAX); both 429 with
 * Retry-After. Administrators meet the same limits: they bind a script gone
 * wrong as much as a user's, and an operator who needs more raises them.
 * The cap is read, not reserved: concurrent creates of one owner may pass
 * it by as many as the pool has processes.
 */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "event.h"
#include "idem.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "svc.h"
#include "tasks.h"

#define TASKS_REF_TRIES 3	/* a reference collision is 1 in 2^32 a day */

struct tasks_cfg tasks_cfg;

int
tasks_init(void)
{
	tasks_cfg.create_rate = ratelimit_cfg("ESM_RATE_TASK_CREATE", "60/60");
	tasks_cfg.pending_max = cfg_int("ESM_TASKS_PENDING_MAX", 1000, 0, TASKS_PENDING_MAX_CAP);
	return 0;
}

static const struct json_field create_fields[] = {
	{ "userId", JT_INT, 0, 0, 0, NULL, 1, 9007199254740991LL },
	{ "taskType", JT_STRING, 0, 0, 0, tasks_valid_type, 0, 0 },
	{ "priority", JT_STRING, 0, 0, 0, tasks_valid_priority, 0, 0 },
	{ "parameters", JT_OBJECT, 0, 0, 0, NULL, 0, 0 },
};

/* The task_created event without taskId, which the insert adds (TS_CREATE):
 * every other field is known before the row exists. NULL on ENOMEM. */
static cJSON *
created_event(const struct http_req *r, const char *const p[5], int64_t user, char event_id[37])
{
	cJSON *ev = event_new("task_created", "taskprocessing", r->rid, event_id);

	if (ev == NULL || cJSON_AddStringToObject(ev, "taskReference", p[0]) == NULL ||
	    cJSON_AddStringToObject(ev, "taskType", p[1]) == NULL ||
	    cJSON_AddNumberToObject(ev, "userId", (double)user) == NULL ||
	    cJSON_AddStringToObject(ev, "priority", p[3]) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

/* One attempt: task row and event in one statement (autocommit: one round
 * trip, one commit). DB_OK with *task set, or a db_status (DB_CONFLICT: the
 * reference was taken, try another). */
static int
insert_task(struct http_req *r, const char *const p[5], int64_t user, cJSON **task)
{
	const char *q[8];
	cJSON *ev = NULL;
	db_res *res = NULL;
	char event_id[37], *payload = NULL;
	int rc = DB_ERROR;

	*task = NULL;
	if ((ev = created_event(r, p, user, event_id)) == NULL ||
	    (payload = cJSON_PrintUnformatted(ev)) == NULL)
		goto out;
	memcpy(q, p, 5 * sizeof(*q));
	q[5] = event_id;
	q[6] = payload;
	q[7] = r->rid;
	if ((rc = db_exec(svc_db(), TS_CREATE, q, 8, &res)) != DB_OK)
		goto out;
	if ((*task = tasks_row_json(res, 0, 0)) == NULL)
		rc = DB_ERROR;
out:
	db_res_free(res);
	cJSON_free(payload);
	cJSON_Delete(ev);
	return rc;
}

/* 0 when the caller may create a task for owner now; else the 429 (or the
 * database's error) replied. */
static int
create_limited(struct http_req *r, int64_t owner)
{
	char bucket[48], uid[24];
	const char *p[1] = { uid };
	db_res *res = NULL;
	int64_t pending = 0;
	int rc, retry;

	snprintf(bucket, sizeof(bucket), "task-create:%lld", (long long)r->auth.sub);
	rc = ratelimit_hit(svc_db(), TS_RATE, TS_RATE_PURGE, bucket, &tasks_cfg.create_rate, &retry);
	if (rc < 0)
		return svc_db_error(r, rc);
	if (rc == 1) {
		metrics_add(MC_RATE_LIMITED, 1);
		return http_error_ex(r, 429, "too many tasks created, retry later", NULL, retry);
	}
	if (tasks_cfg.pending_max == 0)
		return 0;
	snprintf(uid, sizeof(uid), "%lld", (long long)owner);
	if ((rc = db_exec(svc_db(), TS_PENDING, p, 1, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (util_parse_i64(db_get(res, 0, 0), INT64_MIN, INT64_MAX, &pending) == -1)
		pending = 0;	/* the sum of the counters is a number */
	db_res_free(res);
	if (!tasks_pending_full(pending, tasks_cfg.pending_max))
		return 0;
	metrics_add(MC_RATE_LIMITED, 1);
	return http_error_ex(r, 429, "too many pending tasks, retry when some are done", NULL,
	    TASKS_PENDING_RETRY_S);
}

/* The task's Location and the 201 body {"task":...} as text, from task
 * (consumed). 0, or -1 on ENOMEM. */
static int
created_reply(cJSON *task, char *location, size_t len, char **text)
{
	cJSON *root = cJSON_CreateObject();

	snprintf(location, len, "/api/v1/eventstreammonitor/tasks/%.0f",
	    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "taskId")));
	if (root == NULL || !cJSON_AddItemToObject(root, "task", task)) {
		cJSON_Delete(root);
		cJSON_Delete(task);
		return -1;
	}
	*text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return *text == NULL ? -1 : 0;
}

/* The insert with its retries on a reference collision; with a key, each
 * attempt in a transaction that also keeps the response (idem_save) and
 * is left open for the caller's commit. DB_OK with *text and location. */
static int
create(struct http_req *r, const char *const p[5], char *ref, int64_t user,
    const struct idem *idem, char *location, size_t llen, char **text)
{
	cJSON *task = NULL;
	uint32_t rnd;
	int rc = DB_ERROR, i;

	for (i = 0; i < TASKS_REF_TRIES; i++) {
		if (util_random(&rnd, sizeof(rnd)) == -1)
			return DB_ERROR;
		tasks_reference(util_now_us(), rnd, ref);
		if (idem->on && (rc = db_begin(svc_db())) != DB_OK)
			return rc;
		if ((rc = insert_task(r, p, user, &task)) != DB_CONFLICT)
			break;
		if (idem->on)
			db_rollback(svc_db());
	}
	if (rc == DB_OK && created_reply(task, location, llen, text) == -1)
		rc = DB_ERROR;
	if (rc == DB_OK && idem->on)
		rc = idem_save(svc_db(), &tasks_idem, idem, 201, location, *text);
	if (idem->on && rc != DB_OK)
		db_rollback(svc_db());
	return rc;
}

int
tasks_h_create(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	static const char *const pparams[] = { "parameters", NULL };
	static const char *const uparams[] = { "userId", NULL };
	static const char *const prparams[] = { "priority", NULL };
	char uid[24], ref[TASKS_REF_LEN + 1], scope[48], location[96], *params = NULL, *text = NULL;
	const char *p[5];
	struct idem idem;
	cJSON *pobj;
	int64_t user = r->auth.sub;
	size_t nbad;
	int rc, status;

	/* A retry of a creation that succeeded gets its answer again, before
	 * anything else is counted or checked. */
	snprintf(scope, sizeof(scope), "tasks:%lld", (long long)r->auth.sub);
	if ((status = idem_begin(r, svc_db(), &tasks_idem, scope, &idem)) != 0)
		return status;
	if (!json_check_fields(r->json, create_fields, ESM_NELEM(create_fields), bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	if (json_int(r->json, "userId", &user) && user != r->auth.sub &&
	    !token_has_role(&r->auth, "admin"))
		return http_error(r, 403, "only administrators may create tasks for other users", uparams);
	/* critical goes before everyone's work: an administrator's call. */
	if (json_str(r->json, "priority") != NULL && strcmp(json_str(r->json, "priority"), "critical") == 0 &&
	    !token_has_role(&r->auth, "admin"))
		return http_error(r, 403, "only administrators may create critical tasks", prparams);
	pobj = cJSON_GetObjectItemCaseSensitive(r->json, "parameters");
	params = pobj ? cJSON_PrintUnformatted(pobj) : NULL;
	if (pobj != NULL && params == NULL)
		return http_error(r, 500, NULL, NULL);
	if (params != NULL && strlen(params) > TASKS_PARAMS_MAX) {
		cJSON_free(params);
		return http_error(r, 400, "parameters exceed 16 KiB", pparams);
	}
	if ((status = create_limited(r, user)) != 0) {
		cJSON_free(params);
		return status;
	}
	snprintf(uid, sizeof(uid), "%lld", (long long)user);
	p[0] = ref;
	p[1] = json_str(r->json, "taskType") ? json_str(r->json, "taskType") : "data_processing";
	p[2] = uid;
	p[3] = json_str(r->json, "priority") ? json_str(r->json, "priority") : "medium";
	p[4] = params ? params : "{}";
	rc = create(r, p, ref, user, &idem, location, sizeof(location), &text);
	cJSON_free(params);
	if (rc == DB_OK && idem.on && (rc = db_commit(svc_db())) != DB_OK)
		db_rollback(svc_db());
	if (rc != DB_OK) {
		cJSON_free(text);
		/* The same key committed meanwhile: its answer, not a second task. */
		if (rc == DB_CONFLICT && idem.on &&
		    (status = idem_begin(r, svc_db(), &tasks_idem, scope, &idem)) != 0)
			return status;
		return rc == DB_CONFLICT ? http_error(r, 500, NULL, NULL) : svc_db_error(r, rc);
	}
	metrics_add(MC_EVENTS_WRITTEN, 1);
	log_info("task %s created for user %s", ref, uid);
	if (http_header_add(r, "Location", "%s", location) == -1)
		status = http_error(r, 500, NULL, NULL);
	else
		status = http_reply(r, 201, "application/json", text, strlen(text));
	cJSON_free(text);
	return status;
}
