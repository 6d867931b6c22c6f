/*
 * h_register.c: POST /api/v1/eventstreammonitor/users/register.
 * Order: rate limit (cheap), fields, taken names (before the costly hash),
 * hash, then user row + user_registered event in one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "event.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "idem.h"
#include "pwhash.h"
#include "svc.h"
#include "users.h"
#include "valid.h"

struct users_cfg users_cfg;

int
users_init(void)
{
	users_cfg.register_rate = ratelimit_cfg("ESM_RATE_REGISTER", "5/60");
	users_cfg.password_rate = ratelimit_cfg("ESM_RATE_PASSWORD", "5/900");
	users_cfg.validate_rate = ratelimit_cfg("ESM_RATE_VALIDATE", "60/60");
	users_cfg.reset_rate = ratelimit_cfg("ESM_RATE_RESET", "10/900");
	users_cfg.reset_email_rate = ratelimit_cfg("ESM_RATE_RESET_EMAIL", "3/3600");
	users_cfg.reset_ttl_s = (int)cfg_int("ESM_RESET_TTL_S", 3600, 300, 86400);
	users_cfg.verify_ttl_s = (int)cfg_int("ESM_VERIFY_TTL_S", 2 * 86400, 3600, 30 * 86400);
	users_cfg.internal_url = cfg_str("ESM_INTERNAL_URL",
	    cfg_str("ESM_USERS_INTERNAL_URL", "http://127.0.0.1:9090"));
	if (pwhash_init((size_t)cfg_int("ESM_ARGON2_MEMLIMIT_KIB", PWHASH_MIN_MEM_KIB,
	    PWHASH_MIN_MEM_KIB, 4 * 1024 * 1024),
	    (unsigned)cfg_int("ESM_ARGON2_OPSLIMIT", PWHASH_MIN_OPS, PWHASH_MIN_OPS, 64)) == -1) {
		log_crit("cannot initialise password hashing");
		return -1;
	}
	return 0;
}

/* Both names free? 0 when free, 409 (replied) when taken, else replied
 * error. Taken by this request's own first try under its key (committed
 * since idem_begin looked): that answer again. */
static int
check_taken(struct http_req *r, const char *username, const char *email, struct idem *idem)
{
	const char *p[2] = { username, email };
	const char *params[3] = { NULL, NULL, NULL };
	db_res *res = NULL;
	int rc, n = 0;

	if ((rc = db_exec(svc_db(), US_TAKEN, p, 2, &res)) != DB_OK)
		return svc_db_error(r, rc);
	if (strcmp(db_get(res, 0, 0), "t") == 0)
		params[n++] = "username";
	if (strcmp(db_get(res, 0, 1), "t") == 0)
		params[n++] = "email";
	db_res_free(res);
	if (n == 0)
		return 0;
	if (idem->on && (rc = idem_begin(r, svc_db(), &users_idem, idem->scope, idem)) != 0)
		return rc;
	return http_error(r, 409, n == 2 ? "username and email are already registered" :
	    params[0][0] == 'u' ? "username is already taken" : "email is already registered", params);
}

static cJSON *
registered_event(const struct http_req *r, const cJSON *user, char event_id[37])
{
	static const char *const copy[] = { "userId", "username", "email", "firstName", "lastName" };
	cJSON *ev = event_new("user_registered", "usermanagement", r->rid, event_id);
	size_t i;

	for (i = 0; ev && i < ESM_NELEM(copy); i++) {
		cJSON *v = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(user, copy[i]), 0);
		if (v == NULL || !cJSON_AddItemToObject(ev, copy[i], v)) {
			cJSON_Delete(v);
			cJSON_Delete(ev);
			return NULL;
		}
	}
	return ev;
}

