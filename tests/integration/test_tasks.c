/*
 * test_tasks.c: the task service against the running stack: create (defaults,
 * every field, admin on behalf of another user), get, list (filters, paging
 * edges, bad paging), cancel (every state rule, concurrent cancels), another
 * user's task is 404, the bad input table for these endpoints, the task
 * events in the outbox, and the limits on creating tasks (per user rate and
 * pending cap, as the stack's environment sets them: tests/run.sh).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

#define JSON "application/json"

static int64_t
jnum(const cJSON *o, const char *name)
{
	const cJSON *v = jget(o, name);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* Creates a task with body for u; returns its id, or -1. */
static int64_t
create(const struct flow_user *u, const char *body)
{
	struct itest_resp r;
	int64_t id = -1;

	itest_json("POST", "gateway", TASKS, body, u->access, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	if (r.status == 201)
		id = jnum(jget(r.json, "task"), "taskId");
	else
		fprintf(stderr, "  create %s: %ld %.200s\n", body, r.status, r.body);
	itest_resp_free(&r);
	return id;
}

static int
is_reference(const char *s)
{
	if (strlen(s) != 20 || strncmp(s, "TASK", 4) != 0)
		return 0;
	for (int i = 4; i < 12; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	for (int i = 12; i < 20; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

static void
test_create_defaults(void)
{
	struct flow_user u;
	struct itest_resp r;
	const cJSON *t;
	char loc[128], want[128], sql[512];

	CU_ASSERT_FATAL(flow_user(&u, "tcr", 0) == 0);
	itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 201);
	t = jget(r.json, "task");
	CU_ASSERT(jnum(t, "taskId") >= 1000);
	CU_ASSERT(is_reference(jstr(t, "taskReference")));
	CU_ASSERT_STRING_EQUAL(jstr(t, "taskType"), "data_processing");
	CU_ASSERT_STRING_EQUAL(jstr(t, "priority"), "medium");
	CU_ASSERT_STRING_EQUAL(jstr(t, "status"), "pending");
	CU_ASSERT_EQUAL(jnum(t, "progress"), 0);
	CU_ASSERT_EQUAL(jnum(t, "userId"), u.id);
	CU_ASSERT(cJSON_IsObject(jget(t, "parameters")) && jget(t, "parameters")->child == NULL);
	CU_ASSERT(strlen(jstr(t, "createdAt")) == 27 && jstr(t, "createdAt")[26] == 'Z');
	snprintf(want, sizeof(want), TASKS "/%lld", (long long)jnum(t, "taskId"));
	CU_ASSERT(itest_header(&r, "Location", loc, sizeof(loc)) && strcmp(loc, want) == 0);
	/* The event is in the outbox, keyed by the user, with the contract's fields. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE topic = 'task-events' AND "
	    "msg_key = '%lld' AND payload::jsonb @> '{\"eventType\":\"task_created\",\"taskId\":%lld,"
	    "\"taskReference\":\"%s\",\"taskType\":\"data_processing\",\"userId\":%lld,"
	    "\"priority\":\"medium\",\"source\":\"taskprocessing\"}' AND payload::jsonb ?& "
	    "array['eventId','occurredAt','timestamp','requestId']",
	    (long long)u.id, (long long)jnum(t, "taskId"), jstr(t, "taskReference"), (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	itest_resp_free(&r);
}

static void
test_create_fields(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	const cJSON *t;
	char body[256], *big;
	size_t n = 17000;

	CU_ASSERT_FATAL(flow_user(&u, "tcf", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "tcg", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "tca", 1) == 0);
	/* critical is an administrator's call: 403 for a user, nothing made. */
	itest_json("POST", "gateway", TASKS, "{\"taskType\":\"report_generation\",\"priority\":\"critical\"}",
	    u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 403, "FORBIDDEN"));
	itest_resp_free(&r);
	itest_json("POST", "gateway", TASKS, "{\"taskType\":\"report_generation\",\"priority\":\"high\","
	    "\"parameters\":{\"format\":\"pdf\",\"pages\":[1,2,3],\"nested\":{\"a\":null}}}", u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 201);
	t = jget(r.json, "task");
	CU_ASSERT_STRING_EQUAL(jstr(t, "taskType"), "report_generation");
	CU_ASSERT_STRING_EQUAL(jstr(t, "priority"), "high");
	CU_ASSERT_STRING_EQUAL(jstr(jget(t, "parameters"), "format"), "pdf");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(jget(t, "parameters"), "pages")), 3);
	itest_resp_free(&r);
	itest_json("POST", "gateway", TASKS, "{\"priority\":\"critical\"}", admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	itest_resp_free(&r);
	/* Own id explicitly: fine. Another user's: admin only. */
	snprintf(body, sizeof(body), "{\"userId\":%lld}", (long long)u.id);
	CU_ASSERT(create(&u, body) > 0);
	snprintf(body, sizeof(body), "{\"userId\":%lld}", (long long)v.id);
	itest_json("POST", "gateway", TASKS, body, u.access, &r);
	itest_is_problem(&r, 403, "FORBIDDEN");
	itest_resp_free(&r);
	itest_json("POST", "gateway", TASKS, body, admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "task"), "userId"), v.id);
	itest_resp_free(&r);
	/* parameters over 16 KiB (the body is under 64 KiB) */
	big = malloc(n + 64);
	strcpy(big, "{\"parameters\":{\"x\":\"");
	memset(big + strlen(big), 'a', n);
	strcpy(big + 20 + n, "\"}}");
	itest_json("POST", "gateway", TASKS, big, u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
	CU_ASSERT(strstr(r.body, "parameters") != NULL);
	itest_resp_free(&r);
	free(big);
}

