/*
 * json.c: the strict reader and field tables of json.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_STR_(x) #x
#define JSON_STR(x) JSON_STR_(x)

/* One open object or array during the pre-scan. */
struct json_level {
	int object;		/* 1 for an object, 0 for an array */
	size_t commas;		/* members so far, less one */
};

/* Checks the string that starts after the quote at s[*pos - 1] and moves
 * *pos past its closing quote: valid UTF-8, no raw control characters, no
 * \u0000. Runs of plain ASCII, nearly all of any body, cost one comparison
 * chain a byte. 0, or -1 with *why. */
static int
json_scan_string(const char *s, size_t n, size_t *pos, const char **why)
{
	size_t i = *pos, len;
	unsigned char c;

	for (;;) {
		while (i < n && (c = (unsigned char)s[i]) >= 0x20 && c < 0x80 &&
		    c != '"' && c != '\\')
			i++;
		if (i >= n) {
			*why = "malformed JSON";
			return -1;
		}
		c = (unsigned char)s[i];
		if (c == '"') {
			*pos = i + 1;
			return 0;
		}
		if (c == '\\') {
			if (i + 1 >= n) {
				*why = "malformed JSON";
				return -1;
			}
			if (s[i + 1] == 'u' && i + 5 < n && strncmp(s + i + 2, "0000", 4) == 0) {
				*why = "NUL character in a JSON string";
				return -1;
			}
			/* Skip the escaped character unless it starts a UTF-8
			 * sequence (cJSON refuses that escape anyway). */
			i += (unsigned char)s[i + 1] < 0x80 ? 2 : 1;
			continue;
		}
		if (c < 0x20) {
			*why = "control character in a JSON string";
			return -1;
		}
		if ((len = util_utf8_seq(s + i, n - i)) == 0) {
			*why = "body is not valid UTF-8";
			return -1;
		}
		i += len;
	}
}

/* 1 for the characters of numbers and literals (true, false, null). */
static int
json_scalar_byte(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    c == '-' || c == '+' || c == '.';
}

/* A number's text, s[0..n), as cJSON will keep it: a double. Refused when
 * the double would not be the number written: out of range (1e999 would
 * become infinity, printed as null; 1e-999 would become 0), or an integer
 * beyond 2^53 - 1, where neighbours share a double (9007199254740993 would
 * read back as ...992). Malformed text is left to cJSON. Cheap: strtod runs
 * only for an exponent of three or more digits, since a text of at most
 * JSON_NUMBER_MAX characters with a smaller exponent is always in range. */
static int
json_number_ok(const char *s, size_t n, const char **why)
{
	char buf[JSON_NUMBER_MAX + 1], *end;
	size_t digits = 0, i = s[0] == '-', e;
	double v;

	if (n > JSON_NUMBER_MAX) {
		*why = "number has more than " JSON_STR(JSON_NUMBER_MAX) " characters";
		return -1;
	}
	while (i + digits < n && s[i + digits] >= '0' && s[i + digits] <= '9')
		digits++;
	if (i + digits == n) {
		/* An integer: compare with 2^53 - 1 as text, past leading zeros
		 * (which JSON forbids, and cJSON refuses, beyond a lone 0). */
		if (digits > 16 || (digits == 16 && memcmp(s + i, "9007199254740991", 16) > 0)) {
			*why = "integer too large to be kept exactly (beyond 2^53 - 1)";
			return -1;
		}
		return 0;
	}
	for (e = i + digits; e < n && s[e] != 'e' && s[e] != 'E'; e++)
		;
	if (e == n || n - e < 4 || (n - e == 4 && (s[e + 1] == '+' || s[e + 1] == '-')))
		return 0;	/* no exponent, or one of at most two digits */
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (end == buf + n && (errno == ERANGE || !isfinite(v))) {
		*why = "number out of range";
		return -1;
	}
	return 0;
}

/* Pre-scan, one pass: encoding, string contents, nesting depth, members per
 * object, tokens. cJSON does the grammar afterwards; this refuses what cJSON
 * would let through, and what would cost too much to build, before cJSON
 * allocates anything. It counts on the text alone, so a malformed body may
 * be refused for a cap rather than as malformed: a 400 either way. */
