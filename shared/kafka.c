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
/* A refusal is news for this long: librdkafka retries a refused
 * connection at least every reconnect.backoff.max.ms (10 s). */
#define KAFKA_REFUSAL_US (30 * 1000 * 1000)
/* Kafka's default before 3.0. A member joining a steady group waits up to
 * this long on the mock cluster, and a dead member's partitions move after it. */
#define KAFKA_SESSION_MS "10000"

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
	char refusal[200];
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

/* Records a refusal, or with reason NULL forgets it (a success since). */
static void
kafka_refused(struct kafka_common *c, const char *reason)
{
	pthread_mutex_lock(&c->mu);
	snprintf(c->refusal, sizeof(c->refusal), "%s", reason != NULL ? reason : "");
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
			log_error("kafka %s: the cluster refuses this client: %s (%u similar suppressed)",
			    rd_kafka_name(rk), reason, sup);
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

	if (c == NULL || !kafka_rl_allow(c, kafka_hash(fac, 0x80000000u + (uint32_t)level), &sup))
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

static void
kafka_common_init(struct kafka_common *c, rd_kafka_conf_t *conf)
{
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
	/* Java's partitioner, so keys land where other clients put them. */
	if (kafka_set(conf, "bootstrap.servers", bootstrap, err, errlen) == -1 ||
	    kafka_set(conf, "message.timeout.ms", tmo, err, errlen) == -1 ||
	    kafka_set(conf, "linger.ms", KAFKA_LINGER_MS, err, errlen) == -1 ||
	    kafka_set(conf, "partitioner", "murmur2_random", err, errlen) == -1 ||
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
	    kafka_set(conf, "session.timeout.ms", KAFKA_SESSION_MS, err, errlen) == -1 ||
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
		if (l->elems[i].offset >= 0)
			lag += hi > l->elems[i].offset ? hi - l->elems[i].offset : 0;
		else if (lo >= 0)
			lag += hi - lo;	/* not fetched yet: everything is ahead */
		else
			continue;
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
