/*
 * handle.c: one relay batch against the outbox table, and the pure
 * decisions it rests on (array literals, backoff, which rows to mark, how
 * long to sleep). The order of a batch is what makes it safe:
 *
 *   BEGIN; pg_try_advisory_xact_lock   one relay per database at a time, so
 *                                      rows leave in id order and only once
 *   SELECT ... FOR UPDATE              the oldest unsent rows
 *   produce all, flush                 every row ends with a delivery report
 *   UPDATE sent_at / attempts          only rows Kafka acknowledged are sent
 *   COMMIT
 *
 * Whatever fails, a row without a successful report stays unsent and is
 * tried again; the price is an occasional duplicate (a report lost with the
 * connection, a commit that fails after delivery), which consumers absorb
 * by eventId. Outages are logged once when they start and once when they
 * end. Left out: a dead-letter path for rows Kafka refuses for good (they
 * keep their place, count attempts and carry last_error).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "relay.h"

#define RELAY_STMT_TIMEOUT_MIN_MS 15000
#define RELAY_FLUSH_SLACK_MS 2000	/* librdkafka scans for timeouts about once a second */
#define RELAY_PING_MS 1000
#define RELAY_IDLE_SLICE_MS 100
#define RELAY_PARTIAL_LOG_US (10 * 1000 * 1000)

enum {
	RELAY_SQL_PENDING,
	RELAY_SQL_LOCK,
	RELAY_SQL_SELECT,
	RELAY_SQL_SENT,
	RELAY_SQL_FAILED
};

/* The rest run inside the batch transaction, so db.c never re-sends them. */
static const struct db_stmt relay_sql[] = {
	/* Outside any transaction: the idle poll's one round trip. */
	[RELAY_SQL_PENDING] = { "relay_pending",
	    "SELECT EXISTS (SELECT 1 FROM outbox WHERE sent_at IS NULL)", 1 },
	[RELAY_SQL_LOCK] = { "relay_lock",
	    "SELECT pg_try_advisory_xact_lock(" RELAY_LOCK_KEY ")", 0 },
	[RELAY_SQL_SELECT] = { "relay_select",
	    "SELECT id, topic, msg_key, payload, event_id, coalesce(request_id, '') "
	    "FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE", 0 },
	/* The time of Kafka's acknowledgment, not of the batch's start (now()):
	 * from then on the event is the consumers' to read. */
	[RELAY_SQL_SENT] = { "relay_mark_sent",
	    "UPDATE outbox SET sent_at = clock_timestamp() WHERE id = ANY($1::bigint[])", 0 },
	[RELAY_SQL_FAILED] = { "relay_mark_failed",
	    "UPDATE outbox SET attempts = attempts + 1, last_error = $2 "
	    "WHERE id = ANY($1::bigint[])", 0 },
};

/* Reconnect quickly once a broker is back: the default backoff grows to 10 s. */
static const char *const relay_kafka_extra[] = {
	"client.id", "esm-relay",
	"reconnect.backoff.max.ms", "1000",
	NULL
};

/* ---- pure decisions ---------------------------------------------------- */

void
relay_on_delivery(void *opaque, int err, const char *errstr, void *ctx)
{
	struct relay_row *row = opaque;

	if (row == NULL)
		return;
	if (err == 0) {
		row->st = RELAY_SENT;
		return;
	}
	row->st = RELAY_FAILED;
	row->err = err;
	relay_err_cap(row->errmsg, RELAY_ERR_CAP, errstr);
}

static int
relay_row_matches(const struct relay_row *row, enum relay_state st, int err)
{
	return row->st == st && (st != RELAY_FAILED || row->err == err);
}

int
relay_ids_literal(buf_t *b, const struct relay_row *rows, size_t n, enum relay_state st,
    int err)
{
	size_t i;
	int k = 0;

	buf_reset(b);
	if (buf_puts(b, "{") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (!relay_row_matches(&rows[i], st, err))
			continue;
		if (buf_printf(b, "%s%" PRId64, k > 0 ? "," : "", rows[i].id) == -1)
			return -1;
		k++;
	}
	if (buf_puts(b, "}") == -1)
		return -1;
	return k;
}

