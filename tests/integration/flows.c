/*
 * flows.c: see flows.h.
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flows.h"

int
flow_register(struct flow_user *u, const char *prefix)
{
	return flow_register_mail(u, prefix, "");
}

int
flow_register_mail(struct flow_user *u, const char *prefix, const char *tag)
{
	struct itest_resp r;
	char body[512];
	const cJSON *user, *id;
	int rc = -1;

	memset(u, 0, sizeof(*u));
	itest_unique(u->username, 21, prefix);
	snprintf(u->email, sizeof(u->email), "%s%s@example.org", u->username, tag);
	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"email\":\"%s\",\"password\":\"%s\","
	    "\"firstName\":\"Ada\",\"lastName\":\"Lovelace\",\"dateOfBirth\":\"1990-12-10\"}",
	    u->username, u->email, FLOW_PASSWORD);
	itest_json("POST", "gateway", USERS_BASE "/register", body, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 201);
	user = cJSON_GetObjectItemCaseSensitive(r.json, "user");
	id = cJSON_GetObjectItemCaseSensitive(user, "userId");
	if (r.status == 201 && cJSON_IsNumber(id)) {
		u->id = (int64_t)id->valuedouble;
		rc = 0;
	} else
		fprintf(stderr, "  register %s: %ld %.300s\n", u->username, r.status, r.body);
	itest_resp_free(&r);
	return rc;
}

int
flow_login(struct flow_user *u)
{
	int rc = flow_login_as(u, FLOW_PASSWORD);

	CU_ASSERT_EQUAL(rc, 0);
	return rc;
}

long
flow_post(const char *path, const char *body, const char *token)
{
	struct itest_resp r;
	long st = itest_json("POST", "gateway", path, body, token, &r);

	if (st >= 500)
		fprintf(stderr, "\n  POST %s: %ld %.300s\n", path, st, r.body ? r.body : "");
	itest_resp_free(&r);
	return st;
}

int
flow_login_as(struct flow_user *u, const char *password)
{
	struct itest_resp r;
	char body[256];
	const cJSON *a, *f;
	int rc = -1;

	snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", u->username,
	    password);
	itest_json("POST", "gateway", AUTH_BASE "/login", body, NULL, &r);
	a = cJSON_GetObjectItemCaseSensitive(r.json, "accessToken");
	f = cJSON_GetObjectItemCaseSensitive(r.json, "refreshToken");
	if (r.status == 200 && cJSON_IsString(a) && cJSON_IsString(f)) {
		snprintf(u->access, sizeof(u->access), "%s", a->valuestring);
		snprintf(u->refresh, sizeof(u->refresh), "%s", f->valuestring);
		rc = 0;
	} else
		fprintf(stderr, "  login %s: %ld %.300s\n", u->username, r.status, r.body);
	itest_resp_free(&r);
	return rc;
}

int
flow_user(struct flow_user *u, const char *prefix, int admin)
{
	char sql[256];

	if (flow_register(u, prefix) == -1)
		return -1;
	if (admin) {
		snprintf(sql, sizeof(sql), "UPDATE users SET role = 'admin' WHERE id = %lld",
		    (long long)u->id);
		if (itest_sql_exec("registrations", sql) == -1)
			return -1;
	}
	return flow_login(u);
}

int64_t
flow_count(const char *db, const char *sql)
{
	return itest_sql_int(db, sql);
}

const cJSON *
jget(const cJSON *o, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(o, name);
}

const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *v = jget(o, name);

	return cJSON_IsString(v) ? v->valuestring : "";
}

int64_t
flow_wait_count(const char *db, const char *sql, int64_t want, int secs)
{
	int64_t n = -1;

	for (int i = 0; i < secs * 10; i++) {
		if ((n = flow_count(db, sql)) >= want)
			return n;
		itest_sleep_ms(100);
	}
	return n;
}

/* Calls fn(f, arg) for each mail of the sink to addr (and with subject,
 * when not NULL), f positioned at its body; counts the mails for which fn
 * (NULL: none) says 1. -1 when the stack has no sink. */
