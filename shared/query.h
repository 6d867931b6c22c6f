/*
 * query.h: query strings of GET endpoints: form decoding, a strict parse
 * against the names a route accepts, and the paging arguments and answer
 * every list shares. Pure functions.
 */
#ifndef ESM_QUERY_H
#define ESM_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "util.h"

#define QUERY_VAL_MAX 64	/* decoded bytes of one value */

/* Decodes s[0..n) (%XX and '+') into out, which holds size bytes with the
 * NUL. 0, or -1 on a bad escape, overflow, or anything but clean UTF-8 text
 * (NUL and control characters refused). */
int query_decode(const char *s, size_t n, char *out, size_t size) ESM_WUR;

/* Parses "a=1&b=x%20y" against the allowed names[0..n): vals[i] and have[i]
 * for each name given. 0, or -1 with the offending name in bad (unknown,
 * repeated, no value, or a value that does not decode or is longer than
 * QUERY_VAL_MAX), "" when the name itself does not decode. Empty pairs
 * ("a=1&&b=2") are tolerated. */
int query_parse(const char *q, const char *const *names, size_t n,
    char vals[][QUERY_VAL_MAX + 1], int *have, char bad[QUERY_VAL_MAX + 1]) ESM_WUR;

/* limit (1..max, default def) and offset (0..offmax, default 0) from their
 * decoded values (NULL when absent). 0, or -1 with *bad = "limit"/"offset". */
int query_paging(const char *limit, const char *offset, int64_t def, int64_t max,
    int64_t offmax, int64_t *lim, int64_t *off, const char **bad) ESM_WUR;

/* {"total","limit","offset","hasMore"} appended to b; 0 / -1 (ENOMEM).
 * query_pagination_json is the same object as a tree; NULL on ENOMEM. */
int query_pagination_write(buf_t *b, int64_t total, int64_t limit, int64_t offset) ESM_WUR;
cJSON *query_pagination_json(int64_t total, int64_t limit, int64_t offset);

#endif
