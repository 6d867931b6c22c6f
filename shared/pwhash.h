/*
 * pwhash.h: password hashing with argon2id through libsodium. Costs are
 * configuration (ESM_ARGON2_MEMLIMIT_KIB, ESM_ARGON2_OPSLIMIT), never below
 * OWASP's minimum of 19 MiB and 2 passes.
 */
#ifndef ESM_PWHASH_H
#define ESM_PWHASH_H

#include <stddef.h>
#include "util.h"

#define PWHASH_STR_LEN 128	/* >= crypto_pwhash_STRBYTES */
#define PWHASH_MIN_MEM_KIB 19456
#define PWHASH_MIN_OPS 2

/* Initialises libsodium and sets the costs; 0 / -1 when the costs are below
 * the minimum or libsodium cannot start. Call once at start-up. */
int pwhash_init(size_t memlimit_kib, unsigned opslimit) ESM_WUR;
/* Hashes pw[0..len) into out (encoded argon2id string). 0 / -1. */
int pwhash_hash(const char *pw, size_t len, char out[PWHASH_STR_LEN]) ESM_WUR;
/* 1 when pw matches the encoded hash, 0 otherwise (also for a malformed
 * hash). With hash == NULL it spends the same work on a fixed dummy hash and
 * returns 0, so an unknown user costs what a wrong password costs. */
int pwhash_verify(const char *hash, const char *pw, size_t len);

#endif
