/*
 * fuzz_logcollector.c: one batch of consumed log records through the
 * collector's real store path (logcol_store: offsets, parsing, retention,
 * per-minute counts, the error rows' array literals) against the
 * in-memory database of fake_db.c, which reads every statement's
 * parameters back as PostgreSQL would.
 *
 * Input: a flags byte, then one message per line. A line's first byte
 * places the message: partition (byte & 0x7f) of application-logs, or of
 * application-logs-errors when the high bit is set; the rest is the
 * payload. Messages of a partition get offsets 100, 101, ... in order.
 * Flags: bits 0-1 r, the database's stored next offset is 100 + r (the
 * first r messages of each partition are replays); bit 2, no stored
 * offset at all; bit 3, the database fails the ((flags >> 4) + 1)-th call
 * of the first attempt, which must then commit nothing and count nothing.
 *
 * The batch goes through logcol_store as main.c hands it over: again and
 * again until every message is taken.
 *
 * Checked, each by abort(): with a working database each call commits
 * (else main.c retries the same batch forever) and takes the longest run
 * of messages over at most LOGCOL_PARTS_MAX partitions; every partition's
 * offset row moves to one past its last new message; the count upsert has
 * one entry per (minute, service, level), with the number of fresh
 * records of each; the error INSERT has one row per fresh ERROR/CRITICAL
 * record, in order, each column the record's value read back from the
 * array literal; the statistics add up.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/logcollector/logcol.h"
#include "fake_db.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_BASE 100			/* first offset of every partition */
#define FZ_RETENTION_S (3650LL * 86400)
#define FZ_NPART 256			/* distinct (topic, partition) of the input */

static const char *const fz_topics[2] = { "application-logs", "application-logs-errors" };

/* The batch and what the collector must make of it. */
static struct fz {
	struct logcol_msg msgs[LOGCOL_BATCH_MAX];
	struct logcol_rec recs[LOGCOL_BATCH_MAX];
	int state[LOGCOL_BATCH_MAX];	/* FZ_DUP, FZ_BAD, FZ_EXPIRED, FZ_FRESH */
	size_t n, from, to;		/* the batch; the transaction's part of it */
	int64_t part_next[FZ_NPART];	/* -1: no stored row */
	int64_t part_last[FZ_NPART];	/* highest new offset, -1 when none */
	int part_loaded[FZ_NPART], part_set[FZ_NPART];
	struct logcol_count want[LOGCOL_BATCH_MAX];
	size_t nwant, nerr;
	int loose;			/* a record at the retention edge: skip exact checks */
	int counted, inserted;
} fz;

enum { FZ_DUP, FZ_BAD, FZ_EXPIRED, FZ_FRESH };

static void fz_fail(const char *what) __attribute__((noreturn));

static void
fz_fail(const char *what)
{
	fprintf(stderr, "fuzz_logcollector: %s\n", what);
	abort();
}

/* Index in part_* of the topic/partition pair. */
static int
fz_key(const char *topic, int32_t part)
{
	return (strcmp(topic, fz_topics[1]) == 0 ? 128 : 0) + (int)part;
}

/* fake_db_array, or abort. */
static size_t
fz_array(const char *lit, char **buf, char **out, size_t cap)
{
	size_t n = fake_db_array(lit, buf, out, cap);

	if (*buf == NULL)
		fz_fail("out of memory");
	if (n == (size_t)-1)
		fz_fail("array literal the server would refuse, or longer than the batch");
	return n;
}

/* s is the decimal form of v (or NULL for a NULL v < 0 when nullable). */
static int
fz_num_is(const char *s, int64_t v)
{
	char b[24];

	snprintf(b, sizeof(b), "%lld", (long long)v);
	return s != NULL && strcmp(s, b) == 0;
}

