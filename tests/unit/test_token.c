/*
 * test_token.c: JWT signing and strict verification (forged headers, bad
 * shapes, claim types and caps, time window), key files, JWKS and refresh
 * token hashes. Forged tokens are signed with the real key where possible,
 * so each refusal is due to the one thing that was changed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include "unit.h"
#include "token.h"

#define B64 sodium_base64_VARIANT_URLSAFE_NO_PADDING
#define NOW 1700000000LL
#define HDR "{\"alg\":\"EdDSA\",\"typ\":\"JWT\"}"
/* A payload that verifies at NOW; tests vary one member at a time. */
#define PL(sub, rest) "{\"sub\":" sub ",\"username\":\"alice\",\"roles\":[\"user\"]," \
	"\"jti\":\"j1\",\"sid\":\"s1\",\"iat\":1700000000,\"exp\":1700000900" rest "}"

static struct token_keys K, K2;	/* two key pairs, loaded from key files */

/* Generates a key pair in a fresh directory, loads it, removes the files. */
static void
load_fresh(struct token_keys *k)
{
	char dir[] = "/tmp/esm-token-XXXXXX", pub[64], key[64];

	CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
	snprintf(pub, sizeof(pub), "%s/ed25519.pub", dir);
	snprintf(key, sizeof(key), "%s/ed25519.key", dir);
	CU_ASSERT_FATAL(token_keygen(dir) == 0);
	CU_ASSERT_FATAL(token_keys_load(k, pub, key) == 0);
	unlink(pub);
	unlink(key);
	rmdir(dir);
}

static void
keys(void)
{
	if (!K.has_sk) {
		load_fresh(&K);
		load_fresh(&K2);
	}
}

static void
claims(struct token_claims *c)
{
	memset(c, 0, sizeof(*c));
	c->sub = 1000;
	strcpy(c->username, "alice");
	strcpy(c->roles[0], "user");
	strcpy(c->roles[1], "admin");
	c->nroles = 2;
	strcpy(c->jti, "0b7e2f4c-9d1a-4c3e-8f5a-2b6d7e8f9a0b");
	strcpy(c->sid, "5c1d0a7e-3b2f-4e6a-9c8d-1f0e2d3c4b5a");
	c->iat = NOW;
	c->exp = NOW + 900;
}

static void
b64_put(buf_t *b, const void *p, size_t n)
{
	char tmp[8192];

	CU_ASSERT_FATAL(sodium_base64_ENCODED_LEN(n, B64) <= sizeof(tmp));
	sodium_bin2base64(tmp, sizeof(tmp), p, n, B64);
	CU_ASSERT_FATAL(buf_puts(b, tmp) == 0);
}

/* Decodes part i (0..2) of a JWT into out as a string. */
static void
part(const char *jwt, int i, char *out, size_t max)
{
	const char *s = jwt, *e;
	size_t n;

	while (i-- > 0)
		s = strchr(s, '.') + 1;
	e = strchr(s, '.');
	if (e == NULL)
		e = s + strlen(s);
	CU_ASSERT_FATAL(sodium_base642bin((unsigned char *)out, max - 1, s, (size_t)(e - s),
	    NULL, &n, NULL, B64) == 0);
	out[n] = '\0';
}

enum sig_kind { SIG_ED25519, SIG_NONE, SIG_HMAC_PK };

/* b64(hdr).b64(pl).sig, with the signature made as kind says using K. */
static char *
forge(const char *hdr, const char *pl, enum sig_kind kind)
{
	unsigned char sig[crypto_sign_BYTES];
	buf_t b = { 0 };

	b64_put(&b, hdr, strlen(hdr));
	CU_ASSERT_FATAL(buf_puts(&b, ".") == 0);
	b64_put(&b, pl, strlen(pl));
	if (kind == SIG_ED25519) {
		crypto_sign_detached(sig, NULL, (unsigned char *)b.p, b.len, K.sk);
		CU_ASSERT_FATAL(buf_puts(&b, ".") == 0);
		b64_put(&b, sig, crypto_sign_BYTES);
	} else if (kind == SIG_HMAC_PK) {
		/* The classic confusion attack: HS256 keyed with the public key. */
		crypto_auth_hmacsha256_state st;

		crypto_auth_hmacsha256_init(&st, K.pk, sizeof(K.pk));
		crypto_auth_hmacsha256_update(&st, (unsigned char *)b.p, b.len);
		crypto_auth_hmacsha256_final(&st, sig);
		CU_ASSERT_FATAL(buf_puts(&b, ".") == 0);
		b64_put(&b, sig, crypto_auth_hmacsha256_BYTES);
	} else {
		CU_ASSERT_FATAL(buf_puts(&b, ".") == 0);
	}
	return b.p;
}

static enum token_result
verify_s(const struct token_keys *k, const char *jwt, struct token_claims *out)
{
	return token_verify(k, jwt, strlen(jwt), NOW, 30, out);
}

/* Verifies forge(hdr, pl, kind) against K. */
static enum token_result
verify_forged(const char *hdr, const char *pl, enum sig_kind kind)
{
	struct token_claims c;
	enum token_result r;
	char *t = forge(hdr, pl, kind);

	r = verify_s(&K, t, &c);
	free(t);
	return r;
}

