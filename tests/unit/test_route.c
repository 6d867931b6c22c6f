/*
 * test_route.c: route matching, lookup with 404/405, content types, client
 * addresses, error bodies, rate limit syntax, events, utilities.
 */
#include <string.h>

#include "event.h"
#include "http.h"
#include "ratelimit.h"
#include "route.h"
#include "unit.h"
#include "util.h"

static int h(struct http_req *r) { (void)r; return 200; }

static const struct route tab[] = {
	{ "POST", "/api/users/register", h, RB_JSON, RA_NONE },
	{ "GET", "/api/users/{id}", h, RB_NONE, RA_BEARER },
	{ "DELETE", "/api/users/{id}", h, RB_NONE, RA_BEARER },
	{ "GET", "/api/logs/errors/{name}", h, RB_NONE, RA_NONE },
};

static void
test_match(void)
{
	const char *pv[HTTP_PATH_PARAMS];
	char pbuf[256];

	CU_ASSERT(route_match("/a/b", "/a/b", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/a/b", "/a/b/", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/a/b", "/a", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/a/b", "/a/bc", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT(route_match("/u/{id}", "/u/1000", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_STRING_EQUAL(pv[0], "1000");
	CU_ASSERT_FALSE(route_match("/u/{id}", "/u/0", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/u/{id}", "/u/-1", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/u/{id}", "/u/12a", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/u/{id}", "/u/", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/u/{id}", "/u/1234567890123456789", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT(route_match("/u/{id}/cancel", "/u/7/cancel", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT(route_match("/e/{name}", "/e/auth-service_1.x", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/e/{name}", "/e/a%2fb", pbuf, sizeof(pbuf), pv, 4));
	CU_ASSERT_FALSE(route_match("/e/{name}", "/e/a/b", pbuf, sizeof(pbuf), pv, 4));
}

static void
test_lookup(void)
{
	const char *pv[HTTP_PATH_PARAMS];
	const struct route *r;
	char pbuf[256], allow[64];

	CU_ASSERT_EQUAL(route_lookup(tab, 4, "GET", "/api/users/5", pbuf, sizeof(pbuf), pv, &r, allow, sizeof(allow)), 0);
	CU_ASSERT_PTR_EQUAL(r, &tab[1]);
	CU_ASSERT_EQUAL(route_lookup(tab, 4, "HEAD", "/api/users/5", pbuf, sizeof(pbuf), pv, &r, allow, sizeof(allow)), 0);
	CU_ASSERT_EQUAL(route_lookup(tab, 4, "DELETE", "/api/users/5", pbuf, sizeof(pbuf), pv, &r, allow, sizeof(allow)), 0);
	CU_ASSERT_PTR_EQUAL(r, &tab[2]);
	CU_ASSERT_EQUAL(route_lookup(tab, 4, "PUT", "/api/users/5", pbuf, sizeof(pbuf), pv, &r, allow, sizeof(allow)), 405);
	CU_ASSERT_STRING_EQUAL(allow, "GET, HEAD, DELETE");
	CU_ASSERT_EQUAL(route_lookup(tab, 4, "GET", "/api/users/register", pbuf, sizeof(pbuf), pv, &r, allow, sizeof(allow)), 405);
	CU_ASSERT_STRING_EQUAL(allow, "POST");
	CU_ASSERT_EQUAL(route_lookup(tab, 4, "GET", "/nope", pbuf, sizeof(pbuf), pv, &r, allow, sizeof(allow)), 404);
	CU_ASSERT_PTR_NULL(r);
}

static void
test_ctype(void)
{
	CU_ASSERT(route_json_ctype("application/json"));
	CU_ASSERT(route_json_ctype("Application/JSON"));
	CU_ASSERT(route_json_ctype("application/json; charset=utf-8"));
	CU_ASSERT(route_json_ctype("application/json;charset=\"UTF-8\""));
	CU_ASSERT_FALSE(route_json_ctype(NULL));
	CU_ASSERT_FALSE(route_json_ctype("text/plain"));
	CU_ASSERT_FALSE(route_json_ctype("application/jsonx"));
	CU_ASSERT_FALSE(route_json_ctype("application/json; charset=latin1"));
	CU_ASSERT_FALSE(route_json_ctype("application/json; boundary=x"));
}

static void
test_client_addr(void)
{
	char out[64];

	route_client_addr("10.0.0.9", "1.2.3.4", NULL, out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "10.0.0.9");
	route_client_addr("10.0.0.9", "1.2.3.4", "127.0.0.1", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "10.0.0.9");
	route_client_addr("127.0.0.1", "6.6.6.6, 1.2.3.4", "10.0.0.1, 127.0.0.1", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "1.2.3.4");
	route_client_addr("127.0.0.1", "2001:db8::1", "127.0.0.1", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "2001:db8::1");
	route_client_addr("127.0.0.1", "<script>", "127.0.0.1", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "127.0.0.1");
	route_client_addr("127.0.0.11", "1.2.3.4", "127.0.0.1", out, sizeof(out));
	CU_ASSERT_STRING_EQUAL(out, "127.0.0.11");
}

static void
test_problem_body(void)
{
	const char *params[] = { "email", "user\"name", NULL };
	char *b = http_problem_body(400, "bad <input>", params);

	CU_ASSERT_STRING_EQUAL(b, "{\"error\":\"BAD_REQUEST\",\"message\":\"bad <input>\","
	    "\"error_details\":{\"details\":{\"params\":[\"email\",\"user\\\"name\"]}}}");
	cJSON_free(b);
	b = http_problem_body(503, NULL, NULL);
	CU_ASSERT_STRING_EQUAL(b, "{\"error\":\"SERVICE_UNAVAILABLE\",\"message\":\"Service Unavailable\","
	    "\"error_details\":{\"details\":{\"params\":[]}}}");
	cJSON_free(b);
	CU_ASSERT_STRING_EQUAL(http_error_code(413), "PAYLOAD_TOO_LARGE");
	CU_ASSERT_STRING_EQUAL(http_error_code(429), "TOO_MANY_REQUESTS");
	CU_ASSERT_STRING_EQUAL(http_error_code(405), "METHOD_NOT_ALLOWED");
}

static void
test_rate_syntax(void)
{
	struct rate r;

	CU_ASSERT_EQUAL(ratelimit_parse("5/60", &r), 0);
	CU_ASSERT(r.limit == 5 && r.window_s == 60);
	CU_ASSERT_EQUAL(ratelimit_parse("off", &r), 0);
	CU_ASSERT_EQUAL(r.limit, 0);
	CU_ASSERT_EQUAL(ratelimit_parse("5", &r), -1);
	CU_ASSERT_EQUAL(ratelimit_parse("/60", &r), -1);
	CU_ASSERT_EQUAL(ratelimit_parse("5/0", &r), -1);
	CU_ASSERT_EQUAL(ratelimit_parse("-1/60", &r), -1);
	CU_ASSERT_EQUAL(ratelimit_parse("5/60s", &r), -1);
	CU_ASSERT_EQUAL(ratelimit_parse("5/86401", &r), -1);
}

static void
test_event_and_util(void)
{
	char id[37], ts[UTIL_TS_LEN], hex[9];
	cJSON *ev = event_new("user_registered", "usermanagement", "rid-1", id);
	const cJSON *v;
	int64_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ev);
	CU_ASSERT_EQUAL(strlen(id), 36);
	CU_ASSERT_EQUAL(id[14], '4');
	v = cJSON_GetObjectItemCaseSensitive(ev, "eventId");
	CU_ASSERT_STRING_EQUAL(v->valuestring, id);
	v = cJSON_GetObjectItemCaseSensitive(ev, "requestId");
	CU_ASSERT_STRING_EQUAL(v->valuestring, "rid-1");
	CU_ASSERT_EQUAL(cJSON_GetArraySize(ev), 6);
	cJSON_Delete(ev);

	util_ts_format(1795601472123456LL, ts);
	CU_ASSERT_STRING_EQUAL(ts, "2026-11-25T10:11:12.123456Z");
	util_ts_format(0, ts);
	CU_ASSERT_STRING_EQUAL(ts, "1970-01-01T00:00:00.000000Z");
	util_hex((const unsigned char *)"\x01\xab\xff\x00", 4, hex);
	CU_ASSERT_STRING_EQUAL(hex, "01abff00");
	CU_ASSERT_EQUAL(util_parse_i64("123", 0, 1000, &n), 0);
	CU_ASSERT_EQUAL(n, 123);
	CU_ASSERT_EQUAL(util_parse_i64(" 1", 0, 1000, &n), -1);
	CU_ASSERT_EQUAL(util_parse_i64("+1", 0, 1000, &n), -1);
	CU_ASSERT_EQUAL(util_parse_i64("1 ", 0, 1000, &n), -1);
	CU_ASSERT_EQUAL(util_parse_i64("1001", 0, 1000, &n), -1);
	CU_ASSERT_EQUAL(util_parse_i64("99999999999999999999", 0, INT64_MAX, &n), -1);
	CU_ASSERT_EQUAL(util_parse_i64("", 0, 1, &n), -1);
	CU_ASSERT(util_ct_equal("abc", "abc", 3));
	CU_ASSERT_FALSE(util_ct_equal("abc", "abd", 3));
}

static void
test_buf(void)
{
	buf_t b = { 0 };

	CU_ASSERT_EQUAL(buf_json_escape(&b, "a\"b\\c\n\x01\x7f", 8), 0);
	CU_ASSERT_STRING_EQUAL(b.p, "a\\\"b\\\\c\\n\\u0001\\u007f");
	buf_reset(&b);
	CU_ASSERT_EQUAL(buf_printf(&b, "%d-%s", 42, "x"), 0);
	CU_ASSERT_STRING_EQUAL(b.p, "42-x");
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL_FATAL(buf_puts(&b, "0123456789"), 0);
	CU_ASSERT_EQUAL(b.len, 10004);
	buf_free(&b);
	buf_free(&b);
}

static void
test_cors_origins(void)
{
	const char *list = "https://app.example.org, http://localhost:3000 ,https://b.example";

	CU_ASSERT(route_cors_allowed(list, "https://app.example.org"));
	CU_ASSERT(route_cors_allowed(list, "http://localhost:3000"));
	CU_ASSERT(route_cors_allowed(list, "https://b.example"));
	/* Exact origins only: no prefix, suffix, case or port games. */
	CU_ASSERT(!route_cors_allowed(list, "https://app.example.org.evil.example"));
	CU_ASSERT(!route_cors_allowed(list, "https://app.example"));
	CU_ASSERT(!route_cors_allowed(list, "https://APP.example.org"));
	CU_ASSERT(!route_cors_allowed(list, "http://localhost:30000"));
	CU_ASSERT(!route_cors_allowed(list, "http://localhost"));
	CU_ASSERT(!route_cors_allowed(list, ""));
	CU_ASSERT(!route_cors_allowed(list, NULL));
	CU_ASSERT(!route_cors_allowed(NULL, "https://app.example.org"));
	CU_ASSERT(!route_cors_allowed("", "https://app.example.org"));
	CU_ASSERT(!route_cors_allowed(",", "https://app.example.org"));
	/* "*": any origin, but never the opaque "null" of sandboxed pages. */
	CU_ASSERT(route_cors_allowed("*", "https://anything.example"));
	CU_ASSERT(!route_cors_allowed("*", "null"));
}

static CU_TestInfo tests[] = {
	{ "CORS origins", test_cors_origins },
	{ "match", test_match },
	{ "lookup, 404 and 405", test_lookup },
	{ "content type", test_ctype },
	{ "client address", test_client_addr },
	{ "problem body", test_problem_body },
	{ "rate syntax", test_rate_syntax },
	{ "events and utilities", test_event_and_util },
	{ "buffers", test_buf },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(route, tests)