static void
fz_check_counts(const char *const *p)
{
	static char *col[4][LOGCOL_BATCH_MAX];
	char *buf[4];
	size_t n[4], i, j, total = 0;

	for (i = 0; i < 4; i++)
		n[i] = fz_array(p[i], &buf[i], col[i], LOGCOL_BATCH_MAX);
	if (n[1] != n[0] || n[2] != n[0] || n[3] != n[0] || n[0] == 0)
		fz_fail("count arrays of different lengths, or empty");
	for (i = 0; i < n[0]; i++) {
		int64_t minute, cnt;
		if (col[0][i] == NULL || col[1][i] == NULL || col[2][i] == NULL || col[3][i] == NULL)
			fz_fail("NULL in a count column");
		if (util_parse_i64(col[0][i], INT64_MIN, INT64_MAX, &minute) == -1 || minute % 60 != 0 ||
		    util_parse_i64(col[3][i], 1, LOGCOL_BATCH_MAX, &cnt) == -1)
			fz_fail("count minute or number malformed");
		if (!logcol_service_ok(col[1][i]) || log_level_parse(col[2][i]) < 0 ||
		    strcmp(log_level_name((enum log_level)log_level_parse(col[2][i])), col[2][i]) != 0)
			fz_fail("count service or level malformed");
		/* One upsert may not touch a (minute, service, level) row twice. */
		for (j = 0; j < i; j++)
			if (strcmp(col[0][j], col[0][i]) == 0 && strcmp(col[1][j], col[1][i]) == 0 &&
			    strcmp(col[2][j], col[2][i]) == 0)
				fz_fail("the count upsert names one row twice");
		total += (size_t)cnt;
		if (fz.loose)
			continue;
		for (j = 0; j < fz.nwant; j++)
			if (fz.want[j].minute == minute && strcmp(fz.want[j].service, col[1][i]) == 0 &&
			    strcmp(log_level_name((enum log_level)fz.want[j].level), col[2][i]) == 0)
				break;
		if (j == fz.nwant || fz.want[j].n != cnt)
			fz_fail("a count that differs from the batch's records");
	}
	if (!fz.loose && n[0] != fz.nwant)
		fz_fail("counts missing");
	if (!fz.loose) {
		size_t fresh = 0;
		for (i = fz.from; i < fz.to; i++)
			fresh += fz.state[i] == FZ_FRESH;
		if (total != fresh)
			fz_fail("counts do not add up to the fresh records");
	}
	for (i = 0; i < 4; i++)
		free(buf[i]);
	fz.counted++;
}

static void
fz_check_errors(const char *const *p)
{
	static char *col[LOGCOL_ERR_COLS][LOGCOL_BATCH_MAX];
	char *buf[LOGCOL_ERR_COLS];
	size_t n[LOGCOL_ERR_COLS], i, k, row = fz.from;

	for (i = 0; i < LOGCOL_ERR_COLS; i++) {
		n[i] = fz_array(p[i], &buf[i], col[i], LOGCOL_BATCH_MAX);
		if (n[i] != n[0] || n[0] == 0)
			fz_fail("error arrays of different lengths, or empty");
	}
	for (i = 0; i < n[0]; i++) {
		const struct logcol_rec *r;
		for (k = 0; k < LOGCOL_ERR_COLS; k++)
			if (col[k][i] == NULL && k != 7 && k != 9)
				fz_fail("NULL in a NOT NULL error column");
		if (strcmp(col[1][i], "ERROR") != 0 && strcmp(col[1][i], "CRITICAL") != 0)
			fz_fail("error row level outside ('ERROR', 'CRITICAL')");
		if (strlen(col[2][i]) < 1 || strlen(col[2][i]) > 64)
			fz_fail("error row service length outside 1..64");
		if (col[7][i] != NULL && (util_parse_i64(col[7][i], INT32_MIN, INT32_MAX, &(int64_t){ 0 }) == -1))
			fz_fail("error row line outside integer");
		if (fz.loose)
			continue;
		while (row < fz.to && !(fz.state[row] == FZ_FRESH && fz.recs[row].level >= LOG_LVL_ERROR))
			row++;
		if (row == fz.to)
			fz_fail("more error rows than error records");
		r = &fz.recs[row++];
		if (!fz_num_is(col[0][i], r->ts_us) ||
		    strcmp(col[1][i], log_level_name((enum log_level)r->level)) != 0 ||
		    strcmp(col[2][i], r->service) != 0 || strcmp(col[3][i], r->logger) != 0 ||
		    strcmp(col[4][i], r->message) != 0 || strcmp(col[5][i], r->module) != 0 ||
		    strcmp(col[6][i], r->function) != 0 || strcmp(col[8][i], r->host) != 0 ||
		    strcmp(col[10][i], r->request_id) != 0)
			fz_fail("an error row differs from its record");
		if (r->line >= 0 && r->line <= INT32_MAX ? !fz_num_is(col[7][i], r->line) : col[7][i] != NULL)
			fz_fail("an error row's line differs from its record");
		if (r->process >= 0 ? !fz_num_is(col[9][i], r->process) : col[9][i] != NULL)
			fz_fail("an error row's process differs from its record");
	}
	if (!fz.loose && n[0] != fz.nerr)
		fz_fail("error rows missing");
	for (i = 0; i < LOGCOL_ERR_COLS; i++)
		free(buf[i]);
	fz.inserted++;
}

