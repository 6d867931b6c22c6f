/*
 * pwhash.c: argon2id password hashes through libsodium with configured
 * costs, and a dummy hash so an unknown user costs as much as a known one.
 * Rehashing old hashes at new costs is left to the caller.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sodium.h>
#include "pwhash.h"

#define PW_MAX 1024		/* argon2 takes anything; a longer "password" is an attack */

_Static_assert(PWHASH_STR_LEN >= crypto_pwhash_STRBYTES, "PWHASH_STR_LEN too small");

static size_t cost_mem;		/* bytes */
static unsigned long long cost_ops;
static char dummy[crypto_pwhash_STRBYTES];
static int ready;

int
pwhash_init(size_t memlimit_kib, unsigned opslimit)
{
	unsigned char pw[16];
	char h[crypto_pwhash_STRBYTES];
	int rc;

	if (memlimit_kib < PWHASH_MIN_MEM_KIB || opslimit < PWHASH_MIN_OPS ||
	    memlimit_kib > crypto_pwhash_MEMLIMIT_MAX / 1024 ||
	    opslimit > crypto_pwhash_OPSLIMIT_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (sodium_init() < 0)
		return -1;
	/* A random dummy password nobody knows: verifying against it always
	 * fails, at exactly the configured cost. */
	randombytes_buf(pw, sizeof(pw));
	rc = crypto_pwhash_str_alg(h, (const char *)pw, sizeof(pw), opslimit,
	    memlimit_kib * 1024, crypto_pwhash_ALG_ARGON2ID13);
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0)
		return -1;
	memcpy(dummy, h, sizeof(dummy));
	cost_mem = memlimit_kib * 1024;
	cost_ops = opslimit;
	ready = 1;
	return 0;
}

/* A password argon2 may see: bounded and free of NUL, which C callers
 * further down (or a database text column) would silently cut at. */
static int
pw_ok(const char *pw, size_t len)
{
	return pw != NULL && len <= PW_MAX && memchr(pw, '\0', len) == NULL;
}

int
pwhash_hash(const char *pw, size_t len, char out[PWHASH_STR_LEN])
{
	if (!ready || !pw_ok(pw, len))
		return -1;
	if (crypto_pwhash_str_alg(out, pw, len, cost_ops, cost_mem, crypto_pwhash_ALG_ARGON2ID13) != 0)
		return -1;
	return 0;
}

int
pwhash_verify(const char *hash, const char *pw, size_t len)
{
	int good = hash != NULL && pw_ok(pw, len);

	if (!ready)
		return 0;
	if (hash != NULL && strnlen(hash, PWHASH_STR_LEN) >= PWHASH_STR_LEN)
		return 0;	/* not a string libsodium could have written */
	/* An unknown user or a refused password still does the dummy's work,
	 * so timing does not tell them from a wrong password. */
	if (!good) {
		hash = dummy;
		if (!pw_ok(pw, len)) {
			pw = "";
			len = 0;
		}
	}
	return crypto_pwhash_str_verify(hash, pw, len) == 0 && good;
}
