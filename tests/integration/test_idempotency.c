/*
 * test_idempotency.c: Idempotency-Key on registration and task creation. A
 * retry gets the first answer and changes nothing, also when it races the
 * first; another request under the same key gets 409; a refused request
 * keeps nothing; keys are per caller.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"
#include "itest.h"

#define RACERS 8

/* POST path with body, from address addr (X-Forwarded-For), with key (a
 * whole header value, or NULL) and bearer. */
static long
keyed(const char *path, const char *body, const char *addr, const char *key, const char *bearer,
    struct itest_resp *r)
{
	char xff[96], k[400];
	const char *hdrs[3] = { xff, NULL, NULL };

	snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", addr);
	if (key != NULL) {
		snprintf(k, sizeof(k), "Idempotency-Key: %s", key);
		hdrs[1] = k;
	}
	return itest_http("POST", "gateway", path, "application/json", body, strlen(body), bearer,
	    hdrs, r);
}

static int
replayed(const struct itest_resp *r)
{
	char v[16];

	return itest_header(r, "Idempotent-Replayed", v, sizeof(v)) != NULL && strcmp(v, "true") == 0;
}

static void
test_register(void)
{
	struct itest_resp a, b;
	char name[32], other[32], body[512], body2[512], key[64], sql[256], la[160], lb[160];

	itest_unique(name, 21, "idr");
	itest_unique(other, 21, "ido");
	itest_unique(key, 40, "key");
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s@example.org\","
	    "\"password\":\"" FLOW_PASSWORD "\"}", name, name);
	snprintf(body2, sizeof(body2), "{\"username\":\"%s\",\"email\":\"%s@example.org\","
	    "\"password\":\"" FLOW_PASSWORD "\"}", other, other);
	CU_ASSERT_EQUAL(keyed(USERS_BASE "/register", body, "192.0.2.71", key, NULL, &a), 201);
	CU_ASSERT(!replayed(&a));
	/* The retry: the same answer, byte for byte, and nothing new. */
	CU_ASSERT_EQUAL(keyed(USERS_BASE "/register", body, "192.0.2.71", key, NULL, &b), 201);
	CU_ASSERT(replayed(&b));
	CU_ASSERT(a.body != NULL && b.body != NULL && strcmp(a.body, b.body) == 0);
	CU_ASSERT(itest_header(&a, "Location", la, sizeof(la)) != NULL &&
	    itest_header(&b, "Location", lb, sizeof(lb)) != NULL && strcmp(la, lb) == 0);
	itest_resp_free(&a);
	itest_resp_free(&b);
	/* The key as a structured-field string is the same key. */
	{
		char quoted[80];
		snprintf(quoted, sizeof(quoted), "\"%s\"", key);
		CU_ASSERT_EQUAL(keyed(USERS_BASE "/register", body, "192.0.2.71", quoted, NULL, &b), 201);
		CU_ASSERT(replayed(&b));
		itest_resp_free(&b);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE username = '%s'", name);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb->>'username' = '%s' "
	    "AND payload::jsonb->>'eventType' = 'user_registered'", name);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 1);
	/* The same key for another registration: 409, and it is not made. */
	keyed(USERS_BASE "/register", body2, "192.0.2.71", key, NULL, &b);
	CU_ASSERT(itest_is_problem(&b, 409, "CONFLICT"));
	itest_resp_free(&b);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE username = '%s'", other);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 0);
	/* Keys belong to their caller: from another address the key is new
	 * (and the name is taken). */
	keyed(USERS_BASE "/register", body, "192.0.2.72", key, NULL, &b);
	CU_ASSERT(itest_is_problem(&b, 409, "CONFLICT"));
	CU_ASSERT(!replayed(&b));
	itest_resp_free(&b);
	/* Malformed keys. */
	{
		static const char *const bad[] = { "\"\"", "has space", "\"a\\\"b\"", "caf\xc3\xa9" };
		char longkey[300];

		memset(longkey, 'k', 256);
		longkey[256] = '\0';
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			keyed(USERS_BASE "/register", body2, "192.0.2.73", bad[i], NULL, &b);
			if (!itest_is_problem(&b, 400, "BAD_REQUEST"))
				fprintf(stderr, "\n  key <%s>: %ld\n", bad[i], b.status);
			itest_resp_free(&b);
		}
		keyed(USERS_BASE "/register", body2, "192.0.2.73", longkey, NULL, &b);
		CU_ASSERT(itest_is_problem(&b, 400, "BAD_REQUEST"));
		itest_resp_free(&b);
	}
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 0);
	/* A refused request keeps nothing: the key then serves a good one. */
	{
		char k2[64];
		itest_unique(k2, 40, "kk");
		keyed(USERS_BASE "/register", "{\"username\":\"x\"}", "192.0.2.74", k2, NULL, &b);
		CU_ASSERT(itest_is_problem(&b, 400, "BAD_REQUEST"));
		itest_resp_free(&b);
		CU_ASSERT_EQUAL(keyed(USERS_BASE "/register", body2, "192.0.2.74", k2, NULL, &b), 201);
		CU_ASSERT(!replayed(&b));
		itest_resp_free(&b);
	}
}