static int
mail_walk(const char *addr, const char *subject, int (*fn)(FILE *, void *), void *arg)
{
	const char *md = getenv("ESM_MAILDIR");
	char dir[1024], path[2048], want_to[320], want_subj[256], line[1024];
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (md == NULL) {
		CU_FAIL("ESM_MAILDIR is not set (no SMTP sink in the stack)");
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/new", md);
	snprintf(want_to, sizeof(want_to), "To: <%s>", addr);
	snprintf(want_subj, sizeof(want_subj), "Subject: %s", subject ? subject : "");
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		FILE *f;
		int to = 0, subj = subject == NULL;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL && line[0] != '\n' && line[0] != '\r') {
			line[strcspn(line, "\r\n")] = '\0';
			to |= strcmp(line, want_to) == 0;
			subj |= strcmp(line, want_subj) == 0;
		}
		n += to && subj && (fn == NULL || fn(f, arg));
		fclose(f);
	}
	closedir(d);
	return n;
}

int
flow_mails_to(const char *addr, const char *subject)
{
	return mail_walk(addr, subject, NULL, NULL);
}

struct code_want {
	const char *except;
	char *code;
	size_t n;
	int found;
};

/* A body line that is nothing but a code (43 base64url characters) other
 * than the one excepted: copied, 1. */
static int
mail_code(FILE *f, void *arg)
{
	struct code_want *w = arg;
	char line[1024];
	size_t len, i;

	while (!w->found && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		len = strlen(line);
		if (len != 43 || w->n <= len || (w->except != NULL && strcmp(line, w->except) == 0))
			continue;
		for (i = 0; i < len; i++)
			if (!isalnum((unsigned char)line[i]) && line[i] != '-' && line[i] != '_')
				break;
		if (i == len) {
			memcpy(w->code, line, len + 1);
			w->found = 1;
			return 1;
		}
	}
	return 0;
}

int
flow_mail_code(const char *addr, const char *subject, const char *except, char *code, size_t n,
    int secs)
{
	struct code_want w = { except, code, n, 0 };
	int tries;

	for (tries = 0; tries <= secs * 5; tries++) {
		if (mail_walk(addr, subject, mail_code, &w) < 0)
			return 0;
		if (w.found)
			return 1;
		itest_sleep_ms(200);
	}
	return 0;
}

double
flow_metric(const char *service, const char *prefix)
{
	struct itest_resp r;
	char path[64];
	const char *line;
	double sum = -1;
	size_t n = strlen(prefix);

	snprintf(path, sizeof(path), "/metrics/%s", service);
	if (itest_json("GET", "internal", path, NULL, NULL, &r) == 200 && r.body != NULL) {
		for (line = r.body; *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : "") {
			const char *sp;
			if (strncmp(line, prefix, n) != 0 || (sp = strchr(line, ' ')) == NULL)
				continue;
			sum = (sum < 0 ? 0 : sum) + strtod(sp + 1, NULL);
		}
	}
	itest_resp_free(&r);
	return sum;
}

double
flow_wait_metric(const char *service, const char *prefix, double min, int secs)
{
	double v = -1;

	for (int i = 0; i < secs * 10; i++) {
		if ((v = flow_metric(service, prefix)) >= min)
			break;
		itest_sleep_ms(100);
	}
	return v;
}

int
flow_produce(const char *topic, const char *text)
{
	char path[] = "/tmp/esm-produce-XXXXXX";
	int fd = mkstemp(path), rc;
	size_t len = strlen(text);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		if (fd >= 0)
			close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	rc = itest_sh("kcat -b \"$ESM_KAFKA_BOOTSTRAP\" -P -t '%s' -K '\t' -l '%s' 2>/dev/null", topic, path);
	unlink(path);
	return rc;
}

void
flow_event_id(char out[37], int n)
{
	static unsigned prefix;

	if (prefix == 0) {
		FILE *f = fopen("/dev/urandom", "r");
		if (f == NULL || fread(&prefix, sizeof(prefix), 1, f) != 1)
			prefix = (unsigned)getpid() * 2654435761u;
		if (f)
			fclose(f);
		prefix |= 1;
	}
	snprintf(out, 37, "%08x-0000-4000-8000-%012d", prefix, n);
}
