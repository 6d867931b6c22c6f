/*
 * handle.c: log records to the log monitor's database (see logcol.h). No
 * Kafka types here: the messages arrive as plain views.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "log.h"
#include "logcol.h"
#include "logship.h"

enum {
	LC_OFFSET_GET,
	LC_OFFSET_SET,
	LC_INSERT,
	LC_COUNT,
	LC_PURGE_ERRORS,
	LC_PURGE_COUNTS,
	LC_COUNT_
};

const struct db_stmt logcol_stmts[] = {
	/* Locks the partition's row: two collectors never interleave on it. */
	[LC_OFFSET_GET] = { "offset_get",
	    "SELECT next_offset FROM log_offsets WHERE topic = $1 AND part = $2::int FOR UPDATE", 0 },
	[LC_OFFSET_SET] = { "offset_set",
	    "INSERT INTO log_offsets (topic, part, next_offset) VALUES ($1, $2::int, $3::bigint) "
	    "ON CONFLICT (topic, part) DO UPDATE SET next_offset = "
	    "greatest(log_offsets.next_offset, EXCLUDED.next_offset)", 0 },
	[LC_INSERT] = { "insert",
	    "INSERT INTO error_logs (ts, level, service, logger, message, module, function, line, "
	    "host, process, request_id) SELECT to_timestamp(t / 1000000.0), lv, s, lg, m, mo, f, li, "
	    "h, p, r FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], "
	    "$6::text[], $7::text[], $8::int[], $9::text[], $10::bigint[], $11::text[]) "
	    "AS u(t, lv, s, lg, m, mo, f, li, h, p, r)", 0 },
	[LC_COUNT] = { "count",
	    "INSERT INTO log_counts (minute, service, level, n) SELECT to_timestamp(mi), s, lv, n "
	    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[]) AS u(mi, s, lv, n) "
	    "ON CONFLICT (minute, service, level) DO UPDATE SET n = log_counts.n + EXCLUDED.n", 0 },
	[LC_PURGE_ERRORS] = { "purge_errors",
	    "DELETE FROM error_logs WHERE ts < now() - make_interval(secs => $1::bigint)", 0 },
	[LC_PURGE_COUNTS] = { "purge_counts",
	    "DELETE FROM log_counts WHERE minute < now() - make_interval(secs => $1::bigint)", 0 },
};
const size_t logcol_nstmts = LC_COUNT_;

int
logcol_count_add(struct logcol_count *tab, size_t *n, size_t cap, int64_t minute,
    const char *service, int level)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (tab[i].minute == minute && tab[i].level == level &&
		    strcmp(tab[i].service, service) == 0) {
			tab[i].n++;
			return 0;
		}
	if (*n >= cap)
		return -1;
	tab[*n].minute = minute;
	snprintf(tab[*n].service, sizeof(tab[*n].service), "%s", service);
	tab[*n].level = level;
	tab[*n].n = 1;
	(*n)++;
	return 0;
}

int
logcol_array_add(buf_t *b, const char *s)
{
	const char *p;

	if (b->len > 1 && buf_puts(b, ",") == -1)
		return -1;
	if (s == NULL)
		return buf_puts(b, "NULL");
	if (buf_puts(b, "\"") == -1)
		return -1;
	for (p = s; *p != '\0'; p++) {
		size_t run = strcspn(p, "\"\\");
		if (run > 0 && buf_append(b, p, run) == -1)
			return -1;
		p += run;
		if (*p == '\0')
			break;
		if (buf_append(b, "\\", 1) == -1 || buf_append(b, p, 1) == -1)
			return -1;
	}
	return buf_puts(b, "\"");
}

void
logcol_free(struct logcol *lc)
{
	size_t i;

	for (i = 0; i < LOGCOL_ERR_COLS; i++)
		buf_free(&lc->cols[i]);
	for (i = 0; i < 4; i++)
		buf_free(&lc->ccols[i]);
}

int64_t
logcol_minute(int64_t us)
{
	int64_t s = us / 1000000;

	if (us < 0 && us % 1000000 != 0)
		s--;
	return s - ((s % 60) + 60) % 60;
}

int
logcol_expired(int64_t ts_us, int64_t now_us, int64_t retention_s)
{
	return ts_us < now_us - retention_s * 1000000;
}

