/*
 * test_hostile.c: bad input gets the right 4xx in the contract's error shape
 * and changes nothing; a body too costly to parse is refused, after the
 * token where a route needs one; concurrent conflicting registrations give
 * exactly one winner; rate limits answer 429 with Retry-After.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

#define REG USERS_BASE "/register"
#define JSON "application/json"

struct bad_case {
	const char *what;
	const char *method, *path, *ctype;
	const char *body;	/* NULL: no body; "@big:N": N bytes of JSON */
	int bearer;
	long status;
	const char *code;
	const char *param;	/* a field that must be named, or NULL */
};

#define OK_REST ",\"email\":\"e@example.org\",\"password\":\"Password123!\"}"

static const struct bad_case cases[] = {
	{ "malformed JSON", "POST", REG, JSON, "{\"username\":", 0, 400, "BAD_REQUEST", NULL },
	{ "array body", "POST", REG, JSON, "[]", 0, 400, "BAD_REQUEST", NULL },
	{ "string body", "POST", REG, JSON, "\"hello\"", 0, 400, "BAD_REQUEST", NULL },
	{ "username is a number", "POST", REG, JSON, "{\"username\":123" OK_REST, 0, 400, "BAD_REQUEST", "username" },
	{ "password is a bool", "POST", REG, JSON,
	  "{\"username\":\"typeuser\",\"email\":\"e@example.org\",\"password\":true}", 0, 400, "BAD_REQUEST", "password" },
	{ "missing username", "POST", REG, JSON, "{\"email\":\"e@example.org\",\"password\":\"Password123!\"}", 0, 400, "BAD_REQUEST", "username" },
	{ "missing email", "POST", REG, JSON, "{\"username\":\"someone1\",\"password\":\"Password123!\"}", 0, 400, "BAD_REQUEST", "email" },
	{ "unknown field", "POST", REG, JSON, "{\"username\":\"someone2\",\"isAdmin\":true" OK_REST, 0, 400, "BAD_REQUEST", "isAdmin" },
	{ "role smuggling", "POST", REG, JSON, "{\"username\":\"someone3\",\"role\":\"admin\"" OK_REST, 0, 400, "BAD_REQUEST", "role" },
	{ "body over 64 KiB", "POST", REG, JSON, "@big:70000", 0, 413, "PAYLOAD_TOO_LARGE", NULL },
	{ "body over the server cap", "POST", REG, JSON, "@big:2100000", 0, 413, "PAYLOAD_TOO_LARGE", NULL },
	{ "text/plain", "POST", REG, "text/plain", "{\"username\":\"someone4\"" OK_REST, 0, 415, "UNSUPPORTED_MEDIA_TYPE", NULL },
	{ "no content type", "POST", REG, NULL, "{\"username\":\"someone5\"" OK_REST, 0, 415, "UNSUPPORTED_MEDIA_TYPE", NULL },
	{ "latin1 charset", "POST", REG, "application/json; charset=latin1", "{\"username\":\"someone6\"" OK_REST, 0, 415, "UNSUPPORTED_MEDIA_TYPE", NULL },
	{ "escaped NUL", "POST", REG, JSON, "{\"username\":\"nul\\u0000user\"" OK_REST, 0, 400, "BAD_REQUEST", NULL },
	{ "raw control character", "POST", REG, JSON, "{\"username\":\"ctl\x01user\"" OK_REST, 0, 400, "BAD_REQUEST", NULL },
	{ "SQL metacharacters", "POST", REG, JSON, "{\"username\":\"x'; DROP TABLE users;--\"" OK_REST, 0, 400, "BAD_REQUEST", "username" },
	{ "username too long", "POST", REG, JSON, "{\"username\":\"abcdefghijklmnopqrstu\"" OK_REST, 0, 400, "BAD_REQUEST", "username" },
	{ "username too short", "POST", REG, JSON, "{\"username\":\"ab\"" OK_REST, 0, 400, "BAD_REQUEST", "username" },
	{ "non-ASCII username", "POST", REG, JSON, "{\"username\":\"\xc3\xbcser\xe2\x98\x83\"" OK_REST, 0, 400, "BAD_REQUEST", "username" },
	{ "invalid UTF-8", "POST", REG, JSON, "{\"username\":\"bad\xff\xfeutf\"" OK_REST, 0, 400, "BAD_REQUEST", NULL },
	{ "duplicate keys", "POST", REG, JSON, "{\"username\":\"dupkey1\",\"username\":\"dupkey2\"" OK_REST, 0, 400, "BAD_REQUEST", NULL },
	{ "deep nesting", "POST", REG, JSON, "@deep:200", 0, 400, "BAD_REQUEST", NULL },
	{ "password too short", "POST", REG, JSON, "{\"username\":\"shortpw1\",\"email\":\"e@example.org\",\"password\":\"1234567\"}", 0, 400, "BAD_REQUEST", "password" },
	{ "password too long", "POST", REG, JSON, "@longpw:129", 0, 400, "BAD_REQUEST", "password" },
	{ "first name too long", "POST", REG, JSON, "@longname:51", 0, 400, "BAD_REQUEST", "firstName" },
	{ "control char in name", "POST", REG, JSON, "{\"username\":\"bellname\",\"firstName\":\"a\\u0007b\"" OK_REST, 0, 400, "BAD_REQUEST", "firstName" },
	{ "lone surrogate", "POST", REG, JSON, "{\"username\":\"surrogat\",\"lastName\":\"\\udc00\"" OK_REST, 0, 400, "BAD_REQUEST", NULL },
	{ "birth date in the future", "POST", REG, JSON, "{\"username\":\"future1\",\"dateOfBirth\":\"2999-01-01\"" OK_REST, 0, 400, "BAD_REQUEST", "dateOfBirth" },
	{ "impossible birth date", "POST", REG, JSON, "{\"username\":\"feb30th\",\"dateOfBirth\":\"2001-02-30\"" OK_REST, 0, 400, "BAD_REQUEST", "dateOfBirth" },
	{ "email without domain", "POST", REG, JSON, "{\"username\":\"nodomain\",\"email\":\"a@b\",\"password\":\"Password123!\"}", 0, 400, "BAD_REQUEST", "email" },
	{ "email too long", "POST", REG, JSON, "@longemail:255", 0, 400, "BAD_REQUEST", "email" },
	{ "trailing garbage", "POST", REG, JSON, "{\"username\":\"trailing\"" OK_REST " x", 0, 400, "BAD_REQUEST", NULL },
	{ "empty body", "POST", REG, JSON, "", 0, 400, "BAD_REQUEST", NULL },
	{ "huge number", "POST", REG, JSON, "{\"username\":1e999" OK_REST, 0, 400, "BAD_REQUEST", NULL },
	{ "task parameter 1e999", "POST", TASKS, JSON,
	  "{\"taskType\":\"report_generation\",\"parameters\":{\"n\":1e999}}", 1, 400, "BAD_REQUEST", NULL },
	{ "task parameter beyond 2^53", "POST", TASKS, JSON,
	  "{\"taskType\":\"report_generation\",\"parameters\":{\"n\":9007199254740993}}", 1, 400, "BAD_REQUEST", NULL },
	{ "id not a number", "GET", USERS_BASE "/abc", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "id zero", "GET", USERS_BASE "/0", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "id overflow", "GET", USERS_BASE "/99999999999999999999999", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "id negative", "GET", USERS_BASE "/-5", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "encoded traversal", "GET", USERS_BASE "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", NULL, NULL, 1, 404, "NOT_FOUND", NULL },
	{ "wrong method", "PUT", REG, JSON, "{}", 0, 405, "METHOD_NOT_ALLOWED", NULL },
	{ "unknown path", "GET", "/api/v1/eventstreammonitor/nothing", NULL, NULL, 0, 404, "NOT_FOUND", NULL },
	{ "login username number", "POST", AUTH_BASE "/login", JSON, "{\"username\":5,\"password\":\"x\"}", 0, 400, "BAD_REQUEST", "username" },
	{ "login unknown field", "POST", AUTH_BASE "/login", JSON, "{\"username\":\"a\",\"password\":\"b\",\"otp\":1}", 0, 400, "BAD_REQUEST", "otp" },
	{ "refresh token wrong type", "POST", AUTH_BASE "/refresh", JSON, "{\"refreshToken\":123}", 0, 400, "BAD_REQUEST", "refreshToken" },
	{ "refresh token garbage", "POST", AUTH_BASE "/refresh", JSON, "{\"refreshToken\":\"' OR 1=1 --\"}", 0, 401, "UNAUTHORIZED", NULL },
};

