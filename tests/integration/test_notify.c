/*
 * test_notify.c: the event flow from request to delivered notification:
 * register, create and cancel a task, and see three notifications with the
 * right recipient, subject and message, and three mails at the SMTP sink;
 * the notification list API; replays, unknown types, dead letters, a task
 * event before its user's; kill -9 of the notifier in the middle of 5,000
 * events; the broker down for a while. Every check compares sets in the
 * database, never delivery reports.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flows.h"

#define NOTIFS "/api/v1/eventstreammonitor/notifications"

static void
test_register_create_cancel(void)
{
	struct flow_user u;
	struct itest_resp r;
	char sql[768], path[128], ref[32], created_msg[160], cancelled_msg[160];
	int64_t tid;
	int i;

	CU_ASSERT_FATAL(flow_user(&u, "ntf", 0) == 0);
	itest_json("POST", "gateway", TASKS, "{\"taskType\":\"report_generation\",\"priority\":\"high\"}",
	    u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 201);
	tid = (int64_t)cJSON_GetNumberValue(jget(jget(r.json, "task"), "taskId"));
	snprintf(ref, sizeof(ref), "%s", jstr(jget(r.json, "task"), "taskReference"));
	itest_resp_free(&r);
	snprintf(path, sizeof(path), TASKS "/%lld/cancel", (long long)tid);
	itest_http("PUT", "gateway", path, NULL, NULL, 0, u.access, NULL, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 200);
	itest_resp_free(&r);

	/* Registration also mails its verification code (the account suite's). */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "event_type <> 'email_verification_requested'", (long long)u.id);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 3, 30), 3);
	snprintf(created_msg, sizeof(created_msg),
	    "Your task %s has been created. Task Type: report_generation, Priority: high", ref);
	snprintf(cancelled_msg, sizeof(cancelled_msg), "Your task %s has been cancelled.", ref);
	{
		const struct { const char *type, *subject; char msg[200]; } want[3] = {
			{ "user_registered", "Welcome to EventStreamMonitor", "" },
			{ "task_created", "Task Created", "" },
			{ "task_cancelled", "Task Cancelled", "" },
		};
		const char *msgs[3];
		char welcome[160];

		snprintf(welcome, sizeof(welcome), "Welcome %s! Your account has been successfully created.",
		    u.username);
		msgs[0] = welcome;
		msgs[1] = created_msg;
		msgs[2] = cancelled_msg;
		for (i = 0; i < 3; i++) {
			char *esc_msg = msgs[i] ? strdup(msgs[i]) : NULL;
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
			    "event_type = '%s' AND recipient_email = '%s' AND subject = '%s' AND message = '%s' "
			    "AND channel = 'email'", (long long)u.id, want[i].type, u.email, want[i].subject, esc_msg);
			if (flow_count("notifications", sql) != 1) {
				fprintf(stderr, "  no %s notification with: %s\n", want[i].type, esc_msg);
				CU_FAIL("notification text or recipient wrong");
			}
			free(esc_msg);
		}
	}
	/* The eventIds are the outbox's: one notification per event. */
	{
		char *eid;
		snprintf(sql, sizeof(sql), "SELECT event_id::text FROM outbox WHERE payload::jsonb @> "
		    "'{\"eventType\":\"task_created\",\"taskId\":%lld}'", (long long)tid);
		CU_ASSERT_FATAL((eid = itest_sql_text("tasks", sql)) != NULL);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s'", eid);
		CU_ASSERT_EQUAL(flow_count("notifications", sql), 1);
		free(eid);
	}
	/* Four mails arrive (the three and the address's verification); the
	 * rows say sent, after one attempt. */
	for (i = 0; i < 300 && flow_mails_to(u.email, NULL) < 4; i++)
		itest_sleep_ms(100);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, NULL), 4);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, "Verify your email address"), 1);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, "Welcome to EventStreamMonitor"), 1);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, "Task Created"), 1);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, "Task Cancelled"), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "status = 'sent' AND attempts = 1 AND sent_at IS NOT NULL AND last_error IS NULL AND "
	    "event_type <> 'email_verification_requested'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 3, 10), 3);

	/* The API shows them to their user. (The user event travels on another
	 * topic than the task events, so its row may be the newest.) */
	itest_json("GET", "gateway", NOTIFS "?eventType=task_cancelled", NULL, u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "notifications")), 1);
	{
		const cJSON *n = cJSON_GetArrayItem(jget(r.json, "notifications"), 0);
		static const char *const fields[] = { "notificationId", "eventId", "eventType", "userId",
			"recipientEmail", "subject", "message", "channel", "status", "attempts",
			"createdAt", "sentAt" };
		for (i = 0; i < (int)(sizeof(fields) / sizeof(fields[0])); i++)
			CU_ASSERT_PTR_NOT_NULL(jget(n, fields[i]));
		CU_ASSERT_STRING_EQUAL(jstr(n, "eventType"), "task_cancelled");
		CU_ASSERT_STRING_EQUAL(jstr(n, "recipientEmail"), u.email);
		CU_ASSERT_STRING_EQUAL(jstr(n, "status"), "sent");
	}
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS, NULL, u.access, &r);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "notifications")), 4);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), 4);
	itest_resp_free(&r);
}

