/*
 * test_json.c: the strict reader's caps and its duplicate-key check, on
 * bodies as large as a request may be. (Its other rules are in
 * test_valid.c.) Nothing here measures time: a cap either refuses a body,
 * with its reason, or lets it through.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "unit.h"

#define BODY_MAX 65536	/* ESM_BODY_MAX's default */
#define S_(x) x, strlen(x)

/* json_parse_strict on s[0..n): its return, and the reason in *why ("" when
 * it parsed). */
static int
parse(const char *s, size_t n, const char **why)
{
	cJSON *j = NULL;
	int rc;

	*why = "";
	rc = json_parse_strict(s, n, JSON_DEPTH_MAX, &j, why);
	CU_ASSERT((rc == 0) == (j != NULL));
	cJSON_Delete(j);
	return rc;
}

/* One object of distinct keys "0", "1", ... "1f3f" filling max bytes. */
static size_t
many_keys(char *b, size_t max)
{
	size_t n = 1;
	char m[32];
	int i, k;

	b[0] = '{';
	for (i = 0;; i++) {
		k = snprintf(m, sizeof(m), "%s\"%x\":0", i ? "," : "", i);
		if (n + (size_t)k + 1 > max)
			break;
		memcpy(b + n, m, (size_t)k);
		n += (size_t)k;
	}
	b[n++] = '}';
	b[n] = '\0';
	return n;
}

/* The body of the report: 64 KiB, about 8,000 distinct keys, one object.
 * It used to be parsed and checked pair by pair. */
