/*
 * test_health_topics.c: the topic check of the services' /health
 * (checks.topics, topicsError). On the stack every service finds its topics
 * as declared. The conditions the check exists for cannot be made on the
 * shared stack (a topic's partitions only ever grow, and the other suites
 * need every topic), so a second users service, outside the stack's pools
 * and behind a lighttpd of its own, is pointed at them instead:
 *   - the stack's broker, asked for one replica more than the topics have
 *     (ESM_KAFKA_REPLICATION): "differs", still healthy;
 *   - a mock cluster held by this test, with the outbox's topic hidden and
 *     a log topic of too few partitions: "missing" and unhealthy, then,
 *     with the topic back, "differs" and healthy again.
 * Each new verdict is logged once, however often /health is asked.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flows.h"
#include "kafka.h"

/* The second service's files, under the stack's var/INST/tmp. */
#define HT_DIR "\"$ESM_VAR/tmp/health-topics\""
#define HT_LISTENER "healthtopics"	/* itest_url reads ESM_URL_HEALTHTOPICS */
#define HT_OUTBOX_TOPIC "user-registration-events"

static kafka_mock *mock;

/* A TCP port on 127.0.0.1 that nothing listens on now; 0 on error. */
static int
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd, port = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Stops the second service and its lighttpd (by their pid files, so only
 * what this suite started), waiting until both are gone. */
static void
second_stop(void)
{
	if (itest_sh("d=" HT_DIR "; for f in lighttpd.pid users.pid; do "
	    "[ -s \"$d/$f\" ] || continue; p=$(cat \"$d/$f\"); kill \"$p\" 2>/dev/null; "
	    "for i in $(seq 100); do kill -0 \"$p\" 2>/dev/null || break; sleep 0.1; done; "
	    "rm -f \"$d/$f\"; done") != 0)
		fprintf(stderr, "health_topics: could not stop the second users service\n");
}

/* Starts a users service with the stack's settings, its own database
 * credential only, no shared metrics file, the topic check every second,
 * and the NAME=VALUE settings of env on top; a lighttpd in front of it on
 * a free port becomes the listener HT_LISTENER. Its log starts empty.
 * 0 once it answers /livez (20 s), else -1. */
static int
second_start(const char *env)
{
	struct itest_resp r;
	char url[64];
	long status;
	int port, i;

	if ((port = free_port()) == 0)
		return -1;
	if (itest_sh("d=" HT_DIR "; mkdir -p \"$d/no-docroot\" && rm -f \"$d/users.sock\" && "
	    ": >\"$d/users.log\" && printf '%%s\\n' "
	    "'server.modules = ( \"mod_fastcgi\" )' "
	    "\"server.document-root = \\\"$d/no-docroot\\\"\" "
	    "'server.bind = \"127.0.0.1\"' 'server.port = %d' 'server.tag = \"\"' "
	    "\"server.pid-file = \\\"$d/lighttpd.pid\\\"\" "
	    "\"server.errorlog = \\\"$d/lighttpd.log\\\"\" "
	    "\"fastcgi.server = ( \\\"/\\\" => (( \\\"socket\\\" => \\\"$d/users.sock\\\", "
	    "\\\"check-local\\\" => \\\"disable\\\" )) )\" >\"$d/lighttpd.conf\"", port) != 0)
		return -1;
	if (itest_sh("d=" HT_DIR "; DSN=$ESM_DSN_USERS; unset ESM_PG_SUPER_DSN ESM_METRICS_DIR "
	    "$(env | sed -n 's/^\\(ESM_DSN_[A-Z_]*\\)=.*/\\1/p'); "
	    "env ESM_DB_DSN=\"$DSN\" ESM_TOPICS_CHECK_S=1 %s spawn-fcgi -s \"$d/users.sock\" "
	    "-M 0600 -F 1 -P \"$d/users.pid\" -- /bin/sh -c 'exec \"$0\" >>\"$1\" 2>&1' "
	    "\"$ESM_ROOT/build/bin/esm-users\" \"$d/users.log\" >/dev/null 2>&1 && "
	    "PATH=$PATH:/usr/sbin lighttpd -f \"$d/lighttpd.conf\"", env) != 0) {
		second_stop();
		return -1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	setenv("ESM_URL_HEALTHTOPICS", url, 1);
	for (i = 0; i < 100; i++) {
		status = itest_json("GET", HT_LISTENER, "/livez", NULL, NULL, &r);
		itest_resp_free(&r);
		if (status == 200)
			return 0;
		itest_sleep_ms(200);
	}
	second_stop();
	return -1;
}

/* Polls listener's /health until its topic check says want (secs); the
 * last answer stays in *r (the caller frees it). 0 when it said want. */
static int
wait_topics(const char *listener, const char *want, int secs, struct itest_resp *r)
{
	int i;

	for (i = 0;; i++) {
		itest_json("GET", listener, "/health", NULL, NULL, r);
		if (strcmp(jstr(jget(r->json, "checks"), "topics"), want) == 0)
			return 0;
		if (i >= secs * 4)
			return -1;
		itest_resp_free(r);
		itest_sleep_ms(250);
	}
}

/* Lines of the second service's log that say the topic check found
 * verdict; -1 on error. */
static int
logged(const char *verdict)
{
	return itest_sh("exit $(grep -c '\"message\":\"topic check: %s' " HT_DIR "/users.log)",
	    verdict);
}

/* Asks /health of the second service n times, 300 ms apart: with the
 * check every second, it runs again several times meanwhile. */
static void
ask_often(int n)
{
	struct itest_resp r;

	while (n-- > 0) {
		itest_json("GET", HT_LISTENER, "/health", NULL, NULL, &r);
		itest_resp_free(&r);
		itest_sleep_ms(300);
	}
}

static void
teardown(void)
{
	second_stop();
	kafka_mock_free(mock);
	mock = NULL;
}

static void
test_stack_topics_ok(void)
{
	static const char *const listeners[] = { "users", "tasks", "auth", "notifications",
	    "logmonitor" };
	struct itest_resp r;
	size_t i;

	for (i = 0; i < ESM_NELEM(listeners); i++) {
		/* An earlier suite may just have restarted the broker. */
		CU_ASSERT(wait_topics(listeners[i], "ok", 15, &r) == 0);
		CU_ASSERT_EQUAL(r.status, 200);
		CU_ASSERT_STRING_EQUAL(jstr(r.json, "status"), "healthy");
		CU_ASSERT_PTR_NULL(jget(r.json, "topicsError"));
		if (r.status != 200 || jget(r.json, "topicsError") != NULL)
			fprintf(stderr, "  %s /health: %s\n", listeners[i], r.body);
		itest_resp_free(&r);
	}
}

static void
test_replication_differs_still_healthy(void)
{
	const char *nodes = getenv("ESM_KAFKA_NODES");
	struct itest_resp r;
	char env[256], want[128];
	int have;

	/* The stack's rule (scripts/stack.sh): 3 replicas from 3 nodes on,
	 * else 1. Without log shipping the check covers the outbox's topic
	 * alone, and nothing of this service reaches the log topics. */
	have = nodes != NULL && atoi(nodes) >= 3 ? 3 : 1;
	snprintf(env, sizeof(env), "ESM_KAFKA_REPLICATION=%d ESM_KAFKA_MIN_ISR=1 ESM_LOG_SHIP=false",
	    have + 1);
	snprintf(want, sizeof(want), "topic " HT_OUTBOX_TOPIC ": differs: replication %d instead of %d",
	    have, have + 1);
	CU_ASSERT_FATAL(second_start(env) == 0);
	CU_ASSERT_FATAL(wait_topics(HT_LISTENER, "differs", 20, &r) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "status"), "healthy");
	CU_ASSERT_STRING_EQUAL(jstr(jget(r.json, "checks"), "kafka"), "ok");
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "topicsError"), want);
	itest_resp_free(&r);
	ask_often(10);
	CU_ASSERT_EQUAL(logged("differs"), 1);
	second_stop();
}

