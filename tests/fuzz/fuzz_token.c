/*
 * fuzz_token.c: access token parsing and verification (plain and cached)
 * and refresh token shapes. No input may verify: the key's secret half is
 * never used to sign anything here, so TOKEN_OK would be a forgery.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct token_keys k;
	struct token_claims c;
	char hash[65];

	if (!k.has_sk) {
		unsigned char seed[32] = { 7 };
		if (crypto_sign_seed_keypair(k.pk, k.sk, seed) != 0)
			abort();
		k.has_sk = 1;
	}
	if (token_verify(&k, (const char *)data, size, 1700000000, 30, &c) == TOKEN_OK)
		abort();
	if (token_verify_cached(&k, (const char *)data, size, 1700000000, 30, &c) == TOKEN_OK)
		abort();
	if (token_refresh_hash((const char *)data, size, hash) == 0 && strlen(hash) != 64)
		abort();
	return 0;
}
