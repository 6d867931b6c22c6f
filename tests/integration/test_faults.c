/*
 * test_faults.c: the promises of DESIGN.md ("Nothing lost") under faults.
 * Each scenario runs a bounded mixed load (registrations, logins, profile
 * reads, task creates and cancels) through lighttpd, injects one fault in
 * the middle, ends it, drains, and compares sets: every write that got a 2xx
 * has its row, its outbox row was published, its event is on the broker at
 * least once (more is a duplicate the consumers absorb) and its notification
 * exists exactly once; every write that got an error changed nothing. A
 * table of the figures is printed at the end. Run alone with
 * `make test-faults`.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flows.h"
#include "kafka.h"

#define LOAD_THREADS 4
#define MAX_REGS 4096
#define MAX_TASKS 4096

struct reg {
	char username[24];
	long status;
	int logins;
};

/* A task create, marked by a probe in its parameters so that even a create
 * that got an error can be looked for; then at most one cancel. */
struct task {
	char probe[24];
	long status;		/* of the create */
	int64_t id;		/* from the 201 */
	long cancel;		/* 0: not tried, -1: in flight, else the status */
};

struct load {
	volatile int stop;
	pthread_mutex_t mu;
	struct reg regs[MAX_REGS];
	int nregs;
	struct task tasks[MAX_TASKS];
	int ntasks;
	long requests, errors, bad_errors;	/* bad: an error other than 503/429 */
	long gap_503_without_retry;
	long n429, n503;
	char last_error[200];
	struct flow_user reader;
	char prefix[8];
	int nthreads;
	char t0[40];		/* the database's clock when the load began */
};

/* A status of lighttpd's own 500 page (lighttpd/errors/500.html): the
 * FastCGI process died holding the request, which may have committed. Such
 * a write is done or not done, never half: done, it is checked like a 201. */
#define IN_DOUBT 1000

struct scenario_result {
	const char *name;
	long requests, acked, delivered, notified, duplicates, lost, changed_on_error;
	double max_wait;	/* s, Kafka's acknowledgment to the notification row */
};

#define NRESULTS 16
static struct scenario_result results[NRESULTS];
static int nresults;

static const char *
inst(void)
{
	const char *i = getenv("ESM_TEST_INSTANCE");
	return i && *i ? i : "test";
}

static int
stack(const char *what)
{
	return itest_sh("'%s/scripts/stack.sh' %s '%s' >/dev/null 2>&1", getenv("ESM_ROOT"), what, inst());
}

static void
note_error(struct load *l, const struct itest_resp *r)
{
	char ra[16];

	pthread_mutex_lock(&l->mu);
	l->errors++;
	l->n429 += r->status == 429;
	l->n503 += r->status == 503;
	snprintf(l->last_error, sizeof(l->last_error), "%ld %.150s", r->status, r->body ? r->body : "");
	if (r->status != 503 && r->status != 429) {
		l->bad_errors++;
		fprintf(stderr, "  unexpected %ld: %.160s\n", r->status, r->body ? r->body : "");
	}
	if (r->status == 503 && itest_header(r, "Retry-After", ra, sizeof(ra)) == NULL)
		l->gap_503_without_retry++;
	pthread_mutex_unlock(&l->mu);
}

/* lighttpd's 500 page, read once: its first line. */
static char lighttpd_500[512];

static void
load_lighttpd_500(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/lighttpd/errors/500.html", getenv("ESM_ROOT"));
	if ((f = fopen(path, "r")) == NULL)
		return;
	if (fgets(lighttpd_500, sizeof(lighttpd_500), f) == NULL)
		lighttpd_500[0] = '\0';
	lighttpd_500[strcspn(lighttpd_500, "\n")] = '\0';
	fclose(f);
}

/* The status to record: IN_DOUBT for lighttpd's answer for a dead backend. */
static long
outcome(const struct itest_resp *r)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	if (r->status != 500 || r->body == NULL)
		return r->status;
	pthread_once(&once, load_lighttpd_500);
	return lighttpd_500[0] != '\0' && strncmp(r->body, lighttpd_500, strlen(lighttpd_500)) == 0 ?
	    IN_DOUBT : r->status;
}

