/*
 * main.c (esm-notifier): the notification worker's lifecycle. A consumer
 * group member with manual offset store: the messages already fetched (up
 * to NOTIFIER_BATCH_MAX, so one WAL flush serves many) are written in one
 * database transaction, and their offsets stored only after the commit, so
 * a crash replays them and the unique eventId makes replays harmless.
 * Transient database failures retry the same messages with backoff (never
 * skip one); unparseable messages go to notifications-dlq, with the reason
 * in a header, before their offsets are stored. Between batches, a delivery
 * pass mails pending notifications when ESM_SMTP_URL is set.
 * SIGTERM/SIGINT: finish the current batch, commit, leave the group.
 *
 * Environment:
 *   ESM_DB_DSN, ESM_KAFKA_BOOTSTRAP   required
 *   ESM_NOTIFIER_TOPICS       comma list (NOTIFIER_DEFAULT_TOPICS)
 *   ESM_NOTIFIER_GROUP        consumer group (notification-service-group)
 *   ESM_SMTP_URL              smtp://host:port; unset = no delivery
 *   ESM_MAIL_FROM             sender (notifications@eventstreammonitor.local)
 *   ESM_MAIL_MAX_ATTEMPTS     attempts before a mail is failed (5)
 *   ESM_MAIL_BATCH            mails per delivery pass (20)
 *   ESM_MAIL_TIMEOUT_MS       per mail (10000)
 *   ESM_NOTIFIER_FETCH_WAIT_MS  longest wait of a fetch for new data (20)
 *   ESM_NOTIFIER_STATS_S      seconds between counter lines (60)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "kafka.h"
#include "log.h"
#include "logship.h"
#include "mail.h"
#include "notifier.h"

#define NOTIFIER_TOPICS_MAX 16
#define NOTIFIER_DB_ERROR_TRIES 5	/* DB_ERROR (not a lost connection) this often: DLQ */
#define NOTIFIER_DELIVER_EVERY_US 250000
#define NOTIFIER_BATCH_MAX 200		/* messages per transaction */

static volatile sig_atomic_t notifier_stop;

struct notifier_stats {
	uint64_t consumed, written, duplicates, dead, db_retries, mailed, mail_failed;
};

struct notifier {
	db *d;
	kafka_consumer *c;
	kafka_producer *dlq;
	struct notifier_mailcfg mail;
	struct notifier_stats st;
};

/* The DLQ producer's delivery report for the one message in flight. */
struct notifier_dr {
	int done, err;
	char errstr[128];
};

static void
notifier_on_signal(int sig)
{
	notifier_stop = 1;
}

static void
notifier_on_dr(void *opaque, int err, const char *errstr, void *ctx)
{
	struct notifier_dr *dr = opaque;

	dr->done = 1;
	dr->err = err;
	snprintf(dr->errstr, sizeof(dr->errstr), "%s", errstr ? errstr : "");
}

