/*
 * test_revocation.c: revoked sessions take effect at every service within
 * 2 seconds: logout, a replayed refresh token, user deletion, a password
 * change and a role change. Each scenario first shows the token working
 * everywhere, then revokes, then asks every service again and again until
 * all refuse it, and after 2 s asks each several times (a pool has several
 * processes, each with its own copy of the list).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flows.h"
#include "itest.h"

#define NOTIFS "/api/v1/eventstreammonitor/notifications"
#define REVOKE_WITHIN_MS 2000
#define PER_SERVICE 8		/* requests per service once the time is up */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The bearer routes of each service, as u's token would call them. */
static void
paths(const struct flow_user *u, const char *path[4])
{
	static char users[96];

	snprintf(users, sizeof(users), USERS_BASE "/%lld", (long long)u->id);
	path[0] = AUTH_BASE "/validate";
	path[1] = users;
	path[2] = TASKS;
	path[3] = NOTIFS;
}

/* Status of token at service i. */
static long
ask(const char *path, const char *token, int *revoked)
{
	struct itest_resp r;
	long st = itest_json("GET", "gateway", path, NULL, token, &r);

	*revoked = st == 401 && r.body != NULL && strstr(r.body, "token revoked") != NULL;
	itest_resp_free(&r);
	return st;
}

/* token works at every service. */
static void
works_everywhere(const struct flow_user *u, const char *token)
{
	const char *path[4];
	int i, rev;

	paths(u, path);
	for (i = 0; i < 4; i++) {
		long st = ask(path[i], token, &rev);
		if (st != 200)
			fprintf(stderr, "\n  %s: %ld before revocation\n", path[i], st);
		CU_ASSERT_EQUAL(st, 200);
	}
}

/* Every service refuses each of the n tokens as revoked within
 * REVOKE_WITHIN_MS of t0 (when the revoking request returned), and every
 * request after that. */
static void
refused_everywhere(const struct flow_user *u, const char *const *tokens, int n, int64_t t0)
{
	const char *path[4];
	int64_t first[4][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 }, { -1, -1 } }, worst = 0;
	int i, t, k, rev, left = 4 * n;

	CU_ASSERT_FATAL(n >= 1 && n <= 2);
	paths(u, path);
	while (left > 0 && now_ms() - t0 <= REVOKE_WITHIN_MS + 1000) {
		for (t = 0; t < n; t++)
			for (i = 0; i < 4; i++) {
				if (first[i][t] >= 0)
					continue;
				(void)ask(path[i], tokens[t], &rev);
				if (rev) {
					first[i][t] = now_ms() - t0;
					left--;
				}
			}
		itest_sleep_ms(50);
	}
	for (t = 0; t < n; t++)
		for (i = 0; i < 4; i++) {
			if (first[i][t] < 0 || first[i][t] > REVOKE_WITHIN_MS)
				fprintf(stderr, "\n  %s: token %d revoked after %lld ms\n", path[i], t,
				    (long long)first[i][t]);
			CU_ASSERT(first[i][t] >= 0 && first[i][t] <= REVOKE_WITHIN_MS);
			if (first[i][t] > worst)
				worst = first[i][t];
		}
	fprintf(stderr, " [all refused %lld ms after] ", (long long)worst);
	while (now_ms() - t0 < REVOKE_WITHIN_MS)
		itest_sleep_ms(50);
	for (t = 0; t < n; t++)
		for (i = 0; i < 4; i++)
			for (k = 0; k < PER_SERVICE; k++) {
				long st = ask(path[i], tokens[t], &rev);
				if (!rev)
					fprintf(stderr, "\n  %s: %ld after %d ms\n", path[i], st,
					    REVOKE_WITHIN_MS);
				CU_ASSERT(rev);
			}
}

/* Another session of u (or a refused login): its tokens in s. */
static int
second_session(const struct flow_user *u, const char *password, struct flow_user *s)
{
	*s = *u;
	return flow_login_as(s, password);
}

static void
test_logout(void)
{
	struct flow_user u;
	struct flow_user s2;
	char body[256];
	int64_t t0;

	if (flow_user(&u, "rvlo", 0) == -1)
		return;
	CU_ASSERT_FATAL(second_session(&u, FLOW_PASSWORD, &s2) == 0);
	works_everywhere(&u, u.access);
	works_everywhere(&u, s2.access);
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	CU_ASSERT_EQUAL(flow_post(AUTH_BASE "/logout", body, NULL), 204);
	t0 = now_ms();
	refused_everywhere(&u, (const char *[]){ u.access }, 1, t0);
	/* The other session of the same user goes on. */
	works_everywhere(&u, s2.access);
	/* Logging out with a spent or unknown token ends nothing. */
	CU_ASSERT_EQUAL(flow_post(AUTH_BASE "/logout", body, NULL), 204);
	works_everywhere(&u, s2.access);
}

