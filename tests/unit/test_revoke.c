/*
 * test_revoke.c: the list of revoked sessions (shared/revoke.c): entries,
 * expiry, growth, the token service's answer, and when the source is asked.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "revoke.h"
#include "unit.h"

#define S(x) x, strlen(x)

static int src_calls, src_fail, src_pages;
static int64_t src_since[8];

/* A source with one revocation per page, two pages, then nothing new. */
static int
fake_source(int64_t since_us, int64_t *upto_us, int *more)
{
	char sid[40];

	if (src_calls < 8)
		src_since[src_calls] = since_us;
	src_calls++;
	if (src_fail)
		return -1;
	*more = 0;
	*upto_us = 100000000 + since_us;
	if (src_pages < 2) {
		snprintf(sid, sizeof(sid), "page-%d", src_pages++);
		CU_ASSERT(revoke_add(sid, (int64_t)time(NULL) + 60) == 0);
		*more = src_pages < 2;
		*upto_us = 10000000 * src_pages;
	}
	return 0;
}

static void
test_entries(void)
{
	int64_t now = (int64_t)time(NULL);
	char sid[40];
	int i;

	revoke_reset();
	revoke_setup(NULL, 1000);
	/* Without a source nothing is revoked: a service without bearer routes. */
	CU_ASSERT(revoke_add("a", now + 60) == 0);
	CU_ASSERT_EQUAL(revoke_check("a", now), 0);
	revoke_setup(fake_source, 60000);
	src_pages = 2;	/* the source has nothing */
	CU_ASSERT_EQUAL(revoke_check("a", now), 1);
	CU_ASSERT_EQUAL(revoke_check("b", now), 0);
	/* An entry ends with the last token of its session. */
	CU_ASSERT_EQUAL(revoke_check("a", now + 61), 0);
	CU_ASSERT(revoke_add("expired", now - 1) == 0);
	CU_ASSERT_EQUAL(revoke_check("expired", now - 5), 0);
	/* Adding again keeps the later end. */
	CU_ASSERT(revoke_add("a", now + 10) == 0);
	CU_ASSERT_EQUAL(revoke_check("a", now + 30), 1);
	CU_ASSERT(revoke_add("a", now + 120) == 0);
	CU_ASSERT_EQUAL(revoke_check("a", now + 100), 1);
	CU_ASSERT_EQUAL(revoke_count(), 1);
	/* Bad ids are refused, and never match. */
	CU_ASSERT(revoke_add("", now + 60) == -1);
	CU_ASSERT(revoke_add(NULL, now + 60) == -1);
	CU_ASSERT(revoke_add("0123456789012345678901234567890123456", now + 60) == -1);
	CU_ASSERT_EQUAL(revoke_check("", now), 0);
	CU_ASSERT_EQUAL(revoke_check(NULL, now), 0);
	/* Growth keeps every entry findable. */
	for (i = 0; i < 5000; i++) {
		snprintf(sid, sizeof(sid), "%08x-0000-4000-8000-%012d", i, i);
		CU_ASSERT_FATAL(revoke_add(sid, now + 60) == 0);
	}
	CU_ASSERT_EQUAL(revoke_count(), 5001);
	for (i = 0; i < 5000; i += 7) {
		snprintf(sid, sizeof(sid), "%08x-0000-4000-8000-%012d", i, i);
		CU_ASSERT_EQUAL(revoke_check(sid, now), 1);
	}
	snprintf(sid, sizeof(sid), "%08x-0000-4000-8000-%012d", 5000, 5000);
	CU_ASSERT_EQUAL(revoke_check(sid, now), 0);
	revoke_reset();
	CU_ASSERT_EQUAL(revoke_count(), 0);
}

