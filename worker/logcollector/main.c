/*
 * main.c (esm-logcollector): consumes the application log topics into the
 * log monitor's database (see logcol.h). The loop polls for about 100 ms,
 * gathers up to ESM_LOGCOL_BATCH messages, stores them in one transaction
 * per LOGCOL_PARTS_MAX partitions they span (retried with a doubling
 * backoff while the database fails), and only then stores their offsets.
 * Every ESM_LOGCOL_PURGE_S it deletes what is older than the retention.
 * SIGTERM/SIGINT end the loop after the current batch; messages of an
 * unfinished batch are simply consumed again.
 *
 * Environment:
 *   ESM_DB_DSN                 the log monitor database (required)
 *   ESM_KAFKA_BOOTSTRAP        bootstrap servers (required)
 *   ESM_LOG_RETENTION_DAYS     records kept (7)
 *   ESM_LOGCOL_BATCH           messages per transaction (500)
 *   ESM_LOGCOL_PURGE_S         seconds between retention purges (60)
 *   ESM_LOGCOL_STATS_S         seconds between counter lines (60)
 *
 * Its own lines are shipped too (logship); a database outage logs one
 * line per retry, which the backoff keeps rare.
 */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "kafka.h"
#include "log.h"
#include "logcol.h"
#include "logship.h"
#include "wmetrics.h"

#define LOGCOL_POLL_MS 100
#define LOGCOL_BACKOFF_MIN_MS 100
#define LOGCOL_BACKOFF_MAX_MS 5000

static volatile sig_atomic_t logcol_stop;
static const char *const logcol_consumer_extra[] = { "fetch.wait.max.ms", "100", NULL };

/* Sleeps ms in 100 ms slices, returning early on stop. */
static void
logcol_sleep(int ms, logship *ship)
{
	struct timespec ts;

	while (ms > 0 && !logcol_stop) {
		int slice = ms > 100 ? 100 : ms;
		ts.tv_sec = 0;
		ts.tv_nsec = (long)slice * 1000000L;
		nanosleep(&ts, NULL);
		logship_poll(ship);
		ms -= slice;
	}
}

static void
logcol_log_stats(const struct logcol *lc, const char *why)
{
	log_info("logcollector %s: %llu records, %llu errors stored, %llu duplicates, %llu bad, "
	    "%llu expired, %llu batches, %llu database failures, %llu purged", why,
	    (unsigned long long)lc->st.records, (unsigned long long)lc->st.errors_stored,
	    (unsigned long long)lc->st.duplicates, (unsigned long long)lc->st.bad,
	    (unsigned long long)lc->st.expired, (unsigned long long)lc->st.batches,
	    (unsigned long long)lc->st.db_fail, (unsigned long long)lc->st.purged);
}

/* The collector's counters for the service's /metrics (wmetrics.h):
 * messages_failed_total counts the records skipped as unparseable. */
static void
logcol_publish(wmetrics *wm, const struct logcol *lc, kafka_consumer *c, uint64_t consumed,
    int force)
{
	int64_t lag = c ? kafka_consumer_lag(c) : -1;
	const struct wmetric m[] = {
		{ "messages_consumed_total", (double)consumed },
		{ "messages_failed_total", (double)lc->st.bad },
		{ "records_stored_total", (double)lc->st.records },
		{ "errors_stored_total", (double)lc->st.errors_stored },
		{ "duplicates_total", (double)lc->st.duplicates },
		{ "expired_total", (double)lc->st.expired },
		{ "db_failures_total", (double)lc->st.db_fail },
		{ "consumer_lag", lag >= 0 ? (double)lag : NAN },
	};

	wmetrics_report(wm, m, ESM_NELEM(m), force);
}

