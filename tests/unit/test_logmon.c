/*
 * test_logmon.c: the pure parts of log shipping and the log monitor: the
 * topic of a level and the Kafka-line filter (shared/logship.c), RFC 3339
 * parsing, the collector's record parsing, retention window and minute
 * buckets (worker/logcollector/handle.c), the log API's query arguments,
 * Grafana buckets and trailing-hour sums (fcgi/logmonitor/query.c). The
 * I/O paths run against the real stack in tests/integration/test_logs.c.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "query.h"
#include "unit.h"
#include "logship.h"
#include "../../fcgi/logmonitor/logmon.h"
#include "../../worker/logcollector/logcol.h"

#define T0 1795568400000000LL	/* 2026-11-25T01:00:00Z in microseconds */

static void
test_topic(void)
{
	CU_ASSERT_STRING_EQUAL(logship_topic(LOG_LVL_DEBUG), "application-logs");
	CU_ASSERT_STRING_EQUAL(logship_topic(LOG_LVL_INFO), "application-logs");
	CU_ASSERT_STRING_EQUAL(logship_topic(LOG_LVL_WARNING), "application-logs");
	CU_ASSERT_STRING_EQUAL(logship_topic(LOG_LVL_ERROR), "application-logs-errors");
	CU_ASSERT_STRING_EQUAL(logship_topic(LOG_LVL_CRITICAL), "application-logs-errors");
}

static void
test_kafka_line(void)
{
	const char *k = "{\"timestamp\":\"x\",\"level\":\"WARNING\",\"logger\":\"users\",\"message\":\"m\","
	    "\"module\":\"kafka\",\"function\":\"kafka_error_cb\",\"line\":1}";
	const char *u = "{\"timestamp\":\"x\",\"level\":\"ERROR\",\"logger\":\"users\","
	    "\"message\":\"a \\\",\\\"module\\\":\\\"kafka\\\",\\\" trick\",\"module\":\"db\",\"function\":\"f\"}";
	const char *k2 = "{\"module\":\"kafkaesque\",\"x\":1}";

	CU_ASSERT_EQUAL(logship_is_kafka_line(k, strlen(k)), 1);
	CU_ASSERT_EQUAL(logship_is_kafka_line(u, strlen(u)), 0);
	CU_ASSERT_EQUAL(logship_is_kafka_line(k2, strlen(k2)), 0);
}

