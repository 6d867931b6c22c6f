/*
 * main.c (esm-taskrunner): the task runner's lifecycle. One database
 * connection, up to ESM_TASKRUNNER_SLOTS tasks at once in one thread: each
 * busy slot has the time it looks next (progress report and lease renewal,
 * or the end of its work); free slots claim while there is something to
 * claim, and poll every ESM_TASKRUNNER_POLL_MS when there is not. A failed
 * database call is tried again with backoff; a lease that runs out
 * meanwhile hands the task to another runner, and this one's fenced writes
 * then change nothing. Statement timeouts and retry waits stay well under
 * the lease. SIGTERM/SIGINT: hand every task back (the next runner takes it
 * over at once) and stop.
 *
 * Environment:
 *   ESM_DB_DSN                    the task database as esm_taskrunner (required)
 *   ESM_TASKRUNNER_SLOTS          tasks worked on at once (4)
 *   ESM_TASKRUNNER_WORK_PCT       percent of each type's nominal work (100)
 *   ESM_TASKRUNNER_LEASE_MS       lease of a claim, renewed by progress (30000)
 *   ESM_TASKRUNNER_POLL_MS        look for new tasks this often when idle (200)
 *   ESM_TASKRUNNER_MAX_ATTEMPTS   runners lost on a task before it is failed (3)
 *   ESM_TASKRUNNER_STATS_S        seconds between counter lines (60)
 *   ESM_KAFKA_BOOTSTRAP           only for shipping its log lines
 */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "log.h"
#include "logship.h"
#include "runner.h"
#include "wmetrics.h"

#define RUNNER_NAP_MAX_US 100000	/* the stop flag is looked at this often */

static volatile sig_atomic_t runner_stop;

struct slot {
	int busy;
	int backoff;			/* ms, after a failed database call */
	struct runner_task t;
	struct runner_plan plan;
	int64_t start_us, next_us;	/* monotonic */
};

struct runner_stats {
	uint64_t claimed, taken_over, completed, failed, dropped, released, db_errors;
};

struct runner {
	db *d;
	struct runner_cfg cfg;
	int pct;
	struct slot slot[RUNNER_SLOTS_MAX];
	int nslots;
	struct runner_stats st;
};

static void
slot_free(struct slot *s)
{
	log_set_request_id(NULL);
	memset(s, 0, sizeof(*s));
}

/* After a failed database call: look again after the backoff, which stays
 * under a third of the lease, so a runner that can reach its database
 * again renews its leases before they run out. */
static void
slot_retry(struct runner *r, struct slot *s, int64_t now, int rc)
{
	int64_t wait_us = (int64_t)runner_backoff(&s->backoff) * 1000;

	r->st.db_errors++;
	if (s->backoff == RUNNER_BACKOFF_MIN_MS)
		log_warn("task %s: the database failed (%d); trying again", s->t.ref, rc);
	if (wait_us > r->cfg.lease_us / 3)
		wait_us = r->cfg.lease_us / 3;
	s->next_us = now + wait_us;
}

/* The slot's task is not this runner's any more: cancelled, taken over
 * after the lease ran out, or (after a commit whose answer was lost)
 * already ended by this runner. */
static void
slot_drop(struct runner *r, struct slot *s)
{
	r->st.dropped++;
	log_info("task %s is no longer this runner's (cancelled, taken over or already ended): "
	    "its work is dropped", s->t.ref);
	slot_free(s);
}

/* Ends a slot's task: completed with its result. */
static void
slot_complete(struct runner *r, struct slot *s, int64_t now)
{
	char *result = runner_result(&s->t, &s->plan);
	int rc;

	rc = result ? runner_finish(r->d, &s->t, "completed", result, NULL) : DB_ERROR;
	cJSON_free(result);
	if (rc == DB_OK) {
		r->st.completed++;
		log_info("task %s completed (attempt %d, %lld ms)", s->t.ref, s->t.attempt,
		    (long long)((now - s->start_us) / 1000));
	} else if (rc == DB_CONFLICT) {
		slot_drop(r, s);
		return;
	} else {
		slot_retry(r, s, now, rc);
		return;
	}
	slot_free(s);
}

