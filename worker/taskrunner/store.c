/*
 * store.c: the task runner's database side: the statement table and the
 * transactions of a claim, a progress report, the end of a task and a
 * release. Every write after the claim names the claim's attempts value,
 * so it changes nothing once the task is no longer this runner's.
 */
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "log.h"
#include "runner.h"

/* Columns of runner_task_from, in order (RUNNER_NCOLS). */
#define RUNNER_COLS "t.id, t.reference, t.task_type, t.user_id, t.attempts, " \
	"CASE jsonb_typeof(t.parameters) WHEN 'object' THEN " \
	"(SELECT count(*) FROM jsonb_object_keys(t.parameters)) ELSE 0 END, coalesce(t.request_id, ''), " \
	"t.lost"
#define RUNNER_LEASE "now() + $1::bigint * interval '1 microsecond'"

const struct db_stmt runner_stmts[RS_COUNT_] = {
	[RS_OUTBOX] = { "outbox", EVENT_OUTBOX_SQL, 0 },
	/* A task handed back ('-infinity') or whose runner lost its lease (a
	 * lease of NULL: set to processing by hand) is taken over and its work
	 * starts again; a lease that ran out counts as a lost runner. Progress
	 * stays as it was until the new runner reports. */
	[RS_RECLAIM] = { "reclaim",
	    "UPDATE tasks t SET attempts = t.attempts + 1, lost = t.lost + "
	    "CASE WHEN t.lease_until = '-infinity' THEN 0 ELSE 1 END, lease_until = " RUNNER_LEASE
	    ", updated_at = now() FROM (SELECT id FROM tasks WHERE status = 'processing' AND "
	    "(lease_until IS NULL OR lease_until < now()) ORDER BY lease_until NULLS FIRST, id "
	    "LIMIT 1 FOR UPDATE SKIP LOCKED) c WHERE t.id = c.id RETURNING " RUNNER_COLS, 0 },
	/* Priority, then the task's turn among its priority's users (fair_tag,
	 * set on insert: sql/tasks/0007), then age. task_priority_rank is
	 * inlined, so the tasks_queue index gives the order and SKIP LOCKED
	 * passes over what other runners hold. */
	[RS_CLAIM] = { "claim",
	    "UPDATE tasks t SET status = 'processing', progress = 0, attempts = t.attempts + 1, "
	    "lease_until = " RUNNER_LEASE ", started_at = now(), updated_at = now() "
	    "FROM (SELECT id FROM tasks WHERE status = 'pending' ORDER BY task_priority_rank(priority), "
	    "fair_tag, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) c WHERE t.id = c.id RETURNING "
	    RUNNER_COLS, 0 },
	[RS_PROGRESS] = { "progress",
	    "UPDATE tasks SET progress = $4::int, lease_until = " RUNNER_LEASE ", updated_at = now() "
	    "WHERE id = $2::bigint AND status = 'processing' AND attempts = $3::int", 0 },
	/* $3 completed (with $4 the result) or failed (with $5 the reason);
	 * returns the progress the event reports. */
	[RS_FINISH] = { "finish",
	    "UPDATE tasks SET status = $3, progress = CASE WHEN $3 = 'completed' THEN 100 ELSE progress END, "
	    "result = $4::jsonb, error_message = $5, completed_at = now(), updated_at = now(), "
	    "processing_time = extract(epoch FROM now() - coalesce(started_at, now())), lease_until = NULL "
	    "WHERE id = $1::bigint AND status = 'processing' AND attempts = $2::int RETURNING progress", 0 },
	[RS_RELEASE] = { "release",
	    "UPDATE tasks SET lease_until = '-infinity', updated_at = now() "
	    "WHERE id = $1::bigint AND status = 'processing' AND attempts = $2::int", 0 },
	/* A claimed row that does not read as the schema promises: failed
	 * without an event (it names no one to tell), so it does not block the
	 * queue for every runner. */
	[RS_FAIL_RAW] = { "fail_raw",
	    "UPDATE tasks SET status = 'failed', error_message = 'the task runner could not read "
	    "this task', completed_at = now(), updated_at = now(), lease_until = NULL "
	    "WHERE id = $1::bigint AND status = 'processing'", 0 },
};

/* The outbox row of t's change to status, in the caller's transaction. */
static int
store_event(db *d, const struct runner_task *t, const char *status, int progress)
{
	char event_id[37], key[24];
	cJSON *ev = runner_status_event(t, status, progress, event_id);
	int rc;

	if (ev == NULL)
		return DB_ERROR;
	snprintf(key, sizeof(key), "%lld", (long long)t->user_id);
	rc = event_outbox_add(d, RS_OUTBOX, RUNNER_TOPIC, key, ev, event_id, t->rid);
	cJSON_Delete(ev);
	return rc;
}

/* The end of t inside the caller's transaction. */
static int
store_finish(db *d, const struct runner_task *t, const char *status, const char *result,
    const char *why)
{
	char id[24], att[16];
	const char *p[5] = { id, att, status, result, why };
	db_res *res = NULL;
	int64_t progress;
	int rc;

	snprintf(id, sizeof(id), "%lld", (long long)t->id);
	snprintf(att, sizeof(att), "%d", t->attempt);
	if ((rc = db_exec(d, RS_FINISH, p, 5, &res)) != DB_OK)
		return rc;
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return DB_CONFLICT;
	}
	if (util_parse_i64(db_get(res, 0, 0), 0, 100, &progress) == -1)
		progress = 0;	/* the CHECK keeps it in range */
	db_res_free(res);
	return store_event(d, t, status, (int)progress);
}

