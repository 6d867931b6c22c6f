/*
 * route.c: route matching and the dispatcher. The checks run in the order
 * of route.h so that a request is refused by the cheapest test that can
 * refuse it, and no handler ever sees an unchecked request. The bearer
 * token comes before the body: headers cost nothing to check, a body costs
 * its reading and parsing, and that is not for anyone without a token.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sodium.h>

#include "json.h"
#include "log.h"
#include "revoke.h"
#include "route.h"
#include "util.h"
#include "valid.h"

static int
seg_param(const char *pat, size_t plen, const char *seg, size_t slen)
{
	size_t i;

	if (plen == 4 && memcmp(pat, "{id}", 4) == 0) {
		if (slen == 0 || slen > 18 || seg[0] == '0')
			return 0;
		for (i = 0; i < slen; i++)
			if (seg[i] < '0' || seg[i] > '9')
				return 0;
		return 1;
	}
	if (slen == 0 || slen > 64)
		return 0;
	for (i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)seg[i];
		if (!isalnum(c) && c != '_' && c != '.' && c != '-')
			return 0;
	}
	return 1;
}

int
route_match(const char *pattern, const char *path, char *pbuf, size_t pbufsz,
    const char **pv, int maxpv)
{
	const char *p = pattern, *s = path;
	size_t used = 0;
	int np = 0;

	while (*p && *s) {
		size_t plen = strcspn(p, "/"), slen = strcspn(s, "/");

		if (plen > 2 && p[0] == '{' && p[plen - 1] == '}') {
			if (!seg_param(p, plen, s, slen) || np >= maxpv || used + slen + 1 > pbufsz)
				return 0;
			memcpy(pbuf + used, s, slen);
			pbuf[used + slen] = '\0';
			pv[np++] = pbuf + used;
			used += slen + 1;
		} else if (plen != slen || memcmp(p, s, plen) != 0)
			return 0;
		p += plen;
		s += slen;
		if (*p != *s)
			return 0;
		if (*p == '/') {
			p++;
			s++;
		}
	}
	return *p == '\0' && *s == '\0';
}

int
route_lookup(const struct route *tab, size_t n, const char *method, const char *path,
    char *pbuf, size_t pbufsz, const char **pv, const struct route **out,
    char *allow, size_t allowsz)
{
	const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
	size_t i, alen = 0;
	int found_path = 0;

	*out = NULL;
	if (allowsz)
		allow[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *tmp[HTTP_PATH_PARAMS];
		char tbuf[256];

		if (!route_match(tab[i].pattern, path, tbuf, sizeof(tbuf), tmp, HTTP_PATH_PARAMS))
			continue;
		if (strcmp(tab[i].method, m) == 0) {
			route_match(tab[i].pattern, path, pbuf, pbufsz, pv, HTTP_PATH_PARAMS);
			*out = &tab[i];
			return 0;
		}
		found_path = 1;
		if (strstr(allow, tab[i].method) == NULL && alen + strlen(tab[i].method) + 3 < allowsz) {
			alen += (size_t)snprintf(allow + alen, allowsz - alen, "%s%s",
			    alen ? ", " : "", tab[i].method);
			if (strcmp(tab[i].method, "GET") == 0 && alen + 7 < allowsz)
				alen += (size_t)snprintf(allow + alen, allowsz - alen, ", HEAD");
		}
	}
	return found_path ? 405 : 404;
}

int
route_json_ctype(const char *ct)
{
	static const char mt[] = "application/json";
	const char *p;

	if (ct == NULL || strncasecmp(ct, mt, sizeof(mt) - 1) != 0)
		return 0;
	p = ct + sizeof(mt) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return 1;
	if (*p++ != ';')
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "charset=", 8) != 0)
		return 0;
	p += 8;
	if (*p == '"')
		p++;
	if (strncasecmp(p, "utf-8", 5) != 0)
		return 0;
	p += 5;
	if (*p == '"')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

static int
addr_in_list(const char *addr, const char *list)
{
	size_t alen = strlen(addr);
	const char *p = list;

	while (p && *p) {
		size_t l;
		while (*p == ' ' || *p == ',')
			p++;
		l = strcspn(p, ", ");
		if (l == alen && l > 0 && memcmp(p, addr, l) == 0)
			return 1;
		p += l;
	}
	return 0;
}

void
route_client_addr(const char *peer, const char *xff, const char *trusted,
    char *out, size_t n)
{
	const char *last;
	size_t len, i;

	snprintf(out, n, "%s", peer ? peer : "");
	if (xff == NULL || trusted == NULL || peer == NULL || !addr_in_list(peer, trusted))
		return;
	/* The rightmost entry is the one our trusted proxy appended. */
	last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ' || *last == '\t')
		last++;
	len = strcspn(last, " \t");
	if (len == 0 || len > 45 || len >= n)
		return;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)last[i]) && last[i] != '.' && last[i] != ':')
			return;
	memcpy(out, last, len);
	out[len] = '\0';
}

