/*
 * topics.h: the system's Kafka topics, declared once: name, partitions,
 * retention and what each is for. esm-topics creates and checks them on a
 * cluster through the admin API, the embedded broker creates them at start,
 * and nothing relies on a broker creating a topic when it is first used.
 *
 * Replication and min.insync.replicas are the same for every topic and
 * belong to the cluster, not to the table: ESM_KAFKA_REPLICATION (default
 * the cluster's broker count, at most 3) and ESM_KAFKA_MIN_ISR (default one
 * less than the replication, at least 1), resolved by topics_policy_resolve.
 *
 * Everything here is pure; the cluster is reached through kafka.h.
 */
#ifndef ESM_TOPICS_H
#define ESM_TOPICS_H

#include <stddef.h>
#include <stdint.h>
#include "kafka.h"
#include "util.h"

#define TOPICS_DAY_MS (24 * 60 * 60 * 1000LL)
#define TOPICS_REPLICATION_MAX 3	/* the default never asks for more */

struct topic_spec {
	const char *name;
	int partitions;
	int64_t retention_ms;
	const char *purpose;
};

/* Replication of every topic and its min.insync.replicas. */
struct topics_policy {
	int replication;
	int min_isr;
};

enum topics_verdict {
	TOPICS_OK,		/* as declared */
	TOPICS_RETENTION,	/* as declared but for retention.ms: a warning only,
				 * operators may tune retention */
	TOPICS_MISSING,		/* the cluster has no such topic */
	TOPICS_DIFFERS		/* partitions, replication or min.insync.replicas differ */
};

/* The table; *n receives its length. Static storage. */
const struct topic_spec *topics_all(size_t *n);
/* The entry called name, NULL when the system has no such topic. */
const struct topic_spec *topics_find(const char *name);

/* ESM_KAFKA_REPLICATION's default on a cluster of brokers brokers: all of
 * them up to TOPICS_REPLICATION_MAX, and 1 when the count is unknown (< 1). */
int topics_replication_default(int brokers);
/* ESM_KAFKA_MIN_ISR's default for a replication: one replica may be away
 * without stopping acks=all writes (3 -> 2), but never below 1 (1 -> 1,
 * 2 -> 1). */
int topics_min_isr_default(int replication);
/* The policy from the configured replication and min ISR (0: not set, take
 * the default) on a cluster of brokers brokers. -1 with the reason in why
 * when the min ISR exceeds the replication (no write could ever be
 * acknowledged) or a value is negative; a replication above the broker
 * count is allowed here (brokers may be away) and refused by the cluster on
 * creation. 0 / -1. */
int topics_policy_resolve(int replication, int min_isr, int brokers,
    struct topics_policy *out, char *why, size_t len) ESM_WUR;

/* Compares what the cluster has (have) with the declaration (want, pol).
 * why receives the differences in words, comma-separated, e.g.
 * "partitions 3 instead of 6, min.insync.replicas 1 instead of 2" (with
 * TOPICS_DIFFERS, also a retention difference; with TOPICS_RETENTION only
 * that), or "" when there is none. More partitions than declared is a
 * difference too: it moves keys to other partitions. */
enum topics_verdict topics_compare(const struct topic_spec *want,
    const struct topics_policy *pol, const struct kafka_topic_state *have,
    char *why, size_t len);
/* As topics_compare, on what the metadata alone tells (what
 * kafka_producer_describe gives): partitions and replication only;
 * min.insync.replicas and retention.ms need the admin client, and
 * esm-topics checks them. TOPICS_OK, TOPICS_MISSING or TOPICS_DIFFERS. */
enum topics_verdict topics_compare_layout(const struct topic_spec *want,
    const struct topics_policy *pol, const struct kafka_topic_state *have,
    char *why, size_t len);
/* The verdict on the topics want[0..n) together, each compared with have[i]
 * by topics_compare_layout: TOPICS_MISSING when any is missing, else
 * TOPICS_DIFFERS when any differs, else TOPICS_OK (also when n is 0). why
 * receives the topics_line of each topic that is not ok, in order and
 * "; "-separated ("topic task-events: missing; topic application-logs:
 * differs: partitions 3 instead of 6"), cut short at len, or "". */
enum topics_verdict topics_layout_summary(const struct topic_spec *const *want, size_t n,
    const struct topics_policy *pol, const struct kafka_topic_state *have,
    char *why, size_t len);
/* "ok", "retention", "missing", "differs". */
const char *topics_verdict_name(enum topics_verdict v);
/* Writes one line for people and scripts about the topic (no newline):
 *   topic task-events: ok (6 partitions, replication 3, min.insync.replicas 2)
 *   topic task-events: ok (...); warning: retention.ms 1 instead of 604800000
 *   topic task-events: missing
 *   topic task-events: differs: partitions 3 instead of 6
 * why is topics_compare's text. */
void topics_line(const struct topic_spec *want, const struct kafka_topic_state *have,
    enum topics_verdict v, const char *why, char *buf, size_t len);

#endif
