/*
 * fuzz_json.c: the strict JSON reader and every JSON route's field table,
 * plus the auth service's reading of the user service's identity answers.
 * Any input must either be refused or pass checks that leave every string
 * valid UTF-8 without NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fcgi/auth/auth.h"
#include "../../fcgi/users/users.h"
#include "json.h"

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
	};
	const char *bad[JSON_BAD_MAX], *why = NULL;
	struct token_claims c;
	size_t nbad, i;
	cJSON *j = NULL;

	if (json_parse_strict((const char *)data, size, JSON_DEPTH_MAX, &j, &why) == 0) {
		if (j == NULL)
			abort();
		for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			if (json_check_fields(j, tables[i].f, *tables[i].n, bad, &nbad))
				strings_sane(j);
		cJSON_Delete(j);
	} else if (why == NULL || j != NULL)
		abort();
	(void)auth_parse_identity((const char *)data, size, &c);
	return 0;
}
