/*
 * test_logs.c: log shipping, the log collector and the log monitor against
 * the running stack. An error provoked in a real service (its database
 * connection killed) reaches the log API with every contract field;
 * records injected with esm-loggen check the limits and filters with their
 * edges, retention at ingest, and that a Grafana query over a range counts
 * exactly what was injected, bucket by bucket. Operator authentication
 * (lighttpd basic auth, or an admin token) guards the APIs and the page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flows.h"

#define LOGS "/api/v1/logs"
#define GF "/api/v1/grafana"

static char basic_hdr[256];

/* "Authorization: Basic ..." of the stack's operator. */
static const char *
operator_auth(void)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *user = getenv("ESM_OPERATOR_USER"), *pwf = getenv("ESM_OPERATOR_PASSWORD_FILE");
	char cred[160], pw[96];
	size_t n, i, o;
	FILE *f;

	if (basic_hdr[0] != '\0')
		return basic_hdr;
	CU_ASSERT_PTR_NOT_NULL_FATAL(user);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pwf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f = fopen(pwf, "r"));
	if (fgets(pw, sizeof(pw), f) == NULL)
		pw[0] = '\0';
	fclose(f);
	pw[strcspn(pw, "\n")] = '\0';
	n = (size_t)snprintf(cred, sizeof(cred), "%s:%s", user, pw);
	o = (size_t)snprintf(basic_hdr, sizeof(basic_hdr), "Authorization: Basic ");
	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned char)cred[i] << 16 | (i + 1 < n ? (unsigned char)cred[i + 1] << 8 : 0) |
		    (i + 2 < n ? (unsigned char)cred[i + 2] : 0);
		basic_hdr[o++] = tab[v >> 18 & 63];
		basic_hdr[o++] = tab[v >> 12 & 63];
		basic_hdr[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		basic_hdr[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	basic_hdr[o] = '\0';
	return basic_hdr;
}

/* GET path on listener as the operator. */
static long
op_get(const char *listener, const char *path, struct itest_resp *r)
{
	const char *h[2] = { operator_auth(), NULL };

	return itest_http("GET", listener, path, NULL, NULL, 0, NULL, h, r);
}

static long
op_post(const char *path, const char *json, struct itest_resp *r)
{
	const char *h[2] = { operator_auth(), NULL };

	return itest_http("POST", "gateway", path, "application/json", json, strlen(json), NULL, h, r);
}

/* Runs esm-loggen with args; 0 when every record was acknowledged. */
static int
loggen(const char *args)
{
	const char *root = getenv("ESM_ROOT");

	CU_ASSERT_PTR_NOT_NULL_FATAL(root);
	return itest_sh("'%s/build/bin/esm-loggen' -q -r 0 %s", root, args);
}

/* Waits (at most secs) until the collector stored want error records of
 * service svc; returns the last count seen. */
static int64_t
wait_stored(const char *svc, int64_t want, int secs)
{
	char sql[256];
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM error_logs WHERE service = '%s'", svc);
	for (int i = 0;; i++) {
		if ((n = itest_sql_int("logmonitor", sql)) >= want || i >= secs * 10)
			break;
		itest_sleep_ms(100);
	}
	return n;
}

static void
ts_at(int64_t s, char out[32])
{
	time_t t = (time_t)s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
test_operator_auth(void)
{
	static const char *const paths[] = { LOGS "/stats", LOGS "/errors", LOGS "/services",
		LOGS "/errors/usermanagement" };
	const char *junk[2] = { "Authorization: Basic b3BlcmF0b3I6d3Jvbmc=", NULL };
	struct flow_user admin, plain;
	struct itest_resp r;
	char ctype[128];
	size_t i;

	for (i = 0; i < 4; i++) {
		itest_http("GET", "logmonitor", paths[i], NULL, NULL, 0, NULL, NULL, &r);
		CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
		itest_resp_free(&r);
		itest_http("GET", "gateway", paths[i], NULL, NULL, 0, NULL, junk, &r);
		CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
		itest_resp_free(&r);
		CU_ASSERT_EQUAL(op_get("logmonitor", paths[i], &r), 200);
		itest_resp_free(&r);
		CU_ASSERT_EQUAL(op_get("gateway", paths[i], &r), 200);
		itest_resp_free(&r);
	}
	itest_json("POST", "gateway", GF "/search", "{}", NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
	/* The page: login required on both entry points. */
	itest_http("GET", "logmonitor", "/", NULL, NULL, 0, NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 401);
	CU_ASSERT_PTR_NOT_NULL(itest_header(&r, "WWW-Authenticate", ctype, sizeof(ctype)));
	CU_ASSERT(strncmp(ctype, "Basic", 5) == 0);
	itest_resp_free(&r);
	itest_http("GET", "gateway", "/logmonitor/", NULL, NULL, 0, "a.bogus.token", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 401);	/* a bearer does not open the page */
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(op_get("logmonitor", "/", &r), 200);
	CU_ASSERT(itest_header(&r, "Content-Type", ctype, sizeof(ctype)) && strstr(ctype, "text/html"));
	CU_ASSERT(r.body && strstr(r.body, "id=\"errors-body\"") != NULL);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(op_get("gateway", "/logmonitor/", &r), 200);
	CU_ASSERT(r.body && strstr(r.body, "id=\"errors-body\"") != NULL);
	itest_resp_free(&r);
	CU_ASSERT_EQUAL(op_get("gateway", "/logmonitor/app.js", &r), 200);
	itest_resp_free(&r);
	/* Health stays open. */
	itest_http("GET", "logmonitor", "/health", NULL, NULL, 0, NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	/* Tokens: admin yes, a plain user 403, junk 401. */
	CU_ASSERT_FATAL(flow_user(&admin, "lgadm", 1) == 0);
	CU_ASSERT_FATAL(flow_user(&plain, "lgusr", 0) == 0);
	itest_http("GET", "gateway", LOGS "/stats", NULL, NULL, 0, admin.access, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	itest_http("GET", "logmonitor", LOGS "/errors?limit=1", NULL, NULL, 0, admin.access, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	itest_resp_free(&r);
	itest_http("GET", "gateway", LOGS "/stats", NULL, NULL, 0, plain.access, NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 403, "FORBIDDEN"));
	itest_resp_free(&r);
	itest_http("GET", "gateway", LOGS "/stats", NULL, NULL, 0, "not.a.token", NULL, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	itest_resp_free(&r);
}

static void
test_service_error_reaches_api(void)
{
	struct itest_resp r;
	const cJSON *errs, *e;
	char since[32], path[160];
	int found = 0;

	ts_at(time(NULL) - 2, since);
	/* Kill the user service's database connections while its role may not
	 * log in: the reconnect fails and logs an ERROR line, which is shipped
	 * (a dropped connection alone is mended without an error). */
	CU_ASSERT_FATAL(itest_sql_exec("postgres", "ALTER ROLE esm_users NOLOGIN") == 0);
	CU_ASSERT(itest_sql_exec("postgres", "SELECT pg_terminate_backend(pid) FROM "
	    "pg_stat_activity WHERE usename = 'esm_users'") == 0);
	for (int i = 0; i < 6; i++) {
		itest_http("GET", "users", "/health", NULL, NULL, 0, NULL, NULL, &r);
		itest_resp_free(&r);
		itest_sleep_ms(100);
	}
	CU_ASSERT_FATAL(itest_sql_exec("postgres", "ALTER ROLE esm_users LOGIN") == 0);
	snprintf(path, sizeof(path), LOGS "/errors/usermanagement?level=error&since=%s", since);
	for (int i = 0; i < 100 && !found; i++) {
		op_get("logmonitor", path, &r);
		CU_ASSERT_EQUAL_FATAL(r.status, 200);
		errs = cJSON_GetObjectItemCaseSensitive(r.json, "errors");
		cJSON_ArrayForEach(e, errs) {
			const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
			if (!cJSON_IsString(msg) || strstr(msg->valuestring, "database") == NULL)
				continue;
			found = 1;
			CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "level")), "ERROR");
			CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "service")), "usermanagement");
			CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "logger")), "usermanagement");
			CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "module")), "db");
			CU_ASSERT(cJSON_IsString(cJSON_GetObjectItem(e, "function")));
			CU_ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(e, "line")));
			CU_ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(e, "process")));
			CU_ASSERT(cJSON_IsString(cJSON_GetObjectItem(e, "host")));
			CU_ASSERT(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(e, "requestId"))) > 0);
			CU_ASSERT(strlen(cJSON_GetStringValue(cJSON_GetObjectItem(e, "timestamp"))) == 27);
			break;
		}
		itest_resp_free(&r);
		if (!found)
			itest_sleep_ms(100);
	}
	CU_ASSERT(found);
	/* The services list knows the shipping programs. */
	op_get("gateway", LOGS "/services", &r);
	CU_ASSERT(r.body && strstr(r.body, "\"usermanagement\"") && strstr(r.body, "\"logcollector\""));
	itest_resp_free(&r);
}

