/*
 * test_metrics.c: every service's /metrics on the internal listener passes
 * `promtool check metrics` (Debian's prometheus package, installed by
 * scripts/deps.sh): parseable, one HELP and one TYPE per family, each
 * family's samples together, and nothing its lint reports (counters named
 * _total, no unit abbreviations, ...). A missing promtool fails the test.
 *
 * A page is checked once every family it can show is on it: the service's
 * own, and the counters of the workers on its database, which appear only
 * after they report (every ESM_WORKER_METRICS_S, 1 s on the test stack). The
 * stack runs no task runner, so one runs here for a moment; like the runner
 * suite, it first cancels the tasks other suites left pending, so it claims
 * none of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "util.h"

#define METRICS_WAIT_S 30

/* The families of every service (shared/metrics.c, shared/svc.c). */
static const char *const common[] = {
	"esm_http_requests_total", "esm_http_request_duration_seconds", "esm_db_errors_total",
	"esm_rate_limited_total", "esm_log_records_shipped_total", "esm_log_records_dropped_total",
	"esm_events_written_total", "esm_db_connection_errors_total", NULL,
};
/* Those of the outbox and of the workers, by service (README "Metrics"). */
static const char *const users[] = {
	"esm_outbox_backlog", "esm_worker_messages_published_total",
	"esm_worker_messages_failed_total", "esm_worker_batches_total",
	"esm_worker_kafka_failures_total", "esm_worker_db_failures_total", NULL,
};
static const char *const tasks[] = {
	"esm_outbox_backlog", "esm_worker_messages_published_total",
	"esm_worker_messages_failed_total", "esm_worker_batches_total",
	"esm_worker_kafka_failures_total", "esm_worker_db_failures_total",
	"esm_worker_tasks_claimed_total", "esm_worker_tasks_taken_over_total",
	"esm_worker_tasks_completed_total", "esm_worker_tasks_failed_total",
	"esm_worker_tasks_dropped_total", "esm_worker_tasks_released_total",
	"esm_worker_busy_slots", "esm_worker_slots", NULL,
};
static const char *const notifications[] = {
	"esm_worker_messages_consumed_total", "esm_worker_messages_failed_total",
	"esm_worker_messages_dead_lettered_total", "esm_worker_notifications_written_total",
	"esm_worker_duplicates_total", "esm_worker_mails_sent_total",
	"esm_worker_mails_failed_total", "esm_worker_consumer_lag", NULL,
};
static const char *const logmonitor[] = {
	"esm_worker_messages_consumed_total", "esm_worker_messages_failed_total",
	"esm_worker_records_stored_total", "esm_worker_errors_stored_total",
	"esm_worker_duplicates_total", "esm_worker_expired_total", "esm_worker_db_failures_total",
	"esm_worker_consumer_lag", NULL,
};
static const char *const none[] = { NULL };

static const struct page {
	const char *service;
	const char *const *families;
} pages[] = {
	{ "users", users }, { "auth", none }, { "tasks", tasks },
	{ "notifications", notifications }, { "logmonitor", logmonitor },
};

/* The first family of list that body has no "# TYPE" line for, or NULL. */
static const char *
first_missing(const char *body, const char *const *list)
{
	char want[160];

	for (; *list != NULL; list++) {
		snprintf(want, sizeof(want), "\n# TYPE %s ", *list);
		if (strncmp(body, want + 1, strlen(want + 1)) != 0 && strstr(body, want) == NULL)
			return *list;
	}
	return NULL;
}

/* Fetches /metrics/<service> into *r until it shows every family of p, or
 * METRICS_WAIT_S pass; returns the family still missing, or NULL. */
static const char *
fetch_complete(const struct page *p, struct itest_resp *r)
{
	char path[64];
	const char *miss = "(no answer)";

	snprintf(path, sizeof(path), "/metrics/%s", p->service);
	for (int i = 0; i < METRICS_WAIT_S * 5; i++) {
		if (i > 0) {
			itest_resp_free(r);
			itest_sleep_ms(200);
		}
		itest_http("GET", "internal", path, NULL, NULL, 0, NULL, NULL, r);
		if (r->status == 200 && (miss = first_missing(r->body, common)) == NULL &&
		    (miss = first_missing(r->body, p->families)) == NULL)
			return NULL;
	}
	return miss;
}

/* promtool's verdict on body (its complaints go to the test's output);
 * its exit code, 127 when it is not installed. */
static int
promtool_check(const char *service, const char *body)
{
	const char *var = getenv("ESM_VAR");
	char file[1024];
	FILE *f;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(var);
	snprintf(file, sizeof(file), "%s/tmp/metrics-%s.prom", var, service);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(file, "w"));
	fputs(body, f);
	CU_ASSERT_EQUAL_FATAL(fclose(f), 0);
	rc = itest_sh("command -v promtool >/dev/null || "
	    "{ echo '  promtool is missing: scripts/deps.sh installs it (prometheus)'; exit 127; }; "
	    "out=$(promtool check metrics <'%s' 2>&1); rc=$?; "
	    "[ -z \"$out\" ] || printf '%%s\\n' \"$out\" | sed 's/^/  %s: /'; exit $rc", file, service);
	if (rc != 0)
		fprintf(stderr, "  %s: promtool check metrics exits %d on %s\n", service, rc, file);
	return rc;
}

/* Runs a task runner on the tasks database for about two seconds: its
 * first report comes at once, its last when it stops on SIGTERM. */
static int
taskrunner_blip(void)
{
	if (itest_sql_exec("tasks", "UPDATE tasks SET status = 'cancelled', "
	    "completed_at = now(), updated_at = now(), lease_until = NULL "
	    "WHERE status IN ('pending', 'processing')") != 0)
		return -1;
	/* timeout's 124: it sent the SIGTERM, as intended. */
	return itest_sh("ESM_DB_DSN=\"$ESM_DSN_TASKRUNNER\" ESM_TASKRUNNER_SLOTS=2 "
	    "timeout -s TERM -k 10 2 \"${ESM_TASKRUNNER_BIN:-$ESM_ROOT/build/bin/esm-taskrunner}\" "
	    "</dev/null >>\"$ESM_VAR/log/taskrunner.log\" 2>&1") == 124 ? 0 : -1;
}

static void
test_promtool_every_service(void)
{
	struct itest_resp r;
	const char *miss;

	CU_ASSERT_EQUAL(taskrunner_blip(), 0);
	for (size_t i = 0; i < ESM_NELEM(pages); i++) {
		miss = fetch_complete(&pages[i], &r);
		CU_ASSERT_PTR_NULL(miss);
		if (miss != NULL)
			fprintf(stderr, "  /metrics/%s: no family %s after %d s (status %ld)\n",
			    pages[i].service, miss, METRICS_WAIT_S, r.status);
		if (r.status == 200) {
			CU_ASSERT_EQUAL(promtool_check(pages[i].service, r.body), 0);
		} else {
			CU_FAIL("no /metrics page");
		}
		itest_resp_free(&r);
	}
}

static CU_TestInfo tests[] = {
	{ "every /metrics passes promtool check metrics", test_promtool_every_service },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE(metrics, tests)