/* The workers' counters reach the /metrics of their database's service
 * (the test stack has them report every second); a worker that stopped
 * reporting long ago is left out. */
static void
test_worker_metrics(void)
{
	static const struct { const char *service, *prefix; } live[] = {
		{ "notifications", "esm_worker_messages_consumed_total{worker=\"notifier\"" },
		{ "notifications", "esm_worker_mails_sent_total{worker=\"notifier\"" },
		{ "notifications", "esm_worker_notifications_written_total{worker=\"notifier\"" },
		{ "tasks", "esm_worker_messages_published_total{worker=\"relay-tasks\"" },
		{ "users", "esm_worker_messages_published_total{worker=\"relay-registrations\"" },
		{ "logmonitor", "esm_worker_messages_consumed_total{worker=\"logcollector\"" },
		{ "logmonitor", "esm_worker_records_stored_total{worker=\"logcollector\"" },
	};
	size_t i;

	for (i = 0; i < sizeof(live) / sizeof(live[0]); i++)
		if (flow_wait_metric(live[i].service, live[i].prefix, 1, 10) < 1) {
			fprintf(stderr, "  /metrics/%s: no %s above 0\n", live[i].service, live[i].prefix);
			CU_FAIL("a worker counter is missing or zero");
		}
	/* present even when nothing failed */
	CU_ASSERT(flow_metric("notifications", "esm_worker_messages_dead_lettered_total{worker=\"notifier\"") >= 0);
	CU_ASSERT(flow_metric("notifications", "esm_worker_messages_failed_total{worker=\"notifier\"") >= 0);
	CU_ASSERT(flow_metric("notifications", "esm_worker_consumer_lag{worker=\"notifier\"") >= 0);
	CU_ASSERT(flow_metric("logmonitor", "esm_worker_consumer_lag{worker=\"logcollector\"") >= 0);
	/* a row not renewed for ten minutes is a worker that is gone */
	CU_ASSERT_EQUAL_FATAL(itest_sql_exec("notifications", "INSERT INTO worker_metrics (worker, "
	    "instance, metric, value, updated_at) VALUES ('ghost', 'gone:1', 'messages_consumed_total', "
	    "5, now() - interval '10 minutes') ON CONFLICT DO NOTHING"), 0);
	CU_ASSERT_EQUAL(flow_metric("notifications", "esm_worker_messages_consumed_total{worker=\"ghost\""), -1);
	CU_ASSERT_EQUAL(itest_sql_exec("notifications", "DELETE FROM worker_metrics WHERE worker = 'ghost'"), 0);
}