static void
test_limits_and_filters(void)
{
	char svc[32], args[160], path[256], prev[40] = "9999";
	struct itest_resp r;
	const cJSON *errs, *e, *bs, *bl;
	int n;

	itest_unique(svc, sizeof(svc), "lgf");
	snprintf(args, sizeof(args), "-n 3 -s %s -l error", svc);
	CU_ASSERT_FATAL(loggen(args) == 0);
	snprintf(args, sizeof(args), "-n 2 -s %s -l critical", svc);
	CU_ASSERT_FATAL(loggen(args) == 0);
	snprintf(args, sizeof(args), "-n 4 -s %s -l info", svc);
	CU_ASSERT_FATAL(loggen(args) == 0);
	CU_ASSERT_EQUAL_FATAL(wait_stored(svc, 5, 15), 5);

	snprintf(path, sizeof(path), LOGS "/errors/%s", svc);
	op_get("gateway", path, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(r.json, "service")), svc);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 5);
	errs = cJSON_GetObjectItem(r.json, "errors");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(errs), 5);
	cJSON_ArrayForEach(e, errs) {	/* newest first */
		const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(e, "timestamp"));
		CU_ASSERT(ts != NULL && strcmp(ts, prev) <= 0);
		snprintf(prev, sizeof(prev), "%s", ts ? ts : "");
	}
	itest_resp_free(&r);

	snprintf(path, sizeof(path), LOGS "/errors?service=%s&level=CRITICAL", svc);
	op_get("gateway", path, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 2);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(r.json, "errors"))
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "level")), "CRITICAL");
	itest_resp_free(&r);
	snprintf(path, sizeof(path), LOGS "/errors/%s?level=error&limit=500", svc);
	op_get("gateway", path, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 3);
	itest_resp_free(&r);
	snprintf(path, sizeof(path), LOGS "/errors?service=%s&limit=1", svc);
	op_get("gateway", path, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 1);
	n = cJSON_GetArraySize(cJSON_GetObjectItem(r.json, "errors"));
	CU_ASSERT_EQUAL(n, 1);
	itest_resp_free(&r);
	snprintf(path, sizeof(path), LOGS "/errors?service=%s&since=2999-01-01T00:00:00Z", svc);
	op_get("gateway", path, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 0);
	itest_resp_free(&r);
	snprintf(path, sizeof(path), LOGS "/errors?service=%s&since=2000-01-01T00%%3A00%%3A00.5%%2B01:00", svc);
	op_get("gateway", path, &r);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 5);
	itest_resp_free(&r);
	op_get("gateway", LOGS "/errors?service=nosuchservice", &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "count")), 0);
	itest_resp_free(&r);

	/* Edges refused, naming the argument. */
	{
		static const char *const bad[][2] = {
			{ LOGS "/errors?limit=0", "limit" }, { LOGS "/errors?limit=501", "limit" },
			{ LOGS "/errors?limit=ten", "limit" }, { LOGS "/errors?level=info", "level" },
			{ LOGS "/errors?since=yesterday", "since" }, { LOGS "/errors?service=a%20b", "service" },
			{ LOGS "/errors?order=asc", "query" }, { LOGS "/errors?limit=1&limit=2", "limit" },
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			op_get("gateway", bad[i][0], &r);
			CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
			CU_ASSERT(r.body && strstr(r.body, bad[i][1]) != NULL);
			itest_resp_free(&r);
		}
	}
	op_get("gateway", LOGS "/errors/bad%20name", &r);
	CU_ASSERT_EQUAL(r.status, 404);
	itest_resp_free(&r);
	itest_http("DELETE", "gateway", LOGS "/stats", NULL, NULL, 0, NULL,
	    (const char *const[]){ operator_auth(), NULL }, &r);
	CU_ASSERT(itest_is_problem(&r, 405, "METHOD_NOT_ALLOWED"));
	itest_resp_free(&r);

	/* Stats and services count it. */
	op_get("gateway", LOGS "/stats", &r);
	bs = cJSON_GetObjectItem(r.json, "by_service");
	bl = cJSON_GetObjectItem(r.json, "by_level");
	CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItem(bs, svc)), 5);
	CU_ASSERT(cJSON_IsNumber(cJSON_GetObjectItem(r.json, "total_errors")));
	CU_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "recent_errors")) >= 5);
	CU_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItem(bl, "CRITICAL")) >= 2);
	CU_ASSERT(cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "total_errors")) >=
	    cJSON_GetNumberValue(cJSON_GetObjectItem(r.json, "recent_errors")));
	itest_resp_free(&r);
	op_get("gateway", LOGS "/services", &r);
	CU_ASSERT(r.body && strstr(r.body, svc) != NULL);
	itest_resp_free(&r);
}