static int
json_scan(const char *s, size_t n, int max_depth, const char **why)
{
	struct json_level lv[JSON_DEPTH_MAX + 1];
	size_t i = 0, len, tokens = 0;
	int depth = 0;
	unsigned char c;

	if (max_depth > JSON_DEPTH_MAX)
		max_depth = JSON_DEPTH_MAX;
	while (i < n) {
		c = (unsigned char)s[i++];
		switch (c) {
		case '"':
			if (json_scan_string(s, n, &i, why) == -1)
				return -1;
			tokens++;
			break;
		case '{':
		case '[':
			if (++depth > max_depth) {
				*why = "JSON nested too deeply";
				return -1;
			}
			lv[depth].object = c == '{';
			lv[depth].commas = 0;
			tokens++;
			break;
		case '}':
		case ']':
			if (depth == 0) {
				*why = "malformed JSON";
				return -1;
			}
			depth--;
			break;
		case ',':
			if (depth > 0 && lv[depth].object &&
			    ++lv[depth].commas >= JSON_MEMBERS_MAX) {
				*why = "JSON object has more than " JSON_STR(JSON_MEMBERS_MAX) " members";
				return -1;
			}
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
				i++;
			break;
		case ':':
			break;
		case '\0':
			*why = "NUL byte in body";
			return -1;
		default:
			/* A number or literal: one token however long, its
			 * characters skipped here and a number checked.
			 * Control characters are not white space in JSON
			 * (cJSON would skip them as such); anything else here
			 * is malformed, which cJSON refuses, and is one byte
			 * or UTF-8 sequence. */
			if (c < 0x20) {
				*why = "malformed JSON";
				return -1;
			}
			if (c >= 0x80) {
				if ((len = util_utf8_seq(s + i - 1, n - i + 1)) == 0) {
					*why = "body is not valid UTF-8";
					return -1;
				}
				i += len - 1;
			} else if (json_scalar_byte(c)) {
				len = i - 1;
				while (i < n && json_scalar_byte((unsigned char)s[i]))
					i++;
				if ((c == '-' || (c >= '0' && c <= '9')) &&
				    json_number_ok(s + len, i - len, why) == -1)
					return -1;
			}
			tokens++;
			break;
		}
		if (tokens > JSON_TOKENS_MAX) {
			*why = "JSON document has more than " JSON_STR(JSON_TOKENS_MAX) " tokens";
			return -1;
		}
	}
	return 0;
}

static int
json_name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Looks for two members of one name in any object of the tree: NULL when
 * there are none, else the reason. Each object's names are sorted, so the
 * cost is O(m log m) per object of m members. names has room for
 * JSON_MEMBERS_MAX and is reused object by object; json_scan has already
 * refused larger objects, and one that gets here anyway is refused too.
 * Recursion is as deep as the document, which json_scan bounded. */
static const char *
json_tree_check(const cJSON *item, const char **names)
{
	const cJSON *m;
	const char *why;
	size_t k = 0, i;

	if (cJSON_IsObject(item)) {
		for (m = item->child; m; m = m->next) {
			if (k == JSON_MEMBERS_MAX)
				return "JSON object has more than " JSON_STR(JSON_MEMBERS_MAX) " members";
			names[k++] = m->string;
		}
		qsort(names, k, sizeof(*names), json_name_cmp);
		for (i = 1; i < k; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				return "duplicate key in JSON object";
	}
	if (cJSON_IsObject(item) || cJSON_IsArray(item))
		for (m = item->child; m; m = m->next)
			if ((why = json_tree_check(m, names)) != NULL)
				return why;
	return NULL;
}

int
json_parse_strict(const char *s, size_t n, int max_depth, cJSON **out, const char **why)
{
	const char *names[JSON_MEMBERS_MAX];
	const char *end = NULL, *bad;
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
	if ((bad = json_tree_check(j, names)) != NULL) {
		cJSON_Delete(j);
		*why = bad;
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
	/* Linear in the members (at most JSON_MEMBERS_MAX) times the fields;
	 * once the list of offenders is full, the rest is not looked at. */
	for (m = obj->child; m && *nbad < JSON_BAD_MAX; m = m->next) {
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