static void
test_parse(void)
{
	int64_t now = (int64_t)time(NULL), upto = 0;
	char ok[256];
	int more = -1;

	revoke_reset();
	revoke_setup(fake_source, 60000);
	src_pages = 2;
	snprintf(ok, sizeof(ok), "{\"revoked\":[{\"sid\":\"s1\",\"until\":%lld},"
	    "{\"sid\":\"s2\",\"until\":%lld}],\"upto\":1700000000123456,\"more\":true}",
	    (long long)now + 60, (long long)now + 60);
	CU_ASSERT_EQUAL(revoke_parse(S(ok), &upto, &more), 0);
	CU_ASSERT_EQUAL(upto, 1700000000123456LL);
	CU_ASSERT_EQUAL(more, 1);
	CU_ASSERT_EQUAL(revoke_check("s1", now), 1);
	CU_ASSERT_EQUAL(revoke_check("s2", now), 1);
	CU_ASSERT_EQUAL(revoke_parse(S("{\"revoked\":[],\"upto\":0,\"more\":false}"), &upto, &more), 0);
	CU_ASSERT_EQUAL(more, 0);
	{
		const char *bad[] = {
			"", "null", "[]", "{}", "{\"revoked\":[],\"upto\":1}",
			"{\"revoked\":[],\"more\":false}",
			"{\"revoked\":{},\"upto\":1,\"more\":false}",
			"{\"revoked\":[],\"upto\":-1,\"more\":false}",
			"{\"revoked\":[],\"upto\":1.5,\"more\":false}",
			"{\"revoked\":[],\"upto\":\"1\",\"more\":false}",
			"{\"revoked\":[],\"upto\":1,\"more\":0}",
			"{\"revoked\":[[\"s\",1]],\"upto\":1,\"more\":false}",
			"{\"revoked\":[{\"sid\":1,\"until\":1}],\"upto\":1,\"more\":false}",
			"{\"revoked\":[{\"sid\":\"\",\"until\":1}],\"upto\":1,\"more\":false}",
			"{\"revoked\":[{\"sid\":\"s\"}],\"upto\":1,\"more\":false}",
			"{\"revoked\":[{\"sid\":\"s\",\"until\":1e300}],\"upto\":1,\"more\":false}",
			"{\"revoked\":[],\"upto\":1,\"more\":false,\"more\":true}",
			"{\"revoked\":[],\"upto\":1,\"more\":false} x",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (revoke_parse(S(bad[i]), &upto, &more) != -1)
				fprintf(stderr, "accepted: %s\n", bad[i]);
			CU_ASSERT_EQUAL(revoke_parse(S(bad[i]), &upto, &more), -1);
		}
	}
	revoke_reset();
}

static void
test_refresh(void)
{
	int64_t now = (int64_t)time(NULL);

	revoke_reset();
	src_calls = src_fail = src_pages = 0;
	revoke_setup(fake_source, 100);
	/* No request has checked a token: the tick asks nobody. */
	revoke_tick();
	CU_ASSERT_EQUAL(src_calls, 0);
	/* The first check reads every page: both revocations are there. */
	CU_ASSERT_EQUAL(revoke_check("page-1", now), 1);
	CU_ASSERT_EQUAL(src_calls, 2);
	CU_ASSERT_EQUAL(src_since[0], 0);
	CU_ASSERT_EQUAL(src_since[1], 10000000);	/* the second page from the first's end */
	CU_ASSERT_EQUAL(revoke_check("page-0", now), 1);
	CU_ASSERT_EQUAL(src_calls, 2);			/* fresh: not asked again */
	/* Older than the interval: asked again, from a few seconds before
	 * where the last read ended (a revocation may commit late). */
	usleep(120000);
	CU_ASSERT_EQUAL(revoke_check("nope", now), 0);
	CU_ASSERT_EQUAL(src_calls, 3);
	CU_ASSERT_EQUAL(src_since[2], 20000000 - 5000000);
	/* After a reply, half the interval is enough to refresh. */
	usleep(60000);
	revoke_tick();
	CU_ASSERT_EQUAL(src_calls, 4);
	revoke_tick();
	CU_ASSERT_EQUAL(src_calls, 4);
	/* A source that does not answer: the list stands, and it is asked
	 * once per interval, not at every request. */
	src_fail = 1;
	usleep(120000);
	CU_ASSERT_EQUAL(revoke_check("page-0", now), 1);
	CU_ASSERT_EQUAL(src_calls, 5);
	CU_ASSERT_EQUAL(revoke_check("page-0", now), 1);
	CU_ASSERT_EQUAL(src_calls, 5);
	revoke_reset();
}

static CU_TestInfo tests[] = {
	{ "entries, expiry, growth", test_entries },
	{ "the token service's answer", test_parse },
	{ "when the source is asked", test_refresh },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(revoke, tests)
