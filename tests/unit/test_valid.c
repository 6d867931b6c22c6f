/*
 * test_valid.c: field validators and the strict JSON reader.
 */
#include <string.h>

#include "json.h"
#include "unit.h"
#include "valid.h"

#define S(x) x, strlen(x)

static void
test_username(void)
{
	CU_ASSERT(valid_username(S("abc")));
	CU_ASSERT(valid_username(S("A_b-9")));
	CU_ASSERT(valid_username(S("abcdefghijklmnopqrst")));
	CU_ASSERT_FALSE(valid_username(S("ab")));
	CU_ASSERT_FALSE(valid_username(S("abcdefghijklmnopqrstu")));
	CU_ASSERT_FALSE(valid_username(S("with space")));
	CU_ASSERT_FALSE(valid_username(S("x'--")));
	CU_ASSERT_FALSE(valid_username(S("\xc3\xbc" "ber")));
	CU_ASSERT_FALSE(valid_username(S("dot.name")));
}

static void
test_email(void)
{
	char big[300];

	CU_ASSERT(valid_email(S("a@example.org")));
	CU_ASSERT(valid_email(S("first.last+tag@sub.example.co")));
	CU_ASSERT_FALSE(valid_email(S("a@b")));
	CU_ASSERT_FALSE(valid_email(S("@example.org")));
	CU_ASSERT_FALSE(valid_email(S("a@example.")));
	CU_ASSERT_FALSE(valid_email(S("a@.example.org")));
	CU_ASSERT_FALSE(valid_email(S("a..b@example.org")));
	CU_ASSERT_FALSE(valid_email(S(".a@example.org")));
	CU_ASSERT_FALSE(valid_email(S("a@exa_mple.org")));
	CU_ASSERT_FALSE(valid_email(S("a@-example.org")));
	CU_ASSERT_FALSE(valid_email(S("a@example-.org")));
	CU_ASSERT_FALSE(valid_email(S("a@example.o")));
	CU_ASSERT_FALSE(valid_email(S("a@example.c0m")));
	CU_ASSERT_FALSE(valid_email(S("a b@example.org")));
	CU_ASSERT_FALSE(valid_email(S("\"q\"@example.org")));
	CU_ASSERT_FALSE(valid_email(S("a@[127.0.0.1]")));
	CU_ASSERT_FALSE(valid_email(S("a@b@example.org")));
	memset(big, 'a', sizeof(big));
	memcpy(big + 250, "@x.org", 7);
	CU_ASSERT_FALSE(valid_email(S(big)));	/* 256 chars, local part > 64 too */
}

static void
test_password_and_names(void)
{
	CU_ASSERT(valid_password(S("12345678")));
	CU_ASSERT(valid_password(S("p\xc3\xa4sswort!")));
	CU_ASSERT_FALSE(valid_password(S("1234567")));
	CU_ASSERT_FALSE(valid_password(S("1234\n5678")));
	/* 8 code points, 16 bytes: counts characters, not bytes. */
	CU_ASSERT(valid_password(S("\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4")));
	CU_ASSERT(valid_name(S("Zo\xc3\xab")));
	CU_ASSERT(valid_name(S("<script>")));
	CU_ASSERT_FALSE(valid_name(S("a\x07" "b")));
	CU_ASSERT_FALSE(valid_name(S("bad\xff")));
}

