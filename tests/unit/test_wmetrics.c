/*
 * test_wmetrics.c: the workers' rows as Prometheus text
 * (shared/wmetrics.c): one HELP and one TYPE line per metric (a generic
 * HELP for a name not described), counters by their _total suffix, label values escaped, rows no reporter writes left out. The
 * reporting itself runs against PostgreSQL in the integration suites
 * (notify, runner).
 */
#include <string.h>
#include <CUnit/CUnit.h>

#include "unit.h"
#include "wmetrics.h"

static void
test_render(void)
{
	const char *rows[] = {
		"notifier", "vm:12", "consumer_lag", "3",
		"notifier", "vm:12", "messages_consumed_total", "1e+06",
		"notifier", "vm:13", "messages_consumed_total", "7",
		"we\"ird\\name\n", "h:1", "messages_consumed_total", "0",
		/* left out: a bad name, a value that is not a finite number, NULLs */
		"notifier", "vm:12", "Bad-Name", "1",
		"notifier", "vm:12", "x_total", "NaN",
		"notifier", "vm:12", "y_total", "12abc",
		NULL, "vm:12", "z_total", "1",
		"notifier", "vm:12", NULL, "1",
	};
	buf_t b = { 0 };

	CU_ASSERT_EQUAL_FATAL(wmetrics_render(&b, rows, sizeof(rows) / sizeof(rows[0]) / 4), 0);
	CU_ASSERT_STRING_EQUAL(b.p,
	    "# HELP esm_worker_consumer_lag Messages in the consumer's partitions not yet consumed.\n"
	    "# TYPE esm_worker_consumer_lag gauge\n"
	    "esm_worker_consumer_lag{worker=\"notifier\",instance=\"vm:12\"} 3\n"
	    "# HELP esm_worker_messages_consumed_total Kafka messages consumed.\n"
	    "# TYPE esm_worker_messages_consumed_total counter\n"
	    "esm_worker_messages_consumed_total{worker=\"notifier\",instance=\"vm:12\"} 1e+06\n"
	    "esm_worker_messages_consumed_total{worker=\"notifier\",instance=\"vm:13\"} 7\n"
	    "esm_worker_messages_consumed_total{worker=\"we\\\"ird\\\\name\\n\",instance=\"h:1\"} 0\n");
	buf_reset(&b);
	/* A name the table does not describe is still valid exposition. */
	CU_ASSERT_EQUAL(wmetrics_render(&b, (const char *[]){ "w", "h:1", "new_total", "2" }, 1), 0);
	CU_ASSERT_STRING_EQUAL(b.p,
	    "# HELP esm_worker_new_total A worker's figure, not described yet.\n"
	    "# TYPE esm_worker_new_total counter\n"
	    "esm_worker_new_total{worker=\"w\",instance=\"h:1\"} 2\n");
	buf_reset(&b);
	CU_ASSERT_EQUAL(wmetrics_render(&b, rows, 0), 0);
	CU_ASSERT_EQUAL(b.len, 0);
	buf_free(&b);
}

static CU_TestInfo tests[] = {
	{ "worker rows as Prometheus text", test_render },
	CU_TEST_INFO_NULL,
};
UNIT_SUITE(wmetrics, tests)
