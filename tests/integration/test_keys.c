/*
 * test_keys.c: signing key rotation on the running stack (scripts/stack.sh
 * rotate-keys and retire-keys, which restart the pools). An access token
 * issued before the rotation keeps working at every service while the old
 * key is kept as previous, a new login's token carries the new kid and works
 * too, the JWK Set lists both keys; once the old key is retired its token is
 * refused everywhere. The stack ends as it began, with one key (the teardown
 * retires the previous key also when a test stopped half-way), so the suites
 * after this one see an ordinary stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "flows.h"
#include "itest.h"

#define NOTIFS "/api/v1/eventstreammonitor/notifications"
#define PER_SERVICE 6		/* requests per service: a pool has several processes */
#define KID_MAX 32

/* scripts/stack.sh CMD on this run's instance; its exit code. */
static int
stack(const char *cmd)
{
	const char *inst = getenv("ESM_TEST_INSTANCE");

	return itest_sh("'%s/scripts/stack.sh' %s '%s' >/dev/null", getenv("ESM_ROOT"), cmd,
	    inst != NULL && *inst != '\0' ? inst : "test");
}

/* The kid in a JWT's header into kid ("" when there is none). */
static void
kid_of(const char *jwt, char kid[KID_MAX])
{
	unsigned char hdr[256];
	const char *dot = strchr(jwt, '.');
	const char *v;
	size_t n;
	cJSON *h;

	kid[0] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(dot);
	CU_ASSERT_FATAL(sodium_base642bin(hdr, sizeof(hdr) - 1, jwt, (size_t)(dot - jwt), NULL, &n,
	    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0);
	hdr[n] = '\0';
	CU_ASSERT_PTR_NOT_NULL_FATAL(h = cJSON_Parse((const char *)hdr));
	if ((v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "kid"))) != NULL)
		snprintf(kid, KID_MAX, "%s", v);
	cJSON_Delete(h);
}

/* The kids of the published JWK Set, in order, into kids; their count. */
static int
jwks(char kids[4][KID_MAX])
{
	struct itest_resp r;
	const cJSON *keys, *k;
	int n = 0;

	CU_ASSERT_EQUAL(itest_json("GET", "gateway", "/.well-known/jwks.json", NULL, NULL, &r), 200);
	keys = jget(r.json, "keys");
	CU_ASSERT(cJSON_IsArray(keys));
	cJSON_ArrayForEach(k, keys) {
		if (n < 4)
			snprintf(kids[n], KID_MAX, "%s", jstr(k, "kid"));
		n++;
	}
	itest_resp_free(&r);
	return n;
}

/* Asks each service's bearer route PER_SERVICE times with token; every
 * answer must be want (401: "invalid token"). */
static void
at_every_service(const struct flow_user *u, const char *token, long want)
{
	char users[96];
	const char *path[4] = { AUTH_BASE "/validate", users, TASKS, NOTIFS };
	struct itest_resp r;
	int i, k;

	snprintf(users, sizeof(users), USERS_BASE "/%lld", (long long)u->id);
	for (i = 0; i < 4; i++)
		for (k = 0; k < PER_SERVICE; k++) {
			long st = itest_json("GET", "gateway", path[i], NULL, token, &r);

			if (st != want)
				fprintf(stderr, "\n  %s: %ld, wanted %ld: %s\n", path[i], st, want,
				    r.body != NULL ? r.body : "");
			CU_ASSERT_EQUAL(st, want);
			if (want == 401)
				CU_ASSERT(r.body != NULL && strstr(r.body, "invalid token") != NULL);
			itest_resp_free(&r);
		}
}

static void
test_rotate_and_retire(void)
{
	struct flow_user u, later;
	char old_kid[KID_MAX], new_kid[KID_MAX], kids[4][KID_MAX], old_token[2048], body[256];
	struct itest_resp r;

	CU_ASSERT_FATAL(flow_user(&u, "keys", 0) == 0);
	kid_of(u.access, old_kid);
	CU_ASSERT_FATAL(old_kid[0] != '\0');
	CU_ASSERT_EQUAL(jwks(kids), 1);
	CU_ASSERT_STRING_EQUAL(kids[0], old_kid);
	snprintf(old_token, sizeof(old_token), "%s", u.access);
	at_every_service(&u, old_token, 200);

	/* A new signing key; the old one still verifies. */
	CU_ASSERT_FATAL(stack("rotate-keys") == 0);
	at_every_service(&u, old_token, 200);
	CU_ASSERT_FATAL(flow_user(&later, "keys", 0) == 0);
	kid_of(later.access, new_kid);
	CU_ASSERT(new_kid[0] != '\0');
	CU_ASSERT_STRING_NOT_EQUAL(new_kid, old_kid);
	at_every_service(&later, later.access, 200);
	/* The refresh token from before the rotation gets a token of the new key. */
	snprintf(body, sizeof(body), "{\"refreshToken\":\"%s\"}", u.refresh);
	CU_ASSERT_EQUAL_FATAL(itest_json("POST", "gateway", AUTH_BASE "/refresh", body, NULL, &r), 200);
	snprintf(u.access, sizeof(u.access), "%s", jstr(r.json, "accessToken"));
	itest_resp_free(&r);
	kid_of(u.access, kids[0]);
	CU_ASSERT_STRING_EQUAL(kids[0], new_kid);
	CU_ASSERT_EQUAL(jwks(kids), 2);
	CU_ASSERT_STRING_EQUAL(kids[0], new_kid);
	CU_ASSERT_STRING_EQUAL(kids[1], old_kid);

	/* The old key retired: its token is refused everywhere, the new ones work. */
	CU_ASSERT_FATAL(stack("retire-keys") == 0);
	at_every_service(&u, old_token, 401);
	at_every_service(&later, later.access, 200);
	at_every_service(&u, u.access, 200);
	CU_ASSERT_EQUAL(jwks(kids), 1);
	CU_ASSERT_STRING_EQUAL(kids[0], new_kid);
}

/* Whatever happened above, the stack goes on with one key and every pool
 * up (retire-keys is a start, which is idempotent). */
static void
teardown(void)
{
	CU_ASSERT(stack("retire-keys") == 0);
}

static CU_TestInfo tests[] = {
	{ "rotate: old tokens verify until the old key is retired", test_rotate_and_retire },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE_HOOKS(keys, tests, NULL, teardown)
