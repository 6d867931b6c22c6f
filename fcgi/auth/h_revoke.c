/*
 * h_revoke.c: revoked sessions. The token service records them
 * (revoked_sessions) and hands them to every service's list (revoke.h):
 * through GET /internal/v1/auth/revocations, and to its own processes
 * straight from its database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "log.h"
#include "query.h"
#include "revoke.h"
#include "svc.h"

int
auth_revoke(const char *family, int64_t user_id)
{
	char keep[16], uid[24];
	const char *p[2] = { family, keep };
	int rc;

	snprintf(keep, sizeof(keep), "%d", auth_cfg.revoke_keep_s);
	if (family == NULL) {
		snprintf(uid, sizeof(uid), "%lld", (long long)user_id);
		p[0] = uid;
	}
	rc = db_exec(svc_db(), family != NULL ? AS_REVOKE_FAMILY : AS_REVOKE_USER, p, 2, NULL);
	if (rc != DB_OK)
		log_error("revoking %s %s failed", family != NULL ? "session" : "the sessions of user", p[0]);
	else if (db_exec(svc_db(), AS_REVOKE_PURGE, NULL, 0, NULL) != DB_OK)
		log_warn("forgetting expired revocations failed");
	return rc;
}

int
auth_h_revoke_user(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	int64_t id = 0;
	size_t nbad;
	int rc;

	if (!json_check_fields(r->json, auth_revoke_fields, auth_revoke_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	if (!json_int(r->json, "userId", &id))
		return http_error(r, 400, "userId is required", NULL);
	if ((rc = auth_revoke(NULL, id)) != DB_OK)
		return svc_db_error(r, rc);
	return http_reply(r, 204, NULL, NULL, 0);
}

/* One page of revocations from since_us: add(sid, until) for each, the
 * next start in *upto_us, *more when the page is full. A db_status. */
static int
read_page(int64_t since_us, int (*add)(void *, const char *, int64_t), void *arg,
    int64_t *upto_us, int *more)
{
	char since[24];
	const char *p[1] = { since };
	db_res *res = NULL;
	int64_t until, at;
	int i, n, rc;

	snprintf(since, sizeof(since), "%lld", (long long)since_us);
	if ((rc = db_exec(svc_db(), AS_REVOKED_SINCE, p, 1, &res)) != DB_OK)
		return rc;
	rc = DB_ERROR;
	n = db_nrows(res);
	if (n < 1 || util_parse_i64(db_get(res, 0, 0), 0, INT64_MAX, upto_us) == -1)
		goto out;
	for (i = 0; i < n && !db_isnull(res, i, 1); i++) {
		if (util_parse_i64(db_get(res, i, 2), 0, INT64_MAX, &until) == -1 ||
		    util_parse_i64(db_get(res, i, 3), 0, INT64_MAX, &at) == -1 ||
		    add(arg, db_get(res, i, 1), until) == -1)
			goto out;
	}
	*more = n == AUTH_REVOKED_PAGE;
	if (*more)
		*upto_us = at;
	rc = DB_OK;
out:
	db_res_free(res);
	return rc;
}

static int
add_to_list(void *arg, const char *sid, int64_t until)
{
	(void)arg;
	return revoke_add(sid, until);
}

int
auth_revocations_source(int64_t since_us, int64_t *upto_us, int *more)
{
	return read_page(since_us, add_to_list, NULL, upto_us, more) == DB_OK ? 0 : -1;
}

static int
add_to_json(void *arg, const char *sid, int64_t until)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(arg, o)) {
		cJSON_Delete(o);
		return -1;
	}
	return cJSON_AddStringToObject(o, "sid", sid) == NULL ||
	    cJSON_AddNumberToObject(o, "until", (double)until) == NULL ? -1 : 0;
}

/* GET /internal/v1/auth/revocations?since=US: {"revoked":[{"sid","until"}],
 * "upto","more"}; since 0 or absent: every revocation still in force. */
int
auth_h_revocations(struct http_req *r)
{
	static const char *const names[] = { "since" };
	char v[1][QUERY_VAL_MAX + 1], bad[QUERY_VAL_MAX + 1];
	const char *badp[2] = { "since", NULL };
	cJSON *root = cJSON_CreateObject(), *list;
	int64_t since = 0, upto = 0;
	int have[1], more = 0, rc;

	if (root == NULL || (list = cJSON_AddArrayToObject(root, "revoked")) == NULL) {
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	if (query_parse(r->query, names, 1, v, have, bad) == -1 ||
	    (have[0] && util_parse_i64(v[0], 0, INT64_MAX, &since) == -1)) {
		cJSON_Delete(root);
		return http_error(r, 400, "invalid query parameter", badp);
	}
	if ((rc = read_page(since, add_to_json, list, &upto, &more)) != DB_OK) {
		cJSON_Delete(root);
		return rc == DB_ERROR ? http_error(r, 500, NULL, NULL) : svc_db_error(r, rc);
	}
	if (cJSON_AddNumberToObject(root, "upto", (double)upto) == NULL ||
	    cJSON_AddBoolToObject(root, "more", more) == NULL) {
		cJSON_Delete(root);
		return http_error(r, 500, NULL, NULL);
	}
	rc = http_reply_json(r, 200, root);
	cJSON_Delete(root);
	return rc;
}
