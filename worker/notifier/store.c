/*
 * store.c: the notifier's database side: the statement table, a batch's
 * transaction (in order: projection changes one by one, runs of plain
 * notifications in one multi-row insert each), the mail delivery pass, and
 * the pass that ends mail whose user never became known.
 *
 * A deleted user's mail is never sent: user_deleted ends the user's
 * pending mail in the transaction that records the deletion, and a
 * notification for a user already deleted is written undeliverable, so no
 * later address (a late user_registered) can revive either.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "mail.h"
#include "notifier.h"

/* An email notification for user u that the projection knows is deleted. */
#define GONE(chan, u) "(" chan " = 'email' AND EXISTS (SELECT 1 FROM notifier_users g " \
	"WHERE g.user_id = " u " AND g.deleted))"
#define GONE_WHY "'recipient deleted'"

const struct db_stmt notifier_stmts[NS_COUNT_] = {
	/* A replayed user_registered never resurrects a deleted user. */
	[NS_USER_UPSERT] = { "user_upsert",
	    "INSERT INTO notifier_users (user_id, username, email) VALUES ($1::bigint, $2, $3) "
	    "ON CONFLICT (user_id) DO UPDATE SET username = EXCLUDED.username, "
	    "email = EXCLUDED.email, updated_at = now() WHERE NOT notifier_users.deleted", 0 },
	/* Task notifications that arrived before the user's address. */
	[NS_USER_FILL] = { "user_fill",
	    "UPDATE notifications SET recipient_email = $2 WHERE user_id = $1::bigint "
	    "AND recipient_email IS NULL AND status = 'pending' AND channel = 'email'", 0 },
	[NS_USER_DELETE] = { "user_delete",
	    "INSERT INTO notifier_users (user_id, username, deleted) VALUES ($1::bigint, NULLIF($2, ''), true) "
	    "ON CONFLICT (user_id) DO UPDATE SET deleted = true, email = NULL, updated_at = now()", 0 },
	/* With NS_USER_DELETE: the user's mail still waiting is not sent. */
	[NS_USER_END] = { "user_end",
	    "UPDATE notifications SET status = 'undeliverable', last_error = " GONE_WHY ", "
	    "mail_secret = NULL WHERE user_id = $1::bigint AND status = 'pending' AND channel = 'email'", 0 },
	[NS_INSERT] = { "insert",
	    "INSERT INTO notifications (event_id, event_type, user_id, recipient_email, subject, "
	    "message, channel, status, sent_at, source_topic, mail_secret, last_error) VALUES ($1::uuid, "
	    "$2, $3::bigint, "
	    "COALESCE($4, (SELECT email FROM notifier_users WHERE user_id = $3::bigint AND NOT deleted)), "
	    "$5, $6, $7, CASE WHEN " GONE("$7", "$3::bigint") " THEN 'undeliverable' ELSE $8 END, "
	    "CASE WHEN $8 = 'sent' THEN now() END, $9, "
	    "CASE WHEN " GONE("$7", "$3::bigint") " THEN NULL ELSE $10 END, "
	    "CASE WHEN " GONE("$7", "$3::bigint") " THEN " GONE_WHY " END) "
	    "ON CONFLICT (event_id) DO NOTHING", 0 },
	/* NS_INSERT for a run of events at once: one round trip instead of one
	 * per event. Arrays in the order of notifier_pg_array's callers. */
	[NS_INSERT_MANY] = { "insert_many",
	    "INSERT INTO notifications (event_id, event_type, user_id, recipient_email, subject, "
	    "message, channel, status, sent_at, source_topic, last_error) SELECT x.e, x.t, x.u, "
	    "COALESCE(x.m, (SELECT email FROM notifier_users WHERE user_id = x.u AND NOT deleted)), "
	    "x.s, x.b, x.c, CASE WHEN " GONE("x.c", "x.u") " THEN 'undeliverable' ELSE x.st END, "
	    "CASE WHEN x.st = 'sent' THEN now() END, x.tp, "
	    "CASE WHEN " GONE("x.c", "x.u") " THEN " GONE_WHY " END "
	    "FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], "
	    "$7::text[], $8::text[], $9::text[]) AS x(e, t, u, m, s, b, c, st, tp) "
	    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id::text", 0 },
	[NS_DUE] = { "due",
	    "SELECT id, recipient_email, subject, message || COALESCE(E'\\n\\n' || mail_secret || "
	    "E'\\n', ''), attempts FROM notifications "
	    "WHERE status = 'pending' AND channel = 'email' AND recipient_email IS NOT NULL "
	    "AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $1::int "
	    "FOR UPDATE SKIP LOCKED", 0 },
	[NS_SENT] = { "sent",
	    "UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = now(), "
	    "last_error = NULL, mail_secret = NULL WHERE id = $1::bigint", 0 },
	[NS_RETRY] = { "retry",
	    "UPDATE notifications SET attempts = attempts + 1, last_error = $2, "
	    "next_attempt_at = now() + $3::int * interval '1 millisecond' WHERE id = $1::bigint", 0 },
	[NS_FAIL] = { "fail",
	    "UPDATE notifications SET status = 'failed', attempts = attempts + 1, last_error = $2, "
	    "mail_secret = NULL WHERE id = $1::bigint", 0 },
	/* On the partial index notifications_no_recipient. */
	[NS_EXPIRE] = { "expire",
	    "UPDATE notifications SET status = 'undeliverable', mail_secret = NULL, "
	    "last_error = format('no recipient address: no user event for user %s within %s s', "
	    "user_id, $1::int) WHERE status = 'pending' AND channel = 'email' AND "
	    "recipient_email IS NULL AND created_at <= now() - $1::int * interval '1 second'", 0 },
};

/* The statements of one event inside the caller's transaction. */
static int
store_one(db *d, const struct notifier_item *it, int *inserted)
{
	const struct notifier_event *ev = &it->ev;
	const struct notifier_note *n = &it->note;
	char uid[24];
	const char *pu[3] = { uid, ev->username, ev->email };
	db_res *res = NULL;
	int rc;

	*inserted = 0;
	snprintf(uid, sizeof(uid), "%lld", (long long)ev->user_id);
	if (ev->kind == NK_USER_REGISTERED) {
		const char *pf[2] = { uid, ev->email };
		if ((rc = db_exec(d, NS_USER_UPSERT, pu, 3, NULL)) != DB_OK ||
		    (rc = db_exec(d, NS_USER_FILL, pf, 2, NULL)) != DB_OK)
			return rc;
	} else if (ev->kind == NK_USER_DELETED) {
		if ((rc = db_exec(d, NS_USER_DELETE, pu, 2, NULL)) != DB_OK ||
		    (rc = db_exec(d, NS_USER_END, pu, 1, NULL)) != DB_OK)
			return rc;
	}
	if (n->write) {
		const char *p[10] = { ev->event_id, ev->type, ev->user_id ? uid : NULL, n->email,
			n->subject, n->message, n->channel, n->status, it->topic, n->secret };
		if ((rc = db_exec(d, NS_INSERT, p, 10, &res)) != DB_OK)
			return rc;
		*inserted = db_affected(res) == 1;
		db_res_free(res);
	}
	return DB_OK;
}

int
notifier_pg_array(buf_t *b, const char *const *v, size_t n)
{
	size_t i;
	const char *c;

	buf_reset(b);
	if (buf_puts(b, "{") == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && buf_puts(b, ",") == -1)
			return -1;
		if (v[i] == NULL) {
			if (buf_puts(b, "NULL") == -1)
				return -1;
			continue;
		}
		if (buf_puts(b, "\"") == -1)
			return -1;
		for (c = v[i]; *c != '\0'; c++)
			if (((*c == '"' || *c == '\\') && buf_puts(b, "\\") == -1) ||
			    buf_append(b, c, 1) == -1)
				return -1;
		if (buf_puts(b, "\"") == -1)
			return -1;
	}
	return buf_puts(b, "}");
}

