/*
 * query.c: the pure parts of the log monitor (query arguments, time
 * buckets, trailing sums) and operator authorization.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "logmon.h"
#include "query.h"
#include "logship.h"
#include "svc.h"
#include "token.h"



/* 1 when s is a service name as the collector accepts them. */
static int
lm_service_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* The arguments of the errors endpoints; *bad points here. */
static const char *const lm_args[4] = { "limit", "service", "level", "since" };

int
logmon_query_parse(const char *query, struct logmon_q *q, const char **bad)
{
	char key[16], val[128];
	const char *p = query != NULL ? query : "", *amp, *eq;
	int seen[4] = { 0, 0, 0, 0 };
	int64_t v;
	int k;

	q->limit = LOGMON_LIMIT_DEFAULT;
	q->service[0] = q->level[0] = '\0';
	q->since_us = -1;
	*bad = NULL;
	while (*p != '\0') {
		size_t len, klen;

		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len == 0) {
			p += amp != NULL ? 1 : 0;
			continue;
		}
		eq = memchr(p, '=', len);
		klen = eq != NULL ? (size_t)(eq - p) : len;
		*bad = "query";
		if (query_decode(p, klen, key, sizeof(key)) == -1)
			return 400;
		for (k = 0; k < 4 && strcmp(key, lm_args[k]) != 0; k++)
			;
		if (k == 4)
			return 400;
		*bad = lm_args[k];
		if (eq == NULL || seen[k]++ ||
		    query_decode(eq + 1, len - klen - 1, val, sizeof(val)) == -1)
			return 400;
		switch (k) {
		case 0:
			if (util_parse_i64(val, 1, LOGMON_LIMIT_MAX, &v) == -1)
				return 400;
			q->limit = (int)v;
			break;
		case 1:
			if (!lm_service_ok(val))
				return 400;
			snprintf(q->service, sizeof(q->service), "%s", val);
			break;
		case 2:
			if (strcasecmp(val, "error") == 0)
				snprintf(q->level, sizeof(q->level), "ERROR");
			else if (strcasecmp(val, "critical") == 0)
				snprintf(q->level, sizeof(q->level), "CRITICAL");
			else
				return 400;
			break;
		default:
			if (logship_ts_parse(val, &q->since_us) == -1)
				return 400;
		}
		*bad = NULL;
		p += len + (amp != NULL ? 1 : 0);
	}
	return 0;
}

int64_t
logmon_bucket_ms(int64_t from_ms, int64_t to_ms, int64_t interval_ms)
{
	int64_t b = interval_ms > LOGMON_BUCKET_MIN_MS ? interval_ms : LOGMON_BUCKET_MIN_MS;
	int64_t range = to_ms > from_ms ? to_ms - from_ms : 0;

	if (range / b >= LOGMON_POINTS_MAX)
		b = range / (LOGMON_POINTS_MAX - 1);
	/* Whole minutes: a bucket never splits a minute's count. */
	b = (b + LOGMON_BUCKET_MIN_MS - 1) / LOGMON_BUCKET_MIN_MS * LOGMON_BUCKET_MIN_MS;
	return b;
}

int64_t
logmon_bucket_start(int64_t from_ms, int64_t bucket_ms)
{
	int64_t r = from_ms % bucket_ms;

	if (r < 0)
		r += bucket_ms;
	return from_ms - r;
}

int64_t
logmon_window_sum(const int64_t *minutes, const int64_t *counts, size_t n, int64_t end_ms,
    int64_t window_ms)
{
	int64_t sum = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (minutes[i] >= end_ms - window_ms && minutes[i] < end_ms)
			sum += counts[i];
	return sum;
}

int
logmon_authorize(struct http_req *r)
{
	const char *user = http_param(r, "REMOTE_USER"), *type = http_param(r, "AUTH_TYPE");
	const char *h = http_param(r, "HTTP_AUTHORIZATION");
	const struct token_keys *keys = svc_keys();
	enum token_result tr;

	/* Only lighttpd sets REMOTE_USER (a client's Remote-User header arrives
	 * as HTTP_REMOTE_USER), after checking the password. */
	if (user != NULL && *user != '\0' && type != NULL && strcasecmp(type, "Basic") == 0)
		return 0;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
		return http_error(r, 401, "operator credentials or an admin bearer token required", NULL);
	if (keys == NULL)
		return http_error(r, 500, "token verification is not configured", NULL);
	tr = token_verify(keys, h + 7, strlen(h + 7), util_now_us() / 1000000, 30, &r->auth);
	if (tr != TOKEN_OK)
		return http_error(r, 401, tr == TOKEN_EXPIRED ? "token expired" : "invalid token", NULL);
	r->authed = 1;
	if (!token_has_role(&r->auth, "admin"))
		return http_error(r, 403, "the log monitor needs the admin role", NULL);
	return 0;
}
