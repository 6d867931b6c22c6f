/*
 * svc.c: see svc.h. Start-up may exit on bad configuration; once the accept
 * loop runs, every failure becomes a reply.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "client.h"
#include "kafka.h"
#include "log.h"
#include "logship.h"
#include "metrics.h"
#include "wmetrics.h"
#include "svc.h"
#include "topics.h"

#define SVC_KAFKA_CHECK_US 2000000	/* cache of the broker check, per process */
#define SVC_TOPICS_CHECK_S 30	/* ESM_TOPICS_CHECK_S: cache of the topic check */
#define SVC_TOPICS_TIMEOUT_MS 1000	/* all of one topic check's requests */
#define SVC_TOPICS_MAX 8	/* topics one service's /health covers */
#define SVC_COMMON_ROUTES 5
#define SVC_REVOKE_TIMEOUT_MS 500	/* one fetch of revoked sessions */

static volatile sig_atomic_t svc_stop;
static const struct svc_def *g_def;
static db *g_db;
static struct token_keys g_keys;
static int g_have_keys;
static kafka_producer *g_kafka;	/* the broker check's client */
static kafka_producer *g_kafka_own;	/* g_kafka when not the shipper's */
static logship *g_ship;		/* log lines to Kafka, NULL when off */
static struct route *g_routes;
static size_t g_nroutes;
static const char **g_methods, **g_patterns;
static char g_metrics_path[96];
static int64_t g_kafka_at;
static int g_kafka_ok;
/* The topic check: the topics it covers, the replication asked for (0:
 * the default), how often it runs, and its last verdict and text. */
static const struct topic_spec *g_topics[SVC_TOPICS_MAX];
static size_t g_ntopics;
static int g_want_rf, g_want_isr;
static int64_t g_topics_every_us, g_topics_at;
static char g_topics_verdict[16] = "ok";
static char g_topics_why[512];
static const char *g_internal_url;	/* the token service's revocations */

db *
svc_db(void)
{
	return g_db;
}

const struct token_keys *
svc_keys(void)
{
	return g_have_keys ? &g_keys : NULL;
}

const struct svc_def *
svc_def_get(void)
{
	return g_def;
}

int
svc_db_error(struct http_req *r, int rc)
{
	switch (rc) {
	case DB_UNAVAILABLE:
		metrics_add(MC_DB_ERRORS, 1);
		return http_error_ex(r, 503, "database unavailable, retry shortly", NULL, 2);
	case DB_TIMEOUT:
		metrics_add(MC_DB_ERRORS, 1);
		return http_error_ex(r, 503, "database busy, retry shortly", NULL, 2);
	case DB_CONFLICT:
		return http_error(r, 409, "conflicting change", NULL);
	default:
		metrics_add(MC_DB_ERRORS, 1);
		return http_error(r, 500, "internal error", NULL);
	}
}

/* The broker check, cached per process for SVC_KAFKA_CHECK_US: "ok",
 * "unavailable" (no broker answers) or "refused" (the cluster turns our
 * credentials or a topic write away; the reason goes to why). */
static const char *
kafka_check(char *why, size_t len)
{
	int64_t now = util_mono_us();

	*why = '\0';
	if (g_kafka == NULL)
		return "unavailable";
	if (g_kafka_at == 0 || now - g_kafka_at > SVC_KAFKA_CHECK_US) {
		g_kafka_ok = kafka_producer_ping(g_kafka, 500) == 0;
		g_kafka_at = util_mono_us();
	}
	if (kafka_producer_refusal(g_kafka, why, len))
		return "refused";
	return g_kafka_ok ? "ok" : "unavailable";
}

/* Adds the table's entry for name to the topics the topic check covers.
 * 0, or -1 (logged) when the table has no such topic: a service names only
 * declared topics. */
static int
topics_cover(const char *name)
{
	const struct topic_spec *t = topics_find(name);

	if (t == NULL || g_ntopics == SVC_TOPICS_MAX) {
		log_crit("topic %s: not in the table of topics (shared/topics.c) or one too many",
		    name);
		return -1;
	}
	g_topics[g_ntopics++] = t;
	return 0;
}

