/*
 * route.h: constant route tables and the dispatcher that stands in front of
 * every handler: method (405 + Allow), path (404), content type (415),
 * length (400/413), bearer token (401), body read and parsed (400), then
 * the handler. Nothing up to the token reads a byte of the body.
 */
#ifndef ESM_ROUTE_H
#define ESM_ROUTE_H

#include <stddef.h>
#include "http.h"
#include "token.h"

enum route_body { RB_NONE, RB_JSON };
/* RA_INTERNAL: only through the internal listener (its port is
 * ESM_INTERNAL_PORT); elsewhere the route does not exist (404). RA_SERVICE:
 * the same, and only for the services, which send the internal secret
 * (struct dispatch's internal_secret; 401 without it). */
enum route_auth { RA_NONE, RA_BEARER, RA_INTERNAL, RA_SERVICE };

/* A handler replies itself (http_reply_json, http_error...) and returns the
 * status; if it returns without replying, the dispatcher sends the contract
 * error for the returned status. */
typedef int (*route_fn)(struct http_req *r);

/* Patterns are literal segments and parameters: "{id}" is a positive decimal
 * integer of at most 18 digits; "{name}" is 1-64 of [A-Za-z0-9_.-]. */
struct route {
	const char *method;
	const char *pattern;
	route_fn fn;
	enum route_body body;
	enum route_auth auth;
};

struct dispatch {
	const struct route *routes;
	size_t nroutes;
	size_t body_max;
	const struct token_keys *keys;		/* for RA_BEARER routes */
	const char *trusted_proxies;		/* comma-separated peer addresses, or NULL */
	const char *internal_port;		/* SERVER_PORT of the internal listener, or NULL */
	/* What an RA_SERVICE route's caller must send in X-Internal-Secret
	 * (ESM_INTERNAL_SECRET_FILE), or NULL: none asked. */
	const char *internal_secret;
	/* Origins whose browser applications may call the API (CORS): a
	 * comma list of exact origins ("https://app.example.org"), "*" for
	 * any, or NULL for none (ESM_CORS_ORIGINS). */
	const char *cors_origins;
};

/* 1 when path matches pattern; parameters are copied into pbuf and pointed
 * to by pv[0..]. Pure. */
int route_match(const char *pattern, const char *path, char *pbuf, size_t pbufsz,
    const char **pv, int maxpv);
/* Finds the route for method+path: returns 0 and sets *out, else 404, or 405
 * with the allowed methods listed in allow ("GET, DELETE"). HEAD matches GET.
 * Pure. */
int route_lookup(const struct route *tab, size_t n, const char *method, const char *path,
    char *pbuf, size_t pbufsz, const char **pv, const struct route **out,
    char *allow, size_t allowsz);
/* 1 when ctype is application/json with at most a utf-8 charset. Pure. */
int route_json_ctype(const char *ctype);
/* Effective client address: the peer, or the last X-Forwarded-For entry when
 * the peer is one of trusted (comma list). Writes at most n bytes. Pure. */
void route_client_addr(const char *peer, const char *xff, const char *trusted,
    char *out, size_t n);

/* 1 when origin (an Origin header's value) is one of list (comma list of
 * exact origins, or "*"), else 0. Pure. */
int route_cors_allowed(const char *list, const char *origin);

/* Runs the front line and the handler for one accepted request. Returns the
 * status sent. */
int route_dispatch(const struct dispatch *d, struct http_req *r);

#endif
