/*
 * main.c (esm-topics): declares the system's Kafka topics on a cluster
 * through the admin API, from their one table (shared/topics.h), and the
 * rights of the services' principals from an ACL file (acl.h).
 *
 *   esm-topics [--create] [--check] [--acls FILE]
 *
 *   --create     create the topics the cluster lacks: partitions and
 *                retention.ms from the table, replication and
 *                min.insync.replicas from the settings below,
 *                unclean.leader.election.enable=false. A topic that exists
 *                is never changed.
 *   --acls FILE  create the ACLs of FILE. The file is parsed whole first: a
 *                bad line refuses it and nothing is sent.
 *   --check      describe every topic and print one line for each; what
 *                runs when neither --create nor --acls is given.
 * Combined, they run in that order. stdout has one line per topic (and one
 * for the ACLs), for people and scripts:
 *   topic task-events: created (6 partitions, replication 3, min.insync.replicas 2, retention.ms 604800000)
 *   topic task-events: exists (not changed)
 *   topic task-events: ok (6 partitions, replication 3, min.insync.replicas 2)
 *   topic task-events: ok (...); warning: retention.ms 86400000 instead of 604800000
 *   topic task-events: missing
 *   topic task-events: differs: partitions 3 instead of 6
 *   acls: 9 from FILE created or present already
 *
 * Exit status: 0 every topic as declared (a retention difference is only a
 * warning); 1 a topic is missing or differs; 2 an error: usage,
 * configuration, the ACL file, a cluster that does not answer within
 * ESM_KAFKA_ADMIN_TIMEOUT_MS, a request the cluster refused.
 *
 * Environment:
 *   ESM_KAFKA_BOOTSTRAP          bootstrap servers (required)
 *   ESM_KAFKA_ADMIN_TIMEOUT_MS   how long each request may take (15000)
 *   ESM_KAFKA_REPLICATION        replicas of every partition (the number of
 *                                brokers the cluster reports, at most 3)
 *   ESM_KAFKA_MIN_ISR            min.insync.replicas of every topic (one
 *                                less than the replication, at least 1)
 *   and the security settings every Kafka client reads (kafka.h).
 * Log lines go to stderr only: this program runs before the log topics
 * exist, so it ships nothing to Kafka.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acl.h"
#include "cfg.h"
#include "kafka.h"
#include "log.h"
#include "topics.h"

enum { TOPICS_EXIT_OK, TOPICS_EXIT_DIFFERS, TOPICS_EXIT_ERROR };

#define TOPICS_SETTLE_MS 200	/* between looks for topics just created */

struct topics_opts {
	int create, check;
	const char *acls;
};

/* One run: the admin client, the table and what the cluster has of it. */
struct topics_run {
	kafka_admin *a;
	int timeout_ms;
	const struct topic_spec *spec;
	size_t n;
	const char **names;		/* spec[i].name */
	struct kafka_topic_state *have;	/* the last description */
	int brokers;
	struct topics_policy pol;
};

static void
topics_usage(void)
{
	fprintf(stderr, "usage: esm-topics [--create] [--check] [--acls FILE]\n");
}

/* 0, or -1 on a usage error (said on stderr). */
static int
topics_args(int argc, char **argv, struct topics_opts *o)
{
	static const struct option longopts[] = {
		{ "create", no_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "acls", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->create = 1;
			break;
		case 'k':
			o->check = 1;
			break;
		case 'a':
			o->acls = optarg;
			break;
		default:
			topics_usage();
			return -1;
		}
	}
	if (optind != argc) {
		topics_usage();
		return -1;
	}
	if (!o->create && o->acls == NULL)
		o->check = 1;
	return 0;
}

/* The whole file at path as a NUL-terminated malloc'd string, at most
 * TOPICS_ACL_FILE_MAX bytes and without NUL bytes. NULL with why filled. */
