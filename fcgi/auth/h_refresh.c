/*
 * h_refresh.c: POST /auth/refresh (rotation with reuse detection) and
 * POST /auth/logout. A refresh token works once; presenting a rotated one
 * again means it was stolen or replayed, so its whole family is revoked.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "client.h"
#include "json.h"
#include "log.h"
#include "svc.h"

/* After a failed rotation: was it a replay of a rotated token? */
static int
refused(struct http_req *r, const char *hash)
{
	const char *p[1] = { hash };
	db_res *res = NULL;

	if (db_exec(svc_db(), AS_LOOKUP, p, 1, &res) == DB_OK && db_nrows(res) == 1 &&
	    strcmp(db_get(res, 0, 1), "t") == 0) {
		log_warn("refresh token reuse detected: family revoked");
		(void)auth_revoke(db_get(res, 0, 0), 0);
	}
	db_res_free(res);
	return http_error(r, 401, "invalid refresh token", NULL);
}

/* The user's current identity from the user service: 1 found, 0 gone,
 * -1 unavailable. */
static int
current_identity(const struct http_req *r, const char *uid, struct token_claims *c)
{
	char url[512];
	buf_t resp = { 0 };
	long status = 0;
	int rc = -1, verified;

	snprintf(url, sizeof(url), "%s/internal/v1/users/%s", auth_cfg.users_url, uid);
	if (client_call("GET", url, NULL, r->rid, 3000, &status, &resp) == 0) {
		if (status == 404)
			rc = 0;
		else if (status == 200)
			rc = auth_parse_identity(resp.p, resp.len, c, &verified) == 1 ? 1 : -1;
	}
	buf_free(&resp);
	return rc;
}

int
auth_h_refresh(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *tok, *p[2];
	struct token_claims c;
	char hash[65], family[37], uid[24], max[16];
	cJSON *pair = NULL;
	db_res *res = NULL;
	size_t nbad;
	int rc, who;

	if (!json_check_fields(r->json, auth_refresh_fields, auth_refresh_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	tok = json_str(r->json, "refreshToken");
	if (token_refresh_hash(tok, strlen(tok), hash) == -1)
		return http_error(r, 401, "invalid refresh token", NULL);
	p[0] = hash;
	snprintf(max, sizeof(max), "%d", auth_cfg.refresh_max_s);
	p[1] = max;
	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = db_exec(svc_db(), AS_ROTATE, p, 2, &res)) != DB_OK) {
		db_rollback(svc_db());
		return svc_db_error(r, rc);
	}
	if (db_nrows(res) == 0) {
		db_res_free(res);
		db_rollback(svc_db());
		return refused(r, hash);
	}
	snprintf(family, sizeof(family), "%s", db_get(res, 0, 0));
	snprintf(uid, sizeof(uid), "%s", db_get(res, 0, 1));
	db_res_free(res);
	/* Roles may have changed and the user may be gone: ask, don't assume. */
	if ((who = current_identity(r, uid, &c)) != 1) {
		db_rollback(svc_db());
		if (who == 0) {
			(void)auth_revoke(family, 0);
			return http_error(r, 401, "invalid refresh token", NULL);
		}
		return http_error_ex(r, 503, "user service unavailable, retry shortly", NULL, 2);
	}
	if ((rc = auth_issue(r, &c, family, &pair)) != 0) {
		db_rollback(svc_db());
		return rc;
	}
	if ((rc = db_commit(svc_db())) != DB_OK) {
		cJSON_Delete(pair);
		return svc_db_error(r, rc);
	}
	rc = http_reply_json(r, 200, pair);
	cJSON_Delete(pair);
	return rc;
}

int
auth_h_logout(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *tok, *p[2];
	char hash[65], keep[16];
	size_t nbad;
	int rc;

	if (!json_check_fields(r->json, auth_refresh_fields, auth_refresh_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	tok = json_str(r->json, "refreshToken");
	/* Logging out with an unknown token is a no-op, not an oracle. A
	 * live one ends its session: its access tokens stop working too. */
	if (token_refresh_hash(tok, strlen(tok), hash) == 0) {
		p[0] = hash;
		p[1] = keep;
		snprintf(keep, sizeof(keep), "%d", auth_cfg.revoke_keep_s);
		if ((rc = db_exec(svc_db(), AS_REVOKE, p, 2, NULL)) != DB_OK)
			return svc_db_error(r, rc);
	}
	return http_reply(r, 204, NULL, NULL, 0);
}
