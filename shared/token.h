/*
 * token.h: access tokens (JWT, RFC 7519) signed with Ed25519 ("EdDSA") through
 * libsodium, JWK Set export, and opaque refresh tokens stored only as hashes.
 * Verification pins the algorithm: the header must say {"alg":"EdDSA"} (and
 * "typ":"JWT" if present); "none", HS* and anything else are refused.
 *
 * Key rotation: a key set is the current key (the one that signs, listed
 * first in the JWK Set) and up to TOKEN_PREVIOUS_MAX previous public keys
 * that only verify, kept until the tokens they signed have expired. A token
 * is checked with the key its header's kid names; one without a kid only
 * with the current key (token_sign always writes the kid).
 */
#ifndef ESM_TOKEN_H
#define ESM_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define TOKEN_ROLES_MAX 4
#define TOKEN_ROLE_LEN 16
#define TOKEN_USERNAME_MAX 64

#define TOKEN_PREVIOUS_MAX 3	/* previous keys a set holds besides the current one */

struct token_pub {
	unsigned char pk[32];
	char kid[24];
};

struct token_keys {
	unsigned char pk[32];		/* current Ed25519 public key */
	unsigned char sk[64];		/* its secret key, valid when has_sk */
	int has_sk;
	char kid[24];			/* key id: base64url of the first 12 bytes of SHA-256(pk) */
	struct token_pub previous[TOKEN_PREVIOUS_MAX];	/* verification only */
	int nprevious;
};

struct token_claims {
	int64_t sub;			/* user id */
	char username[TOKEN_USERNAME_MAX + 1];
	char roles[TOKEN_ROLES_MAX][TOKEN_ROLE_LEN + 1];
	int nroles;
	char jti[37];
	char sid[37];			/* session: the refresh token family the token came from */
	int64_t iat, exp;		/* seconds since the epoch */
	int64_t nbf;			/* not before (seconds), 0: none; read, never signed */
};

enum token_result {
	TOKEN_OK = 0,
	TOKEN_MALFORMED = -1,		/* not three base64url parts, bad JSON, bad alg, missing claims */
	TOKEN_BAD_SIGNATURE = -2,
	TOKEN_EXPIRED = -3		/* exp passed, or iat or nbf in the future (beyond the leeway) */
};

/* Creates a new key pair in dir: ed25519.key (0600, secret) and ed25519.pub
 * (0644), both base64url text, unless ed25519.key exists already.
 * 0 / -1 (errno kept). */
int token_keygen(const char *dir) ESM_WUR;
/* Loads the public key file and, when sk_path != NULL, the secret key file
 * (which must not be group/world readable) as the current key of a set
 * without previous keys. 0 / -1. */
int token_keys_load(struct token_keys *k, const char *pk_path, const char *sk_path) ESM_WUR;
/* Adds the public key files of the comma-separated list (NULL or "": none)
 * to k as previous, verification-only keys; a key k has already (the
 * current one too) is skipped. 0 / -1 with errno: E2BIG for more than
 * TOKEN_PREVIOUS_MAX different ones, EINVAL for an empty name or a bad file,
 * else open's; k keeps the keys added before. */
int token_keys_load_previous(struct token_keys *k, const char *list) ESM_WUR;

/* Signs claims (sub, username, roles, iat, exp, jti, sid as given) with the
 * current key, its kid in the header, into a malloc'd JWT string; NULL when
 * k has no secret key, on ENOMEM, or when the
 * claims are ones token_verify would refuse (sub <= 0, empty or unterminated
 * strings, nroles out of range). */
char *token_sign(const struct token_keys *k, const struct token_claims *c);
/* Verifies jwt[0..len) with the key of k its kid names (TOKEN_BAD_SIGNATURE
 * when none does) at time now (seconds) with leeway_s of clock skew, filling
 * *out on TOKEN_OK. Pure: no I/O, no allocation leaks. */
enum token_result token_verify(const struct token_keys *k, const char *jwt, size_t len,
    int64_t now, int leeway_s, struct token_claims *out);
/* token_verify with a small per-process cache of verified tokens: the same
 * results, faster for a token seen before (its time window is still checked
 * at now; an entry counts only for the very key set that verified it). Not
 * thread-safe: one request at a time per process. */
enum token_result token_verify_cached(const struct token_keys *k, const char *jwt, size_t len,
    int64_t now, int leeway_s, struct token_claims *out);
/* 1 when c has role, else 0. */
int token_has_role(const struct token_claims *c, const char *role);

/* JWK Set {"keys":[{"kty":"OKP","crv":"Ed25519","x":...,"kid":...,"alg":"EdDSA","use":"sig"},...]}
 * of every key in k, the current one first, as a malloc'd string; NULL on
 * ENOMEM. */
char *token_jwks(const struct token_keys *k);

/* New refresh token: 32 random bytes as base64url (43 chars + NUL) in out,
 * and its SHA-256 as 64 hex chars + NUL in hash_hex. 0 / -1. */
#define TOKEN_REFRESH_LEN 43
int token_refresh_new(char out[TOKEN_REFRESH_LEN + 1], char hash_hex[65]) ESM_WUR;
/* SHA-256 hex of a presented refresh token; -1 if its shape is wrong
 * (length or alphabet), so garbage never reaches the database. */
int token_refresh_hash(const char *tok, size_t len, char hash_hex[65]) ESM_WUR;

#endif
