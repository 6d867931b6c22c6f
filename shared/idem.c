/*
 * idem.c: see idem.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "cfg.h"
#include "idem.h"
#include "log.h"

#define IDEM_PURGE_EVERY 256	/* keyed requests per process between purges */

int
idem_key_parse(const char *v, char out[IDEM_KEY_MAX + 1])
{
	size_t n, i;

	if (v == NULL)
		return -1;
	n = strlen(v);
	/* A structured-field string: the quotes go, and nothing inside needs
	 * an escape (a backslash is refused rather than interpreted). */
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n == 0 || n > IDEM_KEY_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if (v[i] < 0x21 || v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
			return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

int
idem_fingerprint(const char *method, const char *path, const char *body, size_t len,
    char hex[65])
{
	static unsigned char key[crypto_generichash_KEYBYTES];
	static int have_key = -1;
	crypto_generichash_state st;
	unsigned char h[32];

	if (sodium_init() < 0)
		return -1;
	if (have_key == -1) {
		char *secret = cfg_secret("ESM_INTERNAL_SECRET");

		have_key = secret != NULL;
		if (have_key) {
			crypto_generichash(key, sizeof(key), (const unsigned char *)secret, strlen(secret),
			    (const unsigned char *)"idempotency", 11);
			sodium_memzero(secret, strlen(secret));
			free(secret);
		}
	}
	if (crypto_generichash_init(&st, have_key ? key : NULL, have_key ? sizeof(key) : 0,
	    sizeof(h)) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)method, strlen(method) + 1) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)path, strlen(path) + 1) != 0 ||
	    crypto_generichash_update(&st, (const unsigned char *)(body ? body : ""), len) != 0 ||
	    crypto_generichash_final(&st, h, sizeof(h)) != 0)
		return -1;
	sodium_bin2hex(hex, 65, h, sizeof(h));
	return 0;
}

/* Sends the stored response of res's row again. */
static int
replay(struct http_req *r, const db_res *res)
{
	int64_t status;
	const char *body = db_get(res, 0, 3);

	if (util_parse_i64(db_get(res, 0, 1), 200, 299, &status) == -1)
		return http_error(r, 500, NULL, NULL);
	if ((!db_isnull(res, 0, 2) && http_header_add(r, "Location", "%s", db_get(res, 0, 2)) == -1) ||
	    http_header_add(r, "Idempotent-Replayed", "true") == -1)
		return http_error(r, 500, NULL, NULL);
	return http_reply(r, (int)status, "application/json", body, strlen(body));
}

int
idem_begin(struct http_req *r, db *d, const struct idem_stmts *s, const char *scope,
    struct idem *st)
{
	static const char *const kparam[] = { "Idempotency-Key", NULL };
	static unsigned begins;
	const char *v = http_param(r, "HTTP_IDEMPOTENCY_KEY"), *p[2];
	char sc[sizeof(st->scope)];
	db_res *res = NULL;
	int rc;

	snprintf(sc, sizeof(sc), "%s", scope);	/* scope may be st->scope: a second look */
	memset(st, 0, sizeof(*st));
	if (v == NULL)
		return 0;
	if (idem_key_parse(v, st->key) == -1)
		return http_error(r, 400, "malformed Idempotency-Key (1 to 255 visible ASCII characters)",
		    kparam);
	if (idem_fingerprint(r->method, r->path, r->body, r->body_len, st->hash) == -1)
		return http_error(r, 500, NULL, NULL);
	memcpy(st->scope, sc, sizeof(sc));
	/* Outside the caller's transaction: now and then, expired keys go. */
	if (++begins % IDEM_PURGE_EVERY == 1 && db_exec(d, s->purge, NULL, 0, NULL) != DB_OK)
		log_warn("forgetting expired idempotency keys failed");
	p[0] = st->scope;
	p[1] = st->key;
	if ((rc = db_exec(d, s->lookup, p, 2, &res)) != DB_OK) {
		switch (rc) {
		case DB_UNAVAILABLE:
		case DB_TIMEOUT:
			return http_error_ex(r, 503, "database unavailable, retry shortly", NULL, 2);
		default:
			return http_error(r, 500, NULL, NULL);
		}
	}
	if (db_nrows(res) == 0) {
		db_res_free(res);
		st->on = 1;
		return 0;
	}
	if (strcmp(db_get(res, 0, 0), st->hash) != 0)
		rc = http_error(r, 409, "this Idempotency-Key was used for another request", kparam);
	else
		rc = replay(r, res);
	db_res_free(res);
	return rc;
}

int
idem_save(db *d, const struct idem_stmts *s, const struct idem *st, int status,
    const char *location, const char *body)
{
	char code[8];
	const char *p[6] = { st->scope, st->key, st->hash, code, location ? location : "", body };
	db_res *res = NULL;
	int rc;

	if (!st->on)
		return DB_OK;
	snprintf(code, sizeof(code), "%d", status);
	if ((rc = db_exec(d, s->save, p, 6, &res)) != DB_OK)
		return rc;
	rc = db_nrows(res) == 1 ? DB_OK : DB_CONFLICT;
	db_res_free(res);
	return rc;
}
