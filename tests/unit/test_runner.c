/*
 * test_runner.c: the task runner's decisions (worker/taskrunner/handle.c):
 * work plans per task type and scale, progress, when a slot looks next
 * (lease renewal), the result object, the task_status_changed event with
 * exactly the contract's fields, reading a claimed row, backoff. The
 * lifecycle against PostgreSQL is tests/integration/test_runner.c.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "unit.h"
#include "../../worker/taskrunner/runner.h"

static void
test_plans(void)
{
	static const struct { const char *type; int64_t ms; } nominal[] = {
		{ "data_processing", 2000 }, { "file_upload", 1500 }, { "report_generation", 4000 },
		{ "data_export", 3000 }, { "image_processing", 2500 },
	};
	struct runner_plan p;

	for (size_t i = 0; i < sizeof(nominal) / sizeof(nominal[0]); i++) {
		CU_ASSERT_EQUAL(runner_plan_of(nominal[i].type, 100, &p), 0);
		CU_ASSERT_EQUAL(p.work_us, nominal[i].ms * 1000);
		CU_ASSERT_EQUAL(runner_plan_of(nominal[i].type, 10, &p), 0);
		CU_ASSERT_EQUAL(p.work_us, nominal[i].ms * 100);
		CU_ASSERT_EQUAL(runner_plan_of(nominal[i].type, 0, &p), 0);
		CU_ASSERT_EQUAL(p.work_us, 0);
	}
	CU_ASSERT_EQUAL(runner_plan_of("data_processing", 10000, &p), 0);
	CU_ASSERT_EQUAL(p.work_us, 200000000);
	CU_ASSERT_EQUAL(runner_plan_of("mining", 100, &p), -1);
	CU_ASSERT_EQUAL(runner_plan_of("", 100, &p), -1);
	CU_ASSERT_EQUAL(runner_plan_of("DATA_PROCESSING", 100, &p), -1);
}

static void
test_progress_and_looks(void)
{
	/* progress: 0 at the start, never 100 before the end */
	CU_ASSERT_EQUAL(runner_progress(0, 1000000), 0);
	CU_ASSERT_EQUAL(runner_progress(-5, 1000000), 0);
	CU_ASSERT_EQUAL(runner_progress(250000, 1000000), 25);
	CU_ASSERT_EQUAL(runner_progress(999999, 1000000), 99);
	CU_ASSERT_EQUAL(runner_progress(2000000, 1000000), 99);
	CU_ASSERT_EQUAL(runner_progress(10, 0), 0);
	/* four looks over the work when the lease is long */
	CU_ASSERT_EQUAL(runner_next_look(0, 4000000, 30000000, 0), 1000000);
	CU_ASSERT_EQUAL(runner_next_look(0, 4000000, 30000000, 3500000), 4000000);
	/* a lease shorter than the work: renewed every third of it */
	CU_ASSERT_EQUAL(runner_next_look(0, 60000000, 3000000, 0), 1000000);
	CU_ASSERT_EQUAL(runner_next_look(0, 60000000, 3000000, 59500000), 60000000);
	/* no work: at once; tiny work: at least a millisecond apart, never past the end */
	CU_ASSERT_EQUAL(runner_next_look(500, 0, 30000000, 500), 500);
	CU_ASSERT_EQUAL(runner_next_look(0, 2000, 30000000, 0), 1000);
	CU_ASSERT_EQUAL(runner_next_look(0, 2000, 30000000, 1500), 2000);
}

static void
task_fill(struct runner_task *t)
{
	memset(t, 0, sizeof(*t));
	t->id = 1234;
	t->user_id = 9007199254740991LL;
	t->attempt = 2;
	t->nkeys = 3;
	snprintf(t->ref, sizeof(t->ref), "TASK2026120200AB12CF");
	snprintf(t->type, sizeof(t->type), "data_export");
	snprintf(t->status, sizeof(t->status), "processing");
	snprintf(t->rid, sizeof(t->rid), "req-1");
}

static void
test_result(void)
{
	struct runner_task t;
	struct runner_plan p = { 1500000 };
	cJSON *o;
	char *s;

	task_fill(&t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s = runner_result(&t, &p));
	CU_ASSERT_PTR_NOT_NULL_FATAL(o = cJSON_Parse(s));
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(o, "taskType")), "data_export");
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "workMs")), 1500);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "parameterKeys")), 3);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "attempt")), 2);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(o), 4);
	cJSON_Delete(o);
	cJSON_free(s);
}

