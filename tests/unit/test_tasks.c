/*
 * test_tasks.c: the task service's pure decisions (fcgi/tasks/logic.c):
 * vocabularies, the status state machine, task references, query strings
 * and paging arguments.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "unit.h"
#include "../../fcgi/tasks/tasks.h"

#define V(f, s) f(s, strlen(s))

static void
test_vocabulary(void)
{
	CU_ASSERT(V(tasks_valid_type, "data_processing"));
	CU_ASSERT(V(tasks_valid_type, "image_processing"));
	CU_ASSERT(!V(tasks_valid_type, "Data_processing"));
	CU_ASSERT(!V(tasks_valid_type, "data_processing "));
	CU_ASSERT(!V(tasks_valid_type, ""));
	CU_ASSERT(!tasks_valid_type("data_processingX", 16));
	CU_ASSERT(tasks_valid_type("data_processingX", 15));	/* only the first n bytes count */
	CU_ASSERT(V(tasks_valid_priority, "critical"));
	CU_ASSERT(!V(tasks_valid_priority, "urgent"));
	CU_ASSERT(V(tasks_valid_status, "cancelled"));
	CU_ASSERT(!V(tasks_valid_status, "canceled"));
}

static void
test_state_machine(void)
{
	static const char *const st[] = { "pending", "processing", "completed", "failed", "cancelled" };
	/* allowed[from][to] */
	static const int allowed[5][5] = {
		{ 0, 1, 0, 0, 1 },
		{ 0, 0, 1, 1, 1 },
		{ 0, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0 },
		{ 0, 0, 0, 0, 0 },
	};

	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 5; j++)
			CU_ASSERT_EQUAL(tasks_transition_ok(st[i], st[j]), allowed[i][j]);
	CU_ASSERT(tasks_cancellable("pending"));
	CU_ASSERT(tasks_cancellable("processing"));
	CU_ASSERT(!tasks_cancellable("completed"));
	CU_ASSERT(!tasks_cancellable("failed"));
	CU_ASSERT(!tasks_cancellable("cancelled"));
	CU_ASSERT(!tasks_cancellable("bogus"));
}

static void
test_reference(void)
{
	char ref[TASKS_REF_LEN + 1];

	/* 2026-11-25T10:11:12Z */
	tasks_reference(1795601472LL * 1000000, 0x00ab12cfu, ref);
	CU_ASSERT_STRING_EQUAL(ref, "TASK20261125" "00AB12CF");
	tasks_reference(0, 0xffffffffu, ref);
	CU_ASSERT_STRING_EQUAL(ref, "TASK19700101FFFFFFFF");
	CU_ASSERT_EQUAL(strlen(ref), TASKS_REF_LEN);
}

static const char *const qnames[] = { "status", "taskType", "userId", "limit", "offset" };