static void
test_ts_parse(void)
{
	int64_t us;

	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00Z", &us), 0);
	CU_ASSERT_EQUAL(us, T0);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00.123456Z", &us), 0);
	CU_ASSERT_EQUAL(us, T0 + 123456);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00.5Z", &us), 0);
	CU_ASSERT_EQUAL(us, T0 + 500000);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00.123456789Z", &us), 0);
	CU_ASSERT_EQUAL(us, T0 + 123456);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T02:30:00+01:30", &us), 0);
	CU_ASSERT_EQUAL(us, T0);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-24T23:00:00-02:00", &us), 0);
	CU_ASSERT_EQUAL(us, T0);
	CU_ASSERT_EQUAL(logship_ts_parse("2024-02-29T00:00:00Z", &us), 0);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-02-29T00:00:00Z", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T24:00:00Z", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-13-25T01:00:00Z", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00.Z", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("2026-11-25T01:00:00Zjunk", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("1715000000", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse("", &us), -1);
	CU_ASSERT_EQUAL(logship_ts_parse(NULL, &us), -1);
}

static void
test_record_parse(void)
{
	const char *ok = "{\"timestamp\":\"2026-11-25T01:00:00.000001Z\",\"level\":\"ERROR\","
	    "\"logger\":\"usermanagement\",\"message\":\"db <b>down</b>\",\"module\":\"db\","
	    "\"function\":\"db_log_error\",\"line\":51,\"service\":\"usermanagement\",\"host\":\"h1\","
	    "\"process\":4242,\"requestId\":\"abc\",\"extra\":{\"x\":1}}";
	struct logcol_rec r;
	const char *why;

	CU_ASSERT_EQUAL_FATAL(logcol_parse(ok, strlen(ok), &r, &why), 0);
	CU_ASSERT_EQUAL(r.ts_us, T0 + 1);
	CU_ASSERT_EQUAL(r.level, LOG_LVL_ERROR);
	CU_ASSERT_STRING_EQUAL(r.service, "usermanagement");
	CU_ASSERT_STRING_EQUAL(r.message, "db <b>down</b>");
	CU_ASSERT_STRING_EQUAL(r.module, "db");
	CU_ASSERT_STRING_EQUAL(r.function, "db_log_error");
	CU_ASSERT_EQUAL(r.line, 51);
	CU_ASSERT_EQUAL(r.process, 4242);
	CU_ASSERT_STRING_EQUAL(r.request_id, "abc");
	CU_ASSERT_STRING_EQUAL(r.host, "h1");
}

static void
test_record_minimal_and_levels(void)
{
	const char *min = "{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"critical\","
	    "\"service\":\"a.b-c_d\",\"message\":\"\"}";
	const char *fatal = "{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"FATAL\","
	    "\"service\":\"s\",\"message\":\"m\",\"line\":\"7\",\"process\":null}";
	struct logcol_rec r;
	const char *why;

	CU_ASSERT_EQUAL(logcol_parse(min, strlen(min), &r, &why), 0);
	CU_ASSERT_EQUAL(r.level, LOG_LVL_CRITICAL);
	CU_ASSERT_EQUAL(r.line, -1);
	CU_ASSERT_EQUAL(r.process, -1);
	CU_ASSERT_STRING_EQUAL(r.module, "");
	CU_ASSERT_EQUAL(logcol_parse(fatal, strlen(fatal), &r, &why), 0);
	CU_ASSERT_EQUAL(r.level, LOG_LVL_CRITICAL);
	CU_ASSERT_EQUAL(r.line, 7);
}

static void
test_record_bad(void)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[1,2]",
		"{\"level\":\"ERROR\",\"service\":\"s\",\"message\":\"m\"}",
		"{\"timestamp\":\"yesterday\",\"level\":\"ERROR\",\"service\":\"s\",\"message\":\"m\"}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"LOUD\",\"service\":\"s\",\"message\":\"m\"}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"a b\",\"message\":\"m\"}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"\",\"message\":\"m\"}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"s\"}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"s\",\"message\":5}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"s\",\"message\":\"m\",\"line\":-1}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"s\",\"message\":\"m\",\"module\":[]}",
		"{\"timestamp\":\"2026-11-25T01:00:00Z\",\"level\":\"ERROR\",\"service\":\"s\",\"message\":\"a\\u0000b\"}",
	};
	struct logcol_rec r;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CU_ASSERT_EQUAL(logcol_parse(bad[i], strlen(bad[i]), &r, &why), -1);
		CU_ASSERT_PTR_NOT_NULL(why);
	}
}

static void
test_record_caps(void)
{
	static char big[LOGCOL_MSG_CAP * 2 + 200];
	struct logcol_rec r;
	const char *why;
	size_t n, i;

	n = (size_t)snprintf(big, sizeof(big), "{\"timestamp\":\"2026-11-25T01:00:00Z\","
	    "\"level\":\"ERROR\",\"service\":\"s\",\"message\":\"x");
	/* 3-byte characters: the cap falls inside one and must not split it. */
	for (i = 0; i < LOGCOL_MSG_CAP / 3 + 10; i++) {
		memcpy(big + n, "\xe2\x82\xac", 3);
		n += 3;
	}
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\"}");
	CU_ASSERT_EQUAL_FATAL(logcol_parse(big, n, &r, &why), 0);
	CU_ASSERT(strlen(r.message) <= LOGCOL_MSG_CAP);
	CU_ASSERT(strlen(r.message) >= LOGCOL_MSG_CAP - 3);
	CU_ASSERT(util_utf8_valid(r.message, strlen(r.message)));
}

