/*
 * test_relay.c: the outbox relay's decisions (worker/relay/handle.c): which
 * ids go into which UPDATE, how failed rows are grouped, how errors are
 * capped, the backoff and the sleep after each kind of batch. The batch
 * itself runs against PostgreSQL and the broker in
 * tests/integration/relay_smoke.sh.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "unit.h"
#include "../../worker/relay/relay.h"

static void
row_set(struct relay_row *row, int64_t id, enum relay_state st, int err)
{
	memset(row, 0, sizeof(*row));
	row->id = id;
	row->st = st;
	row->err = err;
}

static void
test_literal_sent_only(void)
{
	struct relay_row rows[5];
	buf_t b = { 0 };

	row_set(&rows[0], 1, RELAY_SENT, 0);
	row_set(&rows[1], 2, RELAY_FAILED, -192);
	row_set(&rows[2], 3, RELAY_SENT, 0);
	row_set(&rows[3], 4, RELAY_QUEUED, 0);
	row_set(&rows[4], 9223372036854775807LL, RELAY_SENT, 0);
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 5, RELAY_SENT, 0), 3);
	CU_ASSERT_STRING_EQUAL(b.p, "{1,3,9223372036854775807}");
	buf_free(&b);
}

static void
test_literal_empty(void)
{
	struct relay_row rows[2];
	buf_t b = { 0 };

	row_set(&rows[0], 1, RELAY_FAILED, -192);
	row_set(&rows[1], 2, RELAY_QUEUED, 0);
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 2, RELAY_SENT, 0), 0);
	CU_ASSERT_STRING_EQUAL(b.p, "{}");
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 0, RELAY_SENT, 0), 0);
	CU_ASSERT_STRING_EQUAL(b.p, "{}");
	buf_free(&b);
}

/* The buffer is reused between statements: each call starts afresh. */
static void
test_literal_resets_buffer(void)
{
	struct relay_row rows[3];
	buf_t b = { 0 };

	row_set(&rows[0], 10, RELAY_SENT, 0);
	row_set(&rows[1], 11, RELAY_FAILED, -192);
	row_set(&rows[2], 12, RELAY_FAILED, 3);
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 3, RELAY_SENT, 0), 1);
	CU_ASSERT_STRING_EQUAL(b.p, "{10}");
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 3, RELAY_FAILED, -192), 1);
	CU_ASSERT_STRING_EQUAL(b.p, "{11}");
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 3, RELAY_FAILED, 3), 1);
	CU_ASSERT_STRING_EQUAL(b.p, "{12}");
	buf_free(&b);
}

/* A full batch of large ids: the literal grows past any initial capacity. */
static void
test_literal_large_batch(void)
{
	static struct relay_row rows[2000];
	buf_t b = { 0 };
	char tail[32];
	size_t i;

	for (i = 0; i < 2000; i++)
		row_set(&rows[i], (int64_t)(1000000000000LL + (int64_t)i), RELAY_SENT, 0);
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 2000, RELAY_SENT, 0), 2000);
	CU_ASSERT_EQUAL(b.len, 2 + 2000 * 13 + 1999);
	CU_ASSERT_EQUAL(strncmp(b.p, "{1000000000000,1000000000001,", 29), 0);
	snprintf(tail, sizeof(tail), ",%lld}", 1000000000000LL + 1999);
	CU_ASSERT_STRING_EQUAL(b.p + b.len - strlen(tail), tail);
	buf_free(&b);
}

static void
test_failed_groups(void)
{
	struct relay_row rows[6];
	size_t i, heads = 0;

	row_set(&rows[0], 1, RELAY_SENT, 0);
	row_set(&rows[1], 2, RELAY_FAILED, -192);
	row_set(&rows[2], 3, RELAY_FAILED, -192);
	row_set(&rows[3], 4, RELAY_FAILED, 10);
	row_set(&rows[4], 5, RELAY_QUEUED, 0);
	row_set(&rows[5], 6, RELAY_FAILED, 10);
	CU_ASSERT_FALSE(relay_failed_group_head(rows, 0));
	CU_ASSERT_TRUE(relay_failed_group_head(rows, 1));
	CU_ASSERT_FALSE(relay_failed_group_head(rows, 2));
	CU_ASSERT_TRUE(relay_failed_group_head(rows, 3));
	CU_ASSERT_FALSE(relay_failed_group_head(rows, 4));
	CU_ASSERT_FALSE(relay_failed_group_head(rows, 5));
	for (i = 0; i < 6; i++)
		heads += (size_t)relay_failed_group_head(rows, i);
	CU_ASSERT_EQUAL(heads, 2);
	CU_ASSERT_EQUAL(relay_count(rows, 6, RELAY_SENT), 1);
	CU_ASSERT_EQUAL(relay_count(rows, 6, RELAY_FAILED), 4);
	CU_ASSERT_EQUAL(relay_count(rows, 6, RELAY_QUEUED), 1);
}

/* Only a report without error makes a row sent; no report leaves it queued. */
static void
test_delivery_report(void)
{
	struct relay_row rows[3];
	buf_t b = { 0 };

	row_set(&rows[0], 7, RELAY_QUEUED, 0);
	row_set(&rows[1], 8, RELAY_QUEUED, 0);
	row_set(&rows[2], 9, RELAY_QUEUED, 0);
	relay_on_delivery(&rows[0], 0, "", NULL);
	relay_on_delivery(&rows[1], -192, "Local: Message timed out", NULL);
	relay_on_delivery(NULL, 0, "", NULL);	/* tolerated */
	CU_ASSERT_EQUAL(rows[0].st, RELAY_SENT);
	CU_ASSERT_EQUAL(rows[1].st, RELAY_FAILED);
	CU_ASSERT_EQUAL(rows[1].err, -192);
	CU_ASSERT_STRING_EQUAL(rows[1].errmsg, "Local: Message timed out");
	CU_ASSERT_EQUAL(rows[2].st, RELAY_QUEUED);
	CU_ASSERT_EQUAL(relay_ids_literal(&b, rows, 3, RELAY_SENT, 0), 1);
	CU_ASSERT_STRING_EQUAL(b.p, "{7}");
	buf_free(&b);
}