static void *
load_thread(void *arg)
{
	struct load *l = arg;
	struct itest_resp r;
	char body[256], path[96];
	unsigned n = 0;

	while (!l->stop) {
		int op = (int)(n++ % 5), slot = -1;

		if (op == 0) {
			pthread_mutex_lock(&l->mu);
			if (l->nregs < MAX_REGS)
				slot = l->nregs++;
			pthread_mutex_unlock(&l->mu);
			if (slot < 0)
				break;
			snprintf(l->regs[slot].username, sizeof(l->regs[slot].username), "%s%d", l->prefix, slot);
			snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s@faults.example\","
			    "\"password\":\"%s\"}", l->regs[slot].username, l->regs[slot].username, FLOW_PASSWORD);
			itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
			l->regs[slot].status = outcome(&r);
		} else if (op == 1) {
			/* Log in as one of this load's newest users, so the per-user
			 * login limit never mixes into the figures; before any
			 * registration went through, read a profile instead. */
			const char *who = NULL;
			pthread_mutex_lock(&l->mu);
			for (int k = l->nregs - 1, seen = 0; k >= 0 && seen < 64; k--, seen++)
				if (l->regs[k].status == 201 && l->regs[k].logins < 3) {
					l->regs[k].logins++;
					who = l->regs[k].username;
					break;
				}
			pthread_mutex_unlock(&l->mu);
			if (who == NULL) {
				snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)l->reader.id);
				itest_json("GET", "gateway", path, NULL, l->reader.access, &r);
			} else {
				snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}",
				    who, FLOW_PASSWORD);
				itest_json("POST", "gateway", AUTH_BASE "/login", body, NULL, &r);
			}
		} else if (op == 2) {
			pthread_mutex_lock(&l->mu);
			if (l->ntasks < MAX_TASKS)
				slot = l->ntasks++;
			pthread_mutex_unlock(&l->mu);
			if (slot < 0)
				break;
			struct task *t = &l->tasks[slot];
			snprintf(t->probe, sizeof(t->probe), "%st%d", l->prefix, slot);
			snprintf(body, sizeof(body), "{\"taskType\":\"report_generation\",\"priority\":\"high\","
			    "\"parameters\":{\"probe\":\"%s\"}}", t->probe);
			itest_json("POST", "gateway", TASKS, body, l->reader.access, &r);
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(r.json, "task"), "taskId");
			pthread_mutex_lock(&l->mu);
			t->id = r.status == 201 && cJSON_IsNumber(id) ? (int64_t)cJSON_GetNumberValue(id) : 0;
			t->status = r.status == 201 && t->id == 0 ? 1 : outcome(&r);	/* 201 without id: an error */
			pthread_mutex_unlock(&l->mu);
		} else if (op == 3) {
			/* Cancel the newest created task not yet cancelled; each
			 * task gets one attempt, so every cancel must succeed. */
			struct task *t = NULL;
			pthread_mutex_lock(&l->mu);
			for (int k = l->ntasks - 1; k >= 0; k--)
				if (l->tasks[k].status == 201 && l->tasks[k].cancel == 0) {
					t = &l->tasks[k];
					t->cancel = -1;
					break;
				}
			pthread_mutex_unlock(&l->mu);
			if (t == NULL) {
				itest_json("GET", "gateway", TASKS "?limit=5", NULL, l->reader.access, &r);
			} else {
				snprintf(path, sizeof(path), TASKS "/%lld/cancel", (long long)t->id);
				itest_json("PUT", "gateway", path, NULL, l->reader.access, &r);
				pthread_mutex_lock(&l->mu);
				t->cancel = outcome(&r);
				pthread_mutex_unlock(&l->mu);
			}
		} else {
			snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)l->reader.id);
			itest_json("GET", "gateway", path, NULL, l->reader.access, &r);
		}
		pthread_mutex_lock(&l->mu);
		l->requests++;
		pthread_mutex_unlock(&l->mu);
		if (r.status < 200 || r.status >= 300)
			note_error(l, &r);
		itest_resp_free(&r);
	}
	return NULL;
}

