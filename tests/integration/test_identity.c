/*
 * test_identity.c: user management and token flows end to end through
 * lighttpd: registration like the original system's own test, login,
 * validate, profile, refresh rotation and reuse, logout, deletion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

static void
test_register_like_original(void)
{
	static const char *const names[3] = { "alice", "bob", "carol" };
	struct itest_resp r;
	char body[512], uname[3][32], loc[128], want[128];
	int i;

	for (i = 0; i < 3; i++) {
		itest_unique(uname[i], 21, names[i]);
		snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s@example.com\","
		    "\"password\":\"Password123!\",\"firstName\":\"%s\",\"lastName\":\"Test\"}",
		    uname[i], uname[i], names[i]);
		itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
		CU_ASSERT_EQUAL(r.status, 201);
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(r.json, "user");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(u, "userId");
		CU_ASSERT(cJSON_IsNumber(id) && id->valuedouble >= 1000);
		CU_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(u, "createdAt")));
		CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(u, "dateOfBirth")));
		CU_ASSERT_PTR_NULL(strstr(r.body, "assword"));
		CU_ASSERT_PTR_NULL(strstr(r.body, "argon2"));
		if (cJSON_IsNumber(id)) {
			snprintf(want, sizeof(want), USERS_BASE "/%lld", (long long)id->valuedouble);
			CU_ASSERT(itest_header(&r, "Location", loc, sizeof(loc)) && strcmp(loc, want) == 0);
		}
		CU_ASSERT(itest_header(&r, "X-Request-Id", loc, sizeof(loc)) != NULL);
		itest_resp_free(&r);
	}
	/* The same user again: refused, and nothing is written. */
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s@example.com\","
	    "\"password\":\"Password123!\"}", uname[0], uname[0]);
	itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
	itest_is_problem(&r, 409, "CONFLICT");
	itest_resp_free(&r);
	/* Missing password. */
	snprintf(body, sizeof(body), "{\"username\":\"%sx\",\"email\":\"x%s@example.com\"}",
	    uname[1], uname[1]);
	itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
	itest_is_problem(&r, 400, "BAD_REQUEST");
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "\"password\""));
	itest_resp_free(&r);
}

static void
test_case_insensitive_uniqueness(void)
{
	struct flow_user u;
	struct itest_resp r;
	char body[512], upper[32];
	size_t i;

	if (flow_register(&u, "case") == -1)
		return;
	snprintf(upper, sizeof(upper), "%s", u.username);
	for (i = 0; upper[i]; i++)
		if (upper[i] >= 'a' && upper[i] <= 'z')
			upper[i] = (char)(upper[i] - 32);
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"OTHER%s\",\"password\":\"Password123!\"}",
	    upper, u.email);
	itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
	itest_is_problem(&r, 409, "CONFLICT");
	itest_resp_free(&r);
	snprintf(body, sizeof(body), "{\"username\":\"%sz\",\"email\":\"%s\",\"password\":\"Password123!\"}",
	    u.username, u.email);
	for (i = 0; body[i]; i++)	/* same email, other case */
		if (body[i] == 'e')
			body[i] = 'E';
	itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
	CU_ASSERT(r.status == 409 || r.status == 400);
	itest_resp_free(&r);
}

