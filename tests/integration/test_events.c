/*
 * test_events.c: user events reach the broker with exactly the contract's
 * fields, and registrations acknowledged while the broker is down arrive
 * exactly once after it is back. Reads the topic with kcat, as a user would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flows.h"

#define TOPIC "user-registration-events"

/* Reads the whole topic; returns a malloc'd text of "key\tpayload\n" lines. */
static char *
read_topic(const char *topic)
{
	const char *bs = getenv("ESM_KAFKA_BOOTSTRAP");
	char cmd[1024], chunk[65536];
	size_t len = 0, n;
	char *out = NULL, *np;
	FILE *p;

	if (bs == NULL) {
		CU_FAIL("ESM_KAFKA_BOOTSTRAP is not set");
		return NULL;
	}
	snprintf(cmd, sizeof(cmd), "kcat -b '%s' -C -t '%s' -o beginning -e -q -f '%%k\\t%%s\\n' 2>/dev/null",
	    bs, topic);
	if ((p = popen(cmd, "r")) == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if ((np = realloc(out, len + n + 1)) == NULL)
			break;
		out = np;
		memcpy(out + len, chunk, n);
		len += n;
		out[len] = '\0';
	}
	if (pclose(p) != 0)
		CU_FAIL("kcat failed");
	return out ? out : strdup("");
}

static int
count_occurrences(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* Waits until every outbox row is sent (at most secs). */
static int
wait_outbox_drained(int secs)
{
	for (int i = 0; i < secs * 10; i++) {
		if (flow_count("registrations", "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 0)
			return 0;
		itest_sleep_ms(100);
	}
	return -1;
}

/* Finds the line of the event with eventType type for user id; returns its
 * parsed payload or NULL. */
static cJSON *
find_event(const char *topic_text, int64_t id, const char *type)
{
	char key[32];
	const char *line = topic_text;

	snprintf(key, sizeof(key), "%lld\t", (long long)id);
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t l = eol ? (size_t)(eol - line) : strlen(line);
		if (strncmp(line, key, strlen(key)) == 0) {
			cJSON *j = cJSON_ParseWithLength(line + strlen(key), l - strlen(key));
			const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "eventType");
			if (cJSON_IsString(t) && strcmp(t->valuestring, type) == 0)
				return j;
			cJSON_Delete(j);
		}
		line = eol ? eol + 1 : NULL;
	}
	return NULL;
}

static int
has_exactly(const cJSON *ev, const char *const *fields)
{
	const cJSON *m;
	int n = 0, want = 0;

	while (fields[want])
		want++;
	cJSON_ArrayForEach(m, ev) {
		int known = 0;
		for (int i = 0; fields[i]; i++)
			known |= strcmp(fields[i], m->string) == 0;
		if (!known) {
			fprintf(stderr, "  unexpected event field %s\n", m->string);
			return 0;
		}
		n++;
	}
	return n == want;
}

static void
test_user_events_on_broker(void)
{
	static const char *const reg_fields[] = { "eventId", "eventType", "occurredAt", "source",
		"requestId", "userId", "username", "email", "firstName", "lastName", "timestamp", NULL };
	static const char *const del_fields[] = { "eventId", "eventType", "occurredAt", "source",
		"requestId", "userId", "username", "timestamp", NULL };
	struct flow_user u;
	struct itest_resp r;
	char path[128];
	cJSON *ev;
	char *text;

	if (flow_user(&u, "evt", 0) == -1)
		return;
	snprintf(path, sizeof(path), USERS_BASE "/%lld", (long long)u.id);
	itest_json("DELETE", "gateway", path, NULL, u.access, &r);
	CU_ASSERT_EQUAL(r.status, 204);
	itest_resp_free(&r);
	CU_ASSERT_FATAL(wait_outbox_drained(30) == 0);
	CU_ASSERT_FATAL((text = read_topic(TOPIC)) != NULL);
	CU_ASSERT_PTR_NULL(strstr(text, "argon2"));
	CU_ASSERT_PTR_NULL(strstr(text, FLOW_PASSWORD));
	/* No password field of any spelling (event types may name passwords). */
	CU_ASSERT_PTR_NULL(strstr(text, "\"password\""));
	CU_ASSERT_PTR_NULL(strstr(text, "\"passwordHash\""));
	CU_ASSERT_PTR_NULL(strstr(text, "\"password_hash\""));
	CU_ASSERT_PTR_NULL(strstr(text, "\"newPassword\""));

	ev = find_event(text, u.id, "user_registered");
	CU_ASSERT_PTR_NOT_NULL(ev);
	if (ev) {
		CU_ASSERT(has_exactly(ev, reg_fields));
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(ev, "email");
		CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, u.email) == 0);
		v = cJSON_GetObjectItemCaseSensitive(ev, "userId");
		CU_ASSERT(cJSON_IsNumber(v) && (int64_t)v->valuedouble == u.id);
		v = cJSON_GetObjectItemCaseSensitive(ev, "source");
		CU_ASSERT(cJSON_IsString(v) && strcmp(v->valuestring, "usermanagement") == 0);
		v = cJSON_GetObjectItemCaseSensitive(ev, "occurredAt");
		CU_ASSERT(cJSON_IsString(v) && strlen(v->valuestring) == 27 && v->valuestring[26] == 'Z');
		cJSON_Delete(ev);
	}
	ev = find_event(text, u.id, "user_deleted");
	CU_ASSERT_PTR_NOT_NULL(ev);
	if (ev) {
		CU_ASSERT(has_exactly(ev, del_fields));
		cJSON_Delete(ev);
	}
	free(text);
}