static int
topic_count(const char *text, const char *event_id)
{
	char needle[64];
	int n = 0;

	snprintf(needle, sizeof(needle), "\"eventId\":\"%s\"", event_id);
	for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static char *
read_topic(const char *topic)
{
	char cmd[512], chunk[65536], *out = NULL, *np;
	size_t len = 0, n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "kcat -b '%s' -C -t '%s' -o beginning -e -q "
	    "-f '%%s\\n' 2>/dev/null", getenv("ESM_KAFKA_BOOTSTRAP"), topic);
	if ((p = popen(cmd, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if ((np = realloc(out, len + n + 1)) == NULL)
			break;
		out = np;
		memcpy(out + len, chunk, n);
		len += n;
		out[len] = '\0';
	}
	pclose(p);
	return out ? out : strdup("");
}

/* The event ids of acknowledged writes, each of which needs exactly one
 * notification. */
struct expected {
	char (*ids)[40];
	int n, cap;
};

static void
expect_id(struct expected *e, const char *id)
{
	if (e->n == e->cap) {
		int cap = e->cap ? e->cap * 2 : 256;
		char (*ids)[40] = realloc(e->ids, (size_t)cap * sizeof(*ids));
		if (ids == NULL)
			return;
		e->ids = ids;
		e->cap = cap;
	}
	snprintf(e->ids[e->n++], sizeof(e->ids[0]), "%s", id);
}

static void
drain_outbox(const char *db)
{
	for (int i = 0; i < 600; i++) {
		if (itest_sql_int(db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0)
			break;
		itest_sleep_ms(100);
	}
	CU_ASSERT_EQUAL(itest_sql_int(db, "SELECT count(*) FROM outbox WHERE sent_at IS NULL"), 0);
}

/* One acknowledged write whose outbox row is eid (NULL: none): published
 * at least once on the broker (topic text), its id then expected downstream. */
static void
check_acked(struct scenario_result *res, struct expected *e, const char *topic_text,
    const char *eid, const char *what)
{
	int c = eid ? topic_count(topic_text, eid) : 0;

	res->acked++;
	if (c >= 1) {
		res->delivered++;
		expect_id(e, eid);
	} else {
		res->lost++;
		fprintf(stderr, "  %s: %s acknowledged but %s\n", res->name, what,
		    eid ? "its event is not on the broker" : "has no outbox row");
	}
	if (c > 1)
		res->duplicates += c - 1;
}

/* The rows of a query of one text column "KEY VALUE" as one text, each
 * row on a line of its own between newlines, for lookup: one round trip
 * per scenario instead of one per write. */
static char *
keyed(const char *db, const char *query)
{
	char sql[1024];

	snprintf(sql, sizeof(sql), "SELECT E'\\n' || coalesce(string_agg(kv, E'\\n'), '') || E'\\n' "
	    "FROM (%s) AS q(kv)", query);
	return itest_sql_text(db, sql);
}

/* How many rows of a keyed text have key; the first one's value goes to
 * out ("" when none). */
static int
lookup(const char *text, const char *key, char *out, size_t n)
{
	char needle[96];
	const char *p, *v;
	size_t len;
	int count = 0;

	snprintf(needle, sizeof(needle), "\n%s ", key);
	out[0] = '\0';
	for (p = text ? strstr(text, needle) : NULL; p != NULL; p = strstr(p + 1, needle)) {
		if (count++ > 0)
			continue;
		v = p + strlen(needle);
		len = strcspn(v, "\n");
		len = len < n ? len : n - 1;
		memcpy(out, v, len);
		out[len] = '\0';
	}
	return count;
}

static void
verify_tasks(struct load *l, struct scenario_result *res, struct expected *e)
{
	char sql[512], what[64], key[32], row[64], eid[48], *text = read_topic("task-events");
	char *rows, *created, *cancelled;
	int n, done;

	CU_ASSERT_PTR_NOT_NULL_FATAL(text);
	/* probe -> "id status"; task id -> event id of each event type */
	snprintf(sql, sizeof(sql), "SELECT (parameters->>'probe') || ' ' || id || ' ' || status FROM tasks "
	    "WHERE created_at >= '%s' AND parameters ? 'probe'", l->t0);
	rows = keyed("tasks", sql);
	snprintf(sql, sizeof(sql), "SELECT (payload::jsonb->>'taskId') || ' ' || event_id FROM outbox "
	    "WHERE created_at >= '%s' AND payload::jsonb->>'eventType' = 'task_created'", l->t0);
	created = keyed("tasks", sql);
	snprintf(sql, sizeof(sql), "SELECT (payload::jsonb->>'taskId') || ' ' || event_id FROM outbox "
	    "WHERE created_at >= '%s' AND payload::jsonb->>'eventType' = 'task_cancelled'", l->t0);
	cancelled = keyed("tasks", sql);
	CU_ASSERT_FATAL(rows != NULL && created != NULL && cancelled != NULL);
	for (int i = 0; i < l->ntasks; i++) {
		struct task *t = &l->tasks[i];

		if (t->status == 0)	/* the create never ran: the load stopped first */
			continue;
		n = lookup(rows, t->probe, row, sizeof(row));
		if (t->status == IN_DOUBT && n == 1) {
			/* Done after all: its id from the row, checked like a 201. */
			t->id = strtoll(row, NULL, 10);
			fprintf(stderr, "  %s: task %s in doubt (%ld), done\n", res->name, t->probe, t->id);
		} else if (t->status != 201) {
			if (n != 0) {
				res->changed_on_error++;
				fprintf(stderr, "  %s: task %s got %ld but was written\n", res->name, t->probe, t->status);
			}
			continue;
		}
		snprintf(what, sizeof(what), "task %lld", (long long)t->id);
		snprintf(key, sizeof(key), "%lld", (long long)t->id);
		check_acked(res, e, text, n == 1 && lookup(created, key, eid, sizeof(eid)) == 1 ? eid : NULL, what);

		/* The cancel: done (200) with its event, or failed and nothing changed. */
		done = n == 1 && strstr(row, " cancelled") != NULL;
		n = lookup(cancelled, key, eid, sizeof(eid));
		if (t->cancel == 200 || (t->cancel == IN_DOUBT && done && n == 1)) {
			snprintf(what, sizeof(what), "cancel of task %lld", (long long)t->id);
			check_acked(res, e, text, done && n == 1 ? eid : NULL, what);
		} else if (t->cancel != 0 && (done || n != 0)) {
			res->changed_on_error++;
			fprintf(stderr, "  %s: cancel of task %lld got %ld but was done\n", res->name,
			    (long long)t->id, t->cancel);
		}
	}
	free(rows);
	free(created);
	free(cancelled);
	free(text);
}

/* "event_id epoch" lines of rows since t0, one text per database. */
static char *
times_since(const char *db, const char *table, const char *column, const char *t0)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT coalesce(string_agg(event_id::text || ' ' || "
	    "extract(epoch FROM %s)::text, E'\\n'), '') FROM %s WHERE %s >= '%s'", column, table, column, t0);
	return itest_sql_text(db, sql);
}

static double
time_of(const char *text, const char *event_id)
{
	const char *p = text ? strstr(text, event_id) : NULL;

	return p ? strtod(p + strlen(event_id), NULL) : -1;
}

/* The longest any expected event waited between the relay's mark of
 * Kafka's acknowledgment (outbox sent_at, set after the ack) and its
 * notification row: how long a consumer left a readable event unread. */
static double
max_wait(const struct expected *e, const char *t0)
{
	char *reg = times_since("registrations", "outbox", "sent_at", t0);
	char *tasks = times_since("tasks", "outbox", "sent_at", t0);
	char *notes = times_since("notifications", "notifications", "created_at", t0);
	double worst = 0;

	for (int k = 0; k < e->n; k++) {
		double sent = time_of(reg, e->ids[k]), noted = time_of(notes, e->ids[k]);

		if (sent < 0)
			sent = time_of(tasks, e->ids[k]);
		if (sent >= 0 && noted >= 0 && noted - sent > worst)
			worst = noted - sent;
	}
	free(reg);
	free(tasks);
	free(notes);
	return worst;
}

/* Drains the outboxes, then checks the sets and records a table row. */
static void
verify(const char *name, struct load *l)
{
	struct scenario_result *res = &results[nresults < NRESULTS ? nresults++ : NRESULTS - 1];
	struct expected e = { 0 };
	char sql[512], eid[48], *text, *regs, *notes;
	int i, k, n;

	memset(res, 0, sizeof(*res));
	res->name = name;
	res->requests = l->requests;
	drain_outbox("registrations");
	drain_outbox("tasks");
	text = read_topic("user-registration-events");
	snprintf(sql, sizeof(sql), "SELECT u.username || ' ' || o.event_id FROM users u JOIN outbox o "
	    "ON o.msg_key = u.id::text AND o.payload::jsonb->>'eventType' = 'user_registered' "
	    "WHERE u.created_at >= '%s'", l->t0);
	regs = keyed("registrations", sql);
	CU_ASSERT_FATAL(text != NULL && regs != NULL);
	for (i = 0; i < l->nregs; i++) {
		struct reg *g = &l->regs[i];

		n = lookup(regs, g->username, eid, sizeof(eid));
		if (g->status == 201 || (g->status == IN_DOUBT && n == 1)) {
			check_acked(res, &e, text, n == 1 ? eid : NULL, g->username);
		} else if (n != 0) {
			res->changed_on_error++;
			fprintf(stderr, "  %s: %s got %ld but was written\n", name, g->username, g->status);
		}
	}
	free(regs);
	free(text);
	verify_tasks(l, res, &e);

	/* The consumer side: each published event of an acknowledged write has
	 * exactly one notification (event_id is unique there, so replays are
	 * absorbed). Waits up to a minute for the notifier to catch up. */
	char *done = calloc((size_t)e.n + 1, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(done);
	snprintf(sql, sizeof(sql), "SELECT event_id::text || ' 1' FROM notifications WHERE created_at >= '%s'", l->t0);
	for (i = 0; i < 600; i++) {
		long missing = 0;

		notes = keyed("notifications", sql);
		for (k = 0; k < e.n; k++) {
			if (!done[k] && lookup(notes, e.ids[k], eid, sizeof(eid)) == 1)
				done[k] = 1;
			missing += !done[k];
		}
		free(notes);
		if (missing == 0)
			break;
		itest_sleep_ms(100);
	}
	res->notified = 0;
	for (k = 0; k < e.n; k++)
		res->notified += done[k];
	if (res->notified != res->acked)
		fprintf(stderr, "  %s: %ld acknowledged, %ld notified\n", name, res->acked, res->notified);
	free(done);
	res->max_wait = max_wait(&e, l->t0);
	free(e.ids);
	CU_ASSERT_EQUAL(res->notified, res->acked);
	CU_ASSERT_EQUAL(res->lost, 0);
	CU_ASSERT_EQUAL(res->changed_on_error, 0);
	CU_ASSERT(res->acked > 0);
}

static struct load *
load_start(pthread_t th[LOAD_THREADS], const char *prefix)
{
	struct load *l = calloc(1, sizeof(*l));
	int i;

	pthread_mutex_init(&l->mu, NULL);
	itest_unique(l->prefix, 7, prefix);
	char *t0 = itest_sql_text("notifications", "SELECT now()::text");
	snprintf(l->t0, sizeof(l->t0), "%s", t0 ? t0 : "-infinity");
	free(t0);
	if (flow_user(&l->reader, "flt", 0) == -1) {
		CU_FAIL("could not create the reading user");
		return l;
	}
	for (i = 0; i < LOAD_THREADS; i++)
		if (pthread_create(&th[i], NULL, load_thread, l) == 0)
			l->nthreads++;
	return l;
}

static void
load_stop(struct load *l, pthread_t th[LOAD_THREADS])
{
	int i;

	l->stop = 1;
	for (i = 0; i < l->nthreads; i++)
		pthread_join(th[i], NULL);
}

static char *
pids_of(const char *file)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", getenv("ESM_VAR"), file);
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 4096);
	if (f) {
		size_t n = fread(buf, 1, 4095, f);
		buf[n] = '\0';
		fclose(f);
	}
	return buf;
}

static void
test_broker_down(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "fb");

	itest_sleep_ms(3000);
	CU_ASSERT_FATAL(stack("broker-down") == 0);
	itest_sleep_ms(20000);
	CU_ASSERT_FATAL(stack("broker-up") == 0);
	itest_sleep_ms(3000);
	load_stop(l, th);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	verify("broker down 20 s", l);
	free(l);
}

static void
test_postgres_restart(void)
{
	pthread_t th[LOAD_THREADS];
	char *before = pids_of("users.pids"), *after;
	struct load *l = load_start(th, "fp");

	itest_sleep_ms(3000);
	CU_ASSERT_FATAL(stack("restart-pg") == 0);
	itest_sleep_ms(5000);
	load_stop(l, th);
	fprintf(stderr, "  postgres restart: %ld requests, %ld errors (503 during the gap)\n",
	    l->requests, l->errors);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	CU_ASSERT_EQUAL(l->gap_503_without_retry, 0);
	/* The pools reconnected by themselves: the same processes serve. */
	after = pids_of("users.pids");
	CU_ASSERT_STRING_EQUAL(before, after);
	/* And no process fails its first write after the restart. */
	CU_ASSERT_FATAL(stack("restart-pg") == 0);
	for (int i = 0; i < 6; i++) {
		struct flow_user u;
		CU_ASSERT_EQUAL(flow_register(&u, "after"), 0);
	}
	verify("postgres restart", l);
	free(before);
	free(after);
	free(l);
}

static void
test_kill_relay(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "fr");
	char *pid;

	itest_sleep_ms(3000);
	pid = pids_of("relay-registrations.pid");
	CU_ASSERT_FATAL(atoi(pid) > 0);
	kill(atoi(pid), SIGKILL);
	free(pid);
	itest_sleep_ms(4000);
	CU_ASSERT_FATAL(stack("start") == 0);	/* brings the relay back */
	itest_sleep_ms(3000);
	load_stop(l, th);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	verify("kill -9 outbox relay", l);
	free(l);
}