static void
set_request_id(struct http_req *r)
{
	const char *rid = http_param(r, "HTTP_X_REQUEST_ID");

	if (rid != NULL && valid_request_id(rid, strlen(rid)))
		snprintf(r->rid, sizeof(r->rid), "%s", rid);
	else
		util_uuid4_fast(r->rid);
	log_set_request_id(r->rid);
}

/* What a JSON route can refuse before it reads a byte of the body: a
 * malformed length (400), another content type (415), a body over the cap
 * (413). Sets *len to the announced length. 0, or the status sent. */
static int
check_json_head(const struct dispatch *d, struct http_req *r, int64_t *len)
{
	const char *cl = http_param(r, "CONTENT_LENGTH");

	*len = 0;
	if (cl != NULL && *cl != '\0' && util_parse_i64(cl, 0, INT64_MAX, len) == -1)
		return http_error(r, 400, "invalid Content-Length", NULL);
	if (*len > 0 && !route_json_ctype(r->content_type))
		return http_error(r, 415, "Content-Type must be application/json", NULL);
	if ((uint64_t)*len > d->body_max)
		return http_error(r, 413, "request body too large", NULL);
	return 0;
}

/* Reads the len bytes check_json_head let through and parses them: 400 for
 * no body, a short one, or anything but a strict JSON object. 0, or the
 * status sent. */
static int
read_json(struct http_req *r, int64_t len)
{
	const char *why = NULL;
	int rc;

	if (len == 0)
		return http_error(r, 400, "a JSON request body is required", NULL);
	if ((rc = http_read_body(r, (size_t)len)) != 0)
		return http_error(r, rc, rc == 400 ? "request body shorter than Content-Length" : NULL, NULL);
	if (json_parse_strict(r->body, r->body_len, JSON_DEPTH_MAX, &r->json, &why) == -1)
		return http_error(r, 400, why, NULL);
	if (!cJSON_IsObject(r->json))
		return http_error(r, 400, "request body must be a JSON object", NULL);
	return 0;
}

static int
check_bearer(const struct dispatch *d, struct http_req *r)
{
	const char *h = http_param(r, "HTTP_AUTHORIZATION");
	enum token_result tr;
	int64_t now;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0')
		return http_error(r, 401, "missing bearer token", NULL);
	if (d->keys == NULL)
		return http_error(r, 500, "token verification is not configured", NULL);
	now = util_now_us() / 1000000;
	tr = token_verify_cached(d->keys, h + 7, strlen(h + 7), now, 30, &r->auth);
	if (tr != TOKEN_OK)
		return http_error(r, 401, tr == TOKEN_EXPIRED ? "token expired" : "invalid token", NULL);
	if (revoke_check(r->auth.sid, now))
		return http_error(r, 401, "token revoked", NULL);
	r->authed = 1;
	return 0;
}

int
route_cors_allowed(const char *list, const char *origin)
{
	size_t n;
	const char *p, *e;

	if (list == NULL || origin == NULL || *origin == '\0' || strcmp(origin, "null") == 0)
		return 0;
	n = strlen(origin);
	for (p = list; *p != '\0'; p = *e ? e + 1 : e) {
		while (*p == ' ')
			p++;
		e = p + strcspn(p, ",");
		while (e > p && e[-1] == ' ')
			e--;
		if ((e - p == 1 && *p == '*') || ((size_t)(e - p) == n && strncmp(p, origin, n) == 0))
			return 1;
		e += strcspn(e, ",");
	}
	return 0;
}