/* What the topic check covers: the topics the service's outbox names (a
 * relay writes them under its own principal, but they carry this
 * service's events and the relay has no /health) and the log topics when
 * this process ships its lines. Also reads the replication policy's
 * settings, as esm-topics does. 0 / -1 (logged). */
static int
topics_setup(const struct svc_def *def, int shipping)
{
	size_t i;

	g_want_rf = (int)cfg_int("ESM_KAFKA_REPLICATION", 0, 1, 32767);
	g_want_isr = (int)cfg_int("ESM_KAFKA_MIN_ISR", 0, 1, 32767);
	g_topics_every_us = cfg_int("ESM_TOPICS_CHECK_S", SVC_TOPICS_CHECK_S, 1, 3600) * 1000000;
	for (i = 0; def->topics != NULL && def->topics[i] != NULL; i++)
		if (topics_cover(def->topics[i]) == -1)
			return -1;
	if (shipping && (topics_cover(LOGSHIP_TOPIC) == -1 ||
	    topics_cover(LOGSHIP_TOPIC_ERRORS) == -1))
		return -1;
	return 0;
}

/* Describes the covered topics and judges them by their layout: "ok",
 * "missing" or "differs" with topics_layout_summary's text in why, or
 * "unknown" with the reason when the cluster did not answer in time or
 * would not describe a topic, or the policy's settings contradict. */
static const char *
topics_judge(char *why, size_t len)
{
	struct kafka_topic_state have[SVC_TOPICS_MAX];
	const char *names[SVC_TOPICS_MAX];
	struct topics_policy pol;
	char err[256];
	size_t i;
	int brokers;

	for (i = 0; i < g_ntopics; i++)
		names[i] = g_topics[i]->name;
	if (kafka_producer_describe(g_kafka, names, g_ntopics, have, &brokers,
	    SVC_TOPICS_TIMEOUT_MS, why, len) == -1)
		return "unknown";
	if (topics_policy_resolve(g_want_rf, g_want_isr, brokers, &pol, err, sizeof(err)) == -1) {
		snprintf(why, len, "ESM_KAFKA_REPLICATION, ESM_KAFKA_MIN_ISR: %s", err);
		return "unknown";
	}
	return topics_verdict_name(topics_layout_summary(g_topics, g_ntopics, &pol, have, why,
	    len));
}

/* The topic check, for /health: run at most every ESM_TOPICS_CHECK_S and
 * only while a broker answers (kafka_ok); while none does it is "unknown"
 * with no text (the kafka check says why). A new verdict or text is logged
 * once, by the process that finds it, not at every /health. */
static const char *
topics_check(int kafka_ok, char *why, size_t len)
{
	char fresh[sizeof(g_topics_why)];
	const char *v;

	*why = '\0';
	if (!kafka_ok || g_kafka == NULL)
		return "unknown";
	if (g_topics_at == 0 || util_mono_us() - g_topics_at >= g_topics_every_us) {
		v = topics_judge(fresh, sizeof(fresh));
		g_topics_at = util_mono_us();
		if (strcmp(v, "ok") == 0 && strcmp(g_topics_verdict, "ok") != 0)
			log_info("topic check: ok, the topics are as declared");
		else if (strcmp(v, "ok") != 0 && (strcmp(v, g_topics_verdict) != 0 ||
		    strcmp(fresh, g_topics_why) != 0))
			log_warn("topic check: %s: %s", v, fresh);
		snprintf(g_topics_verdict, sizeof(g_topics_verdict), "%s", v);
		snprintf(g_topics_why, sizeof(g_topics_why), "%s", fresh);
	}
	snprintf(why, len, "%s", g_topics_why);
	return g_topics_verdict;
}

/* The revoked sessions from the token service's internal listener. */
static int
revocations_http(int64_t since_us, int64_t *upto_us, int *more)
{
	char url[640];
	buf_t resp = { 0 };
	long status = 0;
	int rc = -1;

	snprintf(url, sizeof(url), "%s/internal/v1/auth/revocations?since=%lld", g_internal_url,
	    (long long)since_us);
	if (client_call("GET", url, NULL, NULL, SVC_REVOKE_TIMEOUT_MS, &status, &resp) == 0 &&
	    status == 200)
		rc = revoke_parse(resp.p, resp.len, upto_us, more);
	buf_free(&resp);
	return rc;
}

