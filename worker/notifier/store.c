/*
 * store.c: the notifier's database side: the statement table, one event's
 * transaction (projection, then notification), and the mail delivery pass.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mail.h"
#include "notifier.h"

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
	[NS_INSERT] = { "insert",
	    "INSERT INTO notifications (event_id, event_type, user_id, recipient_email, subject, "
	    "message, channel, status, sent_at, source_topic) VALUES ($1::uuid, $2, $3::bigint, "
	    "COALESCE($4, (SELECT email FROM notifier_users WHERE user_id = $3::bigint AND NOT deleted)), "
	    "$5, $6, $7, $8, CASE WHEN $8 = 'sent' THEN now() END, $9) "
	    "ON CONFLICT (event_id) DO NOTHING", 0 },
	[NS_DUE] = { "due",
	    "SELECT id, recipient_email, subject, message, attempts FROM notifications "
	    "WHERE status = 'pending' AND channel = 'email' AND recipient_email IS NOT NULL "
	    "AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $1::int "
	    "FOR UPDATE SKIP LOCKED", 0 },
	[NS_SENT] = { "sent",
	    "UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = now(), "
	    "last_error = NULL WHERE id = $1::bigint", 0 },
	[NS_RETRY] = { "retry",
	    "UPDATE notifications SET attempts = attempts + 1, last_error = $2, "
	    "next_attempt_at = now() + $3::int * interval '1 millisecond', "
	    "status = CASE WHEN attempts + 1 >= $4::int THEN 'failed' ELSE 'pending' END "
	    "WHERE id = $1::bigint", 0 },
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
		if ((rc = db_exec(d, NS_USER_DELETE, pu, 2, NULL)) != DB_OK)
			return rc;
	}
	if (n->write) {
		const char *p[9] = { ev->event_id, ev->type, ev->user_id ? uid : NULL, n->email,
			n->subject, n->message, n->channel, n->status, it->topic };
		if ((rc = db_exec(d, NS_INSERT, p, 9, &res)) != DB_OK)
			return rc;
		*inserted = db_affected(res) == 1;
		db_res_free(res);
	}
	return DB_OK;
}

int
notifier_store(db *d, struct notifier_item *items, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		items[i].inserted = 0;
	if ((rc = db_begin(d)) != DB_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (items[i].parsed && (rc = store_one(d, &items[i], &items[i].inserted)) != DB_OK)
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

/* Records one mail's outcome. */
static int
record(db *d, const char *id, int attempts, const struct notifier_mailcfg *mc, const char *err)
{
	char delay[16], max[16];
	const char *p[4] = { id, err, delay, max };

	if (err == NULL)
		return db_exec(d, NS_SENT, p, 1, NULL);
	snprintf(delay, sizeof(delay), "%d", notifier_mail_delay_ms(attempts + 1));
	snprintf(max, sizeof(max), "%d", mc->max_attempts);
	return db_exec(d, NS_RETRY, p, 4, NULL);
}

int
notifier_deliver(db *d, const struct notifier_mailcfg *mc, uint64_t *sent, uint64_t *failed)
{
	char lim[16], err[256];
	const char *p[1] = { lim };
	db_res *res = NULL;
	int64_t attempts;
	int rc, i, n;

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
		if (mail_send(mc->url, mc->from, db_get(res, i, 1), db_get(res, i, 2), db_get(res, i, 3),
		    mc->timeout_ms, err, sizeof(err)) == 0) {
			rc = record(d, id, (int)attempts, mc, NULL);
			(*sent)++;
		} else {
			log_warn("mail for notification %s failed (attempt %lld): %s", id,
			    (long long)attempts + 1, err);
			rc = record(d, id, (int)attempts, mc, err);
			(*failed)++;
			/* The server is likely down or refusing: leave the rest of
			 * the batch for the next pass instead of waiting out a
			 * timeout per mail. */
			if (rc == DB_OK)
				n = i + 1;
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