static void
test_roundtrip(void)
{
	struct token_claims c, v;
	char *t, text[1024], expect[128];

	keys();
	claims(&c);
	t = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	memset(&v, 0xa5, sizeof(v));
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(v.sub, 1000);
	CU_ASSERT_STRING_EQUAL(v.username, "alice");
	CU_ASSERT_EQUAL(v.nroles, 2);
	CU_ASSERT_STRING_EQUAL(v.roles[0], "user");
	CU_ASSERT_STRING_EQUAL(v.roles[1], "admin");
	CU_ASSERT_STRING_EQUAL(v.jti, c.jti);
	CU_ASSERT_STRING_EQUAL(v.sid, c.sid);
	CU_ASSERT_EQUAL(v.iat, NOW);
	CU_ASSERT_EQUAL(v.exp, NOW + 900);
	CU_ASSERT(token_has_role(&v, "admin"));
	CU_ASSERT(token_has_role(&v, "user"));
	CU_ASSERT(!token_has_role(&v, "adm"));
	CU_ASSERT(!token_has_role(&v, NULL));

	part(t, 0, text, sizeof(text));
	snprintf(expect, sizeof(expect), "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"%s\"}", K.kid);
	CU_ASSERT_STRING_EQUAL(text, expect);
	part(t, 1, text, sizeof(text));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"sub\":\"1000\""));	/* a string, per RFC 7519 */
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"iat\":1700000000,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"roles\":[\"user\",\"admin\"]"));
	/* The signature covers exactly what is there: a shorter len fails. */
	CU_ASSERT_EQUAL(token_verify(&K, t, strlen(t) - 1, NOW, 30, &v), TOKEN_MALFORMED);
	free(t);

	/* Caps are inclusive: the largest claims sign and verify. */
	memset(c.username, 'u', TOKEN_USERNAME_MAX);
	c.username[TOKEN_USERNAME_MAX] = '\0';
	for (c.nroles = 0; c.nroles < TOKEN_ROLES_MAX; c.nroles++) {
		memset(c.roles[c.nroles], 'a' + c.nroles, TOKEN_ROLE_LEN);
		c.roles[c.nroles][TOKEN_ROLE_LEN] = '\0';
	}
	c.sub = INT64_MAX;
	t = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(v.sub, INT64_MAX);
	CU_ASSERT_STRING_EQUAL(v.username, c.username);
	CU_ASSERT_EQUAL(v.nroles, TOKEN_ROLES_MAX);
	CU_ASSERT_STRING_EQUAL(v.roles[3], c.roles[3]);
	free(t);

	/* No roles is a valid token; it just grants nothing. */
	c.nroles = 0;
	t = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(v.nroles, 0);
	CU_ASSERT(!token_has_role(&v, "user"));
	free(t);
}

static void
test_sign_refuses(void)
{
	struct token_keys pub;
	struct token_claims c;

	keys();
	pub = K;
	pub.has_sk = 0;
	claims(&c);
	CU_ASSERT_PTR_NULL(token_sign(&pub, &c));
	claims(&c);
	c.sub = 0;
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	c.nroles = TOKEN_ROLES_MAX + 1;
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	c.nroles = -1;
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	c.username[0] = '\0';
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	memset(c.username, 'u', sizeof(c.username));	/* not terminated */
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	memset(c.roles[1], 'r', sizeof(c.roles[1]));
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	c.jti[0] = '\0';
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	c.sid[0] = '\0';	/* a token without a session could not be revoked */
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
	claims(&c);
	c.exp = -1;
	CU_ASSERT_PTR_NULL(token_sign(&K, &c));
}

static void
test_time_window(void)
{
	struct token_claims c, v;
	char *t;

	keys();
	claims(&c);
	c.iat = NOW - 1000;
	c.exp = NOW - 100;		/* beyond the 30 s leeway */
	t = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_EXPIRED);
	free(t);

	c.exp = NOW - 30;		/* exp must be after now - leeway */
	t = token_sign(&K, &c);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_EXPIRED);
	CU_ASSERT_EQUAL(token_verify(&K, t, strlen(t), NOW, 31, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(token_verify(&K, t, strlen(t), NOW, -5, &v), TOKEN_EXPIRED);
	free(t);

	c.exp = NOW - 29;		/* within the leeway */
	t = token_sign(&K, &c);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	free(t);

	/* Issued in the future beyond the leeway: not valid yet. */
	c.iat = NOW + 31;
	c.exp = NOW + 900;
	t = token_sign(&K, &c);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_EXPIRED);
	free(t);
	c.iat = NOW + 30;
	t = token_sign(&K, &c);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	free(t);
}

static void
test_wrong_key(void)
{
	struct token_claims c, v;
	char *t;

	keys();
	claims(&c);
	t = token_sign(&K2, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(verify_s(&K2, t, &v), TOKEN_OK);
	free(t);
}

static void
test_forged_header(void)
{
	keys();
	/* The helper itself makes valid tokens... */
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ""), SIG_ED25519), TOKEN_OK);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\"}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_OK);
	/* A kid must name our key (test_kid_nbf has the good one). */
	CU_ASSERT_EQUAL(verify_forged("{\"kid\":\"x\",\"alg\":\"EdDSA\"}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_BAD_SIGNATURE);
	/* ...so each of these fails on its header alone. */
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"none\",\"typ\":\"JWT\"}", PL("\"1000\"", ""), SIG_NONE),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"none\",\"typ\":\"JWT\"}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ""), SIG_NONE), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PL("\"1000\"", ""), SIG_HMAC_PK),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ""), SIG_HMAC_PK), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"RS256\"}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"eddsa\"}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"Ed25519\"}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":[\"EdDSA\"]}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"typ\":\"JWT\"}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{}", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\",\"typ\":\"JWS\"}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\",\"typ\":null}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\",\"kid\":7}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\",\"crit\":[\"exp\"]}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\",\"jku\":\"http://x\"}", PL("\"1000\"", ""),
	    SIG_ED25519), TOKEN_MALFORMED);
	/* A repeated alg: other parsers would take the last one. */
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"EdDSA\",\"alg\":\"none\"}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("{\"alg\":\"none\",\"alg\":\"EdDSA\"}", PL("\"1000\"", ""), SIG_ED25519),
	    TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("[\"EdDSA\"]", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("\"EdDSA\"", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged(HDR " x", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged("", PL("\"1000\"", ""), SIG_ED25519), TOKEN_MALFORMED);
}

static void
test_tampered(void)
{
	struct token_claims c, v;
	char *t, *f, text[1024], *p;
	buf_t b = { 0 };

	keys();
	claims(&c);
	t = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);

	/* Payload changed to another user, signature kept. */
	part(t, 1, text, sizeof(text));
	p = strstr(text, "\"1000\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	memmove(p + 2, p + 5, strlen(p + 5) + 1);	/* "1000" -> "1" */
	CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(text, "\"sub\":\"1\","));
	CU_ASSERT_FATAL(buf_append(&b, t, (size_t)(strchr(t, '.') - t + 1)) == 0);
	b64_put(&b, text, strlen(text));
	CU_ASSERT_FATAL(buf_puts(&b, strrchr(t, '.')) == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_BAD_SIGNATURE);

	/* Header changed (another kid), signature kept. */
	buf_reset(&b);
	{
		const char *h = "{\"alg\":\"EdDSA\",\"typ\":\"JWT\",\"kid\":\"other\"}";

		b64_put(&b, h, strlen(h));
	}
	CU_ASSERT_FATAL(buf_puts(&b, strchr(t, '.')) == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_BAD_SIGNATURE);

	/* One signature character changed (the first: all its bits count). */
	f = strdup(t);
	p = strrchr(f, '.') + 1;
	*p = *p == 'A' ? 'B' : 'A';
	CU_ASSERT_EQUAL(verify_s(&K, f, &v), TOKEN_BAD_SIGNATURE);
	free(f);

	/* Signature of another token. */
	claims(&c);
	c.sub = 1;
	f = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_append(&b, f, (size_t)(strrchr(f, '.') - f)) == 0);
	CU_ASSERT_FATAL(buf_puts(&b, strrchr(t, '.')) == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_BAD_SIGNATURE);
	free(f);
	buf_free(&b);
	free(t);
}

