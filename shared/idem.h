/*
 * idem.h: the Idempotency-Key header on the POSTs that create (registration,
 * task creation), after draft-ietf-httpapi-idempotency-key-header. A retry
 * with the same key and the same request gets the first response again and
 * changes nothing; the same key with another request gets 409; a request
 * with the key still in progress waits for it. The first response is stored
 * in the same transaction as the write it reports, so a retry finds both or
 * neither. Keys live 24 hours within a scope: the caller (a user id, or the
 * client address where nobody is logged in). Only successful responses are
 * kept: a refused request changed nothing and may simply be sent again.
 */
#ifndef ESM_IDEM_H
#define ESM_IDEM_H

#include <stddef.h>
#include "db.h"
#include "http.h"

#define IDEM_KEY_MAX 255

/* The statements a service with idempotent routes has in its table. */
#define IDEM_LOOKUP_SQL \
	"SELECT request_hash, status, location, body FROM idempotency_keys " \
	"WHERE scope = $1 AND idem_key = $2 AND created_at > now() - interval '24 hours'"
/* A key of the scope whose 24 hours are over is taken afresh; a live one
 * is a conflict (no row returned). */
#define IDEM_SAVE_SQL \
	"INSERT INTO idempotency_keys AS k (scope, idem_key, request_hash, status, location, body) " \
	"VALUES ($1, $2, $3, $4::int, NULLIF($5, ''), $6) ON CONFLICT (scope, idem_key) DO UPDATE " \
	"SET request_hash = EXCLUDED.request_hash, status = EXCLUDED.status, " \
	"location = EXCLUDED.location, body = EXCLUDED.body, created_at = now() " \
	"WHERE k.created_at <= now() - interval '24 hours' RETURNING 1"
#define IDEM_PURGE_SQL \
	"DELETE FROM idempotency_keys WHERE created_at <= now() - interval '24 hours'"

struct idem {
	int on;				/* the request carries a key */
	char scope[96];
	char key[IDEM_KEY_MAX + 1];
	char hash[65];			/* the request's fingerprint, hex */
};

/* Statement indices of the service's table. */
struct idem_stmts {
	size_t lookup, save, purge;
};

/* Reads the request's Idempotency-Key ("key" as a structured-field string,
 * or bare: 1..255 visible ASCII characters) within scope. 0 to go on (st->on
 * when a key came and nothing is stored under it yet), or the status
 * replied: 400 for a malformed key, the stored response again (with
 * Idempotent-Replayed: true), 409 for the key of another request, or the
 * database's error. */
int idem_begin(struct http_req *r, db *d, const struct idem_stmts *s, const char *scope,
    struct idem *st);
/* In the caller's open transaction: keeps the response (status, Location
 * or NULL, JSON body) under the key. DB_OK; DB_CONFLICT when a request with
 * the key committed meanwhile (roll back, then idem_begin replays it); or
 * a db_status. Does nothing (DB_OK) when !st->on. */
int idem_save(db *d, const struct idem_stmts *s, const struct idem *st, int status,
    const char *location, const char *body) ESM_WUR;

/* The fingerprint of a request (method, path, body) into hex[65]: keyed
 * BLAKE2b-256, with a key derived from ESM_INTERNAL_SECRET when there is
 * one, so that the stored fingerprint of a registration does not let
 * anyone test guesses of its password. 0 / -1. Pure but for that key. */
int idem_fingerprint(const char *method, const char *path, const char *body, size_t len,
    char hex[65]) ESM_WUR;
/* The key from the header's value into out: 0, or -1 when malformed. Pure. */
int idem_key_parse(const char *v, char out[IDEM_KEY_MAX + 1]) ESM_WUR;

#endif
