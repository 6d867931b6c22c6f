/*
 * test_topics.c: the table of topics (shared/topics.c), the defaults of
 * replication and min.insync.replicas, and how a described topic compares
 * with its declaration, in full (esm-topics) or by its layout alone (the
 * services' /health). The cluster side is verified against brokers:
 * kafka_admin_* by esm-topics at every stack start, kafka_producer_describe
 * by the integration suite health_topics.
 */
#include <string.h>
#include <CUnit/CUnit.h>

#include "topics.h"
#include "unit.h"

/* A topic as declared, described as the cluster would. */
static struct kafka_topic_state
state_of(const struct topic_spec *t, const struct topics_policy *pol)
{
	struct kafka_topic_state s;

	memset(&s, 0, sizeof(s));
	s.exists = 1;
	s.partitions = t->partitions;
	s.replication = pol->replication;
	s.min_isr = pol->min_isr;
	s.retention_ms = t->retention_ms;
	return s;
}

static void
test_table(void)
{
	const struct topic_spec *t;
	size_t n, i, j;

	t = topics_all(&n);
	CU_ASSERT_EQUAL(n, 7);
	for (i = 0; i < n; i++) {
		CU_ASSERT(t[i].partitions >= 1);
		CU_ASSERT(t[i].retention_ms > 0);
		CU_ASSERT(t[i].purpose != NULL && *t[i].purpose != '\0');
		CU_ASSERT_PTR_EQUAL(topics_find(t[i].name), &t[i]);
		for (j = 0; j < i; j++)
			CU_ASSERT(strcmp(t[i].name, t[j].name) != 0);
	}
	CU_ASSERT_EQUAL(topics_find("task-events")->partitions, 6);
	CU_ASSERT_EQUAL(topics_find("user-registration-events")->partitions, 6);
	CU_ASSERT_EQUAL(topics_find("booking-events")->partitions, 3);
	CU_ASSERT_EQUAL(topics_find("flight-updates")->partitions, 3);
	CU_ASSERT_EQUAL(topics_find("application-logs")->partitions, 6);
	CU_ASSERT_EQUAL(topics_find("application-logs")->retention_ms, 259200000);
	CU_ASSERT_EQUAL(topics_find("application-logs-errors")->partitions, 3);
	CU_ASSERT_EQUAL(topics_find("application-logs-errors")->retention_ms, 604800000);
	CU_ASSERT_EQUAL(topics_find("notifications-dlq")->partitions, 1);
	CU_ASSERT_EQUAL(topics_find("notifications-dlq")->retention_ms, 2592000000LL);
	CU_ASSERT_EQUAL(topics_find("task-events")->retention_ms, 604800000);
	CU_ASSERT_PTR_NULL(topics_find("nope"));
	CU_ASSERT_PTR_NULL(topics_find(NULL));
}

static void
test_defaults(void)
{
	CU_ASSERT_EQUAL(topics_replication_default(0), 1);
	CU_ASSERT_EQUAL(topics_replication_default(-1), 1);
	CU_ASSERT_EQUAL(topics_replication_default(1), 1);
	CU_ASSERT_EQUAL(topics_replication_default(2), 2);
	CU_ASSERT_EQUAL(topics_replication_default(3), 3);
	CU_ASSERT_EQUAL(topics_replication_default(9), 3);
	CU_ASSERT_EQUAL(topics_min_isr_default(1), 1);
	CU_ASSERT_EQUAL(topics_min_isr_default(2), 1);
	CU_ASSERT_EQUAL(topics_min_isr_default(3), 2);
	CU_ASSERT_EQUAL(topics_min_isr_default(5), 4);
}

