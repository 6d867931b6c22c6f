/*
 * test_notifier.c: the notifier's decisions (worker/notifier/handle.c):
 * event parsing and what is dead-lettered, the notification texts of each
 * event type, backoff, the topic list; the mail message (shared/mail.c);
 * and the notification list's query and paging (fcgi/notifications/query.c).
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "mail.h"
#include "unit.h"
#include "../../fcgi/notifications/notifs.h"
#include "../../worker/notifier/notifier.h"

#define EID "\"eventId\":\"0B3E1C4A-1234-4abc-9def-0123456789ab\""

static int
parse(const char *s, struct notifier_event *ev, const char **why)
{
	return notifier_parse(s, strlen(s), ev, why);
}

static void
test_parse_known(void)
{
	struct notifier_event ev;
	const char *why;

	CU_ASSERT_EQUAL_FATAL(parse("{" EID ",\"eventType\":\"user_registered\",\"userId\":1000,"
	    "\"username\":\"alice\",\"email\":\"alice@example.org\",\"firstName\":null,"
	    "\"source\":\"usermanagement\",\"timestamp\":\"2026-11-25T10:00:00.000000Z\"}", &ev, &why), 0);
	CU_ASSERT_EQUAL(ev.kind, NK_USER_REGISTERED);
	CU_ASSERT_STRING_EQUAL(ev.event_id, "0b3e1c4a-1234-4abc-9def-0123456789ab");
	CU_ASSERT_EQUAL(ev.user_id, 1000);
	CU_ASSERT_STRING_EQUAL(ev.username, "alice");
	CU_ASSERT_STRING_EQUAL(ev.email, "alice@example.org");
	CU_ASSERT_STRING_EQUAL(ev.source, "usermanagement");

	CU_ASSERT_EQUAL_FATAL(parse("{" EID ",\"eventType\":\"task_created\",\"userId\":\"1001\","
	    "\"taskId\":1000,\"taskReference\":\"TASK2026112500AB12CF\",\"taskType\":\"file_upload\","
	    "\"priority\":\"high\"}", &ev, &why), 0);
	CU_ASSERT_EQUAL(ev.kind, NK_TASK_CREATED);
	CU_ASSERT_EQUAL(ev.user_id, 1001);
	CU_ASSERT_STRING_EQUAL(ev.task_ref, "TASK2026112500AB12CF");

	CU_ASSERT_EQUAL(parse("{" EID ",\"eventType\":\"task_cancelled\",\"userId\":7,"
	    "\"taskReference\":\"TASK2026112500AB12CF\",\"previousStatus\":\"pending\"}", &ev, &why), 0);
	CU_ASSERT_EQUAL(ev.kind, NK_TASK_CANCELLED);
	CU_ASSERT_EQUAL(parse("{" EID ",\"eventType\":\"user_deleted\",\"userId\":7,\"username\":\"bob\"}",
	    &ev, &why), 0);
	CU_ASSERT_EQUAL(ev.kind, NK_USER_DELETED);
	/* unknown types are fine, with or without a user */
	CU_ASSERT_EQUAL(parse("{" EID ",\"eventType\":\"flight_delayed\",\"flight\":\"LH400\"}", &ev, &why), 0);
	CU_ASSERT_EQUAL(ev.kind, NK_GENERIC);
	CU_ASSERT_EQUAL(ev.user_id, 0);
}