static void
test_many_keys_64k(void)
{
	char *b = malloc(BODY_MAX + 1), want[64];
	const char *why;
	size_t n, i, keys;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	n = many_keys(b, BODY_MAX);
	CU_ASSERT(n > BODY_MAX - 16 && n <= BODY_MAX);
	for (i = keys = 0; i < n; i++)
		keys += b[i] == ':';
	CU_ASSERT(keys > 7500);	/* about 8,000 */
	snprintf(want, sizeof(want), "JSON object has more than %d members", JSON_MEMBERS_MAX);
	CU_ASSERT_EQUAL(parse(b, n, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, want);
	free(b);
}

/* The same keys spread over objects below the member cap: the token cap. */
static void
test_many_keys_nested(void)
{
	char *b = malloc(BODY_MAX + 1), want[64];
	const char *why;
	size_t n = 1;
	int o, k;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	b[0] = '{';
	for (o = 0; n + 1200 < BODY_MAX; o++) {
		n += (size_t)snprintf(b + n, BODY_MAX - n, "%s\"o%d\":{", o ? "," : "", o);
		for (k = 0; k < 100; k++)
			n += (size_t)snprintf(b + n, BODY_MAX - n, "%s\"%x\":0", k ? "," : "", k);
		b[n++] = '}';
	}
	b[n++] = '}';
	snprintf(want, sizeof(want), "JSON document has more than %d tokens", JSON_TOKENS_MAX);
	CU_ASSERT_EQUAL(parse(b, n, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, want);
	free(b);
}

/* obj_of(b, m, dup): an object of m members "k0".."k<m-1>"; with dup, the
 * last one is named like the first. */
static size_t
obj_of(char *b, int m, int dup)
{
	size_t n = 1;
	int i;

	b[0] = '{';
	for (i = 0; i < m; i++)
		n += (size_t)sprintf(b + n, "%s\"k%d\":%d", i ? "," : "", dup && i == m - 1 ? 0 : i, i);
	b[n++] = '}';
	b[n] = '\0';
	return n;
}

static void
test_member_cap(void)
{
	char b[8192], want[64];
	const char *why;
	size_t n;

	n = obj_of(b, JSON_MEMBERS_MAX, 0);
	CU_ASSERT_EQUAL(parse(b, n, &why), 0);
	n = obj_of(b, JSON_MEMBERS_MAX + 1, 0);
	snprintf(want, sizeof(want), "JSON object has more than %d members", JSON_MEMBERS_MAX);
	CU_ASSERT_EQUAL(parse(b, n, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, want);
	/* Arrays have no member cap of their own, only the token cap. */
	n = (size_t)sprintf(b, "[");
	for (int i = 0; i < JSON_MEMBERS_MAX * 2; i++)
		n += (size_t)sprintf(b + n, "%s%d", i ? "," : "", i);
	b[n++] = ']';
	CU_ASSERT_EQUAL(parse(b, n, &why), 0);
	/* Commas in strings are not members. */
	n = (size_t)sprintf(b, "{\"a\":\"");
	memset(b + n, ',', 1000);
	n += 1000;
	n += (size_t)sprintf(b + n, "\",\"b\":\"\\\",,,\"}");
	CU_ASSERT_EQUAL(parse(b, n, &why), 0);
}

/* An array of count copies of item: 1 + count tokens. */
static size_t
array_of(char *b, const char *item, int count)
{
	size_t n = 1;
	int i;

	b[0] = '[';
	for (i = 0; i < count; i++)
		n += (size_t)sprintf(b + n, "%s%s", i ? "," : "", item);
	b[n++] = ']';
	b[n] = '\0';
	return n;
}

static void
test_token_cap(void)
{
	static const char *items[] = { "0", "-12.5e+300", "true", "null", "\"a,b]\"", "{}", "[]", " 7 " };
	char *b = malloc(BODY_MAX), want[64];
	const char *why;
	size_t i, n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	snprintf(want, sizeof(want), "JSON document has more than %d tokens", JSON_TOKENS_MAX);
	for (i = 0; i < ESM_NELEM(items); i++) {
		n = array_of(b, items[i], JSON_TOKENS_MAX - 1);
		if (parse(b, n, &why) != 0)
			fprintf(stderr, "  %s x %d: %s\n", items[i], JSON_TOKENS_MAX - 1, why);
		CU_ASSERT_STRING_EQUAL(why, "");
		n = array_of(b, items[i], JSON_TOKENS_MAX);
		CU_ASSERT_EQUAL(parse(b, n, &why), -1);
		CU_ASSERT_STRING_EQUAL(why, want);
	}
	/* Names count too: {"k0":0,...} of m members is 1 + 2m tokens. */
	n = (size_t)sprintf(b, "{\"a\":");
	n += obj_of(b + n, JSON_MEMBERS_MAX, 0);
	n += (size_t)sprintf(b + n, ",\"b\":");
	n += obj_of(b + n, JSON_MEMBERS_MAX, 0);
	b[n++] = '}';
	CU_ASSERT_EQUAL(parse(b, n, &why), -1);	/* 3 + 2 * 257 tokens */
	CU_ASSERT_STRING_EQUAL(why, want);
	free(b);
}

static void
test_duplicates(void)
{
	char b[8192];
	const char *why;
	size_t n;

	/* Far apart: the first and the last of a full object. */
	n = obj_of(b, JSON_MEMBERS_MAX, 1);
	CU_ASSERT_EQUAL(parse(b, n, &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "duplicate key in JSON object");
	/* Spelled differently, the same after decoding. */
	CU_ASSERT_EQUAL(parse(S_("{\"ab\":1,\"x\":2,\"\\u0061b\":3}"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "duplicate key in JSON object");
	/* Nested, in objects and in arrays, at any depth. */
	CU_ASSERT_EQUAL(parse(S_("{\"a\":{\"b\":{\"c\":1,\"d\":2,\"c\":3}}}"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "duplicate key in JSON object");
	CU_ASSERT_EQUAL(parse(S_("[{\"x\":1},[{\"y\":1,\"z\":[],\"y\":2}]]"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "duplicate key in JSON object");
	/* One name in different objects, or as a value, is no duplicate. */
	CU_ASSERT_EQUAL(parse(S_("[{\"x\":1},{\"x\":2},{\"x\":{\"x\":\"x\"}}]"), &why), 0);
	/* Names that share a prefix, or differ only in case, are distinct. */
	CU_ASSERT_EQUAL(parse(S_("{\"a\":1,\"ab\":2,\"A\":3,\"abc\":4,\"\":5}"), &why), 0);
	CU_ASSERT_EQUAL(parse(S_("{\"\":1,\"\":2}"), &why), -1);
}

/* What a client sends every day still parses and checks. */
static void
test_ordinary_body(void)
{
	static const struct json_field f[] = {
		{ "username", JT_STRING, 1, 3, 20, NULL, 0, 0 },
		{ "email", JT_STRING, 1, 3, 254, NULL, 0, 0 },
		{ "password", JT_STRING, 1, 8, 128, NULL, 0, 0 },
		{ "firstName", JT_STRING_OR_NULL, 0, 0, 50, NULL, 0, 0 },
	};
	static const char body[] = "{\"username\":\"ada\",\"email\":\"ada@example.org\","
	    "\"password\":\"correct horse battery\",\"firstName\":\"Ad\xc3\xa1\"}\n";
	const char *bad[JSON_BAD_MAX], *why = NULL;
	size_t nbad;
	cJSON *j = NULL;

	CU_ASSERT_EQUAL_FATAL(json_parse_strict(body, sizeof(body) - 1, JSON_DEPTH_MAX, &j, &why), 0);
	CU_ASSERT(json_check_fields(j, f, ESM_NELEM(f), bad, &nbad));
	CU_ASSERT_STRING_EQUAL(json_str(j, "firstName"), "Ad\xc3\xa1");
	cJSON_Delete(j);
}

/* Unknown members beyond what the error can name are not looked at, and
 * the answer is the same as before. */
static void
test_many_unknown_members(void)
{
	static const struct json_field f[] = {
		{ "name", JT_STRING, 1, 1, 10, NULL, 0, 0 },
	};
	const char *bad[JSON_BAD_MAX], *why = NULL;
	char b[8192];
	size_t nbad, n;
	cJSON *j = NULL;

	n = obj_of(b, JSON_MEMBERS_MAX, 0);
	CU_ASSERT_EQUAL_FATAL(json_parse_strict(b, n, JSON_DEPTH_MAX, &j, &why), 0);
	CU_ASSERT_FALSE(json_check_fields(j, f, ESM_NELEM(f), bad, &nbad));
	CU_ASSERT_EQUAL(nbad, JSON_BAD_MAX);
	CU_ASSERT_STRING_EQUAL(bad[0], "k0");
	CU_ASSERT_STRING_EQUAL(bad[JSON_BAD_MAX - 1], "k7");
	cJSON_Delete(j);
}

/* The pre-scan reads the text alone; what it must not get wrong. */
static void
test_scan_edges(void)
{
	const char *why;

	CU_ASSERT_EQUAL(parse(S_("]"), &why), -1);
	CU_ASSERT_EQUAL(parse(S_("{}}"), &why), -1);
	CU_ASSERT_EQUAL(parse(S_("{\"a\":\"x\\\\\"}"), &why), 0);	/* escaped backslash, then the end */
	CU_ASSERT_EQUAL(parse(S_("{\"a\":\"\\\"}"), &why), -1);	/* escaped quote: never closed */
	CU_ASSERT_STRING_EQUAL(why, "malformed JSON");
	CU_ASSERT_EQUAL(parse(S_("{\"\xe2\x82\xac\":\"\xf0\x9f\x98\x80\"}"), &why), 0);
	CU_ASSERT_EQUAL(parse(S_("{\"a\":\xe2\x82\xac}"), &why), -1);	/* outside a string */
	CU_ASSERT_EQUAL(parse(S_("{\"a\":1}\xff"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "body is not valid UTF-8");
	CU_ASSERT_EQUAL(parse(S_("{\"a\":\"\xe2\x82\"}"), &why), -1);	/* cut short */
	CU_ASSERT_STRING_EQUAL(why, "body is not valid UTF-8");
	CU_ASSERT_EQUAL(parse(S_("{\"a\":\"\\\xe2\x82\xac\"}"), &why), -1);	/* escaped non-ASCII */
	CU_ASSERT_EQUAL(parse(S_("\"abc"), &why), -1);
	CU_ASSERT_EQUAL(parse(S_(" \r\n\t{ \"a\" : [ 1 , 2 ] } \n"), &why), 0);
	CU_ASSERT_EQUAL(parse(S_("{\"a\":tru e}"), &why), -1);
}

/* Numbers that would not survive as doubles are refused; their
 * neighbours that do are kept exactly. */
static void
test_numbers(void)
{
	const char *why;
	cJSON *j = NULL;
	char big[80];

	CU_ASSERT_EQUAL(parse(S_("{\"a\":1e999}"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "number out of range");
	CU_ASSERT_EQUAL(parse(S_("[-1E+400]"), &why), -1);
	CU_ASSERT_EQUAL(parse(S_("[1e-999]"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "number out of range");
	CU_ASSERT_EQUAL(parse(S_("[2.5e-320]"), &why), -1);	/* subnormal */
	CU_ASSERT_EQUAL(parse(S_("{\"a\":9007199254740993}"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "integer too large to be kept exactly (beyond 2^53 - 1)");
	CU_ASSERT_EQUAL(parse(S_("[-9007199254740992]"), &why), -1);
	CU_ASSERT_EQUAL(parse(S_("[123456789012345678901]"), &why), -1);
	memset(big, '1', sizeof(big));
	memcpy(big, "[0.", 3);
	big[sizeof(big) - 1] = ']';
	CU_ASSERT_EQUAL(parse(big, sizeof(big), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "number has more than 64 characters");

	/* Control characters are no white space: nothing hides a number. */
	CU_ASSERT_EQUAL(parse(S_("[\0261e999]"), &why), -1);
	CU_ASSERT_STRING_EQUAL(why, "malformed JSON");
	CU_ASSERT_EQUAL(parse(S_("[\x01 1]"), &why), -1);

	/* In range: kept as written. */
	CU_ASSERT_EQUAL(parse(S_("[1e99, 1e+99, 1.7e308, 2.3e-308, 0e-999, -0, 0.5]"), &why), 0);
	CU_ASSERT_EQUAL(json_parse_strict(S_("[9007199254740991,-9007199254740991]"), 4, &j, &why), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(j);
	CU_ASSERT_EQUAL(cJSON_GetArrayItem(j, 0)->valuedouble, 9007199254740991.0);
	CU_ASSERT_EQUAL(cJSON_GetArrayItem(j, 1)->valuedouble, -9007199254740991.0);
	cJSON_Delete(j);
}

static CU_TestInfo tests[] = {
	{ "64 KiB of distinct keys in one object", test_many_keys_64k },
	{ "64 KiB of keys in many objects", test_many_keys_nested },
	{ "members per object", test_member_cap },
	{ "tokens per document", test_token_cap },
	{ "duplicate keys anywhere", test_duplicates },
	{ "an ordinary body", test_ordinary_body },
	{ "many unknown members", test_many_unknown_members },
	{ "pre-scan edges", test_scan_edges },
	{ "numbers kept exactly or refused", test_numbers },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(json, tests)