static void
test_bad_shapes(void)
{
	struct token_claims c, v;
	char *t, *f, *big;
	size_t n;
	buf_t b = { 0 };
	const char *junk[] = {
		"", ".", "..", "...", "a", "a.b", "a.b.c", "a.b.c.d",
		"eyJhbGciOiJFZERTQSJ9", "eyJhbGciOiJFZERTQSJ9.e30",
	};

	keys();
	claims(&c);
	t = token_sign(&K, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	n = strlen(t);
	for (size_t i = 0; i < ESM_NELEM(junk); i++)
		CU_ASSERT_EQUAL(verify_s(&K, junk[i], &v), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(token_verify(&K, NULL, 0, NOW, 30, &v), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(token_verify(&K, t, 0, NOW, 30, &v), TOKEN_MALFORMED);

	/* Two parts, four parts. */
	CU_ASSERT_EQUAL(token_verify(&K, t, (size_t)(strrchr(t, '.') - t), NOW, 30, &v), TOKEN_MALFORMED);
	CU_ASSERT_FATAL(buf_puts(&b, t) == 0 && buf_puts(&b, ".AAAA") == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_puts(&b, t) == 0 && buf_puts(&b, ".") == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);

	/* Characters outside base64url, padding, blanks, NUL, in every part. */
	f = strdup(t);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	{
		const char bad[] = { '+', '/', '!', '=', ' ', '\n', '\0', '%', (char)0xc3 };
		size_t pos[] = { 0, 5, (size_t)(strchr(t, '.') - t) + 3, n - 10, n - 1 };

		for (size_t i = 0; i < ESM_NELEM(bad); i++)
			for (size_t j = 0; j < ESM_NELEM(pos); j++) {
				memcpy(f, t, n + 1);
				f[pos[j]] = bad[i];
				CU_ASSERT_EQUAL(token_verify(&K, f, n, NOW, 30, &v), TOKEN_MALFORMED);
			}
	}
	free(f);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_puts(&b, t) == 0 && buf_puts(&b, "=") == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_append(&b, t, (size_t)(strchr(t, '.') - t)) == 0 &&
	    buf_puts(&b, "==") == 0 && buf_puts(&b, strchr(t, '.')) == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_puts(&b, " ") == 0 && buf_puts(&b, t) == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_puts(&b, "Bearer ") == 0 && buf_puts(&b, t) == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);
	/* Signature cut short, or too long. */
	CU_ASSERT_EQUAL(token_verify(&K, t, n - 3, NOW, 30, &v), TOKEN_MALFORMED);
	buf_reset(&b);
	CU_ASSERT_FATAL(buf_puts(&b, t) == 0 && buf_puts(&b, "AAA") == 0);
	CU_ASSERT_EQUAL(verify_s(&K, b.p, &v), TOKEN_MALFORMED);

	/* Huge: refused by length before any decoding, validly signed or not. */
	big = malloc(100001);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, 'A', 100000);
	big[100000] = '\0';
	big[10] = big[50000] = '.';
	CU_ASSERT_EQUAL(verify_s(&K, big, &v), TOKEN_MALFORMED);
	memset(big, 'x', 5000);
	big[5000] = '\0';
	{
		char pl[6000];

		snprintf(pl, sizeof(pl), PL("\"1000\"", ",\"pad\":\"%.*s\""), 3000, big);
		f = forge(HDR, pl, SIG_ED25519);
		CU_ASSERT(strlen(f) > 4096);
		CU_ASSERT_EQUAL(verify_s(&K, f, &v), TOKEN_MALFORMED);
		free(f);
		/* Unknown claims are fine when signed and small. */
		snprintf(pl, sizeof(pl), PL("\"1000\"", ",\"pad\":\"%.*s\""), 100, big);
		f = forge(HDR, pl, SIG_ED25519);
		CU_ASSERT_EQUAL(verify_s(&K, f, &v), TOKEN_OK);
		free(f);
	}
	free(big);
	buf_free(&b);
	free(t);
}

static void
test_claims(void)
{
	char pl[512];
	struct token_claims v;
	char *t;
	const char *bad_sub[] = {
		"\"abc\"", "\"-5\"", "\"0\"", "\"+5\"", "\"007\"", "\"\"", "\" 5\"", "\"5 \"",
		"\"1e3\"", "\"0x10\"", "\"9223372036854775808\"", "\"99999999999999999999\"",
		"1000", "1000.0", "null", "true", "[\"1000\"]", "{}",
	};
	/* Each a complete payload, signed with the right key. */
	const char *bad_pl[] = {
		"{\"sid\":\"s\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":7,\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":\"user\",\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[1],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[\"\"],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[[\"user\"]],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":{},\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[\"a\",\"b\",\"c\",\"d\",\"e\"],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[\"aaaaaaaaaaaaaaaaa\"],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"0123456789012345678901234567890123456\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":1,\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":\"1700000000\",\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900.5}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":-1,\"exp\":1700000900}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1e300}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":null}",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900} x",
		"{\"sid\":\"s\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900",
		/* the session: missing, empty, too long, not a string */
		"{\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":\"0123456789012345678901234567890123456\",\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"{\"sid\":5,\"sub\":\"1\",\"username\":\"alice\",\"roles\":[],\"jti\":\"j\",\"iat\":1700000000,\"exp\":1700000900}",
		"[\"1\",\"alice\"]", "\"1\"", "null", "", "{}",
	};

	keys();
	for (size_t i = 0; i < ESM_NELEM(bad_sub); i++) {
		snprintf(pl, sizeof(pl), PL("%s", ""), bad_sub[i]);
		if (verify_forged(HDR, pl, SIG_ED25519) != TOKEN_MALFORMED)
			fprintf(stderr, "\n  sub %s accepted\n", bad_sub[i]);
		CU_ASSERT_EQUAL(verify_forged(HDR, pl, SIG_ED25519), TOKEN_MALFORMED);
	}
	for (size_t i = 0; i < ESM_NELEM(bad_pl); i++) {
		if (verify_forged(HDR, bad_pl[i], SIG_ED25519) != TOKEN_MALFORMED)
			fprintf(stderr, "\n  payload %s accepted\n", bad_pl[i]);
		CU_ASSERT_EQUAL(verify_forged(HDR, bad_pl[i], SIG_ED25519), TOKEN_MALFORMED);
	}
	/* Over-long username: refused, never truncated. */
	snprintf(pl, sizeof(pl), "{\"sub\":\"1\",\"username\":\"%065d\",\"roles\":[],\"jti\":\"j\","
	    "\"sid\":\"s\",\"iat\":1700000000,\"exp\":1700000900}", 0);
	CU_ASSERT_EQUAL(verify_forged(HDR, pl, SIG_ED25519), TOKEN_MALFORMED);
	snprintf(pl, sizeof(pl), "{\"sub\":\"1\",\"username\":\"%064d\",\"roles\":[],\"jti\":\"j\","
	    "\"sid\":\"s\",\"iat\":1700000000,\"exp\":1700000900}", 0);
	CU_ASSERT_EQUAL(verify_forged(HDR, pl, SIG_ED25519), TOKEN_OK);

	/* The good neighbours of the refusals above. */
	t = forge(HDR, PL("\"9223372036854775807\"", ""), SIG_ED25519);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(v.sub, INT64_MAX);
	free(t);
	t = forge(HDR, "{\"exp\":1700000900,\"iat\":1700000000.0,\"jti\":\"0123456789012345678901234567890123456789\","
	    "\"roles\":[\"aaaaaaaaaaaaaaaa\",\"b\",\"c\",\"d\"],\"username\":\"\\u00e9\",\"sub\":\"7\"}", SIG_ED25519);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_MALFORMED);	/* jti 40 chars */
	free(t);
	t = forge(HDR, "{\"exp\":1700000900,\"iat\":1700000000.0,\"jti\":\"012345678901234567890123456789012345\","
	    "\"sid\":\"543210987654321098765432109876543210\","
	    "\"roles\":[\"aaaaaaaaaaaaaaaa\",\"b\",\"c\",\"d\"],\"username\":\"\\u00e9\",\"sub\":\"7\"}", SIG_ED25519);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(v.sub, 7);
	CU_ASSERT_STRING_EQUAL(v.username, "\xc3\xa9");
	CU_ASSERT_EQUAL(v.nroles, 4);
	CU_ASSERT_STRING_EQUAL(v.roles[0], "aaaaaaaaaaaaaaaa");
	CU_ASSERT_STRING_EQUAL(v.sid, "543210987654321098765432109876543210");
	CU_ASSERT_EQUAL(v.iat, NOW);
	free(t);
}

static void
write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
	close(fd);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
}

