/*
 * test_auth.c: the token service's pure parts.
 */
#include <string.h>

#include "../../fcgi/auth/auth.h"
#include "unit.h"

#define S(x) x, strlen(x)

static void
test_identity(void)
{
	struct token_claims c;
	int v = -1;

	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":1000,\"isValid\":true,\"username\":\"ann\","
	    "\"roles\":[\"user\",\"admin\"]}"), &c, &v), 1);
	CU_ASSERT_EQUAL(c.sub, 1000);
	CU_ASSERT_STRING_EQUAL(c.username, "ann");
	CU_ASSERT_EQUAL(c.nroles, 2);
	CU_ASSERT_STRING_EQUAL(c.roles[1], "admin");
	CU_ASSERT_EQUAL(v, 1);	/* absent: an older user service, whose users all count */
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":7,\"isValid\":true,\"username\":\"b\","
	    "\"roles\":[\"user\"],\"emailVerified\":false}"), &c, &v), 1);
	CU_ASSERT_EQUAL(v, 0);
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":7,\"isValid\":true,\"username\":\"b\","
	    "\"roles\":[\"user\"],\"emailVerified\":\"no\"}"), &c, &v), -1);
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":null,\"isValid\":false}"), &c, &v), 0);
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"isValid\":\"yes\"}"), &c, &v), -1);
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":0,\"isValid\":true,\"username\":\"a\",\"roles\":[]}"), &c, &v), -1);
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":5,\"isValid\":true,\"roles\":[]}"), &c, &v), -1);
	CU_ASSERT_EQUAL(auth_parse_identity(S("{\"userId\":5,\"isValid\":true,\"username\":\"a\","
	    "\"roles\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}"), &c, &v), -1);
	CU_ASSERT_EQUAL(auth_parse_identity(S("not json"), &c, &v), -1);
}

static CU_TestInfo tests[] = {
	{ "identity answers", test_identity },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(auth, tests)
