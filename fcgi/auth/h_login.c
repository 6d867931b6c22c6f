/*
 * h_login.c: POST /auth/login and the token issuing shared with refresh.
 * Credentials are checked by the user service's internal validate endpoint;
 * wrong username and wrong password get the same 401.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cfg.h"
#include "client.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "svc.h"
#include "valid.h"

struct auth_cfg auth_cfg;

int
auth_init(void)
{
	auth_cfg.login_addr_rate = ratelimit_cfg("ESM_RATE_LOGIN_ADDR", "30/60");
	auth_cfg.login_fail = ratelimit_cfg("ESM_RATE_LOGIN_USER", "5/900");
	auth_cfg.access_ttl_s = (int)cfg_int("ESM_ACCESS_TTL_S", 900, 60, 86400);
	auth_cfg.refresh_ttl_s = (int)cfg_int("ESM_REFRESH_TTL_S", 30 * 86400, 300, 365 * 86400);
	auth_cfg.refresh_max_s = (int)cfg_int("ESM_REFRESH_MAX_S", 90 * 86400, 300, 5 * 365 * 86400);
	/* An access token is accepted up to 30 s (the leeway) past its exp. */
	auth_cfg.revoke_keep_s = auth_cfg.access_ttl_s + 90;
	auth_cfg.require_verified = (int)cfg_int("ESM_LOGIN_REQUIRE_VERIFIED", 0, 0, 1);
	auth_cfg.users_url = cfg_str("ESM_INTERNAL_URL",
	    cfg_str("ESM_USERS_INTERNAL_URL", "http://127.0.0.1:9090"));
	return 0;
}

