/*
 * test_runner.c: the task runner (esm-taskrunner) against the test stack's
 * PostgreSQL, relay, broker, notifier and SMTP sink. The test stack runs
 * without a runner (ESM_TASKRUNNER=off, so the other suites' tasks keep
 * the states they set); each test here starts the runners it needs with
 * its own settings and stops them.
 *
 * Checks: the whole life of a task (pending, processing, completed) with
 * its events, its notification and its mail; claim order; users take
 * turns within a priority (one user's backlog does not hold another's
 * task behind it); a cancel during
 * the work wins; kill -9 of a runner mid-work (the lease runs out, another
 * runner finishes every task exactly once); a runner that wakes after
 * losing its lease changes nothing; a task that keeps killing its
 * runners is failed; SIGTERM hands tasks over at once; two runners share a
 * queue; PostgreSQL restarting mid-work loses nothing. Every check counts
 * rows and events in the databases.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flows.h"

#define RUNNERS_MAX 4

static pid_t runners[RUNNERS_MAX];

/* Starts a runner with work at pct percent, slots, a lease of lease_ms and
 * the runners a task may lose; polls every 50 ms. It gets the task
 * runner's DSN and none of the other credentials of the test environment.
 * ESM_TASKRUNNER_BIN names another binary (a sanitizer build, say). Its
 * log goes to the stack's log/taskrunner.log. Returns its index, or -1. */
static int
runner_start(int pct, int slots, int lease_ms, int attempts)
{
	char pidf[1024], buf[32];
	FILE *f;
	int i;

	for (i = 0; i < RUNNERS_MAX && runners[i] != 0; i++)
		;
	if (i == RUNNERS_MAX || getenv("ESM_VAR") == NULL)
		return -1;
	snprintf(pidf, sizeof(pidf), "%s/taskrunner-test%d.pid", getenv("ESM_VAR"), i);
	if (itest_sh("DSN=$ESM_DSN_TASKRUNNER; unset ESM_PG_SUPER_DSN $(env | sed -n "
	    "'s/^\\(ESM_DSN_[A-Z_]*\\)=.*/\\1/p'); ESM_DB_DSN=\"$DSN\" ESM_TASKRUNNER_WORK_PCT=%d "
	    "ESM_TASKRUNNER_SLOTS=%d ESM_TASKRUNNER_LEASE_MS=%d ESM_TASKRUNNER_MAX_ATTEMPTS=%d "
	    "ESM_TASKRUNNER_POLL_MS=50 setsid \"${ESM_TASKRUNNER_BIN:-$ESM_ROOT/build/bin/esm-taskrunner}\" </dev/null "
	    ">>\"$ESM_VAR/log/taskrunner.log\" 2>&1 & echo $! >'%s'", pct, slots, lease_ms, attempts,
	    pidf) != 0 || (f = fopen(pidf, "r")) == NULL)
		return -1;
	if (fgets(buf, sizeof(buf), f) != NULL)
		runners[i] = (pid_t)strtol(buf, NULL, 10);
	fclose(f);
	unlink(pidf);
	return runners[i] > 0 ? i : -1;
}

/* Sends sig to runner i and waits up to secs for it to exit. Returns the
 * milliseconds it took, or -1 when it did not exit. */
static int
runner_signal(int i, int sig, int secs)
{
	int ms;

	if (i < 0 || runners[i] <= 0)
		return -1;
	kill(runners[i], sig);
	for (ms = 0; ms < secs * 1000; ms += 20) {
		if (kill(runners[i], 0) == -1) {
			runners[i] = 0;
			return ms;
		}
		itest_sleep_ms(20);
	}
	return -1;
}

/* The Prometheus prefix of runner i's counter name (without esm_worker_)
 * in the task service's /metrics; "" when there is no such runner. */
static const char *
runner_prefix(int i, const char *name, char *buf, size_t n)
{
	char host[64];

	buf[0] = '\0';
	if (i < 0 || gethostname(host, sizeof(host)) != 0)
		return buf;
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, n, "esm_worker_%s{worker=\"taskrunner\",instance=\"%s:%d\"}", name, host,
	    (int)runners[i]);
	return buf;
}

