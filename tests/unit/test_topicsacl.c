/*
 * test_topicsacl.c: esm-topics' ACL file parser (worker/topics/acl.c):
 * the rules it reads, comments and blanks, and every kind of line it
 * refuses, by line number, with nothing to apply.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "unit.h"
#include "../../worker/topics/acl.h"

#define NACL 8

/* Parses a copy of text; returns what topics_acl_parse returned. */
static int
parse(const char *text, struct kafka_acl *out, size_t *n, char *why, size_t len, char *buf,
    size_t bufsz)
{
	snprintf(buf, bufsz, "%s", text);
	return topics_acl_parse(buf, out, NACL, n, why, len);
}

static void
test_rules(void)
{
	struct kafka_acl a[NACL];
	char buf[1024], why[200], words[300];
	size_t n = 99;

	CU_ASSERT_EQUAL_FATAL(parse(
	    "# rights of the services\n"
	    "\n"
	    "User:relay-tasks WRITE topic literal task-events\n"
	    "  User:notifier\tREAD group literal notification-service-group   # the notifier\n"
	    "User:relay-tasks IDEMPOTENT_WRITE cluster literal kafka-cluster\r\n"
	    "user:x describe_configs TOPIC Prefixed application-\n"
	    "User:ops ALL topic literal *",
	    a, &n, why, sizeof(why), buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	CU_ASSERT_STRING_EQUAL(why, "");
	CU_ASSERT_STRING_EQUAL(a[0].principal, "User:relay-tasks");
	CU_ASSERT_EQUAL(a[0].op, KAFKA_ACL_WRITE);
	CU_ASSERT_EQUAL(a[0].res, KAFKA_RES_TOPIC);
	CU_ASSERT_EQUAL(a[0].pat, KAFKA_PAT_LITERAL);
	CU_ASSERT_STRING_EQUAL(a[0].name, "task-events");
	CU_ASSERT_STRING_EQUAL(a[1].principal, "User:notifier");
	CU_ASSERT_EQUAL(a[1].op, KAFKA_ACL_READ);
	CU_ASSERT_EQUAL(a[1].res, KAFKA_RES_GROUP);
	CU_ASSERT_STRING_EQUAL(a[1].name, "notification-service-group");
	CU_ASSERT_EQUAL(a[2].op, KAFKA_ACL_IDEMPOTENT_WRITE);
	CU_ASSERT_EQUAL(a[2].res, KAFKA_RES_CLUSTER);
	CU_ASSERT_STRING_EQUAL(a[2].name, "kafka-cluster");
	/* Words in any case; the principal and the name kept as written. */
	CU_ASSERT_STRING_EQUAL(a[3].principal, "user:x");
	CU_ASSERT_EQUAL(a[3].op, KAFKA_ACL_DESCRIBE_CONFIGS);
	CU_ASSERT_EQUAL(a[3].pat, KAFKA_PAT_PREFIXED);
	CU_ASSERT_STRING_EQUAL(a[3].name, "application-");
	CU_ASSERT_EQUAL(a[4].op, KAFKA_ACL_ALL);
	CU_ASSERT_STRING_EQUAL(a[4].name, "*");
	topics_acl_format(&a[3], words, sizeof(words));
	CU_ASSERT_STRING_EQUAL(words, "user:x DESCRIBE_CONFIGS topic prefixed application-");
}

static void
test_empty(void)
{
	struct kafka_acl a[NACL];
	char buf[64], why[200];
	size_t n = 99;

	CU_ASSERT_EQUAL(parse("", a, &n, why, sizeof(why), buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_EQUAL(parse("# nothing\n\n   \n", a, &n, why, sizeof(why), buf, sizeof(buf)), 0);
	CU_ASSERT_EQUAL(n, 0);
}

/* Each bad line is refused with its number and the reason. */
static void
test_refusals(void)
{
	static const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "User:a WRIET topic literal x", "line 1: unknown operation \"WRIET\"" },
		{ "# ok\nUser:a WRITE topics literal x",
		  "line 2: unknown resource type \"topics\" (topic, group, cluster)" },
		{ "User:a WRITE topic regex x", "line 1: unknown pattern \"regex\" (literal, prefixed)" },
		{ "User:a WRITE topic literal", "line 1: too few fields, expected PRINCIPAL "
		  "OPERATION RESOURCE_TYPE PATTERN NAME" },
		{ "User:a WRITE topic literal x y", "line 1: too many fields, expected PRINCIPAL "
		  "OPERATION RESOURCE_TYPE PATTERN NAME" },
		{ "relay WRITE topic literal x",
		  "line 1: principal \"relay\" is not TYPE:NAME (User:name)" },
		{ "User: WRITE topic literal x",
		  "line 1: principal \"User:\" is not TYPE:NAME (User:name)" },
		{ ":a WRITE topic literal x", "line 1: principal \":a\" is not TYPE:NAME (User:name)" },
		{ "User:a WRITE group literal g", "line 1: a group has no operation WRITE" },
		{ "User:a IDEMPOTENT_WRITE topic literal x",
		  "line 1: a topic has no operation IDEMPOTENT_WRITE" },
		{ "User:a READ cluster literal kafka-cluster", "line 1: a cluster has no operation READ" },
		{ "User:a IDEMPOTENT_WRITE cluster literal my-cluster",
		  "line 1: name \"my-cluster\": the cluster is \"kafka-cluster\", literal" },
		{ "User:a IDEMPOTENT_WRITE cluster prefixed kafka-cluster",
		  "line 1: name \"kafka-cluster\": the cluster is \"kafka-cluster\", literal" },
		{ "User:a WRITE topic literal bad/name",
		  "line 1: name \"bad/name\": not a topic name ([A-Za-z0-9._-], at most 249)" },
		{ "User:a WRITE topic prefixed *",
		  "line 1: name \"*\": \"*\" (every name) is literal, not prefixed" },
		{ "User:a WRITE topic literal x\nUser:a WRITE topic literal \x01x",
		  "line 2: not text (invalid UTF-8 or a control character)" },
		{ "User:\xff WRITE topic literal x",
		  "line 1: not text (invalid UTF-8 or a control character)" },
		{ "\n\n\nUser:a ANY topic literal x", "line 4: unknown operation \"ANY\"" },
	};
	struct kafka_acl a[NACL];
	char buf[512], why[200];
	size_t i, n;

	for (i = 0; i < ESM_NELEM(bad); i++) {
		CU_ASSERT_EQUAL(parse(bad[i].text, a, &n, why, sizeof(why), buf, sizeof(buf)), -1);
		CU_ASSERT_STRING_EQUAL(why, bad[i].why);
		if (strcmp(why, bad[i].why) != 0)
			fprintf(stderr, "\n  case %zu: got \"%s\"\n", i, why);
	}
}

static void
test_limits(void)
{
	struct kafka_acl a[NACL];
	char buf[4096], why[200], name[300];
	size_t i, n, used = 0;

	/* One rule more than there is room for. */
	for (i = 0; i <= NACL; i++)
		used += (size_t)snprintf(buf + used, sizeof(buf) - used,
		    "User:a READ topic literal t%zu\n", i);
	CU_ASSERT_EQUAL(topics_acl_parse(buf, a, NACL, &n, why, sizeof(why)), -1);
	CU_ASSERT_STRING_EQUAL(why, "line 9: more than 8 rules");
	/* Kafka's longest topic name, and one byte more. */
	memset(name, 'x', 250);
	name[249] = '\0';
	snprintf(buf, sizeof(buf), "User:a READ topic literal %s", name);
	CU_ASSERT_EQUAL(topics_acl_parse(buf, a, NACL, &n, why, sizeof(why)), 0);
	name[249] = 'x';
	name[250] = '\0';
	snprintf(buf, sizeof(buf), "User:a READ group literal %s", name);
	CU_ASSERT_EQUAL(topics_acl_parse(buf, a, NACL, &n, why, sizeof(why)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "longer than 249"));
	/* An unknown word is quoted back, capped. */
	memset(name, 'W', 200);
	name[200] = '\0';
	snprintf(buf, sizeof(buf), "User:a %s topic literal x", name);
	CU_ASSERT_EQUAL(topics_acl_parse(buf, a, NACL, &n, why, sizeof(why)), -1);
	CU_ASSERT(strlen(why) < 80);
}

static CU_TestInfo tests[] = {
	{ "rules, comments, case", test_rules },
	{ "empty and comment-only files", test_empty },
	{ "bad lines refused by number", test_refusals },
	{ "rule count, name length, echo cap", test_limits },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(topicsacl, tests)