/* Builds the special bodies; returns a malloc'd body and its length. */
static char *
make_body(const char *spec, size_t *len)
{
	char *b;
	size_t n, i;
	int k;

	if (strncmp(spec, "@big:", 5) == 0) {
		n = strtoul(spec + 5, NULL, 10);
		b = malloc(n + 1);
		k = snprintf(b, n + 1, "{\"username\":\"big\",\"firstName\":\"");
		for (i = (size_t)k; i < n - 2; i++)
			b[i] = 'a';
		memcpy(b + n - 2, "\"}", 2);
		b[n] = '\0';
	} else if (strncmp(spec, "@deep:", 6) == 0) {
		n = strtoul(spec + 6, NULL, 10);
		b = malloc(2 * n + 64);
		k = snprintf(b, 64, "{\"username\":\"deep\",\"x\":");
		for (i = 0; i < n; i++)
			b[k++] = '[';
		for (i = 0; i < n; i++)
			b[k++] = ']';
		b[k++] = '}';
		b[k] = '\0';
	} else {
		const char *pre, *post;
		n = strtoul(strchr(spec, ':') + 1, NULL, 10);
		char *s = malloc(n + 1);
		memset(s, 'p', n);
		s[n] = '\0';
		if (strncmp(spec, "@longpw:", 8) == 0) {
			pre = "{\"username\":\"longpw1\",\"email\":\"e@example.org\",\"password\":\"";
			post = "\"}";
		} else if (strncmp(spec, "@longname:", 10) == 0) {
			pre = "{\"username\":\"longnm1\",\"firstName\":\"";
			post = "\",\"email\":\"e@example.org\",\"password\":\"Password123!\"}";
		} else {
			memcpy(s + n - 12, "@example.org", 12);
			pre = "{\"username\":\"longem1\",\"email\":\"";
			post = "\",\"password\":\"Password123!\"}";
		}
		b = malloc(n + 256);
		snprintf(b, n + 256, "%s%s%s", pre, s, post);
		free(s);
	}
	*len = strlen(b);
	return b;
}

