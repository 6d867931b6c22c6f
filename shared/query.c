/*
 * query.c: see query.h.
 */
#include <string.h>

#include "query.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
query_decode(const char *s, size_t n, char *out, size_t size)
{
	size_t i, o = 0;
	int hi, lo;

	if (size == 0)
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (c == '\0' || o + 1 >= size)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return util_utf8_valid(out, o) && !util_has_ctrl(out, o) ? 0 : -1;
}

int
query_parse(const char *q, const char *const *names, size_t n,
    char vals[][QUERY_VAL_MAX + 1], int *have, char bad[QUERY_VAL_MAX + 1])
{
	char key[QUERY_VAL_MAX + 1];
	const char *p = q, *amp, *eq;
	size_t i, klen;

	bad[0] = '\0';
	for (i = 0; i < n; i++) {
		vals[i][0] = '\0';
		have[i] = 0;
	}
	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		klen = amp ? (size_t)(amp - p) : strlen(p);
		if (klen == 0) {
			p = amp ? amp + 1 : NULL;
			continue;
		}
		eq = memchr(p, '=', klen);
		if (query_decode(p, eq ? (size_t)(eq - p) : klen, key, sizeof(key)) == -1)
			return -1;
		for (i = 0; i < n && strcmp(names[i], key) != 0; i++)
			;
		if (i == n || have[i] || eq == NULL ||
		    query_decode(eq + 1, klen - (size_t)(eq + 1 - p), vals[i], QUERY_VAL_MAX + 1) == -1) {
			memcpy(bad, key, strlen(key) + 1);
			return -1;
		}
		have[i] = 1;
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

int
query_paging(const char *limit, const char *offset, int64_t def, int64_t max,
    int64_t offmax, int64_t *lim, int64_t *off, const char **bad)
{
	*lim = def;
	*off = 0;
	if (limit != NULL && util_parse_i64(limit, 1, max, lim) == -1) {
		*bad = "limit";
		return -1;
	}
	if (offset != NULL && util_parse_i64(offset, 0, offmax, off) == -1) {
		*bad = "offset";
		return -1;
	}
	return 0;
}

int
query_pagination_write(buf_t *b, int64_t total, int64_t limit, int64_t offset)
{
	return buf_printf(b, "{\"total\":%lld,\"limit\":%lld,\"offset\":%lld,\"hasMore\":%s}",
	    (long long)total, (long long)limit, (long long)offset,
	    offset + limit < total ? "true" : "false");
}

cJSON *
query_pagination_json(int64_t total, int64_t limit, int64_t offset)
{
	buf_t b = { 0 };
	cJSON *p = NULL;

	if (query_pagination_write(&b, total, limit, offset) == 0)
		p = cJSON_ParseWithLength(b.p, b.len);
	buf_free(&b);
	return p;
}