/* CORS: a browser's preflight from an allowed origin is answered here
 * (204 with the path's methods); any other request from one gets the
 * headers a browser needs to read the answer. A disallowed origin gets none
 * of them, and its preflight goes on to the 405 of OPTIONS. 0 to go on, or
 * the status replied. */
static int
cors(const struct dispatch *d, struct http_req *r)
{
	const char *origin = http_param(r, "HTTP_ORIGIN");
	char pbuf[512], allow[64];
	const char *pv[4];
	const struct route *rt;

	if (!route_cors_allowed(d->cors_origins, origin))
		return 0;
	if (http_header_add(r, "Access-Control-Allow-Origin", "%s", origin) == -1 ||
	    http_header_add(r, "Vary", "Origin") == -1)
		return http_error(r, 500, NULL, NULL);
	if (strcmp(r->method, "OPTIONS") != 0 ||
	    http_param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD") == NULL) {
		if (http_header_add(r, "Access-Control-Expose-Headers",
		    "Location, Retry-After, X-Request-Id, Idempotent-Replayed") == -1)
			return http_error(r, 500, NULL, NULL);
		return 0;
	}
	/* The public API only; no route takes OPTIONS, so the lookup answers
	 * with the path's methods. */
	if (strncmp(r->path, "/api/", 5) != 0 ||
	    route_lookup(d->routes, d->nroutes, "OPTIONS", r->path, pbuf, sizeof(pbuf), pv, &rt,
	    allow, sizeof(allow)) != 405)
		return http_error(r, 404, "no such resource", NULL);
	if (http_header_add(r, "Access-Control-Allow-Methods", "%s", allow) == -1 ||
	    http_header_add(r, "Access-Control-Allow-Headers",
	    "Authorization, Content-Type, Idempotency-Key, X-Request-Id") == -1 ||
	    http_header_add(r, "Access-Control-Max-Age", "600") == -1)
		return http_error(r, 500, NULL, NULL);
	return http_reply(r, 204, NULL, NULL, 0);
}

int
route_dispatch(const struct dispatch *d, struct http_req *r)
{
	char allow[64];
	int64_t len = 0;
	int rc;

	set_request_id(r);
	route_client_addr(r->remote_addr, http_param(r, "HTTP_X_FORWARDED_FOR"),
	    d->trusted_proxies, r->client, sizeof(r->client));
	if (r->path == NULL)
		return http_error(r, 500, "out of memory", NULL);
	if (d->cors_origins != NULL && (rc = cors(d, r)) != 0)
		return rc;
	rc = route_lookup(d->routes, d->nroutes, r->method, r->path, r->pbuf, sizeof(r->pbuf),
	    r->pv, &r->route, allow, sizeof(allow));
	if (rc == 0 && (r->route->auth == RA_INTERNAL || r->route->auth == RA_SERVICE) &&
	    d->internal_port != NULL) {
		const char *port = http_param(r, "SERVER_PORT");
		if (port == NULL || strcmp(port, d->internal_port) != 0)
			rc = 404;
	}
	if (rc == 404)
		return http_error(r, 404, "no such resource", NULL);
	/* The internal listener answers the services only: they send the
	 * shared secret, compared in constant time. */
	if (rc == 0 && r->route->auth == RA_SERVICE && d->internal_secret != NULL) {
		const char *got = http_param(r, "HTTP_X_INTERNAL_SECRET");
		size_t n = strlen(d->internal_secret);

		if (got == NULL || strlen(got) != n || sodium_memcmp(got, d->internal_secret, n) != 0)
			return http_error(r, 401, "internal credential required", NULL);
	}
	if (rc == 405) {
		if (http_header_add(r, "Allow", "%s", allow) == -1)
			return http_error(r, 500, NULL, NULL);
		return http_error(r, 405, "method not allowed", NULL);
	}
	if (r->route->body == RB_JSON && check_json_head(d, r, &len) != 0)
		return r->status;
	/* The token before the body: a client without one gets 401 for the
	 * price of reading headers, whatever it sent. */
	if (r->route->auth == RA_BEARER && check_bearer(d, r) != 0)
		return r->status;
	if (r->route->body == RB_JSON && read_json(r, len) != 0)
		return r->status;
	rc = r->route->fn(r);
	if (r->status == 0)
		return http_error(r, rc >= 400 ? rc : 500, NULL, NULL);
	return r->status;
}
