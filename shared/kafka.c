/*
 * kafka.c: the producer and consumer of kafka.h on librdkafka, plus the
 * handle on librdkafka's mock cluster that the embedded development broker
 * runs on. This is the only file that includes rdkafka.h.
 *
 * librdkafka reports trouble in two ways: error_cb (mostly transient: a
 * broker down, all brokers down) and log_cb. Both fire again and again while
 * a broker is away, so each handle lets one line per error code (or log
 * facility) through every KAFKA_RL_US and counts the rest. Logs of the
 * producer and consumer go through the handle's main queue (log.queue), so
 * they are written from the thread that polls, never from librdkafka's
 * internal threads (which matters once a log sink ships lines to Kafka).
 *
 * Every client takes its security settings (TLS, SASL) from the
 * environment here, so no caller can forget them.
 *
 * The admin client sends each request with its own result queue, so an
 * answer that comes after its caller gave up is dropped with that queue and
 * never read as the answer to a later request.
 *
 * Left out: transactions, statistics, custom partitioners.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "cfg.h"
#include "kafka.h"
#include "log.h"

#define KAFKA_RL_SLOTS 16
#define KAFKA_RL_US (10 * 1000 * 1000)	/* one line per key per 10 s */
#define KAFKA_LINGER_MS "5"
/* Metadata of the client's topics is refreshed every 3 s instead of
 * librdkafka's 5 minutes (one small request per interval): a topic the
 * producer may not write stays refused until the next refresh, so a granted
 * ACL takes effect soon; and a leader that hangs without closing its
 * connections (a frozen broker) is left for the one the controller elected
 * after fencing it (broker.session.timeout.ms, 9 s by default) within one
 * interval, by producers and consumers alike. */
#define KAFKA_METADATA_MS "3000"
/* A broker that comes back is found within 2 s instead of librdkafka's
 * 10 s, so /health and log shipping recover as soon as it does; a down
 * broker costs one connect attempt per 2 s. */
#define KAFKA_RECONNECT_MS "2000"
/* A refusal is news for this long: librdkafka retries a refused
 * connection at least every reconnect.backoff.max.ms (10 s). */
#define KAFKA_REFUSAL_US (30 * 1000 * 1000)
/* session.timeout.ms is KAFKA_SESSION_TIMEOUT_MS (kafka.h), Kafka's default
 * before 3.0: a member joining a steady group waits up to this long on the
 * mock cluster, and a dead member's partitions move after it. */
#define KAFKA_STR_(x) #x
#define KAFKA_STR(x) KAFKA_STR_(x)
/* An admin answer is waited for this much longer than the request's own
 * timeout, after which librdkafka answers with a timeout itself. */
#define KAFKA_ADMIN_SLACK_MS 1000
#define KAFKA_ADMIN_SLICE_MS 100	/* logs and errors are served this often */
#define KAFKA_ADMIN_TEXT_CAP 160	/* bytes of a broker's error text kept */

/* Rate limiter of repeated librdkafka complaints, one per handle. */
struct kafka_rl_slot {
	uint32_t key;
	int64_t last_us;
	unsigned suppressed;
	int used;
};

struct kafka_common {
	rd_kafka_t *rk;
	pthread_mutex_t mu;	/* mock logs arrive on librdkafka's threads */
	struct kafka_rl_slot rl[KAFKA_RL_SLOTS];
	/* The last refusal by the cluster (authentication, authorization),
	 * under mu, for kafka_refusal; cleared by a later success. */
	char refusal[512];
	int64_t refusal_us;
};

struct kafka_producer {
	struct kafka_common c;	/* first: rd_kafka_opaque points here */
	kafka_dr_fn dr;
	void *ctx;
};

struct kafka_consumer {
	struct kafka_common c;
};

struct kafka_msg {
	rd_kafka_message_t *rm;
};

struct kafka_mock {
	struct kafka_common c;
	rd_kafka_mock_cluster_t *mc;
};

struct kafka_admin {
	struct kafka_common c;
};

/* 1 when a line with this key may be written now; *suppressed receives how
 * many were held back since the last one. */
static int
kafka_rl_allow(struct kafka_common *c, uint32_t key, unsigned *suppressed)
{
	int64_t now = util_mono_us();
	struct kafka_rl_slot *s, *oldest = &c->rl[0];
	int i, ok = 0;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < KAFKA_RL_SLOTS; i++) {
		s = &c->rl[i];
		if (s->used && s->key == key)
			break;
		if (!s->used || s->last_us < oldest->last_us)
			oldest = s;
	}
	if (i == KAFKA_RL_SLOTS) {
		/* New key: take a free slot or the one quiet for longest. */
		s = oldest;
		s->used = 1;
		s->key = key;
		s->last_us = now - KAFKA_RL_US;
		s->suppressed = 0;
	}
	if (now - s->last_us >= KAFKA_RL_US) {
		*suppressed = s->suppressed;
		s->suppressed = 0;
		s->last_us = now;
		ok = 1;
	} else {
		s->suppressed++;
	}
	pthread_mutex_unlock(&c->mu);
	return ok;
}

static uint32_t
kafka_hash(const char *s, uint32_t h)
{
	/* FNV-1a: only spreads facility names over the limiter's slots. */
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* 1 for the errors that mean the cluster refuses who we are or what we
 * ask (wrong credentials, missing ACLs), which retrying does not mend. */
static int
kafka_is_refusal(int err)
{
	switch (err) {
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
	case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
	case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
		return 1;
	default:
		return 0;
	}
}

/* librdkafka before 2.6.1 sends a SCRAM client-final message whose nonce
 * Kafka 4.x rejects (RFC 5802's strict comparison, librdkafka PR #4895):
 * to such a broker every password looks wrong. A SCRAM refusal says so. */
#define KAFKA_SCRAM_FIXED 0x020601ff
#define KAFKA_SCRAM_HINT " (if the brokers run Kafka 4.x: this librdkafka is older than 2.6.1 and " \
	"cannot authenticate with SCRAM to them; use Kafka 3.9 or librdkafka 2.6.1 or newer)"

static int
kafka_scram_suspect(const char *reason)
{
	return rd_kafka_version() < KAFKA_SCRAM_FIXED && strstr(reason, "SCRAM") != NULL;
}

/* Records a refusal, or with reason NULL forgets it (a success since). */
static void
kafka_refused(struct kafka_common *c, const char *reason)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->refusal, sizeof(c->refusal), "%s%s", reason != NULL ? reason : "",
	    reason != NULL && kafka_scram_suspect(reason) ? KAFKA_SCRAM_HINT : "");
	c->refusal_us = reason != NULL ? util_mono_us() : 0;
	pthread_mutex_unlock(&c->mu);
}

/* 1 and the reason when the cluster refused this handle within the last
 * KAFKA_REFUSAL_US and nothing has succeeded since. */
