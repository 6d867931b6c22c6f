/*
 * main.c (esm-relay): publishes the committed outbox rows of one service
 * database to Kafka. Start-up reads the configuration and installs the
 * signal handlers; then the loop runs batches (handle.c) and sleeps between
 * them: not at all after a batch that moved rows, the poll interval when
 * caught up (an idle poll is one cheap query), the longer idle interval once
 * nothing came for a second,
 * a doubling backoff while Kafka or the database fails. SIGTERM/SIGINT end
 * the loop after the current batch.
 *
 * Environment:
 *   ESM_DB_DSN                     the service database (required)
 *   ESM_KAFKA_BOOTSTRAP            bootstrap servers (required)
 *   ESM_RELAY_BATCH                rows per transaction (500)
 *   ESM_RELAY_POLL_MS              sleep when caught up (10)
 *   ESM_RELAY_IDLE_POLL_MS         sleep after a second with nothing to send (50)
 *   ESM_KAFKA_DELIVERY_TIMEOUT_MS  producer delivery timeout (10000)
 *   ESM_RELAY_STATS_S              seconds between counter lines (60)
 *
 * Several relays may run against one database for availability; the
 * advisory lock in the batch lets one of them work at a time.
 */
#include <signal.h>
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "logship.h"
#include "relay.h"
#include "wmetrics.h"

static volatile sig_atomic_t relay_stop;

/* The relay's counters for the service's /metrics (wmetrics.h). */
static void
relay_publish(wmetrics *wm, const struct relay *r, int force)
{
	const struct wmetric m[] = {
		{ "messages_published_total", (double)r->st.sent },
		{ "messages_failed_total", (double)r->st.failed },
		{ "batches_total", (double)r->st.batches },
		{ "kafka_failures_total", (double)r->st.kafka_fail },
		{ "db_failures_total", (double)r->st.db_fail },
	};

	wmetrics_report(wm, m, ESM_NELEM(m), force);
}

int
main(void)
{
	struct relay r;
	struct relay_cfg cfg;
	enum relay_outcome oc;
	int64_t stats_us, next_stats;
	int64_t idle_since = 0;
	int poll_ms, idle_ms, backoff = 0, ms;
	logship *ship;
	wmetrics *wm;

	log_init("relay");
	memset(&cfg, 0, sizeof(cfg));
	cfg.dsn = cfg_str("ESM_DB_DSN", NULL);
	cfg.bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL);
	cfg.batch = (int)cfg_int("ESM_RELAY_BATCH", 500, 1, 10000);
	cfg.delivery_ms = (int)cfg_int("ESM_KAFKA_DELIVERY_TIMEOUT_MS", 10000, 1000, 300000);
	poll_ms = (int)cfg_int("ESM_RELAY_POLL_MS", 10, 1, 60000);
	idle_ms = (int)cfg_int("ESM_RELAY_IDLE_POLL_MS", 50, 1, 60000);
	stats_us = cfg_int("ESM_RELAY_STATS_S", 60, 1, 86400) * 1000000;
	if (cfg.dsn == NULL || cfg.bootstrap == NULL) {
		log_crit("ESM_DB_DSN and ESM_KAFKA_BOOTSTRAP are required");
		return 2;
	}
	if (util_stop_signals(&relay_stop) == -1) {
		log_crit("cannot install signal handlers");
		return 1;
	}
	if (relay_open(&r, &cfg) == -1) {
		relay_close(&r);
		return 1;
	}
	ship = logship_from_env("relay");
	wm = wmetrics_open(cfg.dsn, "relay");
	log_info("relay started: batch %d, poll %d ms (%d ms when idle), delivery timeout %d ms, kafka %s",
	    cfg.batch, poll_ms, idle_ms, cfg.delivery_ms, cfg.bootstrap);

	next_stats = util_mono_us() + stats_us;
	while (!relay_stop) {
		oc = relay_batch(&r);
		ms = relay_sleep_ms(oc, &backoff, poll_ms);
		if (oc == RELAY_DRAINED || oc == RELAY_BUSY)
			ms = relay_caught_up_ms(&idle_since, util_mono_us(), poll_ms, idle_ms);
		else
			idle_since = 0;
		if (util_mono_us() >= next_stats) {
			relay_log_stats(&r, "counters");
			next_stats = util_mono_us() + stats_us;
		}
		if (!relay_stop)
			relay_idle(&r, ms, &relay_stop);
		relay_publish(wm, &r, 0);
		logship_poll(ship);
	}
	relay_log_stats(&r, "stopping");
	relay_publish(wm, &r, 1);
	wmetrics_close(wm);
	relay_close(&r);
	logship_free(ship, 1000);
	return 0;
}