static void
test_retention_at_ingest(void)
{
	char svc[32], args[160], old[32];

	itest_unique(svc, sizeof(svc), "lgr");
	ts_at(time(NULL) - 8 * 86400, old);
	snprintf(args, sizeof(args), "-n 2 -s %s -l error -t %s", svc, old);
	CU_ASSERT_FATAL(loggen(args) == 0);
	snprintf(args, sizeof(args), "-n 1 -s %s -l error", svc);
	CU_ASSERT_FATAL(loggen(args) == 0);
	/* The fresh one is behind the old ones in the same partition (same key). */
	CU_ASSERT_EQUAL(wait_stored(svc, 1, 15), 1);
	itest_sleep_ms(300);
	CU_ASSERT_EQUAL(wait_stored(svc, 1, 0), 1);
}

/* Errors (of level, "" for both) stored with ts in [from_s, to_s). */
static double
count_between(const char *level, int64_t from_s, int64_t to_s)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM error_logs WHERE ts >= to_timestamp(%lld) "
	    "AND ts < to_timestamp(%lld)%s%s%s", (long long)from_s, (long long)to_s,
	    *level ? " AND level = '" : "", level, *level ? "'" : "");
	return (double)itest_sql_int("logmonitor", sql);
}

/* Datapoint values of the series called target in a Grafana answer. */
static int
series_values(const cJSON *ans, const char *target, double *v, int max)
{
	const cJSON *s, *p;
	int n = 0;

	cJSON_ArrayForEach(s, ans) {
		if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(s, "target")) ?: "", target) != 0)
			continue;
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(s, "datapoints"))
			if (n < max)
				v[n++] = cJSON_GetNumberValue(cJSON_GetArrayItem(p, 0));
		return n;
	}
	return -1;
}