static int
kafka_refusal_get(struct kafka_common *c, char *buf, size_t len)
{
	int r;

	pthread_mutex_lock(&c->mu);
	r = c->refusal_us != 0 && util_mono_us() - c->refusal_us < KAFKA_REFUSAL_US;
	if (r && buf != NULL && len > 0)
		snprintf(buf, len, "%s", c->refusal);
	pthread_mutex_unlock(&c->mu);
	return r;
}

static void
kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct kafka_common *c = opaque;
	char fatal[256];
	unsigned sup = 0;

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		/* Always logged: the handle is unusable from now on. */
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		log_error("kafka %s: fatal error: %s", rd_kafka_name(rk), fatal);
		return;
	}
	if (kafka_is_refusal(err)) {
		kafka_refused(c, reason);
		if (kafka_rl_allow(c, (uint32_t)err, &sup))
			log_error("kafka %s: the cluster refuses this client: %s%s (%u similar suppressed)",
			    rd_kafka_name(rk), reason, kafka_scram_suspect(reason) ? KAFKA_SCRAM_HINT : "", sup);
		return;
	}
	if (!kafka_rl_allow(c, (uint32_t)err, &sup))
		return;
	log_warn("kafka %s: %s: %s (%u similar suppressed)", rd_kafka_name(rk),
	    rd_kafka_err2name((rd_kafka_resp_err_t)err), reason, sup);
}

static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	struct kafka_common *c = rd_kafka_opaque(rk);
	unsigned sup = 0;

	if (c == NULL)
		return;
	/* A refused login reaches error_cb once, then only the log. */
	if (level <= 3 && strstr(buf, "SASL authentication error") != NULL)
		kafka_refused(c, buf);
	if (!kafka_rl_allow(c, kafka_hash(fac, 0x80000000u + (uint32_t)level), &sup))
		return;
	/* syslog levels: 0-3 are errors, but the same event usually reaches
	 * error_cb too, which is where the error-level line comes from. */
	if (level <= 4)
		log_warn("kafka %s [%s]: %s (%u similar suppressed)", rd_kafka_name(rk), fac, buf, sup);
	else if (level <= 6)
		log_info("kafka %s [%s]: %s", rd_kafka_name(rk), fac, buf);
	else
		log_debug("kafka %s [%s]: %s", rd_kafka_name(rk), fac, buf);
}

static void
kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *rm, void *opaque)
{
	struct kafka_producer *p = opaque;
	char why[160];

	if (kafka_is_refusal(rm->err)) {
		snprintf(why, sizeof(why), "%s: %s", rd_kafka_topic_name(rm->rkt),
		    rd_kafka_err2str(rm->err));
		kafka_refused(&p->c, why);
	} else if (rm->err == RD_KAFKA_RESP_ERR_NO_ERROR && p->c.refusal_us != 0) {
		kafka_refused(&p->c, NULL);
	}
	/* Not rd_kafka_message_errstr: on a delivery report the payload is the
	 * message itself, not an error text. */
	if (p->dr != NULL)
		p->dr(rm->_private, rm->err, rm->err ? rd_kafka_err2str(rm->err) : "", p->ctx);
}

/* Sets name=value; on failure fills err. 0 / -1. */
static int
kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *err,
    size_t errlen)
{
	if (rd_kafka_conf_set(conf, name, value, err, errlen) != RD_KAFKA_CONF_OK)
		return -1;
	return 0;
}

/* Sets the caller's NULL-terminated key/value list. 0 / -1. */
static int
kafka_set_extra(rd_kafka_conf_t *conf, const char *const *extra, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; extra != NULL && extra[i] != NULL; i += 2) {
		if (extra[i + 1] == NULL) {
			snprintf(err, errlen, "property %s has no value", extra[i]);
			return -1;
		}
		if (kafka_set(conf, extra[i], extra[i + 1], err, errlen) == -1)
			return -1;
	}
	return 0;
}

/*
 * Security settings of every client, from the environment (README,
 * "Kafka"): the protocol, the SASL mechanism, user and password (or its
 * 0600 file), and the CA that signed the brokers' certificates. Read at each
 * handle's creation, so a program started with a fixed password file picks
 * it up on its next start; nothing here is logged but names.
 */
static const char *const kafka_protocols[] = { "plaintext", "ssl", "sasl_plaintext", "sasl_ssl" };
static const char *const kafka_mechanisms[] = { "SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN" };

static int
kafka_one_of(const char *v, const char *const *set, size_t n, int nocase)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((nocase ? strcasecmp(v, set[i]) : strcmp(v, set[i])) == 0)
			return 1;
	return 0;
}

