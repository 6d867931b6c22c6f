/*
 * logcol.h: the log collector. It consumes application-logs and
 * application-logs-errors (group log-monitor-group), counts every record per
 * minute by service and level, stores ERROR and CRITICAL records in the log
 * monitor's database, and deletes what is older than the retention. A batch
 * of messages is one transaction together with the next offset of each
 * partition (table log_offsets), so a message replayed after a crash is
 * recognised and counted once; Kafka offsets are stored only after commit.
 * Within the transaction the batch's error records go in with one INSERT
 * over unnest()ed array parameters and its counts, summed here per minute,
 * service and level, with one upsert: a few statements per batch, not per
 * record.
 *
 * The decisions (record parsing, retention window, minute buckets) are pure
 * functions tested in tests/unit/test_logmon.c. handle.c knows no Kafka
 * types: main.c hands it plain message views.
 */
#ifndef ESM_LOGCOL_H
#define ESM_LOGCOL_H

#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "util.h"

#define LOGCOL_GROUP "log-monitor-group"
#define LOGCOL_MSG_CAP 4096		/* bytes of message kept, cut at a character */
#define LOGCOL_FIELD_CAP 128		/* logger, module, function, host */
#define LOGCOL_SERVICE_CAP 64
#define LOGCOL_RID_CAP 72
#define LOGCOL_BATCH_MAX 1000

/* One log record as the collector keeps it. Strings are NUL-terminated,
 * valid UTF-8, capped. */
struct logcol_rec {
	int64_t ts_us;			/* record time, microseconds since the epoch */
	int level;			/* enum log_level */
	char service[LOGCOL_SERVICE_CAP + 1];
	char logger[LOGCOL_FIELD_CAP + 1];
	char module[LOGCOL_FIELD_CAP + 1];
	char function[LOGCOL_FIELD_CAP + 1];
	char host[LOGCOL_FIELD_CAP + 1];
	char request_id[LOGCOL_RID_CAP + 1];
	char message[LOGCOL_MSG_CAP + 1];
	int64_t line, process;		/* -1 when absent */
};

/* A consumed message, borrowed from the consumer for one batch. */
struct logcol_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	const char *payload;
	size_t len;
};

enum logcol_result {
	LOGCOL_OK,		/* committed (bad or duplicate records included) */
	LOGCOL_RETRY		/* database failure: nothing committed, retry the batch */
};

/* One per-minute count of a batch. */
struct logcol_count {
	int64_t minute;			/* seconds since the epoch */
	char service[LOGCOL_SERVICE_CAP + 1];
	int level;
	int64_t n;
};

/* Next offset of one partition within a batch. */
struct logcol_part {
	const char *topic;		/* borrowed from the batch's messages */
	int32_t partition;
	int64_t next;			/* first offset not yet stored, from the database */
	int64_t max;			/* highest offset of the batch, -1 when none new */
};

#define LOGCOL_PARTS_MAX 64
#define LOGCOL_ERR_COLS 11

struct logcol_stats {
	uint64_t records, errors_stored, duplicates, bad, expired, batches, db_fail, purged;
};

struct logcol {
	db *d;
	int64_t retention_s;
	struct logcol_rec rec;		/* scratch */
	struct logcol_count counts[LOGCOL_BATCH_MAX];
	size_t ncounts;
	struct logcol_part parts[LOGCOL_PARTS_MAX];
	size_t nparts;
	buf_t cols[LOGCOL_ERR_COLS];	/* array literals of the error INSERT */
	buf_t ccols[4];			/* array literals of the count upsert */
	struct logcol_stats st;
};

/* Parses one record (the JSON object of log.h). 0, or -1 with the reason in
 * why (static text). Unknown fields are ignored; timestamp, level, service
 * and message are required. Pure. */
int logcol_parse(const char *json, size_t len, struct logcol_rec *out, const char **why);
/* Start of the minute holding us, in seconds since the epoch. Pure. */
int64_t logcol_minute(int64_t us);
/* 1 when a record at ts_us is older than retention_s at now_us. Pure. */
int logcol_expired(int64_t ts_us, int64_t now_us, int64_t retention_s);
/* 1 when s is a usable service name: 1-64 of [A-Za-z0-9_.-]. Pure. */
int logcol_service_ok(const char *s);

/* Adds one to the count of (minute, service, level) in tab[0..*n), adding
 * the entry when new. 0, or -1 when cap entries are taken. Pure. */
int logcol_count_add(struct logcol_count *tab, size_t *n, size_t cap, int64_t minute,
    const char *service, int level);
/* Appends one element to a PostgreSQL array literal being built in b (which
 * holds "{" and earlier elements): s quoted and escaped, or NULL when s is
 * NULL. 0 / -1 (ENOMEM). Pure. */
int logcol_array_add(buf_t *b, const char *s) ESM_WUR;

/* Releases the collector's buffers (not the database handle). */
void logcol_free(struct logcol *lc);

/* Statement table of the collector (prepared once per connection). */
extern const struct db_stmt logcol_stmts[];
extern const size_t logcol_nstmts;

/* How many of msgs[0..n) one transaction takes: the longest prefix that
 * spans at most LOGCOL_PARTS_MAX partitions (n when they all fit, at least
 * 1 when n > 0). Pure. */
size_t logcol_batch_cut(const struct logcol_msg *msgs, size_t n);
/* Stores msgs[0..*done) in one transaction, *done = logcol_batch_cut(msgs,
 * n) on LOGCOL_OK (0 on LOGCOL_RETRY): the caller stores those offsets and
 * hands the rest to the next call. Bad and expired records are counted and
 * skipped; duplicates (offset below the stored next offset) are skipped. */
enum logcol_result logcol_store(struct logcol *lc, const struct logcol_msg *msgs, size_t n,
    size_t *done);
/* Deletes records and counts older than the retention. 0 / -1. */
int logcol_purge(struct logcol *lc) ESM_WUR;

#endif