static void
test_get_and_visibility(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	char path[128];
	const cJSON *t;
	int64_t id;
	static const char *const full[] = { "taskId", "taskReference", "taskType", "userId", "status",
		"priority", "progress", "parameters", "result", "errorMessage", "processingTime",
		"createdAt", "startedAt", "completedAt", "updatedAt" };

	CU_ASSERT_FATAL(flow_user(&u, "tgu", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "tgv", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "tga", 1) == 0);
	CU_ASSERT_FATAL((id = create(&u, "{\"taskType\":\"data_export\"}")) > 0);
	snprintf(path, sizeof(path), TASKS "/%lld", (long long)id);
	itest_json("GET", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	t = jget(r.json, "task");
	for (size_t i = 0; i < sizeof(full) / sizeof(full[0]); i++)
		if (jget(t, full[i]) == NULL) {
			fprintf(stderr, "  GET task lacks %s\n", full[i]);
			CU_FAIL("field missing");
		}
	CU_ASSERT_STRING_EQUAL(jstr(t, "taskType"), "data_export");
	itest_resp_free(&r);
	/* Another user: 404, exactly like a missing task. */
	itest_json("GET", "gateway", path, NULL, v.access, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", TASKS "/999999999999", NULL, u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
	/* The compatibility port serves the same. */
	itest_json("GET", "tasks", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	itest_json("GET", "tasks", "/health", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "service"), "taskprocessing");
	itest_resp_free(&r);
}

/* GET list with query q as u: the response (caller frees) or status. */
static long
list(const struct flow_user *u, const char *q, struct itest_resp *r)
{
	char path[256];

	snprintf(path, sizeof(path), TASKS "%s%s", q[0] ? "?" : "", q);
	return itest_json("GET", "gateway", path, NULL, u->access, r);
}

static void
test_list_paging_filters(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	const cJSON *pg, *arr, *t;
	int64_t ids[5], prev;
	char q[128];
	int i;

	CU_ASSERT_FATAL(flow_user(&u, "tlu", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "tlv", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "tla", 1) == 0);
	for (i = 0; i < 5; i++)
		CU_ASSERT_FATAL((ids[i] = create(&u, i < 2 ? "{\"taskType\":\"file_upload\"}" : "{}")) > 0);
	CU_ASSERT(create(&v, "{}") > 0);
	/* default page: own tasks only, newest first */
	CU_ASSERT_EQUAL_FATAL(list(&u, "", &r), 200);
	arr = jget(r.json, "tasks");
	pg = jget(r.json, "pagination");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(arr), 5);
	CU_ASSERT_EQUAL(jnum(pg, "total"), 5);
	CU_ASSERT_EQUAL(jnum(pg, "limit"), 50);
	CU_ASSERT_EQUAL(jnum(pg, "offset"), 0);
	CU_ASSERT(cJSON_IsFalse(jget(pg, "hasMore")));
	prev = INT64_MAX;
	cJSON_ArrayForEach(t, arr) {
		CU_ASSERT_EQUAL(jnum(t, "userId"), u.id);
		CU_ASSERT(jnum(t, "taskId") < prev);
		prev = jnum(t, "taskId");
	}
	CU_ASSERT_EQUAL(jnum(cJSON_GetArrayItem(arr, 0), "taskId"), ids[4]);
	itest_resp_free(&r);
	/* paging edges */
	CU_ASSERT_EQUAL(list(&u, "limit=2&offset=0", &r), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "tasks")), 2);
	CU_ASSERT(cJSON_IsTrue(jget(jget(r.json, "pagination"), "hasMore")));
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&u, "limit=2&offset=4", &r), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "tasks")), 1);
	CU_ASSERT_EQUAL(jnum(cJSON_GetArrayItem(jget(r.json, "tasks"), 0), "taskId"), ids[0]);
	CU_ASSERT(cJSON_IsFalse(jget(jget(r.json, "pagination"), "hasMore")));
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&u, "offset=5", &r), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "tasks")), 0);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "pagination"), "total"), 5);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&u, "limit=1", &r), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "tasks")), 1);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&u, "limit=100", &r), 200);
	itest_resp_free(&r);
	{
		static const char *const badq[] = { "limit=101", "limit=0", "limit=-1", "limit=abc",
			"limit=", "offset=-1", "offset=1.5", "status=done", "taskType=sleeping",
			"userId=0", "userId=abc", "sort=id", "limit=1&limit=2", "status=%00", "limit=%zz" };
		for (i = 0; i < (int)(sizeof(badq) / sizeof(badq[0])); i++) {
			list(&u, badq[i], &r);
			if (!itest_is_problem(&r, 400, "BAD_REQUEST"))
				fprintf(stderr, "  query %s: %ld\n", badq[i], r.status);
			itest_resp_free(&r);
		}
	}
	/* filters */
	CU_ASSERT_EQUAL(list(&u, "taskType=file_upload", &r), 200);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "pagination"), "total"), 2);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&u, "status=cancelled", &r), 200);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "pagination"), "total"), 0);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&u, "status=pending&taskType=data_processing&limit=10", &r), 200);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "pagination"), "total"), 3);
	itest_resp_free(&r);
	/* userId: own is fine, another's needs admin */
	snprintf(q, sizeof(q), "userId=%lld", (long long)u.id);
	CU_ASSERT_EQUAL(list(&u, q, &r), 200);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "pagination"), "total"), 5);
	itest_resp_free(&r);
	snprintf(q, sizeof(q), "userId=%lld", (long long)v.id);
	list(&u, q, &r);
	CU_ASSERT(itest_is_problem(&r, 403, "FORBIDDEN"));
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(list(&admin, q, &r), 200);
	CU_ASSERT_EQUAL(jnum(jget(r.json, "pagination"), "total"), 1);
	itest_resp_free(&r);
	/* an admin without a filter sees everyone's */
	CU_ASSERT_EQUAL(list(&admin, "limit=100", &r), 200);
	CU_ASSERT(jnum(jget(r.json, "pagination"), "total") >= 6);
	itest_resp_free(&r);
}

