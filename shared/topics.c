/*
 * topics.c: the table of the system's topics and the pure decisions about
 * them: the replication policy and how a topic on a cluster compares with
 * its declaration. The event topics the services write themselves get 6
 * partitions (more notifier and consumer processes can share them), the
 * ones fed from outside and the error logs 3, the dead-letter topic 1.
 * Retention: a week for events and error lines, three days for the bulk
 * of the logs, a month for dead letters, which someone has to look at.
 *
 * Two ways to compare: in full (topics_compare, for esm-topics, which has
 * the admin client's description) and the layout only, partitions and
 * replication (topics_compare_layout, for what a producer's metadata tells,
 * which the services' /health uses).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "topics.h"

static const struct topic_spec topics_table[] = {
	{ "user-registration-events", 6, 7 * TOPICS_DAY_MS,
	  "users registered and deleted (the users service's outbox)" },
	{ "task-events", 6, 7 * TOPICS_DAY_MS,
	  "tasks created, cancelled, changing status (the tasks service's outbox)" },
	{ "booking-events", 3, 7 * TOPICS_DAY_MS,
	  "booking events written by other systems, for notifications" },
	{ "flight-updates", 3, 7 * TOPICS_DAY_MS,
	  "flight updates written by other systems, for notifications" },
	{ "application-logs", 6, 3 * TOPICS_DAY_MS,
	  "every program's log lines below ERROR, for the log monitor" },
	{ "application-logs-errors", 3, 7 * TOPICS_DAY_MS,
	  "ERROR and CRITICAL log lines, for the log monitor" },
	{ "notifications-dlq", 1, 30 * TOPICS_DAY_MS,
	  "messages the notifier could not parse, the reason in a header" },
};

const struct topic_spec *
topics_all(size_t *n)
{
	*n = ESM_NELEM(topics_table);
	return topics_table;
}

const struct topic_spec *
topics_find(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < ESM_NELEM(topics_table); i++)
		if (strcmp(topics_table[i].name, name) == 0)
			return &topics_table[i];
	return NULL;
}

int
topics_replication_default(int brokers)
{
	if (brokers < 1)
		return 1;
	return brokers < TOPICS_REPLICATION_MAX ? brokers : TOPICS_REPLICATION_MAX;
}

int
topics_min_isr_default(int replication)
{
	return replication > 2 ? replication - 1 : 1;
}

int
topics_policy_resolve(int replication, int min_isr, int brokers, struct topics_policy *out,
    char *why, size_t len)
{
	if (replication < 0 || min_isr < 0) {
		snprintf(why, len, "replication and min.insync.replicas cannot be negative");
		return -1;
	}
	out->replication = replication > 0 ? replication : topics_replication_default(brokers);
	out->min_isr = min_isr > 0 ? min_isr : topics_min_isr_default(out->replication);
	if (out->min_isr > out->replication) {
		snprintf(why, len, "min.insync.replicas %d is more than the replication %d: "
		    "no write with acks=all could ever be acknowledged", out->min_isr,
		    out->replication);
		return -1;
	}
	*why = '\0';
	return 0;
}

/* One compared property: its name, both values, and whether a difference
 * is only worth a warning. */
struct topics_field {
	const char *name;
	int64_t have, want;
	int warning;
};

/* The verdict on the compared properties f[0..nf) of a topic that exists
 * (or not), their differences in words into why. */
static enum topics_verdict
topics_compare_fields(const struct topics_field *f, size_t nf, int exists, char *why,
    size_t len)
{
	size_t i, used = 0;
	int hard = 0, soft = 0, w;

	*why = '\0';
	if (!exists)
		return TOPICS_MISSING;
	for (i = 0; i < nf; i++) {
		if (f[i].have == f[i].want)
			continue;
		if (f[i].warning)
			soft++;
		else
			hard++;
		w = snprintf(why + used, len - used, "%s%s %" PRId64 " instead of %" PRId64,
		    used > 0 ? ", " : "", f[i].name, f[i].have, f[i].want);
		if (w < 0 || (size_t)w >= len - used)
			break;	/* cut short: the verdict still counts */
		used += (size_t)w;
	}
	if (hard > 0)
		return TOPICS_DIFFERS;
	return soft > 0 ? TOPICS_RETENTION : TOPICS_OK;
}

enum topics_verdict
topics_compare(const struct topic_spec *want, const struct topics_policy *pol,
    const struct kafka_topic_state *have, char *why, size_t len)
{
	const struct topics_field f[] = {
		{ "partitions", have->partitions, want->partitions, 0 },
		{ "replication", have->replication, pol->replication, 0 },
		{ "min.insync.replicas", have->min_isr, pol->min_isr, 0 },
		{ "retention.ms", have->retention_ms, want->retention_ms, 1 },
	};

	return topics_compare_fields(f, ESM_NELEM(f), have->exists, why, len);
}

enum topics_verdict
topics_compare_layout(const struct topic_spec *want, const struct topics_policy *pol,
    const struct kafka_topic_state *have, char *why, size_t len)
{
	const struct topics_field f[] = {
		{ "partitions", have->partitions, want->partitions, 0 },
		{ "replication", have->replication, pol->replication, 0 },
	};

	return topics_compare_fields(f, ESM_NELEM(f), have->exists, why, len);
}

enum topics_verdict
topics_layout_summary(const struct topic_spec *const *want, size_t n,
    const struct topics_policy *pol, const struct kafka_topic_state *have, char *why,
    size_t len)
{
	enum topics_verdict v, worst = TOPICS_OK;
	char diff[256], line[512];
	size_t i, used = 0;
	int w;

	*why = '\0';
	for (i = 0; i < n; i++) {
		v = topics_compare_layout(want[i], pol, &have[i], diff, sizeof(diff));
		if (v == TOPICS_OK)
			continue;
		if (v == TOPICS_MISSING || worst == TOPICS_OK)
			worst = v;
		if (used + 1 >= len)
			continue;	/* full: the verdict still counts */
		topics_line(want[i], &have[i], v, diff, line, sizeof(line));
		w = snprintf(why + used, len - used, "%s%s", used > 0 ? "; " : "", line);
		used = w < 0 ? used : (size_t)w >= len - used ? len - 1 : used + (size_t)w;
	}
	return worst;
}

const char *
topics_verdict_name(enum topics_verdict v)
{
	static const char *const names[] = {
		[TOPICS_OK] = "ok",
		[TOPICS_RETENTION] = "retention",
		[TOPICS_MISSING] = "missing",
		[TOPICS_DIFFERS] = "differs",
	};

	return (size_t)v < ESM_NELEM(names) ? names[v] : "?";
}

void
topics_line(const struct topic_spec *want, const struct kafka_topic_state *have,
    enum topics_verdict v, const char *why, char *buf, size_t len)
{
	char shape[96];

	snprintf(shape, sizeof(shape), "%d partition%s, replication %d, min.insync.replicas %d",
	    have->partitions, have->partitions == 1 ? "" : "s", have->replication, have->min_isr);
	switch (v) {
	case TOPICS_OK:
		snprintf(buf, len, "topic %s: ok (%s)", want->name, shape);
		break;
	case TOPICS_RETENTION:
		snprintf(buf, len, "topic %s: ok (%s); warning: %s", want->name, shape, why);
		break;
	case TOPICS_MISSING:
		snprintf(buf, len, "topic %s: missing", want->name);
		break;
	default:
		snprintf(buf, len, "topic %s: differs: %s", want->name, why);
		break;
	}
}
