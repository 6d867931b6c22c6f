/*
 * http.c: libfcgi glue: accepting a request, its parameters and body, and
 * sending the bytes of a reply that reply.c assembled in one buffer (one
 * FCGX_PutStr, so a reply is never half-sent on a formatting failure).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcgiapp.h>

#include "http.h"

/* Looked up by every request, most of them more than once: one pass over
 * the parameters at accept finds them all, instead of a scan each. */
#define HOT(name) { name, sizeof(name) - 1 }
static const struct {
	const char *name;
	size_t len;
} hot_params[HTTP_HOT_PARAMS] = {
	HOT("REQUEST_METHOD"), HOT("REQUEST_URI"), HOT("CONTENT_TYPE"), HOT("CONTENT_LENGTH"),
	HOT("REMOTE_ADDR"), HOT("SERVER_PORT"), HOT("HTTP_AUTHORIZATION"),
	HOT("HTTP_X_REQUEST_ID"), HOT("HTTP_X_FORWARDED_FOR"),
};

int
http_init(void)
{
	return FCGX_Init() == 0 ? 0 : -1;
}

int
http_req_open(struct http_req *r, int fd)
{
	memset(r, 0, sizeof(*r));
	if ((r->fx = calloc(1, sizeof(FCGX_Request))) == NULL)
		return -1;
	if (FCGX_InitRequest(r->fx, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		free(r->fx);
		r->fx = NULL;
		return -1;
	}
	return 0;
}

void
http_req_close(struct http_req *r)
{
	if (r->fx != NULL) {
		FCGX_Free(r->fx, 1);
		free(r->fx);
		r->fx = NULL;
	}
	buf_free(&r->hdr);
	buf_free(&r->out);
	buf_free(&r->scratch);
}

static void
hot_find(struct http_req *r)
{
	char **e;
	size_t i, n;

	memset(r->hot, 0, sizeof(r->hot));
	for (e = ((FCGX_Request *)r->fx)->envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');

		if (eq == NULL)
			continue;
		n = (size_t)(eq - *e);
		for (i = 0; i < HTTP_HOT_PARAMS; i++)
			if (r->hot[i] == NULL && hot_params[i].len == n &&
			    memcmp(*e, hot_params[i].name, n) == 0) {
				r->hot[i] = eq + 1;	/* the first one, as FCGX_GetParam */
				break;
			}
	}
}

const char *
http_param(const struct http_req *r, const char *name)
{
	size_t i;

	for (i = 0; i < HTTP_HOT_PARAMS; i++)
		if (strcmp(name, hot_params[i].name) == 0)
			return r->hot[i];
	return FCGX_GetParam(name, ((FCGX_Request *)r->fx)->envp);
}

int
http_accept(struct http_req *r)
{
	const char *uri;
	char *q;

	if (FCGX_Accept_r(r->fx) < 0)
		return -1;
	r->started_us = util_mono_us();
	hot_find(r);
	r->method = http_param(r, "REQUEST_METHOD");
	r->content_type = http_param(r, "CONTENT_TYPE");
	r->remote_addr = http_param(r, "REMOTE_ADDR");
	if (r->method == NULL)
		r->method = "";
	if (r->remote_addr == NULL)
		r->remote_addr = "";
	uri = http_param(r, "REQUEST_URI");
	if ((r->uri = strdup(uri ? uri : "/")) == NULL || (r->path = strdup(r->uri)) == NULL)
		return 0;	/* dispatch answers 500 on a NULL path */
	if ((q = strchr(r->path, '?')) != NULL)
		*q = '\0';
	q = strchr(r->uri, '?');
	r->query = q ? q + 1 : "";
	return 0;
}

/*
 * libfcgi ends a connection the TCP way: it shuts down its side and waits
 * (up to 2 s) for the web server to close the other, so that unread input
 * cannot turn into a reset that discards the reply. Each request then
 * costs a wait for lighttpd's close before the next accept. On the local
 * socket a close discards nothing the peer has not read, so when every
 * byte of the request has been read (no body, or the whole body, and
 * then the end of FCGI_STDIN, which arrives with the parameters or the
 * last body bytes) the connection is detached and closed at once. With a
 * body left unread (a 413, a short body) the lingering close stays.
 */
static void
close_early(struct http_req *r)
{
	FCGX_Request *fx = r->fx;
	const char *cl = http_param(r, "CONTENT_LENGTH");
	int64_t len = 0;

	if (cl != NULL && *cl != '\0' && util_parse_i64(cl, 0, INT64_MAX, &len) == -1)
		return;
	if ((uint64_t)len != r->body_len || FCGX_GetChar(fx->in) != EOF ||
	    !FCGX_HasSeenEOF(fx->in))
		return;
	(void)FCGX_Detach(fx);
}

void
http_finish(struct http_req *r)
{
	close_early(r);
	FCGX_Finish_r(r->fx);
	free(r->uri);
	free(r->path);
	free(r->body);
	cJSON_Delete(r->json);
	r->uri = r->path = r->body = NULL;
	r->json = NULL;
	r->query = "";
	r->body_len = 0;
	r->route = NULL;
	memset(r->pv, 0, sizeof(r->pv));
	memset(&r->auth, 0, sizeof(r->auth));
	r->authed = 0;
	r->status = 0;
	memset(r->hot, 0, sizeof(r->hot));
	r->rid[0] = r->client[0] = '\0';
	buf_reset(&r->hdr);
	buf_reset(&r->out);
	/* A large page's buffer is let go of rather than kept. */
	if (r->scratch.cap > HTTP_SCRATCH_KEEP)
		buf_free(&r->scratch);
	buf_reset(&r->scratch);
}

void
http_send(struct http_req *r, const char *p, size_t n)
{
	FCGX_PutStr(p, (int)n, ((FCGX_Request *)r->fx)->out);
}

void
http_shutdown_pending(void)
{
	FCGX_ShutdownPending();
}

int
http_read_body(struct http_req *r, size_t len)
{
	FCGX_Request *fx = r->fx;
	int got;

	if ((r->body = malloc(len + 1)) == NULL)
		return 500;
	got = len ? FCGX_GetStr(r->body, (int)len, fx->in) : 0;
	if (got < 0 || (size_t)got != len)
		return 400;
	r->body[len] = '\0';
	r->body_len = len;
	return 0;
}

