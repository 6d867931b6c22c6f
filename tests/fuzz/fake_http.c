/*
 * fake_http.c: an in-memory stand-in for shared/http.c (the libfcgi glue),
 * so the fuzzers drive the real dispatcher, reply and error code with
 * parameters and a body taken from the fuzz input. The reply's bytes are
 * kept for the harness to check.
 */
#include <stdlib.h>
#include <string.h>

#include "fake_http.h"

struct fake_io fake_io;

int http_init(void) { return 0; }

int
http_req_open(struct http_req *r, int fd)
{
	(void)fd;
	memset(r, 0, sizeof(*r));
	return 0;
}

void
http_req_close(struct http_req *r)
{
	buf_free(&r->hdr);
	buf_free(&r->out);
}

const char *
http_param(const struct http_req *r, const char *name)
{
	size_t i;

	(void)r;
	for (i = 0; i < fake_io.nparams; i++)
		if (strcmp(fake_io.names[i], name) == 0)
			return fake_io.values[i];
	return NULL;
}

int
http_accept(struct http_req *r)
{
	const char *uri = http_param(r, "REQUEST_URI");
	char *q;

	r->method = http_param(r, "REQUEST_METHOD");
	r->content_type = http_param(r, "CONTENT_TYPE");
	r->remote_addr = http_param(r, "REMOTE_ADDR");
	if (r->method == NULL)
		r->method = "";
	if (r->remote_addr == NULL)
		r->remote_addr = "";
	r->uri = strdup(uri ? uri : "/");
	r->path = r->uri ? strdup(r->uri) : NULL;
	if (r->path && (q = strchr(r->path, '?')) != NULL)
		*q = '\0';
	q = r->uri ? strchr(r->uri, '?') : NULL;
	r->query = q ? q + 1 : "";
	return 0;
}

void
http_finish(struct http_req *r)
{
	free(r->uri);
	free(r->path);
	free(r->body);
	cJSON_Delete(r->json);
	r->uri = r->path = r->body = NULL;
	r->json = NULL;
	buf_reset(&r->hdr);
	r->status = 0;
}

void
http_send(struct http_req *r, const char *p, size_t n)
{
	(void)r;
	if (buf_append(&fake_io.out, p, n) == -1)
		abort();
}

void http_shutdown_pending(void) {}

int
http_read_body(struct http_req *r, size_t len)
{
	if (len > fake_io.body_len)
		return 400;
	if ((r->body = malloc(len + 1)) == NULL)
		return 500;
	memcpy(r->body, fake_io.body, len);
	r->body[len] = '\0';
	r->body_len = len;
	return 0;
}