static int
has_param(const cJSON *j, const char *name)
{
	const cJSON *p, *params = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "error_details"), "details"),
	    "params");

	cJSON_ArrayForEach(p, params)
		if (cJSON_IsString(p) && strcmp(p->valuestring, name) == 0)
			return 1;
	return 0;
}

static void
test_bad_input_table(void)
{
	struct flow_user u;
	struct itest_resp r;
	int64_t users0, outbox0, tokens0, tasks0;
	char allow[64];
	size_t i;

	CU_ASSERT_FATAL(sizeof(cases) / sizeof(cases[0]) >= 30);
	CU_ASSERT_FATAL(flow_user(&u, "bad", 0) == 0);
	users0 = flow_count("registrations", "SELECT count(*) FROM users");
	outbox0 = flow_count("registrations", "SELECT count(*) FROM outbox");
	tokens0 = flow_count("auth", "SELECT count(*) FROM refresh_tokens");
	tasks0 = flow_count("tasks", "SELECT count(*) FROM tasks");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		size_t len = c->body ? strlen(c->body) : 0;
		char *body = c->body && c->body[0] == '@' ? make_body(c->body, &len) : NULL;

		itest_http(c->method, "gateway", c->path, c->ctype, body ? body : c->body, len,
		    c->bearer ? u.access : NULL, NULL, &r);
		if (!itest_is_problem(&r, c->status, c->code))
			fprintf(stderr, "  case: %s\n", c->what);
		if (c->param != NULL && !has_param(r.json, c->param)) {
			fprintf(stderr, "  case %s: params lack %s: %.200s\n", c->what, c->param, r.body);
			CU_FAIL("offending field not named");
		}
		if (c->status == 405)
			CU_ASSERT(itest_header(&r, "Allow", allow, sizeof(allow)) && strstr(allow, "POST"));
		/* Never an internal detail in an error body. */
		CU_ASSERT_PTR_NULL(strstr(r.body, "SQL"));
		CU_ASSERT_PTR_NULL(strstr(r.body, "postgres"));
		CU_ASSERT_PTR_NULL(strstr(r.body, ".c:"));
		itest_resp_free(&r);
		free(body);
	}
	CU_ASSERT_EQUAL(flow_count("registrations", "SELECT count(*) FROM users"), users0);
	CU_ASSERT_EQUAL(flow_count("registrations", "SELECT count(*) FROM outbox"), outbox0);
	CU_ASSERT_EQUAL(flow_count("auth", "SELECT count(*) FROM refresh_tokens"), tokens0);
	CU_ASSERT_EQUAL(flow_count("tasks", "SELECT count(*) FROM tasks"), tasks0);
	CU_ASSERT_EQUAL(flow_count("registrations",
	    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'"), 1);
}

/* One object of distinct keys filling n bytes: the body of the report,
 * which cost the service hundreds of milliseconds of CPU, on any JSON route,
 * before any token was looked at. */
static char *
many_keys(size_t n)
{
	char *b = malloc(n + 1), m[32];
	size_t len = 1;
	int i, k;

	if (b == NULL)
		return NULL;
	b[0] = '{';
	for (i = 0;; i++) {
		k = snprintf(m, sizeof(m), "%s\"%x\":0", i ? "," : "", i);
		if (len + (size_t)k + 1 > n)
			break;
		memcpy(b + len, m, (size_t)k);
		len += (size_t)k;
	}
	b[len++] = '}';
	b[len] = '\0';
	return b;
}

/* message of a problem+json reply, "" when there is none */
static const char *
message(const struct itest_resp *r)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(r->json, "message");

	return cJSON_IsString(m) ? m->valuestring : "";
}

