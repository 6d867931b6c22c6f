/*
 * itest.c: see itest.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "itest.h"

struct growbuf {
	char *p;
	size_t len;
};

static size_t
collect(char *data, size_t sz, size_t n, void *arg)
{
	struct growbuf *b = arg;
	char *np = realloc(b->p, b->len + sz * n + 1);

	if (np == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, data, sz * n);
	b->len += sz * n;
	b->p[b->len] = '\0';
	return sz * n;
}

const char *
itest_url(const char *listener)
{
	char name[64];
	const char *v;
	size_t i;

	snprintf(name, sizeof(name), "ESM_URL_%s", listener);
	for (i = 8; name[i]; i++)
		if (name[i] >= 'a' && name[i] <= 'z')
			name[i] = (char)(name[i] - 'a' + 'A');
	v = getenv(name);
	if (v == NULL || *v == '\0') {
		fprintf(stderr, "itest: %s is not set (run through tests/run.sh)\n", name);
		CU_FAIL_FATAL("stack URL missing from the environment");
	}
	return v;
}

long
itest_http(const char *method, const char *listener, const char *path,
    const char *ctype, const char *body, size_t len, const char *bearer,
    const char *const *hdrs, struct itest_resp *out)
{
	struct growbuf b = { 0 }, h = { 0 };
	struct curl_slist *sl = NULL;
	char line[8192], url[2048];
	CURL *c;
	int has_xff = 0;

	memset(out, 0, sizeof(*out));
	snprintf(url, sizeof(url), "%s%s", itest_url(listener), path);
	if ((c = curl_easy_init()) == NULL)
		return 0;
	for (; hdrs && *hdrs; hdrs++) {
		sl = curl_slist_append(sl, *hdrs);
		if (strncasecmp(*hdrs, "X-Forwarded-For:", 16) == 0)
			has_xff = 1;
	}
	/* Each request looks like a new client unless a test says otherwise,
	 * so per-address rate limits only bite the tests that aim for them
	 * (the test stack trusts 127.0.0.1 as a proxy). */
	if (!has_xff) {
		unsigned short r[4];
		if (getrandom(r, sizeof(r), 0) != sizeof(r))
			memset(r, 0, sizeof(r));
		snprintf(line, sizeof(line), "X-Forwarded-For: 2001:db8:%x:%x:%x:%x::1", r[0], r[1], r[2], r[3]);
		sl = curl_slist_append(sl, line);
	}
	if (ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		sl = curl_slist_append(sl, line);
	} else
		sl = curl_slist_append(sl, "Content-Type:");
	if (bearer) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", bearer);
		sl = curl_slist_append(sl, line);
	}
	sl = curl_slist_append(sl, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, sl);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(sl);
	curl_easy_cleanup(c);
	out->body = b.p ? b.p : strdup("");
	out->len = b.len;
	out->headers = h.p ? h.p : strdup("");
	out->json = cJSON_ParseWithLength(out->body, out->len);
	return out->status;
}

long
itest_json(const char *method, const char *listener, const char *path,
    const char *json, const char *bearer, struct itest_resp *out)
{
	return itest_http(method, listener, path, json ? "application/json" : NULL, json,
	    json ? strlen(json) : 0, bearer, NULL, out);
}

void
itest_resp_free(struct itest_resp *r)
{
	free(r->body);
	free(r->headers);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof(*r));
}

const char *
itest_header(const struct itest_resp *r, const char *name, char *buf, size_t n)
{
	size_t nl = strlen(name);
	const char *p = r->headers;

	while (p && *p) {
		const char *eol = strstr(p, "\r\n");
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		if (l > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			snprintf(buf, n, "%.*s", (int)(l - (size_t)(v - p)), v);
			return buf;
		}
		p = eol ? eol + 2 : NULL;
	}
	return NULL;
}

int
itest_is_problem(const struct itest_resp *r, long status, const char *code)
{
	char ct[128];
	const cJSON *e, *m, *d, *dd, *pp;
	int ok = 1;

	if (r->status != status) {
		fprintf(stderr, "  expected %ld, got %ld: %.300s\n", status, r->status, r->body);
		ok = 0;
	}
	if (itest_header(r, "Content-Type", ct, sizeof(ct)) == NULL ||
	    strncmp(ct, "application/problem+json", 24) != 0) {
		fprintf(stderr, "  expected problem+json, got %s\n", itest_header(r, "Content-Type", ct, sizeof(ct)) ? ct : "none");
		ok = 0;
	}
	e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	m = cJSON_GetObjectItemCaseSensitive(r->json, "message");
	d = cJSON_GetObjectItemCaseSensitive(r->json, "error_details");
	dd = cJSON_GetObjectItemCaseSensitive(d, "details");
	pp = cJSON_GetObjectItemCaseSensitive(dd, "params");
	if (!cJSON_IsString(e) || strcmp(e->valuestring, code) != 0 || !cJSON_IsString(m) ||
	    !cJSON_IsArray(pp)) {
		fprintf(stderr, "  not the contract error %s: %.300s\n", code, r->body);
		ok = 0;
	}
	CU_ASSERT(ok);
	return ok;
}

static PGconn *
connect_db(const char *db)
{
	const char *base = getenv("ESM_PG_SUPER_DSN");
	char dsn[1024];
	PGconn *c;

	if (base == NULL) {
		fprintf(stderr, "itest: ESM_PG_SUPER_DSN is not set\n");
		return NULL;
	}
	snprintf(dsn, sizeof(dsn), "%s dbname=%s", base, db);
	c = PQconnectdb(dsn);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "itest: connect %s: %s", db, PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

char *
itest_sql_text(const char *db, const char *sql)
{
	PGconn *c = connect_db(db);
	PGresult *r;
	char *out = NULL;

	if (c == NULL)
		return NULL;
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		out = strdup(PQgetvalue(r, 0, 0));
	else if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "itest: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return out;
}

int64_t
itest_sql_int(const char *db, const char *sql)
{
	char *s = itest_sql_text(db, sql);
	int64_t v = s ? strtoll(s, NULL, 10) : -1;

	free(s);
	return v;
}

int
itest_sql_exec(const char *db, const char *sql)
{
	PGconn *c = connect_db(db);
	PGresult *r;
	int rc;

	if (c == NULL)
		return -1;
	r = PQexec(c, sql);
	rc = (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK) ? 0 : -1;
	if (rc)
		fprintf(stderr, "itest: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

int
itest_sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

void
itest_unique(char *out, size_t n, const char *prefix)
{
	unsigned char r[6];
	size_t i;
	int k;

	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		memset(r, 7, sizeof(r));
	k = snprintf(out, n, "%s", prefix);
	for (i = 0; i < sizeof(r) && (size_t)k + 2 < n; i++)
		k += snprintf(out + k, n - (size_t)k, "%02x", r[i]);
}

void
itest_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}