int
logcol_service_ok(const char *s)
{
	size_t i, n = s != NULL ? strlen(s) : 0;

	if (n == 0 || n > LOGCOL_SERVICE_CAP)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* Copies at most cap bytes of src into dst (cap + 1 bytes), cut at a
 * character boundary. */
static void
lc_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n > cap)
		n = cap;
	memcpy(dst, src != NULL ? src : "", n);
	while (n > 0 && !util_utf8_valid(dst, n))
		n--;
	dst[n] = '\0';
}

/* Optional string member: "" when absent; -1 when present but not a string. */
static int
lc_str(const cJSON *o, const char *name, char *dst, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (v == NULL || cJSON_IsNull(v)) {
		dst[0] = '\0';
		return 0;
	}
	if (!cJSON_IsString(v))
		return -1;
	lc_copy(dst, cap, v->valuestring);
	return 0;
}

/* Optional integer member (number, or a decimal string); -1 when absent. */
static int
lc_int(const cJSON *o, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*out = -1;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 0 || v->valuedouble > 9.0e15 ||
		    v->valuedouble != (double)(int64_t)v->valuedouble)
			return -1;
		*out = (int64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v))
		return util_parse_i64(v->valuestring, 0, INT64_MAX / 2, out);
	return -1;
}

int
logcol_parse(const char *json, size_t len, struct logcol_rec *out, const char **why)
{
	cJSON *o = NULL;
	const cJSON *v;
	const char *jwhy;
	int rc = -1, lvl;

	*why = "not a JSON object";
	memset(out, 0, sizeof(*out));
	if (json_parse_strict(json, len, 4, &o, &jwhy) == -1 || !cJSON_IsObject(o))
		goto out;
	*why = "timestamp missing or not RFC 3339";
	v = cJSON_GetObjectItemCaseSensitive(o, "timestamp");
	if (!cJSON_IsString(v) || logship_ts_parse(v->valuestring, &out->ts_us) == -1)
		goto out;
	*why = "level missing or unknown";
	v = cJSON_GetObjectItemCaseSensitive(o, "level");
	if (!cJSON_IsString(v))
		goto out;
	if ((lvl = log_level_parse(v->valuestring)) < 0) {
		if (strcasecmp(v->valuestring, "fatal") != 0)
			goto out;
		lvl = LOG_LVL_CRITICAL;
	}
	out->level = lvl;
	*why = "service missing or not 1-64 of [A-Za-z0-9_.-]";
	v = cJSON_GetObjectItemCaseSensitive(o, "service");
	if (!cJSON_IsString(v) || !logcol_service_ok(v->valuestring))
		goto out;
	lc_copy(out->service, LOGCOL_SERVICE_CAP, v->valuestring);
	*why = "message missing";
	v = cJSON_GetObjectItemCaseSensitive(o, "message");
	if (!cJSON_IsString(v))
		goto out;
	lc_copy(out->message, LOGCOL_MSG_CAP, v->valuestring);
	*why = "a field has the wrong type";
	if (lc_str(o, "logger", out->logger, LOGCOL_FIELD_CAP) == -1 ||
	    lc_str(o, "module", out->module, LOGCOL_FIELD_CAP) == -1 ||
	    lc_str(o, "function", out->function, LOGCOL_FIELD_CAP) == -1 ||
	    lc_str(o, "host", out->host, LOGCOL_FIELD_CAP) == -1 ||
	    lc_str(o, "requestId", out->request_id, LOGCOL_RID_CAP) == -1 ||
	    lc_int(o, "line", &out->line) == -1 || lc_int(o, "process", &out->process) == -1)
		goto out;
	*why = NULL;
	rc = 0;
out:
	cJSON_Delete(o);
	return rc;
}

/* Starts the array literals of nb buffers. 0 / -1. */
static int
lc_arrays_begin(buf_t *b, size_t nb)
{
	size_t i;

	for (i = 0; i < nb; i++) {
		buf_reset(&b[i]);
		if (buf_puts(&b[i], "{") == -1)
			return -1;
	}
	return 0;
}

static int
lc_arrays_end(buf_t *b, size_t nb)
{
	size_t i;

	for (i = 0; i < nb; i++)
		if (buf_puts(&b[i], "}") == -1)
			return -1;
	return 0;
}