/* pagination.total comes from counters kept by triggers: after the
 * creates and cancels above they still agree with the rows, group by group
 * (one statement, so one snapshot even with other suites writing). */
static void
test_counts_match_rows(void)
{
	CU_ASSERT_EQUAL(itest_sql_int("tasks",
	    "SELECT count(*) FROM (SELECT user_id, status, task_type, count(*) AS n FROM tasks "
	    "GROUP BY 1, 2, 3) t FULL JOIN (SELECT user_id, status, task_type, sum(n) AS n "
	    "FROM task_counts GROUP BY 1, 2, 3 HAVING sum(n) <> 0) c "
	    "USING (user_id, status, task_type) WHERE t.n IS DISTINCT FROM c.n"), 0);
}

static long
cancel(const struct flow_user *u, int64_t id, struct itest_resp *r)
{
	char path[128];

	snprintf(path, sizeof(path), TASKS "/%lld/cancel", (long long)id);
	return itest_http("PUT", "gateway", path, NULL, NULL, 0, u->access, NULL, r);
}

static void
set_status(int64_t id, const char *status)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "UPDATE tasks SET status = '%s' WHERE id = %lld", status, (long long)id);
	CU_ASSERT_EQUAL(itest_sql_exec("tasks", sql), 0);
}

static void
test_cancel_rules(void)
{
	static const struct { const char *from; long status; } rules[] = {
		{ "pending", 200 }, { "processing", 200 }, { "completed", 409 },
		{ "failed", 409 }, { "cancelled", 409 },
	};
	struct flow_user u, v;
	struct itest_resp r;
	char sql[512];
	int64_t id;
	size_t i;

	CU_ASSERT_FATAL(flow_user(&u, "tcu", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "tcv", 0) == 0);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		CU_ASSERT_FATAL((id = create(&u, "{\"taskType\":\"image_processing\"}")) > 0);
		if (strcmp(rules[i].from, "pending") != 0)
			set_status(id, rules[i].from);
		/* another user cannot even see it */
		cancel(&v, id, &r);
		CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
		itest_resp_free(&r);
		cancel(&u, id, &r);
		if (rules[i].status == 200) {
			CU_ASSERT_EQUAL(r.status, 200);
			CU_ASSERT_EQUAL(jnum(jget(r.json, "task"), "taskId"), id);
			CU_ASSERT_STRING_EQUAL(jstr(jget(r.json, "task"), "status"), "cancelled");
			CU_ASSERT_STRING_EQUAL(jstr(jget(r.json, "task"), "message"), "Task cancelled successfully");
			CU_ASSERT(is_reference(jstr(jget(r.json, "task"), "taskReference")));
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
			    "'{\"eventType\":\"task_cancelled\",\"taskId\":%lld,\"userId\":%lld,"
			    "\"taskType\":\"image_processing\",\"previousStatus\":\"%s\"}'",
			    (long long)id, (long long)u.id, rules[i].from);
			CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE id = %lld AND "
			    "status = 'cancelled' AND completed_at IS NOT NULL", (long long)id);
			CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
		} else {
			if (!itest_is_problem(&r, 409, "CONFLICT"))
				fprintf(stderr, "  cancel from %s: %ld\n", rules[i].from, r.status);
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
			    "'{\"eventType\":\"task_cancelled\",\"taskId\":%lld}'", (long long)id);
			CU_ASSERT_EQUAL(flow_count("tasks", sql), 0);
		}
		itest_resp_free(&r);
	}
	cancel(&u, 999999999999, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
}