/* A route that needs a token checks it before it reads the body; a route
 * that needs none refuses the body by the member cap, saying so. */
static void
test_many_keys_body(void)
{
	struct flow_user u;
	struct itest_resp r;
	char *body = many_keys(65536), www[64];
	size_t len;

	CU_ASSERT_PTR_NOT_NULL_FATAL(body);
	CU_ASSERT_FATAL(flow_user(&u, "keys", 0) == 0);
	len = strlen(body);
	CU_ASSERT(len > 65500 && len <= 65536);

	itest_http("POST", "gateway", TASKS, JSON, body, len, NULL, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	CU_ASSERT_STRING_EQUAL(message(&r), "missing bearer token");
	CU_ASSERT(itest_header(&r, "WWW-Authenticate", www, sizeof(www)) && strncmp(www, "Bearer", 6) == 0);
	itest_resp_free(&r);
	itest_http("POST", "gateway", TASKS, JSON, body, len, "not.a.token", NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	CU_ASSERT_STRING_EQUAL(message(&r), "invalid token");
	itest_resp_free(&r);
	/* With a token the body is read, and refused for what it is. */
	itest_http("POST", "gateway", TASKS, JSON, body, len, u.access, NULL, &r);
	itest_is_problem(&r, 400, "BAD_REQUEST");
	CU_ASSERT_STRING_EQUAL(message(&r), "JSON object has more than 128 members");
	itest_resp_free(&r);

	itest_http("POST", "gateway", REG, JSON, body, len, NULL, NULL, &r);
	itest_is_problem(&r, 400, "BAD_REQUEST");
	CU_ASSERT_STRING_EQUAL(message(&r), "JSON object has more than 128 members");
	itest_resp_free(&r);
	itest_http("POST", "gateway", AUTH_BASE "/login", JSON, body, len, NULL, NULL, &r);
	itest_is_problem(&r, 400, "BAD_REQUEST");
	CU_ASSERT_STRING_EQUAL(message(&r), "JSON object has more than 128 members");
	itest_resp_free(&r);

	/* What headers alone decide still comes first, and the body's absence
	 * is the body's business: after the token. */
	itest_http("POST", "gateway", TASKS, "text/plain", body, len, NULL, NULL, &r);
	itest_is_problem(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
	itest_resp_free(&r);
	itest_http("POST", "gateway", TASKS, JSON, "", 0, NULL, NULL, &r);
	itest_is_problem(&r, 401, "UNAUTHORIZED");
	itest_resp_free(&r);
	free(body);
}

/* Hostile but valid strings are stored and returned as given. */
static void
test_hostile_strings_roundtrip(void)
{
	struct itest_resp r;
	char name[32], body[512];
	const cJSON *fn;

	itest_unique(name, 21, "xss");
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s@example.org\","
	    "\"password\":\"Password123!\",\"firstName\":\"<img src=x onerror=alert(1)>\","
	    "\"lastName\":\"O'Brien \\\"; DROP TABLE users;--\"}", name, name);
	itest_json("POST", "gateway", REG, body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	fn = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r.json, "user"), "firstName");
	CU_ASSERT(cJSON_IsString(fn) && strcmp(fn->valuestring, "<img src=x onerror=alert(1)>") == 0);
	itest_resp_free(&r);
	snprintf(body, sizeof(body), "SELECT count(*) FROM users WHERE username = '%s' AND "
	    "last_name = 'O''Brien \"; DROP TABLE users;--'", name);
	CU_ASSERT_EQUAL(flow_count("registrations", body), 1);
}

struct racer {
	const char *username;
	int idx;
	long status;
};

static void *
race(void *arg)
{
	struct racer *rc = arg;
	struct itest_resp r;
	char body[256];

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s_%d@example.org\","
	    "\"password\":\"Password123!\"}", rc->username, rc->username, rc->idx);
	itest_http("POST", "gateway", REG, JSON, body, strlen(body), NULL, NULL, &r);
	rc->status = r.status;
	itest_resp_free(&r);
	return NULL;
}