size_t
logcol_batch_cut(const struct logcol_msg *msgs, size_t n)
{
	const struct logcol_msg *seen[LOGCOL_PARTS_MAX];
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < k; j++)
			if (seen[j]->partition == msgs[i].partition &&
			    strcmp(seen[j]->topic, msgs[i].topic) == 0)
				break;
		if (j == k) {
			if (k == LOGCOL_PARTS_MAX)
				return i;
			seen[k++] = &msgs[i];
		}
	}
	return n;
}

/* The batch's entry of the message's partition; NULL when there are too
 * many partitions in one batch, which logcol_batch_cut prevents. */
static struct logcol_part *
lc_part(struct logcol *lc, const struct logcol_msg *m)
{
	size_t i;

	for (i = 0; i < lc->nparts; i++)
		if (lc->parts[i].partition == m->partition && strcmp(lc->parts[i].topic, m->topic) == 0)
			return &lc->parts[i];
	if (lc->nparts >= LOGCOL_PARTS_MAX)
		return NULL;
	lc->parts[lc->nparts] = (struct logcol_part){ m->topic, m->partition, -1, -1 };
	return &lc->parts[lc->nparts++];
}

/* Reads (and locks) the stored next offset of p. DB_OK or a failure class. */
static int
lc_part_load(struct logcol *lc, struct logcol_part *p)
{
	char part[16];
	const char *prm[2] = { p->topic, part };
	db_res *res = NULL;
	int rc;

	snprintf(part, sizeof(part), "%d", (int)p->partition);
	if ((rc = db_exec(lc->d, LC_OFFSET_GET, prm, 2, &res)) != DB_OK)
		return rc;
	p->next = 0;
	if (db_nrows(res) > 0 && util_parse_i64(db_get(res, 0, 0), 0, INT64_MAX, &p->next) == -1)
		p->next = 0;
	db_res_free(res);
	return DB_OK;
}

/* Adds one parsed error record to the INSERT's array literals. 0 / -1. */
static int
lc_add_error(struct logcol *lc, const struct logcol_rec *r)
{
	char ts[24], line[24], proc[24];
	const char *v[LOGCOL_ERR_COLS];
	size_t i;

	snprintf(ts, sizeof(ts), "%lld", (long long)r->ts_us);
	snprintf(line, sizeof(line), "%lld", (long long)r->line);
	snprintf(proc, sizeof(proc), "%lld", (long long)r->process);
	v[0] = ts;
	v[1] = log_level_name((enum log_level)r->level);
	v[2] = r->service;
	v[3] = r->logger;
	v[4] = r->message;
	v[5] = r->module;
	v[6] = r->function;
	v[7] = r->line >= 0 && r->line <= INT32_MAX ? line : NULL;
	v[8] = r->host;
	v[9] = r->process >= 0 ? proc : NULL;
	v[10] = r->request_id;
	for (i = 0; i < LOGCOL_ERR_COLS; i++)
		if (logcol_array_add(&lc->cols[i], v[i]) == -1)
			return -1;
	return 0;
}

/* Looks at every message of the batch: duplicates, bad and expired ones
 * are counted and skipped, the rest summed and (errors) queued for the
 * INSERT. Partitions are loaded on first sight. DB_OK or a failure class. */
static int
lc_scan(struct logcol *lc, const struct logcol_msg *msgs, size_t n, int64_t now_us,
    size_t *nerr)
{
	struct logcol_rec *r = &lc->rec;
	struct logcol_part *p;
	const char *why;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		const struct logcol_msg *m = &msgs[i];
		if ((p = lc_part(lc, m)) == NULL)
			return DB_ERROR;
		if (p->next < 0 && (rc = lc_part_load(lc, p)) != DB_OK)
			return rc;
		if (m->offset < p->next) {
			lc->st.duplicates++;
			continue;
		}
		if (m->offset > p->max)
			p->max = m->offset;
		if (logcol_parse(m->payload, m->len, r, &why) == -1) {
			lc->st.bad++;
			log_warn("skipping log record at %s/%d@%lld: %s", m->topic, (int)m->partition,
			    (long long)m->offset, why);
			continue;
		}
		if (logcol_expired(r->ts_us, now_us, lc->retention_s)) {
			lc->st.expired++;
			continue;
		}
		lc->st.records++;
		if (logcol_count_add(lc->counts, &lc->ncounts, LOGCOL_BATCH_MAX,
		    logcol_minute(r->ts_us), r->service, r->level) == -1)
			return DB_ERROR;
		if (r->level >= LOG_LVL_ERROR) {
			if (lc_add_error(lc, r) == -1)
				return DB_ERROR;
			(*nerr)++;
		}
	}
	return DB_OK;
}

