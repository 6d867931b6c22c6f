/*
 * token.c: Ed25519 JWTs, their key files, the JWK Set and refresh token
 * hashes. Verification trusts nothing before the signature: it checks the
 * shape and the pinned header, then the signature, and only then reads the
 * claims; a kid must name a key of the set, and that key alone is tried.
 * Loading keys from anywhere but files, and reloading them while running,
 * are left out: a service reads its keys once, at start.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include "token.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define TOKEN_MAX_LEN 4096		/* far above what token_sign makes */
#define JTI_MAX (sizeof(((struct token_claims *)0)->jti) - 1)
#define SID_MAX (sizeof(((struct token_claims *)0)->sid) - 1)
#define KEYFILE_MAX 256			/* a key file is one base64url line */
#define TIME_MAX 9007199254740992.0	/* 2^53: integral doubles stay exact */

/* Decodes all of s[0..n) as unpadded base64url into out (at most max bytes).
 * libsodium refuses non-zero trailing bits, so each value has one spelling,
 * but 1.0.18 reads any byte >= 0x80 as '_': the alphabet is checked here. */
static int
b64_decode(const char *s, size_t n, unsigned char *out, size_t max, size_t *outlen)
{
	const char *end = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return -1;
	if (sodium_base642bin(out, max, s, n, NULL, outlen, &end, B64) != 0 || end != s + n)
		return -1;
	return 0;
}

/* base64url of in[0..n) appended to b. */
static int
b64_append(buf_t *b, const unsigned char *in, size_t n)
{
	size_t elen = sodium_base64_ENCODED_LEN(n, B64);
	char *tmp;
	int rc;

	if ((tmp = malloc(elen)) == NULL)
		return -1;
	sodium_bin2base64(tmp, elen, in, n, B64);
	rc = buf_append(b, tmp, elen - 1);
	free(tmp);
	return rc;
}

/* Length of s if it is a NUL-terminated string of 1..max bytes, else 0.
 * Bounded, so a claims struct that was never terminated cannot overrun. */
static size_t
str_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	return n > max ? 0 : n;
}

/* The claims token_sign may sign: exactly what token_verify accepts. */
static int
claims_ok(const struct token_claims *c)
{
	int i;

	if (c->sub <= 0 || c->nroles < 0 || c->nroles > TOKEN_ROLES_MAX ||
	    !str_ok(c->username, TOKEN_USERNAME_MAX) || !str_ok(c->jti, JTI_MAX) ||
	    !str_ok(c->sid, SID_MAX) || c->iat < 0 || c->exp < 0 ||
	    c->iat > (int64_t)TIME_MAX || c->exp > (int64_t)TIME_MAX)
		return 0;
	for (i = 0; i < c->nroles; i++)
		if (!str_ok(c->roles[i], TOKEN_ROLE_LEN))
			return 0;
	return 1;
}

static void
make_kid(const unsigned char pk[32], char kid[24])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, 32);
	sodium_bin2base64(kid, 24, h, 12, B64);
}