static void
test_kill_notifier(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "fn");
	char *pid;

	itest_sleep_ms(3000);
	pid = pids_of("notifier.pid");
	CU_ASSERT_FATAL(atoi(pid) > 0);
	kill(atoi(pid), SIGKILL);
	free(pid);
	itest_sleep_ms(4000);
	CU_ASSERT_FATAL(stack("start") == 0);	/* brings the notifier back */
	itest_sleep_ms(3000);
	load_stop(l, th);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	verify("kill -9 notifier", l);
	free(l);
}

static void
test_kill_fastcgi(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "fk");
	char *pids;

	itest_sleep_ms(3000);
	pids = pids_of("users.pids");
	CU_ASSERT_FATAL(atoi(pids) > 0);
	kill(atoi(pids), SIGKILL);	/* one member of the users pool */
	free(pids);
	itest_sleep_ms(5000);
	load_stop(l, th);
	/* The request the killed process held may fail (lighttpd answers 5xx);
	 * the rest of the pool serves on. */
	CU_ASSERT(l->bad_errors <= 2);
	verify("kill -9 FastCGI process", l);
	CU_ASSERT_FATAL(stack("start") == 0);	/* the pool whole again */
	free(l);
}

static void
test_lighttpd_graceful(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "fg");
	char *pid;

	itest_sleep_ms(3000);
	/* Three restarts, 2 s apart: the restarted server has a new pid. */
	for (int i = 0; i < 3; i++) {
		pid = pids_of("lighttpd.pid");
		CU_ASSERT_FATAL(atoi(pid) > 0);
		kill(atoi(pid), SIGUSR1);	/* graceful restart */
		free(pid);
		itest_sleep_ms(2000);
	}
	itest_sleep_ms(2000);
	load_stop(l, th);
	fprintf(stderr, "  lighttpd graceful restart: %ld requests, %ld errors (%ld 429, %ld 503; last: %s)\n",
	    l->requests, l->errors, l->n429, l->n503, l->last_error);
	/* Requests in flight finish on the old server while the new one
	 * accepts on the same listeners, also a login's credential check that
	 * goes back through lighttpd: no request fails. */
	CU_ASSERT_EQUAL(l->errors, 0);
	verify("lighttpd graceful restart", l);
	CU_ASSERT_FATAL(stack("start") == 0);
	free(l);
}