static int
kafka_set_security(rd_kafka_conf_t *conf, char *err, size_t errlen)
{
	const char *proto = cfg_str("ESM_KAFKA_SECURITY_PROTOCOL", "plaintext");
	const char *mech = cfg_str("ESM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512");
	const char *user = cfg_str("ESM_KAFKA_SASL_USERNAME", NULL);
	const char *ca = cfg_str("ESM_KAFKA_SSL_CA_FILE", NULL);
	char *pw = NULL;
	int rc = -1, sasl;

	if (!kafka_one_of(proto, kafka_protocols, ESM_NELEM(kafka_protocols), 1)) {
		snprintf(err, errlen, "ESM_KAFKA_SECURITY_PROTOCOL must be plaintext, ssl, sasl_plaintext or sasl_ssl");
		goto out;
	}
	sasl = strncasecmp(proto, "sasl_", 5) == 0;
	if (kafka_set(conf, "security.protocol", proto, err, errlen) == -1)
		goto out;
	if (sasl) {
		if (!kafka_one_of(mech, kafka_mechanisms, ESM_NELEM(kafka_mechanisms), 0)) {
			snprintf(err, errlen, "ESM_KAFKA_SASL_MECHANISM must be SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN");
			goto out;
		}
		if (user == NULL || (pw = cfg_secret("ESM_KAFKA_SASL_PASSWORD")) == NULL) {
			snprintf(err, errlen, "%s needs ESM_KAFKA_SASL_USERNAME and "
			    "ESM_KAFKA_SASL_PASSWORD_FILE (or ESM_KAFKA_SASL_PASSWORD)", proto);
			goto out;
		}
		if (kafka_set(conf, "sasl.mechanism", mech, err, errlen) == -1 ||
		    kafka_set(conf, "sasl.username", user, err, errlen) == -1 ||
		    kafka_set(conf, "sasl.password", pw, err, errlen) == -1)
			goto out;
	}
	if (ca != NULL && kafka_set(conf, "ssl.ca.location", ca, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	if (pw != NULL) {
		explicit_bzero(pw, strlen(pw));
		free(pw);
	}
	return rc;
}

/* Zeroed handle of size bytes that starts with a kafka_common. */
static void *
kafka_alloc(size_t size)
{
	struct kafka_common *c = calloc(1, size);

	if (c != NULL)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

/* Destroys the librdkafka handle (if any) and frees the whole handle. */
static void
kafka_release(struct kafka_common *c)
{
	if (c->rk != NULL)
		rd_kafka_destroy(c->rk);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Which librdkafka this process runs on, said once: the library is found
 * at run time (ESM_LIBRDKAFKA=bundled puts a newer one with the same
 * soname first), so the headers we were built with do not tell. */
static pthread_once_t kafka_version_once = PTHREAD_ONCE_INIT;

static void
kafka_log_version(void)
{
	log_info("kafka: librdkafka %s (built with the headers of %d.%d.%d)", rd_kafka_version_str(),
	    (RD_KAFKA_VERSION >> 24) & 0xff, (RD_KAFKA_VERSION >> 16) & 0xff,
	    (RD_KAFKA_VERSION >> 8) & 0xff);
}

static void
kafka_common_init(struct kafka_common *c, rd_kafka_conf_t *conf)
{
	pthread_once(&kafka_version_once, kafka_log_version);
	rd_kafka_conf_set_opaque(conf, c);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
}

/* Serve logs from the thread that polls the handle (see the file header). */
static void
kafka_log_to_main_queue(rd_kafka_t *rk)
{
	if (rd_kafka_set_log_queue(rk, NULL) != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("kafka %s: logs stay on librdkafka's threads", rd_kafka_name(rk));
}

kafka_producer *
kafka_producer_new(const char *bootstrap, int idempotent, int delivery_timeout_ms,
    const char *const *extra, kafka_dr_fn dr, void *ctx, char *err, size_t errlen)
{
	kafka_producer *p = NULL, *ret = NULL;
	rd_kafka_conf_t *conf = NULL;
	char tmo[24];

	if (bootstrap == NULL || *bootstrap == '\0' || delivery_timeout_ms <= 0) {
		snprintf(err, errlen, "bootstrap servers and a positive delivery timeout are required");
		goto out;
	}
	if ((p = kafka_alloc(sizeof(*p))) == NULL || (conf = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(tmo, sizeof(tmo), "%d", delivery_timeout_ms);
	/* Java's partitioner, so keys land where other clients put them.
	 * Topics are declared (topics.h), never created by naming them: a
	 * producer's metadata requests would ask a broker that allows it to
	 * make a missing topic with its own defaults. */
	if (kafka_set(conf, "bootstrap.servers", bootstrap, err, errlen) == -1 ||
	    kafka_set(conf, "allow.auto.create.topics", "false", err, errlen) == -1 ||
	    kafka_set(conf, "message.timeout.ms", tmo, err, errlen) == -1 ||
	    kafka_set(conf, "linger.ms", KAFKA_LINGER_MS, err, errlen) == -1 ||
	    kafka_set(conf, "partitioner", "murmur2_random", err, errlen) == -1 ||
	    kafka_set(conf, "topic.metadata.refresh.interval.ms", KAFKA_METADATA_MS, err, errlen) == -1 ||
	    kafka_set(conf, "reconnect.backoff.max.ms", KAFKA_RECONNECT_MS, err, errlen) == -1 ||
	    kafka_set(conf, "log.queue", "true", err, errlen) == -1 ||
	    kafka_set_security(conf, err, errlen) == -1)
		goto out;
	if (idempotent &&
	    (kafka_set(conf, "enable.idempotence", "true", err, errlen) == -1 ||
	     kafka_set(conf, "acks", "all", err, errlen) == -1))
		goto out;
	if (kafka_set_extra(conf, extra, err, errlen) == -1)
		goto out;
	p->dr = dr;
	p->ctx = ctx;
	kafka_common_init(&p->c, conf);
	rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
	/* rd_kafka_new owns conf from here on, whatever it returns. */
	p->c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	conf = NULL;
	if (p->c.rk == NULL)
		goto out;
	kafka_log_to_main_queue(p->c.rk);
	ret = p;
	p = NULL;
out:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	if (p != NULL)
		kafka_release(&p->c);
	return ret;
}

int
kafka_produce(kafka_producer *p, const char *topic, const char *key, const void *val,
    size_t len, const struct kafka_header *h, size_t nh, void *opaque)
{
	rd_kafka_headers_t *hdrs = NULL;
	rd_kafka_resp_err_t e;
	void *kp, *vp;
	size_t i, klen;

	if (p == NULL || topic == NULL || (val == NULL && len > 0) || (h == NULL && nh > 0)) {
		errno = EINVAL;
		return -1;
	}
	if (nh > 0) {
		if ((hdrs = rd_kafka_headers_new(nh)) == NULL) {
			errno = ENOMEM;
			return -1;
		}
		for (i = 0; i < nh; i++)
			if (rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, -1) != 0) {
				rd_kafka_headers_destroy(hdrs);
				errno = EINVAL;
				return -1;
			}
	}
	/* librdkafka's macros cast to void * and take no parenthesised length;
	 * with F_COPY nothing is written through these pointers. */
	kp = (void *)(uintptr_t)key;
	vp = (void *)(uintptr_t)val;
	klen = key != NULL ? strlen(key) : 0;
	e = rd_kafka_producev(p->c.rk, RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(kp, klen),
	    RD_KAFKA_V_VALUE(vp, len),
	    RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		/* On failure the headers stay ours. */
		if (hdrs != NULL)
			rd_kafka_headers_destroy(hdrs);
		if (kafka_is_refusal(e)) {
			char why[160];
			unsigned sup = 0;

			snprintf(why, sizeof(why), "%s: %s", topic, rd_kafka_err2str(e));
			kafka_refused(&p->c, why);
			if (kafka_rl_allow(&p->c, (uint32_t)e, &sup))
				log_error("kafka %s: the cluster refuses this client: %s (%u similar suppressed)",
				    rd_kafka_name(p->c.rk), why, sup);
			errno = EACCES;
			return -1;
		}
		errno = e == RD_KAFKA_RESP_ERR__QUEUE_FULL ? ENOBUFS : EIO;
		return -1;
	}
	return 0;
}

void
kafka_poll(kafka_producer *p, int timeout_ms)
{
	if (p != NULL)
		rd_kafka_poll(p->c.rk, timeout_ms);
}

int
kafka_flush(kafka_producer *p, int timeout_ms)
{
	if (p == NULL)
		return 0;
	return rd_kafka_flush(p->c.rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int
kafka_outq_len(kafka_producer *p)
{
	return p != NULL ? rd_kafka_outq_len(p->c.rk) : 0;
}

int
kafka_producer_fatal(kafka_producer *p, char *err, size_t errlen)
{
	if (p == NULL)
		return 0;
	return rd_kafka_fatal_error(p->c.rk, err, errlen) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

int
kafka_producer_ping(kafka_producer *p, int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;

	if (p == NULL)
		return -1;
	/* Locally known topics only: cheap, yet needs a live broker. */
	if (rd_kafka_metadata(p->c.rk, 0, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	rd_kafka_metadata_destroy(md);
	/* An answer means we were let in; a topic refusal stays until a
	 * delivery succeeds. */
	if (kafka_refusal_get(&p->c, NULL, 0) && strstr(p->c.refusal, "uthenticat") != NULL)
		kafka_refused(&p->c, NULL);
	return 0;
}

/* Fills s from the metadata of topic name: whether it exists, its
 * partitions and the replicas of the partition that has fewest (absent: s
 * stays zero). -1 with err when the cluster would not describe it. Shared by
 * the producer's and the admin client's descriptions. */
static int
kafka_topic_md(const struct rd_kafka_metadata *md, const char *name,
    struct kafka_topic_state *s, char *err, size_t errlen)
{
	const rd_kafka_metadata_topic_t *t;
	int i, j;

	for (i = 0; i < md->topic_cnt && strcmp(md->topics[i].topic, name) != 0; i++)
		continue;
	if (i == md->topic_cnt)
		return 0;
	t = &md->topics[i];
	if (kafka_is_refusal(t->err)) {
		snprintf(err, errlen, "topic %s: %s", name, rd_kafka_err2str(t->err));
		return -1;
	}
	/* A topic without a leader yet still has its partitions listed. */
	if (t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || t->partition_cnt == 0)
		return 0;
	s->exists = 1;
	s->partitions = t->partition_cnt;
	s->replication = t->partitions[0].replica_cnt;
	for (j = 1; j < t->partition_cnt; j++)
		if (t->partitions[j].replica_cnt < s->replication)
			s->replication = t->partitions[j].replica_cnt;
	return 0;
}

int
kafka_producer_describe(kafka_producer *p, const char *const *names, size_t n,
    struct kafka_topic_state *out, int *brokers, int timeout_ms, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = NULL;
	rd_kafka_resp_err_t e;
	int64_t end = util_mono_us() + (int64_t)timeout_ms * 1000;
	int64_t left;
	size_t i;
	int rc = -1;

	if (p == NULL || (n > 0 && (names == NULL || out == NULL)) || brokers == NULL ||
	    timeout_ms <= 0) {
		snprintf(err, errlen, "bad arguments");
		return -1;
	}
	if (n > 0)
		memset(out, 0, n * sizeof(*out));
	*brokers = 0;
	/* One request per topic, naming only it: the answer is about our
	 * topics, never the whole cluster's, and asks for no creation (see
	 * kafka_producer_new). The handle makes the topic known to the
	 * producer, which then refreshes it with the others it knows. */
	for (i = 0; i < n; i++) {
		if ((left = (end - util_mono_us()) / 1000) <= 0) {
			snprintf(err, errlen, "metadata: no answer within %d ms", timeout_ms);
			goto out;
		}
		if ((rkt = rd_kafka_topic_new(p->c.rk, names[i], NULL)) == NULL) {
			snprintf(err, errlen, "topic %s: %s", names[i],
			    rd_kafka_err2str(rd_kafka_last_error()));
			goto out;
		}
		if ((e = rd_kafka_metadata(p->c.rk, 0, rkt, &md, (int)left)) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			md = NULL;
			snprintf(err, errlen, "metadata of topic %s: no answer within %d ms (%s)",
			    names[i], timeout_ms, rd_kafka_err2str(e));
			goto out;
		}
		*brokers = md->broker_cnt;
		if (kafka_topic_md(md, names[i], &out[i], err, errlen) == -1)
			goto out;
		rd_kafka_metadata_destroy(md);
		md = NULL;
		rd_kafka_topic_destroy(rkt);
		rkt = NULL;
	}
	rc = 0;
out:
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	if (rkt != NULL)
		rd_kafka_topic_destroy(rkt);
	return rc;
}

int
kafka_producer_refusal(kafka_producer *p, char *buf, size_t len)
{
	return p != NULL && kafka_refusal_get(&p->c, buf, len);
}

void
kafka_producer_free(kafka_producer *p, int timeout_ms)
{
	int left;

	if (p == NULL)
		return;
	if (rd_kafka_flush(p->c.rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    (left = rd_kafka_outq_len(p->c.rk)) > 0)
		log_warn("kafka %s: %d messages not delivered at shutdown",
		    rd_kafka_name(p->c.rk), left);
	kafka_release(&p->c);
}

kafka_consumer *
kafka_consumer_new(const char *bootstrap, const char *group, const char *const *topics,
    size_t n, const char *const *extra, char *err, size_t errlen)
{
	kafka_consumer *c = NULL, *ret = NULL;
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *sub = NULL;
	rd_kafka_resp_err_t e;
	size_t i;

	if (bootstrap == NULL || *bootstrap == '\0' || group == NULL || *group == '\0' ||
	    topics == NULL || n == 0) {
		snprintf(err, errlen, "bootstrap servers, group and topics are required");
		goto out;
	}
	if ((c = kafka_alloc(sizeof(*c))) == NULL || (conf = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Offsets are stored by the application after its own commit and the
	 * stored ones are committed in the background. Not cooperative-sticky:
	 * librdkafka 2.0.2 aborts destroying such a consumer that never had an
	 * assignment (librdkafka issue #4312, fixed in 2.3.0). */
	if (kafka_set(conf, "bootstrap.servers", bootstrap, err, errlen) == -1 ||
	    kafka_set(conf, "group.id", group, err, errlen) == -1 ||
	    kafka_set(conf, "enable.auto.offset.store", "false", err, errlen) == -1 ||
	    kafka_set(conf, "enable.auto.commit", "true", err, errlen) == -1 ||
	    kafka_set(conf, "auto.offset.reset", "earliest", err, errlen) == -1 ||
	    kafka_set(conf, "partition.assignment.strategy", "range", err, errlen) == -1 ||
	    kafka_set(conf, "session.timeout.ms", KAFKA_STR(KAFKA_SESSION_TIMEOUT_MS), err, errlen) == -1 ||
	    kafka_set(conf, "topic.metadata.refresh.interval.ms", KAFKA_METADATA_MS, err, errlen) == -1 ||
	    kafka_set(conf, "reconnect.backoff.max.ms", KAFKA_RECONNECT_MS, err, errlen) == -1 ||
	    kafka_set(conf, "log.queue", "true", err, errlen) == -1 ||
	    kafka_set_security(conf, err, errlen) == -1 ||
	    kafka_set_extra(conf, extra, err, errlen) == -1)
		goto out;
	kafka_common_init(&c->c, conf);
	c->c.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, errlen);
	conf = NULL;
	if (c->c.rk == NULL)
		goto out;
	/* Errors and logs then arrive through kafka_consumer_poll. */
	rd_kafka_poll_set_consumer(c->c.rk);
	kafka_log_to_main_queue(c->c.rk);
	if ((sub = rd_kafka_topic_partition_list_new((int)n)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(sub, topics[i], RD_KAFKA_PARTITION_UA);
	if ((e = rd_kafka_subscribe(c->c.rk, sub)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "subscribe: %s", rd_kafka_err2str(e));
		goto out;
	}
	ret = c;
	c = NULL;
out:
	if (sub != NULL)
		rd_kafka_topic_partition_list_destroy(sub);
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	if (c != NULL)
		kafka_release(&c->c);
	return ret;
}

kafka_msg *
kafka_consumer_poll(kafka_consumer *c, int timeout_ms)
{
	rd_kafka_message_t *rm;
	kafka_msg *m;
	unsigned sup = 0;

	if (c == NULL || (rm = rd_kafka_consumer_poll(c->c.rk, timeout_ms)) == NULL)
		return NULL;
	if (rm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		if (kafka_is_refusal(rm->err)) {
			kafka_refused(&c->c, rd_kafka_message_errstr(rm));
			if (kafka_rl_allow(&c->c, (uint32_t)rm->err, &sup))
				log_error("kafka %s: the cluster refuses this consumer: %s (%u similar suppressed)",
				    rd_kafka_name(c->c.rk), rd_kafka_message_errstr(rm), sup);
		} else if (rm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF &&
		    kafka_rl_allow(&c->c, (uint32_t)rm->err, &sup))
			log_warn("kafka %s: consume %s [%" PRId32 "]: %s (%u similar suppressed)",
			    rd_kafka_name(c->c.rk), rm->rkt ? rd_kafka_topic_name(rm->rkt) : "-",
			    rm->partition, rd_kafka_message_errstr(rm), sup);
		rd_kafka_message_destroy(rm);
		return NULL;
	}
	if ((m = malloc(sizeof(*m))) == NULL) {
		/* Not stored, so it comes back after a restart or rebalance. */
		log_error("kafka %s: out of memory for a message", rd_kafka_name(c->c.rk));
		rd_kafka_message_destroy(rm);
		return NULL;
	}
	m->rm = rm;
	if (c->c.refusal_us != 0)
		kafka_refused(&c->c, NULL);
	return m;
}

int
kafka_consumer_refusal(kafka_consumer *c, char *buf, size_t len)
{
	return c != NULL && kafka_refusal_get(&c->c, buf, len);
}

int
kafka_store_offset(kafka_consumer *c, const kafka_msg *m)
{
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_resp_err_t e;

	if (c == NULL || m == NULL || m->rm->rkt == NULL)
		return -1;
	if ((l = rd_kafka_topic_partition_list_new(1)) == NULL)
		return -1;
	rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rm->rkt),
	    m->rm->partition)->offset = m->rm->offset + 1;
	e = rd_kafka_offsets_store(c->c.rk, l);
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
		e = l->elems[0].err;
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
		/* Typically the partition was revoked meanwhile: its next owner
		 * gets the message again and the consumer's dedupe absorbs it. */
		log_warn("kafka %s: store offset %s [%" PRId32 "] @%" PRId64 ": %s",
		    rd_kafka_name(c->c.rk), rd_kafka_topic_name(m->rm->rkt),
		    m->rm->partition, m->rm->offset, rd_kafka_err2str(e));
	rd_kafka_topic_partition_list_destroy(l);
	return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

int
kafka_commit(kafka_consumer *c)
{
	rd_kafka_resp_err_t e;

	if (c == NULL)
		return -1;
	e = rd_kafka_commit(c->c.rk, NULL, 0);
	/* Nothing stored since the last commit is not a failure. */
	if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET)
		return 0;
	log_warn("kafka %s: commit: %s", rd_kafka_name(c->c.rk), rd_kafka_err2str(e));
	return -1;
}

int64_t
kafka_consumer_lag(kafka_consumer *c)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int64_t lag = 0, lo, hi;
	int i, known = 0;

	if (c == NULL || rd_kafka_assignment(c->c.rk, &l) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	if (l->cnt == 0) {
		rd_kafka_topic_partition_list_destroy(l);
		return 0;
	}
	/* Local state only: the fetch position and the high watermark that
	 * the last fetch response brought. No broker round trip. */
	if (rd_kafka_position(c->c.rk, l) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		rd_kafka_topic_partition_list_destroy(l);
		return -1;
	}
	for (i = 0; i < l->cnt; i++) {
		if (rd_kafka_get_watermark_offsets(c->c.rk, l->elems[i].topic,
		    l->elems[i].partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    hi < 0)
			continue;
		/* A partition without a fetch position is left out: whether a
		 * committed offset waits for it, or the whole log, is not known
		 * locally (librdkafka also drops the position while it
		 * validates a new leader's epoch, and counting the whole log
		 * then reported thousands of messages behind at lag 0). */
		if (l->elems[i].offset < 0)
			continue;
		lag += hi > l->elems[i].offset ? hi - l->elems[i].offset : 0;
		known++;
	}
	rd_kafka_topic_partition_list_destroy(l);
	return known > 0 ? lag : -1;
}

void
kafka_consumer_free(kafka_consumer *c)
{
	rd_kafka_resp_err_t e;

	if (c == NULL)
		return;
	if (kafka_commit(c) == -1) {
		/* Logged; the replayed messages are absorbed by dedupe. */
	}
	if ((e = rd_kafka_consumer_close(c->c.rk)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		log_warn("kafka %s: close: %s", rd_kafka_name(c->c.rk), rd_kafka_err2str(e));
	kafka_release(&c->c);
}

const char *
kafka_msg_topic(const kafka_msg *m)
{
	return m->rm->rkt != NULL ? rd_kafka_topic_name(m->rm->rkt) : "";
}

int32_t
kafka_msg_partition(const kafka_msg *m)
{
	return m->rm->partition;
}

int64_t
kafka_msg_offset(const kafka_msg *m)
{
	return m->rm->offset;
}

const void *
kafka_msg_key(const kafka_msg *m, size_t *len)
{
	if (len != NULL)
		*len = m->rm->key_len;
	return m->rm->key;
}

const void *
kafka_msg_payload(const kafka_msg *m, size_t *len)
{
	if (len != NULL)
		*len = m->rm->len;
	return m->rm->payload;
}

const char *
kafka_msg_header(const kafka_msg *m, const char *name, size_t *len)
{
	rd_kafka_headers_t *hdrs;
	const void *v;
	size_t n;

	if (rd_kafka_message_headers(m->rm, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    rd_kafka_header_get(hdrs, 0, name, &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return NULL;
	if (len != NULL)
		*len = n;
	/* librdkafka keeps a NUL after every header value; a null value reads "". */
	return v != NULL ? v : "";
}

void
kafka_msg_free(kafka_msg *m)
{
	if (m == NULL)
		return;
	rd_kafka_message_destroy(m->rm);
	free(m);
}

/*
 * Admin client. librdkafka's producer handle serves as its base, as in
 * librdkafka's own admin examples; no message is ever produced on it.
 */
kafka_admin *
kafka_admin_new(const char *bootstrap, char *err, size_t errlen)
{
	kafka_admin *a = NULL, *ret = NULL;
	rd_kafka_conf_t *conf = NULL;

	if (bootstrap == NULL || *bootstrap == '\0') {
		snprintf(err, errlen, "bootstrap servers are required");
		goto out;
	}
	if ((a = kafka_alloc(sizeof(*a))) == NULL || (conf = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Topics are declared, never created by asking for them: a producer's
	 * metadata requests would allow that by default. */
	if (kafka_set(conf, "bootstrap.servers", bootstrap, err, errlen) == -1 ||
	    kafka_set(conf, "allow.auto.create.topics", "false", err, errlen) == -1 ||
	    kafka_set(conf, "log.queue", "true", err, errlen) == -1 ||
	    kafka_set_security(conf, err, errlen) == -1)
		goto out;
	kafka_common_init(&a->c, conf);
	a->c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	conf = NULL;
	if (a->c.rk == NULL)
		goto out;
	kafka_log_to_main_queue(a->c.rk);
	ret = a;
	a = NULL;
out:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	kafka_admin_free(a);
	return ret;
}

void
kafka_admin_free(kafka_admin *a)
{
	if (a != NULL)
		kafka_release(&a->c);
}

/* err = "what: why", with the cluster's refusal when it refused this
 * client meanwhile (which explains most timeouts on a secured cluster). */
static void
kafka_admin_err(kafka_admin *a, const char *what, const char *why, char *err, size_t errlen)
{
	char refusal[200];

	rd_kafka_poll(a->c.rk, 0);	/* error_cb records refusals */
	if (kafka_refusal_get(&a->c, refusal, sizeof(refusal)))
		snprintf(err, errlen, "%s: %s (the cluster refuses this client: %s)", what, why,
		    refusal);
	else
		snprintf(err, errlen, "%s: %s", what, why);
}

/* Options for one request of kind op, bounded by timeout_ms (also the time
 * the controller may take to carry out a CreateTopics), and the queue its
 * answer comes on. Both are the caller's to destroy, also on failure.
 * 0 / -1. */
static int
kafka_admin_begin(kafka_admin *a, rd_kafka_admin_op_t op, int timeout_ms,
    rd_kafka_AdminOptions_t **opt, rd_kafka_queue_t **q, char *err, size_t errlen)
{
	if ((*q = rd_kafka_queue_new(a->c.rk)) == NULL ||
	    (*opt = rd_kafka_AdminOptions_new(a->c.rk, op)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (rd_kafka_AdminOptions_set_request_timeout(*opt, timeout_ms, err, errlen) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	if (op == RD_KAFKA_ADMIN_OP_CREATETOPICS &&
	    rd_kafka_AdminOptions_set_operation_timeout(*opt, timeout_ms, err, errlen) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	return 0;
}

/* The answer of type type on q: the event (the caller destroys it), or
 * NULL with err filled when none came in time or the request as a whole
 * failed. Serves the handle's logs and errors while it waits. */
static rd_kafka_event_t *
kafka_admin_wait(kafka_admin *a, rd_kafka_queue_t *q, rd_kafka_event_type_t type,
    int timeout_ms, const char *what, char *err, size_t errlen)
{
	int64_t end = util_mono_us() + ((int64_t)timeout_ms + KAFKA_ADMIN_SLACK_MS) * 1000;
	rd_kafka_event_t *ev;

	for (;;) {
		ev = rd_kafka_queue_poll(q, KAFKA_ADMIN_SLICE_MS);
		rd_kafka_poll(a->c.rk, 0);
		if (ev != NULL && rd_kafka_event_type(ev) == type)
			break;
		if (ev != NULL)
			rd_kafka_event_destroy(ev);
		if (util_mono_us() >= end) {
			kafka_admin_err(a, what, "no answer from the cluster in time", err, errlen);
			return NULL;
		}
	}
	if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		kafka_admin_err(a, what, rd_kafka_event_error_string(ev), err, errlen);
		rd_kafka_event_destroy(ev);
		return NULL;
	}
	return ev;
}

/* Takes min.insync.replicas and retention.ms of one described topic into
 * s. 0 / -1 (err) when either is missing or not a number. */
static int
kafka_admin_topic_configs(const rd_kafka_ConfigResource_t *r, struct kafka_topic_state *s,
    char *err, size_t errlen)
{
	const rd_kafka_ConfigEntry_t **ce;
	const char *name, *v;
	int64_t isr = 0, ret = 0;
	int have_isr = 0, have_ret = 0;
	size_t i, n;

	ce = rd_kafka_ConfigResource_configs(r, &n);
	for (i = 0; i < n; i++) {
		name = rd_kafka_ConfigEntry_name(ce[i]);
		if ((v = rd_kafka_ConfigEntry_value(ce[i])) == NULL)
			continue;
		if (strcmp(name, "min.insync.replicas") == 0)
			have_isr = util_parse_i64(v, 1, INT32_MAX, &isr) == 0;
		else if (strcmp(name, "retention.ms") == 0)
			have_ret = util_parse_i64(v, -1, INT64_MAX, &ret) == 0;
	}
	if (!have_isr || !have_ret) {
		snprintf(err, errlen, "topic %s: its configuration has no valid %s",
		    rd_kafka_ConfigResource_name(r), have_isr ? "retention.ms" : "min.insync.replicas");
		return -1;
	}
	s->min_isr = (int)isr;
	s->retention_ms = ret;
	return 0;
}

/* One DescribeConfigs answer: a topic that exists must come with its
 * configuration; one that does not must be unknown to the cluster, not
 * hidden from us. 0 / -1. */
static int
kafka_admin_configs_of(const rd_kafka_ConfigResource_t *r, struct kafka_topic_state *s,
    char *err, size_t errlen)
{
	rd_kafka_resp_err_t e = rd_kafka_ConfigResource_error(r);
	const char *es = rd_kafka_ConfigResource_error_string(r);

	if (s->exists && e == RD_KAFKA_RESP_ERR_NO_ERROR)
		return kafka_admin_topic_configs(r, s, err, errlen);
	/* A configuration without partitions in the metadata: a topic being
	 * created (a broker's metadata follows the controller's a moment
	 * later) or deleted. Not usable yet, so absent. */
	if (!s->exists && (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	    e == RD_KAFKA_RESP_ERR_NO_ERROR))
		return 0;
	snprintf(err, errlen, "topic %s: %s", rd_kafka_ConfigResource_name(r),
	    es != NULL && *es != '\0' ? es : rd_kafka_err2str(e));
	return -1;
}

/* Describes the configuration of names[0..n) into out, whose exists flags
 * the metadata set. 0 / -1. */
static int
kafka_admin_configs(kafka_admin *a, const char *const *names, size_t n,
    struct kafka_topic_state *out, int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_ConfigResource_t **res = NULL;
	rd_kafka_AdminOptions_t *opt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_ConfigResource_t **got;
	unsigned char *seen = NULL;
	size_t i, j, ngot;
	int rc = -1;

	if ((res = calloc(n, sizeof(*res))) == NULL || (seen = calloc(n, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, names[i])) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	if (kafka_admin_begin(a, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeout_ms, &opt, &q,
	    err, errlen) == -1)
		goto out;
	rd_kafka_DescribeConfigs(a->c.rk, res, n, opt, q);
	if ((ev = kafka_admin_wait(a, q, RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout_ms,
	    "describe topic configurations", err, errlen)) == NULL)
		goto out;
	got = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev),
	    &ngot);
	for (j = 0; j < ngot; j++) {
		for (i = 0; i < n && (seen[i] ||
		    strcmp(names[i], rd_kafka_ConfigResource_name(got[j])) != 0); i++)
			continue;
		if (i == n)
			continue;	/* not asked for */
		seen[i] = 1;
		if (kafka_admin_configs_of(got[j], &out[i], err, errlen) == -1)
			goto out;
	}
	for (i = 0; i < n; i++)
		if (!seen[i]) {
			snprintf(err, errlen, "topic %s: no configuration in the answer", names[i]);
			goto out;
		}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (opt != NULL)
		rd_kafka_AdminOptions_destroy(opt);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (res != NULL) {
		rd_kafka_ConfigResource_destroy_array(res, n);
		free(res);
	}
	free(seen);
	return rc;
}

int
kafka_admin_describe(kafka_admin *a, const char *const *names, size_t n,
    struct kafka_topic_state *out, int *brokers, int timeout_ms, char *err, size_t errlen)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t e;
	char why[200];
	size_t i;
	int rc = -1;

	if (a == NULL || (names == NULL && n > 0) || (out == NULL && n > 0) || brokers == NULL ||
	    timeout_ms <= 0) {
		snprintf(err, errlen, "bad arguments");
		return -1;
	}
	if (n > 0)
		memset(out, 0, n * sizeof(*out));
	/* All topics: a request that names topics could create them. */
	if ((e = rd_kafka_metadata(a->c.rk, 1, NULL, &md, timeout_ms)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		md = NULL;
		snprintf(why, sizeof(why), "no answer within %d ms (%s)", timeout_ms,
		    rd_kafka_err2str(e));
		kafka_admin_err(a, "metadata", why, err, errlen);
		goto out;
	}
	*brokers = md->broker_cnt;
	for (i = 0; i < n; i++)
		if (kafka_topic_md(md, names[i], &out[i], err, errlen) == -1)
			goto out;
	if (n > 0 && kafka_admin_configs(a, names, n, out, timeout_ms, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	return rc;
}

int
kafka_admin_create(kafka_admin *a, const struct kafka_topic_new *t, int timeout_ms,
    char *err, size_t errlen)
{
	rd_kafka_NewTopic_t *nt = NULL;
	rd_kafka_AdminOptions_t *opt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_topic_result_t **res;
	rd_kafka_resp_err_t e;
	const char *es;
	char isr[24], ret[24], what[300];
	size_t n;
	int rc = -1, saved = EINVAL;

	if (a == NULL || t == NULL || t->name == NULL || timeout_ms <= 0) {
		snprintf(err, errlen, "bad arguments");
		goto out;
	}
	snprintf(isr, sizeof(isr), "%d", t->min_isr);
	snprintf(ret, sizeof(ret), "%" PRId64, t->retention_ms);
	snprintf(what, sizeof(what), "create topic %s", t->name);
	if ((nt = rd_kafka_NewTopic_new(t->name, t->partitions, t->replication, err,
	    errlen)) == NULL)
		goto out;
	/* A replica that fell behind never becomes leader: acknowledged
	 * messages are not traded for availability. */
	if (rd_kafka_NewTopic_set_config(nt, "min.insync.replicas", isr) != 0 ||
	    rd_kafka_NewTopic_set_config(nt, "retention.ms", ret) != 0 ||
	    rd_kafka_NewTopic_set_config(nt, "unclean.leader.election.enable", "false") != 0) {
		snprintf(err, errlen, "%s: cannot set its configuration", what);
		goto out;
	}
	saved = EIO;
	if (kafka_admin_begin(a, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout_ms, &opt, &q, err,
	    errlen) == -1)
		goto out;
	rd_kafka_CreateTopics(a->c.rk, &nt, 1, opt, q);
	if ((ev = kafka_admin_wait(a, q, RD_KAFKA_EVENT_CREATETOPICS_RESULT, timeout_ms, what,
	    err, errlen)) == NULL)
		goto out;
	res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
	if (n != 1) {
		snprintf(err, errlen, "%s: %zu results instead of one", what, n);
		goto out;
	}
	if ((e = rd_kafka_topic_result_error(res[0])) == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
		saved = EEXIST;
		snprintf(err, errlen, "%s: it exists already", what);
		goto out;
	}
	if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
		es = rd_kafka_topic_result_error_string(res[0]);
		kafka_admin_err(a, what, es != NULL && *es != '\0' ? es : rd_kafka_err2str(e),
		    err, errlen);
		goto out;
	}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (opt != NULL)
		rd_kafka_AdminOptions_destroy(opt);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (nt != NULL)
		rd_kafka_NewTopic_destroy(nt);
	if (rc == -1)
		errno = saved;
	return rc;
}

/* kafka.h's ACL vocabulary in librdkafka's terms, indexed by our enums.
 * Kafka's CLUSTER resource type has the code librdkafka 2.0 calls BROKER (4). */
static const rd_kafka_AclOperation_t kafka_acl_ops[] = {
	[KAFKA_ACL_ALL] = RD_KAFKA_ACL_OPERATION_ALL,
	[KAFKA_ACL_READ] = RD_KAFKA_ACL_OPERATION_READ,
	[KAFKA_ACL_WRITE] = RD_KAFKA_ACL_OPERATION_WRITE,
	[KAFKA_ACL_CREATE] = RD_KAFKA_ACL_OPERATION_CREATE,
	[KAFKA_ACL_DELETE] = RD_KAFKA_ACL_OPERATION_DELETE,
	[KAFKA_ACL_ALTER] = RD_KAFKA_ACL_OPERATION_ALTER,
	[KAFKA_ACL_DESCRIBE] = RD_KAFKA_ACL_OPERATION_DESCRIBE,
	[KAFKA_ACL_CLUSTER_ACTION] = RD_KAFKA_ACL_OPERATION_CLUSTER_ACTION,
	[KAFKA_ACL_DESCRIBE_CONFIGS] = RD_KAFKA_ACL_OPERATION_DESCRIBE_CONFIGS,
	[KAFKA_ACL_ALTER_CONFIGS] = RD_KAFKA_ACL_OPERATION_ALTER_CONFIGS,
	[KAFKA_ACL_IDEMPOTENT_WRITE] = RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE,
};
static const rd_kafka_ResourceType_t kafka_acl_res[] = {
	[KAFKA_RES_TOPIC] = RD_KAFKA_RESOURCE_TOPIC,
	[KAFKA_RES_GROUP] = RD_KAFKA_RESOURCE_GROUP,
	[KAFKA_RES_CLUSTER] = RD_KAFKA_RESOURCE_BROKER,
};
static const rd_kafka_ResourcePatternType_t kafka_acl_pat[] = {
	[KAFKA_PAT_LITERAL] = RD_KAFKA_RESOURCE_PATTERN_LITERAL,
	[KAFKA_PAT_PREFIXED] = RD_KAFKA_RESOURCE_PATTERN_PREFIXED,
};

/* librdkafka's allow binding for acl, NULL with err on bad input. */
static rd_kafka_AclBinding_t *
kafka_acl_binding(const struct kafka_acl *acl, char *err, size_t errlen)
{
	if ((size_t)acl->op >= ESM_NELEM(kafka_acl_ops) ||
	    (size_t)acl->res >= ESM_NELEM(kafka_acl_res) ||
	    (size_t)acl->pat >= ESM_NELEM(kafka_acl_pat) ||
	    acl->principal == NULL || acl->name == NULL) {
		snprintf(err, errlen, "an ACL with an unknown operation, resource or pattern type");
		return NULL;
	}
	return rd_kafka_AclBinding_new(kafka_acl_res[acl->res], acl->name,
	    kafka_acl_pat[acl->pat], acl->principal, "*", kafka_acl_ops[acl->op],
	    RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, err, errlen);
}

/* "User:x WRITE TOPIC LITERAL name", in Kafka's words, for messages. */
static void
kafka_acl_words(const struct kafka_acl *acl, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %s %s %s", acl->principal,
	    rd_kafka_AclOperation_name(kafka_acl_ops[acl->op]),
	    rd_kafka_ResourceType_name(kafka_acl_res[acl->res]),
	    rd_kafka_ResourcePatternType_name(kafka_acl_pat[acl->pat]), acl->name);
}

int
kafka_admin_create_acls(kafka_admin *a, const struct kafka_acl *acls, size_t n,
    int timeout_ms, char *err, size_t errlen)
{
	rd_kafka_AclBinding_t **b = NULL;
	rd_kafka_AdminOptions_t *opt = NULL;
	rd_kafka_queue_t *q = NULL;
	rd_kafka_event_t *ev = NULL;
	const rd_kafka_acl_result_t **res;
	const rd_kafka_error_t *e;
	const char *text;
	char words[512], why[1024];
	size_t i, nres, tlen, failed = 0, first = 0;
	int rc = -1;

	if (a == NULL || (acls == NULL && n > 0) || timeout_ms <= 0) {
		snprintf(err, errlen, "bad arguments");
		return -1;
	}
	if (n == 0)
		return 0;
	if ((b = calloc(n, sizeof(*b))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((b[i] = kafka_acl_binding(&acls[i], err, errlen)) == NULL)
			goto out;
	if (kafka_admin_begin(a, RD_KAFKA_ADMIN_OP_CREATEACLS, timeout_ms, &opt, &q, err,
	    errlen) == -1)
		goto out;
	rd_kafka_CreateAcls(a->c.rk, b, n, opt, q);
	if ((ev = kafka_admin_wait(a, q, RD_KAFKA_EVENT_CREATEACLS_RESULT, timeout_ms,
	    "create ACLs", err, errlen)) == NULL)
		goto out;
	/* One result per binding, in the order they were sent. */
	res = rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &nres);
	for (i = 0; i < nres && i < n; i++)
		if (rd_kafka_acl_result_error(res[i]) != NULL && failed++ == 0)
			first = i;
	if (failed > 0) {
		kafka_acl_words(&acls[first], words, sizeof(words));
		e = rd_kafka_acl_result_error(res[first]);
		text = rd_kafka_error_string(e);
		/* Kafka 4 quotes the whole request before saying what it lacks:
		 * the end is what tells. */
		if ((tlen = strlen(text)) > KAFKA_ADMIN_TEXT_CAP)
			text += tlen - KAFKA_ADMIN_TEXT_CAP;
		snprintf(why, sizeof(why), "%zu of %zu failed, the first (%s): %s: %s%s", failed, n,
		    words, rd_kafka_err2str(rd_kafka_error_code(e)),
		    tlen > KAFKA_ADMIN_TEXT_CAP ? "..." : "", text);
		kafka_admin_err(a, "create ACLs", why, err, errlen);
		goto out;
	}
	if (nres != n) {
		snprintf(err, errlen, "create ACLs: %zu results for %zu ACLs", nres, n);
		goto out;
	}
	rc = 0;
out:
	if (ev != NULL)
		rd_kafka_event_destroy(ev);
	if (opt != NULL)
		rd_kafka_AdminOptions_destroy(opt);
	if (q != NULL)
		rd_kafka_queue_destroy(q);
	if (b != NULL) {
		for (i = 0; i < n; i++)
			if (b[i] != NULL)
				rd_kafka_AclBinding_destroy(b[i]);
		free(b);
	}
	return rc;
}

kafka_mock *
kafka_mock_new(int brokers, char *err, size_t errlen)
{
	kafka_mock *k = NULL, *ret = NULL;
	rd_kafka_conf_t *conf = NULL;

	if (brokers < 1) {
		snprintf(err, errlen, "at least one broker is needed");
		goto out;
	}
	if ((k = kafka_alloc(sizeof(*k))) == NULL || (conf = rd_kafka_conf_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* Logs of the mock threads come straight from them (nobody polls this
	 * handle), hence the limiter's mutex. Warnings and worse only: the
	 * handle itself has no bootstrap servers, and says so at notice level. */
	kafka_common_init(&k->c, conf);
	if (kafka_set(conf, "log_level", "4", err, errlen) == -1)
		goto out;
	k->c.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, errlen);
	conf = NULL;
	if (k->c.rk == NULL)
		goto out;
	if ((k->mc = rd_kafka_mock_cluster_new(k->c.rk, brokers)) == NULL) {
		snprintf(err, errlen, "cannot create the mock cluster");
		goto out;
	}
	ret = k;
	k = NULL;
out:
	if (conf != NULL)
		rd_kafka_conf_destroy(conf);
	kafka_mock_free(k);
	return ret;
}

const char *
kafka_mock_bootstraps(const kafka_mock *k)
{
	return rd_kafka_mock_cluster_bootstraps(k->mc);
}

int
kafka_mock_topic_create(kafka_mock *k, const char *topic, int partitions, char *err,
    size_t errlen)
{
	rd_kafka_resp_err_t e;

	if ((e = rd_kafka_mock_topic_create(k->mc, topic, partitions, 1)) !=
	    RD_KAFKA_RESP_ERR_NO_ERROR) {
		snprintf(err, errlen, "%s", rd_kafka_err2str(e));
		return -1;
	}
	return 0;
}

void
kafka_mock_topic_hide(kafka_mock *k, const char *topic, int hidden)
{
	rd_kafka_mock_topic_set_error(k->mc, topic, hidden ?
	    RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART : RD_KAFKA_RESP_ERR_NO_ERROR);
}

int
kafka_mock_set_up(kafka_mock *k, int up)
{
	rd_kafka_resp_err_t e;

	/* -1: every broker of the cluster. */
	e = up ? rd_kafka_mock_broker_set_up(k->mc, -1) : rd_kafka_mock_broker_set_down(k->mc, -1);
	return e == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : -1;
}

void
kafka_mock_free(kafka_mock *k)
{
	if (k == NULL)
		return;
	if (k->mc != NULL)
		rd_kafka_mock_cluster_destroy(k->mc);
	kafka_release(&k->c);
}