/* A service that checks bearer tokens keeps the list of revoked sessions
 * (revoke.h), refreshed every ESM_REVOCATION_REFRESH_MS. */
static void
revocations_setup(const struct svc_def *def)
{
	size_t i;

	for (i = 0; i < def->nroutes; i++)
		if (def->routes[i].auth == RA_BEARER)
			break;
	if (i == def->nroutes)
		return;
	g_internal_url = cfg_str("ESM_INTERNAL_URL",
	    cfg_str("ESM_USERS_INTERNAL_URL", "http://127.0.0.1:9090"));
	revoke_setup(def->revocations != NULL ? def->revocations : revocations_http,
	    (int)cfg_int("ESM_REVOCATION_REFRESH_MS", 1000, 100, 60000));
}

/* /health and /readyz: unhealthy (503) when the database or every broker is
 * away, the cluster refuses us, or a covered topic is missing (its writes
 * fail). A topic that differs still takes writes: said, but healthy. */
static int
health_reply(struct http_req *r)
{
	char why[512], twhy[sizeof(g_topics_why)];
	int dbok = db_ping(g_db) == DB_OK;
	const char *kst = kafka_check(why, sizeof(why));
	const char *tst = topics_check(strcmp(kst, "ok") == 0, twhy, sizeof(twhy));
	int ok = dbok && strcmp(kst, "ok") == 0 && strcmp(tst, "missing") != 0;
	cJSON *root = cJSON_CreateObject(), *checks;
	int rc;

	if (root == NULL ||
	    cJSON_AddStringToObject(root, "status", ok ? "healthy" : "unhealthy") == NULL ||
	    cJSON_AddStringToObject(root, "service", g_def->name) == NULL ||
	    (checks = cJSON_AddObjectToObject(root, "checks")) == NULL ||
	    cJSON_AddStringToObject(checks, "database", dbok ? "ok" : "unavailable") == NULL ||
	    cJSON_AddStringToObject(checks, "kafka", kst) == NULL ||
	    cJSON_AddStringToObject(checks, "topics", tst) == NULL ||
	    (*why != '\0' && cJSON_AddStringToObject(root, "kafkaError", why) == NULL) ||
	    (*twhy != '\0' && cJSON_AddStringToObject(root, "topicsError", twhy) == NULL)) {
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	if (!ok && http_header_add(r, "Retry-After", "5") == -1) {
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	rc = http_reply_json(r, ok ? 200 : 503, root);
	cJSON_Delete(root);
	return rc;
}

static int
h_livez(struct http_req *r)
{
	cJSON *root = cJSON_CreateObject();
	int rc;

	if (root == NULL || cJSON_AddStringToObject(root, "status", "alive") == NULL ||
	    cJSON_AddStringToObject(root, "service", g_def->name) == NULL) {
		cJSON_Delete(root);
		return 500;
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}

/* The counters of the workers on this service's database (wmetrics.h).
 * When the database does not answer they are left out; the rest of the
 * page still says what the process knows. 0, or -1 on ENOMEM. */
static int
svc_worker_metrics(buf_t *b)
{
	const char **col = NULL;
	db_res *res = NULL;
	int i, j, n, rc = 0;

	if (db_exec(g_db, (size_t)g_def->worker_metrics_stmt, NULL, 0, &res) != DB_OK)
		return 0;
	n = db_nrows(res);
	if (n > 0 && (col = calloc((size_t)n * 4, sizeof(*col))) == NULL)
		rc = -1;
	for (i = 0; rc == 0 && i < n; i++)
		for (j = 0; j < 4; j++)
			col[4 * i + j] = db_get(res, i, j);
	if (rc == 0 && n > 0)
		rc = wmetrics_render(b, col, (size_t)n);
	free(col);
	db_res_free(res);
	return rc;
}

static int
h_metrics(struct http_req *r)
{
	buf_t b = { 0 };
	int rc;

	if (metrics_render(&b, g_def->short_name, g_methods, g_patterns, g_nroutes) == -1)
		goto fail;
	if (g_def->outbox_count_stmt >= 0) {
		db_res *res = NULL;
		if (db_exec(g_db, (size_t)g_def->outbox_count_stmt, NULL, 0, &res) == DB_OK &&
		    buf_printf(&b, "# HELP esm_outbox_backlog Outbox events not yet published to Kafka.\n"
		    "# TYPE esm_outbox_backlog gauge\nesm_outbox_backlog{service=\"%s\"} %s\n",
		    g_def->short_name, db_get(res, 0, 0)) == -1) {
			db_res_free(res);
			goto fail;
		}
		db_res_free(res);
	}
	if (g_def->worker_metrics_stmt >= 0 && svc_worker_metrics(&b) == -1)
		goto fail;
	if (buf_printf(&b, "# HELP esm_db_connection_errors_total Failed statements on the database "
	    "connection of the process that answered this scrape.\n"
	    "# TYPE esm_db_connection_errors_total counter\n"
	    "esm_db_connection_errors_total{service=\"%s\",process=\"%ld\"} %llu\n",
	    g_def->short_name, (long)getpid(), (unsigned long long)db_error_count(g_db)) == -1)
		goto fail;
	rc = http_reply(r, 200, "text/plain; version=0.0.4", b.p, b.len);
	buf_free(&b);
	return rc;
fail:
	buf_free(&b);
	return http_error(r, 500, NULL, NULL);
}

static void
on_signal(int sig)
{
	(void)sig;
	svc_stop = 1;
	http_shutdown_pending();
}

static int
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: accept() must return */
	if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, NULL);
}

/* The service's routes followed by the common ones; arrays for /metrics. */
static int
build_routes(const struct svc_def *def)
{
	size_t i, n = def->nroutes + SVC_COMMON_ROUTES;

	snprintf(g_metrics_path, sizeof(g_metrics_path), "/metrics/%s", def->short_name);
	if ((g_routes = calloc(n, sizeof(*g_routes))) == NULL ||
	    (g_methods = calloc(n, sizeof(*g_methods))) == NULL ||
	    (g_patterns = calloc(n, sizeof(*g_patterns))) == NULL)
		return -1;
	memcpy(g_routes, def->routes, def->nroutes * sizeof(*g_routes));
	g_routes[def->nroutes + 0] = (struct route){ "GET", "/health", health_reply, RB_NONE, RA_NONE };
	g_routes[def->nroutes + 1] = (struct route){ "GET", "/readyz", health_reply, RB_NONE, RA_NONE };
	g_routes[def->nroutes + 2] = (struct route){ "GET", "/livez", h_livez, RB_NONE, RA_NONE };
	g_routes[def->nroutes + 3] = (struct route){ "GET", "/metrics", h_metrics, RB_NONE, RA_INTERNAL };
	g_routes[def->nroutes + 4] = (struct route){ "GET", g_metrics_path, h_metrics, RB_NONE, RA_INTERNAL };
	g_nroutes = n;
	for (i = 0; i < n; i++) {
		g_methods[i] = g_routes[i].method;
		g_patterns[i] = g_routes[i].pattern;
	}
	return 0;
}

int
svc_main(const struct svc_def *def, int argc, char **argv)
{
	struct http_req r;
	struct dispatch d = { 0 };
	char *isecret = NULL;	/* d.internal_secret's storage */
	const char *pk, *sk, *bootstrap;
	char err[256];
	int code = 1;

	g_def = def;
	log_init(def->name);
	if (argc == 3 && strcmp(argv[1], "--keygen") == 0) {
		if (token_keygen(argv[2]) == -1) {
			log_crit("cannot create the key pair in %s", argv[2]);
			return 1;
		}
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--keygen DIR]\n", argv[0]);
		return 2;
	}
	if (install_signals() == -1 || build_routes(def) == -1)
		return 1;
	pk = cfg_str("ESM_JWT_PUBLIC_KEY_FILE", NULL);
	sk = def->private_key ? cfg_str("ESM_JWT_PRIVATE_KEY_FILE", NULL) : NULL;
	if (pk == NULL || (def->private_key && sk == NULL) ||
	    token_keys_load(&g_keys, pk, sk) == -1) {
		log_crit("cannot load the token keys (ESM_JWT_PUBLIC_KEY_FILE%s)",
		    def->private_key ? ", ESM_JWT_PRIVATE_KEY_FILE" : "");
		return 1;
	}
	/* Public keys of earlier signing keys, kept while their tokens live. */
	if (token_keys_load_previous(&g_keys, cfg_str("ESM_JWT_PREVIOUS_KEY_FILES", NULL)) == -1) {
		log_crit("cannot load ESM_JWT_PREVIOUS_KEY_FILES: %s (public key files, "
		    "comma-separated, at most %d)", strerror(errno), TOKEN_PREVIOUS_MAX);
		return 1;
	}
	g_have_keys = 1;
	g_db = db_open(cfg_str("ESM_DB_DSN", ""), def->stmts, def->nstmts,
	    (int)cfg_int("ESM_DB_STATEMENT_TIMEOUT_MS", 5000, 0, 600000));
	if (g_db == NULL)
		return 1;
	/* Pool members share counters through ESM_METRICS_DIR/<service>.metrics. */
	if (cfg_str("ESM_METRICS_DIR", NULL) != NULL) {
		char mpath[512];
		snprintf(mpath, sizeof(mpath), "%s/%s.metrics", cfg_str("ESM_METRICS_DIR", "."),
		    def->short_name);
		if (metrics_open(mpath) == -1)
			log_warn("metrics are counted per process");
	}
	/* One producer per process: its threads and buffers cost more memory
	 * than anything else here, and a metadata request for /health can go
	 * through the log shipper's as well as through one of its own. */
	g_ship = logship_from_env(def->name);
	if ((g_kafka = logship_producer(g_ship)) == NULL &&
	    (bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL)) != NULL &&
	    (g_kafka = g_kafka_own = kafka_producer_new(bootstrap, 0, 5000, NULL, NULL, NULL,
	    err, sizeof(err))) == NULL)
		log_error("kafka producer: %s", err);
	if (topics_setup(def, g_ship != NULL) == -1)
		goto out;
	if (def->init != NULL && def->init() == -1)
		goto out;
	revocations_setup(def);
	if (http_init() == -1 || http_req_open(&r, 0) == -1) {
		log_crit("cannot start FastCGI on fd 0 (run under spawn-fcgi)");
		goto out;
	}
	d.routes = g_routes;
	d.nroutes = g_nroutes;
	d.body_max = (size_t)cfg_int("ESM_BODY_MAX", HTTP_BODY_MAX_DEFAULT, 1024, 16 * 1024 * 1024);
	d.keys = &g_keys;
	d.trusted_proxies = cfg_str("ESM_TRUSTED_PROXIES", NULL);
	d.internal_port = cfg_str("ESM_INTERNAL_PORT", NULL);
	d.internal_secret = isecret = cfg_secret("ESM_INTERNAL_SECRET");
	d.cors_origins = cfg_str("ESM_CORS_ORIGINS", NULL);
	if (d.cors_origins != NULL && *d.cors_origins == '\0')
		d.cors_origins = NULL;
	log_info("%s ready", def->name);
	while (!svc_stop && http_accept(&r) == 0) {
		route_dispatch(&d, &r);
		metrics_observe(r.route ? (int)(r.route - g_routes) : -1, r.status,
		    util_mono_us() - r.started_us);
		log_set_request_id(NULL);
		http_finish(&r);
		/* After the reply: delivery reports and client events, no waiting. */
		logship_poll(g_ship);
		kafka_poll(g_kafka_own, 0);
		revoke_tick();
	}
	log_info("%s stopping", def->name);
	http_req_close(&r);
	code = 0;
out:
	client_cleanup();
	g_kafka = NULL;
	logship_free(g_ship, 1000);
	kafka_producer_free(g_kafka_own, 1000);
	db_close(g_db);
	free(g_routes);
	free(g_methods);
	free(g_patterns);
	free(isecret);
	revoke_reset();
	return code;
}