/* One of runner i's counters, -1 while it has reported none. */
static double
runner_metric(int i, const char *name)
{
	char p[256];

	return runner_prefix(i, name, p, sizeof(p))[0] ? flow_metric("tasks", p) : -1;
}

/* Polls runner_metric until it is at least min (or secs pass). */
static double
wait_runner_metric(int i, const char *name, double min, int secs)
{
	char p[256];

	return runner_prefix(i, name, p, sizeof(p))[0] ? flow_wait_metric("tasks", p, min, secs) : -1;
}

/* Before each test: the tasks the other suites left pending or processing
 * are set aside (cancelled), so no runner here spends the test on them. */
static void
runner_setup(void)
{
	CU_ASSERT_EQUAL(itest_sql_exec("tasks", "UPDATE tasks SET status = 'cancelled', "
	    "completed_at = now(), updated_at = now(), lease_until = NULL "
	    "WHERE status IN ('pending', 'processing')"), 0);
}

/* After each test, also one a fatal assertion ended: no runner outlives it. */
static void
runner_teardown(void)
{
	for (int i = 0; i < RUNNERS_MAX; i++)
		if (runners[i] > 0 && runner_signal(i, SIGKILL, 10) == -1)
			fprintf(stderr, "  runner %d (pid %d) did not die\n", i, (int)runners[i]);
}

/* Creates a task for u with body and request id rid (NULL: the service's);
 * returns its id, or -1. */
static int64_t
create(const struct flow_user *u, const char *body, const char *rid)
{
	struct itest_resp r;
	char hdr[128];
	const char *hdrs[2] = { hdr, NULL };
	const cJSON *id;
	int64_t out = -1;

	snprintf(hdr, sizeof(hdr), "X-Request-Id: %s", rid ? rid : "");
	itest_http("POST", "gateway", TASKS, "application/json", body, strlen(body), u->access,
	    rid ? hdrs : NULL, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	if (r.status == 201 && cJSON_IsNumber(id = jget(jget(r.json, "task"), "taskId")))
		out = (int64_t)id->valuedouble;
	else
		fprintf(stderr, "  create %s: %ld %.200s\n", body, r.status, r.body);
	itest_resp_free(&r);
	return out;
}

/* Count of u's tasks in status. */
static int64_t
tasks_in(const struct flow_user *u, const char *status)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND status = '%s'",
	    (long long)u->id, status);
	return flow_count("tasks", sql);
}

/* Waits until u has want tasks in status; returns the last count. */
static int64_t
wait_tasks(const struct flow_user *u, const char *status, int64_t want, int secs)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND status = '%s'",
	    (long long)u->id, status);
	return flow_wait_count("tasks", sql, want, secs);
}

/* task_status_changed rows of task id in the outbox going to status. */
static int64_t
status_events(int64_t id, const char *status)
{
	char sql[320];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
	    "'{\"eventType\":\"task_status_changed\",\"taskId\":%lld,\"status\":\"%s\"}'",
	    (long long)id, status);
	return flow_count("tasks", sql);
}