static void
test_parse_dead_letters(void)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2]",
		"\"string\"",
		"{\"eventType\":\"task_created\"}",
		"{\"eventId\":\"not-a-uuid\",\"eventType\":\"x\"}",
		"{\"eventId\":12,\"eventType\":\"x\"}",
		"{" EID "}",
		"{" EID ",\"eventType\":\"\"}",
		"{" EID ",\"eventType\":\"has space\"}",
		"{" EID ",\"eventType\":7}",
		"{" EID ",\"eventType\":\"x\",\"userId\":-1}",
		"{" EID ",\"eventType\":\"x\",\"userId\":1.5}",
		"{" EID ",\"eventType\":\"x\",\"userId\":\"12abc\"}",
		"{" EID ",\"eventType\":\"x\",\"userId\":true}",
		"{" EID ",\"eventType\":\"user_registered\",\"userId\":1,\"username\":\"a\"}",
		"{" EID ",\"eventType\":\"user_registered\",\"userId\":1,\"username\":\"a\",\"email\":\"nope\"}",
		"{" EID ",\"eventType\":\"user_registered\",\"username\":\"a\",\"email\":\"a@example.org\"}",
		"{" EID ",\"eventType\":\"task_created\",\"userId\":1,\"taskType\":\"t\",\"priority\":\"low\"}",
		"{" EID ",\"eventType\":\"task_created\",\"userId\":1,\"taskReference\":\"R\",\"priority\":\"low\"}",
		"{" EID ",\"eventType\":\"task_cancelled\",\"taskReference\":\"R\"}",
		/* header injection through a name that ends up in a mail */
		"{" EID ",\"eventType\":\"user_registered\",\"userId\":1,\"username\":\"a\\r\\nBcc: x@evil.org\","
		"\"email\":\"a@example.org\"}",
		"{" EID ",\"eventType\":\"x\",\"source\":{\"a\":1}}",
		"{" EID ",\"eventType\":\"x\"} trailing",
		"{" EID ",\"eventType\":\"x\",\"eventType\":\"y\"}",
		"{" EID ",\"eventType\":\"bad\xff\"}",
	};
	struct notifier_event ev;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (parse(bad[i], &ev, &why) != -1) {
			fprintf(stderr, "  accepted: %s\n", bad[i]);
			CU_FAIL("unparseable message accepted");
		}
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	CU_ASSERT_EQUAL(notifier_parse(NULL, 0, &ev, &why), -1);
}

/* A required text that is present but empty is missing: else a welcome
 * mail says "Welcome !" and a task mail "Your task  has been cancelled."
 * (found by tests/fuzz/fuzz_notifier.c). */
