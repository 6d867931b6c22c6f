/*
 * main.c: the task processing service (FastCGI, prefork under spawn-fcgi).
 */
#include "svc.h"
#include "tasks.h"

int
main(int argc, char **argv)
{
	static const char *const topics[] = { TASKS_TOPIC, NULL };
	static const struct svc_def def = {
		.name = "taskprocessing",
		.short_name = "tasks",
		.routes = tasks_routes,
		.stmts = tasks_stmts,
		.nstmts = TS_COUNT_,
		.outbox_count_stmt = TS_OUTBOX_COUNT,
		.worker_metrics_stmt = TS_WORKER_METRICS,
		.topics = topics,
		.private_key = 0,
		.init = NULL,
	};
	struct svc_def d = def;

	d.nroutes = tasks_nroutes;
	return svc_main(&d, argc, argv);
}