static char *
topics_read_file(const char *path, char *why, size_t len)
{
	struct stat st;
	char *text = NULL, *ret = NULL;
	size_t got = 0;
	ssize_t r;
	int fd = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		snprintf(why, len, "%s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > TOPICS_ACL_FILE_MAX) {
		snprintf(why, len, "not a regular file of at most %d bytes", TOPICS_ACL_FILE_MAX);
		goto out;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(why, len, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		if ((r = read(fd, text + got, (size_t)st.st_size - got)) == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(why, len, "%s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;	/* it shrank meanwhile */
		got += (size_t)r;
	}
	text[got] = '\0';
	if (strlen(text) != got) {
		snprintf(why, len, "it has a NUL byte");
		goto out;
	}
	ret = text;
	text = NULL;
out:
	free(text);
	if (fd != -1)
		close(fd);
	return ret;
}

/* Reads and parses the ACL file: *acls[0..*n) point into *text; the
 * caller frees both. 0 / -1 (logged). */
static int
topics_acls_load(const char *path, char **text, struct kafka_acl **acls, size_t *n)
{
	char why[300];

	*acls = NULL;
	if ((*text = topics_read_file(path, why, sizeof(why))) == NULL) {
		log_crit("ACL file %s: %s", path, why);
		return -1;
	}
	if ((*acls = calloc(TOPICS_ACL_MAX, sizeof(**acls))) == NULL) {
		log_crit("ACL file %s: out of memory", path);
		return -1;
	}
	if (topics_acl_parse(*text, *acls, TOPICS_ACL_MAX, n, why, sizeof(why)) == -1) {
		log_crit("ACL file %s: %s; nothing applied", path, why);
		return -1;
	}
	return 0;
}

/* Describes every topic of the table into r->have. 0 / -1 (logged). */
static int
topics_describe(struct topics_run *r)
{
	char err[512];

	if (kafka_admin_describe(r->a, r->names, r->n, r->have, &r->brokers, r->timeout_ms, err,
	    sizeof(err)) == -1) {
		log_error("cannot describe the topics: %s", err);
		return -1;
	}
	return 0;
}

/* Describes again until every topic created[i] is seen (a broker's
 * metadata follows the controller's a moment after the creation is
 * acknowledged) or the timeout passed. 0 / -1. */
static int
topics_settle(struct topics_run *r, const unsigned char *created)
{
	const struct timespec pause = { 0, TOPICS_SETTLE_MS * 1000000L };
	int64_t end = util_mono_us() + (int64_t)r->timeout_ms * 1000;
	size_t i;

	for (i = 0; i < r->n && !created[i]; i++)
		continue;
	if (i == r->n)
		return 0;	/* nothing new: the last description stands */
	for (;;) {
		if (topics_describe(r) == -1)
			return -1;
		for (i = 0; i < r->n && (!created[i] || r->have[i].exists); i++)
			continue;
		if (i == r->n || util_mono_us() >= end)
			return 0;
		nanosleep(&pause, NULL);
	}
}

/* Creates the topics r->have lacks. created[i] is set for each one made.
 * Exit status so far: TOPICS_EXIT_OK or TOPICS_EXIT_ERROR. */
static int
topics_create(struct topics_run *r, unsigned char *created)
{
	struct kafka_topic_new t;
	char err[512];
	size_t i;
	int rc = TOPICS_EXIT_OK;

	for (i = 0; i < r->n; i++) {
		if (r->have[i].exists) {
			printf("topic %s: exists (not changed)\n", r->spec[i].name);
			fflush(stdout);
			continue;
		}
		t.name = r->spec[i].name;
		t.partitions = r->spec[i].partitions;
		t.replication = r->pol.replication;
		t.min_isr = r->pol.min_isr;
		t.retention_ms = r->spec[i].retention_ms;
		if (kafka_admin_create(r->a, &t, r->timeout_ms, err, sizeof(err)) == 0) {
			created[i] = 1;
			printf("topic %s: created (%d partition%s, replication %d, "
			    "min.insync.replicas %d, retention.ms %lld)\n", t.name, t.partitions,
			    t.partitions == 1 ? "" : "s", t.replication, t.min_isr,
			    (long long)t.retention_ms);
			log_info("topic %s created: %s", t.name, r->spec[i].purpose);
		} else if (errno == EEXIST) {
			/* Another deployment was quicker; the check judges it. */
			printf("topic %s: exists (not changed)\n", t.name);
		} else {
			printf("topic %s: not created\n", t.name);
			log_error("%s", err);
			rc = TOPICS_EXIT_ERROR;
		}
		fflush(stdout);
	}
	return rc;
}

/* Sends the ACLs. TOPICS_EXIT_OK or TOPICS_EXIT_ERROR. */
static int
topics_acls(struct topics_run *r, const char *path, const struct kafka_acl *acls, size_t n)
{
	char err[1024];

	if (kafka_admin_create_acls(r->a, acls, n, r->timeout_ms, err, sizeof(err)) == -1) {
		printf("acls: not applied from %s\n", path);
		log_error("%s", err);
		return TOPICS_EXIT_ERROR;
	}
	printf("acls: %zu from %s created or present already\n", n, path);
	return TOPICS_EXIT_OK;
}

/* One line per topic. TOPICS_EXIT_OK or TOPICS_EXIT_DIFFERS. */
static int
topics_check(const struct topics_run *r)
{
	enum topics_verdict v;
	char why[300], line[512];
	size_t i;
	int rc = TOPICS_EXIT_OK;

	for (i = 0; i < r->n; i++) {
		v = topics_compare(&r->spec[i], &r->pol, &r->have[i], why, sizeof(why));
		topics_line(&r->spec[i], &r->have[i], v, why, line, sizeof(line));
		printf("%s\n", line);
		if (v == TOPICS_MISSING || v == TOPICS_DIFFERS)
			rc = TOPICS_EXIT_DIFFERS;
		else if (v == TOPICS_RETENTION)
			log_warn("topic %s: %s (retention is the operators' to tune)",
			    r->spec[i].name, why);
	}
	fflush(stdout);
	return rc;
}

static int
topics_worst(int a, int b)
{
	return a > b ? a : b;
}

int
main(int argc, char **argv)
{
	struct topics_opts o;
	struct topics_run r;
	struct kafka_acl *acls = NULL;
	unsigned char *created = NULL;
	const char *bootstrap;
	char *acltext = NULL, err[512];
	size_t i, nacls = 0;
	int want_rf, want_isr, rc = TOPICS_EXIT_ERROR;

	log_init("topics");
	memset(&r, 0, sizeof(r));
	if (topics_args(argc, argv, &o) == -1)
		return TOPICS_EXIT_ERROR;
	bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL);
	r.timeout_ms = (int)cfg_int("ESM_KAFKA_ADMIN_TIMEOUT_MS", 15000, 100, 600000);
	want_rf = (int)cfg_int("ESM_KAFKA_REPLICATION", 0, 1, 32767);
	want_isr = (int)cfg_int("ESM_KAFKA_MIN_ISR", 0, 1, 32767);
	if (bootstrap == NULL) {
		log_crit("ESM_KAFKA_BOOTSTRAP is required");
		goto out;
	}
	if (o.acls != NULL && topics_acls_load(o.acls, &acltext, &acls, &nacls) == -1)
		goto out;
	r.spec = topics_all(&r.n);
	if ((r.names = calloc(r.n, sizeof(*r.names))) == NULL ||
	    (r.have = calloc(r.n, sizeof(*r.have))) == NULL ||
	    (created = calloc(r.n, 1)) == NULL) {
		log_crit("out of memory");
		goto out;
	}
	for (i = 0; i < r.n; i++)
		r.names[i] = r.spec[i].name;
	if ((r.a = kafka_admin_new(bootstrap, err, sizeof(err))) == NULL) {
		log_crit("cannot make a Kafka admin client: %s", err);
		goto out;
	}
	if (topics_describe(&r) == -1)
		goto out;
	if (topics_policy_resolve(want_rf, want_isr, r.brokers, &r.pol, err, sizeof(err)) == -1) {
		log_crit("ESM_KAFKA_REPLICATION, ESM_KAFKA_MIN_ISR: %s", err);
		goto out;
	}
	log_info("cluster at %s: %d brokers; topics want replication %d%s, min.insync.replicas %d%s",
	    bootstrap, r.brokers, r.pol.replication, want_rf ? "" : " (from the broker count)",
	    r.pol.min_isr, want_isr ? "" : " (from the replication)");

	rc = TOPICS_EXIT_OK;
	if (o.create) {
		rc = topics_worst(rc, topics_create(&r, created));
		/* Whoever runs next (this check, a service) finds them. */
		if (topics_settle(&r, created) == -1) {
			rc = TOPICS_EXIT_ERROR;
			goto out;
		}
	}
	if (o.acls != NULL)
		rc = topics_worst(rc, topics_acls(&r, o.acls, acls, nacls));
	if (o.check)
		rc = topics_worst(rc, topics_check(&r));
out:
	kafka_admin_free(r.a);
	free(created);
	free(r.have);
	free(r.names);
	free(acls);
	free(acltext);
	return rc;
}