/* 1 when the item's whole write is its notification row, so it can share
 * one multi-row insert with its neighbours. */
static int
store_plain(const struct notifier_item *it)
{
	return it->parsed && it->note.write && it->ev.kind != NK_USER_REGISTERED &&
	    it->ev.kind != NK_USER_DELETED && it->note.secret == NULL;
}

/* Inserts the notifications of it[idx[0..k)] with one statement and marks
 * the ones that were new (a replayed or repeated eventId is not). */
static int
store_run(db *d, struct notifier_item *it, const size_t *idx, size_t k)
{
	enum { C_EV, C_TYPE, C_UID, C_MAIL, C_SUBJ, C_MSG, C_CHAN, C_STAT, C_TOPIC, C_N };
	static char uids[NOTIFIER_RUN_MAX][24];
	const char *col[C_N][NOTIFIER_RUN_MAX], *prm[C_N];
	buf_t arr[C_N];
	db_res *res = NULL;
	size_t i, j, c;
	int rc = DB_ERROR, r;

	memset(arr, 0, sizeof(arr));
	for (i = 0; i < k; i++) {
		const struct notifier_item *x = &it[idx[i]];
		snprintf(uids[i], sizeof(uids[i]), "%lld", (long long)x->ev.user_id);
		col[C_EV][i] = x->ev.event_id;
		col[C_TYPE][i] = x->ev.type;
		col[C_UID][i] = x->ev.user_id ? uids[i] : NULL;
		col[C_MAIL][i] = x->note.email;
		col[C_SUBJ][i] = x->note.subject;
		col[C_MSG][i] = x->note.message;
		col[C_CHAN][i] = x->note.channel;
		col[C_STAT][i] = x->note.status;
		col[C_TOPIC][i] = x->topic;
	}
	for (c = 0; c < C_N; c++) {
		if (notifier_pg_array(&arr[c], col[c], k) == -1)
			goto out;
		prm[c] = arr[c].p;
	}
	if ((rc = db_exec(d, NS_INSERT_MANY, prm, C_N, &res)) != DB_OK)
		goto out;
	for (r = 0; r < db_nrows(res); r++)
		for (j = 0; j < k; j++)
			if (!it[idx[j]].inserted &&
			    strcasecmp(it[idx[j]].ev.event_id, db_get(res, r, 0)) == 0) {
				it[idx[j]].inserted = 1;
				break;
			}
out:
	db_res_free(res);
	for (c = 0; c < C_N; c++)
		buf_free(&arr[c]);
	return rc;
}