char *
token_sign(const struct token_keys *k, const struct token_claims *c)
{
	cJSON *hdr = NULL, *pl = NULL, *roles = NULL;
	char *hs = NULL, *ps = NULL, *res = NULL, sub[24];
	unsigned char sig[crypto_sign_BYTES];
	buf_t b = { 0 };
	int i;

	if (sodium_init() < 0 || !k->has_sk || !claims_ok(c))
		goto out;
	snprintf(sub, sizeof(sub), "%lld", (long long)c->sub);
	if ((hdr = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(hdr, "alg", "EdDSA") == NULL ||
	    cJSON_AddStringToObject(hdr, "typ", "JWT") == NULL ||
	    cJSON_AddStringToObject(hdr, "kid", k->kid) == NULL)
		goto out;
	if ((pl = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(pl, "sub", sub) == NULL ||
	    cJSON_AddStringToObject(pl, "username", c->username) == NULL ||
	    (roles = cJSON_AddArrayToObject(pl, "roles")) == NULL)
		goto out;
	for (i = 0; i < c->nroles; i++) {
		cJSON *r = cJSON_CreateString(c->roles[i]);

		if (r == NULL || !cJSON_AddItemToArray(roles, r)) {
			cJSON_Delete(r);
			goto out;
		}
	}
	if (cJSON_AddStringToObject(pl, "jti", c->jti) == NULL ||
	    cJSON_AddStringToObject(pl, "sid", c->sid) == NULL ||
	    cJSON_AddNumberToObject(pl, "iat", (double)c->iat) == NULL ||
	    cJSON_AddNumberToObject(pl, "exp", (double)c->exp) == NULL)
		goto out;
	if ((hs = cJSON_PrintUnformatted(hdr)) == NULL || (ps = cJSON_PrintUnformatted(pl)) == NULL)
		goto out;
	if (b64_append(&b, (const unsigned char *)hs, strlen(hs)) != 0 || buf_puts(&b, ".") != 0 ||
	    b64_append(&b, (const unsigned char *)ps, strlen(ps)) != 0)
		goto out;
	crypto_sign_detached(sig, NULL, (const unsigned char *)b.p, b.len, k->sk);
	if (buf_puts(&b, ".") != 0 || b64_append(&b, sig, sizeof(sig)) != 0)
		goto out;
	res = b.p;
	b.p = NULL;
out:
	buf_free(&b);
	free(ps);
	free(hs);
	cJSON_Delete(pl);
	cJSON_Delete(hdr);
	return res;
}

/* Parses p[0..n) as one JSON object and nothing else. An embedded NUL would
 * make cJSON stop early and ignore the rest, so it is refused first. */
static cJSON *
json_object(unsigned char *p, size_t n)
{
	cJSON *o;

	p[n] = '\0';
	if (memchr(p, '\0', n) != NULL)
		return NULL;
	if ((o = cJSON_ParseWithOpts((const char *)p, NULL, 1)) != NULL && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

/* The header is read before the signature is checked, so it may only say
 * what we sign: alg EdDSA, optionally typ JWT and a string kid. Refusing
 * anything else (crit, jku, x5u, a repeated alg) leaves nothing to exploit.
 * A kid, when given, is returned in *kid (else NULL): it must name a key. */
static int
header_ok(const cJSON *h, const char **kid)
{
	const cJSON *it;
	int alg = 0;

	cJSON_ArrayForEach(it, h) {
		if (it != cJSON_GetObjectItemCaseSensitive(h, it->string))
			return 0;	/* repeated: other parsers may keep the last */
		if (strcmp(it->string, "alg") == 0)
			alg = cJSON_IsString(it) && strcmp(it->valuestring, "EdDSA") == 0;
		else if (strcmp(it->string, "typ") == 0) {
			if (!cJSON_IsString(it) || strcmp(it->valuestring, "JWT") != 0)
				return 0;
		} else if (strcmp(it->string, "kid") != 0 || !cJSON_IsString(it))
			return 0;
		else
			*kid = it->valuestring;
	}
	return alg;
}

/* String member of 1..max bytes copied into dst, else -1. */
static int
get_str(const cJSON *o, const char *name, char *dst, size_t max)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t n;

	if (!cJSON_IsString(it) || (n = str_ok(it->valuestring, max)) == 0)
		return -1;
	memcpy(dst, it->valuestring, n + 1);
	return 0;
}

/* Whole-second time in [0, 2^53], so the double converts exactly. */
static int
get_time(const cJSON *o, const char *name, int64_t *t)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (!cJSON_IsNumber(it))
		return -1;
	d = it->valuedouble;
	if (!(d >= 0 && d <= TIME_MAX) || d != (double)(int64_t)d)
		return -1;
	*t = (int64_t)d;
	return 0;
}

static int
claims_parse(const cJSON *p, struct token_claims *c)
{
	const cJSON *roles, *r;
	char sub[24];

	/* sub is a string (RFC 7519 StringOrURI) holding a canonical positive
	 * decimal: no sign, no leading zero, so one user has one spelling. */
	if (get_str(p, "sub", sub, sizeof(sub) - 1) != 0 || sub[0] < '1' || sub[0] > '9' ||
	    util_parse_i64(sub, 1, INT64_MAX, &c->sub) != 0)
		return -1;
	if (get_str(p, "username", c->username, TOKEN_USERNAME_MAX) != 0 ||
	    get_str(p, "jti", c->jti, JTI_MAX) != 0 || get_str(p, "sid", c->sid, SID_MAX) != 0 ||
	    get_time(p, "iat", &c->iat) != 0 || get_time(p, "exp", &c->exp) != 0)
		return -1;
	/* nbf is optional (we never set it), but honoured when present. */
	c->nbf = 0;
	if (cJSON_GetObjectItemCaseSensitive(p, "nbf") != NULL && get_time(p, "nbf", &c->nbf) != 0)
		return -1;
	roles = cJSON_GetObjectItemCaseSensitive(p, "roles");
	if (!cJSON_IsArray(roles) || cJSON_GetArraySize(roles) > TOKEN_ROLES_MAX)
		return -1;
	c->nroles = 0;
	cJSON_ArrayForEach(r, roles) {
		size_t n;

		if (!cJSON_IsString(r) || (n = str_ok(r->valuestring, TOKEN_ROLE_LEN)) == 0)
			return -1;
		memcpy(c->roles[c->nroles++], r->valuestring, n + 1);
	}
	return 0;
}

/* The public key of k that kid names, the current one when kid is NULL (a
 * token from before rotation, or from elsewhere: RFC 7515 makes kid
 * optional); NULL when k has no such key. */
static const unsigned char *
key_for(const struct token_keys *k, const char *kid)
{
	int i;

	if (kid == NULL || strcmp(kid, k->kid) == 0)
		return k->pk;
	for (i = 0; i < k->nprevious && i < TOKEN_PREVIOUS_MAX; i++)
		if (strcmp(kid, k->previous[i].kid) == 0)
			return k->previous[i].pk;
	return NULL;
}

/* 1 when claims are valid at now, give or take leeway_s (>= 0). exp, iat
 * and nbf are at most 2^53, so now +- leeway is the only sum that could
 * overflow; a clock that far off is a caller bug. */
static int
claims_current(const struct token_claims *c, int64_t now, int leeway_s)
{
	return c->exp > now - leeway_s && c->iat <= now + leeway_s && c->nbf <= now + leeway_s;
}

enum token_result
token_verify(const struct token_keys *k, const char *jwt, size_t len, int64_t now,
    int leeway_s, struct token_claims *out)
{
	enum token_result res = TOKEN_MALFORMED;
	const char *d1, *d2;
	size_t hlen, plen, slen, hn, pn, n;
	unsigned char hb[TOKEN_MAX_LEN], pb[TOKEN_MAX_LEN], sig[crypto_sign_BYTES];
	cJSON *hdr = NULL, *pl = NULL;
	struct token_claims c;
	const char *kid = NULL;
	const unsigned char *pk;

	memset(&c, 0, sizeof(c));
	if (jwt == NULL || len == 0 || len > TOKEN_MAX_LEN || sodium_init() < 0)
		goto out;
	if ((d1 = memchr(jwt, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - jwt))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - jwt)) != NULL)
		goto out;
	hlen = (size_t)(d1 - jwt);
	plen = (size_t)(d2 - d1 - 1);
	slen = len - (size_t)(d2 + 1 - jwt);

	/* All three parts must be strict base64url before anything is parsed. */
	if (b64_decode(jwt, hlen, hb, sizeof(hb) - 1, &hn) != 0 ||
	    b64_decode(d1 + 1, plen, pb, sizeof(pb) - 1, &pn) != 0 ||
	    b64_decode(d2 + 1, slen, sig, sizeof(sig), &n) != 0 || n != sizeof(sig))
		goto out;
	if ((hdr = json_object(hb, hn)) == NULL || !header_ok(hdr, &kid))
		goto out;
	/* A key id we do not have: not signed by our keys, whatever it is. Only
	 * the key named is tried, so a retired key never counts again. */
	if ((pk = key_for(k, kid)) == NULL) {
		res = TOKEN_BAD_SIGNATURE;
		goto out;
	}
	if (crypto_sign_verify_detached(sig, (const unsigned char *)jwt, (size_t)(d2 - jwt), pk) != 0) {
		res = TOKEN_BAD_SIGNATURE;
		goto out;
	}
	if ((pl = json_object(pb, pn)) == NULL || claims_parse(pl, &c) != 0)
		goto out;
	if (leeway_s < 0)
		leeway_s = 0;
	if (!claims_current(&c, now, leeway_s)) {
		res = TOKEN_EXPIRED;
		goto out;
	}
	*out = c;
	res = TOKEN_OK;
out:
	cJSON_Delete(pl);
	cJSON_Delete(hdr);
	return res;
}

