/*
 * fake_http.h: the in-memory transport of fake_http.c.
 */
#ifndef ESM_FAKE_HTTP_H
#define ESM_FAKE_HTTP_H

#include <stddef.h>
#include "http.h"

#define FAKE_PARAMS 16

struct fake_io {
	const char *names[FAKE_PARAMS];
	char *values[FAKE_PARAMS];
	size_t nparams;
	const char *body;
	size_t body_len;
	buf_t out;	/* the reply as sent */
};

extern struct fake_io fake_io;

#endif
