/*
 * main.c: the token service (FastCGI, prefork under spawn-fcgi).
 * "esm-auth --keygen DIR" creates the signing key pair.
 */
#include "auth.h"
#include "svc.h"

int
main(int argc, char **argv)
{
	struct svc_def d = {
		.name = "auth",
		.short_name = "auth",
		.routes = auth_routes,
		.stmts = auth_stmts,
		.nstmts = AS_COUNT_,
		.outbox_count_stmt = -1,
		.worker_metrics_stmt = -1,
		.private_key = 1,
		.init = auth_init,
		.revocations = auth_revocations_source,
	};

	d.nroutes = auth_nroutes;
	return svc_main(&d, argc, argv);
}