static void
test_retention(void)
{
	int64_t day = 86400;

	CU_ASSERT_EQUAL(logcol_expired(T0, T0, 7 * day), 0);
	CU_ASSERT_EQUAL(logcol_expired(T0 - 7 * day * 1000000, T0, 7 * day), 0);
	CU_ASSERT_EQUAL(logcol_expired(T0 - 7 * day * 1000000 - 1, T0, 7 * day), 1);
	CU_ASSERT_EQUAL(logcol_expired(T0 + 3600000000LL, T0, 7 * day), 0);	/* future: kept */
	CU_ASSERT_EQUAL(logcol_expired(T0 - 2 * day * 1000000, T0, day), 1);
}

static void
test_minute(void)
{
	CU_ASSERT_EQUAL(logcol_minute(T0), T0 / 1000000);
	CU_ASSERT_EQUAL(logcol_minute(T0 + 59999999), T0 / 1000000);
	CU_ASSERT_EQUAL(logcol_minute(T0 + 60000000), T0 / 1000000 + 60);
	CU_ASSERT_EQUAL(logcol_minute(T0 - 1), T0 / 1000000 - 60);
	CU_ASSERT_EQUAL(logcol_minute(0), 0);
	CU_ASSERT_EQUAL(logcol_minute(-1), -60);
}

static void
test_array_literal(void)
{
	buf_t b = { 0 };

	CU_ASSERT_EQUAL_FATAL(buf_puts(&b, "{"), 0);
	CU_ASSERT_EQUAL(logcol_array_add(&b, "plain"), 0);
	CU_ASSERT_EQUAL(logcol_array_add(&b, NULL), 0);
	CU_ASSERT_EQUAL(logcol_array_add(&b, "q\"uote \\ back, {brace} NULL"), 0);
	CU_ASSERT_EQUAL(logcol_array_add(&b, ""), 0);
	CU_ASSERT_EQUAL(logcol_array_add(&b, "\"\"\\"), 0);
	CU_ASSERT_EQUAL_FATAL(buf_puts(&b, "}"), 0);
	CU_ASSERT_EQUAL(b.len, strlen(b.p));
	CU_ASSERT_STRING_EQUAL(b.p, "{\"plain\",NULL,\"q\\\"uote \\\\ back, {brace} NULL\",\"\","
	    "\"\\\"\\\"\\\\\"}");
	buf_free(&b);
}

