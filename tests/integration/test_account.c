/*
 * test_account.c: the mailed flows, through the stack's SMTP sink: email
 * verification after registration and the forgotten-password reset. The
 * codes really arrive by mail, work once, and never show in the API.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "itest.h"

#define NOTIFS "/api/v1/eventstreammonitor/notifications"
#define VERIFY_SUBJECT "Verify your email address"
#define RESET_SUBJECT "Reset your EventStreamMonitor password"
#define NEW_PASSWORD "a brand new passphrase"

/* emailVerified of u as GET /users/{id} shows it: 1, 0, or -1. */
static int
verified(const struct flow_user *u)
{
	struct itest_resp r;
	char path[96];
	const cJSON *v;
	int rc = -1;

	snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)u->id);
	itest_json("GET", "gateway", path, NULL, u->access, &r);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.json, "user"),
	    "emailVerified");
	if (r.status == 200 && cJSON_IsBool(v))
		rc = cJSON_IsTrue(v);
	itest_resp_free(&r);
	return rc;
}

/* Neither the API nor the stored text show code to anyone. */
static void
code_not_shown(const struct flow_user *u, const struct flow_user *admin, const char *code)
{
	struct itest_resp r;
	char sql[256];

	itest_json("GET", "gateway", NOTIFS "?limit=100", NULL, u->access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.body != NULL && strstr(r.body, code) == NULL);
	itest_resp_free(&r);
	itest_json("GET", "gateway", NOTIFS "?limit=100", NULL, admin->access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.body != NULL && strstr(r.body, code) == NULL);
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE message LIKE '%%%s%%' "
	    "OR mail_secret = '%s'", code, code);
	/* Sent: the code is gone from the row as well. */
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 0, 10), 0);
}

static void
test_verify_email(void)
{
	struct flow_user u, admin;
	char code[64], body[128];

	if (flow_user(&u, "vrfy", 0) == -1 || flow_user(&admin, "vrad", 1) == -1)
		return;
	CU_ASSERT_EQUAL(verified(&u), 0);
	CU_ASSERT_FATAL(flow_mail_code(u.email, VERIFY_SUBJECT, NULL, code, sizeof(code), 30) == 1);
	/* Refusals: malformed, unknown, and nothing changes. */
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/verify-email", "{\"token\":\"nope\"}", NULL), 400);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/verify-email",
	    "{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", NULL), 400);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/verify-email", "{}", NULL), 400);
	CU_ASSERT_EQUAL(verified(&u), 0);
	/* The code from the mail works, once. */
	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", code);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/verify-email", body, NULL), 204);
	CU_ASSERT_EQUAL(verified(&u), 1);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/verify-email", body, NULL), 400);
	code_not_shown(&u, &admin, code);
	/* Codes are stored only as hashes. */
	{
		char sql[256];
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM account_tokens WHERE token_hash = '%s'",
		    code);
		CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 0);
	}
}

static void
test_password_reset(void)
{
	struct flow_user u, admin;
	struct itest_resp r;
	char code[64], code2[64], body[256], sql[256], nobody[96];
	int64_t before;

	if (flow_user(&u, "rset", 0) == -1 || flow_user(&admin, "rsad", 1) == -1)
		return;
	/* An address nobody has gets the same answer, and no mail. */
	itest_unique(nobody, 21, "nobody");
	strcat(nobody, "@example.org");
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", nobody);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset", body, NULL), 202);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset", "{\"email\":5}", NULL), 400);
	/* The owner's address, in another case: a mail with a code. */
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", u.email);
	for (char *c = strchr(body, ':'); *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 32);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset", body, NULL), 202);
	CU_ASSERT_FATAL(flow_mail_code(u.email, RESET_SUBJECT, NULL, code, sizeof(code), 30) == 1);
	CU_ASSERT_EQUAL(flow_mails_to(nobody, NULL), 0);
	/* A bad new password or a wrong code changes nothing. */
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"newPassword\":\"short\"}", code);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset/confirm", body, NULL), 400);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset/confirm",
	    "{\"token\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"newPassword\":\"" NEW_PASSWORD "\"}",
	    NULL), 400);
	itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	/* The code sets the new password and ends every session. */
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"newPassword\":\"" NEW_PASSWORD "\"}", code);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset/confirm", body, NULL), 204);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset/confirm", body, NULL), 400);
	itest_sleep_ms(2000);
	itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"" FLOW_PASSWORD "\"}",
	    u.username);
	CU_ASSERT_EQUAL(flow_post(AUTH_BASE "/login", body, NULL), 401);
	CU_ASSERT_FATAL(flow_login_as(&u, NEW_PASSWORD) == 0);
	code_not_shown(&u, &admin, code);
	/* An expired code is refused. */
	before = flow_count("registrations", "SELECT count(*) FROM account_tokens");
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", u.email);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset", body, NULL), 202);
	CU_ASSERT_EQUAL(flow_count("registrations", "SELECT count(*) FROM account_tokens"), before + 1);
	snprintf(sql, sizeof(sql), "UPDATE account_tokens SET expires_at = now() - interval '1 s' "
	    "WHERE user_id = %lld AND used_at IS NULL", (long long)u.id);
	CU_ASSERT(itest_sql_exec("registrations", sql) == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "subject = '" RESET_SUBJECT "' AND status = 'sent'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 2, 30), 2);
	/* The second mail's code, expired before its use. */
	CU_ASSERT_FATAL(flow_mail_code(u.email, RESET_SUBJECT, code, code2, sizeof(code2), 5) == 1);
	snprintf(body, sizeof(body), "{\"token\":\"%s\",\"newPassword\":\"another passphrase 9\"}",
	    code2);
	CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset/confirm", body, NULL), 400);
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"" NEW_PASSWORD "\"}",
	    u.username);
	CU_ASSERT_EQUAL(flow_post(AUTH_BASE "/login", body, NULL), 200);
}

/* Reset mails to one address are limited (ESM_RATE_RESET_EMAIL, 3 an
 * hour), silently: every request still gets 202. */
static void
test_reset_mail_limit(void)
{
	struct flow_user u;
	char body[256], sql[256];
	int i;

	if (flow_user(&u, "rslm", 0) == -1)
		return;
	snprintf(body, sizeof(body), "{\"email\":\"%s\"}", u.email);
	for (i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(flow_post(USERS_BASE "/password-reset", body, NULL), 202);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM account_tokens WHERE user_id = %lld AND "
	    "purpose = 'password_reset'", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 3);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM notifications WHERE user_id = %lld AND "
	    "subject = '" RESET_SUBJECT "' AND status = 'sent'", (long long)u.id);
	CU_ASSERT_EQUAL(flow_wait_count("notifications", sql, 3, 30), 3);
	itest_sleep_ms(1000);
	CU_ASSERT_EQUAL(flow_mails_to(u.email, RESET_SUBJECT), 3);
}

static CU_TestInfo tests[] = {
	{ "reset mails to one address are limited, silently", test_reset_mail_limit },
	{ "registration mails a code that verifies the address once", test_verify_email },
	{ "a forgotten password is reset by a mailed code, once", test_password_reset },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(account, tests)