int
token_has_role(const struct token_claims *c, const char *role)
{
	int i;

	if (role == NULL)
		return 0;
	for (i = 0; i < c->nroles && i < TOKEN_ROLES_MAX; i++)
		if (strncmp(c->roles[i], role, sizeof(c->roles[i])) == 0)
			return 1;
	return 0;
}

/* Appends the JWK of one public key to the array keys. 0 / -1. */
static int
jwk_add(cJSON *keys, const unsigned char pk[32], const char *kid)
{
	char x[sodium_base64_ENCODED_LEN(32, B64)];
	cJSON *jwk;

	sodium_bin2base64(x, sizeof(x), pk, 32, B64);
	if ((jwk = cJSON_CreateObject()) == NULL)
		return -1;
	if (!cJSON_AddItemToArray(keys, jwk)) {
		cJSON_Delete(jwk);
		return -1;
	}
	if (cJSON_AddStringToObject(jwk, "kty", "OKP") == NULL ||
	    cJSON_AddStringToObject(jwk, "crv", "Ed25519") == NULL ||
	    cJSON_AddStringToObject(jwk, "x", x) == NULL ||
	    cJSON_AddStringToObject(jwk, "kid", kid) == NULL ||
	    cJSON_AddStringToObject(jwk, "alg", "EdDSA") == NULL ||
	    cJSON_AddStringToObject(jwk, "use", "sig") == NULL)
		return -1;
	return 0;
}