static void
read_file(const char *path, char *out, size_t max)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	CU_ASSERT_FATAL(fd >= 0);
	n = read(fd, out, max - 1);
	close(fd);
	CU_ASSERT_FATAL(n >= 0);
	out[n] = '\0';
}

static int
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_keyfiles(void)
{
	char d1[] = "/tmp/esm-token-XXXXXX", d2[] = "/tmp/esm-token-XXXXXX";
	char pub[64], key[64], pub2[64], key2[64], other[64], link_[64];
	char before[256], after[256], kid[24];
	unsigned char h[crypto_hash_sha256_BYTES];
	struct token_keys k, kp;
	struct token_claims c, v;
	struct stat st;
	char *t;

	CU_ASSERT_FATAL(mkdtemp(d1) != NULL && mkdtemp(d2) != NULL);
	snprintf(pub, sizeof(pub), "%s/ed25519.pub", d1);
	snprintf(key, sizeof(key), "%s/ed25519.key", d1);
	snprintf(pub2, sizeof(pub2), "%s/ed25519.pub", d2);
	snprintf(key2, sizeof(key2), "%s/ed25519.key", d2);
	snprintf(other, sizeof(other), "%s/other", d1);
	snprintf(link_, sizeof(link_), "%s/link", d1);

	CU_ASSERT_EQUAL(token_keygen(d1), 0);
	CU_ASSERT_EQUAL(count_entries(d1), 2);		/* no temporary files left */
	CU_ASSERT_FATAL(stat(key, &st) == 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT_FATAL(stat(pub, &st) == 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0644);
	read_file(key, before, sizeof(before));
	CU_ASSERT_EQUAL(strlen(before), 87);		/* 64 bytes as base64url + newline */
	read_file(pub, after, sizeof(after));
	CU_ASSERT_EQUAL(strlen(after), 44);

	/* A second keygen leaves the existing key alone. */
	CU_ASSERT_EQUAL(token_keygen(d1), 0);
	read_file(key, after, sizeof(after));
	CU_ASSERT_STRING_EQUAL(before, after);
	CU_ASSERT_EQUAL(count_entries(d1), 2);

	CU_ASSERT_EQUAL_FATAL(token_keys_load(&k, pub, key), 0);
	CU_ASSERT(k.has_sk);
	CU_ASSERT_EQUAL_FATAL(token_keys_load(&kp, pub, NULL), 0);
	CU_ASSERT(!kp.has_sk);
	CU_ASSERT_EQUAL(memcmp(k.pk, kp.pk, sizeof(k.pk)), 0);
	CU_ASSERT_STRING_EQUAL(k.kid, kp.kid);
	crypto_hash_sha256(h, k.pk, sizeof(k.pk));
	sodium_bin2base64(kid, sizeof(kid), h, 12, B64);
	CU_ASSERT_STRING_EQUAL(k.kid, kid);
	CU_ASSERT_EQUAL(strlen(k.kid), 16);

	/* Signed with the loaded secret key, verified with the public file only. */
	claims(&c);
	t = token_sign(&k, &c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(verify_s(&kp, t, &v), TOKEN_OK);
	CU_ASSERT_PTR_NULL(token_sign(&kp, &c));
	free(t);

	/* The secret key file must be private. */
	CU_ASSERT_FATAL(chmod(key, 0644) == 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, key), -1);
	CU_ASSERT(!k.has_sk);
	CU_ASSERT_FATAL(chmod(key, 0640) == 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, key), -1);
	CU_ASSERT_FATAL(chmod(key, 0602) == 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, key), -1);
	CU_ASSERT_FATAL(chmod(key, 0400) == 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, key), 0);
	CU_ASSERT_FATAL(chmod(key, 0600) == 0);
	/* ...and not reached through a symbolic link. */
	CU_ASSERT_FATAL(symlink(key, link_) == 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, link_), -1);
	unlink(link_);

	/* Missing files, and a key pair that does not belong together. */
	CU_ASSERT_EQUAL(token_keys_load(&k, other, NULL), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, other), -1);
	CU_ASSERT_EQUAL(token_keygen(d2), 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub, key2), -1);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub2, key), -1);
	CU_ASSERT_EQUAL(token_keys_load(&k, pub2, key2), 0);
	CU_ASSERT_EQUAL(token_keys_load(&k, key, NULL), -1);	/* 64 bytes where 32 belong */
	CU_ASSERT_EQUAL(token_keygen("/nonexistent/esm-token"), -1);

	/* Damaged public key files. */
	{
		char good[64];
		const char *bad[] = { "", "\n", "not base64!\n", "\n\n" };

		read_file(pub, good, sizeof(good));
		good[43] = '\0';
		for (size_t i = 0; i < ESM_NELEM(bad); i++) {
			write_file(other, bad[i], 0644);
			CU_ASSERT_EQUAL(token_keys_load(&k, other, NULL), -1);
		}
		write_file(other, good, 0644);			/* no newline is fine */
		CU_ASSERT_EQUAL(token_keys_load(&k, other, NULL), 0);
		strcat(good, "=\n");
		write_file(other, good, 0644);
		CU_ASSERT_EQUAL(token_keys_load(&k, other, NULL), -1);
		good[43] = '\0';
		strcat(good, "\r\n");
		write_file(other, good, 0644);
		CU_ASSERT_EQUAL(token_keys_load(&k, other, NULL), -1);
		good[42] = '\0';
		write_file(other, good, 0644);
		CU_ASSERT_EQUAL(token_keys_load(&k, other, NULL), -1);
	}

	unlink(other);
	unlink(pub);
	unlink(key);
	unlink(pub2);
	unlink(key2);
	CU_ASSERT(rmdir(d1) == 0);
	CU_ASSERT(rmdir(d2) == 0);
}