static void
test_missing_unhealthy_then_differs(void)
{
	struct itest_resp r;
	char env[512], err[256];

	/* The outbox's topic as declared but hidden, the error log topic with
	 * 1 partition instead of 3. */
	CU_ASSERT_FATAL((mock = kafka_mock_new(1, err, sizeof(err))) != NULL);
	CU_ASSERT_FATAL(kafka_mock_topic_create(mock, HT_OUTBOX_TOPIC, 6, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(kafka_mock_topic_create(mock, "application-logs", 6, err, sizeof(err)) == 0);
	CU_ASSERT_FATAL(kafka_mock_topic_create(mock, "application-logs-errors", 1, err,
	    sizeof(err)) == 0);
	kafka_mock_topic_hide(mock, HT_OUTBOX_TOPIC, 1);
	snprintf(env, sizeof(env), "ESM_KAFKA_BOOTSTRAP='%s' ESM_KAFKA_SECURITY_PROTOCOL=plaintext "
	    "ESM_KAFKA_SSL_CA_FILE= ESM_KAFKA_REPLICATION= ESM_KAFKA_MIN_ISR=",
	    kafka_mock_bootstraps(mock));
	CU_ASSERT_FATAL(second_start(env) == 0);

	/* Missing: its writes would fail, so unhealthy, with the reason. */
	CU_ASSERT_FATAL(wait_topics(HT_LISTENER, "missing", 20, &r) == 0);
	CU_ASSERT_EQUAL(r.status, 503);
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "status"), "unhealthy");
	CU_ASSERT_STRING_EQUAL(jstr(jget(r.json, "checks"), "kafka"), "ok");
	CU_ASSERT_STRING_EQUAL(jstr(jget(r.json, "checks"), "database"), "ok");
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "topicsError"), "topic " HT_OUTBOX_TOPIC ": missing; "
	    "topic application-logs-errors: differs: partitions 1 instead of 3");
	itest_resp_free(&r);
	ask_often(10);
	CU_ASSERT_EQUAL(logged("missing"), 1);

	/* The topic back: what is left differs, and the service is healthy. */
	kafka_mock_topic_hide(mock, HT_OUTBOX_TOPIC, 0);
	CU_ASSERT_FATAL(wait_topics(HT_LISTENER, "differs", 20, &r) == 0);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "status"), "healthy");
	CU_ASSERT_STRING_EQUAL(jstr(r.json, "topicsError"),
	    "topic application-logs-errors: differs: partitions 1 instead of 3");
	itest_resp_free(&r);
	ask_often(10);
	CU_ASSERT_EQUAL(logged("missing"), 1);
	CU_ASSERT_EQUAL(logged("differs"), 1);
	second_stop();
}

static CU_TestInfo tests[] = {
	{ "every service finds its topics as declared", test_stack_topics_ok },
	{ "a replication other than asked: differs, still healthy", test_replication_differs_still_healthy },
	{ "a missing topic: unhealthy; back: differs, healthy", test_missing_unhealthy_then_differs },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE_HOOKS(health_topics, tests, NULL, teardown)