char *
token_jwks(const struct token_keys *k)
{
	cJSON *set = NULL, *keys;
	char *res = NULL;
	int i;

	if ((set = cJSON_CreateObject()) == NULL ||
	    (keys = cJSON_AddArrayToObject(set, "keys")) == NULL ||
	    jwk_add(keys, k->pk, k->kid) != 0)
		goto out;
	for (i = 0; i < k->nprevious && i < TOKEN_PREVIOUS_MAX; i++)
		if (jwk_add(keys, k->previous[i].pk, k->previous[i].kid) != 0)
			goto out;
	res = cJSON_PrintUnformatted(set);
out:
	cJSON_Delete(set);
	return res;
}

/* Writes data to dir/name with mode through a temporary file and rename, so
 * a crash never leaves a half-written key under the real name. */
static int
write_atomic(const char *dir, const char *name, const char *data, size_t n, mode_t mode)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd = -1, rc = -1, saved;

	if ((size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= sizeof(dst) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* mkstemp creates 0600, so the secret is never readable by others,
	 * not even for a moment. */
	if ((fd = mkstemp(tmp)) < 0)
		return -1;
	if (fchmod(fd, mode) != 0 || write(fd, data, n) != (ssize_t)n || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, dst) != 0)
		goto out;
	rc = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlink(tmp);
	errno = saved;
	return rc;
}