static void
test_dates(void)
{
	int64_t today = valid_days_from_civil(2026, 11, 25);

	CU_ASSERT_EQUAL(valid_days_from_civil(1970, 1, 1), 0);
	CU_ASSERT_EQUAL(valid_days_from_civil(2000, 3, 1), 11017);
	CU_ASSERT(valid_past_date_at(S("1990-12-10"), today));
	CU_ASSERT(valid_past_date_at(S("2000-02-29"), today));
	CU_ASSERT(valid_past_date_at(S("2026-11-24"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("2026-11-25"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("1900-02-29"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("2001-02-29"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("2001-04-31"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("2001-13-01"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("2001-1-01"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("01-01-2001"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("2001-01-01T00:00"), today));
	CU_ASSERT_FALSE(valid_past_date_at(S("1899-12-31"), today));
}

static void
test_request_id(void)
{
	CU_ASSERT(valid_request_id(S("abc-123_x.y:z")));
	CU_ASSERT_FALSE(valid_request_id(S("")));
	CU_ASSERT_FALSE(valid_request_id(S("a b")));
	CU_ASSERT_FALSE(valid_request_id(S("<x>")));
	CU_ASSERT_FALSE(valid_request_id(S("0123456789012345678901234567890123456789012345678901234567890123456789")));
}

static int
parses(const char *s)
{
	const char *why = NULL;
	cJSON *j = NULL;
	int rc = json_parse_strict(s, strlen(s), JSON_DEPTH_MAX, &j, &why);

	cJSON_Delete(j);
	return rc == 0;
}

static void
test_strict_json(void)
{
	char deep[64];

	CU_ASSERT(parses("{}"));
	CU_ASSERT(parses(" {\"a\":[1,2,{\"b\":null}]} \n"));
	CU_ASSERT(parses("{\"a\":\"\\u00e9\\n\"}"));
	CU_ASSERT_FALSE(parses(""));
	CU_ASSERT_FALSE(parses("{"));
	CU_ASSERT_FALSE(parses("{} {}"));
	CU_ASSERT_FALSE(parses("{\"a\":1,\"a\":2}"));
	CU_ASSERT_FALSE(parses("{\"o\":{\"a\":1,\"a\":2}}"));
	CU_ASSERT_FALSE(parses("{\"a\":\"x\\u0000y\"}"));
	CU_ASSERT_FALSE(parses("{\"a\":\"x\ty\"}"));
	CU_ASSERT_FALSE(parses("{\"a\":\"\xc0\xaf\"}"));	/* overlong */
	CU_ASSERT_FALSE(parses("{\"a\":\"\xed\xa0\x80\"}"));	/* surrogate */
	memset(deep, '[', 17);
	memset(deep + 17, ']', 17);
	deep[34] = '\0';
	CU_ASSERT_FALSE(parses(deep));
	deep[16] = ']';
	deep[33] = '\0';
	memmove(deep + 16, deep + 17, 17);
	CU_ASSERT(parses("[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]"));	/* 16 deep */
	/* Brackets inside strings do not count as depth. */
	CU_ASSERT(parses("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}"));
	CU_ASSERT(parses("{\"a\":\"\\\"[\"}"));
}

static void
test_field_tables(void)
{
	static const struct json_field f[] = {
		{ "name", JT_STRING, 1, 3, 5, NULL, 0, 0 },
		{ "n", JT_INT, 0, 0, 0, NULL, 1, 100 },
		{ "opt", JT_STRING_OR_NULL, 0, 0, 0, valid_username, 0, 0 },
		{ "obj", JT_OBJECT, 0, 0, 0, NULL, 0, 0 },
	};
	const char *bad[JSON_BAD_MAX];
	size_t nbad;
	cJSON *j;

#define CHECK(txt, ok) do { \
	j = cJSON_Parse(txt); \
	CU_ASSERT_EQUAL(json_check_fields(j, f, 4, bad, &nbad), ok); \
	cJSON_Delete(j); } while (0)
	CHECK("{\"name\":\"abc\"}", 1);
	CHECK("{\"name\":\"abc\",\"n\":100,\"opt\":null,\"obj\":{}}", 1);
	CHECK("{\"name\":\"abcdef\"}", 0);
	CHECK("{\"name\":\"ab\"}", 0);
	CHECK("{\"name\":\"\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\xc3\xa4\"}", 1);	/* 5 code points */
	CHECK("{\"name\":\"abc\",\"n\":101}", 0);
	CHECK("{\"name\":\"abc\",\"n\":1.5}", 0);
	CHECK("{\"name\":\"abc\",\"n\":\"1\"}", 0);
	CHECK("{\"name\":\"abc\",\"opt\":\"x y\"}", 0);
	CHECK("{\"name\":\"abc\",\"obj\":[]}", 0);
	CHECK("{}", 0);
	CHECK("[]", 0);
	j = cJSON_Parse("{\"zzz\":1,\"n\":0}");
	CU_ASSERT_FALSE(json_check_fields(j, f, 4, bad, &nbad));
	CU_ASSERT_EQUAL(nbad, 3);	/* unknown zzz, n out of range, name missing */
	CU_ASSERT_STRING_EQUAL(bad[0], "zzz");
	CU_ASSERT_STRING_EQUAL(bad[1], "n");
	CU_ASSERT_STRING_EQUAL(bad[2], "name");
	cJSON_Delete(j);
#undef CHECK
}

static CU_TestInfo tests[] = {
	{ "username", test_username },
	{ "email", test_email },
	{ "password and names", test_password_and_names },
	{ "dates", test_dates },
	{ "request id", test_request_id },
	{ "strict JSON", test_strict_json },
	{ "field tables", test_field_tables },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(valid, tests)