/* Sleeps ms in slices, returning early on stop. */
static void
notifier_nap(int ms)
{
	struct timespec ts;

	while (ms > 0 && !notifier_stop) {
		int step = ms < 100 ? ms : 100;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* Produces m to the DLQ with its reason and waits for the broker's
 * acknowledgement, retrying with backoff. 0, or -1 when stopping first. */
static int
notifier_dead_letter(struct notifier *nt, const kafka_msg *m, const char *why)
{
	char part[16], off[24];
	const struct kafka_header h[4] = {
		{ "reason", why }, { "source-topic", kafka_msg_topic(m) },
		{ "source-partition", part }, { "source-offset", off },
	};
	struct notifier_dr dr;
	const void *key, *val;
	size_t klen, vlen;
	char keyb[256];
	int backoff = 0;

	snprintf(part, sizeof(part), "%d", (int)kafka_msg_partition(m));
	snprintf(off, sizeof(off), "%lld", (long long)kafka_msg_offset(m));
	key = kafka_msg_key(m, &klen);
	val = kafka_msg_payload(m, &vlen);
	snprintf(keyb, sizeof(keyb), "%.*s", key ? (int)(klen < 255 ? klen : 255) : 0,
	    key ? (const char *)key : "");
	while (!notifier_stop) {
		memset(&dr, 0, sizeof(dr));
		if (kafka_produce(nt->dlq, NOTIFIER_DLQ_TOPIC, keyb[0] ? keyb : NULL, val ? val : "",
		    val ? vlen : 0, h, ESM_NELEM(h), &dr) == 0 &&
		    kafka_flush(nt->dlq, 15000) == 0 && dr.done && dr.err == 0)
			return 0;
		log_warn("dead-lettering %s[%d]@%s failed: %s", kafka_msg_topic(m), (int)kafka_msg_partition(m),
		    off, dr.done ? dr.errstr : "not acknowledged");
		notifier_nap(notifier_backoff(&backoff));
	}
	return -1;
}

/* Stores the batch's rows, retrying transient failures with backoff (the
 * same messages, never skipped). When the database refuses the batch
 * (DB_ERROR) repeatedly, each message is tried alone and the one it keeps
 * refusing is dead-lettered. 0, or -1 when stopping first. */
static int
notifier_write(struct notifier *nt, struct notifier_item *it, size_t n)
{
	int backoff = 0, rc, db_errors = 0;

	for (;;) {
		rc = notifier_store(nt->d, it, n);
		if (rc == DB_OK)
			return 0;
		if (rc == DB_ERROR && ++db_errors >= NOTIFIER_DB_ERROR_TRIES) {
			if (n > 1) {
				for (size_t i = 0; i < n; i++)
					if (it[i].parsed && notifier_write(nt, &it[i], 1) == -1)
						return -1;
				return 0;
			}
			it->parsed = 0;
			it->why = "the database refused the event";
			return 0;
		}
		nt->st.db_retries++;
		if (backoff == 0)
			log_warn("storing %zu event(s) failed (%d); retrying the same messages", n, rc);
		notifier_nap(notifier_backoff(&backoff));
		if (notifier_stop)
			return -1;
	}
}

/* Handles a batch of messages up to their offset store: parse, one
 * transaction for the rows, dead letters, then the offsets. Returns 0, or
 * -1 when stopping left the batch to be replayed. */
static int
notifier_handle(struct notifier *nt, kafka_msg *const *ms, struct notifier_item *it, size_t n)
{
	const void *payload;
	size_t i, len;

	for (i = 0; i < n; i++) {
		memset(&it[i], 0, sizeof(it[i]));
		it[i].topic = kafka_msg_topic(ms[i]);
		payload = kafka_msg_payload(ms[i], &len);
		it[i].parsed = notifier_parse(payload, len, &it[i].ev, &it[i].why) == 0;
		if (it[i].parsed)
			notifier_render(&it[i].ev, &it[i].note);
	}
	nt->st.consumed += n;
	if (notifier_write(nt, it, n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (it[i].parsed) {
			if (it[i].inserted)
				nt->st.written++;
			else if (it[i].note.write)
				nt->st.duplicates++;
			continue;
		}
		log_warn("message %s[%d]@%lld is unparseable (%s): dead-lettered", kafka_msg_topic(ms[i]),
		    (int)kafka_msg_partition(ms[i]), (long long)kafka_msg_offset(ms[i]), it[i].why);
		if (notifier_dead_letter(nt, ms[i], it[i].why) == -1)
			return -1;
		nt->st.dead++;
	}
	for (i = 0; i < n; i++)
		if (kafka_store_offset(nt->c, ms[i]) == -1)
			log_warn("storing the offset of %s[%d]@%lld failed; it may be replayed",
			    kafka_msg_topic(ms[i]), (int)kafka_msg_partition(ms[i]),
			    (long long)kafka_msg_offset(ms[i]));
	return 0;
}

static void
notifier_log_stats(const struct notifier *nt, const char *what)
{
	log_info("%s: consumed %llu, written %llu, duplicates %llu, dead-lettered %llu, "
	    "db retries %llu, mailed %llu, mail failures %llu, lag %lld", what,
	    (unsigned long long)nt->st.consumed, (unsigned long long)nt->st.written,
	    (unsigned long long)nt->st.duplicates, (unsigned long long)nt->st.dead,
	    (unsigned long long)nt->st.db_retries, (unsigned long long)nt->st.mailed,
	    (unsigned long long)nt->st.mail_failed,
	    (long long)(nt->c ? kafka_consumer_lag(nt->c) : -1));
}

static int
notifier_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = notifier_on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
main(void)
{
	struct notifier nt;
	const char *dsn, *bootstrap, *topics[NOTIFIER_TOPICS_MAX], *list;
	char *tbuf = NULL, err[512], fetch_wait[16];
	const char *const extra[] = { "fetch.wait.max.ms", fetch_wait, NULL };
	int ntopics, rc = 1, mail_pause_ms = 0;
	int64_t stats_us, next_stats, next_deliver = 0;
	kafka_msg *m, *batch[NOTIFIER_BATCH_MAX];
	static struct notifier_item items[NOTIFIER_BATCH_MAX];
	logship *ship = NULL;

	log_init("notifier");
	memset(&nt, 0, sizeof(nt));
	dsn = cfg_str("ESM_DB_DSN", NULL);
	bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL);
	list = cfg_str("ESM_NOTIFIER_TOPICS", NOTIFIER_DEFAULT_TOPICS);
	nt.mail.url = cfg_str("ESM_SMTP_URL", NULL);
	nt.mail.from = cfg_str("ESM_MAIL_FROM", "notifications@eventstreammonitor.local");
	nt.mail.max_attempts = (int)cfg_int("ESM_MAIL_MAX_ATTEMPTS", 5, 1, 100);
	nt.mail.batch = (int)cfg_int("ESM_MAIL_BATCH", 20, 1, 1000);
	nt.mail.timeout_ms = (int)cfg_int("ESM_MAIL_TIMEOUT_MS", 10000, 100, 300000);
	stats_us = cfg_int("ESM_NOTIFIER_STATS_S", 60, 1, 86400) * 1000000;
	if (dsn == NULL || bootstrap == NULL) {
		log_crit("ESM_DB_DSN and ESM_KAFKA_BOOTSTRAP are required");
		return 2;
	}
	if ((tbuf = malloc(strlen(list) + 1)) == NULL ||
	    (ntopics = notifier_topics(list, tbuf, topics, NOTIFIER_TOPICS_MAX)) == -1) {
		log_crit("ESM_NOTIFIER_TOPICS is not a comma list of topic names");
		goto out;
	}
	if (notifier_signals() == -1) {
		log_crit("cannot install signal handlers");
		goto out;
	}
	if ((nt.d = db_open(dsn, notifier_stmts, NS_COUNT_, 10000)) == NULL) {
		log_crit("cannot allocate the database handle");
		goto out;
	}
	if ((nt.dlq = kafka_producer_new(bootstrap, 1, 10000, NULL, notifier_on_dr, NULL,
	    err, sizeof(err))) == NULL) {
		log_crit("dead-letter producer: %s", err);
		goto out;
	}
	/* A short fetch wait bounds the event latency where the broker does not
	 * answer a waiting fetch as soon as data arrives (the embedded mock
	 * cluster); a real broker does, and then it only sets the idle poll rate. */
	snprintf(fetch_wait, sizeof(fetch_wait), "%d",
	    (int)cfg_int("ESM_NOTIFIER_FETCH_WAIT_MS", 20, 1, 500));
	if ((nt.c = kafka_consumer_new(bootstrap, cfg_str("ESM_NOTIFIER_GROUP", NOTIFIER_GROUP),
	    topics, (size_t)ntopics, extra, err, sizeof(err))) == NULL) {
		log_crit("consumer: %s", err);
		goto out;
	}
	ship = logship_from_env("notifier");
	log_info("notifier started: %d topics (%s), mail %s", ntopics, list,
	    nt.mail.url ? "on" : "off (ESM_SMTP_URL unset)");

	next_stats = util_mono_us() + stats_us;
	while (!notifier_stop) {
		int idle = 1;
		size_t n = 0;

		/* A batch: what is already fetched, up to NOTIFIER_BATCH_MAX. */
		if ((m = kafka_consumer_poll(nt.c, 100)) != NULL) {
			idle = 0;
			batch[n++] = m;
			while (n < NOTIFIER_BATCH_MAX && (m = kafka_consumer_poll(nt.c, 0)) != NULL)
				batch[n++] = m;
			(void)notifier_handle(&nt, batch, items, n);
			while (n > 0)
				kafka_msg_free(batch[--n]);
		}
		/* Mail when idle, every quarter second when busy, and after a
		 * failed mail only after a doubling pause (1 s to 30 s): an SMTP
		 * server that is down must not stall the consumption. */
		if (nt.mail.url != NULL && !notifier_stop && util_mono_us() >= next_deliver) {
			uint64_t failed0 = nt.st.mail_failed;
			int rcd = notifier_deliver(nt.d, &nt.mail, &nt.st.mailed, &nt.st.mail_failed);

			if (rcd < 0 || nt.st.mail_failed != failed0) {
				mail_pause_ms = mail_pause_ms == 0 ? 1000 : mail_pause_ms * 2;
				if (mail_pause_ms > 30000)
					mail_pause_ms = 30000;
				next_deliver = util_mono_us() + (int64_t)mail_pause_ms * 1000;
			} else {
				mail_pause_ms = 0;
				next_deliver = util_mono_us() + (idle ? 0 : NOTIFIER_DELIVER_EVERY_US);
			}
		}
		logship_poll(ship);
		if (util_mono_us() >= next_stats) {
			notifier_log_stats(&nt, "counters");
			next_stats = util_mono_us() + stats_us;
		}
	}
	notifier_log_stats(&nt, "stopping");
	rc = 0;
out:
	kafka_consumer_free(nt.c);	/* commits the stored offsets, leaves the group */
	kafka_producer_free(nt.dlq, 5000);
	db_close(nt.d);
	mail_cleanup();
	free(tbuf);
	logship_free(ship, 1000);
	return rc;
}