static void
test_list_api(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	char q[256], sql[256];
	size_t i;
	static const char *const badq[] = { "limit=101", "limit=0", "offset=-1", "status=delivered",
		"eventType=a%20b", "userId=abc", "channel=email", "limit=1&limit=2" };

	CU_ASSERT_FATAL(flow_user(&u, "nla", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "nlb", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "nlc", 1) == 0);
	itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
	itest_resp_free(&r);
	/* welcome, email verification, task created */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld", (long long)u.id);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 3, 30), 3);
	itest_json("GET", "gateway", NOTIFS "?eventType=task_created", NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "notifications")), 1);
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "?limit=1&offset=0", NULL, u.access, &r);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "notifications")), 1);
	CU_ASSERT(cJSON_IsTrue(jget(jget(r.json, "pagination"), "hasMore")));
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "?offset=3", NULL, u.access, &r);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jget(r.json, "notifications")), 0);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), 3);
	itest_resp_free(&r);
	/* v sees none of u's; asking for them is 403; an admin may */
	itest_json("GET", "gateway", NOTIFS, NULL, v.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	{
		const cJSON *n;
		cJSON_ArrayForEach(n, jget(r.json, "notifications"))
			CU_ASSERT_EQUAL((int64_t)cJSON_GetNumberValue(jget(n, "userId")), v.id);
	}
	itest_resp_free(&r);
	snprintf(q, sizeof(q), NOTIFS "?userId=%lld", (long long)u.id);
	itest_json("GET", "gateway", q, NULL, v.access, &r);
	CU_ASSERT(itest_is_problem(&r, 403, "FORBIDDEN"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", q, NULL, admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), 3);
	itest_resp_free(&r);
	for (i = 0; i < sizeof(badq) / sizeof(badq[0]); i++) {
		snprintf(q, sizeof(q), NOTIFS "?%s", badq[i]);
		itest_json("GET", "gateway", q, NULL, u.access, &r);
		if (!itest_is_problem(&r, 400, "BAD_REQUEST"))
			fprintf(stderr, "  query %s: %ld\n", badq[i], r.status);
		itest_resp_free(&r);
	}
	itest_json("GET", "gateway", NOTIFS, NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
	itest_http("POST", "gateway", NOTIFS, "application/json", "{}", 2, u.access, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 405, "METHOD_NOT_ALLOWED"));
	itest_resp_free(&r);
	itest_json("GET", "notifications", NOTIFS, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	itest_json("GET", "notifications", "/health", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "service"), "notification");
	itest_resp_free(&r);
}

static void
test_replay_generic_dead_letter(void)
{
	char a[37], b[37], marker[37], text[2048], sql[256], *dlq;
	FILE *p;
	size_t len = 0, n;
	int found = 0;

	flow_event_id(a, 1);
	flow_event_id(b, 2);
	flow_event_id(marker, 3);
	/* the same booking event twice, garbage, a user-less flight update */
	snprintf(text, sizeof(text),
	    "42\t{\"eventId\":\"%s\",\"eventType\":\"booking_confirmed\",\"userId\":42,\"source\":\"booking\"}\n"
	    "42\t{\"eventId\":\"%s\",\"eventType\":\"booking_confirmed\",\"userId\":42,\"source\":\"booking\"}\n"
	    "42\t{this is not json %s\n"
	    "42\t{\"eventType\":\"booking_confirmed\",\"why\":\"no event id %s\"}\n"
	    "x\t{\"eventId\":\"%s\",\"eventType\":\"flight_delayed\",\"flight\":\"LH400\"}\n",
	    a, a, marker, marker, b);
	CU_ASSERT_FATAL(flow_produce("booking-events", text) == 0);
	snprintf(text, sizeof(text), "x\t{\"eventId\":\"%s\",\"eventType\":\"gate_changed\"}\n", marker);
	CU_ASSERT_FATAL(flow_produce("flight-updates", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s'", marker);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 1, 30), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s'", b);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 1, 10), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s' AND "
	    "event_type = 'booking_confirmed' AND subject = 'Notification: booking_confirmed' AND "
	    "message = 'Event booking_confirmed received from booking.' AND user_id = 42", a);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s' AND "
	    "channel = 'log' AND status = 'sent'", b);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), 1);
	/* both bad messages are in the DLQ with a reason */
	for (int tries = 0; tries < 50 && found < 2; tries++) {
		snprintf(text, sizeof(text), "kcat -b \"$ESM_KAFKA_BOOTSTRAP\" -C -t notifications-dlq "
		    "-o beginning -e -q -f '%%h\\t%%s\\n' 2>/dev/null");
		if ((p = popen(text, "r")) == NULL)
			break;
		dlq = malloc(1 << 20);
		len = 0;
		while (dlq && (n = fread(dlq + len, 1, (1 << 20) - 1 - len, p)) > 0)
			len += n;
		pclose(p);
		found = 0;
		if (dlq) {
			char *line;
			dlq[len] = '\0';
			for (line = strtok(dlq, "\n"); line; line = strtok(NULL, "\n"))
				if (strstr(line, marker) && strstr(line, "reason="))
					found++;
			free(dlq);
		}
		if (found < 2)
			itest_sleep_ms(200);
	}
	CU_ASSERT_EQUAL(found, 2);
}