struct racer {
	const char *path, *body, *key, *bearer;
	long status;
	char *resp;
};

static void *
race(void *arg)
{
	struct racer *x = arg;
	struct itest_resp r;

	x->status = keyed(x->path, x->body, "192.0.2.75", x->key, x->bearer, &r);
	x->resp = r.body ? strdup(r.body) : NULL;
	itest_resp_free(&r);
	return NULL;
}

/* RACERS identical requests at once: all get the one answer. */
static void
racing(const char *path, const char *body, const char *key, const char *bearer)
{
	struct racer rs[RACERS];
	pthread_t th[RACERS];
	int i;

	for (i = 0; i < RACERS; i++) {
		rs[i] = (struct racer){ path, body, key, bearer, 0, NULL };
		CU_ASSERT_FATAL(pthread_create(&th[i], NULL, race, &rs[i]) == 0);
	}
	for (i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < RACERS; i++) {
		if (rs[i].status != 201)
			fprintf(stderr, "\n  racer %d: %ld %.200s\n", i, rs[i].status,
			    rs[i].resp ? rs[i].resp : "");
		CU_ASSERT_EQUAL(rs[i].status, 201);
		CU_ASSERT(rs[i].resp != NULL && rs[0].resp != NULL && strcmp(rs[i].resp, rs[0].resp) == 0);
	}
	for (i = 0; i < RACERS; i++)
		free(rs[i].resp);
}

static void
test_races(void)
{
	struct flow_user u;
	char name[32], body[512], key[64], sql[256];

	itest_unique(name, 21, "idc");
	itest_unique(key, 40, "race");
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s@example.org\","
	    "\"password\":\"" FLOW_PASSWORD "\"}", name, name);
	racing(USERS_BASE "/register", body, key, NULL);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM users WHERE username = '%s'", name);
	CU_ASSERT_EQUAL(itest_sql_int("registrations", sql), 1);
	if (flow_user(&u, "idt", 0) == -1)
		return;
	itest_unique(key, 40, "trace");
	racing(TASKS, "{\"taskType\":\"report_generation\"}", key, u.access);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("tasks", sql), 1);
}

static void
test_tasks(void)
{
	struct flow_user u, v;
	struct itest_resp a, b;
	char key[64], sql[256];

	if (flow_user(&u, "idu", 0) == -1 || flow_user(&v, "idv", 0) == -1)
		return;
	itest_unique(key, 40, "task");
	CU_ASSERT_EQUAL(keyed(TASKS, "{\"taskType\":\"data_export\",\"priority\":\"low\"}", "192.0.2.76",
	    key, u.access, &a), 201);
	CU_ASSERT_EQUAL(keyed(TASKS, "{\"taskType\":\"data_export\",\"priority\":\"low\"}", "192.0.2.77",
	    key, u.access, &b), 201);
	CU_ASSERT(replayed(&b));
	CU_ASSERT(a.body != NULL && b.body != NULL && strcmp(a.body, b.body) == 0);
	itest_resp_free(&a);
	itest_resp_free(&b);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("tasks", sql), 1);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE payload::jsonb @> "
	    "'{\"eventType\":\"task_created\",\"userId\":%lld}'", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("tasks", sql), 1);
	/* Another body under the key: 409. */
	keyed(TASKS, "{\"taskType\":\"data_export\",\"priority\":\"high\"}", "192.0.2.76", key, u.access, &b);
	CU_ASSERT(itest_is_problem(&b, 409, "CONFLICT"));
	itest_resp_free(&b);
	/* Another user's key space is its own. */
	CU_ASSERT_EQUAL(keyed(TASKS, "{\"taskType\":\"data_export\",\"priority\":\"low\"}", "192.0.2.76",
	    key, v.access, &b), 201);
	CU_ASSERT(!replayed(&b));
	itest_resp_free(&b);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM tasks WHERE user_id = %lld", (long long)u.id);
	CU_ASSERT_EQUAL(itest_sql_int("tasks", sql), 1);
	/* Without a key, every POST is a new task. */
	CU_ASSERT_EQUAL(keyed(TASKS, "{}", "192.0.2.76", NULL, u.access, &b), 201);
	itest_resp_free(&b);
	CU_ASSERT_EQUAL(keyed(TASKS, "{}", "192.0.2.76", NULL, u.access, &b), 201);
	itest_resp_free(&b);
	CU_ASSERT_EQUAL(itest_sql_int("tasks", sql), 3);
}

static CU_TestInfo tests[] = {
	{ "a registration retried under its key is made once", test_register },
	{ "racing retries get one answer", test_races },
	{ "a task creation retried under its key is made once", test_tasks },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(idempotency, tests)