static void
test_query_parse(void)
{
	char v[5][TASKS_QVAL_MAX + 1], bad[TASKS_QVAL_MAX + 1];
	int have[5];

	CU_ASSERT_EQUAL(query_parse("", qnames, 5, v, have, bad), 0);
	CU_ASSERT(!have[0] && !have[4]);
	CU_ASSERT_EQUAL(query_parse("status=pending&limit=20&offset=0", qnames, 5, v, have, bad), 0);
	CU_ASSERT(have[0] && have[3] && have[4] && !have[1]);
	CU_ASSERT_STRING_EQUAL(v[0], "pending");
	CU_ASSERT_STRING_EQUAL(v[3], "20");
	CU_ASSERT_EQUAL(query_parse("taskType=data%5Fexport&&", qnames, 5, v, have, bad), 0);
	CU_ASSERT_STRING_EQUAL(v[1], "data_export");
	CU_ASSERT_EQUAL(query_parse("status=a+b", qnames, 5, v, have, bad), 0);
	CU_ASSERT_STRING_EQUAL(v[0], "a b");
	/* unknown, repeated, bad encodings, NUL and control characters */
	CU_ASSERT_EQUAL(query_parse("sort=id", qnames, 5, v, have, bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "sort");
	CU_ASSERT_EQUAL(query_parse("limit=1&limit=2", qnames, 5, v, have, bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "limit");
	CU_ASSERT_EQUAL(query_parse("limit=%zz", qnames, 5, v, have, bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "limit");
	CU_ASSERT_EQUAL(query_parse("limit=%2", qnames, 5, v, have, bad), -1);
	CU_ASSERT_EQUAL(query_parse("status=%00", qnames, 5, v, have, bad), -1);
	CU_ASSERT_EQUAL(query_parse("status=a%0Ab", qnames, 5, v, have, bad), -1);
	CU_ASSERT_EQUAL(query_parse("status=%ff", qnames, 5, v, have, bad), -1);
	CU_ASSERT_EQUAL(query_parse("limit", qnames, 5, v, have, bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "limit");
	CU_ASSERT_EQUAL(query_parse("%zz=1", qnames, 5, v, have, bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "");
	{
		char longq[200] = "status=";
		memset(longq + 7, 'a', TASKS_QVAL_MAX + 1);
		longq[7 + TASKS_QVAL_MAX + 1] = '\0';
		CU_ASSERT_EQUAL(query_parse(longq, qnames, 5, v, have, bad), -1);
		longq[7 + TASKS_QVAL_MAX] = '\0';
		CU_ASSERT_EQUAL(query_parse(longq, qnames, 5, v, have, bad), 0);
	}
}

static void
test_paging(void)
{
	int64_t lim, off;
	const char *bad = NULL;

	CU_ASSERT_EQUAL(tasks_paging(NULL, NULL, &lim, &off, &bad), 0);
	CU_ASSERT_EQUAL(lim, 50);
	CU_ASSERT_EQUAL(off, 0);
	CU_ASSERT_EQUAL(tasks_paging("1", "0", &lim, &off, &bad), 0);
	CU_ASSERT_EQUAL(tasks_paging("100", "999", &lim, &off, &bad), 0);
	CU_ASSERT_EQUAL(lim, 100);
	CU_ASSERT_EQUAL(off, 999);
	CU_ASSERT_EQUAL(tasks_paging("101", NULL, &lim, &off, &bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "limit");
	CU_ASSERT_EQUAL(tasks_paging("0", NULL, &lim, &off, &bad), -1);
	CU_ASSERT_EQUAL(tasks_paging("-1", NULL, &lim, &off, &bad), -1);
	CU_ASSERT_EQUAL(tasks_paging("1e2", NULL, &lim, &off, &bad), -1);
	CU_ASSERT_EQUAL(tasks_paging("", NULL, &lim, &off, &bad), -1);
	CU_ASSERT_EQUAL(tasks_paging(NULL, "-1", &lim, &off, &bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "offset");
	CU_ASSERT_EQUAL(tasks_paging(NULL, "99999999999999999999", &lim, &off, &bad), -1);
}

static void
test_pagination_json(void)
{
	cJSON *p = query_pagination_json(45, 20, 20);
	char *s = cJSON_PrintUnformatted(p);

	CU_ASSERT_STRING_EQUAL(s, "{\"total\":45,\"limit\":20,\"offset\":20,\"hasMore\":true}");
	cJSON_free(s);
	cJSON_Delete(p);
	p = query_pagination_json(45, 20, 40);
	CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(p, "hasMore")));
	cJSON_Delete(p);
	p = query_pagination_json(0, 50, 0);
	CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(p, "hasMore")));
	cJSON_Delete(p);
}

/* Writes a task from col and parses it back; NULL when the writer refused. */
static cJSON *
task_from(const char *const col[TASKS_NCOLS], int full)
{
	buf_t b = { 0 };
	cJSON *t = NULL;

	if (tasks_task_write(&b, col, full) == 0) {
		t = cJSON_ParseWithLength(b.p, b.len);
		CU_ASSERT_PTR_NOT_NULL(t);	/* whatever it writes is JSON */
	}
	buf_free(&b);
	return t;
}

static void
test_task_write(void)
{
	const char *col[TASKS_NCOLS] = { "42", "TASK20261125ABCDEF01", "data_export", "7",
	    "completed", "high", "100", "{\"a\": [1, \"x\\u0000\"]}", "{\"rows\": 3}",
	    "line\n\"quoted\" \\ </script>", "1.5", "2026-11-25 10:00:00",
	    "2026-11-25 10:00:01.5", NULL, "2026-11-25 10:00:02.123456" };
	const char *keys[] = { "taskId", "taskReference", "taskType", "userId", "status",
	    "priority", "progress", "parameters", "result", "errorMessage", "processingTime",
	    "createdAt", "startedAt", "completedAt", "updatedAt" };
	cJSON *t, *it;
	size_t i;

	t = task_from(col, 1);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(t), 15);
	for (i = 0, it = t ? t->child : NULL; i < 15 && it != NULL; i++, it = it->next)
		CU_ASSERT_STRING_EQUAL(it->string, keys[i]);	/* the contract's order */
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(t, "taskId")->valuedouble, 42);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(t, "userId")->valuedouble, 7);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(t, "progress")->valuedouble, 100);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(t, "errorMessage")->valuestring,
	    "line\n\"quoted\" \\ </script>");
	CU_ASSERT(cJSON_IsObject(cJSON_GetObjectItem(t, "parameters")));
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "result"), "rows")->valuedouble, 3);
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(t, "processingTime")->valuedouble, 1.5);
	CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(t, "completedAt")));
	/* PostgreSQL's timestamps become RFC 3339 with microseconds */
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(t, "createdAt")->valuestring, "2026-11-25T10:00:00.000000Z");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(t, "startedAt")->valuestring, "2026-11-25T10:00:01.500000Z");
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(t, "updatedAt")->valuestring, "2026-11-25T10:00:02.123456Z");
	cJSON_Delete(t);

	/* The create reply: no result, timings or updatedAt. */
	t = task_from(col, 0);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(t), 9);
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(t, "result"));
	CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(t, "createdAt"));
	cJSON_Delete(t);

	/* NULLs where the schema allows them; NaN and infinities (which a
	 * double precision column can hold) are null, not invalid JSON. */
	col[8] = col[9] = NULL;
	for (i = 0; i < 4; i++) {
		static const char *const odd[] = { "NaN", "Infinity", "-Infinity", NULL };

		col[10] = odd[i];
		t = task_from(col, 1);
		CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(t, "processingTime")));
		CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(t, "result")));
		CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(t, "errorMessage")));
		cJSON_Delete(t);
	}

	/* Columns the schema never leaves NULL or out of range: refused. */
	{
		const char *bad[TASKS_NCOLS];
		static const struct { int i; const char *v; } cases[] = {
			{ 0, NULL }, { 0, "0" }, { 0, "x" }, { 1, NULL }, { 3, "-1" },
			{ 6, "101" }, { 6, NULL }, { 7, NULL }, { 4, NULL },
			{ 11, NULL }, { 11, "2026-11-25T10:00:00Z" }, { 12, "infinity" },
			{ 14, "12026-11-25 10:00:00" },
		};
		buf_t b = { 0 };

		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			memcpy(bad, col, sizeof(bad));
			bad[cases[i].i] = cases[i].v;
			CU_ASSERT_EQUAL(tasks_task_write(&b, bad, 1), -1);
			buf_reset(&b);
		}
		buf_free(&b);
	}
}