struct canceller {
	const struct flow_user *u;
	int64_t id;
	long status;
};

static void *
cancel_thread(void *arg)
{
	struct canceller *c = arg;
	struct itest_resp r;

	c->status = cancel(c->u, c->id, &r);
	itest_resp_free(&r);
	return NULL;
}

static void
test_concurrent_cancel(void)
{
	enum { N = 16, ROUNDS = 5 };
	struct canceller cs[N];
	pthread_t th[N];
	struct flow_user u;
	char sql[256];
	int round, i, ok, conflict;

	CU_ASSERT_FATAL(flow_user(&u, "tcc", 0) == 0);
	for (round = 0; round < ROUNDS; round++) {
		int64_t id = create(&u, "{}");
		CU_ASSERT_FATAL(id > 0);
		for (i = 0; i < N; i++) {
			cs[i] = (struct canceller){ &u, id, 0 };
			CU_ASSERT_FATAL(pthread_create(&th[i], NULL, cancel_thread, &cs[i]) == 0);
		}
		for (i = 0, ok = 0, conflict = 0; i < N; i++) {
			pthread_join(th[i], NULL);
			ok += cs[i].status == 200;
			conflict += cs[i].status == 409;
		}
		CU_ASSERT_EQUAL(ok, 1);
		CU_ASSERT_EQUAL(conflict, N - 1);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
		    "'{\"eventType\":\"task_cancelled\",\"taskId\":%lld}'", (long long)id);
		CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	}
}

