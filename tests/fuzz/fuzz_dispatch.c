/*
 * fuzz_dispatch.c: the whole front line of a request (route lookup, 405 and
 * Allow, content type, length, strict JSON, bearer tokens, request ids,
 * client addresses) on the real route and field tables of the user and
 * token services and the task service, with handlers that run the real
 * field checks instead of touching the database.
 *
 * Input: lines "NAME=value" (FastCGI parameters such as REQUEST_METHOD,
 * REQUEST_URI, CONTENT_TYPE, CONTENT_LENGTH, HTTP_AUTHORIZATION,
 * HTTP_X_REQUEST_ID, HTTP_X_FORWARDED_FOR, REMOTE_ADDR, SERVER_PORT), then an
 * empty line, then the body. Checked on every reply: a known status line, a
 * problem+json body that parses and names a contract error, and no header
 * value with a line break; and that a route needing a token read no byte
 * of the body unless the token was good.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fcgi/auth/auth.h"
#include "../../fcgi/tasks/tasks.h"
#include "../../fcgi/users/users.h"
#include "fake_http.h"
#include "log.h"
#include "route.h"
#include <sodium.h>

static struct token_keys keys;
static char *valid_token;	/* "Bearer @valid" in the input stands for it */

static int
check(struct http_req *r, const struct json_field *f, size_t n)
{
	const char *bad[JSON_BAD_MAX + 1] = { 0 };
	size_t nbad;

	if (r->json != NULL && !json_check_fields(r->json, f, n, bad, &nbad))
		return http_error(r, 400, "invalid fields", bad);
	return http_reply(r, 204, NULL, NULL, 0);
}

/* The handlers the route tables name, reduced to their input checks. */
int users_h_register(struct http_req *r) { return check(r, users_register_fields, users_register_nfields); }
int users_h_validate(struct http_req *r) { return check(r, users_validate_fields, users_validate_nfields); }
int users_h_get(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int users_h_delete(struct http_req *r) { return 404; }
int users_h_internal_get(struct http_req *r) { return 503; }
int users_h_password(struct http_req *r) { return check(r, users_password_fields, users_password_nfields); }
int users_h_role(struct http_req *r) { return check(r, users_role_fields, users_role_nfields); }
int users_h_reset(struct http_req *r) { return check(r, users_reset_fields, users_reset_nfields); }
int users_h_reset_confirm(struct http_req *r)
{
	return check(r, users_reset_confirm_fields, users_reset_confirm_nfields);
}
int users_h_verify(struct http_req *r) { return check(r, users_verify_fields, users_verify_nfields); }
int auth_h_login(struct http_req *r) { return check(r, auth_login_fields, auth_login_nfields); }
int auth_h_refresh(struct http_req *r) { return check(r, auth_refresh_fields, auth_refresh_nfields); }
int auth_h_logout(struct http_req *r) { return check(r, auth_refresh_fields, auth_refresh_nfields); }
int auth_h_revoke_user(struct http_req *r) { return check(r, auth_revoke_fields, auth_revoke_nfields); }
int auth_h_validate(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int auth_h_jwks(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int auth_h_revocations(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int tasks_h_create(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int tasks_h_list(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int tasks_h_get(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }
int tasks_h_cancel(struct http_req *r) { return http_reply(r, 204, NULL, NULL, 0); }

static void
verify_reply(void)
{
	static const char *const codes[] = { "BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND",
		"METHOD_NOT_ALLOWED", "CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE",
		"TOO_MANY_REQUESTS", "INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", NULL };
	const char *out = fake_io.out.p, *body, *ct;
	int status, ok = 0;

	if (out == NULL || strncmp(out, "Status: ", 8) != 0)
		abort();
	status = atoi(out + 8);
	if (status < 200 || status > 599)
		abort();
	if ((body = strstr(out, "\r\n\r\n")) == NULL)
		abort();
	/* Each header line is "Name: value\r\n": a bare CR or LF inside would
	 * be header injection. */
	for (const char *p = out; p < body; p++)
		if ((*p == '\r' && p[1] != '\n') || (*p == '\n' && p[-1] != '\r'))
			abort();
	body += 4;
	ct = strstr(out, "Content-Type: application/problem+json");
	if (status >= 400) {
		cJSON *j = cJSON_Parse(body);
		const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
		if (ct == NULL || ct > body || !cJSON_IsString(e))
			abort();
		for (int i = 0; codes[i]; i++)
			ok |= strcmp(codes[i], e->valuestring) == 0;
		if (!ok)
			abort();
		cJSON_Delete(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct route routes[64];
	static size_t nroutes;
	struct dispatch d;
	struct http_req r;
	const char *p = (const char *)data, *end = p + size;
	size_t i;

	if (nroutes == 0) {
		unsigned char seed[32] = { 1 };
		setenv("ESM_LOG_LEVEL", "critical", 1);
		log_init("fuzz");
		struct token_claims c = { .sub = 1000, .username = "fuzz", .nroles = 1,
			.roles = { "admin" }, .jti = "j", .sid = "s", .iat = 1, .exp = 4000000000LL };
		if (crypto_sign_seed_keypair(keys.pk, keys.sk, seed) != 0)
			abort();
		keys.has_sk = 1;
		valid_token = token_sign(&keys, &c);
		if (valid_token == NULL)
			abort();
		memcpy(routes, users_routes, users_nroutes * sizeof(*routes));
		memcpy(routes + users_nroutes, auth_routes, auth_nroutes * sizeof(*routes));
		nroutes = users_nroutes + auth_nroutes;
		memcpy(routes + nroutes, tasks_routes, tasks_nroutes * sizeof(*routes));
		nroutes += tasks_nroutes;
	}
	memset(&fake_io.names, 0, sizeof(fake_io.names));
	fake_io.nparams = 0;
	/* Parameters: NAME=value lines up to an empty line. */
	while (p < end && fake_io.nparams < FAKE_PARAMS) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *eq;
		size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
		if (l == 0) {
			p++;
			break;
		}
		if ((eq = memchr(p, '=', l)) != NULL && memchr(p, '\0', l) == NULL) {
			char *name = strndup(p, (size_t)(eq - p));
			char *value = strndup(eq + 1, l - (size_t)(eq + 1 - p));
			/* A signed token cannot be guessed; the input may ask for one. */
			if (strcmp(value, "Bearer @valid") == 0) {
				free(value);
				value = malloc(strlen(valid_token) + 8);
				strcpy(value, "Bearer ");
				strcat(value, valid_token);
			}
			fake_io.names[fake_io.nparams] = name;
			fake_io.values[fake_io.nparams++] = value;
		}
		p += l + (eol ? 1 : 0);
	}
	fake_io.body = p;
	fake_io.body_len = (size_t)(end - p);
	buf_reset(&fake_io.out);

	d.routes = routes;
	d.nroutes = nroutes;
	d.body_max = 65536;
	d.keys = &keys;
	d.trusted_proxies = "127.0.0.1";
	d.internal_port = "9090";
	d.internal_secret = NULL;
	d.cors_origins = "https://app.example, http://localhost:3000";
	if (http_req_open(&r, 0) == 0 && http_accept(&r) == 0) {
		route_dispatch(&d, &r);
		verify_reply();
		if (r.route != NULL && r.route->auth == RA_BEARER && r.body != NULL && !r.authed)
			abort();
		http_finish(&r);
	}
	http_req_close(&r);
	for (i = 0; i < fake_io.nparams; i++) {
		free((char *)fake_io.names[i]);
		free(fake_io.values[i]);
	}
	return 0;
}
