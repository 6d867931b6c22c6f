/*
 * h_create.c: POST /api/v1/eventstreammonitor/tasks. The task row and its
 * task_created event commit in one transaction (outbox); the relay
 * publishes the event. Creating a task for another user needs the admin
 * role.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "svc.h"
#include "tasks.h"

#define TASKS_REF_TRIES 3	/* a reference collision is 1 in 2^32 a day */

static const struct json_field create_fields[] = {
	{ "userId", JT_INT, 0, 0, 0, NULL, 1, 9007199254740991LL },
	{ "taskType", JT_STRING, 0, 0, 0, tasks_valid_type, 0, 0 },
	{ "priority", JT_STRING, 0, 0, 0, tasks_valid_priority, 0, 0 },
	{ "parameters", JT_OBJECT, 0, 0, 0, NULL, 0, 0 },
};

static cJSON *
created_event(const struct http_req *r, const cJSON *task, char event_id[37])
{
	static const char *const copy[] = { "taskId", "taskReference", "taskType", "userId", "priority" };
	cJSON *ev = event_new("task_created", "taskprocessing", r->rid, event_id);

	for (size_t i = 0; ev && i < ESM_NELEM(copy); i++) {
		cJSON *v = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(task, copy[i]), 0);
		if (v == NULL || !cJSON_AddItemToObject(ev, copy[i], v)) {
			cJSON_Delete(v);
			cJSON_Delete(ev);
			return NULL;
		}
	}
	return ev;
}

/* One attempt: task row + event. DB_OK with *task set, or a db_status
 * (DB_CONFLICT: the reference was taken, try another). */
static int
insert_task(struct http_req *r, const char *const p[5], cJSON **task, char key[24])
{
	cJSON *ev = NULL;
	db_res *res = NULL;
	char event_id[37];
	int rc;

	*task = NULL;
	if ((rc = db_begin(svc_db())) != DB_OK)
		return rc;
	if ((rc = db_exec(svc_db(), TS_INSERT, p, 5, &res)) != DB_OK)
		goto fail;
	rc = DB_ERROR;
	if ((*task = tasks_row_json(res, 0, 0)) == NULL ||
	    (ev = created_event(r, *task, event_id)) == NULL)
		goto fail;
	snprintf(key, 24, "%s", db_get(res, 0, 3));
	if ((rc = event_outbox_add(svc_db(), TS_OUTBOX, "task-events", key, ev, event_id,
	    r->rid)) != DB_OK || (rc = db_commit(svc_db())) != DB_OK)
		goto fail;
	cJSON_Delete(ev);
	db_res_free(res);
	return DB_OK;
fail:
	db_rollback(svc_db());
	cJSON_Delete(*task);
	*task = NULL;
	cJSON_Delete(ev);
	db_res_free(res);
	return rc;
}

int
tasks_h_create(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	static const char *const pparams[] = { "parameters", NULL };
	static const char *const uparams[] = { "userId", NULL };
	char uid[24], ref[TASKS_REF_LEN + 1], key[24], *params = NULL;
	const char *p[5];
	cJSON *task = NULL, *root = NULL, *pobj;
	uint32_t rnd;
	int64_t user = r->auth.sub;
	size_t nbad;
	int rc = DB_ERROR, i, status;

	if (!json_check_fields(r->json, create_fields, ESM_NELEM(create_fields), bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	if (json_int(r->json, "userId", &user) && user != r->auth.sub &&
	    !token_has_role(&r->auth, "admin"))
		return http_error(r, 403, "only administrators may create tasks for other users", uparams);
	pobj = cJSON_GetObjectItemCaseSensitive(r->json, "parameters");
	params = pobj ? cJSON_PrintUnformatted(pobj) : NULL;
	if (pobj != NULL && params == NULL)
		return http_error(r, 500, NULL, NULL);
	if (params != NULL && strlen(params) > TASKS_PARAMS_MAX) {
		cJSON_free(params);
		return http_error(r, 400, "parameters exceed 16 KiB", pparams);
	}
	snprintf(uid, sizeof(uid), "%lld", (long long)user);
	p[0] = ref;
	p[1] = json_str(r->json, "taskType") ? json_str(r->json, "taskType") : "data_processing";
	p[2] = uid;
	p[3] = json_str(r->json, "priority") ? json_str(r->json, "priority") : "medium";
	p[4] = params ? params : "{}";
	for (i = 0; i < TASKS_REF_TRIES; i++) {
		if (util_random(&rnd, sizeof(rnd)) == -1)
			break;
		tasks_reference(util_now_us(), rnd, ref);
		if ((rc = insert_task(r, p, &task, key)) != DB_CONFLICT)
			break;
	}
	cJSON_free(params);
	if (task == NULL)
		return rc == DB_CONFLICT ? http_error(r, 500, NULL, NULL) : svc_db_error(r, rc);
	metrics_add(MC_EVENTS_WRITTEN, 1);
	log_info("task %s created for user %s", ref, key);
	if ((root = cJSON_CreateObject()) == NULL || !cJSON_AddItemToObject(root, "task", task)) {
		cJSON_Delete(root);
		cJSON_Delete(task);
		return http_error(r, 500, NULL, NULL);
	}
	if (http_header_add(r, "Location", "/api/v1/eventstreammonitor/tasks/%.0f",
	    cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(task, "taskId"))) == -1)
		status = http_error(r, 500, NULL, NULL);
	else
		status = http_reply_json(r, 201, root);
	cJSON_Delete(root);
	return status;
}
