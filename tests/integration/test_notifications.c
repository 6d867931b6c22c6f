/*
 * test_notifications.c: a notification as its user sees it and how it
 * ends. GET /notifications/{id} and PUT /notifications/{id}/read for the
 * owner, another user and an administrator, readAt and the unread filter;
 * a mail the server refuses for good (550) fails after one attempt, one it
 * refuses for now (451) is sent on a retry; a notification whose user never
 * becomes known ends undeliverable after ESM_NOTIFIER_RECIPIENT_WAIT_S (the
 * test stack sets a few seconds); a deleted user's mail is never sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flows.h"

#define NOTIFS "/api/v1/eventstreammonitor/notifications"

/* The id of u's notification of event type type (waits for it). */
static int64_t
note_of(const struct flow_user *u, const char *type)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "event_type = '%s'", (long long)u->id, type);
	if (flow_wait_count("notifications", sql, 1, 30) != 1)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT id FROM notifications WHERE user_id = %lld AND "
	    "event_type = '%s'", (long long)u->id, type);
	return itest_sql_int("notifications", sql);
}

static void
test_get_and_read(void)
{
	struct flow_user u, v, admin;
	struct itest_resp r;
	char path[160], first[40];
	const cJSON *n;
	int64_t id;

	CU_ASSERT_FATAL(flow_user(&u, "nga", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&v, "ngb", 0) == 0);
	CU_ASSERT_FATAL(flow_user(&admin, "ngc", 1) == 0);
	itest_json("POST", "gateway", TASKS, "{}", u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 201);
	itest_resp_free(&r);
	CU_ASSERT_FATAL((id = note_of(&u, "task_created")) > 0);
	snprintf(path, sizeof(path), NOTIFS "/%lld", (long long)id);

	/* the owner and an administrator see it, unread; another user does not */
	itest_json("GET", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 200);
	n = jget(r.json, "notification");
	CU_ASSERT_EQUAL((int64_t)cJSON_GetNumberValue(jget(n, "notificationId")), id);
	CU_ASSERT_STRING_EQUAL(jstr(n, "eventType"), "task_created");
	CU_ASSERT(cJSON_IsNull(jget(n, "readAt")));
	CU_ASSERT_PTR_NULL(jget(n, "mailSecret"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, v.access, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "/999999999999", NULL, u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);

	/* only its user marks it read: another user 404, an administrator 403 */
	snprintf(path, sizeof(path), NOTIFS "/%lld/read", (long long)id);
	itest_json("PUT", "gateway", path, NULL, v.access, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
	itest_json("PUT", "gateway", path, NULL, admin.access, &r);
	CU_ASSERT(itest_is_problem(&r, 403, "FORBIDDEN"));
	itest_resp_free(&r);
	itest_json("PUT", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 200);
	n = jget(r.json, "notification");
	CU_ASSERT_EQUAL((int64_t)cJSON_GetNumberValue(jget(n, "notificationId")), id);
	CU_ASSERT_FATAL(cJSON_IsString(jget(n, "readAt")));
	snprintf(first, sizeof(first), "%s", jstr(n, "readAt"));
	CU_ASSERT_EQUAL(strlen(first), 27);	/* 2026-11-25T10:11:12.123456Z */
	itest_resp_free(&r);
	itest_sleep_ms(10);
	/* again: the same answer, the first readAt kept */
	itest_json("PUT", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(jget(r.json, "notification"), "readAt"), first);
	itest_resp_free(&r);
	itest_http("POST", "gateway", path, "application/json", "{}", 2, u.access, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 405, "METHOD_NOT_ALLOWED"));
	itest_resp_free(&r);

	/* the list: readAt in every object, the unread filter */
	itest_json("GET", "gateway", NOTIFS, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	cJSON_ArrayForEach(n, jget(r.json, "notifications"))
		CU_ASSERT_PTR_NOT_NULL(jget(n, "readAt"));
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "?unread=false", NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), 1);
	n = cJSON_GetArrayItem(jget(r.json, "notifications"), 0);
	CU_ASSERT_EQUAL((int64_t)cJSON_GetNumberValue(jget(n, "notificationId")), id);
	CU_ASSERT_STRING_EQUAL(jstr(n, "readAt"), first);
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "?unread=true", NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(cJSON_GetArraySize(jget(r.json, "notifications")) >= 2);	/* welcome, verification */
	cJSON_ArrayForEach(n, jget(r.json, "notifications")) {
		CU_ASSERT(cJSON_IsNull(jget(n, "readAt")));
		CU_ASSERT((int64_t)cJSON_GetNumberValue(jget(n, "notificationId")) != id);
	}
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "?unread=yes", NULL, u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
	itest_resp_free(&r);
	/* an administrator's view of u's list filters the same way */
	snprintf(path, sizeof(path), NOTIFS "?userId=%lld&unread=false", (long long)u.id);
	itest_json("GET", "gateway", path, NULL, admin.access, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(jget(jget(r.json, "pagination"), "total")), 1);
	itest_resp_free(&r);
}