static void *
hold_lock(void *arg)
{
	(void)arg;
	/* 8 s with the users table locked: longer than the statement and lock
	 * timeout (5 s), so waiting requests must give up cleanly. */
	itest_sql_exec("registrations", "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; "
	    "SELECT pg_sleep(8); COMMIT;");
	return NULL;
}

static void
test_slow_database(void)
{
	pthread_t th[LOAD_THREADS], locker;
	struct load *l = load_start(th, "fs");
	int64_t t0;

	itest_sleep_ms(2000);
	t0 = (int64_t)time(NULL);
	pthread_create(&locker, NULL, hold_lock, NULL);
	pthread_join(locker, NULL);
	itest_sleep_ms(2000);
	load_stop(l, th);
	fprintf(stderr, "  slow database: %ld requests, %ld errors (503 after the lock timeout), lock held %llds\n",
	    l->requests, l->errors, (long long)((int64_t)time(NULL) - t0));
	CU_ASSERT(l->errors > 0);	/* the lock did bite */
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	CU_ASSERT_EQUAL(l->gap_503_without_retry, 0);
	verify("slow database (lock 8 s)", l);
	free(l);
}

static void
test_print_table(void)
{
	int i;

	fprintf(stderr, "\n| %-26s | %8s | %12s | %9s | %8s | %20s | %4s | %13s |\n", "scenario", "requests",
	    "acknowledged", "published", "notified", "duplicates absorbed", "lost", "longest wait");
	fprintf(stderr, "|----------------------------|----------|--------------|-----------|----------|----------------------|------|---------------|\n");
	for (i = 0; i < nresults; i++)
		fprintf(stderr, "| %-26s | %8ld | %12ld | %9ld | %8ld | %20ld | %4ld | %11.1f s |\n", results[i].name,
		    results[i].requests, results[i].acked, results[i].delivered, results[i].notified,
		    results[i].duplicates, results[i].acked - results[i].notified, results[i].max_wait);
	CU_ASSERT(nresults > 0);
}

