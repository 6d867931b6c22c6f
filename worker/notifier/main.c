/*
 * main.c (esm-notifier): the notification worker's lifecycle. A consumer
 * group member with manual offset store: the messages already fetched (up
 * to NOTIFIER_BATCH_MAX, so one WAL flush serves many) are written in one
 * database transaction, and their offsets stored only after the commit, so
 * a crash replays them and the unique eventId makes replays harmless.
 * Transient database failures retry the same messages with backoff (never
 * skip one); unparseable messages go to notifications-dlq, with the reason
 * in a header, before their offsets are stored. When ESM_SMTP_URL is set,
 * a mailer thread with its own database connection mails the pending
 * notifications: an SMTP conversation never stalls the consumption (a pass
 * of twenty mails inside the poll loop held events back for 100 ms and
 * more). SIGTERM/SIGINT: finish the current batch, commit, leave the group,
 * let the mailer finish its pass.
 *
 * Environment:
 *   ESM_DB_DSN, ESM_KAFKA_BOOTSTRAP   required
 *   ESM_NOTIFIER_TOPICS       comma list (NOTIFIER_DEFAULT_TOPICS)
 *   ESM_NOTIFIER_GROUP        consumer group (notification-service-group)
 *   ESM_SMTP_URL              smtp://host:port; unset = no delivery
 *   ESM_MAIL_FROM             sender (notifications@eventstreammonitor.local)
 *   ESM_MAIL_MAX_ATTEMPTS     attempts before a mail is failed (5); a 5xx
 *                             reply fails it at once
 *   ESM_NOTIFIER_RECIPIENT_WAIT_S  seconds mail waits for its user's address
 *                             before it is undeliverable (3600)
 *   ESM_MAIL_BATCH            mails per delivery pass (20)
 *   ESM_MAIL_TIMEOUT_MS       per mail (10000)
 *   ESM_NOTIFIER_FETCH_WAIT_MS  longest wait of a fetch for new data (20)
 *   ESM_NOTIFIER_STATS_S      seconds between counter lines (60)
 */
#include <pthread.h>
#include <math.h>
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
#include "wmetrics.h"

#define NOTIFIER_TOPICS_MAX 16
#define NOTIFIER_DB_ERROR_TRIES 5	/* DB_ERROR (not a lost connection) this often: DLQ */
/* The mailer's pause between passes: at most ESM_MAIL_BATCH mails per pause
 * (200 a second by default), so a backlog of mail drains at a pace that
 * leaves the CPU to the events, which are the latency that matters. */
#define NOTIFIER_MAIL_PAUSE_MS 100
#define NOTIFIER_BATCH_MAX 200		/* messages per transaction */

static volatile sig_atomic_t notifier_stop;

struct notifier_stats {
	uint64_t consumed, written, duplicates, dead, db_retries;
};

/* The mailer thread: its own connection; its counters are read by the
 * main thread's log lines (atomically: two threads). */
struct notifier_mailer {
	pthread_t th;
	int running;
	const char *dsn;
	struct notifier_mailcfg cfg;
	uint64_t mailed, failed;
};

struct notifier {
	db *d;
	kafka_consumer *c;
	kafka_producer *dlq;
	struct notifier_mailer mail;
	struct notifier_stats st;
};

/* The DLQ producer's delivery report for the one message in flight. */
struct notifier_dr {
	int done, err;
	char errstr[128];
};

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

/* The notifier's counters for the service's /metrics (wmetrics.h):
 * messages_failed_total counts the stores that failed and were retried. */
static void
notifier_publish(wmetrics *wm, const struct notifier *nt, int force)
{
	int64_t lag = nt->c ? kafka_consumer_lag(nt->c) : -1;
	const struct wmetric m[] = {
		{ "messages_consumed_total", (double)nt->st.consumed },
		{ "messages_failed_total", (double)nt->st.db_retries },
		{ "messages_dead_lettered_total", (double)nt->st.dead },
		{ "notifications_written_total", (double)nt->st.written },
		{ "duplicates_total", (double)nt->st.duplicates },
		{ "mails_sent_total", (double)__atomic_load_n(&nt->mail.mailed, __ATOMIC_RELAXED) },
		{ "mails_failed_total", (double)__atomic_load_n(&nt->mail.failed, __ATOMIC_RELAXED) },
		{ "consumer_lag", lag >= 0 ? (double)lag : NAN },
	};

	wmetrics_report(wm, m, ESM_NELEM(m), force);
}

static void
notifier_log_stats(const struct notifier *nt, const char *what)
{
	log_info("%s: consumed %llu, written %llu, duplicates %llu, dead-lettered %llu, "
	    "db retries %llu, mailed %llu, mail failures %llu, lag %lld", what,
	    (unsigned long long)nt->st.consumed, (unsigned long long)nt->st.written,
	    (unsigned long long)nt->st.duplicates, (unsigned long long)nt->st.dead,
	    (unsigned long long)nt->st.db_retries,
	    (unsigned long long)__atomic_load_n(&nt->mail.mailed, __ATOMIC_RELAXED),
	    (unsigned long long)__atomic_load_n(&nt->mail.failed, __ATOMIC_RELAXED),
	    (long long)(nt->c ? kafka_consumer_lag(nt->c) : -1));
}

/* The mailer's loop: a pass, a short pause, and after a transient
 * failure a doubling pause (1 s to 30 s), so an SMTP server that is down
 * is not hammered. Once a second it also ends the mail that waited too
 * long for an address. */
