/*
 * json.c: the strict reader and field tables of json.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* Pre-scan: structure depth, string contents, encoding. cJSON does the
 * grammar afterwards; this only refuses what cJSON would let through. */
static int
json_scan(const char *s, size_t n, int max_depth, const char **why)
{
	int depth = 0, in_str = 0;
	size_t i;

	if (!util_utf8_valid(s, n)) {
		*why = "body is not valid UTF-8";
		return -1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (in_str) {
			if (c == '"')
				in_str = 0;
			else if (c < 0x20) {
				*why = "control character in a JSON string";
				return -1;
			} else if (c == '\\') {
				if (i + 1 >= n) {
					*why = "malformed JSON";
					return -1;
				}
				if (s[i + 1] == 'u' && i + 5 < n &&
				    strncmp(s + i + 2, "0000", 4) == 0) {
					*why = "NUL character in a JSON string";
					return -1;
				}
				i++;	/* skip the escaped character */
			}
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[') {
			if (++depth > max_depth) {
				*why = "JSON nested too deeply";
				return -1;
			}
		} else if (c == '}' || c == ']')
			depth--;
		else if (c == '\0') {
			*why = "NUL byte in body";
			return -1;
		}
	}
	return 0;
}

static int
json_has_dup(const cJSON *item)
{
	const cJSON *a, *b;

	if (cJSON_IsObject(item)) {
		for (a = item->child; a; a = a->next)
			for (b = a->next; b; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return 1;
	}
	if (cJSON_IsObject(item) || cJSON_IsArray(item))
		for (a = item->child; a; a = a->next)
			if (json_has_dup(a))
				return 1;
	return 0;
}

int
json_parse_strict(const char *s, size_t n, int max_depth, cJSON **out, const char **why)
{
	const char *end = NULL;
	cJSON *j;

	*out = NULL;
	if (n == 0) {
		*why = "request body is empty";
		return -1;
	}
	if (json_scan(s, n, max_depth, why) == -1)
		return -1;
	j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
	if (j == NULL) {
		*why = "malformed JSON";
		return -1;
	}
	/* cJSON stops after the first value; only white space may follow. */
	while (end != NULL && (size_t)(end - s) < n &&
	    (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
		end++;
	if (end == NULL || (size_t)(end - s) != n) {
		cJSON_Delete(j);
		*why = "unexpected data after the JSON value";
		return -1;
	}
	if (json_has_dup(j)) {
		cJSON_Delete(j);
		*why = "duplicate key in JSON object";
		return -1;
	}
	*out = j;
	return 0;
}

static void
json_bad(const char *bad[JSON_BAD_MAX], size_t *nbad, const char *name)
{
	size_t i;

	for (i = 0; i < *nbad; i++)
		if (strcmp(bad[i], name) == 0)
			return;
	if (*nbad < JSON_BAD_MAX)
		bad[(*nbad)++] = name;
}

static int
json_field_ok(const cJSON *v, const struct json_field *f)
{
	size_t len, cps;

	switch (f->type) {
	case JT_STRING_OR_NULL:
		if (cJSON_IsNull(v))
			return 1;
		/* FALLTHROUGH */
	case JT_STRING:
		if (!cJSON_IsString(v) || v->valuestring == NULL)
			return 0;
		len = strlen(v->valuestring);
		/* Escapes can decode to a lone surrogate: refuse it here. */
		if (!util_utf8_valid(v->valuestring, len))
			return 0;
		cps = util_utf8_count(v->valuestring, len);
		if (cps < f->minlen || (f->maxlen && cps > f->maxlen))
			return 0;
		return f->check ? f->check(v->valuestring, len) : 1;
	case JT_INT:
		if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
		    v->valuedouble != floor(v->valuedouble) ||
		    fabs(v->valuedouble) > 9007199254740991.0)
			return 0;
		return (int64_t)v->valuedouble >= f->imin && (int64_t)v->valuedouble <= f->imax;
	case JT_OBJECT:
		return cJSON_IsObject(v);
	case JT_BOOL:
		return cJSON_IsBool(v);
	}
	return 0;
}

int
json_check_fields(const cJSON *obj, const struct json_field *fields, size_t n,
    const char *bad[JSON_BAD_MAX], size_t *nbad)
{
	const cJSON *m;
	size_t i;

	*nbad = 0;
	if (!cJSON_IsObject(obj))
		return 0;
	for (m = obj->child; m; m = m->next) {
		for (i = 0; i < n; i++)
			if (strcmp(m->string, fields[i].name) == 0)
				break;
		if (i == n)
			json_bad(bad, nbad, m->string);
		else if (!json_field_ok(m, &fields[i]))
			json_bad(bad, nbad, fields[i].name);
	}
	for (i = 0; i < n; i++)
		if (fields[i].required && cJSON_GetObjectItemCaseSensitive(obj, fields[i].name) == NULL)
			json_bad(bad, nbad, fields[i].name);
	return *nbad == 0;
}

const char *
json_str(const cJSON *obj, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
json_int(const cJSON *obj, const char *name, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsNumber(v))
		return 0;
	*out = (int64_t)v->valuedouble;
	return 1;
}

int
json_print_to(buf_t *b, const cJSON *item)
{
	char *s = cJSON_PrintUnformatted(item);
	int rc;

	if (s == NULL)
		return -1;
	rc = buf_puts(b, s);
	cJSON_free(s);
	return rc;
}