int
notifier_store(db *d, struct notifier_item *items, size_t n)
{
	size_t i, run[NOTIFIER_RUN_MAX], k = 0;
	int rc;

	for (i = 0; i < n; i++)
		items[i].inserted = 0;
	if ((rc = db_begin(d)) != DB_OK)
		return rc;
	/* In order: a run of plain notifications goes out before the next
	 * projection change, which later notifications may read. */
	for (i = 0; i < n; i++) {
		if (store_plain(&items[i])) {
			run[k++] = i;
			if (k == NOTIFIER_RUN_MAX) {
				if ((rc = store_run(d, items, run, k)) != DB_OK)
					goto fail;
				k = 0;
			}
			continue;
		}
		if (!items[i].parsed)
			continue;
		if (k > 0 && (rc = store_run(d, items, run, k)) != DB_OK)
			goto fail;
		k = 0;
		if ((rc = store_one(d, &items[i], &items[i].inserted)) != DB_OK)
			goto fail;
	}
	if (k > 0 && (rc = store_run(d, items, run, k)) != DB_OK)
		goto fail;
	if ((rc = db_commit(d)) != DB_OK)
		goto fail;
	return DB_OK;
fail:
	for (i = 0; i < n; i++)
		items[i].inserted = 0;
	db_rollback(d);
	return rc;
}

/* Records the outcome of a mail's attempt number attempts. */
static int
record(db *d, const char *id, int attempts, enum notifier_mail_end end, const char *err)
{
	char delay[16];
	const char *p[3] = { id, err, delay };

	switch (end) {
	case NM_SENT:
		return db_exec(d, NS_SENT, p, 1, NULL);
	case NM_FAILED:
		return db_exec(d, NS_FAIL, p, 2, NULL);
	case NM_RETRY:
		break;
	}
	snprintf(delay, sizeof(delay), "%d", notifier_mail_delay_ms(attempts));
	return db_exec(d, NS_RETRY, p, 3, NULL);
}

int
notifier_expire(db *d, int recipient_wait_s)
{
	char wait[16];
	const char *p[1] = { wait };
	db_res *res = NULL;
	int n;

	snprintf(wait, sizeof(wait), "%d", recipient_wait_s);
	if (db_exec(d, NS_EXPIRE, p, 1, &res) != DB_OK)
		return -1;
	n = (int)db_affected(res);
	db_res_free(res);
	if (n > 0)
		log_info("%d notification(s) found no recipient address within %d s: undeliverable", n,
		    recipient_wait_s);
	return n;
}

int
notifier_deliver(db *d, const struct notifier_mailcfg *mc, uint64_t *sent, uint64_t *failed,
    int *deferred)
{
	char lim[16], err[256];
	const char *p[1] = { lim };
	enum notifier_mail_end end;
	db_res *res = NULL;
	int64_t attempts;
	int rc, i, n, reply, ok;

	*deferred = 0;
	snprintf(lim, sizeof(lim), "%d", mc->batch);
	if (db_begin(d) != DB_OK)
		return -1;
	if (db_exec(d, NS_DUE, p, 1, &res) != DB_OK)
		goto fail;
	n = db_nrows(res);
	for (i = 0; i < n; i++) {
		const char *id = db_get(res, i, 0);
		if (util_parse_i64(db_get(res, i, 4), 0, INT32_MAX, &attempts) == -1)
			attempts = 0;
		ok = mail_send(mc->url, mc->from, db_get(res, i, 1), db_get(res, i, 2),
		    db_get(res, i, 3), mc->timeout_ms, err, sizeof(err), &reply) == 0;
		end = notifier_mail_outcome(ok, reply, (int)attempts + 1, mc->max_attempts);
		rc = record(d, id, (int)attempts + 1, end, end == NM_SENT ? NULL : err);
		if (end == NM_SENT) {
			(*sent)++;
		} else {
			log_warn("mail for notification %s failed (attempt %lld, %s): %s", id,
			    (long long)attempts + 1, end == NM_FAILED ? "for good" : "will retry", err);
			(*failed)++;
			/* A transient failure: the server is likely down or busy, so
			 * leave the rest of the batch for the next pass instead of
			 * waiting out a timeout per mail. A refusal of one address
			 * says nothing about the others. */
			if (rc == DB_OK && end == NM_RETRY) {
				n = i + 1;
				*deferred = 1;
			}
		}
		if (rc != DB_OK)
			goto fail;
	}
	db_res_free(res);
	if (db_commit(d) != DB_OK) {
		db_rollback(d);
		return -1;
	}
	return n;
fail:
	db_res_free(res);
	db_rollback(d);
	return -1;
}
