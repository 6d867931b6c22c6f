/*
 * wmetrics.c: see wmetrics.h. The report is one transaction of one upsert
 * per metric on the reporter's own connection (a dozen round trips every
 * few seconds); the table is UNLOGGED, so it costs no WAL flush.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "db.h"
#include "log.h"
#include "wmetrics.h"

#define WMETRICS_TIMEOUT_MS 2000

enum { WS_UPSERT, WS_PURGE, WS_COUNT_ };

static const struct db_stmt wmetrics_sql[WS_COUNT_] = {
	[WS_UPSERT] = { "wmetrics_upsert",
	    "INSERT INTO worker_metrics (worker, instance, metric, value) "
	    "VALUES ($1, $2, $3, $4::double precision) ON CONFLICT (worker, instance, metric) "
	    "DO UPDATE SET value = EXCLUDED.value, updated_at = now()", 0 },
	/* Instances that stopped long ago (the worker's own earlier lives). */
	[WS_PURGE] = { "wmetrics_purge",
	    "DELETE FROM worker_metrics WHERE worker = $1 AND updated_at < now() - interval '1 day'", 0 },
};

struct wmetrics {
	db *d;
	char worker[64];
	char instance[128];
	int64_t every_us, next_us;	/* monotonic */
	int failing;
};

/* 1 when s is a metric name a reporter may write. */
static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WMETRICS_NAME_MAX || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return 0;
	return 1;
}

wmetrics *
wmetrics_open(const char *dsn, const char *program)
{
	wmetrics *w = calloc(1, sizeof(*w));
	char host[64];

	if (w == NULL)
		return NULL;
	if ((w->d = db_open(dsn, wmetrics_sql, WS_COUNT_, WMETRICS_TIMEOUT_MS)) == NULL) {
		free(w);
		return NULL;
	}
	snprintf(w->worker, sizeof(w->worker), "%s", cfg_str("ESM_WORKER_NAME", program));
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(w->instance, sizeof(w->instance), "%s:%ld", host, (long)getpid());
	w->every_us = cfg_int("ESM_WORKER_METRICS_S", 5, 1, 3600) * 1000000;
	w->next_us = 0;		/* the first report at the first call */
	return w;
}

void
wmetrics_report(wmetrics *w, const struct wmetric *m, size_t n, int force)
{
	const char *p[4] = { w ? w->worker : NULL, w ? w->instance : NULL, NULL, NULL };
	char val[32];
	int64_t now = util_mono_us();
	int rc = DB_OK, first;

	if (w == NULL || (!force && now < w->next_us))
		return;
	first = w->next_us == 0;
	w->next_us = now + w->every_us;
	if ((rc = db_begin(w->d)) != DB_OK)
		goto out;
	for (size_t i = 0; i < n && rc == DB_OK; i++) {
		if (!name_ok(m[i].name) || !isfinite(m[i].value))
			continue;
		snprintf(val, sizeof(val), "%.17g", m[i].value);
		p[2] = m[i].name;
		p[3] = val;
		rc = db_exec(w->d, WS_UPSERT, p, 4, NULL);
	}
	if (rc == DB_OK && first)
		rc = db_exec(w->d, WS_PURGE, p, 1, NULL);
	if (rc == DB_OK)
		rc = db_commit(w->d);
	else
		db_rollback(w->d);
out:
	if (rc != DB_OK && w->every_us < (int64_t)WMETRICS_RETRY_S * 1000000)
		w->next_us = now + (int64_t)WMETRICS_RETRY_S * 1000000;
	if (rc != DB_OK && !w->failing)
		log_warn("worker metrics not reported (%d); trying again in %lld s", rc,
		    (long long)((w->next_us - now) / 1000000));
	else if (rc == DB_OK && w->failing)
		log_info("worker metrics reported again");
	w->failing = rc != DB_OK;
}

void
wmetrics_close(wmetrics *w)
{
	if (w == NULL)
		return;
	db_close(w->d);
	free(w);
}