/* A busy slot whose time has come: report progress, or complete. */
static void
slot_look(struct runner *r, struct slot *s, int64_t now)
{
	int rc;

	log_set_request_id(s->t.rid);
	if (now - s->start_us >= s->plan.work_us) {
		slot_complete(r, s, now);
	} else if ((rc = runner_report(r->d, &r->cfg, &s->t,
	    runner_progress(now - s->start_us, s->plan.work_us))) == DB_CONFLICT) {
		slot_drop(r, s);
	} else if (rc != DB_OK) {
		slot_retry(r, s, now, rc);
	} else {
		s->backoff = 0;
		s->next_us = runner_next_look(s->start_us, s->plan.work_us, r->cfg.lease_us, now);
	}
	log_set_request_id(NULL);
}

/* Starts work on a claimed task in the free slot s. */
static void
slot_start(struct runner *r, struct slot *s, const struct runner_task *t, int64_t now)
{
	memset(s, 0, sizeof(*s));
	s->busy = 1;
	s->t = *t;
	s->start_us = now;
	log_set_request_id(t->rid);
	r->st.claimed++;
	if (t->attempt > 1)
		r->st.taken_over++;
	if (runner_plan_of(t->type, r->pct, &s->plan) == -1) {
		/* The schema's CHECK keeps the types closed; a type added there
		 * before the runner knows it fails rather than waits forever. */
		int rc = runner_finish(r->d, t, "failed", NULL, "the runner has no work for this task type");
		r->st.failed += rc == DB_OK;
		log_error("task %s: no work for task type %s%s", t->ref, t->type,
		    rc == DB_OK ? ": failed" : rc == DB_CONFLICT ? "" : ": left to the lease");
		slot_free(s);
		return;
	}
	log_info("task %s (%s) claimed%s, attempt %d, %lld ms of work", t->ref, t->type,
	    t->attempt > 1 ? " after its lease ran out" : "", t->attempt,
	    (long long)(s->plan.work_us / 1000));
	s->next_us = runner_next_look(s->start_us, s->plan.work_us, r->cfg.lease_us, now);
	log_set_request_id(NULL);
}

/* Claims into free slots while there is something to claim. Returns when
 * to look for more: now when a slot is still free and the last claim found
 * a task, later when it found none or the database failed. */
static int64_t
runner_fill(struct runner *r, int64_t now, int poll_ms, int *backoff)
{
	struct runner_task t;

	for (int i = 0; i < r->nslots && !runner_stop; i++) {
		if (r->slot[i].busy)
			continue;
		switch (runner_claim(r->d, &r->cfg, &t)) {
		case RC_TASK:
			*backoff = 0;
			/* The work starts after the claim's commit, so it is never
			 * shorter than the row's started_at to completed_at says. */
			slot_start(r, &r->slot[i], &t, util_mono_us());
			i--;	/* the slot may be free again (no work): claim into it */
			break;
		case RC_FAILED:	/* logged where it was decided */
			*backoff = 0;
			r->st.failed++;
			i--;
			break;
		case RC_NONE:
			*backoff = 0;
			return now + (int64_t)poll_ms * 1000;
		case RC_DB:
			r->st.db_errors++;
			if (*backoff == 0)
				log_warn("claiming a task failed; trying again");
			return now + (int64_t)runner_backoff(backoff) * 1000;
		}
	}
	return now;
}

/* Releases every task held: the next runner takes them over at once. */
static void
runner_release_all(struct runner *r)
{
	for (int i = 0; i < r->nslots; i++) {
		struct slot *s = &r->slot[i];
		if (!s->busy)
			continue;
		log_set_request_id(s->t.rid);
		switch (runner_release(r->d, &s->t)) {
		case DB_OK:
			r->st.released++;
			log_info("task %s handed back (stopping)", s->t.ref);
			break;
		case DB_CONFLICT:
			break;	/* cancelled or taken over meanwhile */
		default:
			log_warn("task %s: handing it back failed; its lease runs out instead", s->t.ref);
		}
		slot_free(s);
	}
}

static void
runner_log_stats(const struct runner *r, const char *what)
{
	int busy = 0;

	for (int i = 0; i < r->nslots; i++)
		busy += r->slot[i].busy;
	log_info("%s: claimed %llu (taken over %llu), completed %llu, failed %llu, dropped %llu, "
	    "released %llu, db errors %llu, busy slots %d of %d", what,
	    (unsigned long long)r->st.claimed, (unsigned long long)r->st.taken_over,
	    (unsigned long long)r->st.completed, (unsigned long long)r->st.failed,
	    (unsigned long long)r->st.dropped, (unsigned long long)r->st.released,
	    (unsigned long long)r->st.db_errors, busy, r->nslots);
}

