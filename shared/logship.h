/*
 * logship.h: ships every log line (log.h's sink) to Kafka: ERROR and
 * CRITICAL to application-logs-errors, the rest to application-logs, keyed
 * by the service name. Shipping is asynchronous and bounded: a line is
 * handed to the producer's local queue (ESM_LOGSHIP_QUEUE messages, default
 * 10000) without waiting; when the queue is full, or a line was not
 * delivered within ESM_LOGSHIP_TIMEOUT_MS (default 30000), it is dropped and
 * counted (MC_LOG_DROPPED); delivered lines count as MC_LOG_SHIPPED. The
 * line always reaches stderr first, so nothing is lost from the local log.
 *
 * Lines written by the Kafka client itself (module "kafka") and lines
 * emitted while the shipper is inside the producer are written to stderr
 * only: a broker complaint can never feed itself back into the producer.
 *
 * Also the pure pieces of the record format that the log collector shares:
 * the topic of a level and RFC 3339 timestamp parsing.
 * Left out: compression, batching policy (librdkafka's linger does it).
 */
#ifndef ESM_LOGSHIP_H
#define ESM_LOGSHIP_H

#include <stddef.h>
#include <stdint.h>
#include "kafka.h"
#include "log.h"
#include "util.h"

#define LOGSHIP_TOPIC "application-logs"
#define LOGSHIP_TOPIC_ERRORS "application-logs-errors"

typedef struct logship logship;

/* New shipper for service (the message key) on bootstrap servers. Does not
 * install itself: see logship_install. NULL on error (err filled). */
logship *logship_new(const char *bootstrap, const char *service, char *err, size_t errlen);
/* Makes s the log sink of this process (s may be NULL: no shipping). */
void logship_install(logship *s);
/* Serves delivery reports and the producer's own events without waiting.
 * Call between requests or in a worker's loop. Accepts NULL. */
void logship_poll(logship *s);
/* The shipper's producer, for a caller that needs a Kafka client of its own
 * kind (the /health broker check): one producer per process, not two.
 * Borrowed until logship_free; produce nothing through it. Accepts NULL. */
kafka_producer *logship_producer(logship *s);
/* Uninstalls the sink, waits at most timeout_ms for queued lines, destroys.
 * Accepts NULL. */
void logship_free(logship *s, int timeout_ms);

/* Starts shipping for a program from the environment: when
 * ESM_KAFKA_BOOTSTRAP is set and ESM_LOG_SHIP is not false, a new installed
 * shipper; else NULL (also on error, which is logged). */
logship *logship_from_env(const char *service);

/* Topic of a record of level lvl. Pure. */
const char *logship_topic(enum log_level lvl);
/* 1 when the JSON line json[0..len) was written by the Kafka client
 * (module "kafka"): never shipped. Pure. */
int logship_is_kafka_line(const char *json, size_t len);
/* Parses an RFC 3339 timestamp ("2026-11-25T10:11:12.123456Z", any number
 * of fraction digits, "Z" or "+hh:mm") into microseconds since the epoch.
 * 0 / -1. Pure. */
int logship_ts_parse(const char *s, int64_t *us) ESM_WUR;

#endif
