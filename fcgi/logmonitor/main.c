/*
 * main.c: the log monitor service (FastCGI, prefork under spawn-fcgi).
 */
#include "logmon.h"
#include "svc.h"

int
main(int argc, char **argv)
{
	static const struct svc_def def = {
		.name = "log-monitor",
		.short_name = "logmonitor",
		.routes = logmon_routes,
		.stmts = logmon_stmts,
		.nstmts = LM_COUNT_,
		.outbox_count_stmt = -1,
		.worker_metrics_stmt = LM_WORKER_METRICS,
		.private_key = 0,
		.init = NULL,
	};
	struct svc_def d = def;

	d.nroutes = logmon_nroutes;
	return svc_main(&d, argc, argv);
}
