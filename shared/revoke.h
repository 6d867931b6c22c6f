/*
 * revoke.h: the revoked sessions whose access tokens a process refuses.
 *
 * The token service records a session (a refresh token family, the "sid"
 * of its access tokens) as revoked on logout, on a detected replay, and
 * for every recent session of a user who is deleted, changes a password or
 * a role. Every process that checks bearer tokens keeps a copy of that
 * list in memory and refreshes it from a source (the token service's
 * internal listener; in the token service, its own database) when the
 * copy is older than the refresh interval: before a bearer check, and
 * after a reply so that a busy process never waits for it. A request
 * therefore pays a hash lookup, and a revocation holds everywhere within
 * one interval plus the time of a fetch. An entry lives until every token
 * of its session has expired. Not thread-safe: one request at a time.
 */
#ifndef ESM_REVOKE_H
#define ESM_REVOKE_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define REVOKE_SID_MAX 36

/* Fetches the sessions revoked at or after since_us (microseconds on the
 * source's clock; 0: every entry still in force), calling revoke_add for
 * each, and sets *upto_us to where the next fetch may start and *more when
 * it stopped at a page's end. 0, or -1 when the source did not answer. */
typedef int (*revoke_source)(int64_t since_us, int64_t *upto_us, int *more);

/* Installs the source and the refresh interval (ms). No source: nothing
 * is ever revoked (a process without bearer routes). */
void revoke_setup(revoke_source src, int refresh_ms);
/* Notes sid as revoked until until_s (seconds since the epoch). 0, or -1
 * on ENOMEM or a sid of a wrong length. */
int revoke_add(const char *sid, int64_t until_s) ESM_WUR;
/* 1 when the session sid is revoked at now_s, refreshing the list first
 * when it is older than the interval; 0 when not. */
int revoke_check(const char *sid, int64_t now_s);
/* After a reply: refreshes the list when it is older than half the
 * interval and the process has checked a token since it started. */
void revoke_tick(void);
/* Entries held (for tests and /metrics). */
size_t revoke_count(void);
/* Forgets every entry and the position of the source (tests). */
void revoke_reset(void);

/* Reads the token service's answer {"revoked":[{"sid":..,"until":..}],
 * "upto":..,"more":bool} into revoke_add calls. 0, or -1 when it is not
 * that shape (entries before the fault are kept: they are revocations). */
int revoke_parse(const char *json, size_t len, int64_t *upto_us, int *more) ESM_WUR;

#endif