struct bad_case {
	const char *what, *method, *path, *ctype, *body;
	int bearer;
	long status;
	const char *code, *param;
};

static const struct bad_case cases[] = {
	{ "malformed JSON", "POST", TASKS, JSON, "{\"taskType\":", 1, 400, "BAD_REQUEST", NULL },
	{ "array body", "POST", TASKS, JSON, "[]", 1, 400, "BAD_REQUEST", NULL },
	{ "empty body", "POST", TASKS, JSON, "", 1, 400, "BAD_REQUEST", NULL },
	{ "unknown field", "POST", TASKS, JSON, "{\"status\":\"completed\"}", 1, 400, "BAD_REQUEST", "status" },
	{ "progress smuggling", "POST", TASKS, JSON, "{\"progress\":100}", 1, 400, "BAD_REQUEST", "progress" },
	{ "bad task type", "POST", TASKS, JSON, "{\"taskType\":\"mining\"}", 1, 400, "BAD_REQUEST", "taskType" },
	{ "task type number", "POST", TASKS, JSON, "{\"taskType\":1}", 1, 400, "BAD_REQUEST", "taskType" },
	{ "bad priority", "POST", TASKS, JSON, "{\"priority\":\"urgent\"}", 1, 400, "BAD_REQUEST", "priority" },
	{ "priority case", "POST", TASKS, JSON, "{\"priority\":\"HIGH\"}", 1, 400, "BAD_REQUEST", "priority" },
	{ "parameters array", "POST", TASKS, JSON, "{\"parameters\":[1]}", 1, 400, "BAD_REQUEST", "parameters" },
	{ "parameters string", "POST", TASKS, JSON, "{\"parameters\":\"{}\"}", 1, 400, "BAD_REQUEST", "parameters" },
	{ "userId string", "POST", TASKS, JSON, "{\"userId\":\"1000\"}", 1, 400, "BAD_REQUEST", "userId" },
	{ "userId zero", "POST", TASKS, JSON, "{\"userId\":0}", 1, 400, "BAD_REQUEST", "userId" },
	{ "userId fraction", "POST", TASKS, JSON, "{\"userId\":1000.5}", 1, 400, "BAD_REQUEST", "userId" },
	{ "userId huge", "POST", TASKS, JSON, "{\"userId\":1e300}", 1, 400, "BAD_REQUEST", "userId" },
	{ "escaped NUL", "POST", TASKS, JSON, "{\"taskType\":\"data\\u0000export\"}", 1, 400, "BAD_REQUEST", NULL },
	{ "invalid UTF-8", "POST", TASKS, JSON, "{\"parameters\":{\"a\":\"\xff\"}}", 1, 400, "BAD_REQUEST", NULL },
	{ "duplicate keys", "POST", TASKS, JSON, "{\"priority\":\"low\",\"priority\":\"high\"}", 1, 400, "BAD_REQUEST", NULL },
	{ "text/plain", "POST", TASKS, "text/plain", "{}", 1, 415, "UNSUPPORTED_MEDIA_TYPE", NULL },
	{ "no content type", "POST", TASKS, NULL, "{}", 1, 415, "UNSUPPORTED_MEDIA_TYPE", NULL },
	{ "no token", "POST", TASKS, JSON, "{}", 0, 401, "UNAUTHORIZED", NULL },
	{ "list without token", "GET", TASKS, NULL, NULL, 0, 401, "UNAUTHORIZED", NULL },
	{ "SQL in filter", "GET", TASKS "?status=pending'%20OR%201=1--", NULL, NULL, 1, 400, "BAD_REQUEST", "status" },
	{ "id not a number", "GET", TASKS "/abc", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "id zero", "GET", TASKS "/0", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "id overflow", "GET", TASKS "/99999999999999999999999", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "id negative", "PUT", TASKS "/-5/cancel", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "traversal", "GET", TASKS "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "DELETE a task", "DELETE", TASKS "/1000", NULL, NULL, 1, 405, "METHOD_NOT_ALLOWED", NULL },
	{ "GET cancel", "GET", TASKS "/1000/cancel", NULL, NULL, 1, 405, "METHOD_NOT_ALLOWED", NULL },
	{ "PUT collection", "PUT", TASKS, JSON, "{}", 1, 405, "METHOD_NOT_ALLOWED", NULL },
};

static void
test_bad_input_table(void)
{
	struct flow_user u;
	struct itest_resp r;
	int64_t tasks0, outbox0;
	size_t i;

	CU_ASSERT_FATAL(flow_user(&u, "tbad", 0) == 0);
	tasks0 = flow_count("tasks", "SELECT count(*) FROM tasks");
	outbox0 = flow_count("tasks", "SELECT count(*) FROM outbox");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];

		itest_http(c->method, "gateway", c->path, c->ctype, c->body, c->body ? strlen(c->body) : 0,
		    c->bearer ? u.access : NULL, NULL, &r);
		if (!itest_is_problem(&r, c->status, c->code))
			fprintf(stderr, "  case: %s (%ld %.200s)\n", c->what, r.status, r.body);
		if (c->param != NULL && (r.body == NULL || strstr(r.body, c->param) == NULL)) {
			fprintf(stderr, "  case %s: params lack %s: %.200s\n", c->what, c->param, r.body);
			CU_FAIL("offending field not named");
		}
		CU_ASSERT_PTR_NULL(strstr(r.body, "SQL"));
		CU_ASSERT_PTR_NULL(strstr(r.body, "postgres"));
		CU_ASSERT_PTR_NULL(strstr(r.body, ".c:"));
		itest_resp_free(&r);
	}
	CU_ASSERT_EQUAL(flow_count("tasks", "SELECT count(*) FROM tasks"), tasks0);
	CU_ASSERT_EQUAL(flow_count("tasks", "SELECT count(*) FROM outbox"), outbox0);
}