static void
test_count_add(void)
{
	struct logcol_count tab[3];
	size_t n = 0;

	CU_ASSERT_EQUAL(logcol_count_add(tab, &n, 3, 60, "a", LOG_LVL_ERROR), 0);
	CU_ASSERT_EQUAL(logcol_count_add(tab, &n, 3, 60, "a", LOG_LVL_ERROR), 0);
	CU_ASSERT_EQUAL(logcol_count_add(tab, &n, 3, 60, "a", LOG_LVL_INFO), 0);
	CU_ASSERT_EQUAL(logcol_count_add(tab, &n, 3, 120, "a", LOG_LVL_ERROR), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(tab[0].n, 2);
	CU_ASSERT_EQUAL(tab[1].n, 1);
	CU_ASSERT_EQUAL(logcol_count_add(tab, &n, 3, 60, "b", LOG_LVL_ERROR), -1);	/* full */
	CU_ASSERT_EQUAL(logcol_count_add(tab, &n, 3, 120, "a", LOG_LVL_ERROR), 0);	/* existing: fine */
	CU_ASSERT_EQUAL(tab[2].n, 2);
}

static void
test_query_defaults(void)
{
	struct logmon_q q;
	const char *bad;

	CU_ASSERT_EQUAL(logmon_query_parse("", &q, &bad), 0);
	CU_ASSERT_EQUAL(q.limit, 100);
	CU_ASSERT_STRING_EQUAL(q.service, "");
	CU_ASSERT_STRING_EQUAL(q.level, "");
	CU_ASSERT_EQUAL(q.since_us, -1);
	CU_ASSERT_EQUAL(logmon_query_parse(NULL, &q, &bad), 0);
	CU_ASSERT_EQUAL(logmon_query_parse("&&", &q, &bad), 0);
}

static void
test_query_values(void)
{
	struct logmon_q q;
	const char *bad;

	CU_ASSERT_EQUAL(logmon_query_parse("limit=1&service=usermanagement&level=critical"
	    "&since=2026-11-25T01%3A00%3A00Z", &q, &bad), 0);
	CU_ASSERT_EQUAL(q.limit, 1);
	CU_ASSERT_STRING_EQUAL(q.service, "usermanagement");
	CU_ASSERT_STRING_EQUAL(q.level, "CRITICAL");
	CU_ASSERT_EQUAL(q.since_us, T0);
	CU_ASSERT_EQUAL(logmon_query_parse("limit=500&level=Error", &q, &bad), 0);
	CU_ASSERT_EQUAL(q.limit, 500);
	CU_ASSERT_STRING_EQUAL(q.level, "ERROR");
	CU_ASSERT_EQUAL(logmon_query_parse("since=2026-11-25T02:30:00%2B01:30", &q, &bad), 0);
	CU_ASSERT_EQUAL(q.since_us, T0);
}

static void
test_query_bad(void)
{
	static const struct { const char *q, *bad; } cases[] = {
		{ "limit=0", "limit" }, { "limit=501", "limit" }, { "limit=-1", "limit" },
		{ "limit=abc", "limit" }, { "limit=", "limit" }, { "limit", "limit" },
		{ "limit=10&limit=20", "limit" }, { "limit=1e2", "limit" },
		{ "level=info", "level" }, { "level=", "level" },
		{ "service=a%20b", "service" }, { "service=", "service" },
		{ "service=%3Cimg%3E", "service" }, { "service=a%00b", "service" },
		{ "since=yesterday", "since" }, { "since=2026-11-25", "since" },
		{ "sort=asc", "query" }, { "%zz=1", "query" }, { "limit=%4", "limit" },
	};
	struct logmon_q q;
	const char *bad;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bad = NULL;
		CU_ASSERT_EQUAL(logmon_query_parse(cases[i].q, &q, &bad), 400);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
		if (strcmp(bad, cases[i].bad) != 0)
			fprintf(stderr, "query %s: bad %s, want %s\n", cases[i].q, bad, cases[i].bad);
		CU_ASSERT_STRING_EQUAL(bad, cases[i].bad);
	}
}

