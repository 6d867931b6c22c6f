/*
 * test_users.c: the user service's pure parts: the user object writer.
 */
#include <string.h>

#include "../../fcgi/users/users.h"
#include "unit.h"

static void
test_user_write(void)
{
	const char *row[USERS_NCOLS] = { "1007", "ann", "ann@example.com", "Ann \"A\"\n", NULL,
		"1990-02-03", "2026-01-02T03:04:05.000006Z", "2026-01-02T03:04:05.000007Z", "user", "f" };
	buf_t b = { 0 };
	cJSON *j;

	CU_ASSERT_EQUAL(users_user_write(&b, row), 0);
	CU_ASSERT_STRING_EQUAL(b.p, "{\"userId\":1007,\"username\":\"ann\",\"email\":\"ann@example.com\","
	    "\"firstName\":\"Ann \\\"A\\\"\\n\",\"lastName\":null,\"dateOfBirth\":\"1990-02-03\","
	    "\"createdAt\":\"2026-01-02T03:04:05.000006Z\",\"updatedAt\":\"2026-01-02T03:04:05.000007Z\","
	    "\"emailVerified\":false}");
	/* What it writes is JSON, and the text comes back unchanged. */
	j = cJSON_ParseWithLength(b.p, b.len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "firstName")->valuestring, "Ann \"A\"\n");
	CU_ASSERT_EQUAL(cJSON_GetObjectItem(j, "userId")->valuedouble, 1007);
	cJSON_Delete(j);
	/* Only the optional columns may be NULL; the id must be one. */
	buf_reset(&b);
	row[2] = NULL;
	CU_ASSERT_EQUAL(users_user_write(&b, row), -1);
	row[2] = "ann@example.com";
	row[0] = "0";
	CU_ASSERT_EQUAL(users_user_write(&b, row), -1);
	row[0] = "12x";
	CU_ASSERT_EQUAL(users_user_write(&b, row), -1);
	/* emailVerified is a boolean from the row's, never absent. */
	row[0] = "1007";
	row[9] = "t";
	buf_reset(&b);
	CU_ASSERT_EQUAL(users_user_write(&b, row), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(b.p, "\"emailVerified\":true}"));
	row[9] = NULL;
	CU_ASSERT_EQUAL(users_user_write(&b, row), -1);
	row[9] = "x";
	CU_ASSERT_EQUAL(users_user_write(&b, row), -1);
	buf_free(&b);
}

static CU_TestInfo tests[] = {
	{ "user object", test_user_write },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(users, tests)
