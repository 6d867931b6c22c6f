/*
 * handle.c: the task runner's decisions, as pure functions: how much work a
 * task type stands for, how far along a task is, when a slot looks next,
 * what a completed task's result and a status change's event say. No
 * database.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "runner.h"

/* Nominal work per task type, in milliseconds at 100 percent. */
static const struct {
	const char *type;
	int64_t ms;
} runner_work[] = {
	{ "data_processing", 2000 },
	{ "file_upload", 1500 },
	{ "report_generation", 4000 },
	{ "data_export", 3000 },
	{ "image_processing", 2500 },
};

int
runner_plan_of(const char *type, int pct, struct runner_plan *p)
{
	for (size_t i = 0; i < ESM_NELEM(runner_work); i++)
		if (strcmp(runner_work[i].type, type) == 0) {
			p->work_us = runner_work[i].ms * 1000 * (pct < 0 ? 0 : pct) / 100;
			return 0;
		}
	p->work_us = 0;
	return -1;
}

int
runner_progress(int64_t elapsed_us, int64_t work_us)
{
	int64_t pc;

	if (elapsed_us <= 0 || work_us <= 0)
		return 0;
	if (elapsed_us >= work_us)
		return 99;
	pc = elapsed_us * 100 / work_us;
	return pc > 99 ? 99 : (int)pc;
}

int64_t
runner_next_look(int64_t start_us, int64_t work_us, int64_t lease_us, int64_t now_us)
{
	int64_t end = start_us + work_us, step = work_us / 4;

	if (lease_us / 3 < step)
		step = lease_us / 3;
	if (step < 1000)
		step = 1000;
	return now_us + step < end ? now_us + step : end;
}

char *
runner_result(const struct runner_task *t, const struct runner_plan *p)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o != NULL && cJSON_AddStringToObject(o, "taskType", t->type) != NULL &&
	    cJSON_AddNumberToObject(o, "workMs", (double)(p->work_us / 1000)) != NULL &&
	    cJSON_AddNumberToObject(o, "parameterKeys", t->nkeys) != NULL &&
	    cJSON_AddNumberToObject(o, "attempt", t->attempt) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

cJSON *
runner_status_event(const struct runner_task *t, const char *status, int progress,
    char event_id[37])
{
	cJSON *ev = event_new("task_status_changed", RUNNER_SOURCE, t->rid, event_id);

	if (ev == NULL || cJSON_AddNumberToObject(ev, "taskId", (double)t->id) == NULL ||
	    cJSON_AddStringToObject(ev, "taskReference", t->ref) == NULL ||
	    cJSON_AddNumberToObject(ev, "userId", (double)t->user_id) == NULL ||
	    cJSON_AddStringToObject(ev, "previousStatus", t->status) == NULL ||
	    cJSON_AddStringToObject(ev, "status", status) == NULL ||
	    cJSON_AddNumberToObject(ev, "progress", progress) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

/* Copies s into out (cap + 1 bytes): -1 when it does not fit or is empty. */
static int
copy_text(char *out, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > cap)
		return -1;
	memcpy(out, s, n + 1);
	return 0;
}

int
runner_task_from(struct runner_task *t, const char *const col[RUNNER_NCOLS])
{
	int64_t v;

	memset(t, 0, sizeof(*t));
	if (util_parse_i64(col[0], 1, INT64_MAX, &t->id) == -1 ||
	    copy_text(t->ref, RUNNER_REF_MAX, col[1]) == -1 ||
	    copy_text(t->type, RUNNER_TYPE_MAX, col[2]) == -1 ||
	    util_parse_i64(col[3], 1, INT64_MAX, &t->user_id) == -1 ||
	    util_parse_i64(col[4], 1, INT32_MAX, &v) == -1)
		return -1;
	t->attempt = (int)v;
	if (util_parse_i64(col[5], 0, INT32_MAX, &v) == -1)
		return -1;
	t->nkeys = (int)v;
	if (util_parse_i64(col[7], 0, INT32_MAX, &v) == -1)
		return -1;
	t->lost = (int)v;
	/* Only ever written by the service after its checks; anything else is
	 * dropped rather than let the task stall. */
	if (strlen(col[6]) <= RUNNER_RID_MAX && !util_has_ctrl(col[6], strlen(col[6])))
		memcpy(t->rid, col[6], strlen(col[6]) + 1);
	snprintf(t->status, sizeof(t->status), "processing");
	return 0;
}

int
runner_backoff(int *cur)
{
	*cur = *cur == 0 ? RUNNER_BACKOFF_MIN_MS : *cur * 2;
	if (*cur > RUNNER_BACKOFF_MAX_MS)
		*cur = RUNNER_BACKOFF_MAX_MS;
	return *cur;
}
