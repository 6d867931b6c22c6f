/*
 * users.h: the user management service: statement indices, handlers, and
 * the small pieces the handlers share.
 */
#ifndef ESM_USERS_H
#define ESM_USERS_H

#include <cjson/cJSON.h>
#include "db.h"
#include "json.h"
#include "http.h"
#include "idem.h"
#include "ratelimit.h"
#include "route.h"

/* The topic of the events this service writes into its outbox. */
#define USERS_TOPIC "user-registration-events"

enum users_stmt {
	US_RATE,
	US_RATE_PURGE,
	US_OUTBOX,
	US_OUTBOX_COUNT,
	US_TAKEN,
	US_INSERT,
	US_GET,
	US_DELETE,
	US_CREDENTIALS,
	US_WORKER_METRICS,
	US_LOCK,
	US_SET_PASSWORD,
	US_SET_ROLE,
	US_TOKEN_NEW,
	US_TOKEN_USE,
	US_TOKENS_VOID,
	US_RESET_REQUEST,
	US_VERIFY,
	US_IDEM_LOOKUP,
	US_IDEM_SAVE,
	US_IDEM_PURGE,
	US_COUNT_
};

extern const struct db_stmt users_stmts[US_COUNT_];
/* Idempotency-Key statements of registration (idem.h). */
extern const struct idem_stmts users_idem;
extern const struct route users_routes[];
extern const size_t users_nroutes;

/* Configuration read once at start by users_init. */
struct users_cfg {
	struct rate register_rate;
	struct rate password_rate;	/* password changes per user */
	struct rate validate_rate;	/* internal credential checks per username */
	struct rate reset_rate;		/* reset requests and confirmations per address */
	struct rate reset_email_rate;	/* reset mails per address asked for */
	int reset_ttl_s, verify_ttl_s;	/* lifetimes of the mailed tokens */
	const char *internal_url;	/* auth's internal listener, for revocation */
};
extern struct users_cfg users_cfg;
int users_init(void);

int users_h_register(struct http_req *r);
int users_h_get(struct http_req *r);
int users_h_delete(struct http_req *r);
int users_h_validate(struct http_req *r);
int users_h_internal_get(struct http_req *r);
int users_h_password(struct http_req *r);
int users_h_role(struct http_req *r);
int users_h_reset(struct http_req *r);
int users_h_reset_confirm(struct http_req *r);
int users_h_verify(struct http_req *r);

/* In the caller's transaction: a new email verification token for user id
 * (username, email) and the email_verification_requested event that mails
 * it. A db_status. */
int users_verification_add(const struct http_req *r, const char *id, const char *username,
    const char *email);

/* Ends every session of user id at the token service (its refresh tokens
 * and, within a second everywhere, its access tokens). 0, or -1 (logged)
 * when that did not happen. */
int users_revoke_sessions(const struct http_req *r, int64_t id);

/* Field tables of the JSON routes (also used by the fuzzers). */
extern const struct json_field users_register_fields[], users_validate_fields[],
    users_password_fields[], users_role_fields[], users_reset_fields[],
    users_reset_confirm_fields[], users_verify_fields[];
extern const size_t users_register_nfields, users_validate_nfields, users_password_nfields,
    users_role_nfields, users_reset_nfields, users_reset_confirm_nfields, users_verify_nfields;

/* Columns of USERS_COLS (see routes.c). */
#define USERS_NCOLS 10
/* Appends the public user object of one row of USERS_COLS to b: col[i] is
 * column i as text, NULL for SQL NULL (only firstName, lastName and
 * dateOfBirth may be). 0, or -1 on ENOMEM or a row that cannot be one
 * (missing or bad id, missing mandatory column). Pure. */
int users_user_write(buf_t *b, const char *const col[USERS_NCOLS]) ESM_WUR;
/* The same object as a cJSON tree, from a row of res. NULL on ENOMEM. */
cJSON *users_row_json(const db_res *res, int row);

#endif
