/*
 * main.c: the notification service (FastCGI, prefork under spawn-fcgi).
 */
#include "notifs.h"
#include "svc.h"

int
main(int argc, char **argv)
{
	static const struct svc_def def = {
		.name = "notification",
		.short_name = "notifications",
		.routes = notifs_routes,
		.stmts = notifs_stmts,
		.nstmts = NF_COUNT_,
		.outbox_count_stmt = -1,
		.worker_metrics_stmt = NF_WORKER_METRICS,
		.private_key = 0,
		.init = NULL,
	};
	struct svc_def d = def;

	d.nroutes = notifs_nroutes;
	return svc_main(&d, argc, argv);
}
