/*
 * svc.h: the life of a FastCGI service process: configuration, database
 * with prepared statements, keys, metrics, the accept loop and clean
 * shutdown, plus the endpoints every service has (/health, /livez,
 * /readyz, /metrics). A service supplies its tables and handlers.
 */
#ifndef ESM_SVC_H
#define ESM_SVC_H

#include <stddef.h>
#include "db.h"
#include "http.h"
#include "revoke.h"
#include "route.h"
#include "token.h"

struct svc_def {
	const char *name;		/* health and log name: "usermanagement" */
	const char *short_name;		/* "users": /metrics/users, socket names */
	const struct route *routes;
	size_t nroutes;
	const struct db_stmt *stmts;
	size_t nstmts;
	int outbox_count_stmt;		/* index of "SELECT count(*) FROM outbox WHERE
					   sent_at IS NULL", or -1 */
	int worker_metrics_stmt;	/* index of WMETRICS_SELECT_SQL (the workers
					   on this database), or -1 */
	const char *const *topics;	/* the topics its outbox rows name (a relay
					   writes them), NULL-terminated, each in
					   topics.h's table; NULL: no outbox */
	int private_key;		/* needs ESM_JWT_PRIVATE_KEY_FILE */
	int (*init)(void);		/* after database and keys; -1 aborts start */
	/* Where the revoked sessions come from when the service has bearer
	 * routes; NULL: the token service's internal listener. */
	revoke_source revocations;
};

/* Runs the service; returns the process exit code. "--keygen DIR" creates
 * the token key pair in DIR and exits. */
int svc_main(const struct svc_def *def, int argc, char **argv);

/* The process's database handle and keys, valid while svc_main runs. */
db *svc_db(void);
const struct token_keys *svc_keys(void);
const struct svc_def *svc_def_get(void);

/* Replies for a failed database call rc (a db_status): 503 + Retry-After
 * when unavailable or timed out, 409 on conflict, else 500. */
int svc_db_error(struct http_req *r, int rc);

#endif
