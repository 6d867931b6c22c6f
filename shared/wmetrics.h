/*
 * wmetrics.h: the workers' counters, shown by the /metrics of the service
 * whose database the worker works on. Every few seconds a worker (relay,
 * notifier, log collector, task runner) writes its counters into the
 * worker_metrics table of that database (UNLOGGED: a crash loses a few
 * seconds of figures, never a transaction's flush); the service's /metrics
 * appends the rows renewed in the last WMETRICS_FRESH_S seconds. Workers on
 * any host thus show up where the services are scraped already, and no
 * worker listens on a socket.
 *
 * A metric is a name in [a-z][a-z0-9_]* under the prefix esm_worker_;
 * names ending in _total are counters, the rest gauges. Each row is
 * labelled with the worker's name (ESM_WORKER_NAME, else the program's)
 * and its instance (host:pid).
 */
#ifndef ESM_WMETRICS_H
#define ESM_WMETRICS_H

#include <stddef.h>
#include "util.h"

#define WMETRICS_FRESH_S 120
#define WMETRICS_RETRY_S 30	/* after a failed report, the next try */
#define WMETRICS_NAME_MAX 63

#define WMETRICS_STR_(x) #x
#define WMETRICS_STR(x) WMETRICS_STR_(x)
/* The service's query; rows: worker, instance, metric, value. */
#define WMETRICS_SELECT_SQL \
	"SELECT worker, instance, metric, value::text FROM worker_metrics " \
	"WHERE updated_at > now() - interval '" WMETRICS_STR(WMETRICS_FRESH_S) " seconds' " \
	"ORDER BY metric, worker, instance"

struct wmetric {
	const char *name;	/* without the esm_worker_ prefix */
	double value;		/* NAN: unknown now, not written */
};

typedef struct wmetrics wmetrics;

/* Opens the reporter of program (the default worker name) on dsn, with a
 * connection of its own; reports every ESM_WORKER_METRICS_S seconds (5).
 * NULL on ENOMEM (then nothing is reported). */
wmetrics *wmetrics_open(const char *dsn, const char *program);
/* Writes m[0..n) when the interval has passed since the last report, or at
 * once when force is set (at the end). A failure is logged once per
 * outage and the next try waits WMETRICS_RETRY_S (a database that does not
 * answer would cost the worker a connect timeout each time): figures are
 * not worth a worker's time. */
void wmetrics_report(wmetrics *w, const struct wmetric *m, size_t n, int force);
/* Accepts NULL. */
void wmetrics_close(wmetrics *w);

/* Appends the Prometheus text of nrows rows of WMETRICS_SELECT_SQL (row i
 * is col[4 * i .. 4 * i + 3]) to b: one HELP and one TYPE line per metric,
 * label values escaped; a row whose name or value is not what a reporter
 * writes is left out. The rows of one metric must be adjacent (the query
 * orders them by metric), or its family would be split, which Prometheus
 * refuses. 0, or -1 on ENOMEM. Pure. */
int wmetrics_render(buf_t *b, const char *const *col, size_t nrows) ESM_WUR;

#endif