int
token_keygen(const char *dir)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
	char pks[sodium_base64_ENCODED_LEN(sizeof(pk), B64) + 1];
	char sks[sodium_base64_ENCODED_LEN(sizeof(sk), B64) + 1];
	char path[PATH_MAX];
	struct stat st;
	int rc = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/ed25519.key", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (lstat(path, &st) == 0)
		return 0;
	if (errno != ENOENT || sodium_init() < 0)
		return -1;
	crypto_sign_keypair(pk, sk);
	sodium_bin2base64(pks, sizeof(pks), pk, sizeof(pk), B64);
	sodium_bin2base64(sks, sizeof(sks), sk, sizeof(sk), B64);
	strcat(pks, "\n");
	strcat(sks, "\n");
	/* The public key goes first: an existing secret key is what makes keygen
	 * a no-op, so it must only appear once its public half is in place. Run
	 * once per directory at deploy time; concurrent runs are not supported. */
	if (write_atomic(dir, "ed25519.pub", pks, strlen(pks), 0644) != 0 ||
	    write_atomic(dir, "ed25519.key", sks, strlen(sks), 0600) != 0)
		goto out;
	rc = 0;
out:
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(sks, sizeof(sks));
	return rc;
}

/* Reads a key file of one base64url line (one trailing newline allowed) and
 * decodes exactly n bytes into out. secret: refuse group/other access. */
static int
read_key(const char *path, unsigned char *out, size_t n, int secret)
{
	char text[KEYFILE_MAX + 1];
	struct stat st;
	ssize_t got;
	size_t len, dlen;
	int fd, rc = -1, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return -1;
	if (fstat(fd, &st) != 0)
		goto out;
	errno = EINVAL;
	if (!S_ISREG(st.st_mode))
		goto out;
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		errno = EACCES;
		goto out;
	}
	if ((got = read(fd, text, sizeof(text))) < 0)
		goto out;
	errno = EINVAL;
	len = (size_t)got;
	if (len > KEYFILE_MAX)
		goto out;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (b64_decode(text, len, out, n, &dlen) != 0 || dlen != n)
		goto out;
	rc = 0;
out:
	saved = errno;
	sodium_memzero(text, sizeof(text));
	close(fd);
	errno = saved;
	return rc;
}

int
token_keys_load(struct token_keys *k, const char *pk_path, const char *sk_path)
{
	unsigned char derived[crypto_sign_PUBLICKEYBYTES];
	int rc = -1;

	memset(k, 0, sizeof(*k));
	if (sodium_init() < 0 || read_key(pk_path, k->pk, sizeof(k->pk), 0) != 0)
		goto out;
	if (sk_path != NULL) {
		if (read_key(sk_path, k->sk, sizeof(k->sk), 1) != 0)
			goto out;
		/* A secret key that does not match the published public key would
		 * sign tokens nobody can verify; better to refuse to start. */
		crypto_sign_ed25519_sk_to_pk(derived, k->sk);
		if (sodium_memcmp(derived, k->pk, sizeof(derived)) != 0) {
			errno = EINVAL;
			goto out;
		}
		k->has_sk = 1;
	}
	make_kid(k->pk, k->kid);
	rc = 0;
out:
	if (rc != 0)
		sodium_memzero(k, sizeof(*k));
	return rc;
}

int
token_keys_load_previous(struct token_keys *k, const char *list)
{
	char path[PATH_MAX];
	struct token_pub p;
	const char *s = list, *e;
	size_t n;

	if (list == NULL || *list == '\0')
		return 0;
	if (sodium_init() < 0)
		return -1;
	for (;;) {
		e = strchr(s, ',');
		n = e != NULL ? (size_t)(e - s) : strlen(s);
		if (n == 0 || n >= sizeof(path)) {
			errno = n == 0 ? EINVAL : ENAMETOOLONG;
			return -1;
		}
		memcpy(path, s, n);
		path[n] = '\0';
		if (read_key(path, p.pk, sizeof(p.pk), 0) != 0)
			return -1;
		make_kid(p.pk, p.kid);
		/* A key the set has already (the current one, during a rollout
		 * over several hosts) verifies as it is: listed once. */
		if (key_for(k, p.kid) == NULL) {
			if (k->nprevious >= TOKEN_PREVIOUS_MAX) {
				errno = E2BIG;
				return -1;
			}
			k->previous[k->nprevious++] = p;
		}
		if (e == NULL)
			return 0;
		s = e + 1;
	}
}