/* PostgreSQL's ISO text of a timestamp without time zone, as RFC 3339. */
static void
test_pg_timestamps(void)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "2026-11-25 10:11:12", "2026-11-25T10:11:12.000000Z" },
		{ "2026-11-25 10:11:12.1", "2026-11-25T10:11:12.100000Z" },
		{ "2026-11-25 10:11:12.12345", "2026-11-25T10:11:12.123450Z" },
		{ "2026-11-25 10:11:12.123456", "2026-11-25T10:11:12.123456Z" },
		{ "0001-01-01 00:00:00", "0001-01-01T00:00:00.000000Z" },
	};
	static const char *const bad[] = {
		"", "2026-11-25", "2026-11-25 10:11", "2026-11-25T10:11:12", "2026-11-25 10:11:12.",
		"2026-11-25 10:11:12.1234567", "2026-11-25 10:11:12+00", "2026-11-25 10:11:12.5+00",
		"infinity", "-infinity", "2026-11-25 10:11:12 BC", "12026-11-25 10:11:12",
		"2026-1a-25 10:11:12", "2026-11-25 10:11:12.12x",
	};
	char out[DB_TS_LEN];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CU_ASSERT_EQUAL(db_ts_rfc3339(ok[i].in, out), 0);
		CU_ASSERT_STRING_EQUAL(out, ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (db_ts_rfc3339(bad[i], out) != -1) {
			fprintf(stderr, "accepted %s\n", bad[i]);
			CU_FAIL("a timestamp of the wrong shape was accepted");
		}
}