static void
test_task_event_before_user(void)
{
	char e1[37], e2[37], text[1024], sql[256], email[64];
	int64_t uid = 800000000 + (getpid() % 100000) * 10;

	flow_event_id(e1, 10);
	flow_event_id(e2, 11);
	snprintf(email, sizeof(email), "late%lld@example.org", (long long)uid);
	snprintf(text, sizeof(text), "%lld\t{\"eventId\":\"%s\",\"eventType\":\"task_created\",\"userId\":%lld,"
	    "\"taskId\":1,\"taskReference\":\"TASK20261125DEADBEEF\",\"taskType\":\"file_upload\","
	    "\"priority\":\"low\",\"source\":\"taskprocessing\"}\n", (long long)uid, e1, (long long)uid);
	CU_ASSERT_FATAL(flow_produce("task-events", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s' AND "
	    "recipient_email IS NULL AND status = 'pending'", e1);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 1, 30), 1);
	snprintf(text, sizeof(text), "%lld\t{\"eventId\":\"%s\",\"eventType\":\"user_registered\",\"userId\":%lld,"
	    "\"username\":\"late%lld\",\"email\":\"%s\"}\n", (long long)uid, e2, (long long)uid,
	    (long long)uid, email);
	CU_ASSERT_FATAL(flow_produce("user-registration-events", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s' AND "
	    "recipient_email = '%s'", e1, email);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 1, 30), 1);
	/* and it is mailed to the real address, never a placeholder */
	for (int i = 0; i < 100 && flow_mails_to(email, "Task Created") < 1; i++)
		itest_sleep_ms(100);
	CU_ASSERT_EQUAL(flow_mails_to(email, "Task Created"), 1);
}

static int
notifier_pid(void)
{
	const char *var = getenv("ESM_VAR");
	char path[1024];
	int pid = -1;
	FILE *f;

	if (var == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/notifier.pid", var);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%d", &pid) != 1)
		pid = -1;
	fclose(f);
	return pid;
}

static void
test_kill9_mid_stream(void)
{
	enum { N = 5000 };
	char eid[37], sql[256], like[40];
	const char *root = getenv("ESM_ROOT");
	size_t cap = (size_t)N * 160, len = 0;
	char *text = malloc(cap);
	int64_t at_kill, n;
	int pid, i, rc;

	CU_ASSERT_FATAL(text != NULL && root != NULL);
	for (i = 0; i < N; i++) {
		flow_event_id(eid, 100000 + i);
		len += (size_t)snprintf(text + len, cap - len,
		    "k%d\t{\"eventId\":\"%s\",\"eventType\":\"bulk_check\",\"source\":\"itest\",\"seq\":%d}\n",
		    i % 7, eid, i);
	}
	flow_event_id(eid, 100000);
	snprintf(like, sizeof(like), "%.23s%%", eid);	/* this run's bulk ids share the prefix */
	/* The notifier turns thousands of events a second into rows, faster
	 * than a query can watch it: it runs in 5 ms slices (SIGSTOP/SIGCONT)
	 * and is killed in the pause after its first committed batch. */
	CU_ASSERT_FATAL((pid = notifier_pid()) > 0);
	CU_ASSERT_FATAL(kill(pid, SIGSTOP) == 0);
	rc = flow_produce("flight-updates", text);
	free(text);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id::text LIKE '%s' "
	    "AND event_type = 'bulk_check'", like);
	at_kill = 0;
	for (i = 0; rc == 0 && i < 12000 && at_kill < 1; i++) {
		kill(pid, SIGCONT);
		itest_sleep_ms(5);
		kill(pid, SIGSTOP);
		at_kill = flow_count("notifications", sql);
	}
	CU_ASSERT_FATAL(kill(pid, SIGKILL) == 0);
	CU_ASSERT_FATAL(rc == 0);
	CU_ASSERT_FATAL(at_kill >= 1);
	itest_sleep_ms(300);
	at_kill = flow_count("notifications", sql);
	fprintf(stderr, "  kill -9 of the notifier after %lld of %d rows\n", (long long)at_kill, N);
	CU_ASSERT(at_kill < N);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' start \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	n = flow_wait_count("notifications", sql, N, 120);
	CU_ASSERT_EQUAL(n, N);
	/* exactly one row per event: the replay changed nothing */
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT event_id) FROM notifications WHERE "
	    "event_id::text LIKE '%s' AND event_type = 'bulk_check'", like);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), N);
}

/* Queues n bulk events of type type on flight-updates (ids from base). */
static int
produce_bulk(int n, int base, const char *type)
{
	size_t cap = (size_t)n * 160, len = 0;
	char *text = malloc(cap), eid[37];
	int rc;

	if (text == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		flow_event_id(eid, base + i);
		len += (size_t)snprintf(text + len, cap - len,
		    "k%d\t{\"eventId\":\"%s\",\"eventType\":\"%s\",\"seq\":%d}\n", i % 7, eid, type, i);
	}
	rc = flow_produce("flight-updates", text);
	free(text);
	return rc;
}