static void
test_parse_empty_required(void)
{
	static const char *const bad[] = {
		"{" EID ",\"eventType\":\"user_registered\",\"userId\":1,\"username\":\"\","
		"\"email\":\"a@example.org\"}",
		"{" EID ",\"eventType\":\"task_created\",\"userId\":1,\"taskReference\":\"\","
		"\"taskType\":\"t\",\"priority\":\"low\"}",
		"{" EID ",\"eventType\":\"task_cancelled\",\"userId\":1,\"taskReference\":\"\"}",
	};
	struct notifier_event ev;
	const char *why;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(parse(bad[i], &ev, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
	/* user_deleted names its user optionally: empty is absent. */
	CU_ASSERT_EQUAL(parse("{" EID ",\"eventType\":\"user_deleted\",\"userId\":1,\"username\":\"\"}",
	    &ev, &why), 0);
}

static void
render(const char *json, struct notifier_note *n)
{
	struct notifier_event ev;
	const char *why;

	CU_ASSERT_EQUAL_FATAL(parse(json, &ev, &why), 0);
	notifier_render(&ev, n);
}

static void
test_render(void)
{
	struct notifier_note n;

	render("{" EID ",\"eventType\":\"user_registered\",\"userId\":1000,\"username\":\"alice\","
	    "\"email\":\"alice@example.org\"}", &n);
	CU_ASSERT(n.write);
	CU_ASSERT_STRING_EQUAL(n.subject, "Welcome to EventStreamMonitor");
	CU_ASSERT_STRING_EQUAL(n.message, "Welcome alice! Your account has been successfully created.");
	CU_ASSERT_STRING_EQUAL(n.email, "alice@example.org");
	CU_ASSERT_STRING_EQUAL(n.channel, "email");
	CU_ASSERT_STRING_EQUAL(n.status, "pending");

	render("{" EID ",\"eventType\":\"task_created\",\"userId\":1000,\"taskReference\":\"TASK2026112500AB12CF\","
	    "\"taskType\":\"data_export\",\"priority\":\"critical\"}", &n);
	CU_ASSERT_STRING_EQUAL(n.subject, "Task Created");
	CU_ASSERT_STRING_EQUAL(n.message,
	    "Your task TASK2026112500AB12CF has been created. Task Type: data_export, Priority: critical");
	CU_ASSERT_PTR_NULL(n.email);	/* from the user projection */

	render("{" EID ",\"eventType\":\"task_cancelled\",\"userId\":1000,\"taskReference\":\"TASK2026112500AB12CF\","
	    "\"taskType\":\"data_export\",\"previousStatus\":\"pending\"}", &n);
	CU_ASSERT_STRING_EQUAL(n.subject, "Task Cancelled");
	CU_ASSERT_STRING_EQUAL(n.message, "Your task TASK2026112500AB12CF has been cancelled.");

	render("{" EID ",\"eventType\":\"user_deleted\",\"userId\":1000,\"username\":\"alice\"}", &n);
	CU_ASSERT_FALSE(n.write);

	render("{" EID ",\"eventType\":\"booking_confirmed\",\"userId\":42,\"source\":\"booking\"}", &n);
	CU_ASSERT(n.write);
	CU_ASSERT_STRING_EQUAL(n.subject, "Notification: booking_confirmed");
	CU_ASSERT_STRING_EQUAL(n.message, "Event booking_confirmed received from booking.");
	CU_ASSERT_STRING_EQUAL(n.channel, "email");
	CU_ASSERT_STRING_EQUAL(n.status, "pending");

	render("{" EID ",\"eventType\":\"flight_delayed\"}", &n);
	CU_ASSERT_STRING_EQUAL(n.message, "Event flight_delayed received.");
	CU_ASSERT_STRING_EQUAL(n.channel, "log");
	CU_ASSERT_STRING_EQUAL(n.status, "sent");
}

static void
test_backoff_and_topics(void)
{
	int cur = 0, i;
	const char *t[4];
	char buf[256];

	CU_ASSERT_EQUAL(notifier_backoff(&cur), 100);
	CU_ASSERT_EQUAL(notifier_backoff(&cur), 200);
	for (i = 0; i < 20; i++)
		notifier_backoff(&cur);
	CU_ASSERT_EQUAL(cur, NOTIFIER_BACKOFF_MAX_MS);
	CU_ASSERT_EQUAL(notifier_mail_delay_ms(1), 1000);
	CU_ASSERT_EQUAL(notifier_mail_delay_ms(2), 2000);
	CU_ASSERT_EQUAL(notifier_mail_delay_ms(4), 8000);
	CU_ASSERT_EQUAL(notifier_mail_delay_ms(50), 300000);

	CU_ASSERT_EQUAL(notifier_topics(NOTIFIER_DEFAULT_TOPICS, buf, t, 4), 4);
	CU_ASSERT_STRING_EQUAL(t[0], "user-registration-events");
	CU_ASSERT_STRING_EQUAL(t[3], "flight-updates");
	CU_ASSERT_EQUAL(notifier_topics(" a , b.c ", buf, t, 4), 2);
	CU_ASSERT_STRING_EQUAL(t[0], "a");
	CU_ASSERT_STRING_EQUAL(t[1], "b.c");
	CU_ASSERT_EQUAL(notifier_topics("", buf, t, 4), -1);
	CU_ASSERT_EQUAL(notifier_topics("a,b c", buf, t, 4), -1);
	CU_ASSERT_EQUAL(notifier_topics("a,b,c,d,e", buf, t, 4), -1);
}

static void
test_mail_format(void)
{
	buf_t b = { 0 };

	CU_ASSERT_EQUAL_FATAL(mail_format(&b, "n@example.org", "alice@example.org", "Task Created",
	    "line one\nline two\r\n.dot", 1795601472LL * 1000000, "abc-1"), 0);
	CU_ASSERT_STRING_EQUAL(b.p,
	    "From: <n@example.org>\r\nTo: <alice@example.org>\r\nSubject: Task Created\r\n"
	    "Date: Wed, 25 Nov 2026 10:11:12 +0000\r\nMessage-ID: <abc-1@esm>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	    "line one\r\nline two\r\n.dot\r\n");
	buf_reset(&b);
	CU_ASSERT_EQUAL(mail_format(&b, "n@example.org", "alice@example.org", "Gr\xc3\xbc\xc3\x9f" "e",
	    "x", 0, "m"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"));
	buf_reset(&b);
	/* no header injection, no bad addresses */
	CU_ASSERT_EQUAL(mail_format(&b, "n@example.org", "a@example.org", "x\r\nBcc: e@evil.org", "x", 0, "m"), -1);
	CU_ASSERT_EQUAL(mail_format(&b, "n@example.org", "a@example.org>\r\nRCPT TO:<e@evil.org", "x", "x", 0, "m"), -1);
	CU_ASSERT_EQUAL(mail_format(&b, "nobody", "a@example.org", "x", "x", 0, "m"), -1);
	CU_ASSERT_EQUAL(mail_format(&b, "n@example.org", "a@example.org", "x", "x", 0, "m>"), -1);
	buf_free(&b);
}

static void
test_notifs_query(void)
{
	static const char *const names[] = { "userId", "eventType", "status", "limit", "offset" };
	char v[5][NOTIFS_QVAL_MAX + 1], bad[NOTIFS_QVAL_MAX + 1];
	int have[5];
	int64_t lim, off;
	const char *which;

	CU_ASSERT_EQUAL(query_parse("eventType=task_created&status=sent&limit=5", names, 5, v, have, bad), 0);
	CU_ASSERT(have[1] && have[2] && have[3] && !have[0]);
	CU_ASSERT_EQUAL(query_parse("channel=email", names, 5, v, have, bad), -1);
	CU_ASSERT_STRING_EQUAL(bad, "channel");
	CU_ASSERT_EQUAL(notifs_paging("100", "0", &lim, &off, &which), 0);
	CU_ASSERT_EQUAL(notifs_paging("101", "0", &lim, &off, &which), -1);
	CU_ASSERT_EQUAL(notifs_paging(NULL, "-1", &lim, &off, &which), -1);
	CU_ASSERT_STRING_EQUAL(which, "offset");
	CU_ASSERT(notifs_valid_status("failed"));
	CU_ASSERT(!notifs_valid_status("delivered"));
	CU_ASSERT(notifs_valid_status("undeliverable"));
	CU_ASSERT(notifs_valid_bool("true"));
	CU_ASSERT(notifs_valid_bool("false"));
	CU_ASSERT(!notifs_valid_bool("1"));
	CU_ASSERT(!notifs_valid_bool("TRUE"));
	CU_ASSERT(!notifs_valid_bool(""));
	CU_ASSERT(notifs_valid_event_type("task_created"));
	CU_ASSERT(!notifs_valid_event_type("a b"));
	CU_ASSERT(!notifs_valid_event_type(""));
}

/* A 5xx reply is final; 4xx and no reply at all retry until the last attempt. */
static void
test_mail_outcome(void)
{
	CU_ASSERT_EQUAL(notifier_mail_outcome(1, 0, 1, 5), NM_SENT);
	CU_ASSERT_EQUAL(notifier_mail_outcome(1, 0, 5, 5), NM_SENT);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 550, 1, 5), NM_FAILED);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 554, 1, 5), NM_FAILED);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 500, 1, 5), NM_FAILED);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 599, 1, 5), NM_FAILED);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 451, 1, 5), NM_RETRY);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 421, 4, 5), NM_RETRY);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 0, 1, 5), NM_RETRY);	/* connection, timeout */
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 451, 5, 5), NM_FAILED);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 0, 5, 5), NM_FAILED);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 0, 1, 1), NM_FAILED);
	/* a reply no server sends after a refusal is not taken for a 5xx */
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 250, 1, 5), NM_RETRY);
	CU_ASSERT_EQUAL(notifier_mail_outcome(0, 600, 1, 5), NM_RETRY);
}

