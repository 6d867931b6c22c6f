/*
 * hashrate.c: the ceiling for register and login: argon2id hashes per
 * second on all cores at the configured cost, through the same pwhash
 * module the user service uses. Usage: hashrate SECONDS THREADS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "pwhash.h"
#include "util.h"

static int64_t deadline;
static unsigned long total;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *
worker(void *arg)
{
	char out[PWHASH_STR_LEN];
	unsigned long n = 0;

	(void)arg;
	while (util_mono_us() < deadline) {
		if (pwhash_hash("benchmark password", 18, out) == -1)
			break;
		n++;
	}
	pthread_mutex_lock(&mu);
	total += n;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int
main(int argc, char **argv)
{
	int secs = argc > 1 ? atoi(argv[1]) : 10, threads = argc > 2 ? atoi(argv[2]) : 2, i;
	pthread_t th[64];
	int64_t start;

	if (threads < 1 || threads > 64 || secs < 1)
		return 2;
	if (pwhash_init((size_t)cfg_int("ESM_ARGON2_MEMLIMIT_KIB", PWHASH_MIN_MEM_KIB, PWHASH_MIN_MEM_KIB, 4194304),
	    (unsigned)cfg_int("ESM_ARGON2_OPSLIMIT", PWHASH_MIN_OPS, PWHASH_MIN_OPS, 64)) == -1)
		return 1;
	start = util_mono_us();
	deadline = start + (int64_t)secs * 1000000;
	for (i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	printf("%.1f\n", (double)total * 1e6 / (double)(util_mono_us() - start));
	return 0;
}
