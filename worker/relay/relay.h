/*
 * relay.h: the outbox relay of one service database. A batch is one
 * transaction: take the relay lock, lock the oldest unsent outbox rows,
 * produce them with an idempotent producer, wait for every delivery report,
 * mark the delivered rows sent (and count an attempt on the failed ones),
 * commit. A row is marked sent only after Kafka acknowledged it, so a crash
 * or an outage can duplicate a message (consumers dedupe on eventId) but
 * never lose one.
 *
 * The decisions (array literals, backoff, which rows to mark, how long to
 * sleep) are pure functions, tested in tests/unit/test_relay.c.
 */
#ifndef ESM_RELAY_H
#define ESM_RELAY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "kafka.h"
#include "util.h"

#define RELAY_ERR_CAP 200		/* bytes of last_error kept per row */
#define RELAY_BACKOFF_MIN_MS 100
#define RELAY_BACKOFF_MAX_MS 5000
#define RELAY_LOCK_KEY "727001"		/* pg advisory lock shared by every relay of a database */
#define RELAY_ERR_NOT_QUEUED (-100000)	/* the producer refused the message locally */

enum relay_state {
	RELAY_QUEUED,	/* handed to the producer, no report yet */
	RELAY_SENT,	/* delivery report without error */
	RELAY_FAILED	/* delivery report with an error, or refused locally */
};

/* One outbox row of the current batch; the producer's per-message opaque. */
struct relay_row {
	int64_t id;
	enum relay_state st;
	int err;				/* librdkafka error code when FAILED */
	char errmsg[RELAY_ERR_CAP + 1];
};

/* What a batch came to; decides how long the loop sleeps. */
enum relay_outcome {
	RELAY_DRAINED,	/* nothing unsent: sleep the poll interval */
	RELAY_MOVED,	/* a partial batch delivered: rows that committed while it
			 * ran wait already, so look again at once */
	RELAY_FULL,	/* a full batch delivered: there is probably more, go on */
	RELAY_BUSY,	/* another relay holds the lock: sleep the poll interval */
	RELAY_KAFKA,	/* nothing delivered: back off */
	RELAY_DB	/* the database failed: back off */
};

struct relay_cfg {
	const char *dsn;
	const char *bootstrap;
	int batch;		/* rows per transaction */
	int delivery_ms;	/* producer delivery timeout */
};

struct relay_stats {
	uint64_t batches, sent, failed, unknown, busy, kafka_fail, db_fail;
};

struct relay {
	struct relay_cfg cfg;
	db *d;
	kafka_producer *p;
	struct relay_row *rows;		/* cfg.batch entries */
	buf_t lit;			/* scratch for array literals */
	int kafka_down;			/* logged once per outage, pinged before a batch */
	int db_down;
	int64_t kafka_down_since, db_down_since;	/* monotonic us */
	int64_t partial_logged;		/* last line about refused rows */
	int idle;			/* the last batch found nothing: ask cheaply first */
	struct relay_stats st;
};

/* Opens the database handle and the producer. Failures here are
 * configuration errors: -1 with the cause logged. r is zeroed first. */
int relay_open(struct relay *r, const struct relay_cfg *cfg) ESM_WUR;
/* Releases everything relay_open made. Every batch has waited for its own
 * reports, so nothing is left in flight. Accepts a zeroed relay. */
void relay_close(struct relay *r);
/* Runs one batch (one transaction) and says what it came to. */
enum relay_outcome relay_batch(struct relay *r);
/* Serves producer events (errors, logs) for about ms milliseconds, in short
 * slices, returning early once *stop is set. */
void relay_idle(struct relay *r, int ms, volatile const sig_atomic_t *stop);
/* One info line with the counters; why says what prompted it. */
void relay_log_stats(const struct relay *r, const char *why);

/* Delivery report callback for kafka_producer_new: opaque is the row. */
void relay_on_delivery(void *opaque, int err, const char *errstr, void *ctx);

/* Appends "{id,id,...}" of the rows in state st (for RELAY_FAILED only those
 * with error code err) to b, after resetting it. Returns how many ids, or -1
 * on ENOMEM. A bigint[] parameter, so no SQL is assembled. */
int relay_ids_literal(buf_t *b, const struct relay_row *rows, size_t n,
    enum relay_state st, int err) ESM_WUR;
/* 1 when rows[i] is a failed row whose error code no earlier failed row
 * has: the failed rows are marked in one statement per such group. */
int relay_failed_group_head(const struct relay_row *rows, size_t i);
/* Rows of rows[0..n) in state st. */
size_t relay_count(const struct relay_row *rows, size_t n, enum relay_state st);
/* Copies at most cap bytes of src into dst (cap + 1 bytes), cut at a UTF-8
 * character boundary, control characters as spaces. NULL src gives "". */
void relay_err_cap(char *dst, size_t cap, const char *src);
/* Next backoff after a failure: 0 -> RELAY_BACKOFF_MIN_MS, then doubling up
 * to RELAY_BACKOFF_MAX_MS. */
int relay_backoff_next(int cur_ms);
/* Outcome of a batch that locked nrows of at most batch rows of which nsent
 * were delivered. */
enum relay_outcome relay_outcome_of(size_t nrows, size_t batch, size_t nsent);
/* Milliseconds to sleep after outcome oc; updates *backoff_ms (reset to 0
 * by any outcome that is not a failure). */
int relay_sleep_ms(enum relay_outcome oc, int *backoff_ms, int poll_ms);
/* After RELAY_IDLE_AFTER_US of nothing to send. */
#define RELAY_IDLE_AFTER_US 1000000
/* The sleep when caught up: poll_ms while rows came recently, idle_ms (when
 * longer) once *since_us, the start of the caught-up stretch (0: none yet,
 * set here), is RELAY_IDLE_AFTER_US old. An idle relay then costs a fraction
 * of the queries, and only the first row after a quiet second waits longer. */
int relay_caught_up_ms(int64_t *since_us, int64_t now_us, int poll_ms, int idle_ms);

#endif
