/*
 * h_validate.c: GET /auth/validate and the JWK Set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "json.h"
#include "svc.h"

int
auth_h_validate(struct http_req *r)
{
	char ts[UTIL_TS_LEN];
	cJSON *root = cJSON_CreateObject(), *roles;
	int i, rc;

	util_ts_format(r->auth.exp * 1000000, ts);
	if (root == NULL || cJSON_AddBoolToObject(root, "valid", 1) == NULL ||
	    cJSON_AddNumberToObject(root, "userId", (double)r->auth.sub) == NULL ||
	    cJSON_AddStringToObject(root, "username", r->auth.username) == NULL ||
	    (roles = cJSON_AddArrayToObject(root, "roles")) == NULL ||
	    cJSON_AddStringToObject(root, "expiresAt", ts) == NULL)
		goto fail;
	for (i = 0; i < r->auth.nroles; i++)
		if (!cJSON_AddItemToArray(roles, cJSON_CreateString(r->auth.roles[i])))
			goto fail;
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
fail:
	cJSON_Delete(root);
	return http_error(r, 500, NULL, NULL);
}

int
auth_h_jwks(struct http_req *r)
{
	char *s = token_jwks(svc_keys());
	int rc;

	if (s == NULL)
		return http_error(r, 500, NULL, NULL);
	rc = http_reply(r, 200, "application/json", s, strlen(s));
	free(s);
	return rc;
}
