/*
 * fuzz_relay.c: what the relay takes from outside. Its outbox rows are its
 * own database's; what it does not control are the delivery reports (an
 * error code and librdkafka's error text, which can quote a broker) and
 * what it makes of them: the last_error text kept per row and the id lists
 * of the statements that mark rows sent or failed.
 *
 * Input: a byte n (rows: n % 32 + 1), then reports of 4 + len bytes: row
 * index, error code (int16, little endian; 0 is success), len (255: NULL
 * text), then len bytes of error text (up to the first NUL, as a C string).
 *
 * Checked, each by abort(): every last_error is terminated, at most
 * RELAY_ERR_CAP bytes, control-free UTF-8, the report's text (control
 * characters as spaces) cut only where a character or invalid UTF-8 made
 * it; every row ends in one state; the sent list and the per-error failed
 * lists are well-formed bigint[] literals that name each reported row
 * exactly once; the outcome and sleep follow from the counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/relay/relay.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_ROWS 32

static void fz_fail(const char *what) __attribute__((noreturn));

static void
fz_fail(const char *what)
{
	fprintf(stderr, "fuzz_relay: %s\n", what);
	abort();
}

static int64_t
fz_id(size_t i)
{
	return 1000 + (int64_t)i * 7;
}

/* Reads "{id,id,...}" and marks each id's row in seen[]. Count, or abort. */
static int
fz_ids(const char *s, size_t n, int seen[FZ_ROWS])
{
	int k = 0;

	if (*s++ != '{')
		fz_fail("id list without {");
	if (*s == '}' && s[1] == '\0')
		return 0;
	for (;;) {
		char *end;
		long long v;
		size_t i;

		if (*s < '1' || *s > '9')
			fz_fail("id list element not a positive decimal");
		v = strtoll(s, &end, 10);
		for (i = 0; i < n && fz_id(i) != v; i++)
			;
		if (i == n)
			fz_fail("id list names a row that is not in the batch");
		if (seen[i]++)
			fz_fail("a row named twice in the marking statements");
		k++;
		s = end;
		if (*s == '}' && s[1] == '\0')
			return k;
		if (*s++ != ',')
			fz_fail("id list elements not separated by commas");
	}
}

static void
fz_check_errmsg(const struct relay_row *row, const char *src)
{
	const char *nul = memchr(row->errmsg, '\0', sizeof(row->errmsg));
	size_t len, m, i;

	if (nul == NULL)
		fz_fail("last_error not terminated");
	len = (size_t)(nul - row->errmsg);
	if (len > RELAY_ERR_CAP || !util_utf8_valid(row->errmsg, len) || util_has_ctrl(row->errmsg, len))
		fz_fail("last_error too long, not UTF-8, or with control characters");
	if (src == NULL)
		src = "";
	m = strnlen(src, RELAY_ERR_CAP);
	if (len > m)
		fz_fail("last_error longer than the report's text");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		if (row->errmsg[i] != (c < 0x20 || c == 0x7f ? ' ' : src[i]))
			fz_fail("last_error is not the report's text");
	}
	/* Cut short only for a split or invalid character. */
	if (len < m && util_utf8_valid(src, m))
		fz_fail("valid text cut short");
	if (len + 3 < m && util_utf8_valid(src, len + 4))
		fz_fail("text cut before a character that was whole");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("ESM_LOG_LEVEL", "critical", 0);
	log_init("fuzz_relay");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct relay_row rows[FZ_ROWS];
	static int last_err[FZ_ROWS];
	static buf_t lit;
	int seen[FZ_ROWS] = { 0 }, backoff, k, ms;
	size_t n, i, j, pos, nsent, nfailed, nqueued, named;

	if (size < 1)
		return 0;
	n = (size_t)data[0] % FZ_ROWS + 1;
	for (i = 0; i < n; i++) {
		memset(&rows[i], 0, sizeof(rows[i]));
		rows[i].id = fz_id(i);
		rows[i].st = RELAY_QUEUED;
	}
	relay_on_delivery(NULL, 1, "no row", NULL);	/* must be ignored */
	for (pos = 1; pos + 4 <= size;) {
		struct relay_row *row = &rows[data[pos] % n];
		int err = (int16_t)(data[pos + 1] | data[pos + 2] << 8);
		size_t len = data[pos + 3];
		char *text = NULL;

		pos += 4;
		if (len != 255) {
			if (len > size - pos)
				len = size - pos;
			if ((text = strndup((const char *)data + pos, len)) == NULL)
				fz_fail("out of memory");
			pos += len;
		}
		relay_on_delivery(row, err, text, NULL);
		if (err == 0 ? row->st != RELAY_SENT : row->st != RELAY_FAILED || row->err != err)
			fz_fail("a report left the row in the wrong state");
		if (err != 0)
			fz_check_errmsg(row, text);
		last_err[row - rows] = err;
		free(text);
	}

	nsent = relay_count(rows, n, RELAY_SENT);
	nfailed = relay_count(rows, n, RELAY_FAILED);
	nqueued = relay_count(rows, n, RELAY_QUEUED);
	if (nsent + nfailed + nqueued != n)
		fz_fail("rows in no state");
	if ((k = relay_ids_literal(&lit, rows, n, RELAY_SENT, 0)) < 0 || (size_t)k != nsent ||
	    buf_puts(&lit, "") == -1 || fz_ids(lit.p, n, seen) != k)
		fz_fail("the sent list does not name the sent rows");
	named = (size_t)k;
	for (i = 0; i < n; i++) {
		if (!relay_failed_group_head(rows, i))
			continue;
		for (j = 0; j < i; j++)
			if (rows[j].st == RELAY_FAILED && rows[j].err == rows[i].err)
				fz_fail("two group heads for one error");
		if ((k = relay_ids_literal(&lit, rows, n, RELAY_FAILED, rows[i].err)) < 1 ||
		    buf_puts(&lit, "") == -1 || fz_ids(lit.p, n, seen) != k)
			fz_fail("a failed list does not name its rows");
		named += (size_t)k;
	}
	if (named != nsent + nfailed)
		fz_fail("a reported row missing from the marking statements");
	for (i = 0; i < n; i++)
		if ((rows[i].st == RELAY_QUEUED) == (seen[i] != 0) ||
		    (rows[i].st == RELAY_FAILED && rows[i].err != last_err[i]))
			fz_fail("a row marked that was not reported, or with another's error");

	/* What the batch comes to, for a batch limit of n and of n + 1. */
	for (j = n; j <= n + 1; j++) {
		enum relay_outcome oc = relay_outcome_of(n, j, nsent);
		/* Nothing delivered: Kafka failed. Something delivered: look
		 * again at once, whether the batch was full or not (rows that
		 * came meanwhile wait no poll interval). */
		if ((oc == RELAY_KAFKA) != (nsent == 0) || (oc == RELAY_FULL) != (nsent > 0 && j == n) ||
		    (oc == RELAY_MOVED) != (nsent > 0 && j > n))
			fz_fail("outcome does not follow from the counts");
		backoff = (int)(size % 7) * 1000;
		ms = relay_sleep_ms(oc, &backoff, 250);
		if (oc == RELAY_KAFKA ? (ms < RELAY_BACKOFF_MIN_MS || ms > RELAY_BACKOFF_MAX_MS ||
		    ms != backoff) : (backoff != 0 || ms != 0))
			fz_fail("sleep or backoff out of bounds");
	}
	return 0;
}