static void
test_broker_down_nothing_lost(void)
{
	enum { N = 20 };
	struct flow_user u[N];
	struct itest_resp r;
	char *text, needle[64], sql[256];
	int i, acked = 0, once = 0;
	int64_t unsent;
	const char *root = getenv("ESM_ROOT");

	CU_ASSERT_FATAL(root != NULL);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' broker-down \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	for (i = 0; i < N; i++)
		if (flow_register(&u[i], "down") == 0)
			acked++;
	CU_ASSERT_EQUAL(acked, N);
	/* While it is down the events wait in the outbox, and /health says so. */
	itest_sleep_ms(2500);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND msg_key IN "
	    "(SELECT id::text FROM users WHERE username LIKE 'down%%')");
	unsent = flow_count("registrations", sql);
	CU_ASSERT(unsent >= 1);
	itest_json("GET", "users", "/health", NULL, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 503);
	itest_resp_free(&r);
	CU_ASSERT_FATAL(itest_sh("'%s/scripts/stack.sh' broker-up \"${ESM_TEST_INSTANCE:-test}\" >/dev/null", root) == 0);
	CU_ASSERT_FATAL(wait_outbox_drained(90) == 0);
	CU_ASSERT_FATAL((text = read_topic(TOPIC)) != NULL);
	for (i = 0; i < N; i++) {
		char *eid;
		if (u[i].id == 0)
			continue;
		snprintf(sql, sizeof(sql), "SELECT event_id FROM outbox WHERE msg_key = '%lld'", (long long)u[i].id);
		if ((eid = itest_sql_text("registrations", sql)) == NULL)
			continue;
		snprintf(needle, sizeof(needle), "\"eventId\":\"%s\"", eid);
		once += count_occurrences(text, needle) == 1;
		free(eid);
	}
	fprintf(stderr, "  broker down: %d acknowledged, %lld waited in the outbox, %d delivered exactly once\n",
	    acked, (long long)unsent, once);
	CU_ASSERT_EQUAL(once, acked);
	free(text);
}

static CU_TestInfo tests[] = {
	{ "user events on the broker", test_user_events_on_broker },
	{ "broker down: nothing lost", test_broker_down_nothing_lost },
	CU_TEST_INFO_NULL,
};

ITEST_SUITE(events, tests)