static void
fz_db(void *arg, size_t idx, const char *const *p, int n, struct fake_db_answer *a)
{
	static char next[24];
	int64_t part;
	int k;

	(void)arg;
	(void)n;
	if (idx <= 1) {	/* offset_get, offset_set: topic, partition first */
		if ((strcmp(p[0], fz_topics[0]) != 0 && strcmp(p[0], fz_topics[1]) != 0) ||
		    util_parse_i64(p[1], 0, 127, &part) == -1)
			fz_fail("offset statement for a partition the batch does not have");
		k = fz_key(p[0], (int32_t)part);
	}
	switch (idx) {
	case 0:		/* offset_get */
		if (fz.part_loaded[k]++)
			fz_fail("a partition's offset read twice in one transaction");
		a->ncols = 1;
		if (fz.part_next[k] >= 0) {
			snprintf(next, sizeof(next), "%lld", (long long)fz.part_next[k]);
			a->nrows = 1;
			a->cells[0] = next;
		}
		break;
	case 1:		/* offset_set */
		if (fz.part_set[k]++)
			fz_fail("a partition's offset written twice in one transaction");
		if (fz.part_last[k] < 0 || !fz_num_is(p[2], fz.part_last[k] + 1))
			fz_fail("a partition's offset not moved to one past its last new message");
		a->affected = 1;
		break;
	case 2:		/* insert */
		fz_check_errors(p);
		break;
	case 3:		/* count */
		fz_check_counts(p);
		break;
	default:
		fz_fail("a purge inside the store");
	}
}

/* Where the transaction starting at from must end: the longest run that
 * spans at most LOGCOL_PARTS_MAX partitions. */
static size_t
fz_cut(size_t from)
{
	int seen[FZ_NPART] = { 0 };
	size_t i, k = 0;

	for (i = from; i < fz.n; i++) {
		int key = fz_key(fz.msgs[i].topic, fz.msgs[i].partition);
		if (!seen[key]) {
			if (k == LOGCOL_PARTS_MAX)
				break;
			seen[key] = 1;
			k++;
		}
	}
	return i;
}

/* What the transaction over fz.from..fz.to must come to, from the records
 * themselves. */