/* Setting name of the stack's environment as a positive integer up to max
 * (the part before a '/' for a rate), or -1 with a failure: a limit that is
 * off or absent cannot be tested. */
static long
limit_setting(const char *name, long max, long *window)
{
	const char *v = getenv(name);
	char *end = NULL;
	long n = v ? strtol(v, &end, 10) : -1, w = 0;

	if (end != NULL && window != NULL && *end == '/') {
		w = strtol(end + 1, &end, 10);
		*window = w;
	}
	if (v == NULL || end == v || *end != '\0' || n < 1 || n > max || (window && w < 1)) {
		fprintf(stderr, "  %s=%s: the test needs it on and at most %ld (tests/run.sh sets it)\n",
		    name, v ? v : "(unset)", max);
		CU_FAIL("task limit setting");
		return -1;
	}
	return n;
}

static int64_t
count_tasks_of(const struct flow_user *u, const char *status)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld%s%s%s",
	    (long long)u->id, status ? " AND status = '" : "", status ? status : "", status ? "'" : "");
	return flow_count("tasks", sql);
}

/* A 429 in the contract's shape with a Retry-After of 1..max seconds. */
static void
assert_429(const struct itest_resp *r, long max)
{
	char ra[16];
	long s;

	CU_ASSERT(itest_is_problem(r, 429, "TOO_MANY_REQUESTS"));
	CU_ASSERT_FATAL(itest_header(r, "Retry-After", ra, sizeof(ra)) != NULL);
	s = strtol(ra, NULL, 10);
	if (s < 1 || s > max)
		fprintf(stderr, "  Retry-After %s, want 1..%ld\n", ra, max);
	CU_ASSERT(s >= 1 && s <= max);
}

/* ESM_RATE_TASK_CREATE: N creates per window and user, the next is 429
 * with Retry-After and creates nothing; other users, and an administrator
 * creating for this one, have buckets of their own. */