/* Writes what lc_scan gathered. DB_OK or a failure class. */
static int
lc_write(struct logcol *lc, size_t nerr)
{
	char part[16], next[24], num[24];
	const char *prm[LOGCOL_ERR_COLS];
	size_t i;
	int rc;

	for (i = 0; i < lc->nparts; i++) {
		const struct logcol_part *p = &lc->parts[i];
		if (p->max < 0)
			continue;
		snprintf(part, sizeof(part), "%d", (int)p->partition);
		snprintf(next, sizeof(next), "%lld", (long long)p->max + 1);
		prm[0] = p->topic;
		prm[1] = part;
		prm[2] = next;
		if ((rc = db_exec(lc->d, LC_OFFSET_SET, prm, 3, NULL)) != DB_OK)
			return rc;
	}
	if (lc->ncounts > 0) {
		if (lc_arrays_begin(lc->ccols, 4) == -1)
			return DB_ERROR;
		for (i = 0; i < lc->ncounts; i++) {
			const struct logcol_count *c = &lc->counts[i];
			char n[24];
			snprintf(num, sizeof(num), "%lld", (long long)c->minute);
			snprintf(n, sizeof(n), "%lld", (long long)c->n);
			if (logcol_array_add(&lc->ccols[0], num) == -1 ||
			    logcol_array_add(&lc->ccols[1], c->service) == -1 ||
			    logcol_array_add(&lc->ccols[2], log_level_name((enum log_level)c->level)) == -1 ||
			    logcol_array_add(&lc->ccols[3], n) == -1)
				return DB_ERROR;
		}
		if (lc_arrays_end(lc->ccols, 4) == -1)
			return DB_ERROR;
		for (i = 0; i < 4; i++)
			prm[i] = lc->ccols[i].p;
		if ((rc = db_exec(lc->d, LC_COUNT, prm, 4, NULL)) != DB_OK)
			return rc;
	}
	if (nerr > 0) {
		if (lc_arrays_end(lc->cols, LOGCOL_ERR_COLS) == -1)
			return DB_ERROR;
		for (i = 0; i < LOGCOL_ERR_COLS; i++)
			prm[i] = lc->cols[i].p;
		if ((rc = db_exec(lc->d, LC_INSERT, prm, LOGCOL_ERR_COLS, NULL)) != DB_OK)
			return rc;
	}
	return DB_OK;
}

enum logcol_result
logcol_store(struct logcol *lc, const struct logcol_msg *msgs, size_t n, size_t *done)
{
	struct logcol_stats before = lc->st;
	size_t nerr = 0;
	int rc;

	/* More partitions than one transaction tracks would fail the batch
	 * on every retry: take what fits, the caller comes back for the rest. */
	*done = 0;
	n = logcol_batch_cut(msgs, n);
	lc->ncounts = lc->nparts = 0;
	if (lc_arrays_begin(lc->cols, LOGCOL_ERR_COLS) == -1) {
		rc = DB_ERROR;
		goto fail;
	}
	if ((rc = db_begin(lc->d)) != DB_OK ||
	    (rc = lc_scan(lc, msgs, n, util_now_us(), &nerr)) != DB_OK ||
	    (rc = lc_write(lc, nerr)) != DB_OK ||
	    (rc = db_commit(lc->d)) != DB_OK)
		goto fail;
	lc->st.errors_stored += nerr;
	lc->st.batches++;
	*done = n;
	return LOGCOL_OK;
fail:
	db_rollback(lc->d);
	/* Nothing of the batch was kept: neither are its counts. */
	before.db_fail = lc->st.db_fail + 1;
	lc->st = before;
	return LOGCOL_RETRY;
}

int
logcol_purge(struct logcol *lc)
{
	char secs[24];
	const char *p[1] = { secs };
	db_res *res = NULL;

	snprintf(secs, sizeof(secs), "%lld", (long long)lc->retention_s);
	if (db_exec(lc->d, LC_PURGE_ERRORS, p, 1, &res) != DB_OK)
		return -1;
	lc->st.purged += (uint64_t)db_affected(res);
	db_res_free(res);
	if (db_exec(lc->d, LC_PURGE_COUNTS, p, 1, NULL) != DB_OK)
		return -1;
	return 0;
}