static void
test_jwks(void)
{
	cJSON *set, *keys_, *jwk;
	unsigned char x[64];
	size_t n;
	char *s;

	keys();
	s = token_jwks(&K);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	set = cJSON_Parse(s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(set);
	keys_ = cJSON_GetObjectItemCaseSensitive(set, "keys");
	CU_ASSERT_FATAL(cJSON_IsArray(keys_) && cJSON_GetArraySize(keys_) == 1);
	jwk = cJSON_GetArrayItem(keys_, 0);
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "kty")), "OKP");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "crv")), "Ed25519");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "alg")), "EdDSA");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "use")), "sig");
	CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "kid")), K.kid);
	CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(jwk, "d"));	/* never the secret */
	CU_ASSERT_EQUAL(cJSON_GetArraySize(jwk), 6);
	{
		const char *xs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "x"));

		CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
		CU_ASSERT_EQUAL(strlen(xs), 43);
		CU_ASSERT_EQUAL(sodium_base642bin(x, sizeof(x), xs, strlen(xs), NULL, &n, NULL, B64), 0);
		CU_ASSERT_EQUAL(n, 32);
		CU_ASSERT_EQUAL(memcmp(x, K.pk, 32), 0);
	}
	cJSON_Delete(set);
	free(s);
}

static void
test_refresh(void)
{
	char a[TOKEN_REFRESH_LEN + 1], b[TOKEN_REFRESH_LEN + 1], ha[65], hb[65], h[65];
	char tok[TOKEN_REFRESH_LEN + 2];
	const char bad[] = { '+', '/', '=', '.', ' ', '\0', '~', (char)0x80, (char)0xff };

	CU_ASSERT_EQUAL_FATAL(token_refresh_new(a, ha), 0);
	CU_ASSERT_EQUAL_FATAL(token_refresh_new(b, hb), 0);
	CU_ASSERT_EQUAL(strlen(a), TOKEN_REFRESH_LEN);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_STRING_NOT_EQUAL(ha, hb);
	CU_ASSERT_EQUAL(strlen(ha), 64);
	CU_ASSERT_EQUAL(strspn(ha, "0123456789abcdef"), 64);
	CU_ASSERT_EQUAL(token_refresh_hash(a, strlen(a), h), 0);
	CU_ASSERT_STRING_EQUAL(h, ha);
	CU_ASSERT_EQUAL(token_refresh_hash(a, strlen(a), h), 0);
	CU_ASSERT_STRING_EQUAL(h, ha);

	/* SHA-256 of the text itself: printf %s AAA...A (43) | sha256sum */
	memset(tok, 'A', TOKEN_REFRESH_LEN);
	tok[TOKEN_REFRESH_LEN] = '\0';
	CU_ASSERT_EQUAL(token_refresh_hash(tok, TOKEN_REFRESH_LEN, h), 0);
	CU_ASSERT_STRING_EQUAL(h, "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a");

	CU_ASSERT_EQUAL(token_refresh_hash(NULL, 0, h), -1);
	CU_ASSERT_EQUAL(token_refresh_hash("", 0, h), -1);
	CU_ASSERT_EQUAL(token_refresh_hash(tok, TOKEN_REFRESH_LEN - 1, h), -1);
	tok[TOKEN_REFRESH_LEN] = 'A';
	tok[TOKEN_REFRESH_LEN + 1] = '\0';
	CU_ASSERT_EQUAL(token_refresh_hash(tok, TOKEN_REFRESH_LEN + 1, h), -1);
	for (size_t i = 0; i < ESM_NELEM(bad); i++) {
		memcpy(tok, a, sizeof(a));
		tok[7] = bad[i];
		CU_ASSERT_EQUAL(token_refresh_hash(tok, TOKEN_REFRESH_LEN, h), -1);
	}
	/* The last character carries 2 unused bits that must be zero, so each
	 * token has exactly one spelling (and one hash). */
	memset(tok, 'A', TOKEN_REFRESH_LEN);
	tok[TOKEN_REFRESH_LEN - 1] = 'B';
	CU_ASSERT_EQUAL(token_refresh_hash(tok, TOKEN_REFRESH_LEN, h), -1);
	tok[TOKEN_REFRESH_LEN - 1] = 'E';
	CU_ASSERT_EQUAL(token_refresh_hash(tok, TOKEN_REFRESH_LEN, h), 0);
	/* An access token is not a refresh token. */
	CU_ASSERT_EQUAL(token_refresh_hash("eyJhbGciOiJFZERTQSJ9.e30.AAAAAAAAAAAAAAAAAAAAA", 43, h), -1);
}

