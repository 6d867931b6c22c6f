/*
 * valid.h: field validators. Each takes a string and its length (the
 * string is NUL-terminated at len and has no interior NUL) and returns 1
 * when acceptable, 0 otherwise. Pure functions.
 */
#ifndef ESM_VALID_H
#define ESM_VALID_H

#include <stddef.h>
#include <stdint.h>

#define VALID_USERNAME_MIN 3
#define VALID_USERNAME_MAX 20
#define VALID_EMAIL_MAX 254
#define VALID_PASSWORD_MIN 8
#define VALID_PASSWORD_MAX 128
#define VALID_NAME_MAX 50
#define VALID_REQUEST_ID_MAX 64

int valid_username(const char *s, size_t n);	/* 3-20 of [A-Za-z0-9_-] */
int valid_email(const char *s, size_t n);	/* practical RFC 5321 subset, <= 254 */
int valid_password(const char *s, size_t n);	/* 8-128 code points, no control chars but tab */
int valid_name(const char *s, size_t n);	/* <= 50 code points, no control chars */
/* YYYY-MM-DD, a real calendar date strictly before today (UTC). */
int valid_past_date(const char *s, size_t n);
/* Same, against a given today (days since the epoch), for tests. */
int valid_past_date_at(const char *s, size_t n, int64_t today_days);
/* Client-supplied request id: 1-64 of [A-Za-z0-9._:-]. */
int valid_request_id(const char *s, size_t n);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t valid_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