static void
test_event(void)
{
	static const char *const fields[] = { "eventId", "eventType", "occurredAt", "source",
		"requestId", "timestamp", "taskId", "taskReference", "userId", "previousStatus", "status",
		"progress" };
	struct runner_task t;
	char eid[37];
	cJSON *ev;
	size_t i;

	task_fill(&t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ev = runner_status_event(&t, "completed", 100, eid));
	CU_ASSERT_EQUAL(cJSON_GetArraySize(ev), (int)(sizeof(fields) / sizeof(fields[0])));
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItemCaseSensitive(ev, fields[i]));
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "eventId")), eid);
	CU_ASSERT_EQUAL(strlen(eid), 36);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "eventType")), "task_status_changed");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "source")), "taskprocessing");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "requestId")), "req-1");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "previousStatus")), "processing");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "status")), "completed");
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "progress")), 100);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "taskId")), 1234);
	/* the largest id JSON numbers carry exactly */
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "userId")), 9007199254740991.0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "taskReference")),
	    "TASK2026120200AB12CF");
	cJSON_Delete(ev);
}

static void
test_task_from(void)
{
	const char *ok[RUNNER_NCOLS] = { "1000", "TASK2026120200AB12CF", "file_upload", "42", "1", "0",
	    "rid-7", "2" };
	const char *col[RUNNER_NCOLS];
	struct runner_task t;
	char longrid[200];

	CU_ASSERT_EQUAL_FATAL(runner_task_from(&t, ok), 0);
	CU_ASSERT_EQUAL(t.id, 1000);
	CU_ASSERT_EQUAL(t.user_id, 42);
	CU_ASSERT_EQUAL(t.attempt, 1);
	CU_ASSERT_EQUAL(t.nkeys, 0);
	CU_ASSERT_EQUAL(t.lost, 2);
	CU_ASSERT_STRING_EQUAL(t.ref, "TASK2026120200AB12CF");
	CU_ASSERT_STRING_EQUAL(t.type, "file_upload");
	CU_ASSERT_STRING_EQUAL(t.status, "processing");
	CU_ASSERT_STRING_EQUAL(t.rid, "rid-7");
	/* a request id that is not one is dropped, not fatal */
	memcpy(col, ok, sizeof(col));
	memset(longrid, 'a', sizeof(longrid) - 1);
	longrid[sizeof(longrid) - 1] = '\0';
	col[6] = longrid;
	CU_ASSERT_EQUAL(runner_task_from(&t, col), 0);
	CU_ASSERT_STRING_EQUAL(t.rid, "");
	col[6] = "a\nb";
	CU_ASSERT_EQUAL(runner_task_from(&t, col), 0);
	CU_ASSERT_STRING_EQUAL(t.rid, "");
	/* columns the schema never allows */
	static const struct { int col; const char *v; } bad[] = {
		{ 0, "0" }, { 0, "abc" }, { 0, "" }, { 1, "" },
		{ 1, "TASK2026120200AB12CFTASK2026120200AB12CF" }, { 2, "" }, { 3, "-1" },
		{ 4, "0" }, { 4, "99999999999" }, { 5, "-1" }, { 7, "-1" }, { 7, "" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(col, ok, sizeof(col));
		col[bad[i].col] = bad[i].v;
		CU_ASSERT_EQUAL(runner_task_from(&t, col), -1);
	}
}

static void
test_backoff(void)
{
	int cur = 0, last = 0;

	CU_ASSERT_EQUAL(runner_backoff(&cur), RUNNER_BACKOFF_MIN_MS);
	CU_ASSERT_EQUAL(runner_backoff(&cur), 2 * RUNNER_BACKOFF_MIN_MS);
	for (int i = 0; i < 20; i++)
		last = runner_backoff(&cur);
	CU_ASSERT_EQUAL(last, RUNNER_BACKOFF_MAX_MS);
}

static CU_TestInfo tests[] = {
	{ "work plans per task type and scale", test_plans },
	{ "progress, and when a slot looks next", test_progress_and_looks },
	{ "the result of a completed task", test_result },
	{ "task_status_changed has the contract's fields", test_event },
	{ "reading a claimed row", test_task_from },
	{ "backoff", test_backoff },
	CU_TEST_INFO_NULL,
};
UNIT_SUITE(runner, tests)
