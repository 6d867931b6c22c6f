/*
 * test_idem.c: the Idempotency-Key's syntax and the request fingerprint
 * (shared/idem.c).
 */
#include <stdlib.h>
#include <string.h>

#include "idem.h"
#include "unit.h"

static void
test_key(void)
{
	char k[IDEM_KEY_MAX + 1], longk[IDEM_KEY_MAX + 3];
	const char *bad[] = { NULL, "", "\"\"", "a b", "\"a\\\"b\"", "a\"b", "caf\xc3\xa9", "tab\there",
		"\"unterminated", "nl\n" };

	CU_ASSERT(idem_key_parse("8e03978e-40d5-43e8-bc93-6894a57f9324", k) == 0);
	CU_ASSERT_STRING_EQUAL(k, "8e03978e-40d5-43e8-bc93-6894a57f9324");
	/* The draft's structured-field string names the same key. */
	CU_ASSERT(idem_key_parse("\"8e03978e\"", k) == 0);
	CU_ASSERT_STRING_EQUAL(k, "8e03978e");
	CU_ASSERT(idem_key_parse("x", k) == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT(idem_key_parse(bad[i], k) == -1);
	memset(longk, 'k', IDEM_KEY_MAX);
	longk[IDEM_KEY_MAX] = '\0';
	CU_ASSERT(idem_key_parse(longk, k) == 0);
	longk[IDEM_KEY_MAX] = 'k';
	longk[IDEM_KEY_MAX + 1] = '\0';
	CU_ASSERT(idem_key_parse(longk, k) == -1);
}

static void
test_fingerprint(void)
{
	char a[65], b[65];

	unsetenv("ESM_INTERNAL_SECRET");
	unsetenv("ESM_INTERNAL_SECRET_FILE");
	CU_ASSERT(idem_fingerprint("POST", "/p", "{\"a\":1}", 7, a) == 0);
	CU_ASSERT_EQUAL(strlen(a), 64);
	CU_ASSERT(idem_fingerprint("POST", "/p", "{\"a\":1}", 7, b) == 0);
	CU_ASSERT_STRING_EQUAL(a, b);
	/* Any difference of method, path or body is another request, also
	 * where concatenation alone would not tell them apart. */
	CU_ASSERT(idem_fingerprint("POST", "/p", "{\"a\":2}", 7, b) == 0);
	CU_ASSERT(strcmp(a, b) != 0);
	CU_ASSERT(idem_fingerprint("PUT", "/p", "{\"a\":1}", 7, b) == 0);
	CU_ASSERT(strcmp(a, b) != 0);
	CU_ASSERT(idem_fingerprint("POST", "/q", "{\"a\":1}", 7, b) == 0);
	CU_ASSERT(strcmp(a, b) != 0);
	CU_ASSERT(idem_fingerprint("POST", "/p{", "\"a\":1}", 6, b) == 0);
	CU_ASSERT(strcmp(a, b) != 0);
	CU_ASSERT(idem_fingerprint("POST", "/p", NULL, 0, b) == 0);
	CU_ASSERT(strcmp(a, b) != 0);
}

static CU_TestInfo tests[] = {
	{ "key syntax", test_key },
	{ "request fingerprint", test_fingerprint },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(idem, tests)
