/*
 * test_pwhash.c: argon2id hashing at the minimum costs (to stay quick):
 * cost floor, hash and verify, refusals, and the dummy work for unknown users.
 */
#include <string.h>
#include "unit.h"
#include "pwhash.h"

#define PW "correct horse battery staple"

static void
test_costs(void)
{
	CU_ASSERT_EQUAL(pwhash_init(0, 0), -1);
	CU_ASSERT_EQUAL(pwhash_init(PWHASH_MIN_MEM_KIB - 1, PWHASH_MIN_OPS), -1);
	CU_ASSERT_EQUAL(pwhash_init(PWHASH_MIN_MEM_KIB, PWHASH_MIN_OPS - 1), -1);
	CU_ASSERT_EQUAL(pwhash_init((size_t)-1, PWHASH_MIN_OPS), -1);
	CU_ASSERT_EQUAL_FATAL(pwhash_init(PWHASH_MIN_MEM_KIB, PWHASH_MIN_OPS), 0);
	/* A refused re-init keeps the working costs. */
	CU_ASSERT_EQUAL(pwhash_init(1024, 1), -1);
}

static void
test_hash_verify(void)
{
	char h[PWHASH_STR_LEN], h2[PWHASH_STR_LEN];

	CU_ASSERT_EQUAL_FATAL(pwhash_init(PWHASH_MIN_MEM_KIB, PWHASH_MIN_OPS), 0);
	CU_ASSERT_EQUAL_FATAL(pwhash_hash(PW, strlen(PW), h), 0);
	CU_ASSERT_EQUAL(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31), 0);
	CU_ASSERT_EQUAL(pwhash_verify(h, PW, strlen(PW)), 1);
	CU_ASSERT_EQUAL(pwhash_verify(h, "correct horse battery stapler", strlen(PW) + 1), 0);
	CU_ASSERT_EQUAL(pwhash_verify(h, PW, strlen(PW) - 1), 0);
	CU_ASSERT_EQUAL(pwhash_verify(h, "", 0), 0);
	/* Salted: the same password hashes differently each time. */
	CU_ASSERT_EQUAL_FATAL(pwhash_hash(PW, strlen(PW), h2), 0);
	CU_ASSERT_STRING_NOT_EQUAL(h, h2);
	CU_ASSERT_EQUAL(pwhash_verify(h2, PW, strlen(PW)), 1);
}

static void
test_refusals(void)
{
	char h[PWHASH_STR_LEN], bad[PWHASH_STR_LEN], big[1026];

	CU_ASSERT_EQUAL_FATAL(pwhash_init(PWHASH_MIN_MEM_KIB, PWHASH_MIN_OPS), 0);
	CU_ASSERT_EQUAL_FATAL(pwhash_hash(PW, strlen(PW), h), 0);

	/* Unknown user, malformed hashes. */
	CU_ASSERT_EQUAL(pwhash_verify(NULL, PW, strlen(PW)), 0);
	CU_ASSERT_EQUAL(pwhash_verify(NULL, "", 0), 0);
	CU_ASSERT_EQUAL(pwhash_verify("", PW, strlen(PW)), 0);
	CU_ASSERT_EQUAL(pwhash_verify("$argon2id$garbage", PW, strlen(PW)), 0);
	CU_ASSERT_EQUAL(pwhash_verify(PW, PW, strlen(PW)), 0);
	memcpy(bad, h, sizeof(bad));
	bad[strlen(bad) - 3] ^= 1;				/* damaged digest */
	CU_ASSERT_EQUAL(pwhash_verify(bad, PW, strlen(PW)), 0);
	memset(bad, 'x', sizeof(bad));				/* no terminator */
	CU_ASSERT_EQUAL(pwhash_verify(bad, PW, strlen(PW)), 0);

	/* NUL inside, absurd length, no pointer. */
	CU_ASSERT_EQUAL(pwhash_hash("abc\0def", 7, bad), -1);
	CU_ASSERT_EQUAL(pwhash_verify(h, PW "\0", strlen(PW) + 1), 0);
	memset(big, 'p', sizeof(big));
	CU_ASSERT_EQUAL(pwhash_hash(big, 1025, bad), -1);
	CU_ASSERT_EQUAL(pwhash_verify(h, big, 1025), 0);
	CU_ASSERT_EQUAL(pwhash_hash(NULL, 0, bad), -1);
	CU_ASSERT_EQUAL(pwhash_verify(h, NULL, 0), 0);
	CU_ASSERT_EQUAL_FATAL(pwhash_hash(big, 1024, bad), 0);
	CU_ASSERT_EQUAL(pwhash_verify(bad, big, 1024), 1);
}

static void
test_dummy_cost(void)
{
	char h[PWHASH_STR_LEN];
	int64_t t0, d, known = INT64_MAX, unknown = INT64_MAX;

	CU_ASSERT_EQUAL_FATAL(pwhash_init(PWHASH_MIN_MEM_KIB, PWHASH_MIN_OPS), 0);
	CU_ASSERT_EQUAL_FATAL(pwhash_hash(PW, strlen(PW), h), 0);
	/* Best of three each, so a busy machine does not decide the result;
	 * the bound is loose: the point is that NULL is not a shortcut. */
	for (int i = 0; i < 3; i++) {
		t0 = util_mono_us();
		CU_ASSERT_EQUAL(pwhash_verify(h, "wrong", 5), 0);
		if ((d = util_mono_us() - t0) < known)
			known = d;
		t0 = util_mono_us();
		CU_ASSERT_EQUAL(pwhash_verify(NULL, "wrong", 5), 0);
		if ((d = util_mono_us() - t0) < unknown)
			unknown = d;
	}
	CU_ASSERT(unknown * 3 > known);
	CU_ASSERT(unknown > 1000);	/* argon2id at 19 MiB takes milliseconds */
}

static CU_TestInfo tests[] = {
	{ "cost floor", test_costs },
	{ "hash and verify", test_hash_verify },
	{ "refusals", test_refusals },
	{ "unknown user costs a verify", test_dummy_cost },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(pwhash, tests)
