/*
 * h_internal.c: the internal listener's user endpoints, used by the auth
 * service: credential validation (the original system's gRPC
 * ValidateUserCredentials) and a user lookup for token refresh.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "log.h"
#include "pwhash.h"
#include "svc.h"
#include "users.h"
#include "valid.h"

static int
reply_identity(struct http_req *r, int valid, const char *id, const char *username,
    const char *role, const char *verified)
{
	cJSON *root = cJSON_CreateObject(), *roles;
	int64_t uid = 0;
	int rc;

	if (root == NULL)
		return http_error(r, 500, NULL, NULL);
	if (valid && util_parse_i64(id, 1, INT64_MAX, &uid) == -1)
		valid = 0;
	if ((valid ? cJSON_AddNumberToObject(root, "userId", (double)uid)
		   : cJSON_AddNullToObject(root, "userId")) == NULL ||
	    cJSON_AddBoolToObject(root, "isValid", valid) == NULL)
		goto fail;
	if (valid) {
		if (cJSON_AddStringToObject(root, "username", username) == NULL ||
		    cJSON_AddBoolToObject(root, "emailVerified", verified != NULL &&
		    strcmp(verified, "t") == 0) == NULL ||
		    (roles = cJSON_AddArrayToObject(root, "roles")) == NULL)
			goto fail;
		if (!cJSON_AddItemToArray(roles, cJSON_CreateString("user")))
			goto fail;
		if (strcmp(role, "admin") == 0 &&
		    !cJSON_AddItemToArray(roles, cJSON_CreateString("admin")))
			goto fail;
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
fail:
	cJSON_Delete(root);
	return http_error(r, 500, NULL, NULL);
}

int
users_h_validate(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *p[1], *pw;
	db_res *res = NULL;
	size_t nbad;
	int rc, ok;

	if (!json_check_fields(r->json, users_validate_fields, users_validate_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	p[0] = json_str(r->json, "username");
	pw = json_str(r->json, "password");
	/* A name the registration rules refuse is nobody's, however lower()
	 * would fold it (U+212A, the Kelvin sign, into k): one hash, as for an
	 * unknown user, and no. */
	if (!valid_username(p[0], strlen(p[0]))) {
		(void)pwhash_verify(NULL, pw, strlen(pw));
		return reply_identity(r, 0, NULL, NULL, NULL, NULL);
	}
	/* Checks of one username are limited here as well, whoever asks:
	 * a caller with the internal secret is still not a free oracle. */
	{
		char bucket[96];
		size_t i, n = (size_t)snprintf(bucket, sizeof(bucket), "validate:%s", p[0]);
		int retry;

		for (i = 0; i < n && i < sizeof(bucket); i++)
			bucket[i] = (char)((bucket[i] >= 'A' && bucket[i] <= 'Z') ? bucket[i] + 32 : bucket[i]);
		rc = ratelimit_hit(svc_db(), US_RATE, US_RATE_PURGE, bucket, &users_cfg.validate_rate,
		    &retry);
		if (rc < 0)
			return svc_db_error(r, rc);
		if (rc == 1)
			return http_error_ex(r, 429, "too many credential checks for this user", NULL,
			    retry);
	}
	if ((rc = db_exec(svc_db(), US_CREDENTIALS, p, 1, &res)) != DB_OK)
		return svc_db_error(r, rc);
	/* An unknown user costs one hash too, so timing tells nothing. */
	ok = pwhash_verify(db_nrows(res) ? db_get(res, 0, 1) : NULL, pw, strlen(pw));
	rc = reply_identity(r, ok && db_nrows(res) == 1, db_get(res, 0, 0), db_get(res, 0, 2),
	    db_get(res, 0, 3), db_get(res, 0, 4));
	db_res_free(res);
	return rc;
}

int
users_h_internal_get(struct http_req *r)
{
	const char *p[1] = { r->pv[0] };
	db_res *res = NULL;
	int rc;

	if ((rc = db_exec(svc_db(), US_GET, p, 1, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 0)
		rc = http_error(r, 404, "no such user", NULL);
	else
		rc = reply_identity(r, 1, db_get(res, 0, 0), db_get(res, 0, 1), db_get(res, 0, 8),
		    db_get(res, 0, 9));
	db_res_free(res);
	return rc;
}