static void
test_pg_array(void)
{
	const char *v[] = { "plain", "say \"hi\"", "back\\slash", NULL, "", "{,}" };
	buf_t b = { 0 };

	CU_ASSERT_EQUAL(notifier_pg_array(&b, v, 6), 0);
	CU_ASSERT_STRING_EQUAL(b.p,
	    "{\"plain\",\"say \\\"hi\\\"\",\"back\\\\slash\",NULL,\"\",\"{,}\"}");
	CU_ASSERT_EQUAL(notifier_pg_array(&b, v, 0), 0);
	CU_ASSERT_STRING_EQUAL(b.p, "{}");
	buf_free(&b);
}

/* task_status_changed: a notification when the task ended, none when it
 * started; malformed ones are dead letters like any other. */
static void
test_task_status(void)
{
	static const struct {
		const char *status, *subject, *message;
	} cases[] = {
		{ "completed", "Task Completed", "Your task TASK2026112500AB12CF has been completed." },
		{ "failed", "Task Failed", "Your task TASK2026112500AB12CF has failed." },
		{ "processing", NULL, NULL },
	};
	static const char *const bad[] = {
		"{" EID ",\"eventType\":\"task_status_changed\",\"userId\":7,"
		    "\"taskReference\":\"TASK2026112500AB12CF\"}",
		"{" EID ",\"eventType\":\"task_status_changed\",\"userId\":7,"
		    "\"taskReference\":\"TASK2026112500AB12CF\",\"status\":7}",
		"{" EID ",\"eventType\":\"task_status_changed\",\"userId\":7,"
		    "\"taskReference\":\"TASK2026112500AB12CF\",\"status\":\"done now\"}",
		"{" EID ",\"eventType\":\"task_status_changed\",\"userId\":7,\"status\":\"completed\"}",
		"{" EID ",\"eventType\":\"task_status_changed\",\"taskReference\":\"T\","
		    "\"status\":\"completed\"}",
	};
	struct notifier_event ev;
	struct notifier_note n;
	const char *why;
	char msg[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(msg, sizeof(msg), "{" EID ",\"eventType\":\"task_status_changed\",\"userId\":7,"
		    "\"taskId\":1000,\"taskReference\":\"TASK2026112500AB12CF\",\"previousStatus\":"
		    "\"processing\",\"status\":\"%s\",\"progress\":100}", cases[i].status);
		CU_ASSERT_EQUAL_FATAL(parse(msg, &ev, &why), 0);
		CU_ASSERT_EQUAL(ev.kind, NK_TASK_STATUS);
		CU_ASSERT_STRING_EQUAL(ev.status, cases[i].status);
		notifier_render(&ev, &n);
		if (cases[i].subject == NULL) {
			CU_ASSERT_EQUAL(n.write, 0);
			continue;
		}
		CU_ASSERT_EQUAL(n.write, 1);
		CU_ASSERT_STRING_EQUAL(n.subject, cases[i].subject);
		CU_ASSERT_STRING_EQUAL(n.message, cases[i].message);
		CU_ASSERT_STRING_EQUAL(n.channel, "email");
		CU_ASSERT_STRING_EQUAL(n.status, "pending");
		CU_ASSERT_PTR_NULL(n.email);	/* the projection's address */
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(parse(bad[i], &ev, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
}

#define TOK "Zm9vYmFyLXNlY3JldC1jb2RlLTAxMjM0NTY3ODlhYmM"

/* Account mails carry their code apart from the text: the stored message
 * never has it. */
static void
test_account_mails(void)
{
	struct notifier_note n;
	struct notifier_event ev;
	const char *why;
	const char *bad[] = {
		"{" EID ",\"eventType\":\"password_reset_requested\",\"userId\":1,\"username\":\"a\","
		    "\"email\":\"a@example.org\"}",
		"{" EID ",\"eventType\":\"password_reset_requested\",\"userId\":1,\"username\":\"a\","
		    "\"email\":\"a@example.org\",\"token\":\"short\"}",
		"{" EID ",\"eventType\":\"password_reset_requested\",\"userId\":1,\"username\":\"a\","
		    "\"email\":\"a@example.org\",\"token\":\"" TOK "x\"}",
		"{" EID ",\"eventType\":\"email_verification_requested\",\"userId\":1,\"username\":\"a\","
		    "\"email\":\"a@example.org\",\"token\":\"Zm9vYmFyLXNlY3JldC1jb2RlLTAxMjM0NTY3ODlhYm\\n\"}",
		"{" EID ",\"eventType\":\"email_verification_requested\",\"userId\":1,\"username\":\"a\","
		    "\"email\":\"nope\",\"token\":\"" TOK "\"}",
		"{" EID ",\"eventType\":\"email_verification_requested\",\"username\":\"a\","
		    "\"email\":\"a@example.org\",\"token\":\"" TOK "\"}",
	};

	render("{" EID ",\"eventType\":\"password_reset_requested\",\"userId\":1000,\"username\":\"ann\","
	    "\"email\":\"ann@example.org\",\"token\":\"" TOK "\"}", &n);
	CU_ASSERT(n.write);
	CU_ASSERT_STRING_EQUAL(n.subject, "Reset your EventStreamMonitor password");
	CU_ASSERT_STRING_EQUAL(n.email, "ann@example.org");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n.secret);
	CU_ASSERT_STRING_EQUAL(n.secret, TOK);
	CU_ASSERT_PTR_NULL(strstr(n.message, TOK));
	render("{" EID ",\"eventType\":\"email_verification_requested\",\"userId\":1000,\"username\":\"ann\","
	    "\"email\":\"ann@example.org\",\"token\":\"" TOK "\"}", &n);
	CU_ASSERT_STRING_EQUAL(n.subject, "Verify your email address");
	CU_ASSERT_PTR_NOT_NULL_FATAL(n.secret);
	CU_ASSERT_PTR_NULL(strstr(n.message, TOK));
	render("{" EID ",\"eventType\":\"user_password_changed\",\"userId\":1000,\"username\":\"ann\"}", &n);
	CU_ASSERT_STRING_EQUAL(n.subject, "Your password was changed");
	CU_ASSERT_PTR_NULL(n.secret);
	CU_ASSERT_PTR_NULL(n.email);	/* the address comes from the projection */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(parse(bad[i], &ev, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
}

static CU_TestInfo tests[] = {
	{ "account mails keep their code apart", test_account_mails },
	{ "parse the contract's events", test_parse_known },
	{ "task status changes: texts, silence, dead letters", test_task_status },
	{ "unparseable messages are refused with a reason", test_parse_dead_letters },
	{ "an empty required text is refused", test_parse_empty_required },
	{ "notification texts", test_render },
	{ "array literals for the multi-row insert", test_pg_array },
	{ "backoff, mail retry delay, topic list", test_backoff_and_topics },
	{ "mail message and header injection", test_mail_format },
	{ "notification list query and paging", test_notifs_query },
	{ "SMTP replies: 5xx fails at once, 4xx retries", test_mail_outcome },
	CU_TEST_INFO_NULL,
};
UNIT_SUITE(notifier, tests)