static void
test_pagination_write(void)
{
	buf_t b = { 0 };

	/* Integers beyond a double's 53 bits stay exact. */
	CU_ASSERT_EQUAL(query_pagination_write(&b, 9007199254740993LL, 100, 0), 0);
	CU_ASSERT_EQUAL(b.len, strlen("{\"total\":9007199254740993,\"limit\":100,\"offset\":0,"
	    "\"hasMore\":true}"));
	CU_ASSERT_NSTRING_EQUAL(b.p, "{\"total\":9007199254740993,\"limit\":100,\"offset\":0,"
	    "\"hasMore\":true}", b.len);
	buf_free(&b);
}

/* The pending cap: reached at max waiting, 0 turns it off; the task
 * settings' rate has the syntax of every ESM_RATE_*. */
static void
test_pending_cap(void)
{
	struct rate rt;

	CU_ASSERT_EQUAL(tasks_pending_full(0, 1000), 0);
	CU_ASSERT_EQUAL(tasks_pending_full(999, 1000), 0);
	CU_ASSERT_EQUAL(tasks_pending_full(1000, 1000), 1);
	CU_ASSERT_EQUAL(tasks_pending_full(5000, 1000), 1);
	CU_ASSERT_EQUAL(tasks_pending_full(1, 1), 1);
	CU_ASSERT_EQUAL(tasks_pending_full(0, 1), 0);
	/* 0: no cap, however many wait */
	CU_ASSERT_EQUAL(tasks_pending_full(0, 0), 0);
	CU_ASSERT_EQUAL(tasks_pending_full(INT64_MAX, 0), 0);
	CU_ASSERT_EQUAL(ratelimit_parse("60/60", &rt), 0);
	CU_ASSERT_EQUAL(rt.limit, 60);
	CU_ASSERT_EQUAL(rt.window_s, 60);
	CU_ASSERT_EQUAL(ratelimit_parse("off", &rt), 0);
	CU_ASSERT_EQUAL(rt.limit, 0);
}

static CU_TestInfo tests[] = {
	{ "vocabulary", test_vocabulary },
	{ "state machine", test_state_machine },
	{ "task reference", test_reference },
	{ "query string", test_query_parse },
	{ "paging arguments", test_paging },
	{ "pending cap", test_pending_cap },
	{ "pagination object", test_pagination_json },
	{ "pagination written directly", test_pagination_write },
	{ "task object written from a row", test_task_write },
	{ "PostgreSQL timestamps as RFC 3339", test_pg_timestamps },
	CU_TEST_INFO_NULL,
};
UNIT_SUITE(tasks, tests)
