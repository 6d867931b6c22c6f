/*
 * test_kafka_security.c: the stack on a broker whose only client listener is
 * SASL_SSL (SCRAM-SHA-512), each program its own principal with the rights
 * of scripts/kafka/acls (scripts/stack.sh, ESM_KAFKA_SECURITY=sasl_ssl).
 * The rest of the integration suites prove the event flow on it; this one
 * proves the doors: a principal writing a topic it may not is refused, a
 * relay whose right is taken away says so in its log, keeps its rows and
 * delivers them once the right is back; a service whose password the
 * cluster no longer accepts says so in /health and recovers, without a
 * restart, once the credential is fixed. It also checks that the programs
 * run on the librdkafka the stack chose (ESM_LIBRDKAFKA): SCRAM against
 * Kafka 4.x needs the bundled one. Needs that stack: tests/run.sh runs
 * this suite only there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

#define TOOL_SECS 120

static const char *
inst(void)
{
	const char *i = getenv("ESM_TEST_INSTANCE");
	return i && *i ? i : "test";
}

/* A Java tool of the stack's Kafka (kafka-acls.sh, kafka-configs.sh) as
 * the admin principal; 0 on success. */
static int
kafka_tool(const char *tool, const char *args)
{
	return itest_sh("timeout %d \"$('%s/scripts/kafka.sh' home)/bin/%s\" --bootstrap-server "
	    "\"${ESM_KAFKA_BOOTSTRAP%%%%,*}\" --command-config \"$ESM_KAFKA_TOOLS_CONFIG\" %s "
	    ">/dev/null 2>&1", TOOL_SECS, getenv("ESM_ROOT"), tool, args);
}

/* Sets principal's SCRAM password on the cluster: the one in its secrets
 * file, or that with "-wrong" appended. Through a file, never argv. */
static int
set_password(const char *principal, int wrong)
{
	char args[512];

	if (itest_sh("umask 077; printf 'SCRAM-SHA-512=iterations=4096,password=%%s%s\\n' "
	    "\"$(cat \"$ESM_VAR/secrets/kafka-%s\")\" >\"$ESM_VAR/tmp/scram.conf\"",
	    wrong ? "-wrong" : "", principal) != 0)
		return -1;
	snprintf(args, sizeof(args), "--alter --entity-type users --entity-name %s "
	    "--add-config-file \"$ESM_VAR/tmp/scram.conf\"", principal);
	return kafka_tool("kafka-configs.sh", args);
}

/* kcat producing one message to topic as principal; its exit code. */
static int
produce_as(const char *principal, const char *topic)
{
	return itest_sh("echo probe | timeout 30 kcat -P -F /dev/null -b \"$ESM_KAFKA_BOOTSTRAP\" "
	    "-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=%s "
	    "-X sasl.password=\"$(cat \"$ESM_VAR/secrets/kafka-%s\")\" "
	    "-X ssl.ca.location=\"$ESM_KAFKA_SSL_CA_FILE\" -X message.timeout.ms=10000 "
	    "-t %s >\"$ESM_VAR/tmp/kcat.out\" 2>&1 && ! grep -qi 'authoriz' \"$ESM_VAR/tmp/kcat.out\"",
	    principal, principal, topic);
}

/* The folder of the bundled librdkafka the stack runs on
 * (ESM_LIBRDKAFKA=bundled), or NULL on the system's. */
static const char *
bundled_lib(void)
{
	const char *l = getenv("ESM_LIBRDKAFKA_LIB");

	return l && *l ? l : NULL;
}

/* The programs run on the librdkafka the stack chose (scripts/stack.sh,
 * ESM_LIBRDKAFKA): bundled, its library is the one a service and a worker
 * map; either way the service's start log and kcat, which these tests
 * spawn with the stack's environment, name the version expected. */
