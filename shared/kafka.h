/*
 * kafka.h: the project's Kafka clients on librdkafka: a producer (idempotent
 * with acks=all when asked), a consumer group member with manual offset
 * store, and an admin client for topics and ACLs. Only kafka.c includes
 * rdkafka.h. Every client reads its security settings from the
 * environment: ESM_KAFKA_SECURITY_PROTOCOL (plaintext, ssl, sasl_plaintext,
 * sasl_ssl), ESM_KAFKA_SASL_MECHANISM (SCRAM-SHA-512),
 * ESM_KAFKA_SASL_USERNAME, ESM_KAFKA_SASL_PASSWORD_FILE,
 * ESM_KAFKA_SSL_CA_FILE. Bootstrap servers always come from the caller
 * (configuration); the clients know nothing about the embedded broker.
 * That broker (worker/broker) runs on librdkafka's mock cluster, which is
 * wrapped at the end of this file for that one program.
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
 * acks=all. It never asks the cluster to create a topic: a message for a
 * topic the cluster lacks fails. delivery_timeout_ms bounds how long a message may wait for the
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
/* What the cluster's metadata says about the topics names[0..n), into
 * out[0..n) (struct kafka_topic_state, below): exists, partitions and
 * replication; min_isr and retention_ms stay 0, they need the admin
 * client's DescribeConfigs. *brokers receives the number of brokers the
 * cluster reports. One small metadata request per topic, naming only it and
 * never asking for its creation, all within timeout_ms; no admin API is
 * needed, so it works on the embedded broker too (whose mock cluster,
 * though, makes any topic a request names). A topic the cluster lacks is
 * out[i].exists = 0. 0, or -1 with err when no answer came in time or the
 * cluster would not describe a topic to this client. */
struct kafka_topic_state;
int kafka_producer_describe(kafka_producer *p, const char *const *names, size_t n,
    struct kafka_topic_state *out, int *brokers, int timeout_ms, char *err,
    size_t errlen) ESM_WUR;
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
/* A consumer's session timeout: a member that stops heartbeating loses its
 * partitions after this long (the fault suite bounds stalls by it). */
#define KAFKA_SESSION_TIMEOUT_MS 10000
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
 * Admin client: describes and creates topics and creates ACLs, for the
 * program that declares the system's topics (worker/topics). It has the
 * producer's security settings and callbacks, and never lets a request
 * create a topic by itself. Every call waits at most timeout_ms for the
 * cluster's answer and returns 0, or -1 with the reason in err.
 */
typedef struct kafka_admin kafka_admin;

/* What the cluster says about one topic. */
struct kafka_topic_state {
	int exists;		/* 0: the cluster has no such topic (and the rest is 0) */
	int partitions;
	int replication;	/* replicas of the partition that has fewest */
	int min_isr;		/* the topic's min.insync.replicas */
	int64_t retention_ms;	/* the topic's retention.ms (-1: kept forever) */
};

/* A topic to create. */
struct kafka_topic_new {
	const char *name;
	int partitions;
	int replication;
	int min_isr;
	int64_t retention_ms;
};

/* ACL vocabulary: the operations, resource types and pattern types of
 * Kafka's ACLs that a deployment declares. KAFKA_RES_CLUSTER is named
 * "kafka-cluster". */
enum kafka_acl_op {
	KAFKA_ACL_ALL, KAFKA_ACL_READ, KAFKA_ACL_WRITE, KAFKA_ACL_CREATE,
	KAFKA_ACL_DELETE, KAFKA_ACL_ALTER, KAFKA_ACL_DESCRIBE,
	KAFKA_ACL_CLUSTER_ACTION, KAFKA_ACL_DESCRIBE_CONFIGS,
	KAFKA_ACL_ALTER_CONFIGS, KAFKA_ACL_IDEMPOTENT_WRITE
};
enum kafka_acl_resource { KAFKA_RES_TOPIC, KAFKA_RES_GROUP, KAFKA_RES_CLUSTER };
enum kafka_acl_pattern { KAFKA_PAT_LITERAL, KAFKA_PAT_PREFIXED };

/* Allows principal ("User:name") op on the resources of type res whose
 * name is name (literal) or starts with it (prefixed), from any host. */
struct kafka_acl {
	const char *principal;
	enum kafka_acl_op op;
	enum kafka_acl_resource res;
	enum kafka_acl_pattern pat;
	const char *name;
};

/* New admin client for bootstrap ("host:port,..."); it connects on first
 * use. NULL on error (err filled). */
kafka_admin *kafka_admin_new(const char *bootstrap, char *err, size_t errlen);
/* Describes the topics names[0..n) into out[0..n) and sets *brokers to
 * the number of brokers the cluster reports. A topic the cluster does not
 * have is out[i].exists = 0, not an error, and so is one being created or
 * deleted (a configuration, no partitions yet); a topic the client may not
 * describe is an error. Takes up to twice timeout_ms (the metadata, then
 * the topics' configurations). 0 / -1. */
int kafka_admin_describe(kafka_admin *a, const char *const *names, size_t n,
    struct kafka_topic_state *out, int *brokers, int timeout_ms, char *err,
    size_t errlen) ESM_WUR;
/* Creates topic t with its partitions, replication, min.insync.replicas,
 * retention.ms and unclean.leader.election.enable=false, and waits until
 * the controller has it. 0, or -1 with errno EEXIST when the topic exists
 * already (nothing changed), else another errno. */
int kafka_admin_create(kafka_admin *a, const struct kafka_topic_new *t, int timeout_ms,
    char *err, size_t errlen) ESM_WUR;
/* Creates the ACLs acls[0..n) in one request. Creating an ACL that exists
 * is no change, so a failed call may simply be repeated. 0, or -1 when the
 * request or any ACL failed (err names the first one that did). */
int kafka_admin_create_acls(kafka_admin *a, const struct kafka_acl *acls, size_t n,
    int timeout_ms, char *err, size_t errlen) ESM_WUR;
/* Destroys the client. Accepts NULL. */
void kafka_admin_free(kafka_admin *a);

/*
 * Embedded development broker: librdkafka's mock cluster, brokers speaking
 * the Kafka protocol on loopback ports with data in memory. Only
 * worker/broker and the tests use this; it is not for production.
 */
typedef struct kafka_mock kafka_mock;

/* Starts a cluster of brokers (ids 1..brokers). NULL on error (err filled). */
kafka_mock *kafka_mock_new(int brokers, char *err, size_t errlen);
/* "host:port,..." of the brokers. Borrowed until kafka_mock_free. */
const char *kafka_mock_bootstraps(const kafka_mock *k);
/* Creates topic with partitions partitions, replication 1. 0 / -1 (err). */
int kafka_mock_topic_create(kafka_mock *k, const char *topic, int partitions,
    char *err, size_t errlen) ESM_WUR;
/* hidden=1: metadata requests answer that the cluster has no topic called
 * topic; hidden=0 shows it again. For tests of how a client takes a missing
 * topic: the mock cluster creates any topic a request names, so leaving one
 * out is not enough. Create the topic first (kafka_mock_topic_create), or
 * the mock makes it with its default partition count. */
void kafka_mock_topic_hide(kafka_mock *k, const char *topic, int hidden);
/* up=0 disconnects every broker and refuses connections; up=1 undoes it. 0 / -1. */
int kafka_mock_set_up(kafka_mock *k, int up) ESM_WUR;
/* Stops the cluster (its data is gone). Accepts NULL. */
void kafka_mock_free(kafka_mock *k);

#endif
