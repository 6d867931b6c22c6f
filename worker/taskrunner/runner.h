/*
 * runner.h: the task runner. It claims pending tasks of the task database
 * (highest priority; within it users take turns, each turn the user's
 * oldest task: sql/tasks/0007; SKIP LOCKED, so any number of runners share
 * the queue), works on up to ESM_TASKRUNNER_SLOTS of them at once,
 * reports progress, and completes them; every status change commits with
 * its task_status_changed event in the outbox, which the relay publishes.
 *
 * A claim holds a lease that every progress report renews. A runner that
 * dies or hangs loses its tasks when the lease runs out: the next runner
 * that looks takes them over and starts their work again. The claim count
 * (tasks.attempts) fences every write of a runner, so one that wakes up
 * after losing its lease, or whose task was cancelled meanwhile, changes
 * nothing. A task whose runners were lost ESM_TASKRUNNER_MAX_ATTEMPTS times
 * (it keeps killing them) is failed instead; a runner that stops cleanly
 * hands its tasks back (lease '-infinity'), which counts as no loss.
 *
 * The work itself is simulated: each task type stands for a fixed amount of
 * work (runner_plan), scaled by ESM_TASKRUNNER_WORK_PCT, and its result
 * records what was done. A real workload replaces runner_plan and
 * runner_result; the lifecycle around them stays.
 *
 * handle.c holds the pure decisions (work plans, progress and timing,
 * results, events), tested in tests/unit/test_runner.c; store.c the
 * database; main.c the loop.
 */
#ifndef ESM_RUNNER_H
#define ESM_RUNNER_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "db.h"
#include "util.h"

#define RUNNER_SLOTS_MAX 64
#define RUNNER_REF_MAX 32
#define RUNNER_TYPE_MAX 32
#define RUNNER_RID_MAX 71		/* the services' request id cap (VALID_RID_BUF - 1) */
#define RUNNER_BACKOFF_MIN_MS 100
#define RUNNER_BACKOFF_MAX_MS 5000
#define RUNNER_SOURCE "taskprocessing"
#define RUNNER_TOPIC "task-events"

/* One claimed task, copied out of the claim's row. */
struct runner_task {
	int64_t id;
	int64_t user_id;
	int attempt;			/* tasks.attempts of this claim: the fence */
	int lost;			/* tasks.lost: runners lost on it so far */
	int nkeys;			/* members of its parameters object */
	char ref[RUNNER_REF_MAX + 1];
	char type[RUNNER_TYPE_MAX + 1];
	char status[16];		/* "processing"; previousStatus of its end */
	char rid[RUNNER_RID_MAX + 1];	/* the creating request's id, "" when unknown */
};

/* The work a task stands for. */
struct runner_plan {
	int64_t work_us;		/* total, at the configured scale */
};

/* ---- pure decisions (handle.c) ---- */

/* The plan of a task of type (a contract task type) at pct percent of the
 * nominal work (0 = none: the task completes at its first look). 0, or -1
 * for a type the runner does not know (the task is failed). */
int runner_plan_of(const char *type, int pct, struct runner_plan *p) ESM_WUR;
/* Percent done (0..99) after elapsed_us of work_us; 100 only at the end. */
int runner_progress(int64_t elapsed_us, int64_t work_us);
/* When a slot started at start_us looks next: at the end of its work, or
 * earlier to report progress and renew its lease: at most every quarter of
 * the work and every third of the lease. */
int64_t runner_next_look(int64_t start_us, int64_t work_us, int64_t lease_us, int64_t now_us);
/* The result object of a completed task (JSON text, caller frees with
 * cJSON_free). NULL on ENOMEM. */
char *runner_result(const struct runner_task *t, const struct runner_plan *p);
/* The task_status_changed event of t going from t->status to status with
 * progress, carrying the creating request's id; eventId into event_id. The
 * caller frees it. NULL on ENOMEM. */
cJSON *runner_status_event(const struct runner_task *t, const char *status, int progress,
    char event_id[37]);
/* Fills t from the columns of a claim row (RUNNER_NCOLS): id, reference,
 * task_type, user_id, attempts, parameter count, request id, lost. 0, or
 * -1 when a column is not what the schema allows. */
#define RUNNER_NCOLS 8
int runner_task_from(struct runner_task *t, const char *const col[RUNNER_NCOLS]) ESM_WUR;
/* Next retry delay after a failure: doubles from RUNNER_BACKOFF_MIN_MS up
 * to RUNNER_BACKOFF_MAX_MS; *cur = 0 means no failure yet. */
int runner_backoff(int *cur);

/* ---- database (store.c) ---- */

enum runner_stmt {
	RS_OUTBOX,
	RS_RECLAIM,	/* a processing task whose lease ran out */
	RS_CLAIM,	/* the next pending task */
	RS_PROGRESS,
	RS_FINISH,
	RS_RELEASE,
	RS_FAIL_RAW,	/* a claimed row the runner cannot read */
	RS_COUNT_
};
extern const struct db_stmt runner_stmts[RS_COUNT_];

struct runner_cfg {
	int64_t lease_us;
	int max_attempts;	/* runners lost on a task before it is failed */
};

/* What a claim came to. */
enum runner_claim {
	RC_TASK,	/* *t holds a task to work on */
	RC_NONE,	/* nothing to do */
	RC_FAILED,	/* a task lost its runners once too often, or its row could
			   not be read: failed (logged here) */
	RC_DB		/* the database failed; nothing changed */
};

/* Takes a task handed back or whose lease ran out (the longest ago first),
 * else the next pending one (with its processing event). A takeover and a
 * claim are a transaction each, so a takeover that keeps failing does not
 * hold up the pending ones. */
enum runner_claim runner_claim(db *d, const struct runner_cfg *c, struct runner_task *t) ESM_WUR;
/* Reports progress and renews the lease. DB_OK; DB_CONFLICT when the task
 * is no longer this claim's (cancelled, or taken over); another db_status
 * when the database failed. */
int runner_report(db *d, const struct runner_cfg *c, const struct runner_task *t,
    int progress) ESM_WUR;
/* Ends the task as status ("completed" with result, or "failed" with why)
 * and writes its event, in one transaction. DB_OK, DB_CONFLICT (not this
 * claim's any more: nothing written), or a failure. */
int runner_finish(db *d, const struct runner_task *t, const char *status, const char *result,
    const char *why) ESM_WUR;
/* Hands the task back (lease '-infinity': no loss), so the next runner that
 * looks takes it over at once. For a clean stop. DB_OK, DB_CONFLICT (not
 * this claim's any more), or a failure. */
int runner_release(db *d, const struct runner_task *t) ESM_WUR;

#endif