static void
test_grafana_range(void)
{
	char svc[32], args[200], t[32], from[32], to[32], body[512];
	struct itest_resp r;
	double v[16];
	int64_t base;
	int n;

	itest_unique(svc, sizeof(svc), "lgg");
	/* Five minutes at least three hours ago, somewhere in the last six days
	 * (so runs rarely share them), aligned to five minutes. */
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	base = (time(NULL) - 3 * 3600 - (rand() % 1700) * 300) / 300 * 300;
	ts_at(base + 10, t);
	snprintf(args, sizeof(args), "-n 2 -s %s -l error -t %s", svc, t);
	CU_ASSERT_FATAL(loggen(args) == 0);
	snprintf(args, sizeof(args), "-n 4 -s %s -l info -t %s", svc, t);
	CU_ASSERT_FATAL(loggen(args) == 0);
	ts_at(base + 70, t);
	snprintf(args, sizeof(args), "-n 3 -s %s -l critical -t %s", svc, t);
	CU_ASSERT_FATAL(loggen(args) == 0);
	ts_at(base + 179, t);
	snprintf(args, sizeof(args), "-n 1 -s %s -l error -t %s", svc, t);
	CU_ASSERT_FATAL(loggen(args) == 0);
	CU_ASSERT_EQUAL_FATAL(wait_stored(svc, 6, 15), 6);

	ts_at(base, from);
	ts_at(base + 300, to);
	snprintf(body, sizeof(body), "{\"range\":{\"from\":\"%s\",\"to\":\"%s\",\"raw\":{}},"
	    "\"intervalMs\":60000,\"maxDataPoints\":500,\"targets\":[{\"target\":\"error_by_service\","
	    "\"refId\":\"A\",\"type\":\"timeserie\"},{\"target\":\"error_by_level\"},"
	    "{\"target\":\"error_count\"},{\"target\":\"recent_errors\"}]}", from, to);
	CU_ASSERT_EQUAL_FATAL(op_post(GF "/query", body, &r), 200);
	CU_ASSERT_EQUAL(series_values(r.json, svc, v, 16), 5);
	CU_ASSERT(v[0] == 2 && v[1] == 3 && v[2] == 1 && v[3] == 0 && v[4] == 0);
	/* The totals include whatever else happened then (earlier runs): they
	 * must equal what error_logs itself holds, counted independently. */
	CU_ASSERT_EQUAL(series_values(r.json, "error_count", v, 16), 5);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(v[i], count_between("", base + i * 60, base + i * 60 + 60));
	CU_ASSERT(v[0] >= 2 && v[1] >= 3 && v[2] >= 1);
	CU_ASSERT_EQUAL(series_values(r.json, "CRITICAL", v, 16), 5);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(v[i], count_between("CRITICAL", base + i * 60, base + i * 60 + 60));
	CU_ASSERT_EQUAL(series_values(r.json, "recent_errors", v, 16), 5);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(v[i], count_between("", base + i * 60 + 60 - 3600, base + i * 60 + 60));
	CU_ASSERT(v[0] >= 2 && v[1] >= 5 && v[2] >= 6 && v[4] >= 6);
	{	/* timestamps are the bucket starts, in ms */
		const cJSON *s = cJSON_GetArrayItem(r.json, 0);
		const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "datapoints"), 1);
		CU_ASSERT_EQUAL((int64_t)cJSON_GetNumberValue(cJSON_GetArrayItem(p, 1)), (base + 60) * 1000);
	}
	itest_resp_free(&r);
	/* One five-minute bucket holds all six. */
	snprintf(body, sizeof(body), "{\"range\":{\"from\":\"%s\",\"to\":\"%s\"},\"intervalMs\":300000,"
	    "\"targets\":[{\"target\":\"error_by_service\"}]}", from, to);
	CU_ASSERT_EQUAL_FATAL(op_post(GF "/query", body, &r), 200);
	n = series_values(r.json, svc, v, 16);
	CU_ASSERT(n == 1 && v[0] == 6);
	itest_resp_free(&r);
	/* Annotations in the range for that service. */
	snprintf(body, sizeof(body), "{\"range\":{\"from\":\"%s\",\"to\":\"%s\"},"
	    "\"annotation\":{\"name\":\"errors\",\"enable\":true,\"query\":\"%s\"}}", from, to, svc);
	CU_ASSERT_EQUAL_FATAL(op_post(GF "/annotations", body, &r), 200);
	CU_ASSERT_EQUAL(cJSON_GetArraySize(r.json), 6);
	CU_ASSERT(r.body && strstr(r.body, "\"tags\"") && strstr(r.body, "\"time\""));
	itest_resp_free(&r);
	/* Search and refusals. */
	CU_ASSERT_EQUAL(op_post(GF "/search", "{\"target\":\"\"}", &r), 200);
	CU_ASSERT(cJSON_GetArraySize(r.json) == 4 && r.body && strstr(r.body, "recent_errors"));
	itest_resp_free(&r);
	snprintf(body, sizeof(body), "{\"range\":{\"from\":\"%s\",\"to\":\"%s\"},"
	    "\"targets\":[{\"target\":\"nope\"}]}", from, to);
	op_post(GF "/query", body, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
	itest_resp_free(&r);
	snprintf(body, sizeof(body), "{\"range\":{\"from\":\"%s\",\"to\":\"%s\"},"
	    "\"targets\":[{\"target\":\"error_count\"}]}", to, from);
	op_post(GF "/query", body, &r);
	CU_ASSERT(itest_is_problem(&r, 400, "BAD_REQUEST"));
	itest_resp_free(&r);
}

static CU_TestInfo logs_tests[] = {
	{ "operator authentication", test_operator_auth },
	{ "a service's error reaches the API", test_service_error_reaches_api },
	{ "limits and filters", test_limits_and_filters },
	{ "retention at ingest", test_retention_at_ingest },
	{ "grafana query over a range", test_grafana_range },
	CU_TEST_INFO_NULL
};

ITEST_SUITE(logs, logs_tests)