static void
test_lifecycle(void)
{
	static const struct { const char *type, *priority; int ms; } kinds[] = {
		{ "data_processing", "low", 2000 }, { "file_upload", "medium", 1500 },
		{ "report_generation", "high", 4000 }, { "data_export", "high", 3000 },
		{ "image_processing", "medium", 2500 },
	};
	enum { N = sizeof(kinds) / sizeof(kinds[0]) };
	struct flow_user u;
	struct itest_resp r;
	int64_t ids[N];
	char body[256], rid[64], path[128], sql[640], refs[N][32];
	int a;
	const cJSON *t, *res;
	size_t i;

	CU_ASSERT_FATAL(flow_user(&u, "trl", 0) == 0);
	itest_unique(rid, sizeof(rid), "runner-life-");
	for (i = 0; i < N; i++) {
		snprintf(body, sizeof(body), "{\"taskType\":\"%s\",\"priority\":\"%s\","
		    "\"parameters\":{\"a\":1,\"b\":[2],\"c\":{}}}", kinds[i].type, kinds[i].priority);
		CU_ASSERT_FATAL((ids[i] = create(&u, body, rid)) > 0);
	}
	/* 5 % of the nominal work: 75 to 200 ms a task */
	CU_ASSERT_FATAL((a = runner_start(5, 4, 30000, 3)) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "completed", N, 60), N);
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), TASKS "/%lld", (long long)ids[i]);
		itest_json("GET", "gateway", path, NULL, u.access, &r);
		CU_ASSERT_EQUAL(r.status, 200);
		t = jget(r.json, "task");
		snprintf(refs[i], sizeof(refs[i]), "%s", jstr(t, "taskReference"));
		CU_ASSERT_STRING_EQUAL(jstr(t, "status"), "completed");
		CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(t, "progress")), 100);
		CU_ASSERT(jstr(t, "startedAt")[0] != '\0');
		CU_ASSERT(jstr(t, "completedAt")[0] != '\0');
		CU_ASSERT(strcmp(jstr(t, "startedAt"), jstr(t, "completedAt")) <= 0);
		/* the work took its planned time at least */
		CU_ASSERT(cJSON_GetNumberValue(jget(t, "processingTime")) >= kinds[i].ms * 0.05 / 1000.0);
		CU_ASSERT(cJSON_IsNull(jget(t, "errorMessage")));
		res = jget(t, "result");
		CU_ASSERT_STRING_EQUAL(jstr(res, "taskType"), kinds[i].type);
		CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(res, "workMs")), kinds[i].ms / 20);
		CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(res, "parameterKeys")), 3);
		CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(res, "attempt")), 1);
		itest_resp_free(&r);
		/* exactly two status events, with the contract's values and the
		 * creating request's id */
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
		    "'{\"eventType\":\"task_status_changed\",\"taskId\":%lld,\"userId\":%lld,"
		    "\"previousStatus\":\"pending\",\"status\":\"processing\",\"progress\":0,"
		    "\"source\":\"taskprocessing\",\"requestId\":\"%s\"}' AND topic = 'task-events' "
		    "AND msg_key = '%lld' AND request_id = '%s'", (long long)ids[i], (long long)u.id, rid,
		    (long long)u.id, rid);
		CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
		    "'{\"eventType\":\"task_status_changed\",\"taskId\":%lld,\"previousStatus\":"
		    "\"processing\",\"status\":\"completed\",\"progress\":100,\"requestId\":\"%s\"}'",
		    (long long)ids[i], rid);
		CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
		    "'{\"eventType\":\"task_status_changed\",\"taskId\":%lld}'", (long long)ids[i]);
		CU_ASSERT_EQUAL(flow_count("tasks", sql), 2);
	}
	/* one Task Completed notification per task, none for the starts */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "event_type = 'task_status_changed' AND subject = 'Task Completed' AND recipient_email = '%s' "
	    "AND message ~ '^Your task TASK[0-9]{8}[0-9A-F]{8} has been completed\\.$'", (long long)u.id,
	    u.email);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, N, 30), N);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "event_type = 'task_status_changed'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), N);
	for (i = 0; i < N; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
		    "message = 'Your task %s has been completed.'", (long long)u.id, refs[i]);
		CU_ASSERT_EQUAL(flow_count("notifications", sql), 1);
	}
	for (i = 0; i < 300 && flow_mails_to(u.email, "Task Completed") < N; i++)
		itest_sleep_ms(100);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, "Task Completed"), N);
	/* the list API's totals follow the status (the counters' triggers) */
	itest_json("GET", "gateway", TASKS "?status=completed", NULL, u.access, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), N);
	itest_resp_free(&r);
	itest_json("GET", "gateway", TASKS "?status=pending", NULL, u.access, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), 0);
	itest_resp_free(&r);
	/* this runner's counters in the task service's /metrics */
	CU_ASSERT_EQUAL(wait_runner_metric(a, "tasks_completed_total", N, 10), N);
	CU_ASSERT_EQUAL(runner_metric(a, "tasks_claimed_total"), N);
	CU_ASSERT_EQUAL(runner_metric(a, "slots"), 4);
	/* a completed task cannot be cancelled */
	snprintf(path, sizeof(path), TASKS "/%lld/cancel", (long long)ids[0]);
	itest_http("PUT", "gateway", path, NULL, NULL, 0, u.access, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 409, "CONFLICT"));
	itest_resp_free(&r);
}