static void
fz_expect(int64_t now_us)
{
	int64_t edge = now_us - FZ_RETENTION_S * 1000000;
	const char *why;
	size_t i, j;

	memset(fz.part_loaded, 0, sizeof(fz.part_loaded));
	memset(fz.part_set, 0, sizeof(fz.part_set));
	for (i = 0; i < FZ_NPART; i++)
		fz.part_last[i] = -1;
	fz.counted = fz.inserted = 0;
	fz.nwant = fz.nerr = 0;
	fz.loose = 0;
	for (i = fz.from; i < fz.to; i++) {
		struct logcol_rec *r = &fz.recs[i];
		int k = fz_key(fz.msgs[i].topic, fz.msgs[i].partition);

		if (fz.msgs[i].offset < (fz.part_next[k] < 0 ? 0 : fz.part_next[k])) {
			fz.state[i] = FZ_DUP;
			continue;
		}
		fz.part_last[k] = fz.msgs[i].offset;
		if (logcol_parse(fz.msgs[i].payload, fz.msgs[i].len, r, &why) == -1) {
			if (why == NULL)
				fz_fail("a refused record without a reason");
			fz.state[i] = FZ_BAD;
			continue;
		}
		if (why != NULL)
			fz_fail("a parsed record with a reason");
		if (r->ts_us > edge - 60000000 && r->ts_us < edge + 60000000)
			fz.loose = 1;
		if (logcol_expired(r->ts_us, now_us, FZ_RETENTION_S)) {
			fz.state[i] = FZ_EXPIRED;
			continue;
		}
		fz.state[i] = FZ_FRESH;
		fz.nerr += r->level >= LOG_LVL_ERROR;
		for (j = 0; j < fz.nwant; j++)
			if (fz.want[j].minute == logcol_minute(r->ts_us) && fz.want[j].level == r->level &&
			    strcmp(fz.want[j].service, r->service) == 0)
				break;
		if (j == fz.nwant) {
			fz.want[j].minute = logcol_minute(r->ts_us);
			fz.want[j].level = r->level;
			snprintf(fz.want[j].service, sizeof(fz.want[j].service), "%s", r->service);
			fz.want[j].n = 0;
			fz.nwant++;
		}
		fz.want[j].n++;
	}
}

/* Every string of a parsed record is terminated within its buffer and
 * valid UTF-8 (logcol.h's promise), the service a usable name. */
static void
fz_check_rec(const struct logcol_rec *r)
{
	const struct {
		const char *s;
		size_t cap;
	} f[] = {
		{ r->service, sizeof(r->service) }, { r->logger, sizeof(r->logger) },
		{ r->module, sizeof(r->module) }, { r->function, sizeof(r->function) },
		{ r->host, sizeof(r->host) }, { r->request_id, sizeof(r->request_id) },
		{ r->message, sizeof(r->message) },
	};
	size_t i;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		const char *nul = memchr(f[i].s, '\0', f[i].cap);
		if (nul == NULL || !util_utf8_valid(f[i].s, (size_t)(nul - f[i].s)))
			fz_fail("a record string not terminated or not UTF-8");
	}
	if (!logcol_service_ok(r->service) || r->level < LOG_LVL_DEBUG || r->level > LOG_LVL_CRITICAL)
		fz_fail("a record with a bad service or level");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("ESM_LOG_LEVEL", "critical", 0);
	log_init("fuzz_logcollector");
	return 0;
}

