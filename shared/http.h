/*
 * http.h: one FastCGI request and its reply, on libfcgi. Only http.c
 * includes fcgiapp.h; reply.c formats replies and errors. Everything a request owns hangs off struct http_req
 * and is released by http_req_reset before the next request is accepted.
 */
#ifndef ESM_HTTP_H
#define ESM_HTTP_H

#define VALID_RID_BUF 72

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "token.h"
#include "util.h"

#define HTTP_BODY_MAX_DEFAULT 65536
#define HTTP_PATH_PARAMS 4

struct route;

/* The parameters every request reads, found in one pass at accept. */
#define HTTP_HOT_PARAMS 9
#define HTTP_SCRATCH_KEEP (256 * 1024)	/* bytes of scratch kept between requests */

struct http_req {
	void *fx;			/* FCGX_Request, owned */
	const char *hot[HTTP_HOT_PARAMS];	/* see http.c; borrowed like method */
	/* Borrowed from the FastCGI parameters until http_finish. */
	const char *method, *content_type, *remote_addr;
	char *path;			/* owned copy of REQUEST_URI before '?' */
	const char *query;		/* after '?', "" when none (points into uri copy) */
	char *uri;			/* owned copy of REQUEST_URI */
	char rid[VALID_RID_BUF];	/* request id echoed in X-Request-Id */
	char client[64];		/* effective client address (see http_client_addr) */
	char *body;
	size_t body_len;
	cJSON *json;			/* parsed body for JSON routes, owned */
	const struct route *route;
	const char *pv[HTTP_PATH_PARAMS];	/* path parameters, point into pbuf */
	char pbuf[256];
	struct token_claims auth;
	int authed;
	buf_t hdr;			/* extra response header lines */
	buf_t out;			/* the reply being assembled; kept between requests */
	buf_t scratch;			/* a handler's reply body under assembly; kept
					   between requests like out, empty at each */
	int status;			/* status of the reply, 0 until replied */
	int64_t started_us;
};

/* Process-wide set-up: FCGX_Init. 0 / -1. */
int http_init(void) ESM_WUR;
/* Allocates the request on the listening socket fd (0 under spawn-fcgi). */
int http_req_open(struct http_req *r, int fd) ESM_WUR;
void http_req_close(struct http_req *r);
/* Waits for the next request. 0, or -1 when the server is shutting down. */
int http_accept(struct http_req *r);
/* Ends the request: flushes, releases per-request memory. */
void http_finish(struct http_req *r);
/* Makes a blocked http_accept return (signal handlers). */
void http_shutdown_pending(void);

/* FastCGI parameter (e.g. "HTTP_AUTHORIZATION"), NULL when absent. Borrowed
 * until http_finish. */
const char *http_param(const struct http_req *r, const char *name);

/* Reads exactly CONTENT_LENGTH bytes (already checked <= cap) into r->body.
 * Returns 0, or an HTTP status (400 when the body is shorter than announced). */
int http_read_body(struct http_req *r, size_t len);

/* Writes n bytes of an assembled reply to the client (reply.c uses it). */
void http_send(struct http_req *r, const char *p, size_t n);

/* Adds "Name: value" to the reply. 0 / -1. */
int http_header_add(struct http_req *r, const char *name, const char *fmt, ...)
    ESM_PRINTF(3, 4) ESM_WUR;

/* Sends the reply. body may be NULL for 204. Returns status. */
int http_reply(struct http_req *r, int status, const char *ctype, const char *body, size_t len);
/* Prints json (not freed) and replies with application/json. */
int http_reply_json(struct http_req *r, int status, const cJSON *json);
/* Replies with the contract's problem+json error. params: NULL-terminated
 * list of offending field names, or NULL. Adds Retry-After for 429/503 when
 * retry_after_s > 0 (use http_error for the defaults). */
int http_error_ex(struct http_req *r, int status, const char *message,
    const char *const *params, int retry_after_s);
int http_error(struct http_req *r, int status, const char *message,
    const char *const *params);

/* The problem+json body for status/message/params, malloc'd. Pure. */
char *http_problem_body(int status, const char *message, const char *const *params);
/* Contract error code for a status ("BAD_REQUEST"...). Pure. */
const char *http_error_code(int status);
const char *http_reason(int status);

#endif