/* Inserts the user and its event; replies 201 or an error. */
static int
insert_user(struct http_req *r, const char *const p[6], struct idem *idem)
{
	const char *taken[2] = { NULL, NULL };
	cJSON *user = NULL, *ev = NULL, *root = NULL;
	db_res *res = NULL;
	char event_id[37], key[24], location[96], *text = NULL;
	int rc, status;

	if ((rc = db_begin(svc_db())) != DB_OK)
		return svc_db_error(r, rc);
	if ((rc = db_exec(svc_db(), US_INSERT, p, 6, &res)) != DB_OK) {
		db_rollback(svc_db());
		if (rc == DB_CONFLICT) {
			/* Lost a race: with a concurrent registration, or with
			 * this one's retry under the same key, which now replays. */
			if (idem->on && (status = idem_begin(r, svc_db(), &users_idem, idem->scope,
			    idem)) != 0)
				return status;
			taken[0] = "username";
			return http_error(r, 409, "username or email is already registered", taken);
		}
		return svc_db_error(r, rc);
	}
	if ((user = users_row_json(res, 0)) == NULL ||
	    (ev = registered_event(r, user, event_id)) == NULL) {
		status = http_error(r, 500, NULL, NULL);
		goto fail;
	}
	snprintf(key, sizeof(key), "%s", db_get(res, 0, 0));
	snprintf(location, sizeof(location), "/api/v1/eventstreammonitor/users/%s", key);
	if ((root = cJSON_CreateObject()) == NULL || !cJSON_AddItemToObject(root, "user", user)) {
		status = http_error(r, 500, NULL, NULL);
		goto fail;
	}
	user = NULL;
	if ((text = cJSON_PrintUnformatted(root)) == NULL) {
		status = http_error(r, 500, NULL, NULL);
		goto fail;
	}
	if ((rc = event_outbox_add(svc_db(), US_OUTBOX, USERS_TOPIC, key, ev,
	    event_id, r->rid)) != DB_OK ||
	    (rc = users_verification_add(r, key, db_get(res, 0, 1), db_get(res, 0, 2))) != DB_OK ||
	    (rc = idem_save(svc_db(), &users_idem, idem, 201, location, text)) != DB_OK ||
	    (rc = db_commit(svc_db())) != DB_OK) {
		db_rollback(svc_db());
		if (rc == DB_CONFLICT && idem->on &&
		    (status = idem_begin(r, svc_db(), &users_idem, idem->scope, idem)) != 0)
			goto out;
		status = svc_db_error(r, rc);
		goto out;
	}
	metrics_add(MC_EVENTS_WRITTEN, 1);
	log_info("user %s registered", key);
	if (http_header_add(r, "Location", "%s", location) == -1)
		status = http_error(r, 500, NULL, NULL);
	else
		status = http_reply(r, 201, "application/json", text, strlen(text));
	goto out;
fail:
	db_rollback(svc_db());
out:
	cJSON_free(text);
	cJSON_Delete(root);
	cJSON_Delete(user);
	cJSON_Delete(ev);
	db_res_free(res);
	return status;
}

int
users_h_register(struct http_req *r)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	const char *p[6];
	char bucket[96], hash[PWHASH_STR_LEN];
	struct idem idem;
	size_t nbad;
	int rc, retry;

	/* A retry of a registration that succeeded gets its answer again,
	 * before anything else is counted or checked. */
	snprintf(bucket, sizeof(bucket), "register:%s", r->client);
	if ((rc = idem_begin(r, svc_db(), &users_idem, bucket, &idem)) != 0)
		return rc;
	rc = ratelimit_hit(svc_db(), US_RATE, US_RATE_PURGE, bucket, &users_cfg.register_rate, &retry);
	if (rc < 0)
		return svc_db_error(r, rc);
	if (rc == 1) {
		metrics_add(MC_RATE_LIMITED, 1);
		return http_error_ex(r, 429, "too many registrations from this address", NULL, retry);
	}
	if (!json_check_fields(r->json, users_register_fields, users_register_nfields, bad, &nbad))
		return http_error(r, 400, "invalid, missing or unknown fields", bad);
	p[0] = json_str(r->json, "username");
	p[1] = json_str(r->json, "email");
	if ((rc = check_taken(r, p[0], p[1], &idem)) != 0)
		return rc;
	if (pwhash_hash(json_str(r->json, "password"), strlen(json_str(r->json, "password")), hash) == -1) {
		log_error("password hashing failed");
		return http_error(r, 500, NULL, NULL);
	}
	p[2] = hash;
	p[3] = json_str(r->json, "firstName");
	p[4] = json_str(r->json, "lastName");
	p[5] = json_str(r->json, "dateOfBirth");
	return insert_user(r, p, &idem);
}