/* The runner's counters for the service's /metrics (wmetrics.h). */
static void
runner_publish(wmetrics *wm, const struct runner *r, int force)
{
	int busy = 0;

	for (int i = 0; i < r->nslots; i++)
		busy += r->slot[i].busy;
	{
		const struct wmetric m[] = {
			{ "tasks_claimed_total", (double)r->st.claimed },
			{ "tasks_taken_over_total", (double)r->st.taken_over },
			{ "tasks_completed_total", (double)r->st.completed },
			{ "tasks_failed_total", (double)r->st.failed },
			{ "tasks_dropped_total", (double)r->st.dropped },
			{ "tasks_released_total", (double)r->st.released },
			{ "db_failures_total", (double)r->st.db_errors },
			{ "busy_slots", busy },
			{ "slots", r->nslots },
		};
		wmetrics_report(wm, m, ESM_NELEM(m), force);
	}
}

static void
runner_nap(int64_t us)
{
	struct timespec ts;

	if (us <= 0)
		return;
	if (us > RUNNER_NAP_MAX_US)
		us = RUNNER_NAP_MAX_US;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(us * 1000);
	nanosleep(&ts, NULL);	/* a signal cuts it short */
}

int
main(void)
{
	static struct runner r;
	const char *dsn;
	int poll_ms, backoff = 0, stmt_ms;
	int64_t stats_us, next_stats, next_claim = 0, now, wake;
	logship *ship = NULL;
	wmetrics *wm = NULL;

	log_init("taskrunner");
	dsn = cfg_str("ESM_DB_DSN", NULL);
	r.nslots = (int)cfg_int("ESM_TASKRUNNER_SLOTS", 4, 1, RUNNER_SLOTS_MAX);
	r.pct = (int)cfg_int("ESM_TASKRUNNER_WORK_PCT", 100, 0, 10000);
	r.cfg.lease_us = cfg_int("ESM_TASKRUNNER_LEASE_MS", 30000, 1000, 3600000) * 1000;
	r.cfg.max_attempts = (int)cfg_int("ESM_TASKRUNNER_MAX_ATTEMPTS", 3, 1, 100);
	poll_ms = (int)cfg_int("ESM_TASKRUNNER_POLL_MS", 200, 10, 60000);
	stats_us = cfg_int("ESM_TASKRUNNER_STATS_S", 60, 1, 86400) * 1000000;
	if (dsn == NULL) {
		log_crit("ESM_DB_DSN is required");
		return 2;
	}
	if (util_stop_signals(&runner_stop) == -1) {
		log_crit("cannot install signal handlers");
		return 1;
	}
	/* A statement waits at most a quarter of the lease (and 10 s). */
	stmt_ms = (int)(r.cfg.lease_us / 4000);
	if (stmt_ms > 10000)
		stmt_ms = 10000;
	if ((r.d = db_open(dsn, runner_stmts, RS_COUNT_, stmt_ms)) == NULL) {
		log_crit("cannot allocate the database handle");
		return 1;
	}
	ship = logship_from_env("taskrunner");
	wm = wmetrics_open(dsn, "taskrunner");
	log_info("task runner started: %d slots, work at %d%%, lease %lld ms, poll %d ms, "
	    "%d attempts", r.nslots, r.pct, (long long)(r.cfg.lease_us / 1000), poll_ms,
	    r.cfg.max_attempts);

	next_stats = util_mono_us() + stats_us;
	while (!runner_stop) {
		now = util_mono_us();
		for (int i = 0; i < r.nslots && !runner_stop; i++)
			if (r.slot[i].busy && r.slot[i].next_us <= now)
				slot_look(&r, &r.slot[i], now);
		wake = now + RUNNER_NAP_MAX_US;
		for (int i = 0; i < r.nslots; i++) {
			if (!r.slot[i].busy) {
				if (now >= next_claim)
					next_claim = runner_fill(&r, util_mono_us(), poll_ms, &backoff);
				if (next_claim < wake)
					wake = next_claim;
				break;
			}
		}
		for (int i = 0; i < r.nslots; i++)
			if (r.slot[i].busy && r.slot[i].next_us < wake)
				wake = r.slot[i].next_us;
		logship_poll(ship);
		runner_publish(wm, &r, 0);
		if (util_mono_us() >= next_stats) {
			runner_log_stats(&r, "counters");
			next_stats = util_mono_us() + stats_us;
		}
		if (!runner_stop)
			runner_nap(wake - util_mono_us());
	}
	runner_release_all(&r);
	runner_log_stats(&r, "stopping");
	runner_publish(wm, &r, 1);
	wmetrics_close(wm);
	db_close(r.d);
	logship_free(ship, 1000);
	return 0;
}
