/*
 * util.h: small helpers every module uses: growable byte buffers, strict
 * integer parsing, UTF-8 checks, time stamps, random bytes and UUIDs.
 * Nothing here allocates behind the caller's back except buf_*.
 */
#ifndef ESM_UTIL_H
#define ESM_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#define ESM_WUR __attribute__((warn_unused_result))
#define ESM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ESM_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define ESM_STR_(x) #x
#define ESM_STR(x) ESM_STR_(x)	/* a macro's value as a string literal */

/* Growable, always NUL-terminated byte buffer. Zero-initialise before use. */
typedef struct buf {
	char *p;
	size_t len, cap;
} buf_t;

int buf_append(buf_t *b, const void *data, size_t n) ESM_WUR;	/* 0 / -1 (ENOMEM) */
int buf_puts(buf_t *b, const char *s) ESM_WUR;
int buf_printf(buf_t *b, const char *fmt, ...) ESM_PRINTF(2, 3) ESM_WUR;
/* Appends s as the inside of a JSON string (no quotes), escaping as needed. */
int buf_json_escape(buf_t *b, const char *s, size_t n) ESM_WUR;
void buf_reset(buf_t *b);			/* len = 0, keeps memory */
void buf_free(buf_t *b);			/* accepts a zeroed buffer */

/* Parses all of s as a base-10 integer in [min, max]. No sign games, no
 * leading blanks, no trailing garbage. Returns 0 and sets *out, else -1. */
int util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) ESM_WUR;

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates), else 0. */
int util_utf8_valid(const char *s, size_t n);
/* Length (1 to 4) of the well-formed UTF-8 sequence that starts s[0..n),
 * n > 0; 0 when it is not one. */
size_t util_utf8_seq(const char *s, size_t n);
/* Number of code points in valid UTF-8 s[0..n). */
size_t util_utf8_count(const char *s, size_t n);
/* 1 when s has a C0 control character or DEL, else 0. */
int util_has_ctrl(const char *s, size_t n);

/* Wall clock in microseconds since the epoch; monotonic microseconds. */
int64_t util_now_us(void);
int64_t util_mono_us(void);
/* Formats usec-since-epoch as RFC 3339 UTC with microseconds and Z.
 * out must hold UTIL_TS_LEN bytes. */
#define UTIL_TS_LEN 32
void util_ts_format(int64_t us, char out[UTIL_TS_LEN]);

/* Fills buf with n bytes from getrandom(2). 0 / -1. */
int util_random(void *buf, size_t n) ESM_WUR;
/* A long-running program's stop signals: SIGTERM and SIGINT set *flag
 * (kept by pointer) and interrupt a sleep or poll in progress (no
 * SA_RESTART); SIGPIPE is ignored, so a peer that hung up is an error
 * return, not death. 0 / -1. Call once, at start-up. */
int util_stop_signals(volatile sig_atomic_t *flag) ESM_WUR;
/* Random (version 4) UUID, lowercase, 36 chars + NUL. */
void util_uuid4(char out[37]);
/* Same shape from a fast per-process generator (seeded from getrandom):
 * unique, not secret. For request ids, never for anything an attacker must
 * not guess. */
void util_uuid4_fast(char out[37]);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Constant-time comparison of n bytes: 1 when equal. */
int util_ct_equal(const void *a, const void *b, size_t n);

#endif
