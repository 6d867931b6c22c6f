/*
 * fuzz_json.c: the strict JSON reader and every JSON route's field table,
 * plus the auth service's reading of the user service's identity answers.
 * Any input must either be refused or pass checks that leave every string
 * valid UTF-8 without NUL. Plain quadratic oracles check the reader's
 * promises: what it accepts has no duplicate name and keeps within the
 * member and token caps, holds only finite numbers, and what it calls a
 * duplicate is one.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fcgi/auth/auth.h"
#include "../../fcgi/users/users.h"
#include "json.h"
#include "revoke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
strings_sane(const cJSON *j)
{
	const cJSON *c;

	if (cJSON_IsString(j) && !util_utf8_valid(j->valuestring, strlen(j->valuestring)))
		abort();
	if (j->string && !util_utf8_valid(j->string, strlen(j->string)))
		abort();
	for (c = j->child; c; c = c->next)
		strings_sane(c);
}

/* 1 when every number of the tree is finite. */
static int
finite_numbers(const cJSON *j)
{
	const cJSON *c;

	if (cJSON_IsNumber(j) && !isfinite(j->valuedouble))
		return 0;
	for (c = j->child; c; c = c->next)
		if (!finite_numbers(c))
			return 0;
	return 1;
}

/* 1 when some object of the tree has two members of one name. */
static int
has_dup(const cJSON *j)
{
	const cJSON *a, *b;

	for (a = j->child; a; a = a->next) {
		if (cJSON_IsObject(j))
			for (b = a->next; b; b = b->next)
				if (strcmp(a->string, b->string) == 0)
					return 1;
		if (has_dup(a))
			return 1;
	}
	return 0;
}

/* Tokens of the tree (values and member names); the largest object's
 * member count goes to *members. */
static size_t
tokens(const cJSON *j, size_t *members)
{
	const cJSON *c;
	size_t t = 1, m = 0;

	for (c = j->child; c; c = c->next) {
		t += tokens(c, members);
		if (cJSON_IsObject(j)) {
			t++;
			m++;
		}
	}
	if (m > *members)
		*members = m;
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const struct json_field *f;
		const size_t *n;
	} tables[] = {
		{ users_register_fields, &users_register_nfields },
		{ users_validate_fields, &users_validate_nfields },
		{ auth_login_fields, &auth_login_nfields },
		{ auth_refresh_fields, &auth_refresh_nfields },
		{ auth_revoke_fields, &auth_revoke_nfields },
		{ users_password_fields, &users_password_nfields },
		{ users_role_fields, &users_role_nfields },
	};
	const char *bad[JSON_BAD_MAX], *why = NULL;
	struct token_claims c;
	size_t nbad, i;
	cJSON *j = NULL;

	if (json_parse_strict((const char *)data, size, JSON_DEPTH_MAX, &j, &why) == 0) {
		size_t members = 0;

		if (j == NULL || has_dup(j) || !finite_numbers(j) || tokens(j, &members) > JSON_TOKENS_MAX ||
		    members > JSON_MEMBERS_MAX)
			abort();
		for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			if (json_check_fields(j, tables[i].f, *tables[i].n, bad, &nbad))
				strings_sane(j);
		cJSON_Delete(j);
	} else if (why == NULL || j != NULL)
		abort();
	else if (strcmp(why, "duplicate key in JSON object") == 0) {
		/* Only a whole, well-formed, shallow document gets this far. */
		j = cJSON_ParseWithLength((const char *)data, size);
		if (j == NULL || !has_dup(j))
			abort();
		cJSON_Delete(j);
	}
	{
		int verified;
		(void)auth_parse_identity((const char *)data, size, &c, &verified);
	}
	{
		/* The token service's list of revocations, as another service reads it. */
		int64_t upto;
		int more;

		(void)revoke_parse((const char *)data, size, &upto, &more);
		revoke_reset();
	}
	return 0;
}
