/*
 * main.c (esm-broker): the embedded development broker. Debian packages no
 * Kafka broker, so local runs and tests use this program: librdkafka's mock
 * cluster, which speaks the real Kafka protocol on loopback ports and keeps
 * everything in memory (a restart loses all data). Clients only ever see a
 * bootstrap address, so they work unchanged against a real cluster.
 *
 *   esm-broker [-b brokers] [-p partitions] [-f bootstrap-file] [-P pidfile]
 *
 * Creates the system's topics up front, from their table (shared/topics.h)
 * with its partition counts, or all with -p partitions. The mock cluster
 * also creates an unknown topic when a client's metadata request allows it
 * (producers do by default, consumers do not), with the mock's own default
 * of 4 partitions (on a real cluster esm-topics declares the topics and
 * auto-creation stays off).
 *
 * Fault switch for tests: SIGUSR1 takes every broker down (connections are
 * dropped and refused), SIGUSR2 brings them back. SIGTERM/SIGINT stop it.
 * Signal handlers only set flags; the main loop acts on them.
 *
 * Retention: the mock keeps a bounded log per partition and drops the oldest
 * messages beyond it, as a real broker does by retention.bytes. A consumer
 * that falls further behind than that loses what was dropped; -p with more
 * partitions multiplies what a topic holds.
 *
 * Left out: persistence, real replication, the admin API (the mock has no
 * CreateTopics), authentication.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "topics.h"
#include "util.h"

#define BROKER_MAX_BROKERS 16
#define BROKER_MAX_PARTITIONS 256
#define BROKER_TICK_MS 50

static volatile sig_atomic_t broker_stop;
static volatile sig_atomic_t broker_want_up = 1;

static void
broker_on_signal(int sig)
{
	if (sig == SIGUSR1)
		broker_want_up = 0;
	else if (sig == SIGUSR2)
		broker_want_up = 1;
	else
		broker_stop = 1;
}

/* No SA_RESTART: a signal cuts the main loop's sleep short. */
static int
broker_signals(void)
{
	struct sigaction sa;
	const int sigs[] = { SIGTERM, SIGINT, SIGUSR1, SIGUSR2 };
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = broker_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < ESM_NELEM(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Writes text + "\n" to path through a temporary file and rename(2), so a
 * reader sees either no file or the whole address. 0 / -1 (errno). */
static int
broker_write_file(const char *path, const char *text)
{
	char tmp[4096];
	FILE *f = NULL;
	int rc = -1, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if ((f = fopen(tmp, "w")) == NULL)
		goto out;
	if (fprintf(f, "%s\n", text) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1) {
		saved = errno;
		if (f != NULL)
			fclose(f);
		unlink(tmp);
		errno = saved;
	}
	return rc;
}

static int
broker_parse_opt(const char *s, int64_t max, int *out)
{
	int64_t v;

	if (util_parse_i64(s, 1, max, &v) == -1)
		return -1;
	*out = (int)v;
	return 0;
}

static void
broker_usage(void)
{
	fprintf(stderr, "usage: esm-broker [-b brokers] [-p partitions] [-f bootstrap-file] [-P pidfile]\n");
}

int
main(int argc, char **argv)
{
	const char *bootfile = NULL, *pidfile = NULL, *boot;
	const struct topic_spec *topics;
	kafka_mock *k = NULL;
	char err[512], pid[32];
	struct timespec tick = { 0, BROKER_TICK_MS * 1000000L };
	int brokers = 1, partitions = 0, up = 1, want, ch, rc = 1;
	int wrote_pid = 0, wrote_boot = 0;
	size_t i, ntopics;

	log_init("broker");
	while ((ch = getopt(argc, argv, "b:p:f:P:h")) != -1) {
		switch (ch) {
		case 'b':
			if (broker_parse_opt(optarg, BROKER_MAX_BROKERS, &brokers) == -1) {
				fprintf(stderr, "esm-broker: -b wants 1..%d\n", BROKER_MAX_BROKERS);
				return 2;
			}
			break;
		case 'p':
			if (broker_parse_opt(optarg, BROKER_MAX_PARTITIONS, &partitions) == -1) {
				fprintf(stderr, "esm-broker: -p wants 1..%d\n", BROKER_MAX_PARTITIONS);
				return 2;
			}
			break;
		case 'f':
			bootfile = optarg;
			break;
		case 'P':
			pidfile = optarg;
			break;
		default:
			broker_usage();
			return 2;
		}
	}
	if (optind != argc) {
		broker_usage();
		return 2;
	}
	if (broker_signals() == -1) {
		log_crit("cannot install signal handlers: %s", strerror(errno));
		return 1;
	}

	if ((k = kafka_mock_new(brokers, err, sizeof(err))) == NULL) {
		log_crit("cannot start the mock cluster: %s", err);
		goto out;
	}
	topics = topics_all(&ntopics);
	for (i = 0; i < ntopics; i++)
		if (kafka_mock_topic_create(k, topics[i].name,
		    partitions > 0 ? partitions : topics[i].partitions, err, sizeof(err)) == -1) {
			log_crit("cannot create topic %s: %s", topics[i].name, err);
			goto out;
		}
	boot = kafka_mock_bootstraps(k);
	/* The pid file first: whoever waits for the bootstrap file may signal
	 * us right after it appears. */
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (pidfile != NULL && broker_write_file(pidfile, pid) == -1) {
		log_crit("cannot write pid file %s: %s", pidfile, strerror(errno));
		goto out;
	}
	wrote_pid = pidfile != NULL;
	if (bootfile != NULL && broker_write_file(bootfile, boot) == -1) {
		log_crit("cannot write bootstrap file %s: %s", bootfile, strerror(errno));
		goto out;
	}
	wrote_boot = bootfile != NULL;
	if (partitions > 0)
		log_info("broker ready: bootstrap %s, %d brokers, %zu topics of %d partitions",
		    boot, brokers, ntopics, partitions);
	else
		log_info("broker ready: bootstrap %s, %d brokers, %zu topics as declared",
		    boot, brokers, ntopics);

	while (!broker_stop) {
		want = broker_want_up;
		if (want != up) {
			if (kafka_mock_set_up(k, want) == -1) {
				log_error("cannot take the brokers %s", want ? "up" : "down");
			} else {
				up = want;
				if (up)
					log_info("brokers up: accepting connections on %s", boot);
				else
					log_warn("brokers down: connections dropped and refused (SIGUSR2 restores)");
			}
		}
		nanosleep(&tick, NULL);
	}
	log_info("broker stopping: data in memory is discarded");
	rc = 0;
out:
	/* Only files we wrote: a failed start must not remove another
	 * instance's address. */
	if (wrote_boot)
		unlink(bootfile);
	if (wrote_pid)
		unlink(pidfile);
	kafka_mock_free(k);
	return rc;
}
