/*
 * reply.c: the reply side of a request: status line, headers and the
 * contract's problem+json errors. Pure formatting; the bytes leave through
 * http_send (http.c), so the fuzzers can put an in-memory transport there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static const struct {
	int status;
	const char *code, *reason;
} http_codes[] = {
	{ 200, NULL, "OK" },
	{ 201, NULL, "Created" },
	{ 204, NULL, "No Content" },
	{ 400, "BAD_REQUEST", "Bad Request" },
	{ 401, "UNAUTHORIZED", "Unauthorized" },
	{ 403, "FORBIDDEN", "Forbidden" },
	{ 404, "NOT_FOUND", "Not Found" },
	{ 405, "METHOD_NOT_ALLOWED", "Method Not Allowed" },
	{ 409, "CONFLICT", "Conflict" },
	{ 411, "BAD_REQUEST", "Length Required" },
	{ 413, "PAYLOAD_TOO_LARGE", "Payload Too Large" },
	{ 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported Media Type" },
	{ 429, "TOO_MANY_REQUESTS", "Too Many Requests" },
	{ 500, "INTERNAL_SERVER_ERROR", "Internal Server Error" },
	{ 503, "SERVICE_UNAVAILABLE", "Service Unavailable" },
};

const char *
http_error_code(int status)
{
	size_t i;

	for (i = 0; i < ESM_NELEM(http_codes); i++)
		if (http_codes[i].status == status && http_codes[i].code)
			return http_codes[i].code;
	return status >= 500 ? "INTERNAL_SERVER_ERROR" : "BAD_REQUEST";
}

const char *
http_reason(int status)
{
	size_t i;

	for (i = 0; i < ESM_NELEM(http_codes); i++)
		if (http_codes[i].status == status)
			return http_codes[i].reason;
	return "Unknown";
}

int
http_header_add(struct http_req *r, const char *name, const char *fmt, ...)
{
	char val[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	/* Header injection is impossible by construction: values never
	 * contain CR or LF, but check since some come from stored data. */
	if (strpbrk(val, "\r\n") != NULL)
		return -1;
	return buf_printf(&r->hdr, "%s: %s\r\n", name, val);
}

/* Appends the decimal digits of v. */
static int
put_uint(buf_t *b, size_t v)
{
	char d[24];
	size_t i = sizeof(d);

	do
		d[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && i > 0);
	return buf_append(b, d + i, sizeof(d) - i);
}

/* Every reply goes through here, so no printf: the pieces are copied into
 * the request's reusable buffer (no allocation once it has grown). */
int
http_reply(struct http_req *r, int status, const char *ctype, const char *body, size_t len)
{
	static const char fallback[] = "Status: 500 Internal Server Error\r\n\r\n";
	buf_t *out = &r->out;

	if (r->status != 0)
		return r->status;	/* one reply per request */
	r->status = status;
	buf_reset(out);
	if (status < 100 || status > 999 || buf_puts(out, "Status: ") == -1 ||
	    put_uint(out, (size_t)status) == -1 || buf_puts(out, " ") == -1 ||
	    buf_puts(out, http_reason(status)) == -1 || buf_puts(out, "\r\nX-Request-Id: ") == -1 ||
	    buf_puts(out, r->rid) == -1 ||
	    buf_puts(out, "\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n") == -1)
		goto fail;
	if (body != NULL && ctype != NULL &&
	    (buf_puts(out, "Content-Type: ") == -1 || buf_puts(out, ctype) == -1 ||
	     buf_puts(out, "\r\nContent-Length: ") == -1 || put_uint(out, len) == -1 ||
	     buf_puts(out, "\r\n") == -1))
		goto fail;
	if (r->hdr.len && buf_append(out, r->hdr.p, r->hdr.len) == -1)
		goto fail;
	if (buf_puts(out, "\r\n") == -1 || (body && len && buf_append(out, body, len) == -1))
		goto fail;
	http_send(r, out->p, out->len);
	buf_reset(out);
	return status;
fail:
	buf_reset(out);
	http_send(r, fallback, sizeof(fallback) - 1);
	return 500;
}

int
http_reply_json(struct http_req *r, int status, const cJSON *json)
{
	char *s = cJSON_PrintUnformatted(json);
	int rc;

	if (s == NULL)
		return http_error(r, 500, "out of memory", NULL);
	rc = http_reply(r, status, "application/json", s, strlen(s));
	cJSON_free(s);
	return rc;
}

char *
http_problem_body(int status, const char *message, const char *const *params)
{
	cJSON *root = NULL, *details, *inner, *arr;
	char *out = NULL;

	if ((root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "error", http_error_code(status)) == NULL ||
	    cJSON_AddStringToObject(root, "message", message ? message : http_reason(status)) == NULL ||
	    (details = cJSON_AddObjectToObject(root, "error_details")) == NULL ||
	    (inner = cJSON_AddObjectToObject(details, "details")) == NULL ||
	    (arr = cJSON_AddArrayToObject(inner, "params")) == NULL)
		goto out;
	for (; params && *params; params++) {
		cJSON *s = cJSON_CreateString(*params);
		if (s == NULL || !cJSON_AddItemToArray(arr, s)) {
			cJSON_Delete(s);
			goto out;
		}
	}
	out = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return out;
}

int
http_error_ex(struct http_req *r, int status, const char *message,
    const char *const *params, int retry_after_s)
{
	char *body;
	int rc;

	if ((status == 429 || status == 503) && retry_after_s > 0 &&
	    http_header_add(r, "Retry-After", "%d", retry_after_s) == -1)
		return http_reply(r, 500, NULL, NULL, 0);
	if (status == 401 && http_header_add(r, "WWW-Authenticate", "Bearer") == -1)
		return http_reply(r, 500, NULL, NULL, 0);
	if ((body = http_problem_body(status, message, params)) == NULL)
		return http_reply(r, 500, NULL, NULL, 0);
	rc = http_reply(r, status, "application/problem+json", body, strlen(body));
	cJSON_free(body);
	return rc;
}

int
http_error(struct http_req *r, int status, const char *message, const char *const *params)
{
	return http_error_ex(r, status, message, params, status == 429 || status == 503 ? 1 : 0);
}