static void
test_programs_run_on_the_stacks_librdkafka(void)
{
	const char *lib = bundled_lib();

	if (lib != NULL)
		CU_ASSERT(itest_sh("for p in $(head -n 1 \"$ESM_VAR/users.pids\") $(cat \"$ESM_VAR/relay-tasks.pid\"); do "
		    "grep -qF '%s/librdkafka.so.1' /proc/$p/maps || { echo \"pid $p does not map %s\" >&2; exit 1; }; "
		    "done", lib, lib) == 0);
	CU_ASSERT(itest_sh("v=$(%s); grep -F 'kafka: librdkafka ' \"$ESM_VAR/log/users.log\" | tail -n 1 | "
	    "grep -qF \"librdkafka $v \" && kcat -V | grep -qF \"librdkafka $v \"", lib != NULL ?
	    "\"$ESM_ROOT/scripts/librdkafka.sh\" version" : "pkg-config --modversion rdkafka") == 0);
}

static void
test_listener_is_sasl_ssl(void)
{
	const char *p = getenv("ESM_KAFKA_SECURITY_PROTOCOL");

	CU_ASSERT_FATAL(p != NULL && strcmp(p, "sasl_ssl") == 0);
	/* Plain Kafka on the same port gets nowhere. */
	CU_ASSERT(itest_sh("timeout 20 kcat -F /dev/null -b \"$ESM_KAFKA_BOOTSTRAP\" -m 5 -L "
	    ">/dev/null 2>&1") != 0);
	/* Nor does TLS without credentials. */
	CU_ASSERT(itest_sh("timeout 20 kcat -F /dev/null -b \"$ESM_KAFKA_BOOTSTRAP\" -m 5 -L "
	    "-X security.protocol=SSL -X ssl.ca.location=\"$ESM_KAFKA_SSL_CA_FILE\" >/dev/null 2>&1") != 0);
}

static void
test_principals_keep_to_their_topics(void)
{
	/* Each relay may write its own topic, and not the other's. */
	CU_ASSERT(produce_as("relay-tasks", "task-events") == 0);
	CU_ASSERT(produce_as("relay-tasks", "user-registration-events") != 0);
	CU_ASSERT(produce_as("relay-registrations", "task-events") != 0);
	/* A service ships logs and writes no event topic; the notifier reads
	 * events and may not forge them. */
	CU_ASSERT(produce_as("users", "application-logs") == 0);
	CU_ASSERT(produce_as("users", "user-registration-events") != 0);
	CU_ASSERT(produce_as("notifier", "task-events") != 0);
}