int
token_refresh_new(char out[TOKEN_REFRESH_LEN + 1], char hash_hex[65])
{
	unsigned char raw[32];

	if (sodium_init() < 0)
		return -1;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, TOKEN_REFRESH_LEN + 1, raw, sizeof(raw), B64);
	sodium_memzero(raw, sizeof(raw));
	return token_refresh_hash(out, TOKEN_REFRESH_LEN, hash_hex);
}

int
token_refresh_hash(const char *tok, size_t len, char hash_hex[65])
{
	unsigned char raw[32], h[crypto_hash_sha256_BYTES];
	size_t n;

	/* Decoding checks length, alphabet and the unused low bits in one go;
	 * the hash is over the text as presented, which is then canonical. */
	if (tok == NULL || len != TOKEN_REFRESH_LEN ||
	    b64_decode(tok, len, raw, sizeof(raw), &n) != 0 || n != sizeof(raw))
		return -1;
	sodium_memzero(raw, sizeof(raw));
	crypto_hash_sha256(h, (const unsigned char *)tok, len);
	sodium_bin2hex(hash_hex, 65, h, sizeof(h));
	return 0;
}

/* A prefork process sees the same few tokens again and again (a client
 * keeps its access token for 15 minutes), and Ed25519 verification is the
 * costliest step of an authenticated request. Verified claims are kept in a
 * small direct-mapped table keyed by BLAKE2b-128 of every public key of the
 * set and the token, so a set without the key that signed (a retired key)
 * never finds the entry; the time window is checked again on every hit.
 * Only verified tokens are stored, so a forged token always takes the full
 * path. */
#define TOKEN_CACHE_SLOTS 64

static struct {
	unsigned char h[16];
	int used;
	struct token_claims c;
} token_cache[TOKEN_CACHE_SLOTS];

/* BLAKE2b-128 of the set's public keys, in order, and the token. 0 / -1. */
static int
cache_key(const struct token_keys *k, const char *jwt, size_t len, unsigned char h[16])
{
	crypto_generichash_state st;
	int i;

	if (crypto_generichash_init(&st, NULL, 0, 16) != 0 ||
	    crypto_generichash_update(&st, k->pk, sizeof(k->pk)) != 0)
		return -1;
	for (i = 0; i < k->nprevious && i < TOKEN_PREVIOUS_MAX; i++)
		if (crypto_generichash_update(&st, k->previous[i].pk, sizeof(k->previous[i].pk)) != 0)
			return -1;
	if (crypto_generichash_update(&st, (const unsigned char *)jwt, len) != 0 ||
	    crypto_generichash_final(&st, h, 16) != 0)
		return -1;
	return 0;
}

enum token_result
token_verify_cached(const struct token_keys *k, const char *jwt, size_t len, int64_t now,
    int leeway_s, struct token_claims *out)
{
	unsigned char h[16];
	enum token_result res;
	size_t slot;

	if (jwt == NULL || len == 0 || len > TOKEN_MAX_LEN || sodium_init() < 0)
		return TOKEN_MALFORMED;
	if (leeway_s < 0)
		leeway_s = 0;
	if (cache_key(k, jwt, len, h) != 0)
		return token_verify(k, jwt, len, now, leeway_s, out);
	slot = h[0] % TOKEN_CACHE_SLOTS;
	if (token_cache[slot].used && sodium_memcmp(token_cache[slot].h, h, sizeof(h)) == 0) {
		const struct token_claims *c = &token_cache[slot].c;
		if (!claims_current(c, now, leeway_s))
			return TOKEN_EXPIRED;
		*out = *c;
		return TOKEN_OK;
	}
	res = token_verify(k, jwt, len, now, leeway_s, out);
	if (res == TOKEN_OK) {
		memcpy(token_cache[slot].h, h, sizeof(h));
		token_cache[slot].c = *out;
		token_cache[slot].used = 1;
	}
	return res;
}