int
main(void)
{
	static const char *const topics[] = { LOGSHIP_TOPIC, LOGSHIP_TOPIC_ERRORS };
	static kafka_msg *km[LOGCOL_BATCH_MAX];
	static struct logcol_msg views[LOGCOL_BATCH_MAX];
	static struct logcol lc;
	kafka_consumer *c = NULL;
	logship *ship = NULL;
	wmetrics *wm = NULL;
	uint64_t consumed = 0;
	const char *dsn, *bootstrap;
	int64_t next_purge, next_stats, purge_us, stats_us;
	char err[256];
	size_t n, i, stored, done;
	int batch, backoff, code = 1;

	log_init("logcollector");
	memset(&lc, 0, sizeof(lc));
	dsn = cfg_str("ESM_DB_DSN", NULL);
	bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL);
	lc.retention_s = cfg_int("ESM_LOG_RETENTION_DAYS", 7, 1, 3650) * 86400;
	batch = (int)cfg_int("ESM_LOGCOL_BATCH", 500, 1, LOGCOL_BATCH_MAX);
	purge_us = cfg_int("ESM_LOGCOL_PURGE_S", 60, 1, 86400) * 1000000;
	stats_us = cfg_int("ESM_LOGCOL_STATS_S", 60, 1, 86400) * 1000000;
	if (dsn == NULL || bootstrap == NULL) {
		log_crit("ESM_DB_DSN and ESM_KAFKA_BOOTSTRAP are required");
		return 2;
	}
	if (util_stop_signals(&logcol_stop) == -1) {
		log_crit("cannot install signal handlers");
		return 1;
	}
	if ((lc.d = db_open(dsn, logcol_stmts, logcol_nstmts, 30000)) == NULL) {
		log_crit("cannot open the database handle");
		goto out;
	}
	/* A short fetch wait: a new record is on the dashboard within 2 s. */
	if ((c = kafka_consumer_new(bootstrap, LOGCOL_GROUP, topics, 2, logcol_consumer_extra, err,
	    sizeof(err))) == NULL) {
		log_crit("kafka consumer: %s", err);
		goto out;
	}
	ship = logship_from_env("logcollector");
	wm = wmetrics_open(dsn, "logcollector");
	log_info("logcollector started: batch %d, retention %lld days, kafka %s", batch,
	    (long long)(lc.retention_s / 86400), bootstrap);

	next_purge = util_mono_us();
	next_stats = util_mono_us() + stats_us;
	while (!logcol_stop) {
		kafka_msg *m = kafka_consumer_poll(c, LOGCOL_POLL_MS);
		n = 0;
		while (m != NULL) {
			km[n] = m;
			views[n].topic = kafka_msg_topic(m);
			views[n].partition = kafka_msg_partition(m);
			views[n].offset = kafka_msg_offset(m);
			views[n].payload = kafka_msg_payload(m, &views[n].len);
			if (views[n].payload == NULL)
				views[n].payload = "";
			if (++n >= (size_t)batch)
				break;
			m = kafka_consumer_poll(c, 0);
		}
		/* One or more transactions (one per LOGCOL_PARTS_MAX partitions),
		 * each followed by the offsets it committed. What stop cuts short
		 * was not committed: its offsets stay unstored and it is consumed
		 * again. */
		backoff = 0;
		stored = 0;
		while (stored < n && !logcol_stop) {
			if (logcol_store(&lc, views + stored, n - stored, &done) == LOGCOL_OK) {
				for (i = stored; i < stored + done; i++)
					if (kafka_store_offset(c, km[i]) == -1)
						log_warn("cannot store the offset of %s/%d@%lld", views[i].topic,
						    (int)views[i].partition, (long long)views[i].offset);
				stored += done;
				backoff = 0;
				continue;
			}
			backoff = backoff == 0 ? LOGCOL_BACKOFF_MIN_MS :
			    (backoff * 2 > LOGCOL_BACKOFF_MAX_MS ? LOGCOL_BACKOFF_MAX_MS : backoff * 2);
			log_warn("storing %zu log records failed, retrying in %d ms", n - stored, backoff);
			logcol_sleep(backoff, ship);
		}
		for (i = 0; i < n; i++)
			kafka_msg_free(km[i]);
		consumed += stored;
		logship_poll(ship);
		logcol_publish(wm, &lc, c, consumed, 0);
		if (util_mono_us() >= next_purge) {
			if (logcol_purge(&lc) == -1)
				log_warn("retention purge failed, next try in %lld s",
				    (long long)(purge_us / 1000000));
			next_purge = util_mono_us() + purge_us;
		}
		if (util_mono_us() >= next_stats) {
			logcol_log_stats(&lc, "counters");
			next_stats = util_mono_us() + stats_us;
		}
	}
	logcol_log_stats(&lc, "stopping");
	logcol_publish(wm, &lc, c, consumed, 1);
	code = 0;
out:
	kafka_consumer_free(c);
	wmetrics_close(wm);
	logship_free(ship, 1000);
	db_close(lc.d);
	logcol_free(&lc);
	return code;
}