static void
test_relay_without_its_right(void)
{
	const char *acl = "--topic task-events --allow-principal User:relay-tasks --operation Write";
	char args[256], sql[256];
	struct flow_user u;
	struct itest_resp r;
	int64_t id = 0, unsent;
	int i;

	CU_ASSERT_FATAL(flow_user(&u, "acl", 0) == 0);
	/* Only what the relay logs from here on counts. */
	CU_ASSERT_FATAL(itest_sh("wc -l <\"$ESM_VAR/log/relay-tasks.log\" >\"$ESM_VAR/tmp/relay.lines\"") == 0);
	snprintf(args, sizeof(args), "--remove --force %s", acl);
	CU_ASSERT_FATAL(kafka_tool("kafka-acls.sh", args) == 0);
	itest_json("POST", "gateway", "/api/v1/eventstreammonitor/tasks",
	    "{\"taskType\":\"data_export\",\"priority\":\"low\"}", u.access, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	if (r.json != NULL && jget(jget(r.json, "task"), "taskId") != NULL)
		id = (int64_t)jget(jget(r.json, "task"), "taskId")->valuedouble;
	itest_resp_free(&r);
	CU_ASSERT_FATAL(id > 0);
	/* The relay says plainly what is wrong, and the row waits. */
	CU_ASSERT(itest_sh("for i in $(seq 60); do tail -n +$(($(cat \"$ESM_VAR/tmp/relay.lines\") + 1)) "
	    "\"$ESM_VAR/log/relay-tasks.log\" | grep -q 'Topic authorization failed' && exit 0; "
	    "sleep 0.5; done; exit 1") == 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND "
	    "payload::jsonb @> '{\"eventType\":\"task_created\",\"taskId\":%lld}'", (long long)id);
	unsent = flow_count("tasks", sql);
	CU_ASSERT_EQUAL(unsent, 1);
	/* The right back (esm-topics --acls, as a deploy does): delivered. */
	CU_ASSERT_FATAL(itest_sh("'%s/build/bin/esm-topics' --acls '%s/scripts/kafka/acls' >/dev/null 2>&1",
	    getenv("ESM_ROOT"), getenv("ESM_ROOT")) == 0);
	for (i = 0; i < 120 && (unsent = flow_count("tasks", sql)) != 0; i++)
		itest_sleep_ms(500);
	CU_ASSERT_EQUAL(unsent, 0);
}

/* Polls the users service's /health until it answers want with the kafka
 * check kwant (60 s); 0 when it did. kst and why: the last answer's. */
static int
wait_health(long want, const char *kwant, char *kst, size_t n, char *why, size_t wn)
{
	struct itest_resp r;
	int i;

	for (i = 0; i < 120; i++) {
		itest_json("GET", "users", "/health", NULL, NULL, &r);
		snprintf(kst, n, "%s", jstr(jget(r.json, "checks"), "kafka") ? jstr(jget(r.json, "checks"), "kafka") : "");
		snprintf(why, wn, "%s", jstr(r.json, "kafkaError") ? jstr(r.json, "kafkaError") : "");
		if (r.status == want && strcmp(kst, kwant) == 0) {
			itest_resp_free(&r);
			return 0;
		}
		itest_resp_free(&r);
		itest_sleep_ms(500);
	}
	return -1;
}

static void
test_wrong_password_said_and_mended(void)
{
	char kst[32], why[512];

	/* The cluster stops accepting the users service's password; the pool
	 * starts again so its clients log in anew. */
	CU_ASSERT_FATAL(set_password("users", 1) == 0);
	CU_ASSERT_FATAL(itest_sh("kill $(cat \"$ESM_VAR/users.pids\") && sleep 1 && "
	    "'%s/scripts/stack.sh' start '%s' >/dev/null 2>&1", getenv("ESM_ROOT"), inst()) == 0);
	CU_ASSERT(wait_health(503, "refused", kst, sizeof(kst), why, sizeof(why)) == 0);
	CU_ASSERT_STRING_EQUAL(kst, "refused");
	CU_ASSERT(strstr(why, "uthentication") != NULL);
	CU_ASSERT(itest_sh("grep -q 'the cluster refuses this client' \"$ESM_VAR/log/users.log\"") == 0);
	/* A librdkafka with the SCRAM fix (bundled) blames no SCRAM bug. */
	if (bundled_lib() != NULL)
		CU_ASSERT(strstr(why, "older than 2.6.1") == NULL);
	/* The password fixed on the cluster: the service recovers by itself. */
	CU_ASSERT_FATAL(set_password("users", 0) == 0);
	CU_ASSERT(wait_health(200, "ok", kst, sizeof(kst), why, sizeof(why)) == 0);
	CU_ASSERT_STRING_EQUAL(kst, "ok");
}

static CU_TestInfo tests[] = {
	{ "the programs run on the stack's librdkafka", test_programs_run_on_the_stacks_librdkafka },
	{ "the only client listener is SASL_SSL", test_listener_is_sasl_ssl },
	{ "principals keep to their topics", test_principals_keep_to_their_topics },
	{ "a relay without its right: said, kept, delivered once back", test_relay_without_its_right },
	{ "a wrong password: said in /health, mended without a restart", test_wrong_password_said_and_mended },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(kafka_security, tests)