/* The HELP text of each metric a worker writes (the README's table, in
 * words); several workers share a name when it means the same thing to
 * each. A name not here gets a generic text, so a new counter is still
 * valid exposition until it is described. */
static const struct {
	const char *name, *help;
} helps[] = {
	{ "batches_total", "Outbox batches the relay published and marked sent." },
	{ "busy_slots", "Tasks the runner is working on now." },
	{ "consumer_lag", "Messages in the consumer's partitions not yet consumed." },
	{ "db_failures_total", "Database operations the worker had to retry." },
	{ "duplicates_total", "Messages skipped as already stored (same event id)." },
	{ "errors_stored_total", "ERROR and CRITICAL log records stored." },
	{ "expired_total", "Log records skipped as older than the retention." },
	{ "kafka_failures_total", "Outbox batches the relay retried because Kafka failed." },
	{ "mails_failed_total", "Notification mail deliveries that failed." },
	{ "mails_sent_total", "Notification mails the SMTP server accepted." },
	{ "messages_consumed_total", "Kafka messages consumed." },
	{ "messages_dead_lettered_total", "Messages sent to the dead-letter topic." },
	{ "messages_failed_total", "Messages that failed: relay, events Kafka refused; notifier, "
	    "stores retried; log collector, unparseable records." },
	{ "messages_published_total", "Outbox events the relay published to Kafka." },
	{ "notifications_written_total", "Notifications stored." },
	{ "records_stored_total", "Log records stored." },
	{ "slots", "Tasks the runner works on at once at most." },
	{ "tasks_claimed_total", "Tasks the runner claimed." },
	{ "tasks_completed_total", "Tasks the runner completed." },
	{ "tasks_dropped_total", "Tasks whose work the runner dropped: cancelled, taken over or "
	    "already ended." },
	{ "tasks_failed_total", "Tasks the runner marked failed." },
	{ "tasks_released_total", "Tasks the runner handed back when it stopped." },
	{ "tasks_taken_over_total", "Tasks claimed after another runner's lease ran out." },
};

/* The HELP text of metric name (one that name_ok accepts). */
static const char *
help_of(const char *name)
{
	for (size_t i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].name, name) == 0)
			return helps[i].help;
	return "A worker's figure, not described yet.";
}

/* Appends s as a Prometheus label value: \, " and newline escaped. */
static int
put_label(buf_t *b, const char *s)
{
	for (; *s; s++) {
		const char *e = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		if (e ? buf_puts(b, e) == -1 : buf_append(b, s, 1) == -1)
			return -1;
	}
	return 0;
}

int
wmetrics_render(buf_t *b, const char *const *col, size_t nrows)
{
	const char *last = NULL;
	char *end;
	size_t i, n;

	for (i = 0; i < nrows; i++) {
		const char *const *r = col + 4 * i;
		double v;

		if (r[0] == NULL || r[1] == NULL || r[2] == NULL || r[3] == NULL || !name_ok(r[2]))
			continue;
		v = strtod(r[3], &end);
		if (end == r[3] || *end != '\0' || !isfinite(v))
			continue;
		if (last == NULL || strcmp(last, r[2]) != 0) {
			n = strlen(r[2]);
			if (buf_printf(b, "# HELP esm_worker_%s %s\n# TYPE esm_worker_%s %s\n", r[2],
			    help_of(r[2]), r[2], n > 6 && strcmp(r[2] + n - 6, "_total") == 0 ? "counter" : "gauge") == -1)
				return -1;
			last = r[2];
		}
		if (buf_printf(b, "esm_worker_%s{worker=\"", r[2]) == -1 || put_label(b, r[0]) == -1 ||
		    buf_puts(b, "\",instance=\"") == -1 || put_label(b, r[1]) == -1 ||
		    buf_printf(b, "\"} %s\n", r[3]) == -1)
			return -1;
	}
	return 0;
}