/* Runs claim statement stmt; RC_TASK with *t, RC_NONE, RC_FAILED (a row
 * it could not read, failed here), or RC_DB. */
static enum runner_claim
claim_one(db *d, size_t stmt, const struct runner_cfg *c, struct runner_task *t)
{
	char lease[24], id[24];
	const char *p[1] = { lease }, *col[RUNNER_NCOLS];
	db_res *res = NULL;
	int i;

	snprintf(lease, sizeof(lease), "%lld", (long long)c->lease_us);
	if (db_exec(d, stmt, p, 1, &res) != DB_OK)
		return RC_DB;
	if (db_nrows(res) == 0) {
		db_res_free(res);
		return RC_NONE;
	}
	for (i = 0; i < RUNNER_NCOLS; i++)
		col[i] = db_get(res, 0, i);
	if (runner_task_from(t, col) == 0) {
		db_res_free(res);
		return RC_TASK;
	}
	snprintf(id, sizeof(id), "%s", col[0]);
	db_res_free(res);
	log_error("task %s: the claimed row is not what the schema allows; failed", id);
	p[0] = id;
	return db_exec(d, RS_FAIL_RAW, p, 1, NULL) == DB_OK ? RC_FAILED : RC_DB;
}

/* One transaction: stmt (RS_RECLAIM or RS_CLAIM) and what follows from it. */
static enum runner_claim
claim_tx(db *d, size_t stmt, const struct runner_cfg *c, struct runner_task *t)
{
	enum runner_claim rc;
	char why[96];

	if (db_begin(d) != DB_OK)
		return RC_DB;
	rc = claim_one(d, stmt, c, t);
	if (rc == RC_TASK && stmt == RS_RECLAIM && t->lost >= c->max_attempts) {
		snprintf(why, sizeof(why), "no runner finished the task: %d of them were lost on it",
		    t->lost);
		rc = store_finish(d, t, "failed", NULL, why) == DB_OK ? RC_FAILED : RC_DB;
		if (rc == RC_FAILED) {
			log_set_request_id(t->rid);
			log_warn("task %s failed: %s", t->ref, why);
			log_set_request_id(NULL);
		}
	} else if (rc == RC_TASK && stmt == RS_CLAIM) {
		/* The event of pending -> processing. */
		snprintf(t->status, sizeof(t->status), "pending");
		if (store_event(d, t, "processing", 0) != DB_OK)
			rc = RC_DB;
		snprintf(t->status, sizeof(t->status), "processing");
	}
	if (rc == RC_DB) {
		db_rollback(d);
		return RC_DB;
	}
	if (db_commit(d) != DB_OK)
		return RC_DB;
	return rc;
}

enum runner_claim
runner_claim(db *d, const struct runner_cfg *c, struct runner_task *t)
{
	enum runner_claim rc = claim_tx(d, RS_RECLAIM, c, t), pending;

	if (rc != RC_NONE && rc != RC_DB)
		return rc;
	/* Nothing to take over, or taking over failed: the pending tasks do
	 * not wait on it. A failed takeover still makes the caller back off. */
	pending = claim_tx(d, RS_CLAIM, c, t);
	if (rc == RC_DB && pending == RC_NONE)
		return RC_DB;
	return pending;
}

int
runner_report(db *d, const struct runner_cfg *c, const struct runner_task *t, int progress)
{
	char lease[24], id[24], att[16], pc[16];
	const char *p[4] = { lease, id, att, pc };
	db_res *res = NULL;
	int rc;

	snprintf(lease, sizeof(lease), "%lld", (long long)c->lease_us);
	snprintf(id, sizeof(id), "%lld", (long long)t->id);
	snprintf(att, sizeof(att), "%d", t->attempt);
	snprintf(pc, sizeof(pc), "%d", progress);
	if ((rc = db_exec(d, RS_PROGRESS, p, 4, &res)) != DB_OK)
		return rc;
	rc = db_affected(res) == 1 ? DB_OK : DB_CONFLICT;
	db_res_free(res);
	return rc;
}

int
runner_finish(db *d, const struct runner_task *t, const char *status, const char *result,
    const char *why)
{
	int rc;

	if ((rc = db_begin(d)) != DB_OK)
		return rc;
	if ((rc = store_finish(d, t, status, result, why)) != DB_OK) {
		db_rollback(d);
		return rc;
	}
	return db_commit(d);
}

int
runner_release(db *d, const struct runner_task *t)
{
	char id[24], att[16];
	const char *p[2] = { id, att };
	db_res *res = NULL;
	int rc;

	snprintf(id, sizeof(id), "%lld", (long long)t->id);
	snprintf(att, sizeof(att), "%d", t->attempt);
	if ((rc = db_exec(d, RS_RELEASE, p, 2, &res)) != DB_OK)
		return rc;
	rc = db_affected(res) == 1 ? DB_OK : DB_CONFLICT;
	db_res_free(res);
	return rc;
}
