/*
 * itest.h: helpers for integration suites that talk to the running test
 * stack: HTTP through libcurl, SQL checks as the cluster superuser through
 * libpq, and the stack's fault switches. The stack's addresses come from the
 * environment that tests/run.sh exports from var/test/env:
 *   ESM_URL_GATEWAY, ESM_URL_USERS, ESM_URL_AUTH, ESM_URL_TASKS,
 *   ESM_URL_NOTIFICATIONS, ESM_URL_LOGMONITOR, ESM_URL_INTERNAL,
 *   ESM_PG_SUPER_DSN (no dbname), ESM_KAFKA_BOOTSTRAP, ESM_VAR, ESM_ROOT.
 * A missing variable fails the test that needs it, loudly.
 *
 * Suites register themselves with ITEST_SUITE(name, tests) like unit tests.
 */
#ifndef ESM_TEST_ITEST_H
#define ESM_TEST_ITEST_H

#include <stddef.h>
#include <stdint.h>
#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

void itest_add_suite(const char *name, CU_TestInfo *tests);
/* The same with functions run before and after each test of the suite;
 * the one after runs also when a fatal assertion ended the test. */
void itest_add_suite_hooks(const char *name, CU_TestInfo *tests, void (*setup)(void),
    void (*teardown)(void));

#define ITEST_SUITE(name, tests) \
	static void itest_register_##name(void) __attribute__((constructor)); \
	static void itest_register_##name(void) { itest_add_suite(#name, tests); }
#define ITEST_SUITE_HOOKS(name, tests, setup, teardown) \
	static void itest_register_##name(void) __attribute__((constructor)); \
	static void itest_register_##name(void) { itest_add_suite_hooks(#name, tests, setup, teardown); }

struct itest_resp {
	long status;		/* 0 when the request failed at transport level */
	char *body;		/* NUL-terminated */
	size_t len;
	char *headers;		/* raw response header block */
	cJSON *json;		/* parsed body when it is JSON, else NULL */
};

/* Base URL of a listener: "gateway", "users", "auth", "tasks",
 * "notifications", "logmonitor", "internal". Fails the test when unset. */
const char *itest_url(const char *listener);

/* One request. body may be NULL; ctype NULL means no Content-Type header
 * (with a body, "application/json" is the usual choice). hdrs: NULL or a
 * NULL-terminated list of "Name: value" lines. bearer: NULL or a token.
 * Fills *out (free with itest_resp_free). Returns out->status. */
long itest_http(const char *method, const char *listener, const char *path,
    const char *ctype, const char *body, size_t len, const char *bearer,
    const char *const *hdrs, struct itest_resp *out);
/* Shorthand: JSON body given as a C string. */
long itest_json(const char *method, const char *listener, const char *path,
    const char *json, const char *bearer, struct itest_resp *out);
void itest_resp_free(struct itest_resp *r);
/* Value of a response header (case-insensitive) copied into buf; NULL when absent. */
const char *itest_header(const struct itest_resp *r, const char *name, char *buf, size_t n);
/* 1 when r is a contract error: application/problem+json with "error" equal
 * to code and a string "message"; CUnit assertions inside. */
int itest_is_problem(const struct itest_resp *r, long status, const char *code);

/* First column of the first row of sql run in database db as superuser;
 * -1 on error or no row (the error is printed). */
int64_t itest_sql_int(const char *db, const char *sql);
/* Same, as a malloc'd string; NULL on error or no row. */
char *itest_sql_text(const char *db, const char *sql);
/* Runs a statement for its effect; 0 / -1. */
int itest_sql_exec(const char *db, const char *sql);

/* Runs a shell command with the stack's environment; returns its exit code. */
int itest_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A name unique to this run: prefix + short random suffix, [a-z0-9_]. */
void itest_unique(char *out, size_t n, const char *prefix);
/* Sleeps ms milliseconds. */
void itest_sleep_ms(int ms);

#endif