/* libsodium 1.0.18 decodes any byte >= 0x80 as '_', so without an alphabet
 * check a token with a '_' in its signature had a second spelling that
 * verified: a different string (and hash) for the same token. */
static void
test_high_bytes(void)
{
	struct token_claims c, v;
	char *t = NULL, *u, r[TOKEN_REFRESH_LEN], h[65];
	int i;

	keys();
	claims(&c);
	for (i = 0; i < 200; i++) {
		free(t);
		snprintf(c.jti, sizeof(c.jti), "jti-%d", i);
		t = token_sign(&K, &c);
		CU_ASSERT_PTR_NOT_NULL_FATAL(t);
		if (strchr(strrchr(t, '.'), '_') != NULL)
			break;
	}
	CU_ASSERT_FATAL(i < 200);
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_OK);
	u = strchr(strrchr(t, '.'), '_');
	*u = (char)0x80;
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_MALFORMED);
	*u = (char)0xff;
	CU_ASSERT_EQUAL(verify_s(&K, t, &v), TOKEN_MALFORMED);
	free(t);

	memset(r, '_', TOKEN_REFRESH_LEN);
	r[TOKEN_REFRESH_LEN - 1] = 'w';		/* 110000: unused bits zero */
	CU_ASSERT_EQUAL(token_refresh_hash(r, TOKEN_REFRESH_LEN, h), 0);
	r[5] = (char)0x80;
	CU_ASSERT_EQUAL(token_refresh_hash(r, TOKEN_REFRESH_LEN, h), -1);
}

/* The cache gives the same answers as the full path: hits still expire,
 * other keys and altered tokens are not served from it. */
static void
test_cached(void)
{
	struct token_claims c, out;
	char *jwt, *bad;

	keys();
	claims(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(jwt = token_sign(&K, &c));
	CU_ASSERT_EQUAL(token_verify_cached(&K, jwt, strlen(jwt), NOW, 0, &out), TOKEN_OK);
	CU_ASSERT_EQUAL(token_verify_cached(&K, jwt, strlen(jwt), NOW, 0, &out), TOKEN_OK);
	CU_ASSERT_EQUAL(out.sub, 1000);
	CU_ASSERT_STRING_EQUAL(out.username, "alice");
	CU_ASSERT_EQUAL(token_verify_cached(&K, jwt, strlen(jwt), NOW + 901, 0, &out), TOKEN_EXPIRED);
	CU_ASSERT_EQUAL(token_verify_cached(&K2, jwt, strlen(jwt), NOW, 0, &out), TOKEN_BAD_SIGNATURE);
	bad = strdup(jwt);
	bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
	CU_ASSERT_NOT_EQUAL(token_verify_cached(&K, bad, strlen(bad), NOW, 0, &out), TOKEN_OK);
	CU_ASSERT_NOT_EQUAL(token_verify_cached(&K, jwt, strlen(jwt) - 1, NOW, 0, &out), TOKEN_OK);
	free(bad);
	free(jwt);
}

/* The kid in a header must be our key's; nbf, when present, must have come. */
static void
test_kid_nbf(void)
{
	char hdr[96];
	struct token_claims c;
	char *t;

	keys();
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", K.kid);
	CU_ASSERT_EQUAL(verify_forged(hdr, PL("\"1000\"", ""), SIG_ED25519), TOKEN_OK);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", K2.kid);
	CU_ASSERT_EQUAL(verify_forged(hdr, PL("\"1000\"", ""), SIG_ED25519), TOKEN_BAD_SIGNATURE);
	/* What we sign carries our kid and verifies. */
	memset(&c, 0, sizeof(c));
	t = forge(HDR, PL("\"1000\"", ",\"nbf\":1700000000"), SIG_ED25519);
	CU_ASSERT_EQUAL(verify_s(&K, t, &c), TOKEN_OK);
	CU_ASSERT_EQUAL(c.nbf, 1700000000);
	free(t);
	/* nbf within the leeway (30 s) passes, beyond it not yet. */
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ",\"nbf\":1700000030"), SIG_ED25519), TOKEN_OK);
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ",\"nbf\":1700000031"), SIG_ED25519), TOKEN_EXPIRED);
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ",\"nbf\":\"soon\""), SIG_ED25519), TOKEN_MALFORMED);
	CU_ASSERT_EQUAL(verify_forged(HDR, PL("\"1000\"", ",\"nbf\":-1"), SIG_ED25519), TOKEN_MALFORMED);
}