static void
test_refresh_replay(void)
{
	struct flow_user u;
	struct itest_resp r;
	char body[256], access2[2048];
	const cJSON *a;
	int64_t t0;

	if (flow_user(&u, "rvrp", 0) == -1)
		return;
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	a = cJSON_GetObjectItemCaseSensitive(r.json, "accessToken");
	CU_ASSERT_FATAL(cJSON_IsString(a));
	snprintf(access2, sizeof(access2), "%s", a->valuestring);
	itest_resp_free(&r);
	works_everywhere(&u, access2);
	/* The spent token again: a replay. The session ends, including the
	 * access tokens it issued before and after the rotation. */
	CU_ASSERT_EQUAL(flow_post(AUTH_BASE "/refresh", body, NULL), 401);
	t0 = now_ms();
	{
		const char *tok[2] = { access2, u.access };
		refused_everywhere(&u, tok, 2, t0);
	}
}

static void
test_delete(void)
{
	struct flow_user u, admin;
	struct itest_resp r;
	char path[96];
	int64_t t0;

	if (flow_user(&u, "rvdl", 0) == -1 || flow_user(&admin, "rvda", 1) == -1)
		return;
	works_everywhere(&u, u.access);
	snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)u.id);
	itest_json("DELETE", "gateway", path, NULL, admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	t0 = now_ms();
	refused_everywhere(&u, (const char *[]){ u.access }, 1, t0);
	/* The administrator's own session is not touched. */
	works_everywhere(&admin, admin.access);
}

static void
test_password_change(void)
{
	struct flow_user u, other;
	struct itest_resp r;
	struct flow_user s2, s3;
	char path[128], body[256];
	char sql[256];
	int64_t t0, events;

	if (flow_user(&u, "rvpw", 0) == -1 || flow_user(&other, "rvpo", 0) == -1)
		return;
	CU_ASSERT_FATAL(second_session(&u, FLOW_PASSWORD, &s2) == 0);
	snprintf(path, sizeof(path), USERS_BASE "/%lld/password", (long long)u.id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE msg_key = '%lld' AND "
	    "payload::jsonb->>'eventType' = 'user_password_changed'", (long long)u.id);
	/* Refusals change nothing and end no session. */
	CU_ASSERT_EQUAL(flow_post(path, "{\"currentPassword\":\"wrong password\","
	    "\"newPassword\":\"Another horse 42\"}", u.access), 403);
	CU_ASSERT_EQUAL(flow_post(path, "{\"currentPassword\":\"" FLOW_PASSWORD "\","
	    "\"newPassword\":\"Another horse 42\"}", other.access), 403);
	CU_ASSERT_EQUAL(flow_post(path, "{\"currentPassword\":\"" FLOW_PASSWORD "\","
	    "\"newPassword\":\"short\"}", u.access), 400);
	CU_ASSERT_EQUAL(flow_post(path, "{\"currentPassword\":\"" FLOW_PASSWORD "\"}", u.access), 400);
	CU_ASSERT_EQUAL(flow_post(path, "{\"currentPassword\":\"" FLOW_PASSWORD "\","
	    "\"newPassword\":\"Another horse 42\",\"extra\":1}", u.access), 400);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 0);
	works_everywhere(&u, u.access);
	works_everywhere(&u, s2.access);
	/* The change ends every session. */
	CU_ASSERT_EQUAL(flow_post(path, "{\"currentPassword\":\"" FLOW_PASSWORD "\","
	    "\"newPassword\":\"Another horse 42\"}", u.access), 204);
	t0 = now_ms();
	events = itest_sql_int("registrations", sql);
	CU_ASSERT_EQUAL(events, 1);
	{
		const char *tok[2] = { u.access, s2.access };
		refused_everywhere(&u, tok, 2, t0);
	}
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", s2.refresh);
	CU_ASSERT_EQUAL(flow_post(AUTH_BASE "/refresh", body, NULL), 401);
	/* The old password is gone, the new one opens a session that works. */
	CU_ASSERT(second_session(&u, FLOW_PASSWORD, &s3) == -1);
	CU_ASSERT_FATAL(second_session(&u, "Another horse 42", &s3) == 0);
	works_everywhere(&u, s3.access);
	/* The event names the user and carries no secret. */
	itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, s3.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE msg_key = '%lld' AND "
	    "payload ~* 'horse'", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 0);
}