static void
test_login_validate_profile(void)
{
	struct flow_user u, other;
	struct itest_resp r;
	char path[128], body[256];
	const cJSON *v;

	if (flow_user(&u, "prof", 0) == -1 || flow_user(&other, "othr", 0) == -1)
		return;
	itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	v = cJSON_GetObjectItemCaseSensitive(r.json, "userId");
	CU_ASSERT(cJSON_IsNumber(v) && (int64_t)v->valuedouble == u.id);
	CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.json, "valid")));
	v = cJSON_GetObjectItemCaseSensitive(r.json, "username");
	CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, u.username) == 0);
	CU_ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(r.json, "roles")));
	CU_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r.json, "expiresAt")));
	itest_resp_free(&r);

	snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)u.id);
	itest_json("GET", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.json, "user"), "email");
	CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, u.email) == 0);
	CU_ASSERT_PTR_NULL(strstr(r.body, "assword"));
	itest_resp_free(&r);
	/* The compatibility port answers the same. */
	itest_json("GET", "users", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	/* Someone else's profile: forbidden; no token: 401 with the challenge. */
	itest_json("GET", "gateway", path, NULL, other.access, &r);
	itest_is_problem(&r, 403, "FORBIDDEN");
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	CU_ASSERT(itest_header(&r, "WWW-Authenticate", body, sizeof(body)) &&
	    strncmp(body, "Bearer", 6) == 0);
	itest_resp_free(&r);
	/* Wrong password and unknown user: the same 401. */
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"wrong-password\"}", u.username);
	itest_json("POST", "gateway", AUTH_BASE "/login", body, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	char m1[256] = "";
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r.json, "message");
	if (cJSON_IsString(msg))
		snprintf(m1, sizeof(m1), "%s", msg->valuestring);
	itest_resp_free(&r);
	itest_json("POST", "gateway", AUTH_BASE "/login",
	    "{\"username\":\"nobody_here_xyz\",\"password\":\"wrong-password\"}", NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	msg = cJSON_GetObjectItemCaseSensitive(r.json, "message");
	CU_ASSERT(cJSON_IsString(msg) && strcmp(msg->valuestring, m1) == 0);
	itest_resp_free(&r);
	/* The auth compatibility port serves login too. */
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", u.username, FLOW_PASSWORD);
	itest_json("POST", "auth", AUTH_BASE "/login", body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
}

static void
test_bad_tokens(void)
{
	struct flow_user u;
	struct itest_resp r;
	char tampered[2100];
	char *dot;

	if (flow_user(&u, "tok", 0) == -1)
		return;
	static const char *const bad[] = {
		"garbage", "a.b.c",
		"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxMDAwIn0.",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, bad[i], &r);
		itest_is_problem(&r, 401, "UNAUTHORIZED");
		itest_resp_free(&r);
	}
	/* Flip one character of the payload: the signature no longer fits. */
	snprintf(tampered, sizeof(tampered), "%s", u.access);
	dot = strchr(tampered, '.');
	if (dot != NULL && dot[3] != '\0') {
		dot[3] = dot[3] == 'A' ? 'B' : 'A';
		itest_json("GET", "gateway", AUTH_BASE "/validate", NULL, tampered, &r);
		itest_is_problem(&r, 401, "UNAUTHORIZED");
		itest_resp_free(&r);
	}
	itest_http("GET", "gateway", AUTH_BASE "/validate", NULL, NULL, 0, NULL,
	    (const char *const[]){ "Authorization: Basic dXNlcjpwYXNz", NULL }, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	itest_resp_free(&r);
}

static void
test_refresh_rotation_and_logout(void)
{
	struct flow_user u;
	struct itest_resp r;
	char body[256], second[128];
	const cJSON *v;

	if (flow_user(&u, "rot", 0) == -1)
		return;
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	v = cJSON_GetObjectItemCaseSensitive(r.json, "refreshToken");
	CU_ASSERT_FATAL(cJSON_IsString(v));
	snprintf(second, sizeof(second), "%s", v->valuestring);
	CU_ASSERT(strcmp(second, u.refresh) != 0);
	v = cJSON_GetObjectItemCaseSensitive(r.json, "tokenType");
	CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, "Bearer") == 0);
	v = cJSON_GetObjectItemCaseSensitive(r.json, "expiresIn");
	CU_ASSERT(cJSON_IsNumber(v) && v->valuedouble == 900);
	itest_resp_free(&r);
	/* The old one is spent; using it again revokes the whole family, so
	 * the second token dies too. */
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	itest_resp_free(&r);
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", second);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	itest_resp_free(&r);
	/* Logout: 204, and the token is dead. */
	if (flow_login(&u) == -1)
		return;
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	itest_json("POST", "gateway", AUTH_BASE "/logout", body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	itest_resp_free(&r);
	/* Refresh tokens are stored only as hashes. */
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM refresh_tokens WHERE token_hash = '%s'", u.refresh);
	CU_ASSERT_EQUAL(itest_sql_int("auth", sql), 0);
}

static void
test_delete_user(void)
{
	struct flow_user u, admin, victim;
	struct itest_resp r;
	char path[128], body[256], sql[256];

	if (flow_user(&u, "del", 0) == -1 || flow_user(&admin, "adm", 1) == -1 ||
	    flow_user(&victim, "vic", 0) == -1)
		return;
	snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)u.id);
	itest_json("DELETE", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	itest_json("GET", "gateway", path, NULL, admin.access, &r);
	itest_is_problem(&r, 404, "NOT_FOUND");
	itest_resp_free(&r);
	/* Its refresh tokens are revoked. */
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM refresh_tokens WHERE user_id = %lld "
	    "AND revoked_at IS NULL", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("auth", sql), 0);
	/* An admin may delete someone else; the event is in the outbox. */
	snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)victim.id);
	itest_json("DELETE", "gateway", path, NULL, admin.access, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE msg_key = '%lld' AND "
	    "payload::jsonb->>'eventType' = 'user_deleted'", (long long)victim.id);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 1);
	/* A deleted user's name can be registered again. */
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s\",\"password\":\"Password123!\"}",
	    u.username, u.email);
	itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	itest_resp_free(&r);
}