int
relay_failed_group_head(const struct relay_row *rows, size_t i)
{
	size_t j;

	if (rows[i].st != RELAY_FAILED)
		return 0;
	for (j = 0; j < i; j++)
		if (rows[j].st == RELAY_FAILED && rows[j].err == rows[i].err)
			return 0;
	return 1;
}

size_t
relay_count(const struct relay_row *rows, size_t n, enum relay_state st)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++)
		k += rows[i].st == st;
	return k;
}

void
relay_err_cap(char *dst, size_t cap, const char *src)
{
	size_t n, i;

	if (src == NULL)
		src = "";
	n = strnlen(src, cap);
	memcpy(dst, src, n);
	/* A cut may split a character; last_error is text and must stay UTF-8. */
	while (n > 0 && !util_utf8_valid(dst, n))
		n--;
	for (i = 0; i < n; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = ' ';
	dst[n] = '\0';
}

int
relay_backoff_next(int cur_ms)
{
	if (cur_ms < RELAY_BACKOFF_MIN_MS)
		return RELAY_BACKOFF_MIN_MS;
	if (cur_ms >= RELAY_BACKOFF_MAX_MS / 2)
		return RELAY_BACKOFF_MAX_MS;
	return cur_ms * 2;
}

enum relay_outcome
relay_outcome_of(size_t nrows, size_t batch, size_t nsent)
{
	if (nrows == 0)
		return RELAY_DRAINED;
	if (nsent == 0)
		return RELAY_KAFKA;
	/* Partial failures (a row Kafka refuses) do not back off: the other
	 * rows keep flowing and the refused ones are retried with them. */
	return nrows >= batch ? RELAY_FULL : RELAY_MOVED;
}

int
relay_sleep_ms(enum relay_outcome oc, int *backoff_ms, int poll_ms)
{
	switch (oc) {
	case RELAY_KAFKA:
	case RELAY_DB:
		*backoff_ms = relay_backoff_next(*backoff_ms);
		return *backoff_ms;
	case RELAY_FULL:
	case RELAY_MOVED:
		*backoff_ms = 0;
		return 0;
	case RELAY_DRAINED:
	case RELAY_BUSY:
	default:
		*backoff_ms = 0;
		return poll_ms;
	}
}

int
relay_caught_up_ms(int64_t *since_us, int64_t now_us, int poll_ms, int idle_ms)
{
	if (*since_us == 0)
		*since_us = now_us;
	if (now_us - *since_us >= RELAY_IDLE_AFTER_US && idle_ms > poll_ms)
		return idle_ms;
	return poll_ms;
}

/* ---- state changes, logged once each ------------------------------------ */

static void
relay_kafka_failed(struct relay *r, const char *cause)
{
	r->st.kafka_fail++;
	if (r->kafka_down)
		return;
	r->kafka_down = 1;
	r->kafka_down_since = util_mono_us();
	log_warn("kafka delivery failing (%s): outbox rows stay unsent and are retried with backoff",
	    cause);
}

static void
relay_kafka_ok(struct relay *r)
{
	if (!r->kafka_down)
		return;
	r->kafka_down = 0;
	log_info("kafka reachable again after %.1f s",
	    (double)(util_mono_us() - r->kafka_down_since) / 1e6);
}

static void
relay_db_failed(struct relay *r, const char *what, int rc)
{
	r->st.db_fail++;
	if (r->db_down)
		return;
	r->db_down = 1;
	r->db_down_since = util_mono_us();
	/* db.c has logged the server's message; this says what it stops. */
	log_warn("database failed at %s (%s): relaying paused, retrying with backoff", what,
	    rc == DB_UNAVAILABLE ? "unavailable" : rc == DB_TIMEOUT ? "timeout" : "error");
}

static void
relay_db_ok(struct relay *r)
{
	if (!r->db_down)
		return;
	r->db_down = 0;
	log_info("database back after %.1f s",
	    (double)(util_mono_us() - r->db_down_since) / 1e6);
}

/* ---- the batch ---------------------------------------------------------- */

static int
relay_producer_new(struct relay *r)
{
	char err[512];

	r->p = kafka_producer_new(r->cfg.bootstrap, 1, r->cfg.delivery_ms, relay_kafka_extra,
	    relay_on_delivery, r, err, sizeof(err));
	if (r->p == NULL) {
		log_error("cannot create the kafka producer: %s", err);
		return -1;
	}
	return 0;
}

/* Replaces a producer that can no longer be trusted to report. Whatever it
 * still holds is dropped: those rows were not marked and go out again. */
static void
relay_producer_reset(struct relay *r)
{
	kafka_producer_free(r->p, 0);
	r->p = NULL;
	(void)relay_producer_new(r);
}

int
relay_open(struct relay *r, const struct relay_cfg *cfg)
{
	int stmt_ms;

	memset(r, 0, sizeof(*r));
	r->cfg = *cfg;
	if (cfg->batch < 1 || (r->rows = calloc((size_t)cfg->batch, sizeof(*r->rows))) == NULL) {
		log_crit("cannot allocate a batch of %d rows", cfg->batch);
		return -1;
	}
	/* The transaction idles while the producer waits for reports, and
	 * db.c sets idle_in_transaction_session_timeout to 4x this. */
	stmt_ms = cfg->delivery_ms > RELAY_STMT_TIMEOUT_MIN_MS ? cfg->delivery_ms
							       : RELAY_STMT_TIMEOUT_MIN_MS;
	if ((r->d = db_open(cfg->dsn, relay_sql, ESM_NELEM(relay_sql), stmt_ms)) == NULL) {
		log_crit("cannot allocate the database handle");
		return -1;
	}
	return relay_producer_new(r);
}

void
relay_close(struct relay *r)
{
	kafka_producer_free(r->p, 0);
	db_close(r->d);
	free(r->rows);
	buf_free(&r->lit);
	memset(r, 0, sizeof(*r));
}

/* Hands rows[0..n) of res to the producer. -1, with nothing queued, when an
 * id does not parse: the table is not the outbox this program knows. Ids
 * are checked first so that no report can arrive for an abandoned batch. */
static int
relay_produce_rows(struct relay *r, const db_res *res, size_t n)
{
	struct kafka_header h[2];
	const char *payload, *rid;
	struct relay_row *row;
	size_t i, nh;

	for (i = 0; i < n; i++) {
		row = &r->rows[i];
		memset(row, 0, sizeof(*row));
		if (util_parse_i64(db_get(res, (int)i, 0), 1, INT64_MAX, &row->id) == -1) {
			log_error("outbox id is not a positive bigint: schema mismatch");
			return -1;
		}
		row->st = RELAY_QUEUED;
	}
	for (i = 0; i < n; i++) {
		row = &r->rows[i];
		nh = 0;
		h[nh].name = "eventId";
		h[nh++].value = db_get(res, (int)i, 4);
		if (*(rid = db_get(res, (int)i, 5)) != '\0') {
			h[nh].name = "requestId";
			h[nh++].value = rid;
		}
		payload = db_get(res, (int)i, 3);
		if (kafka_produce(r->p, db_get(res, (int)i, 1), db_get(res, (int)i, 2), payload,
		    strlen(payload), h, nh, row) == -1) {
			row->st = RELAY_FAILED;
			row->err = RELAY_ERR_NOT_QUEUED;
			snprintf(row->errmsg, sizeof(row->errmsg), "not queued: %s", strerror(errno));
		}
	}
	return 0;
}

/* Waits until every row has its report. librdkafka reports each message by
 * its delivery timeout, so the bound is that plus slack; a producer that
 * still holds messages after twice that is replaced. */
static void
relay_wait_reports(struct relay *r, size_t n)
{
	char err[256];

	if (kafka_flush(r->p, r->cfg.delivery_ms + RELAY_FLUSH_SLACK_MS) == -1 &&
	    kafka_flush(r->p, r->cfg.delivery_ms) == -1) {
		log_error("kafka: %zu of %zu messages without a delivery report after %d ms: "
		    "replacing the producer", relay_count(r->rows, n, RELAY_QUEUED), n,
		    2 * r->cfg.delivery_ms + RELAY_FLUSH_SLACK_MS);
		relay_producer_reset(r);
	} else if (kafka_producer_fatal(r->p, err, sizeof(err))) {
		log_error("kafka producer hit a fatal error (%s): replacing it", err);
		relay_producer_reset(r);
	} else if (kafka_producer_refusal(r->p, err, sizeof(err))) {
		/* A topic we may not write stays refused in the producer's
		 * metadata; a new producer asks afresh, so a granted ACL is
		 * used at the next try (kafka.c already logged the refusal). */
		log_debug("kafka refuses this relay (%s): replacing the producer", err);
		relay_producer_reset(r);
	}
}

/* Marks the delivered rows sent and counts an attempt on the failed ones,
 * one statement per distinct error. 0, or -1 (the transaction is lost). */
static int
relay_mark(struct relay *r, size_t n)
{
	const char *prm[2];
	size_t i;
	int k, rc;

	if ((k = relay_ids_literal(&r->lit, r->rows, n, RELAY_SENT, 0)) == -1)
		goto nomem;
	if (k > 0) {
		prm[0] = r->lit.p;
		if ((rc = db_exec(r->d, RELAY_SQL_SENT, prm, 1, NULL)) != DB_OK) {
			relay_db_failed(r, "mark sent", rc);
			return -1;
		}
	}
	for (i = 0; i < n; i++) {
		if (!relay_failed_group_head(r->rows, i))
			continue;
		if ((k = relay_ids_literal(&r->lit, r->rows, n, RELAY_FAILED, r->rows[i].err)) == -1)
			goto nomem;
		prm[0] = r->lit.p;
		prm[1] = r->rows[i].errmsg;
		if ((rc = db_exec(r->d, RELAY_SQL_FAILED, prm, 2, NULL)) != DB_OK) {
			relay_db_failed(r, "mark failed", rc);
			return -1;
		}
	}
	return 0;
nomem:
	log_error("out of memory building an id list of %zu rows", n);
	return -1;
}

/* Cause to log for a batch that delivered nothing. */
static const char *
relay_first_error(const struct relay_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rows[i].st == RELAY_FAILED)
			return rows[i].errmsg;
	return "no delivery report";
}