/* Key rotation: ROT_N pairs in dir/a, dir/b, ..., made for each test. */
#define ROT_N (TOKEN_PREVIOUS_MAX + 2)
struct rot {
	char dir[32];
	char pub[ROT_N][64], key[ROT_N][64];
};

static void
rot_make(struct rot *r)
{
	char sub[48];
	int i;

	snprintf(r->dir, sizeof(r->dir), "/tmp/esm-token-XXXXXX");
	CU_ASSERT_FATAL(mkdtemp(r->dir) != NULL);
	for (i = 0; i < ROT_N; i++) {
		snprintf(sub, sizeof(sub), "%s/%c", r->dir, 'a' + i);
		CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
		CU_ASSERT_FATAL(token_keygen(sub) == 0);
		snprintf(r->pub[i], sizeof(r->pub[i]), "%s/ed25519.pub", sub);
		snprintf(r->key[i], sizeof(r->key[i]), "%s/ed25519.key", sub);
	}
}

static void
rot_remove(struct rot *r)
{
	char sub[48];
	int i;

	for (i = 0; i < ROT_N; i++) {
		unlink(r->pub[i]);
		unlink(r->key[i]);
		snprintf(sub, sizeof(sub), "%s/%c", r->dir, 'a' + i);
		rmdir(sub);
	}
	CU_ASSERT(rmdir(r->dir) == 0);
}

/* b64(hdr).b64(pl).sig with the signature of k's current key. */
static char *
forge_by(const struct token_keys *k, const char *hdr, const char *pl)
{
	unsigned char sig[crypto_sign_BYTES];
	buf_t b = { 0 };

	b64_put(&b, hdr, strlen(hdr));
	CU_ASSERT_FATAL(buf_puts(&b, ".") == 0);
	b64_put(&b, pl, strlen(pl));
	crypto_sign_detached(sig, NULL, (unsigned char *)b.p, b.len, k->sk);
	CU_ASSERT_FATAL(buf_puts(&b, ".") == 0);
	b64_put(&b, sig, crypto_sign_BYTES);
	return b.p;
}

/* token_verify of forge_by(signer, header with kid (NULL: none), PL) against set. */
static enum token_result
verify_kid(const struct token_keys *set, const struct token_keys *signer, const char *kid)
{
	struct token_claims c;
	enum token_result res;
	char hdr[96], *t;

	if (kid != NULL)
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\",\"kid\":\"%s\"}", kid);
	else
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"EdDSA\"}");
	t = forge_by(signer, hdr, PL("\"1000\"", ""));
	res = verify_s(set, t, &c);
	free(t);
	return res;
}

/* After a rotation from A to B the set {B current, A previous} verifies the
 * tokens of both, each only with the key its kid names; B signs. Once A is
 * retired ({B}), A's tokens are refused, also by the cache. */