static void
test_health_and_internal(void)
{
	static const char *const listeners[] = { "users", "auth" };
	static const char *const names[] = { "usermanagement", "auth" };
	struct itest_resp r;
	const cJSON *v;
	size_t i;

	for (i = 0; i < 2; i++) {
		int tries;

		/* An earlier suite may just have restarted the broker: the
		 * service finds it again within its reconnect backoff. */
		for (tries = 0;; tries++) {
			itest_json("GET", listeners[i], "/health", NULL, NULL, &r);
			if (r.status == 200 || tries == 30)
				break;
			itest_resp_free(&r);
			itest_sleep_ms(500);
		}
		CU_ASSERT_EQUAL(r.status, 200);
		v = cJSON_GetObjectItemCaseSensitive(r.json, "service");
		CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, names[i]) == 0);
		v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.json, "checks"), "database");
		CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, "ok") == 0);
		v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.json, "checks"), "kafka");
		CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, "ok") == 0);
		itest_resp_free(&r);
		itest_json("GET", listeners[i], "/livez", NULL, NULL, &r);
		CU_ASSERT_EQUAL(r.status, 200);
		itest_resp_free(&r);
		itest_json("GET", listeners[i], "/readyz", NULL, NULL, &r);
		CU_ASSERT_EQUAL(r.status, 200);
		itest_resp_free(&r);
	}
	/* Internal endpoints are not reachable through public listeners. */
	itest_json("POST", "gateway", "/internal/v1/users/validate",
	    "{\"username\":\"x\",\"password\":\"y\"}", NULL, &r);
	itest_is_problem(&r, 404, "NOT_FOUND");
	itest_resp_free(&r);
	itest_json("POST", "users", "/internal/v1/users/validate",
	    "{\"username\":\"x\",\"password\":\"y\"}", NULL, &r);
	itest_is_problem(&r, 404, "NOT_FOUND");
	itest_resp_free(&r);
	/* The internal listener answers the services only: without the
	 * shared secret, or with a wrong one, 401; with it, the answer. */
	{
		static const char body[] = "{\"username\":\"nobody_at_all\",\"password\":\"whatever1\"}";
		char secret[128] = "", hdr[160];
		const char *hdrs[2] = { hdr, NULL };
		FILE *f = fopen(getenv("ESM_INTERNAL_SECRET_FILE") ? getenv("ESM_INTERNAL_SECRET_FILE") : "", "r");

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_FATAL(fgets(secret, sizeof(secret), f) != NULL);
		fclose(f);
		secret[strcspn(secret, "\n")] = '\0';
		itest_json("POST", "internal", "/internal/v1/users/validate", body, NULL, &r);
		CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
		itest_resp_free(&r);
		snprintf(hdr, sizeof(hdr), "X-Internal-Secret: %.*sx", (int)strlen(secret) - 1, secret);
		itest_http("POST", "internal", "/internal/v1/users/validate", "application/json", body,
		    strlen(body), NULL, hdrs, &r);
		CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
		itest_resp_free(&r);
		snprintf(hdr, sizeof(hdr), "X-Internal-Secret: %s", secret);
		itest_http("POST", "internal", "/internal/v1/users/validate", "application/json", body,
		    strlen(body), NULL, hdrs, &r);
		CU_ASSERT_EQUAL(r.status, 200);
		CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r.json, "isValid")));
		itest_resp_free(&r);
		/* Even with the secret, checks of one username are limited
		 * (ESM_RATE_VALIDATE, 60 a minute), and a login of that name
		 * then gets 429 rather than an answer. */
		{
			char name[32], vb[128], lb[128];
			int k, limited = 0, first = -1;

			itest_unique(name, 21, "vlim");
			snprintf(vb, sizeof(vb), "{\"username\":\"%s\",\"password\":\"wrong one 1\"}", name);
			for (k = 0; k < 61; k++) {
				itest_http("POST", "internal", "/internal/v1/users/validate", "application/json",
				    vb, strlen(vb), NULL, hdrs, &r);
				if (r.status == 429 && first < 0)
					first = k;
				limited += r.status == 429;
				itest_resp_free(&r);
			}
			CU_ASSERT_EQUAL(first, 60);
			CU_ASSERT_EQUAL(limited, 1);
			snprintf(lb, sizeof(lb), "{\"username\":\"%s\",\"password\":\"wrong one 1\"}", name);
			itest_json("POST", "gateway", AUTH_BASE "/login", lb, NULL, &r);
			CU_ASSERT(itest_is_problem(&r, 429, "TOO_MANY_REQUESTS"));
			itest_resp_free(&r);
		}
	}
	itest_json("GET", "users", "/metrics", NULL, NULL, &r);
	itest_is_problem(&r, 404, "NOT_FOUND");
	itest_resp_free(&r);
	itest_json("GET", "internal", "/metrics/users", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "esm_http_requests_total{service=\"users\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "esm_http_request_duration_seconds_bucket"));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.body, "esm_outbox_backlog"));
	itest_resp_free(&r);
	itest_json("GET", "internal", "/metrics/auth", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	/* JWKS: one Ed25519 key. */
	itest_json("GET", "gateway", "/.well-known/jwks.json", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.json, "keys"), 0);
	CU_ASSERT(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(v, "x")));
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(v, "d"));
	itest_resp_free(&r);
}