/* Claims go by priority (critical first), then by age. */
static void
test_claim_order(void)
{
	static const char *const prio[] = { "low", "critical", "medium", "high" };
	struct flow_user u;
	char body[128], sql[512], want[512] = "", *got;
	int64_t ids[4][3];
	size_t i, j;
	static const int order[] = { 1, 3, 2, 0 };	/* indexes of prio, claim order */

	CU_ASSERT_FATAL(flow_user(&u, "tro", 1) == 0);	/* critical is for admins */
	for (i = 0; i < 4; i++)
		for (j = 0; j < 3; j++) {
			snprintf(body, sizeof(body), "{\"priority\":\"%s\"}", prio[i]);
			CU_ASSERT_FATAL((ids[i][j] = create(&u, body, NULL)) > 0);
		}
	/* one slot and no work: strictly one claim after another */
	CU_ASSERT_FATAL(runner_start(0, 1, 30000, 3) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "completed", 12, 30), 12);
	for (i = 0; i < 4; i++)
		for (j = 0; j < 3; j++)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%lld",
			    want[0] ? "," : "", (long long)ids[order[i]][j]);
	snprintf(sql, sizeof(sql), "SELECT string_agg(id::text, ',' ORDER BY started_at, id) "
	    "FROM tasks WHERE user_id = %lld", (long long)u.id);
	if ((got = itest_sql_text("tasks", sql)) == NULL) {
		CU_FAIL("no claim order");
		return;
	}
	if (strcmp(got, want) != 0)
		fprintf(stderr, "  claim order %s, want %s\n", got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	free(got);
}

/* Users take turns within a priority: a user with a backlog of 30 tasks
 * does not hold another user's task of that priority behind it. The
 * newcomer's task goes after at most the backlog's task of the same turn,
 * so it waits about one task's work, while most of the backlog still
 * waits. (Claims by age alone made it wait for the whole backlog, about
 * 7 s here.) */
static void
test_fair_between_users(void)
{
	enum { N = 30, SLOTS = 2, WORK_MS = 500 };
	struct flow_user a, b;
	char sql[512];
	int64_t bid, a_between, a_after, wait_ms;
	int i;

	CU_ASSERT_FATAL(flow_user(&a, "trwa", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&b, "trwb", 0) == 0);
	for (i = 0; i < N; i++)
		CU_ASSERT_FATAL(create(&a, "{\"priority\":\"high\"}", NULL) > 0);
	/* data_processing at 25 %: 0.5 s a task, two at a time, 7.5 s for all */
	CU_ASSERT_FATAL(runner_start(25, SLOTS, 30000, 3) >= 0);
	CU_ASSERT_FATAL(wait_tasks(&a, "completed", 2, 30) >= 2);
	CU_ASSERT_FATAL((bid = create(&b, "{\"priority\":\"high\"}", NULL)) > 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&b, "completed", 1, 30), 1);
	/* A's claims between B's create and B's claim: the one of B's turn,
	 * and one more when a claim ran while B's create committed */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks t, tasks b WHERE b.id = %lld AND "
	    "t.user_id = %lld AND t.started_at > b.created_at AND t.started_at < b.started_at",
	    (long long)bid, (long long)a.id);
	a_between = flow_count("tasks", sql);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks t, tasks b WHERE b.id = %lld AND "
	    "t.user_id = %lld AND (t.started_at IS NULL OR t.started_at > b.started_at)",
	    (long long)bid, (long long)a.id);
	a_after = flow_count("tasks", sql);
	snprintf(sql, sizeof(sql), "SELECT (extract(epoch FROM started_at - created_at) * 1000)::bigint "
	    "FROM tasks WHERE id = %lld", (long long)bid);
	wait_ms = itest_sql_int("tasks", sql);
	if (a_between > SLOTS || a_after < N / 2 || wait_ms > 4 * WORK_MS)
		fprintf(stderr, "  B's task waited %lld ms, %lld of A's tasks were claimed meanwhile, "
		    "%lld after it\n", (long long)wait_ms, (long long)a_between, (long long)a_after);
	CU_ASSERT(a_between <= SLOTS);
	CU_ASSERT(a_after >= N / 2);
	CU_ASSERT(wait_ms >= 0 && wait_ms <= 4 * WORK_MS);
}