static void
test_policy(void)
{
	struct topics_policy p;
	char why[200];

	/* Nothing configured: from the broker count. */
	CU_ASSERT_EQUAL(topics_policy_resolve(0, 0, 1, &p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(p.replication, 1);
	CU_ASSERT_EQUAL(p.min_isr, 1);
	CU_ASSERT_EQUAL(topics_policy_resolve(0, 0, 5, &p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(p.replication, 3);
	CU_ASSERT_EQUAL(p.min_isr, 2);
	CU_ASSERT_EQUAL(topics_policy_resolve(0, 0, 2, &p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(p.replication, 2);
	CU_ASSERT_EQUAL(p.min_isr, 1);
	/* The replication set: min ISR follows it, not the brokers. */
	CU_ASSERT_EQUAL(topics_policy_resolve(1, 0, 5, &p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(p.replication, 1);
	CU_ASSERT_EQUAL(p.min_isr, 1);
	/* More than the brokers now: the cluster refuses it on creation. */
	CU_ASSERT_EQUAL(topics_policy_resolve(3, 0, 1, &p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(p.replication, 3);
	CU_ASSERT_EQUAL(p.min_isr, 2);
	/* Both set. */
	CU_ASSERT_EQUAL(topics_policy_resolve(3, 3, 3, &p, why, sizeof(why)), 0);
	CU_ASSERT_EQUAL(p.min_isr, 3);
	/* A min ISR above the replication could never acknowledge a write. */
	CU_ASSERT_EQUAL(topics_policy_resolve(2, 3, 3, &p, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "min.insync.replicas 3 is more than the replication 2"));
	CU_ASSERT_EQUAL(topics_policy_resolve(0, 2, 1, &p, why, sizeof(why)), -1);
	CU_ASSERT_EQUAL(topics_policy_resolve(-1, 0, 1, &p, why, sizeof(why)), -1);
}

static void
test_compare_ok_and_missing(void)
{
	const struct topic_spec *t = topics_find("task-events");
	const struct topics_policy pol = { 3, 2 };
	struct kafka_topic_state s = state_of(t, &pol);
	char why[200], line[300];

	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_OK);
	CU_ASSERT_STRING_EQUAL(why, "");
	topics_line(t, &s, TOPICS_OK, why, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line,
	    "topic task-events: ok (6 partitions, replication 3, min.insync.replicas 2)");

	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_MISSING);
	CU_ASSERT_STRING_EQUAL(why, "");
	topics_line(t, &s, TOPICS_MISSING, why, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, "topic task-events: missing");
	CU_ASSERT_STRING_EQUAL(topics_verdict_name(TOPICS_MISSING), "missing");
	CU_ASSERT_STRING_EQUAL(topics_verdict_name(TOPICS_OK), "ok");
}

static void
test_compare_differs(void)
{
	const struct topic_spec *t = topics_find("task-events");
	const struct topics_policy pol = { 3, 2 };
	struct kafka_topic_state s = state_of(t, &pol);
	char why[200], line[300];

	/* Fewer partitions. */
	s.partitions = 3;
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "partitions 3 instead of 6");
	topics_line(t, &s, TOPICS_DIFFERS, why, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, "topic task-events: differs: partitions 3 instead of 6");
	/* More partitions: keys would land elsewhere, so a difference too. */
	s.partitions = 12;
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "partitions 12 instead of 6");
	/* Everything at once, retention included, in a fixed order. */
	s.partitions = 3;
	s.replication = 1;
	s.min_isr = 1;
	s.retention_ms = 86400000;
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "partitions 3 instead of 6, replication 1 instead of 3, "
	    "min.insync.replicas 1 instead of 2, retention.ms 86400000 instead of 604800000");
	/* min.insync.replicas alone. */
	s = state_of(t, &pol);
	s.min_isr = 1;
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "min.insync.replicas 1 instead of 2");
	/* A short buffer cuts the words, not the verdict. */
	s.partitions = 3;
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, 10), TOPICS_DIFFERS);
	CU_ASSERT(strlen(why) < 10);
}

static void
test_compare_retention_warns(void)
{
	const struct topic_spec *t = topics_find("application-logs");
	const struct topics_policy pol = { 1, 1 };
	struct kafka_topic_state s = state_of(t, &pol);
	char why[200], line[300];

	s.retention_ms = -1;	/* kept forever */
	CU_ASSERT_EQUAL(topics_compare(t, &pol, &s, why, sizeof(why)), TOPICS_RETENTION);
	CU_ASSERT_STRING_EQUAL(why, "retention.ms -1 instead of 259200000");
	topics_line(t, &s, TOPICS_RETENTION, why, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, "topic application-logs: ok (6 partitions, replication 1, "
	    "min.insync.replicas 1); warning: retention.ms -1 instead of 259200000");
}

/* What a producer's metadata gives: no min ISR, no retention. */
static struct kafka_topic_state
layout_of(int partitions, int replication)
{
	struct kafka_topic_state s;

	memset(&s, 0, sizeof(s));
	s.exists = 1;
	s.partitions = partitions;
	s.replication = replication;
	return s;
}

static void
test_layout_compare(void)
{
	const struct topic_spec *t = topics_find("task-events");
	const struct topics_policy pol = { 3, 2 };
	struct kafka_topic_state s = layout_of(6, 3);
	char why[200];

	/* min.insync.replicas and retention.ms are not in the metadata. */
	CU_ASSERT_EQUAL(topics_compare_layout(t, &pol, &s, why, sizeof(why)), TOPICS_OK);
	CU_ASSERT_STRING_EQUAL(why, "");
	s.min_isr = 1;
	s.retention_ms = 1;
	CU_ASSERT_EQUAL(topics_compare_layout(t, &pol, &s, why, sizeof(why)), TOPICS_OK);
	s = layout_of(3, 1);
	CU_ASSERT_EQUAL(topics_compare_layout(t, &pol, &s, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "partitions 3 instead of 6, replication 1 instead of 3");
	s = layout_of(12, 3);
	CU_ASSERT_EQUAL(topics_compare_layout(t, &pol, &s, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "partitions 12 instead of 6");
	memset(&s, 0, sizeof(s));
	CU_ASSERT_EQUAL(topics_compare_layout(t, &pol, &s, why, sizeof(why)), TOPICS_MISSING);
	CU_ASSERT_STRING_EQUAL(why, "");
}

static void
test_layout_summary(void)
{
	const struct topic_spec *want[3];
	const struct topics_policy pol = { 1, 1 };
	struct kafka_topic_state have[3];
	char why[300];

	want[0] = topics_find("user-registration-events");
	want[1] = topics_find("application-logs");
	want[2] = topics_find("application-logs-errors");
	have[0] = layout_of(6, 1);
	have[1] = layout_of(6, 1);
	have[2] = layout_of(3, 1);
	/* Nothing to check, or all as declared. */
	CU_ASSERT_EQUAL(topics_layout_summary(want, 0, &pol, have, why, sizeof(why)), TOPICS_OK);
	CU_ASSERT_STRING_EQUAL(why, "");
	CU_ASSERT_EQUAL(topics_layout_summary(want, 3, &pol, have, why, sizeof(why)), TOPICS_OK);
	CU_ASSERT_STRING_EQUAL(why, "");
	/* One differs: the others are not named. */
	have[0] = layout_of(3, 1);
	CU_ASSERT_EQUAL(topics_layout_summary(want, 3, &pol, have, why, sizeof(why)), TOPICS_DIFFERS);
	CU_ASSERT_STRING_EQUAL(why, "topic user-registration-events: differs: partitions 3 instead of 6");
	/* A missing one weighs more than one that differs, wherever it is. */
	memset(&have[2], 0, sizeof(have[2]));
	CU_ASSERT_EQUAL(topics_layout_summary(want, 3, &pol, have, why, sizeof(why)), TOPICS_MISSING);
	CU_ASSERT_STRING_EQUAL(why, "topic user-registration-events: differs: partitions 3 instead of 6; "
	    "topic application-logs-errors: missing");
	have[0] = layout_of(6, 1);
	have[1] = layout_of(6, 2);
	CU_ASSERT_EQUAL(topics_layout_summary(want, 3, &pol, have, why, sizeof(why)), TOPICS_MISSING);
	CU_ASSERT_STRING_EQUAL(why, "topic application-logs: differs: replication 2 instead of 1; "
	    "topic application-logs-errors: missing");
	/* A short buffer cuts the words, not the verdict. */
	CU_ASSERT_EQUAL(topics_layout_summary(want, 3, &pol, have, why, 20), TOPICS_MISSING);
	CU_ASSERT_EQUAL(strlen(why), 19);
	CU_ASSERT_EQUAL(topics_layout_summary(want, 3, &pol, have, why, 1), TOPICS_MISSING);
	CU_ASSERT_STRING_EQUAL(why, "");
}

static CU_TestInfo tests[] = {
	{ "the table", test_table },
	{ "replication and min ISR defaults", test_defaults },
	{ "policy from configuration and broker count", test_policy },
	{ "compare: ok, missing", test_compare_ok_and_missing },
	{ "compare: partitions, replication, min ISR differ", test_compare_differs },
	{ "compare: retention alone is a warning", test_compare_retention_warns },
	{ "compare the layout only: partitions, replication", test_layout_compare },
	{ "several topics: the worst verdict and each one not ok", test_layout_summary },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(topics, tests)