/* One transaction over fz.from..fz.to with a working database, checked. */
static void
fz_commit(struct logcol *lc)
{
	struct logcol_stats before = lc->st;
	size_t i, done, fresh = 0, bad = 0, dups = 0, expired = 0;

	fz_expect(util_now_us());
	if (logcol_store(lc, fz.msgs + fz.from, fz.n - fz.from, &done) != LOGCOL_OK)
		fz_fail("a batch the database accepts was not committed (it would be retried forever)");
	if (done != fz.to - fz.from)
		fz_fail("the transaction did not take the longest run of at most LOGCOL_PARTS_MAX partitions");
	for (i = 0; i < FZ_NPART; i++) {
		if ((fz.part_last[i] >= 0) != (fz.part_set[i] == 1))
			fz_fail("a partition with new messages whose offset was not stored");
		/* The database now holds the committed offsets. */
		if (fz.part_last[i] >= 0)
			fz.part_next[i] = fz.part_last[i] + 1;
	}
	for (i = fz.from; i < fz.to; i++) {
		fresh += fz.state[i] == FZ_FRESH;
		bad += fz.state[i] == FZ_BAD;
		dups += fz.state[i] == FZ_DUP;
		expired += fz.state[i] == FZ_EXPIRED;
		if (fz.state[i] == FZ_FRESH || fz.state[i] == FZ_EXPIRED)
			fz_check_rec(&fz.recs[i]);
	}
	if (lc->st.bad - before.bad != bad || lc->st.duplicates - before.duplicates != dups)
		fz_fail("bad or duplicate records miscounted");
	if (!fz.loose && (lc->st.records - before.records != fresh ||
	    lc->st.expired - before.expired != expired ||
	    lc->st.errors_stored - before.errors_stored != fz.nerr))
		fz_fail("records, expired or stored errors miscounted");
	if (!fz.loose && (fz.counted != (fresh > 0) || fz.inserted != (fz.nerr > 0)))
		fz_fail("a count upsert or error insert missing, or one too many");
	if (lc->st.batches - before.batches != 1)
		fz_fail("a committed batch not counted");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct logcol lc;
	struct logcol_stats before;
	size_t i, done, count[FZ_NPART] = { 0 };
	const char *p, *end;
	unsigned flags;

	if (size < 1)
		return 0;
	flags = data[0];
	/* Not a memset of fz: its records are megabytes, and each one used is
	 * written whole by logcol_parse. */
	fz.n = 0;
	for (i = 0; i < FZ_NPART; i++)
		fz.part_next[i] = flags & 4 ? -1 : FZ_BASE + (flags & 3);
	for (p = (const char *)data + 1, end = (const char *)data + size; p <= end && fz.n < LOGCOL_BATCH_MAX;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct logcol_msg *m = &fz.msgs[fz.n];
		unsigned meta;

		if (eol == NULL)
			eol = end;
		meta = eol > p ? (unsigned char)*p : 0;
		m->topic = fz_topics[meta >> 7];
		m->partition = (int32_t)(meta & 0x7f);
		m->offset = FZ_BASE + (int64_t)count[fz_key(m->topic, m->partition)]++;
		m->payload = eol > p ? p + 1 : "";
		m->len = eol > p ? (size_t)(eol - p - 1) : 0;
		fz.n++;
		p = eol + 1;
	}
	if (lc.d == NULL) {
		if ((lc.d = db_open("", logcol_stmts, logcol_nstmts, 0)) == NULL)
			fz_fail("out of memory");
		lc.retention_s = FZ_RETENTION_S;
	}
	fake_db.fn = fz_db;
	fake_db.arg = NULL;
	fz.from = 0;
	fz.to = fz_cut(0);

	if (flags & 8) {
		/* The first transaction fails at some statement: nothing of it
		 * may count, and it must commit whole on the retry. */
		before = lc.st;
		fake_db.fail_at = (int)(flags >> 4) + 1;
		fz_expect(util_now_us());
		if (logcol_store(&lc, fz.msgs, fz.n, &done) == LOGCOL_OK) {
			fake_db.fail_at = 0;	/* it fell after the last statement */
			return 0;
		}
		fake_db.fail_at = 0;
		before.db_fail++;
		if (done != 0 || memcmp(&before, &lc.st, sizeof(before)) != 0)
			fz_fail("a failed batch claimed messages or changed the statistics beyond db_fail");
	}
	/* As main.c: transactions until the batch is taken. */
	while (fz.from < fz.n) {
		fz_commit(&lc);
		fz.from = fz.to;
		fz.to = fz_cut(fz.from);
	}
	return 0;
}