/* A cancel while the runner works on a task wins: the task stays
 * cancelled, the work's result is dropped, no completed event. */
static void
test_cancel_during_work(void)
{
	struct flow_user u;
	struct itest_resp r;
	char path[128], sql[512];
	int64_t id;
	int a;

	CU_ASSERT_FATAL(flow_user(&u, "trc", 0) == 0);
	/* report_generation at 50 %: 2 s of work */
	CU_ASSERT_FATAL((a = runner_start(50, 4, 30000, 3)) >= 0);
	CU_ASSERT_FATAL((id = create(&u, "{\"taskType\":\"report_generation\"}", NULL)) > 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "processing", 1, 10), 1);
	snprintf(path, sizeof(path), TASKS "/%lld/cancel", (long long)id);
	itest_http("PUT", "gateway", path, NULL, NULL, 0, u.access, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
	    "'{\"eventType\":\"task_cancelled\",\"taskId\":%lld,\"previousStatus\":\"processing\"}'",
	    (long long)id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	/* the runner noticed at its next look and dropped the work */
	CU_ASSERT_EQUAL(wait_runner_metric(a, "tasks_dropped_total", 1, 10), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE id = %lld AND status = 'cancelled' "
	    "AND result IS NULL", (long long)id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	CU_ASSERT_EQUAL(status_events(id, "processing"), 1);
	CU_ASSERT_EQUAL(status_events(id, "completed"), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "subject = 'Task Cancelled'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 1, 30), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "event_type = 'task_status_changed'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), 0);
}

/* kill -9 of a runner holding tasks: their leases run out, another runner
 * takes them over and finishes each exactly once. */
static void
test_kill9_takeover(void)
{
	enum { N = 6 };
	struct flow_user u;
	char sql[512];
	int64_t ids[N];
	int a, i;

	CU_ASSERT_FATAL(flow_user(&u, "trk", 0) == 0);
	for (i = 0; i < N; i++)
		CU_ASSERT_FATAL((ids[i] = create(&u, "{}", NULL)) > 0);
	/* 2 s of work a task, a 3 s lease */
	CU_ASSERT_FATAL((a = runner_start(100, 8, 3000, 3)) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "processing", N, 10), N);
	CU_ASSERT_FATAL(runner_signal(a, SIGKILL, 10) >= 0);
	CU_ASSERT_EQUAL(tasks_in(&u, "processing"), N);
	CU_ASSERT_FATAL(runner_start(25, 8, 3000, 3) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "completed", N, 30), N);
	for (i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(status_events(ids[i], "processing"), 1);
		CU_ASSERT_EQUAL(status_events(ids[i], "completed"), 1);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND attempts = 2 "
	    "AND lost = 1 AND (result->>'attempt')::int = 2 AND progress = 100", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), N);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "subject = 'Task Completed'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, N, 30), N);
	itest_sleep_ms(500);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), N);
}

/* A runner that wakes up after losing its lease (stopped, not dead)
 * changes nothing: the runner that took the task over finishes it. The
 * stale runner wakes after its own work would have ended, so its first
 * write is the completion, which the claim count must stop. */
static void
test_stale_runner_fenced(void)
{
	struct flow_user u;
	char sql[512];
	int64_t id;
	int a;

	CU_ASSERT_FATAL(flow_user(&u, "trf", 0) == 0);
	CU_ASSERT_FATAL((id = create(&u, "{}", NULL)) > 0);
	/* A: 1 s of work, a 1 s lease */
	CU_ASSERT_FATAL((a = runner_start(50, 4, 1000, 3)) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "processing", 1, 10), 1);
	CU_ASSERT_FATAL(kill(runners[a], SIGSTOP) == 0);
	/* B takes it over when A's lease has run out: 3 s of work */
	CU_ASSERT_FATAL(runner_start(150, 4, 30000, 3) >= 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE id = %lld AND attempts = 2 "
	    "AND status = 'processing'", (long long)id);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("tasks", sql, 1, 10), 1);
	/* A wakes past the end of its own work, in the middle of B's */
	itest_sleep_ms(1200);
	CU_ASSERT_FATAL(kill(runners[a], SIGCONT) == 0);
	CU_ASSERT_EQUAL(wait_runner_metric(a, "tasks_dropped_total", 1, 10), 1);
	CU_ASSERT_EQUAL(runner_metric(a, "tasks_completed_total"), 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "completed", 1, 10), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE id = %lld AND attempts = 2 "
	    "AND (result->>'attempt')::int = 2", (long long)id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	CU_ASSERT_EQUAL(status_events(id, "completed"), 1);
}