static CU_TestInfo tests[] = {
	{ "broker down for 20 s under load", test_broker_down },
	{ "PostgreSQL restart under load", test_postgres_restart },
	{ "kill -9 of the outbox relay", test_kill_relay },
	{ "kill -9 of the notifier", test_kill_notifier },
	{ "kill -9 of a FastCGI process", test_kill_fastcgi },
	{ "lighttpd graceful restart", test_lighttpd_graceful },
	{ "slow database", test_slow_database },
	{ "summary table", test_print_table },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(faults, tests)

/*
 * The same promises on a three-node Kafka cluster (suite faults_cluster,
 * run by tests/run.sh on ESM_KAFKA_NODES=3): kill -9 of the broker leading
 * the partitions being written, a rolling restart of every node, the
 * leader frozen for 30 s, and notifiers joining and dying in one group.
 */

/* No consumer leaves a readable event unread for longer than its session
 * timeout (after which a dead member's partitions move) plus 10 s. */
#define STALL_BOUND_S (KAFKA_SESSION_TIMEOUT_MS / 1000.0 + 10)

static void
check_stall(void)
{
	const struct scenario_result *res;

	if (nresults == 0)
		return;
	res = &results[nresults - 1];
	fprintf(stderr, "  %s: longest wait for a consumer %.1f s (bound %.0f s)\n", res->name,
	    res->max_wait, STALL_BOUND_S);
	CU_ASSERT(res->max_wait <= STALL_BOUND_S);
}

/* Node (0-based) leading partition 0 of topic, from kcat's metadata; -1
 * when unknown. */
static int
leader_node(const char *topic)
{
	char cmd[512], line[64] = "";
	FILE *f;
	int id;

	snprintf(cmd, sizeof(cmd), "kcat -b \"$ESM_KAFKA_BOOTSTRAP\" -L -t %s 2>/dev/null | "
	    "awk '$1 == \"partition\" && $2 == \"0,\" { sub(\",\", \"\", $4); print $4; exit }'", topic);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	pclose(f);
	id = atoi(line);
	return id >= 1 ? id - 1 : -1;
}

/* stack.sh CMD INST NODE */
static int
stack_node(const char *what, int node)
{
	/* Its words go to the suite's log: a failed start says why there. */
	return itest_sh("'%s/scripts/stack.sh' %s '%s' %d >&2", getenv("ESM_ROOT"), what,
	    inst(), node);
}

static void
test_kill_leader(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l;
	int node = leader_node("user-registration-events");

	CU_ASSERT_FATAL(node >= 0);
	l = load_start(th, "kl");
	itest_sleep_ms(3000);
	CU_ASSERT_FATAL(stack_node("kafka-kill", node) == 0);
	itest_sleep_ms(15000);
	CU_ASSERT_FATAL(stack_node("kafka-start", node) == 0);
	itest_sleep_ms(5000);
	load_stop(l, th);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	fprintf(stderr, "  kill -9 of node %d, the leader\n", node);
	verify("kill -9 partition leader", l);
	check_stall();
	free(l);
}

static void
test_rolling_restart(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "kr");
	int node;

	itest_sleep_ms(3000);
	for (node = 0; node < 3; node++) {
		CU_ASSERT_FATAL(stack_node("kafka-stop", node) == 0);
		CU_ASSERT_FATAL(stack_node("kafka-start", node) == 0);
		/* Its replicas catch up before the next node goes. */
		itest_sleep_ms(5000);
	}
	load_stop(l, th);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	verify("rolling restart, 3 nodes", l);
	check_stall();
	free(l);
}

