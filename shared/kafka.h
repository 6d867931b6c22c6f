/*
 * kafka.h: the project's Kafka clients on librdkafka: a producer (idempotent
 * with acks=all when asked), and a consumer group member with manual offset
 * store. Only kafka.c includes rdkafka.h. Every client reads its security
 * settings from the environment: ESM_KAFKA_SECURITY_PROTOCOL (plaintext,
 * ssl, sasl_plaintext, sasl_ssl), ESM_KAFKA_SASL_MECHANISM (SCRAM-SHA-512),
 * ESM_KAFKA_SASL_USERNAME, ESM_KAFKA_SASL_PASSWORD_FILE, ESM_KAFKA_SSL_CA_FILE. Bootstrap servers always come
 * from the caller (configuration); the clients know nothing about the
 * embedded broker. That broker (worker/broker) runs on librdkafka's mock
 * cluster, which is wrapped at the end of this file for that one program.
 */
#ifndef ESM_KAFKA_H
#define ESM_KAFKA_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

typedef struct kafka_producer kafka_producer;
typedef struct kafka_consumer kafka_consumer;
typedef struct kafka_msg kafka_msg;

struct kafka_header {
	const char *name;
	const char *value;
};

/* Delivery report: opaque as given to kafka_produce; err 0 on success, else
 * a librdkafka error code with errstr. Runs inside kafka_poll/kafka_flush. */
typedef void (*kafka_dr_fn)(void *opaque, int err, const char *errstr, void *ctx);

/* New producer for bootstrap ("host:port,..."). idempotent=1 also sets
 * acks=all. delivery_timeout_ms bounds how long a message may wait for the
 * broker before its report says it failed. extra: optional NULL-terminated
 * list of "key", "value" librdkafka properties. NULL on error (err filled). */
kafka_producer *kafka_producer_new(const char *bootstrap, int idempotent,
    int delivery_timeout_ms, const char *const *extra, kafka_dr_fn dr, void *ctx,
    char *err, size_t errlen);
/* Queues one message (copies everything). 0, or -1 when the local queue is
 * full or the arguments are bad (nothing queued). Never blocks. */
int kafka_produce(kafka_producer *p, const char *topic, const char *key,
    const void *val, size_t len, const struct kafka_header *h, size_t nh,
    void *opaque) ESM_WUR;
void kafka_poll(kafka_producer *p, int timeout_ms);
/* Waits until every queued message has a report or timeout_ms passes.
 * 0 when all reported, -1 on timeout. */
int kafka_flush(kafka_producer *p, int timeout_ms) ESM_WUR;
/* Messages queued and not yet reported. */
int kafka_outq_len(kafka_producer *p);
/* 1 when the producer hit a fatal error (an idempotence guarantee could not
 * be kept): every later produce fails, so the caller makes a new producer.
 * The reason goes to err. 0 otherwise. */
int kafka_producer_fatal(kafka_producer *p, char *err, size_t errlen);
/* 0 when a broker answers a metadata request within timeout_ms, else -1. */
int kafka_producer_ping(kafka_producer *p, int timeout_ms) ESM_WUR;
/* 1 when the cluster refused this producer in the last 30 s (wrong
 * credentials, or a topic it may not write) and nothing succeeded since;
 * the reason goes to buf. 0 otherwise. */
int kafka_producer_refusal(kafka_producer *p, char *buf, size_t len);
/* Flushes for at most timeout_ms, then destroys. Accepts NULL. */
void kafka_producer_free(kafka_producer *p, int timeout_ms);

/* New consumer group member subscribed to topics[0..n). Offsets are stored
 * only by kafka_store_offset and committed in the background; a group with
 * no committed offset starts at the earliest message. */
kafka_consumer *kafka_consumer_new(const char *bootstrap, const char *group,
    const char *const *topics, size_t n, const char *const *extra,
    char *err, size_t errlen);
/* Next message, or NULL after timeout_ms (or on a transient error, which is
 * logged). Partition EOF is not a message. */
kafka_msg *kafka_consumer_poll(kafka_consumer *c, int timeout_ms);
/* Marks msg as processed: its offset + 1 will be committed. */
int kafka_store_offset(kafka_consumer *c, const kafka_msg *m) ESM_WUR;
/* Commits stored offsets now (synchronously). */
int kafka_commit(kafka_consumer *c) ESM_WUR;
/* As kafka_producer_refusal, for a consumer (a topic or group it may not
 * read). */
int kafka_consumer_refusal(kafka_consumer *c, char *buf, size_t len);
/* Consumer lag summed over assigned partitions, -1 when unknown. */
int64_t kafka_consumer_lag(kafka_consumer *c);
/* Commits stored offsets, leaves the group, destroys. Accepts NULL. With
 * every broker down this takes about two session timeouts (20 s): the
 * commit and the leave each wait for the coordinator that long. */
void kafka_consumer_free(kafka_consumer *c);

/* Message accessors: borrowed until kafka_msg_free. */
const char *kafka_msg_topic(const kafka_msg *m);
int32_t kafka_msg_partition(const kafka_msg *m);
int64_t kafka_msg_offset(const kafka_msg *m);
const void *kafka_msg_key(const kafka_msg *m, size_t *len);
const void *kafka_msg_payload(const kafka_msg *m, size_t *len);
/* Value of the first header called name, NULL when absent. */
const char *kafka_msg_header(const kafka_msg *m, const char *name, size_t *len);
void kafka_msg_free(kafka_msg *m);

/*
 * Embedded development broker: librdkafka's mock cluster, brokers speaking
 * the Kafka protocol on loopback ports with data in memory. Only
 * worker/broker uses this; it is not for production.
 */
typedef struct kafka_mock kafka_mock;

/* Starts a cluster of brokers (ids 1..brokers). NULL on error (err filled). */
kafka_mock *kafka_mock_new(int brokers, char *err, size_t errlen);
/* "host:port,..." of the brokers. Borrowed until kafka_mock_free. */
const char *kafka_mock_bootstraps(const kafka_mock *k);
/* Creates topic with partitions partitions, replication 1. 0 / -1 (err). */
int kafka_mock_topic_create(kafka_mock *k, const char *topic, int partitions,
    char *err, size_t errlen) ESM_WUR;
/* up=0 disconnects every broker and refuses connections; up=1 undoes it. 0 / -1. */
int kafka_mock_set_up(kafka_mock *k, int up) ESM_WUR;
/* Stops the cluster (its data is gone). Accepts NULL. */
void kafka_mock_free(kafka_mock *k);

#endif