static void
test_request_id_echo(void)
{
	struct itest_resp r;
	char rid[128];

	itest_http("GET", "users", "/livez", NULL, NULL, 0, NULL,
	    (const char *const[]){ "X-Request-Id: trace-abc.123", NULL }, &r);
	CU_ASSERT(itest_header(&r, "X-Request-Id", rid, sizeof(rid)) && strcmp(rid, "trace-abc.123") == 0);
	itest_resp_free(&r);
	/* An insane one is replaced, not echoed. */
	itest_http("GET", "users", "/livez", NULL, NULL, 0, NULL,
	    (const char *const[]){ "X-Request-Id: <script>alert(1)</script>", NULL }, &r);
	CU_ASSERT(itest_header(&r, "X-Request-Id", rid, sizeof(rid)) && strchr(rid, '<') == NULL);
	itest_resp_free(&r);
}

/* Rotation does not slide a session forever: a login's refresh tokens end
 * ESM_REFRESH_MAX_S (90 days) after it, however often they were rotated;
 * each new token expires by then, and past it the family refreshes no more. */
static void
test_refresh_absolute_lifetime(void)
{
	struct flow_user u;
	struct itest_resp r;
	char body[256], sql[256];
	const cJSON *v;

	CU_ASSERT_FATAL(flow_user(&u, "abs", 0) == 0);
	/* The login was 89 days ago: a rotation works, its token expires at
	 * the 90th day, not 30 days from now. */
	snprintf(sql, sizeof(sql), "UPDATE refresh_tokens SET created_at = created_at - interval '89 days' "
	    "WHERE user_id = %lld", (long long)u.id);
	CU_ASSERT_FATAL(itest_sql_exec("auth", sql) == 0);
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	CU_ASSERT_EQUAL_FATAL(r.status, 200);
	v = cJSON_GetObjectItemCaseSensitive(r.json, "refreshToken");
	CU_ASSERT_FATAL(cJSON_IsString(v));
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", v->valuestring);
	itest_resp_free(&r);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM refresh_tokens WHERE user_id = %lld AND revoked_at IS NULL "
	    "AND expires_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("auth", sql), 1);
	/* Two days later the family is over. */
	snprintf(sql, sizeof(sql), "UPDATE refresh_tokens SET created_at = created_at - interval '2 days' "
	    "WHERE user_id = %lld", (long long)u.id);
	CU_ASSERT_FATAL(itest_sql_exec("auth", sql) == 0);
	itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
}

static CU_TestInfo tests[] = {
	{ "registration like the original client", test_register_like_original },
	{ "usernames and emails are unique in any case", test_case_insensitive_uniqueness },
	{ "login, validate, profile", test_login_validate_profile },
	{ "bad tokens get 401", test_bad_tokens },
	{ "refresh rotation, reuse, logout", test_refresh_rotation_and_logout },
	{ "refresh tokens end 90 days after the login", test_refresh_absolute_lifetime },
	{ "delete user", test_delete_user },
	{ "health, internal listener, metrics, jwks", test_health_and_internal },
	{ "request id echo", test_request_id_echo },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(identity, tests)