static void
test_freeze_leader(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l;
	int node = leader_node("task-events");

	CU_ASSERT_FATAL(node >= 0);
	l = load_start(th, "kf");
	itest_sleep_ms(3000);
	CU_ASSERT_FATAL(stack_node("kafka-pause", node) == 0);
	itest_sleep_ms(30000);
	CU_ASSERT_FATAL(stack_node("kafka-resume", node) == 0);
	itest_sleep_ms(5000);
	load_stop(l, th);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	fprintf(stderr, "  node %d, the leader, frozen for 30 s\n", node);
	verify("leader frozen 30 s", l);
	check_stall();
	free(l);
}

/* Starts one more notifier of the stack's group, as worker NAME. */
static int
notifier_start(const char *name)
{
	return itest_sh("ESM_DB_DSN=\"$ESM_DSN_NOTIFIER\" ESM_WORKER_NAME=%s setsid '%s/build/bin/esm-notifier' "
	    "</dev/null >>\"$ESM_VAR/log/%s.log\" 2>&1 & echo $! >\"$ESM_VAR/tmp/%s.pid\"",
	    name, getenv("ESM_ROOT"), name, name);
}

static int
notifier_stop(const char *name, int sig)
{
	return itest_sh("p=$(cat \"$ESM_VAR/tmp/%s.pid\") && kill -%d $p && "
	    "for i in $(seq 100); do kill -0 $p 2>/dev/null || exit 0; sleep 0.1; done; kill -9 $p",
	    name, sig);
}

