/*
 * json.h: strict JSON input on top of cJSON, and the field tables that every
 * route uses to refuse what it does not expect. Strict means: valid UTF-8,
 * no raw control characters in strings, no \u0000, bounded nesting depth,
 * bounded size of each object and of the whole document, no duplicate keys,
 * nothing after the value. cJSON alone accepts all of those, so the raw text
 * is checked before it is parsed.
 *
 * Every step is linear in the body, or O(n log n) for duplicate keys (each
 * object's names are sorted), so no body within the size cap costs much more
 * than an ordinary one of its size.
 */
#ifndef ESM_JSON_H
#define ESM_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "util.h"

#define JSON_DEPTH_MAX 16
/* Members of one object. The largest object of the contract has about 20
 * (a Grafana query); task parameters are free-form, and a task with more
 * than 128 named parameters would be odd. The cap bounds what the field
 * tables, the duplicate check and cJSON's member lookups (linear in the
 * members) cost per object, and refuses the many-keys body of 64 KiB after
 * its first 129 members. */
#define JSON_MEMBERS_MAX 128
/* Tokens of one document: every value (string, number, literal, object,
 * array) and every member name. A registration has 13, a Grafana query
 * about 100, a task create with ordinary parameters a few dozen. Each token
 * is a node cJSON allocates and frees, and a number costs strtod's work on
 * top: up to about 1 us for one written to be hard to round. The cap keeps
 * the costliest 64 KiB body that passes near the cost of an ordinary login
 * (tests/bench/bench_json.sh: target 3x, measured 1.2x). */
#define JSON_TOKENS_MAX 512
/* Characters of one number. cJSON keeps numbers as doubles, which hold
 * about 17 significant digits; a longer text is padding or an attack on
 * strtod. Numbers must also survive as doubles: finite, not rounded to 0,
 * integers within 2^53 - 1 (json.c's json_number_ok). */
#define JSON_NUMBER_MAX 64

/* Parses s[0..n). On success returns 0 and *out owns the tree. On failure
 * returns -1 and *why names the problem in words fit for a client (a static
 * string). max_depth is at most JSON_DEPTH_MAX; the member and token caps
 * above apply to every document. The text is checked before cJSON sees it,
 * so a body refused by a cap costs one pass over its bytes. */
int json_parse_strict(const char *s, size_t n, int max_depth, cJSON **out,
    const char **why) ESM_WUR;

enum json_type {
	JT_STRING,
	JT_INT,		/* a JSON number that is an integer within [imin, imax] */
	JT_OBJECT,
	JT_BOOL,
	JT_STRING_OR_NULL
};

/* One expected field. check (optional) validates a string value: returns 1
 * when acceptable. maxlen counts code points (0 = no cap). */
struct json_field {
	const char *name;
	enum json_type type;
	int required;
	size_t minlen, maxlen;
	int (*check)(const char *s, size_t n);
	int64_t imin, imax;
};

#define JSON_BAD_MAX 8

/* Checks obj against fields: unknown members, missing required ones, wrong
 * types, lengths and checks. Names of offending fields (borrowed from obj or
 * fields) go to bad[0..*nbad): the first JSON_BAD_MAX found, members in
 * order, then missing fields. Returns 1 when everything is acceptable. Costs
 * members times fields string comparisons at most. */
int json_check_fields(const cJSON *obj, const struct json_field *fields, size_t n,
    const char *bad[JSON_BAD_MAX], size_t *nbad);

/* Member accessors for objects that passed json_check_fields. */
const char *json_str(const cJSON *obj, const char *name);	/* NULL when absent or null */
int json_int(const cJSON *obj, const char *name, int64_t *out);	/* 1 when present */

/* Appends a cJSON tree printed compactly; 0 / -1. */
int json_print_to(buf_t *b, const cJSON *item) ESM_WUR;

#endif