int
auth_parse_identity(const char *json, size_t len, struct token_claims *c, int *verified)
{
	const char *why;
	cJSON *j = NULL;
	const cJSON *v, *roles, *role;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	*verified = 1;
	if (json_parse_strict(json, len, 4, &j, &why) == -1 || !cJSON_IsObject(j))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(j, "isValid");
	if (!cJSON_IsBool(v))
		goto out;
	if (cJSON_IsFalse(v)) {
		rc = 0;
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(j, "userId");
	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 9007199254740991.0)
		goto out;
	c->sub = (int64_t)v->valuedouble;
	v = cJSON_GetObjectItemCaseSensitive(j, "username");
	if (!cJSON_IsString(v) || strlen(v->valuestring) == 0 ||
	    strlen(v->valuestring) > TOKEN_USERNAME_MAX)
		goto out;
	snprintf(c->username, sizeof(c->username), "%s", v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(j, "emailVerified");
	if (v != NULL && !cJSON_IsBool(v))
		goto out;
	*verified = v == NULL || cJSON_IsTrue(v);
	roles = cJSON_GetObjectItemCaseSensitive(j, "roles");
	if (!cJSON_IsArray(roles))
		goto out;
	cJSON_ArrayForEach(role, roles) {
		if (!cJSON_IsString(role) || c->nroles >= TOKEN_ROLES_MAX ||
		    strlen(role->valuestring) == 0 || strlen(role->valuestring) > TOKEN_ROLE_LEN)
			goto out;
		snprintf(c->roles[c->nroles++], TOKEN_ROLE_LEN + 1, "%s", role->valuestring);
	}
	rc = 1;
out:
	cJSON_Delete(j);
	return rc;
}

int
auth_issue(struct http_req *r, struct token_claims *c, const char *family, cJSON **out)
{
	char refresh[TOKEN_REFRESH_LEN + 1], hash[65], uid[24], ttl[16];
	const char *p[5];
	char max[16];
	cJSON *root = NULL;
	char *jwt = NULL;
	int rc;

	util_uuid4(c->jti);
	snprintf(c->sid, sizeof(c->sid), "%s", family);
	c->iat = util_now_us() / 1000000;
	c->exp = c->iat + auth_cfg.access_ttl_s;
	if ((jwt = token_sign(svc_keys(), c)) == NULL || token_refresh_new(refresh, hash) == -1) {
		rc = http_error(r, 500, NULL, NULL);
		goto out;
	}
	snprintf(uid, sizeof(uid), "%lld", (long long)c->sub);
	snprintf(ttl, sizeof(ttl), "%d", auth_cfg.refresh_ttl_s);
	p[0] = hash;
	p[1] = family;
	p[2] = uid;
	p[3] = ttl;
	snprintf(max, sizeof(max), "%d", auth_cfg.refresh_max_s);
	p[4] = max;
	if ((rc = db_exec(svc_db(), AS_INSERT, p, 5, NULL)) != DB_OK) {
		rc = svc_db_error(r, rc);
		goto out;
	}
	if ((root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "accessToken", jwt) == NULL ||
	    cJSON_AddStringToObject(root, "tokenType", "Bearer") == NULL ||
	    cJSON_AddNumberToObject(root, "expiresIn", auth_cfg.access_ttl_s) == NULL ||
	    cJSON_AddStringToObject(root, "refreshToken", refresh) == NULL) {
		rc = http_error(r, 500, NULL, NULL);
		goto out;
	}
	*out = root;	/* the caller replies after its commit */
	root = NULL;
	rc = 0;
out:
	cJSON_Delete(root);
	free(jwt);
	return rc;
}

/* Attempts per address are counted before the (costly) credential check. */
static int
login_addr_limited(struct http_req *r)
{
	char bucket[320];
	int rc, retry;

	snprintf(bucket, sizeof(bucket), "login-addr:%s", r->client);
	rc = ratelimit_hit(svc_db(), AS_RATE, AS_RATE_PURGE, bucket, &auth_cfg.login_addr_rate, &retry);
	if (rc < 0)
		return svc_db_error(r, rc);
	if (rc == 1) {
		metrics_add(MC_RATE_LIMITED, 1);
		return http_error_ex(r, 429, "too many login attempts, retry later", NULL, retry);
	}
	return 0;
}

/* The failure bucket of a username (valid by the registration rules, so
 * ASCII, and lowercased as the user service compares it) from this
 * address: failures elsewhere never make a user wait. */
static void
login_fail_bucket(const struct http_req *r, const char *username, char *bucket, size_t len)
{
	size_t i, n = (size_t)snprintf(bucket, len, "login-fail:%s@", username);

	for (i = 0; i < n && i < len; i++)
		bucket[i] = (char)tolower((unsigned char)bucket[i]);
	snprintf(bucket + strlen(bucket), len - strlen(bucket), "%s", r->client);
}

/* 429 while this username and address wait after their failures. */
static int
login_fail_waiting(struct http_req *r, const char *bucket)
{
	char free_s[16], max_s[16];
	const char *p[3] = { bucket, free_s, max_s };
	db_res *res = NULL;
	int64_t wait = 0;
	int rc;

	if (auth_cfg.login_fail.limit == 0)
		return 0;
	snprintf(free_s, sizeof(free_s), "%d", auth_cfg.login_fail.limit);
	snprintf(max_s, sizeof(max_s), "%d", auth_cfg.login_fail.window_s);
	if ((rc = db_exec(svc_db(), AS_FAIL_WAIT, p, 3, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (db_nrows(res) == 1 && util_parse_i64(db_get(res, 0, 0), 0, 86400, &wait) == -1)
		wait = 1;
	db_res_free(res);
	if (wait <= 0)
		return 0;
	metrics_add(MC_RATE_LIMITED, 1);
	return http_error_ex(r, 429, "too many failed logins, retry later", NULL, (int)wait);
}

/* Counts a failure (ok 0) or forgets them all (ok 1). A database error
 * here is logged, not answered: the login's own answer stands. */
static void
login_fail_record(const char *bucket, int ok)
{
	char max_s[16];
	const char *p[2] = { bucket, max_s };

	if (auth_cfg.login_fail.limit == 0)
		return;
	snprintf(max_s, sizeof(max_s), "%d", auth_cfg.login_fail.window_s);
	if (db_exec(svc_db(), ok ? AS_FAIL_CLEAR : AS_FAIL_NOTE, p, ok ? 1 : 2, NULL) != DB_OK)
		log_warn("recording a login %s failed", ok ? "success" : "failure");
}

int
auth_h_login(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	struct token_claims c;
	cJSON *pair = NULL;
	char url[512], family[37], bucket[320];
	const char *username;
	buf_t body = { 0 }, resp = { 0 };
	long status = 0;
	size_t nbad;
	int rc, verified;

	if (!json_check_fields(r->json, auth_login_fields, auth_login_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	if ((rc = login_addr_limited(r)) != 0)
		return rc;
	/* No account has a name the registration rules refuse: such a name
	 * (Kelvin sign for K, say, which the database's lower() would fold
	 * into another user's) is wrong without asking anyone. */
	username = json_str(r->json, "username");
	if (!valid_username(username, strlen(username)))
		return http_error(r, 401, "invalid username or password", NULL);
	login_fail_bucket(r, username, bucket, sizeof(bucket));
	if ((rc = login_fail_waiting(r, bucket)) != 0)
		return rc;
	snprintf(url, sizeof(url), "%s/internal/v1/users/validate", auth_cfg.users_url);
	if (json_print_to(&body, r->json) == -1) {
		rc = http_error(r, 500, NULL, NULL);
		goto out;
	}
	if (client_call("POST", url, body.p, r->rid, 5000, &status, &resp) == -1 || status != 200) {
		/* The user service limits checks per username as well. */
		if (status == 429) {
			metrics_add(MC_RATE_LIMITED, 1);
			rc = http_error_ex(r, 429, "too many login attempts, retry later", NULL, 60);
			goto out;
		}
		log_error("credential check failed: status %ld", status);
		rc = http_error_ex(r, 503, "credential check unavailable, retry shortly", NULL, 2);
		goto out;
	}
	if ((rc = auth_parse_identity(resp.p, resp.len, &c, &verified)) != 1) {
		if (rc == -1)
			log_error("credential check answered malformed JSON");
		else
			login_fail_record(bucket, 0);
		rc = rc == 0 ? http_error(r, 401, "invalid username or password", NULL)
			     : http_error(r, 500, NULL, NULL);
		goto out;
	}
	login_fail_record(bucket, 1);
	if (auth_cfg.require_verified && !verified) {
		rc = http_error(r, 403, "email address not verified", NULL);
		goto out;
	}
	util_uuid4(family);
	if ((rc = auth_issue(r, &c, family, &pair)) == 0)
		rc = http_reply_json(r, 200, pair);
out:
	/* The forwarded body holds the password. */
	if (body.p != NULL)
		explicit_bzero(body.p, body.cap);
	buf_free(&body);
	buf_free(&resp);
	cJSON_Delete(pair);
	return rc;
}