static void
test_role_change(void)
{
	struct flow_user u, admin;
	struct itest_resp r;
	struct flow_user s2;
	char path[128], sql[256];
	const cJSON *roles;
	int64_t t0;

	if (flow_user(&u, "rvro", 0) == -1 || flow_user(&admin, "rvra", 1) == -1)
		return;
	snprintf(path, sizeof(path), USERS_BASE "/%lld/role", (long long)u.id);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE msg_key = '%lld' AND "
	    "payload::jsonb->>'eventType' = 'user_role_changed'", (long long)u.id);
	/* Only administrators; only known roles; the same role changes nothing. */
	itest_json("PUT", "gateway", path, "{\"role\":\"admin\"}", u.access, &r);
	CU_ASSERT(itest_is_problem(&r, 403, "FORBIDDEN"));
	itest_resp_free(&r);
	itest_json("PUT", "gateway", path, "{\"role\":\"root\"}", admin.access, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
	itest_resp_free(&r);
	itest_json("PUT", "gateway", path, "{\"role\":\"user\"}", admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 0);
	works_everywhere(&u, u.access);
	/* Promotion: the tokens that say "user" stop working. */
	itest_json("PUT", "gateway", path, "{\"role\":\"admin\"}", admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	t0 = now_ms();
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 1);
	refused_everywhere(&u, (const char *[]){ u.access }, 1, t0);
	CU_ASSERT_FATAL(second_session(&u, FLOW_PASSWORD, &s2) == 0);
	itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, s2.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	roles = cJSON_GetObjectItemCaseSensitive(r.json, "roles");
	CU_ASSERT(cJSON_GetArraySize(roles) == 2);
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT role FROM users WHERE id = %lld", (long long)u.id);
	{
		char *role = itest_sql_text("registrations", sql);
		CU_ASSERT(role != NULL && strcmp(role, "admin") == 0);
		free(role);
	}
	/* No such user. */
	itest_json("PUT", "gateway", USERS_BASE "/999999999999/role", "{\"role\":\"admin\"}",
	    admin.access, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
}

/* The list every service reads: only through the internal listener, only
 * with the services' secret, and in its documented shape. */
static void
test_internal_list(void)
{
	struct itest_resp r;
	char secret[128] = "", hdr[160];
	const char *hdrs[2] = { hdr, NULL };
	FILE *f = fopen(getenv("ESM_INTERNAL_SECRET_FILE") ? getenv("ESM_INTERNAL_SECRET_FILE") : "",
	    "r");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_FATAL(fgets(secret, sizeof(secret), f) != NULL);
	fclose(f);
	secret[strcspn(secret, "\n")] = '\0';
	itest_json("GET", "gateway", "/internal/v1/auth/revocations", NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
	itest_json("GET", "internal", "/internal/v1/auth/revocations", NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
	snprintf(hdr, sizeof(hdr), "X-Internal-Secret: %s", secret);
	itest_http("GET", "internal", "/internal/v1/auth/revocations?since=0", NULL, NULL, 0, NULL,
	    hdrs, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r.json, "revoked")));
	CU_ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(r.json, "upto")));
	CU_ASSERT(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(r.json, "more")));
	itest_resp_free(&r);
	itest_http("GET", "internal", "/internal/v1/auth/revocations?since=-1", NULL, NULL, 0, NULL,
	    hdrs, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
	itest_resp_free(&r);
	itest_http("GET", "internal", "/internal/v1/auth/revocations?until=5", NULL, NULL, 0, NULL,
	    hdrs, &r);
	CU_ASSERT_EQUAL(r.status, 400);
	itest_resp_free(&r);
}

static CU_TestInfo tests[] = {
	{ "logout ends that session everywhere within 2 s", test_logout },
	{ "a replayed refresh token ends its session everywhere", test_refresh_replay },
	{ "a deleted user's tokens stop everywhere", test_delete },
	{ "a password change ends every session", test_password_change },
	{ "a role change ends the tokens of the old role", test_role_change },
	{ "the list of revocations is for the services only", test_internal_list },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(revocation, tests)