/* A task taken over more often than allowed (it keeps killing its
 * runners) is failed, with its event and its notification. */
static void
test_attempts_exhausted(void)
{
	struct flow_user u;
	char sql[512], *ref;
	int64_t id;

	CU_ASSERT_FATAL(flow_user(&u, "tra", 0) == 0);
	CU_ASSERT_FATAL((id = create(&u, "{}", NULL)) > 0);
	/* as a third runner that died would leave it: two runners lost on it
	 * before, its own lease gone */
	snprintf(sql, sizeof(sql), "UPDATE tasks SET status = 'processing', attempts = 3, lost = 2, "
	    "progress = 40, started_at = now(), lease_until = now() - interval '1 second' "
	    "WHERE id = %lld", (long long)id);
	CU_ASSERT_FATAL(itest_sql_exec("tasks", sql) == 0);
	CU_ASSERT_FATAL(runner_start(0, 2, 30000, 3) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "failed", 1, 10), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE id = %lld AND attempts = 4 AND "
	    "lost = 3 AND error_message = 'no runner finished the task: 3 of them were lost on it' AND "
	    "result IS NULL AND progress = 40 AND completed_at IS NOT NULL AND lease_until IS NULL",
	    (long long)id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
	    "'{\"eventType\":\"task_status_changed\",\"taskId\":%lld,\"previousStatus\":\"processing\","
	    "\"status\":\"failed\",\"progress\":40}'", (long long)id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 1);
	snprintf(sql, sizeof(sql), "SELECT reference FROM tasks WHERE id = %lld", (long long)id);
	if ((ref = itest_sql_text("tasks", sql)) == NULL) {
		CU_FAIL("no reference");
		return;
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "subject = 'Task Failed' AND message = 'Your task %s has failed.' AND recipient_email = '%s'",
	    (long long)u.id, ref, u.email);
	free(ref);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 1, 30), 1);
}

/* SIGTERM: the runner stops at once and hands its tasks back, so the next
 * runner takes them over without waiting for the lease; and clean stops,
 * however many (a rolling deploy), never fail a task as lost. */
static void
test_sigterm_release(void)
{
	struct flow_user u;
	char sql[256];
	int a, ms;

	CU_ASSERT_FATAL(flow_user(&u, "trs", 0) == 0);
	/* 4 s of work, a 30 s lease */
	CU_ASSERT_FATAL((a = runner_start(100, 4, 30000, 3)) >= 0);
	CU_ASSERT_FATAL(create(&u, "{\"taskType\":\"report_generation\"}", NULL) > 0);
	CU_ASSERT_FATAL(create(&u, "{\"taskType\":\"report_generation\"}", NULL) > 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "processing", 2, 10), 2);
	/* It hands the tasks back at once; the exit after that waits up to a
	 * second for its last log lines to reach Kafka. */
	ms = runner_signal(a, SIGTERM, 10);
	if (ms < 0 || ms >= 5000)
		fprintf(stderr, "  SIGTERM: the runner took %d ms to stop\n", ms);
	CU_ASSERT(ms >= 0 && ms < 5000);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND "
	    "status = 'processing' AND lease_until = '-infinity'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 2);
	/* three more runners take them over at once and are stopped in turn */
	for (int k = 0; k < 3; k++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND "
		    "status = 'processing' AND attempts = %d AND lease_until > now()", (long long)u.id, k + 2);
		CU_ASSERT_FATAL((a = runner_start(100, 4, 30000, 3)) >= 0);
		CU_ASSERT_EQUAL_FATAL(flow_wait_count("tasks", sql, 2, 10), 2);
		CU_ASSERT_FATAL(runner_signal(a, SIGTERM, 10) >= 0);
	}
	CU_ASSERT_FATAL(runner_start(5, 4, 30000, 3) >= 0);
	/* well inside the 30 s the lease would have held them */
	CU_ASSERT_EQUAL(wait_tasks(&u, "completed", 2, 10), 2);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND attempts = 5 "
	    "AND lost = 0", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), 2);
}

