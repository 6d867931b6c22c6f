/*
 * main.c: the task processing service (FastCGI, prefork under spawn-fcgi).
 *
 * Environment, besides svc_main's:
 *   ESM_RATE_TASK_CREATE    tasks one caller may create per window, N/SECONDS or off (60/60)
 *   ESM_TASKS_PENDING_MAX   pending tasks one user may have, 0 for no cap (1000)
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
		.init = tasks_init,
	};
	struct svc_def d = def;

	d.nroutes = tasks_nroutes;
	return svc_main(&d, argc, argv);
}