/* Rows refused while others went through: a per-message problem, not an
 * outage. Logged at most every RELAY_PARTIAL_LOG_US. */
static void
relay_log_partial(struct relay *r, size_t n, size_t nfailed)
{
	int64_t now = util_mono_us();
	size_t i;

	if (nfailed == 0 || (r->partial_logged != 0 && now - r->partial_logged < RELAY_PARTIAL_LOG_US))
		return;
	r->partial_logged = now;
	for (i = 0; i < n; i++)
		if (relay_failed_group_head(r->rows, i))
			log_warn("kafka refused outbox row %" PRId64 " (and maybe more with the same error): %s",
			    r->rows[i].id, r->rows[i].errmsg);
}

enum relay_outcome
relay_batch(struct relay *r)
{
	db_res *res = NULL;
	const char *prm[1];
	char limit[24];
	size_t n, nsent, nfailed, nunknown;
	enum relay_outcome oc = RELAY_DB;
	int rc, marked;

	if (r->p == NULL && relay_producer_new(r) == -1) {
		relay_kafka_failed(r, "no producer");
		return RELAY_KAFKA;
	}
	/* While Kafka is away, ask it before locking rows and counting attempts. */
	if (r->kafka_down) {
		if (kafka_producer_ping(r->p, RELAY_PING_MS) == -1) {
			r->st.kafka_fail++;
			return RELAY_KAFKA;
		}
		relay_kafka_ok(r);
	}
	/* Idle: one cheap question instead of a transaction, a lock and a
	 * select that find nothing. */
	if (r->idle) {
		if ((rc = db_exec(r->d, RELAY_SQL_PENDING, NULL, 0, &res)) != DB_OK) {
			relay_db_failed(r, "pending check", rc);
			r->idle = 0;
			goto out;
		}
		relay_db_ok(r);
		if (strcmp(db_get(res, 0, 0), "t") != 0) {
			oc = RELAY_DRAINED;
			goto out;
		}
		db_res_free(res);
		res = NULL;
	}
	if ((rc = db_begin(r->d)) != DB_OK) {
		relay_db_failed(r, "begin", rc);
		goto out;
	}
	if ((rc = db_exec(r->d, RELAY_SQL_LOCK, NULL, 0, &res)) != DB_OK) {
		relay_db_failed(r, "advisory lock", rc);
		goto out;
	}
	relay_db_ok(r);
	if (strcmp(db_get(res, 0, 0), "t") != 0) {
		r->st.busy++;
		oc = RELAY_BUSY;
		goto out;
	}
	db_res_free(res);
	res = NULL;
	snprintf(limit, sizeof(limit), "%d", r->cfg.batch);
	prm[0] = limit;
	if ((rc = db_exec(r->d, RELAY_SQL_SELECT, prm, 1, &res)) != DB_OK) {
		relay_db_failed(r, "select", rc);
		goto out;
	}
	if ((n = (size_t)db_nrows(res)) == 0) {
		oc = RELAY_DRAINED;
		r->idle = 1;
		goto out;
	}
	r->idle = 0;
	if (relay_produce_rows(r, res, n) == -1)
		goto out;
	db_res_free(res);
	res = NULL;
	relay_wait_reports(r, n);

	nsent = relay_count(r->rows, n, RELAY_SENT);
	nfailed = relay_count(r->rows, n, RELAY_FAILED);
	nunknown = n - nsent - nfailed;
	marked = relay_mark(r, n) == 0;
	if (marked && (rc = db_commit(r->d)) != DB_OK)
		relay_db_failed(r, "commit", rc);
	if (!marked || rc != DB_OK) {
		if (nsent > 0)
			log_warn("%zu delivered rows could not be marked sent: they will be sent again",
			    nsent);
		goto out;
	}
	r->st.batches++;
	r->st.sent += nsent;
	r->st.failed += nfailed;
	r->st.unknown += nunknown;
	oc = relay_outcome_of(n, (size_t)r->cfg.batch, nsent);
	if (oc == RELAY_KAFKA) {
		relay_kafka_failed(r, relay_first_error(r->rows, n));
	} else {
		relay_kafka_ok(r);
		relay_log_partial(r, n, nfailed);
	}
out:
	db_res_free(res);
	db_rollback(r->d);	/* no-op after a commit */
	return oc;
}

void
relay_idle(struct relay *r, int ms, volatile const sig_atomic_t *stop)
{
	int64_t end = util_mono_us() + (int64_t)ms * 1000, left;
	struct timespec ts;
	int slice;

	do {
		left = (end - util_mono_us()) / 1000;
		slice = left > RELAY_IDLE_SLICE_MS ? RELAY_IDLE_SLICE_MS : left > 0 ? (int)left : 0;
		if (r->p != NULL) {
			/* Sleeping in poll serves the producer's errors and logs. */
			kafka_poll(r->p, slice);
		} else if (slice > 0) {
			ts.tv_sec = 0;
			ts.tv_nsec = (long)slice * 1000000L;
			nanosleep(&ts, NULL);
		}
	} while (!*stop && util_mono_us() < end);
}

void
relay_log_stats(const struct relay *r, const char *why)
{
	log_info("relay %s: batches %" PRIu64 ", sent %" PRIu64 ", failed %" PRIu64
	    ", unreported %" PRIu64 ", lock busy %" PRIu64 ", kafka failures %" PRIu64
	    ", database failures %" PRIu64, why, r->st.batches, r->st.sent, r->st.failed,
	    r->st.unknown, r->st.busy, r->st.kafka_fail, r->st.db_fail);
}