static void
test_notifier_rebalance(void)
{
	pthread_t th[LOAD_THREADS];
	struct load *l = load_start(th, "kn");
	char *pid;

	itest_sleep_ms(3000);
	CU_ASSERT_FATAL(notifier_start("notifier2") == 0);
	itest_sleep_ms(5000);
	CU_ASSERT_FATAL(notifier_start("notifier3") == 0);
	itest_sleep_ms(5000);
	pid = pids_of("notifier.pid");
	CU_ASSERT_FATAL(atoi(pid) > 0);
	kill(atoi(pid), SIGKILL);
	free(pid);
	/* Its partitions move after the session timeout; then the third
	 * leaves cleanly while the stack's own comes back. */
	itest_sleep_ms(KAFKA_SESSION_TIMEOUT_MS + 5000);
	CU_ASSERT(notifier_stop("notifier3", SIGTERM) == 0);
	CU_ASSERT_FATAL(stack("start") == 0);	/* the stack's notifier again */
	itest_sleep_ms(3000);
	load_stop(l, th);
	CU_ASSERT(notifier_stop("notifier2", SIGTERM) == 0);
	CU_ASSERT_EQUAL(l->bad_errors, 0);
	verify("notifiers join and die", l);
	check_stall();
	free(l);
}

static CU_TestInfo cluster_tests[] = {
	{ "kill -9 of the partition leader under load", test_kill_leader },
	{ "rolling restart of all three nodes under load", test_rolling_restart },
	{ "the leader frozen for 30 s under load", test_freeze_leader },
	{ "notifiers join and die in one group under load", test_notifier_rebalance },
	{ "summary table", test_print_table },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(faults_cluster, cluster_tests)
