/*
 * main.c: the user management service (FastCGI, prefork under spawn-fcgi).
 */
#include "svc.h"
#include "users.h"

int
main(int argc, char **argv)
{
	static const char *const topics[] = { USERS_TOPIC, NULL };
	static const struct svc_def def = {
		.name = "usermanagement",
		.short_name = "users",
		.routes = users_routes,
		.stmts = users_stmts,
		.nstmts = US_COUNT_,
		.outbox_count_stmt = US_OUTBOX_COUNT,
		.worker_metrics_stmt = US_WORKER_METRICS,
		.topics = topics,
		.private_key = 0,
		.init = users_init,
	};
	struct svc_def d = def;

	d.nroutes = users_nroutes;
	return svc_main(&d, argc, argv);
}