static void
test_create_rate_limit(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	char body[64];
	long n, window = 0, i, ok = 0;

	CU_ASSERT_FATAL((n = limit_setting("ESM_RATE_TASK_CREATE", 1000, &window)) > 0);
	CU_ASSERT_FATAL(flow_user(&u, "tru", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "trv", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "tra", 1) == 0);
	for (i = 0; i < n; i++) {
		itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
		ok += r.status == 201;
		if (r.status != 201)
			fprintf(stderr, "  create %ld of %ld: %ld %.200s\n", i + 1, n, r.status, r.body);
		itest_resp_free(&r);
	}
	CU_ASSERT_EQUAL_FATAL(ok, n);
	itest_json("POST", "gateway", TASKS, "{\"priority\":\"high\"}", u.access, &r);
	assert_429(&r, window);
	CU_ASSERT(strstr(r.body, "too many tasks") != NULL);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(count_tasks_of(&u, NULL), n);
	/* another user meanwhile */
	CU_ASSERT(create(&v, "{}") > 0);
	/* an administrator's creates count in the administrator's bucket */
	snprintf(body, sizeof(body), "{\"userId\":%lld}", (long long)u.id);
	CU_ASSERT(create(&admin, body) > 0);
	CU_ASSERT_EQUAL(count_tasks_of(&u, NULL), n + 1);
	/* still refused within the window */
	itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
	assert_429(&r, window);
	itest_resp_free(&r);
}

/* ESM_TASKS_PENDING_MAX: with that many of an owner's tasks pending, a
 * create for the owner is 429 with Retry-After, whoever asks; tasks that
 * are no longer pending do not count. */
static void
test_pending_cap(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	char sql[768], body[64];
	long cap;
	int64_t id;

	CU_ASSERT_FATAL((cap = limit_setting("ESM_TASKS_PENDING_MAX", 10000, NULL)) > 0);
	CU_ASSERT_FATAL(flow_user(&u, "tpu", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "tpv", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "tpa", 1) == 0);
	/* all but one of the cap waiting already, put in directly: the rate
	 * limit stays out of the way */
	snprintf(sql, sizeof(sql), "INSERT INTO tasks (reference, task_type, user_id, priority) "
	    "SELECT 'TASK' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD') || "
	    "upper(substr(md5(random()::text || g::text), 1, 8)), 'data_processing', %lld, 'low' "
	    "FROM generate_series(1, %ld) g", (long long)u.id, cap - 1);
	CU_ASSERT_FATAL(itest_sql_exec("tasks", sql) == 0);
	CU_ASSERT_FATAL((id = create(&u, "{}")) > 0);
	CU_ASSERT_EQUAL(count_tasks_of(&u, "pending"), cap);
	itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
	assert_429(&r, 3600);
	CU_ASSERT(strstr(r.body, "pending") != NULL);
	itest_resp_free(&r);
	/* the cap is the owner's: an administrator is refused for u too */
	snprintf(body, sizeof(body), "{\"userId\":%lld}", (long long)u.id);
	itest_json("POST", "gateway", TASKS, body, admin.access, &r);
	assert_429(&r, 3600);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(count_tasks_of(&u, NULL), cap);
	/* others are not held up */
	CU_ASSERT(create(&v, "{}") > 0);
	/* a cancelled task makes room for one */
	snprintf(body, sizeof(body), TASKS "/%lld/cancel", (long long)id);
	itest_http("PUT", "gateway", body, NULL, NULL, 0, u.access, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	CU_ASSERT(create(&u, "{}") > 0);
	itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
	assert_429(&r, 3600);
	itest_resp_free(&r);
	/* finished tasks are not pending */
	snprintf(sql, sizeof(sql), "UPDATE tasks SET status = 'completed', completed_at = now() "
	    "WHERE id IN (SELECT id FROM tasks WHERE user_id = %lld AND status = 'pending' LIMIT 3)",
	    (long long)u.id);
	CU_ASSERT_FATAL(itest_sql_exec("tasks", sql) == 0);
	CU_ASSERT(create(&u, "{}") > 0);
	CU_ASSERT_EQUAL(count_tasks_of(&u, "pending"), cap - 2);
}

static CU_TestInfo tests[] = {
	{ "create with defaults, event in the outbox", test_create_defaults },
	{ "create with every field, admin for another user", test_create_fields },
	{ "get, and another user's task is 404", test_get_and_visibility },
	{ "list: filters, paging edges, bad paging", test_list_paging_filters },
	{ "cancel: every state rule", test_cancel_rules },
	{ "concurrent cancels: exactly one wins", test_concurrent_cancel },
	{ "list totals: counters match the rows", test_counts_match_rows },
	{ "bad input table", test_bad_input_table },
	{ "creates per user are rate limited: 429, Retry-After", test_create_rate_limit },
	{ "a user's pending tasks are capped: 429, Retry-After", test_pending_cap },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE(tasks, tests)