static void
test_url_decode(void)
{
	char out[8];

	CU_ASSERT_EQUAL(query_decode("a+b%41", 6, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "a bA");
	CU_ASSERT_EQUAL(query_decode("%4", 2, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(query_decode("%00", 3, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(query_decode("12345678", 8, out, sizeof(out)), -1);
	CU_ASSERT_EQUAL(query_decode("1234567", 7, out, sizeof(out)), 0);
}

static void
test_buckets(void)
{
	int64_t h = 3600000, day = 24 * h;

	CU_ASSERT_EQUAL(logmon_bucket_ms(0, h, 0), 60000);
	CU_ASSERT_EQUAL(logmon_bucket_ms(0, h, 1000), 60000);
	CU_ASSERT_EQUAL(logmon_bucket_ms(0, h, 300000), 300000);
	CU_ASSERT_EQUAL(logmon_bucket_ms(0, h, 90000), 120000);	/* whole minutes */
	/* 30 days at 1 min would be 43200 points: widened under the cap. */
	CU_ASSERT(30 * day / logmon_bucket_ms(0, 30 * day, 60000) < LOGMON_POINTS_MAX);
	CU_ASSERT_EQUAL(logmon_bucket_ms(0, 30 * day, 60000) % 60000, 0);
	CU_ASSERT_EQUAL(logmon_bucket_start(1795590030000LL, 60000), 1795590000000LL);
	CU_ASSERT_EQUAL(logmon_bucket_start(1795590000000LL, 60000), 1795590000000LL);
	CU_ASSERT_EQUAL(logmon_bucket_start(-1, 60000), -60000);
}

static void
test_window_sum(void)
{
	int64_t m[] = { 0, 60000, 120000, 3600000, 3660000 };
	int64_t c[] = { 1, 2, 4, 8, 16 };

	CU_ASSERT_EQUAL(logmon_window_sum(m, c, 5, 3600000, 3600000), 7);
	CU_ASSERT_EQUAL(logmon_window_sum(m, c, 5, 3660000, 3600000), 14);
	CU_ASSERT_EQUAL(logmon_window_sum(m, c, 5, 3720000, 3600000), 28);
	CU_ASSERT_EQUAL(logmon_window_sum(m, c, 5, 0, 3600000), 0);
	CU_ASSERT_EQUAL(logmon_window_sum(m, c, 0, 3600000, 3600000), 0);
}

/* A batch over more partitions than one transaction tracks used to fail
 * as a database error on every retry, so the collector retried it forever
 * (found by tests/fuzz/fuzz_logcollector.c, seed many_partitions). */
static void
test_batch_cut(void)
{
	static struct logcol_msg m[3 * LOGCOL_PARTS_MAX];
	static const char *const topics[2] = { "application-logs", "application-logs-errors" };
	size_t i;

	for (i = 0; i < 3 * LOGCOL_PARTS_MAX; i++) {
		m[i].topic = topics[0];
		m[i].partition = (int32_t)i;
		m[i].offset = 7;
		m[i].payload = "";
	}
	CU_ASSERT_EQUAL(logcol_batch_cut(m, 0), 0);
	CU_ASSERT_EQUAL(logcol_batch_cut(m, 1), 1);
	CU_ASSERT_EQUAL(logcol_batch_cut(m, LOGCOL_PARTS_MAX), LOGCOL_PARTS_MAX);
	CU_ASSERT_EQUAL(logcol_batch_cut(m, LOGCOL_PARTS_MAX + 1), LOGCOL_PARTS_MAX);
	CU_ASSERT_EQUAL(logcol_batch_cut(m + LOGCOL_PARTS_MAX, 2 * LOGCOL_PARTS_MAX), LOGCOL_PARTS_MAX);
	/* Partitions seen before cost nothing: 64 partitions, 192 messages. */
	for (i = 0; i < 3 * LOGCOL_PARTS_MAX; i++)
		m[i].partition = (int32_t)(i % LOGCOL_PARTS_MAX);
	CU_ASSERT_EQUAL(logcol_batch_cut(m, 3 * LOGCOL_PARTS_MAX), 3 * LOGCOL_PARTS_MAX);
	/* The same partition number of another topic is another partition. */
	m[LOGCOL_PARTS_MAX + 5].topic = topics[1];
	CU_ASSERT_EQUAL(logcol_batch_cut(m, 3 * LOGCOL_PARTS_MAX), LOGCOL_PARTS_MAX + 5);
}

static CU_TestInfo logmon_tests[] = {
	{ "topic of each level", test_topic },
	{ "kafka client lines are not shipped", test_kafka_line },
	{ "RFC 3339 timestamps", test_ts_parse },
	{ "record parsing", test_record_parse },
	{ "minimal record and level names", test_record_minimal_and_levels },
	{ "bad records refused", test_record_bad },
	{ "long message capped at a character", test_record_caps },
	{ "retention window", test_retention },
	{ "minute buckets", test_minute },
	{ "array literals for unnest", test_array_literal },
	{ "per-minute counts of a batch", test_count_add },
	{ "a transaction spans at most LOGCOL_PARTS_MAX partitions", test_batch_cut },
	{ "query defaults", test_query_defaults },
	{ "query values", test_query_values },
	{ "query edges refused", test_query_bad },
	{ "query value decoding", test_url_decode },
	{ "grafana buckets", test_buckets },
	{ "trailing-hour sums", test_window_sum },
	CU_TEST_INFO_NULL
};

UNIT_SUITE(logmon, logmon_tests)
