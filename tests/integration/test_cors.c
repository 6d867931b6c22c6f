/*
 * test_cors.c: browsers on another origin. The suites' stack allows one
 * origin (ESM_CORS_ORIGINS, tests/run.sh); a real preflight from it gets
 * its answer at the gateway, a request from it the headers to read the
 * answer, and another origin none of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "itest.h"

static const char *
allowed(void)
{
	const char *o = getenv("ESM_CORS_ORIGINS");

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	return o;
}

/* Any Access-Control-* header in r's headers. */
static int
any_cors(const struct itest_resp *r)
{
	return r->headers != NULL && strcasestr(r->headers, "\nAccess-Control-") != NULL;
}

static long
preflight(const char *origin, const char *path, const char *method, struct itest_resp *r)
{
	char o[256], m[64];
	const char *hdrs[4] = { o, m, "Access-Control-Request-Headers: authorization, content-type, idempotency-key", NULL };

	snprintf(o, sizeof(o), "Origin: %s", origin);
	snprintf(m, sizeof(m), "Access-Control-Request-Method: %s", method);
	return itest_http("OPTIONS", "gateway", path, NULL, NULL, 0, NULL, hdrs, r);
}

static void
test_preflight(void)
{
	struct itest_resp r;
	char v[256];
	const char *origin = allowed();

	CU_ASSERT_EQUAL(preflight(origin, TASKS, "POST", &r), 204);
	CU_ASSERT(itest_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)) != NULL &&
	    strcmp(v, origin) == 0);
	CU_ASSERT(itest_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)) != NULL &&
	    strstr(v, "POST") != NULL && strstr(v, "GET") != NULL);
	CU_ASSERT(itest_header(&r, "Access-Control-Allow-Headers", v, sizeof(v)) != NULL &&
	    strcasestr(v, "authorization") != NULL && strcasestr(v, "idempotency-key") != NULL);
	CU_ASSERT(itest_header(&r, "Vary", v, sizeof(v)) != NULL && strstr(v, "Origin") != NULL);
	itest_resp_free(&r);
	/* A path with parameters, on another service. */
	CU_ASSERT_EQUAL(preflight(origin, USERS_BASE "/1000", "DELETE", &r), 204);
	CU_ASSERT(itest_header(&r, "Access-Control-Allow-Methods", v, sizeof(v)) != NULL &&
	    strstr(v, "DELETE") != NULL);
	itest_resp_free(&r);
	/* Another origin, or one that only starts like it: no CORS at all. */
	{
		char evil[300];
		snprintf(evil, sizeof(evil), "%s.evil.example", origin);
		preflight(evil, TASKS, "POST", &r);
		CU_ASSERT(itest_is_problem(&r, 405, "METHOD_NOT_ALLOWED"));
		CU_ASSERT(!any_cors(&r));
		itest_resp_free(&r);
		preflight("https://other.example", TASKS, "POST", &r);
		CU_ASSERT(!any_cors(&r));
		itest_resp_free(&r);
	}
	/* No such path: 404, even for the allowed origin. */
	preflight(origin, "/api/v1/eventstreammonitor/nothing", "GET", &r);
	CU_ASSERT(itest_is_problem(&r, 404, "NOT_FOUND"));
	itest_resp_free(&r);
}

static void
test_actual_requests(void)
{
	struct flow_user u;
	struct itest_resp r;
	char o[256], v[256];
	const char *hdrs[2] = { o, NULL };
	const char *origin = allowed();

	if (flow_user(&u, "cors", 0) == -1)
		return;
	snprintf(o, sizeof(o), "Origin: %s", origin);
	itest_http("POST", "gateway", TASKS, "application/json", "{}", 2, u.access, hdrs, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	CU_ASSERT(itest_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)) != NULL &&
	    strcmp(v, origin) == 0);
	CU_ASSERT(itest_header(&r, "Access-Control-Expose-Headers", v, sizeof(v)) != NULL &&
	    strstr(v, "Location") != NULL);
	itest_resp_free(&r);
	/* Errors carry them too, or the browser could not read why. */
	itest_http("GET", "gateway", TASKS, NULL, NULL, 0, NULL, hdrs, &r);
	CU_ASSERT(itest_is_problem(&r, 401, "UNAUTHORIZED"));
	CU_ASSERT(itest_header(&r, "Access-Control-Allow-Origin", v, sizeof(v)) != NULL);
	itest_resp_free(&r);
	snprintf(o, sizeof(o), "Origin: https://other.example");
	itest_http("GET", "gateway", TASKS, NULL, NULL, 0, u.access, hdrs, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(!any_cors(&r));
	itest_resp_free(&r);
}

static CU_TestInfo tests[] = {
	{ "a preflight from the allowed origin, and from others", test_preflight },
	{ "requests from the allowed origin can be read by it", test_actual_requests },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(cors, tests)