static void *
notifier_mailer_run(void *arg)
{
	struct notifier_mailer *ml = arg;
	uint64_t sent = 0, failed = 0;
	int64_t next_expire = 0;
	int pause_ms = 0, n, deferred;
	db *d;

	if ((d = db_open(ml->dsn, notifier_stmts, NS_COUNT_, 10000)) == NULL) {
		log_error("mailer: cannot allocate the database handle: no mail is sent");
		return NULL;
	}
	while (!notifier_stop) {
		if (util_mono_us() >= next_expire) {
			(void)notifier_expire(d, ml->cfg.recipient_wait_s);
			next_expire = util_mono_us() + 1000000;
		}
		n = notifier_deliver(d, &ml->cfg, &sent, &failed, &deferred);
		__atomic_store_n(&ml->mailed, sent, __ATOMIC_RELAXED);
		__atomic_store_n(&ml->failed, failed, __ATOMIC_RELAXED);
		if (n < 0 || deferred) {
			pause_ms = pause_ms == 0 ? 1000 : pause_ms * 2;
			if (pause_ms > 30000)
				pause_ms = 30000;
			notifier_nap(pause_ms);
		} else {
			pause_ms = 0;
			notifier_nap(NOTIFIER_MAIL_PAUSE_MS);
		}
	}
	db_close(d);
	return NULL;
}

/* Starts the mailer with every signal blocked in it, so SIGTERM reaches the
 * main thread (whose sleeps it must cut short). 0 / -1. */
static int
notifier_mailer_start(struct notifier_mailer *ml)
{
	sigset_t all, old;
	int e;

	sigfillset(&all);
	if (pthread_sigmask(SIG_BLOCK, &all, &old) != 0)
		return -1;
	e = pthread_create(&ml->th, NULL, notifier_mailer_run, ml);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0)
		return -1;
	ml->running = 1;
	return 0;
}

static void
notifier_mailer_join(struct notifier_mailer *ml)
{
	if (!ml->running)
		return;
	notifier_stop = 1;
	(void)pthread_join(ml->th, NULL);
	ml->running = 0;
}

int
main(void)
{
	struct notifier nt;
	const char *dsn, *bootstrap, *topics[NOTIFIER_TOPICS_MAX], *list;
	char *tbuf = NULL, err[512], fetch_wait[16];
	const char *const extra[] = { "fetch.wait.max.ms", fetch_wait, NULL };
	int ntopics, rc = 1;
	int64_t stats_us, next_stats;
	kafka_msg *m, *batch[NOTIFIER_BATCH_MAX];
	static struct notifier_item items[NOTIFIER_BATCH_MAX];
	logship *ship = NULL;
	wmetrics *wm = NULL;

	log_init("notifier");
	memset(&nt, 0, sizeof(nt));
	dsn = cfg_str("ESM_DB_DSN", NULL);
	bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL);
	list = cfg_str("ESM_NOTIFIER_TOPICS", NOTIFIER_DEFAULT_TOPICS);
	nt.mail.dsn = dsn;
	nt.mail.cfg.url = cfg_str("ESM_SMTP_URL", NULL);
	nt.mail.cfg.from = cfg_str("ESM_MAIL_FROM", "notifications@eventstreammonitor.local");
	nt.mail.cfg.max_attempts = (int)cfg_int("ESM_MAIL_MAX_ATTEMPTS", 5, 1, 100);
	nt.mail.cfg.batch = (int)cfg_int("ESM_MAIL_BATCH", 20, 1, 1000);
	nt.mail.cfg.timeout_ms = (int)cfg_int("ESM_MAIL_TIMEOUT_MS", 10000, 100, 300000);
	nt.mail.cfg.recipient_wait_s = (int)cfg_int("ESM_NOTIFIER_RECIPIENT_WAIT_S", 3600, 1,
	    30 * 86400);
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
	if (util_stop_signals(&notifier_stop) == -1) {
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
	wm = wmetrics_open(dsn, "notifier");
	if (nt.mail.cfg.url != NULL && notifier_mailer_start(&nt.mail) == -1) {
		log_crit("cannot start the mailer thread");
		goto out;
	}
	log_info("notifier started: %d topics (%s), mail %s", ntopics, list,
	    nt.mail.cfg.url ? "on" : "off (ESM_SMTP_URL unset)");

	next_stats = util_mono_us() + stats_us;
	while (!notifier_stop) {
		size_t n = 0;

		/* A batch: what is already fetched, up to NOTIFIER_BATCH_MAX. */
		if ((m = kafka_consumer_poll(nt.c, 100)) != NULL) {
			batch[n++] = m;
			while (n < NOTIFIER_BATCH_MAX && (m = kafka_consumer_poll(nt.c, 0)) != NULL)
				batch[n++] = m;
			(void)notifier_handle(&nt, batch, items, n);
			while (n > 0)
				kafka_msg_free(batch[--n]);
		}
		logship_poll(ship);
		notifier_publish(wm, &nt, 0);
		if (util_mono_us() >= next_stats) {
			notifier_log_stats(&nt, "counters");
			next_stats = util_mono_us() + stats_us;
		}
	}
	notifier_log_stats(&nt, "stopping");
	notifier_publish(wm, &nt, 1);
	rc = 0;
out:
	notifier_mailer_join(&nt.mail);
	kafka_consumer_free(nt.c);	/* commits the stored offsets, leaves the group */
	kafka_producer_free(nt.dlq, 5000);
	db_close(nt.d);
	mail_cleanup();
	free(tbuf);
	wmetrics_close(wm);
	logship_free(ship, 1000);
	return rc;
}