static void
test_concurrent_same_username(void)
{
	enum { N = 50 };
	struct racer rs[N];
	pthread_t th[N];
	char name[32], sql[256];
	int i, created = 0, conflicts = 0;

	itest_unique(name, 21, "race");
	for (i = 0; i < N; i++) {
		rs[i].username = name;
		rs[i].idx = i;
		rs[i].status = 0;
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, race, &rs[i]) == 0);
	}
	for (i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < N; i++) {
		created += rs[i].status == 201;
		conflicts += rs[i].status == 409;
	}
	fprintf(stderr, "  50 racers: %d created, %d conflicts\n", created, conflicts);
	CU_ASSERT_EQUAL(created, 1);
	CU_ASSERT_EQUAL(conflicts, N - 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE lower(username) = lower('%s')", name);
	CU_ASSERT_EQUAL(flow_count("registrations", sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb->>'username' = '%s' "
	    "AND payload::jsonb->>'eventType' = 'user_registered'", name);
	CU_ASSERT_EQUAL(flow_count("registrations", sql), 1);
}

static void
test_rate_limits(void)
{
	struct itest_resp r;
	char xff[96], addr[48], ra[32];
	const char *hdrs[2];
	int i;
	long last = 0;

	/* Registration: 5 per 60 s per client address (the default). Even
	 * invalid attempts count, so nothing is created here. */
	itest_unique(addr, 13, "");
	snprintf(xff, sizeof(xff), "X-Forwarded-For: 2001:db8:ffff::%.4s:%.4s", addr, addr + 4);
	hdrs[0] = xff;
	hdrs[1] = NULL;
	for (i = 0; i < 6; i++) {
		itest_http("POST", "gateway", REG, JSON, "{\"username\":\"rl\"}", 17, NULL, hdrs, &r);
		last = r.status;
		if (i < 5)
			CU_ASSERT_EQUAL(r.status, 400);
		itest_resp_free(&r);
	}
	CU_ASSERT_EQUAL(last, 429);
	itest_http("POST", "gateway", REG, JSON, "{\"username\":\"rl\"}", 17, NULL, hdrs, &r);
	itest_is_problem(&r, 429, "TOO_MANY_REQUESTS");
	CU_ASSERT(itest_header(&r, "Retry-After", ra, sizeof(ra)) && atoi(ra) >= 1 && atoi(ra) <= 60);
	itest_resp_free(&r);
	/* Another address is not affected. */
	itest_http("POST", "gateway", REG, JSON, "{\"username\":\"rl\"}", 17, NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 400);
	itest_resp_free(&r);
}

/* POST /auth/login from the address in xff (a header line) with password pw;
 * the status, and Retry-After in *ra (0 when absent). */
static long
login_from(const char *xff, const char *username, const char *pw, int *ra)
{
	const char *hdrs[2] = { xff, NULL };
	struct itest_resp r;
	char body[256], v[16];
	long st;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", username, pw);
	itest_http("POST", "gateway", AUTH_BASE "/login", JSON, body, strlen(body), NULL, hdrs, &r);
	st = r.status;
	*ra = itest_header(&r, "Retry-After", v, sizeof(v)) ? atoi(v) : 0;
	if (st == 429)
		CU_ASSERT(itest_is_problem(&r, 429, "TOO_MANY_REQUESTS"));
	itest_resp_free(&r);
	return st;
}

/* Failed logins make the guessing address wait, twice as long after each
 * further failure, and never the user elsewhere: five wrong passwords go
 * free (ESM_RATE_LOGIN_USER 5/900), the sixth earns 1 s, the seventh 2 s,
 * the eighth 4 s; the right password from another address logs in
 * meanwhile, and from the guessing one once its wait is over, which
 * forgets the failures. */
static void
test_login_failures(void)
{
	struct flow_user u;
	char a[80], b[80], id[16];
	int i, ra, want;

	CU_ASSERT_FATAL(flow_register(&u, "lf") == 0);
	itest_unique(id, 9, "");
	snprintf(a, sizeof(a), "X-Forwarded-For: 2001:db8:aaaa::%.4s", id);
	snprintf(b, sizeof(b), "X-Forwarded-For: 2001:db8:bbbb::%.4s", id);
	for (i = 0; i < 6; i++)
		CU_ASSERT_EQUAL(login_from(a, u.username, "wrong-password", &ra), 401);
	for (want = 1; want <= 2; want *= 2) {
		CU_ASSERT_EQUAL(login_from(a, u.username, "wrong-password", &ra), 429);
		CU_ASSERT(ra >= 1 && ra <= want);
		itest_sleep_ms(ra * 1000 + 100);
		CU_ASSERT_EQUAL(login_from(a, u.username, "wrong-password", &ra), 401);
	}
	/* Four seconds now, for the right password from there too ... */
	CU_ASSERT_EQUAL(login_from(a, u.username, FLOW_PASSWORD, &ra), 429);
	CU_ASSERT(ra >= 3 && ra <= 4);
	/* ... and for the name in capitals, the same user; */
	for (i = 0; u.username[i]; i++)
		u.username[i] = (char)toupper((unsigned char)u.username[i]);
	CU_ASSERT_EQUAL(login_from(a, u.username, "wrong-password", &ra), 429);
	/* but the user, elsewhere, is not locked out. */
	CU_ASSERT_EQUAL(login_from(b, u.username, FLOW_PASSWORD, &ra), 200);
	CU_ASSERT_EQUAL(login_from(a, u.username, FLOW_PASSWORD, &ra), 429);
	itest_sleep_ms(ra * 1000 + 100);
	CU_ASSERT_EQUAL(login_from(a, u.username, FLOW_PASSWORD, &ra), 200);
	/* The success forgot the failures: the next wrong ones go free. */
	CU_ASSERT_EQUAL(login_from(a, u.username, "wrong-password", &ra), 401);
	CU_ASSERT_EQUAL(login_from(a, u.username, "wrong-password", &ra), 401);
}

/* A username the registration rules refuse is nobody's, even where the
 * database's lower() would fold it into one: "\u212a" (KELVIN SIGN) for k. */
static void
test_login_kelvin_sign(void)
{
	struct flow_user u;
	char name[64], xff[80], id[16];
	int ra;

	CU_ASSERT_FATAL(flow_register(&u, "kk") == 0);	/* starts with k */
	CU_ASSERT_FATAL(u.username[0] == 'k');
	snprintf(name, sizeof(name), "\\u212a%.30s", u.username + 1);
	itest_unique(id, 9, "");
	snprintf(xff, sizeof(xff), "X-Forwarded-For: 2001:db8:cccc::%.4s", id);
	CU_ASSERT_EQUAL(login_from(xff, name, FLOW_PASSWORD, &ra), 401);
	snprintf(name, sizeof(name), "\xe2\x84\xaa%.30s", u.username + 1);	/* raw UTF-8 */
	CU_ASSERT_EQUAL(login_from(xff, name, FLOW_PASSWORD, &ra), 401);
	CU_ASSERT_EQUAL(login_from(xff, u.username, FLOW_PASSWORD, &ra), 200);
}

/* lighttpd refuses a body over the services' cap itself, with the same
 * 413, instead of buffering up to a larger cap of its own; a body at the
 * cap reaches the service. */
static void
test_gateway_body_cap(void)
{
	const char *max = getenv("ESM_BODY_MAX");
	size_t cap = max ? strtoul(max, NULL, 10) : 65536, len;
	struct itest_resp r;
	char spec[32], *body;

	snprintf(spec, sizeof(spec), "@big:%zu", cap + 1);
	body = make_body(spec, &len);
	itest_http("POST", "gateway", REG, JSON, body, len, NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 413, "PAYLOAD_TOO_LARGE"));
	/* lighttpd's page (lighttpd/errors/413.html), not the service's. */
	CU_ASSERT_STRING_EQUAL(message(&r), "The request body is too large.");
	itest_resp_free(&r);
	free(body);

	snprintf(spec, sizeof(spec), "@big:%zu", cap);
	body = make_body(spec, &len);
	itest_http("POST", "gateway", REG, JSON, body, len, NULL, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));	/* the service read it */
	itest_resp_free(&r);
	free(body);
}

static CU_TestInfo tests[] = {
	{ "bad input table", test_bad_input_table },
	{ "64 KiB of distinct keys: 401 first, else 400", test_many_keys_body },
	{ "hostile strings round-trip as text", test_hostile_strings_roundtrip },
	{ "50 concurrent registrations of one username", test_concurrent_same_username },
	{ "rate limits", test_rate_limits },
	{ "failed logins back off per username and address", test_login_failures },
	{ "the Kelvin sign is no K", test_login_kelvin_sign },
	{ "lighttpd caps bodies as the services do", test_gateway_body_cap },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(hostile, tests)
