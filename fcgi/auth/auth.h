/*
 * auth.h: the token service: statement indices, configuration, handlers.
 */
#ifndef ESM_AUTH_H
#define ESM_AUTH_H

#include "db.h"
#include "json.h"
#include "http.h"
#include "ratelimit.h"
#include "route.h"
#include "token.h"

enum auth_stmt {
	AS_RATE,
	AS_RATE_PURGE,
	AS_INSERT,
	AS_ROTATE,
	AS_LOOKUP,
	AS_REVOKE_FAMILY,
	AS_REVOKE,
	AS_REVOKE_USER,
	AS_REVOKE_PURGE,
	AS_REVOKED_SINCE,
	AS_FAIL_WAIT,
	AS_FAIL_NOTE,
	AS_FAIL_CLEAR,
	AS_COUNT_
};

extern const struct db_stmt auth_stmts[AS_COUNT_];
extern const struct route auth_routes[];
extern const size_t auth_nroutes;

struct auth_cfg {
	struct rate login_addr_rate;
	/* Failed logins per username and address: limit failures go free,
	 * then each further one doubles a wait from 1 s up to window_s, after
	 * which failures are forgotten. A success forgets them at once. */
	struct rate login_fail;
	int access_ttl_s, refresh_ttl_s;
	int refresh_max_s;		/* a login's refresh family ends this long after it began */
	const char *users_url;		/* internal listener base URL */
	int require_verified;		/* login only with a verified email address */
	int revoke_keep_s;		/* a revoked session is listed this long */
};
extern struct auth_cfg auth_cfg;
int auth_init(void);

int auth_h_login(struct http_req *r);
int auth_h_refresh(struct http_req *r);
int auth_h_logout(struct http_req *r);
int auth_h_validate(struct http_req *r);
int auth_h_jwks(struct http_req *r);
int auth_h_revoke_user(struct http_req *r);
int auth_h_revocations(struct http_req *r);

/* Revoked sessions per page of GET /internal/v1/auth/revocations. */
#define AUTH_REVOKED_PAGE 1000
/* Revokes the session family, or when family is NULL every session of
 * user_id that may still have a valid access token. A db_status (failures
 * are logged, not answered). */
int auth_revoke(const char *family, int64_t user_id);
/* The token service's own source of revoked sessions (revoke.h): its
 * database. */
int auth_revocations_source(int64_t since_us, int64_t *upto_us, int *more);

/* Field tables of the JSON routes (also used by the fuzzers). */
extern const struct json_field auth_login_fields[], auth_refresh_fields[], auth_revoke_fields[];
extern const size_t auth_login_nfields, auth_refresh_nfields, auth_revoke_nfields;

/* Issues an access token for c (sub, username, roles set; jti, iat, exp are
 * filled here) and a refresh token in family (a UUID), inside the caller's
 * transaction when one is open. Returns 0 with the token pair object in *out
 * (the caller replies with it after committing, then frees it), or the
 * status of the error already replied. */
int auth_issue(struct http_req *r, struct token_claims *c, const char *family, cJSON **out);

/* Parses the users service's identity answer {"userId","isValid","username",
 * "roles","emailVerified"} into c and *verified (1 when emailVerified is
 * absent: an older user service). 1 when valid, 0 when isValid is false, -1 when the
 * answer is malformed. Pure. */
int auth_parse_identity(const char *json, size_t len, struct token_claims *c, int *verified);

#endif