static void
test_err_cap(void)
{
	char dst[RELAY_ERR_CAP + 1], big[RELAY_ERR_CAP * 2];
	char small[8];

	relay_err_cap(dst, RELAY_ERR_CAP, "Broker: Leader not available");
	CU_ASSERT_STRING_EQUAL(dst, "Broker: Leader not available");
	relay_err_cap(dst, RELAY_ERR_CAP, NULL);
	CU_ASSERT_STRING_EQUAL(dst, "");
	relay_err_cap(dst, RELAY_ERR_CAP, "line one\nline\ttwo\x7f");
	CU_ASSERT_STRING_EQUAL(dst, "line one line two ");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	relay_err_cap(dst, RELAY_ERR_CAP, big);
	CU_ASSERT_EQUAL(strlen(dst), RELAY_ERR_CAP);
	/* "ab" + a 3-byte character cut after its first byte drops it whole. */
	relay_err_cap(small, 3, "ab\xe2\x82\xac");
	CU_ASSERT_STRING_EQUAL(small, "ab");
	relay_err_cap(small, 5, "ab\xe2\x82\xac");
	CU_ASSERT_STRING_EQUAL(small, "ab\xe2\x82\xac");
}

static void
test_backoff(void)
{
	int b = 0, i;
	const int want[] = { 100, 200, 400, 800, 1600, 3200, 5000, 5000 };

	for (i = 0; i < (int)(sizeof(want) / sizeof(want[0])); i++) {
		b = relay_backoff_next(b);
		CU_ASSERT_EQUAL(b, want[i]);
	}
	CU_ASSERT_EQUAL(relay_backoff_next(-5), RELAY_BACKOFF_MIN_MS);
	CU_ASSERT_EQUAL(relay_backoff_next(2600), RELAY_BACKOFF_MAX_MS);
	CU_ASSERT_EQUAL(relay_backoff_next(2400), 4800);
}

static void
test_outcome(void)
{
	CU_ASSERT_EQUAL(relay_outcome_of(0, 500, 0), RELAY_DRAINED);
	CU_ASSERT_EQUAL(relay_outcome_of(500, 500, 500), RELAY_FULL);
	/* A partial batch: what committed meanwhile is looked for at once. */
	CU_ASSERT_EQUAL(relay_outcome_of(499, 500, 499), RELAY_MOVED);
	/* Nothing delivered is an outage, full batch or not. */
	CU_ASSERT_EQUAL(relay_outcome_of(500, 500, 0), RELAY_KAFKA);
	CU_ASSERT_EQUAL(relay_outcome_of(3, 500, 0), RELAY_KAFKA);
	/* Some refused, some delivered: keep going, no backoff. */
	CU_ASSERT_EQUAL(relay_outcome_of(500, 500, 499), RELAY_FULL);
	CU_ASSERT_EQUAL(relay_outcome_of(10, 500, 9), RELAY_MOVED);
}

static void
test_sleep(void)
{
	int b = 0;

	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_KAFKA, &b, 20), 100);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_KAFKA, &b, 20), 200);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_DB, &b, 20), 400);
	/* Any success resets the backoff. */
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_FULL, &b, 20), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_DB, &b, 20), 100);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_DRAINED, &b, 20), 20);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_DB, &b, 20), 100);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_MOVED, &b, 20), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(relay_sleep_ms(RELAY_BUSY, &b, 35), 35);
}

static void
test_caught_up_interval(void)
{
	int64_t since = 0;

	/* Caught up just now: the short poll, and the stretch starts. */
	CU_ASSERT_EQUAL(relay_caught_up_ms(&since, 5000000, 10, 50), 10);
	CU_ASSERT_EQUAL(since, 5000000);
	CU_ASSERT_EQUAL(relay_caught_up_ms(&since, 5000000 + RELAY_IDLE_AFTER_US - 1, 10, 50), 10);
	/* A quiet second: the idle interval. */
	CU_ASSERT_EQUAL(relay_caught_up_ms(&since, 5000000 + RELAY_IDLE_AFTER_US, 10, 50), 50);
	/* Never shorter than the poll interval. */
	CU_ASSERT_EQUAL(relay_caught_up_ms(&since, 9000000, 80, 50), 80);
	/* Rows again (the caller resets since): short polls at once. */
	since = 0;
	CU_ASSERT_EQUAL(relay_caught_up_ms(&since, 9000000, 10, 50), 10);
}

static CU_TestInfo relay_tests[] = {
	{ "caught-up poll interval grows after a quiet second", test_caught_up_interval },
	{ "ids literal of sent rows", test_literal_sent_only },
	{ "ids literal when none match", test_literal_empty },
	{ "ids literal resets its buffer", test_literal_resets_buffer },
	{ "ids literal of a large batch", test_literal_large_batch },
	{ "failed rows grouped by error", test_failed_groups },
	{ "delivery report marks rows", test_delivery_report },
	{ "last_error capped and cleaned", test_err_cap },
	{ "backoff doubles to the cap", test_backoff },
	{ "batch outcome", test_outcome },
	{ "sleep after each outcome", test_sleep },
	CU_TEST_INFO_NULL
};

UNIT_SUITE(relay, relay_tests)