static void
test_rotation(void)
{
	struct token_keys A, B, S, S2, X;
	struct token_claims c, v;
	char *ta, *tb, hdr[256], kid[32];
	struct rot r;

	rot_make(&r);
	CU_ASSERT_FATAL(token_keys_load(&A, r.pub[0], r.key[0]) == 0);
	CU_ASSERT_FATAL(token_keys_load(&B, r.pub[1], r.key[1]) == 0);
	CU_ASSERT_FATAL(token_keys_load(&X, r.pub[2], r.key[2]) == 0);
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[1], r.key[1]) == 0);
	CU_ASSERT_FATAL(token_keys_load_previous(&S, r.pub[0]) == 0);
	CU_ASSERT_FATAL(token_keys_load(&S2, r.pub[1], NULL) == 0);
	CU_ASSERT_EQUAL(S.nprevious, 1);
	CU_ASSERT_STRING_EQUAL(S.previous[0].kid, A.kid);

	claims(&c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ta = token_sign(&A, &c));
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb = token_sign(&S, &c));
	/* The current key signs, and says so. */
	part(tb, 0, hdr, sizeof(hdr));
	snprintf(kid, sizeof(kid), "\"kid\":\"%s\"", B.kid);
	CU_ASSERT_PTR_NOT_NULL(strstr(hdr, kid));
	CU_ASSERT_EQUAL(verify_s(&B, tb, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(verify_s(&A, tb, &v), TOKEN_BAD_SIGNATURE);
	/* Both verify with the set. */
	CU_ASSERT_EQUAL(verify_s(&S, ta, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(v.sub, 1000);
	CU_ASSERT_EQUAL(verify_s(&S, tb, &v), TOKEN_OK);
	/* A kid the set does not have, though its key did sign. */
	CU_ASSERT_EQUAL(verify_kid(&S, &X, X.kid), TOKEN_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(verify_kid(&S, &A, A.kid), TOKEN_OK);
	CU_ASSERT_EQUAL(verify_kid(&S, &B, B.kid), TOKEN_OK);
	/* Signed by one key, naming the other: only the key named is tried. */
	CU_ASSERT_EQUAL(verify_kid(&S, &A, B.kid), TOKEN_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(verify_kid(&S, &B, A.kid), TOKEN_BAD_SIGNATURE);
	/* Without a kid: the current key only. */
	CU_ASSERT_EQUAL(verify_kid(&S, &B, NULL), TOKEN_OK);
	CU_ASSERT_EQUAL(verify_kid(&S, &A, NULL), TOKEN_BAD_SIGNATURE);
	/* A retired: its token fails, and the cache, which saw it pass with
	 * the set that had A, does not serve it to the set without. */
	CU_ASSERT_EQUAL(verify_s(&S2, ta, &v), TOKEN_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(verify_s(&S2, tb, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(token_verify_cached(&S, ta, strlen(ta), NOW, 30, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(token_verify_cached(&S, ta, strlen(ta), NOW, 30, &v), TOKEN_OK);
	CU_ASSERT_EQUAL(token_verify_cached(&S2, ta, strlen(ta), NOW, 30, &v), TOKEN_BAD_SIGNATURE);
	CU_ASSERT_EQUAL(token_verify_cached(&S2, tb, strlen(tb), NOW, 30, &v), TOKEN_OK);
	free(ta);
	free(tb);
	rot_remove(&r);
}

/* The JWK Set lists every key of the set, the current one first. */
static void
test_jwks_rotation(void)
{
	struct token_keys S, A, B;
	const cJSON *keys_, *jwk;
	unsigned char x[64];
	size_t n;
	cJSON *set;
	char *s;
	struct rot r;

	rot_make(&r);
	CU_ASSERT_FATAL(token_keys_load(&A, r.pub[0], NULL) == 0);
	CU_ASSERT_FATAL(token_keys_load(&B, r.pub[1], NULL) == 0);
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[1], r.key[1]) == 0);
	CU_ASSERT_FATAL(token_keys_load_previous(&S, r.pub[0]) == 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s = token_jwks(&S));
	CU_ASSERT_PTR_NOT_NULL_FATAL(set = cJSON_Parse(s));
	keys_ = cJSON_GetObjectItemCaseSensitive(set, "keys");
	CU_ASSERT_FATAL(cJSON_IsArray(keys_) && cJSON_GetArraySize(keys_) == 2);
	for (int i = 0; i < 2; i++) {
		const struct token_keys *want = i == 0 ? &B : &A;
		const char *xs;

		jwk = cJSON_GetArrayItem(keys_, i);
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "kid")), want->kid);
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "kty")), "OKP");
		CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "alg")), "EdDSA");
		CU_ASSERT_EQUAL(cJSON_GetArraySize(jwk), 6);
		xs = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(jwk, "x"));
		CU_ASSERT_PTR_NOT_NULL_FATAL(xs);
		CU_ASSERT_EQUAL(sodium_base642bin(x, sizeof(x), xs, strlen(xs), NULL, &n, NULL, B64), 0);
		CU_ASSERT_EQUAL(n, 32);
		CU_ASSERT_EQUAL(memcmp(x, want->pk, 32), 0);
	}
	cJSON_Delete(set);
	free(s);
	rot_remove(&r);
}

/* ESM_JWT_PREVIOUS_KEY_FILES: a comma-separated list; a key already in the
 * set counts once; at most TOKEN_PREVIOUS_MAX; a bad entry fails the start. */
static void
test_previous_files(void)
{
	struct token_keys S, B;
	char list[512];
	struct rot r;

	rot_make(&r);
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[0], NULL) == 0);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, NULL), 0);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, ""), 0);
	CU_ASSERT_EQUAL(S.nprevious, 0);
	snprintf(list, sizeof(list), "%s,%s", r.pub[1], r.pub[2]);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, list), 0);
	CU_ASSERT_EQUAL(S.nprevious, 2);
	/* Each key once: the current key or a repeated one is not listed again. */
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[0], NULL) == 0);
	CU_ASSERT_EQUAL(S.nprevious, 0);
	snprintf(list, sizeof(list), "%s,%s,%s", r.pub[1], r.pub[0], r.pub[1]);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, list), 0);
	CU_ASSERT_EQUAL(S.nprevious, 1);
	CU_ASSERT_FATAL(token_keys_load(&B, r.pub[1], NULL) == 0);
	CU_ASSERT_STRING_EQUAL(S.previous[0].kid, B.kid);
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[0], NULL) == 0);
	/* Empty names, missing files, a secret key where a public one belongs. */
	snprintf(list, sizeof(list), "%s,", r.pub[1]);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, list), -1);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[0], NULL) == 0);
	snprintf(list, sizeof(list), ",%s", r.pub[1]);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, list), -1);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, "/nonexistent/ed25519.pub"), -1);
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, r.key[1]), -1);
	CU_ASSERT_EQUAL(S.nprevious, 0);
	/* At most TOKEN_PREVIOUS_MAX (3) besides the current key. */
	CU_ASSERT_FATAL(TOKEN_PREVIOUS_MAX == 3);
	CU_ASSERT_FATAL(token_keys_load(&S, r.pub[0], NULL) == 0);
	snprintf(list, sizeof(list), "%s,%s,%s", r.pub[1], r.pub[2], r.pub[3]);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, list), 0);
	CU_ASSERT_EQUAL(S.nprevious, 3);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, r.pub[2]), 0);
	CU_ASSERT_EQUAL(token_keys_load_previous(&S, r.pub[4]), -1);
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT_EQUAL(S.nprevious, 3);
	rot_remove(&r);
}

static CU_TestInfo tests[] = {
	{ "verification cache", test_cached },
	{ "sign and verify round trip", test_roundtrip },
	{ "sign refuses bad input", test_sign_refuses },
	{ "expiry and issue time window", test_time_window },
	{ "wrong key", test_wrong_key },
	{ "forged headers (none, HS256, ...)", test_forged_header },
	{ "kid and nbf", test_kid_nbf },
	{ "tampered parts", test_tampered },
	{ "bad shapes and sizes", test_bad_shapes },
	{ "claim types and caps", test_claims },
	{ "key files", test_keyfiles },
	{ "jwks", test_jwks },
	{ "refresh tokens", test_refresh },
	{ "bytes >= 0x80 are not base64url", test_high_bytes },
	{ "rotation: previous keys verify, by kid", test_rotation },
	{ "rotation: jwks lists every key", test_jwks_rotation },
	{ "rotation: previous key files", test_previous_files },
	CU_TEST_INFO_NULL,
};

UNIT_SUITE(token, tests)