static void
test_sigterm_and_pg_restart(void)
{
	enum { N = 3000 };
	const char *root = getenv("ESM_ROOT");
	char sql[256], term[40], pg[40], eid[37];
	int64_t n;
	int pid, i;

	/* event types unique to this run (the id prefix) */
	flow_event_id(eid, 0);
	snprintf(term, sizeof(term), "bulk_term_%.8s", eid);
	snprintf(pg, sizeof(pg), "bulk_pg_%.8s", eid);

	CU_ASSERT_FATAL(root != NULL);
	/* SIGTERM mid-stream: the notifier finishes its message, commits, leaves. */
	CU_ASSERT_FATAL(produce_bulk(N, 200000, term) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_type = '%s'", term);
	CU_ASSERT_FATAL(flow_wait_count("notifications", sql, 200, 60) >= 200);
	CU_ASSERT_FATAL((pid = notifier_pid()) > 0);
	CU_ASSERT_FATAL(kill(pid, SIGTERM) == 0);
	for (i = 0; i < 150 && kill(pid, 0) == 0; i++)
		itest_sleep_ms(100);
	CU_ASSERT(kill(pid, 0) == -1);	/* gone within 15 s */
	fprintf(stderr, "  SIGTERM: stopped after %lld of %d rows in %d ms\n",
	    (long long)flow_count("notifications", sql), N, i * 100);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' start \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, N, 120), N);
	/* PostgreSQL restarts mid-stream: the same message is retried, none skipped. */
	CU_ASSERT_FATAL(produce_bulk(N, 300000, pg) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_type = '%s'", pg);
	CU_ASSERT_FATAL(flow_wait_count("notifications", sql, 200, 60) >= 200);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' restart-pg \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	n = flow_wait_count("notifications", sql, N, 120);
	CU_ASSERT_EQUAL(n, N);
	snprintf(sql, sizeof(sql), "SELECT count(DISTINCT event_id) FROM notifications WHERE event_type = '%s'", pg);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), N);
	/* Every pool process finds its connection dead on first use: let each
	 * reconnect (health pings the database) before the next suite writes. */
	{
		static const char *const listeners[] = { "users", "auth", "tasks", "notifications" };
		for (size_t k = 0; k < sizeof(listeners) / sizeof(listeners[0]); k++) {
			int ok = 0;
			for (i = 0; i < 200 && ok < 20; i++) {
				struct itest_resp r;
				ok = itest_json("GET", listeners[k], "/health", NULL, NULL, &r) == 200 ? ok + 1 : 0;
				itest_resp_free(&r);
				if (ok == 0)
					itest_sleep_ms(100);
			}
		}
	}
}

static void
test_broker_down(void)
{
	enum { N = 20 };
	struct flow_user u;
	struct itest_resp r;
	const char *root = getenv("ESM_ROOT");
	char sql[512];
	int i, acked = 0;

	CU_ASSERT_FATAL(root != NULL);
	CU_ASSERT_FATAL(flow_user(&u, "nbd", 0) == 0);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' broker-down \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	for (i = 0; i < N; i++) {
		itest_json("POST", "gateway", TASKS, "{\"priority\":\"low\"}", u.access, &r);
		acked += r.status == 201;
		itest_resp_free(&r);
	}
	CU_ASSERT_EQUAL(acked, N);
	itest_sleep_ms(3000);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' broker-up \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	/* every task_created event of u in the outbox has exactly one notification */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "event_type = 'task_created'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, N, 120), N);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE msg_key = '%lld' AND "
	    "payload::jsonb->>'eventType' = 'task_created'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("tasks", sql), N);
}

static CU_TestInfo tests[] = {
	{ "register, create, cancel: three notifications, three mails", test_register_create_cancel },
	{ "workers' counters in their services' /metrics", test_worker_metrics },
	{ "notification list: filters, paging, visibility", test_list_api },
	{ "replays, unknown types, dead letters", test_replay_generic_dead_letter },
	{ "a task event before its user's gets the real address", test_task_event_before_user },
	{ "kill -9 in the middle of 5000 events: one row each", test_kill9_mid_stream },
	{ "broker down: nothing lost", test_broker_down },
	{ "SIGTERM and a PostgreSQL restart mid-stream", test_sigterm_and_pg_restart },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE(notify, tests)