/* 550 ends the mail at once, the reply in lastError; 451 is retried. */
static void
test_smtp_replies(void)
{
	struct flow_user u, t;
	char sql[512];

	CU_ASSERT_FATAL(flow_register_mail(&u, "nrj", "-reject550") == 0);
	CU_ASSERT_FATAL(flow_register_mail(&t, "ntf", "-tempfail451") == 0);
	/* welcome and verification, each refused once for good */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "status = 'failed' AND attempts = 1 AND last_error LIKE '%%550%%' AND mail_secret IS NULL",
	    (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 2, 30), 2);
	/* 451 the first time, sent on a retry: attempts add up to three */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "status = 'sent' AND last_error IS NULL", (long long)t.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 2, 30), 2);
	snprintf(sql, sizeof(sql), "SELECT sum(attempts) FROM notifications WHERE user_id = %lld",
	    (long long)t.id);
	CU_ASSERT_EQUAL(itest_sql_int("notifications", sql), 3);
	CU_ASSERT_EQUAL(flow_mails_to(t.email, NULL), 2);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, NULL), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "status = 'failed'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), 2);	/* and stays so */
}

/* A user id that no user event ever names (fresh per run). */
static int64_t
ghost_id(int n)
{
	return 700000000 + (int64_t)(getpid() % 100000) * 10 + n;
}

static void
test_unknown_recipient(void)
{
	char e[37], text[1024], sql[512];
	int64_t uid = ghost_id(1);

	flow_event_id(e, 500001);
	snprintf(text, sizeof(text), "%lld\t{\"eventId\":\"%s\",\"eventType\":\"task_created\",\"userId\":%lld,"
	    "\"taskId\":1,\"taskReference\":\"TASK20261125CAFEF00D\",\"taskType\":\"file_upload\","
	    "\"priority\":\"low\",\"source\":\"taskprocessing\"}\n", (long long)uid, e, (long long)uid);
	CU_ASSERT_FATAL(flow_produce("task-events", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s'", e);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 1, 30), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s' AND "
	    "status = 'undeliverable' AND recipient_email IS NULL AND attempts = 0 AND "
	    "last_error LIKE 'no recipient address%%'", e);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 1, 40), 1);
}

static void
test_deleted_user(void)
{
	char e[4][37], text[2048], sql[512], email[80];
	int64_t uid = ghost_id(2);
	int i;

	for (i = 0; i < 4; i++)
		flow_event_id(e[i], 500010 + i);
	snprintf(email, sizeof(email), "gone%lld@example.org", (long long)uid);
	/* a task mail waiting for its user's address */
	snprintf(text, sizeof(text), "%lld\t{\"eventId\":\"%s\",\"eventType\":\"task_created\",\"userId\":%lld,"
	    "\"taskId\":2,\"taskReference\":\"TASK20261125CAFEF00E\",\"taskType\":\"file_upload\","
	    "\"priority\":\"low\"}\n", (long long)uid, e[0], (long long)uid);
	CU_ASSERT_FATAL(flow_produce("task-events", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s'", e[0]);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 1, 30), 1);
	/* the user is deleted: the waiting mail ends there */
	snprintf(text, sizeof(text), "%lld\t{\"eventId\":\"%s\",\"eventType\":\"user_deleted\",\"userId\":%lld,"
	    "\"username\":\"gone%lld\"}\n", (long long)uid, e[1], (long long)uid, (long long)uid);
	CU_ASSERT_FATAL(flow_produce("user-registration-events", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id = '%s' AND "
	    "status = 'undeliverable' AND last_error = 'recipient deleted'", e[0]);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 1, 30), 1);
	/* later events for the deleted user, with an address among them: none is mailed */
	snprintf(text, sizeof(text),
	    "%lld\t{\"eventId\":\"%s\",\"eventType\":\"task_cancelled\",\"userId\":%lld,"
	    "\"taskId\":2,\"taskReference\":\"TASK20261125CAFEF00E\",\"taskType\":\"file_upload\"}\n",
	    (long long)uid, e[2], (long long)uid);
	CU_ASSERT_FATAL(flow_produce("task-events", text) == 0);
	snprintf(text, sizeof(text), "%lld\t{\"eventId\":\"%s\",\"eventType\":\"user_registered\",\"userId\":%lld,"
	    "\"username\":\"gone%lld\",\"email\":\"%s\"}\n", (long long)uid, e[3], (long long)uid,
	    (long long)uid, email);
	CU_ASSERT_FATAL(flow_produce("user-registration-events", text) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE event_id IN ('%s', '%s')",
	    e[2], e[3]);
	CU_ASSERT_EQUAL_FATAL(flow_wait_count("notifications", sql, 2, 30), 2);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "status = 'undeliverable' AND last_error = 'recipient deleted'", (long long)uid);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 3, 30), 3);
	/* a mail that went out after these would have shown by now: one of
	 * another user's, mailed after the events above were stored */
	{
		struct flow_user w;
		CU_ASSERT_FATAL(flow_register(&w, "ngd") == 0);
		for (i = 0; i < 300 && flow_mails_to(w.email, NULL) < 2; i++)
			itest_sleep_ms(100);
		CU_ASSERT_EQUAL(flow_mails_to(w.email, NULL), 2);
	}
	CU_ASSERT_EQUAL(flow_mails_to(email, NULL), 0);
	CU_ASSERT_EQUAL(flow_count("notifications", sql), 3);
}

static CU_TestInfo tests[] = {
	{ "one notification: owner, other user, admin; read once; unread filter", test_get_and_read },
	{ "SMTP 550 fails at once, 451 is retried", test_smtp_replies },
	{ "no recipient after the wait: undeliverable", test_unknown_recipient },
	{ "a deleted user's mail is never sent", test_deleted_user },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE(notifications, tests)