/* Two runners on one queue: every task claimed once, completed once. */
static void
test_two_runners(void)
{
	enum { N = 100 };
	struct flow_user u;
	char sql[512];
	int a, b;

	CU_ASSERT_FATAL(flow_user(&u, "trt", 0) == 0);
	for (int i = 0; i < N; i++)
		CU_ASSERT_FATAL(create(&u, i % 2 ? "{\"priority\":\"high\"}" : "{}", NULL) > 0);
	/* 100 to 200 ms a task: neither runner can take them all alone */
	CU_ASSERT_FATAL((a = runner_start(5, 4, 30000, 3)) >= 0);
	CU_ASSERT_FATAL((b = runner_start(5, 4, 30000, 3)) >= 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "completed", N, 60), N);
	/* both took part, and between them claimed each task once */
	CU_ASSERT(wait_runner_metric(a, "tasks_claimed_total", 1, 10) >= 1);
	CU_ASSERT(wait_runner_metric(b, "tasks_claimed_total", 1, 10) >= 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld AND attempts = 1",
	    (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), N);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
	    "'{\"eventType\":\"task_status_changed\",\"userId\":%lld,\"status\":\"processing\"}'",
	    (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), N);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT payload::jsonb->>'taskId') FROM outbox "
	    "WHERE payload::jsonb @> '{\"eventType\":\"task_status_changed\",\"userId\":%lld,"
	    "\"status\":\"completed\"}' HAVING count(*) = %d", (long long)u.id, N);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), N);
}

/* PostgreSQL restarts while tasks are worked on: the runner reconnects,
 * every task completes, each with one start and one end. */
static void
test_pg_restart(void)
{
	enum { N = 20 };
	struct flow_user u;
	char sql[512];
	int64_t ids[N];
	int i;

	CU_ASSERT_FATAL(flow_user(&u, "trp", 0) == 0);
	for (i = 0; i < N; i++)
		CU_ASSERT_FATAL((ids[i] = create(&u, "{\"taskType\":\"file_upload\"}", NULL)) > 0);
	/* 0.75 s of work a task, four at a time, a 3 s lease */
	CU_ASSERT_FATAL(runner_start(50, 4, 3000, 5) >= 0);
	CU_ASSERT_FATAL(wait_tasks(&u, "completed", 2, 20) >= 2);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' restart-pg \"${ESM_TEST_INSTANCE:-test}\" >/dev/null",
	    getenv("ESM_ROOT")) == 0);
	CU_ASSERT_EQUAL_FATAL(wait_tasks(&u, "completed", N, 60), N);
	for (i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(status_events(ids[i], "processing"), 1);
		CU_ASSERT_EQUAL(status_events(ids[i], "completed"), 1);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "subject = 'Task Completed'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, N, 30), N);
}

static CU_TestInfo tests[] = {
	{ "pending, processing, completed: events, notification, mail", test_lifecycle },
	{ "claims go by priority, then age", test_claim_order },
	{ "users take turns within a priority", test_fair_between_users },
	{ "a cancel during the work wins", test_cancel_during_work },
	{ "kill -9 mid-work: taken over, finished exactly once", test_kill9_takeover },
	{ "a runner that lost its lease changes nothing", test_stale_runner_fenced },
	{ "a task that keeps killing its runners is failed", test_attempts_exhausted },
	{ "SIGTERM hands the tasks over at once", test_sigterm_release },
	{ "two runners share the queue: every task once", test_two_runners },
	{ "PostgreSQL restart mid-work: nothing lost", test_pg_restart },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE_HOOKS(runner, tests, runner_setup, runner_teardown)
