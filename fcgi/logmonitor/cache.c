/*
 * cache.c: a per-process micro-cache of the log API's GET answers. A wall
 * of dashboards polling every 750 ms would otherwise cost the database one
 * query per viewer per poll; with the cache each pool process asks at most
 * once per ESM_LOGMON_CACHE_MS (default 250 ms, 0 turns it off) for each
 * distinct path and query. The delay it adds stays well inside the 2 s in
 * which a new error must reach the page. Authorization runs before the
 * cache is consulted; the answers hold no per-user data.
 */
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "logmon.h"

#define LM_CACHE_SLOTS 16
#define LM_CACHE_KEY 320

struct lm_cache_ent {
	char key[LM_CACHE_KEY];
	char *body;
	size_t len;
	int64_t until;		/* monotonic us */
};

static struct lm_cache_ent lm_cache[LM_CACHE_SLOTS];
static int64_t lm_cache_ttl_us = -1;

static int64_t
lm_ttl(void)
{
	if (lm_cache_ttl_us < 0)
		lm_cache_ttl_us = cfg_int("ESM_LOGMON_CACHE_MS", 250, 0, 10000) * 1000;
	return lm_cache_ttl_us;
}

/* The cache key of r: path and query; 0, or -1 when too long to cache. */
static int
lm_key(const struct http_req *r, char *key)
{
	size_t pl = strlen(r->path), ql = strlen(r->query);

	if (pl + ql + 2 > LM_CACHE_KEY)
		return -1;
	memcpy(key, r->path, pl);
	key[pl] = '?';
	memcpy(key + pl + 1, r->query, ql + 1);
	return 0;
}

int
logmon_cache_reply(struct http_req *r)
{
	char key[LM_CACHE_KEY];
	int64_t now = util_mono_us();
	size_t i;

	if (lm_ttl() == 0 || lm_key(r, key) == -1)
		return 0;
	for (i = 0; i < LM_CACHE_SLOTS; i++)
		if (lm_cache[i].body != NULL && lm_cache[i].until > now &&
		    strcmp(lm_cache[i].key, key) == 0) {
			http_reply(r, 200, "application/json", lm_cache[i].body, lm_cache[i].len);
			return 1;
		}
	return 0;
}

int
logmon_cache_store_reply(struct http_req *r, const cJSON *json)
{
	char key[LM_CACHE_KEY];
	struct lm_cache_ent *slot = NULL;
	int64_t now = util_mono_us();
	char *s = cJSON_PrintUnformatted(json);
	size_t i, len;
	int rc;

	if (s == NULL)
		return http_error(r, 500, "out of memory", NULL);
	len = strlen(s);
	rc = http_reply(r, 200, "application/json", s, len);
	if (lm_ttl() == 0 || lm_key(r, key) == -1) {
		cJSON_free(s);
		return rc;
	}
	/* Same key, else an expired slot, else the one expiring first. */
	for (i = 0; i < LM_CACHE_SLOTS; i++)
		if (lm_cache[i].body != NULL && strcmp(lm_cache[i].key, key) == 0)
			slot = &lm_cache[i];
	for (i = 0; slot == NULL && i < LM_CACHE_SLOTS; i++)
		if (lm_cache[i].body == NULL || lm_cache[i].until <= now)
			slot = &lm_cache[i];
	if (slot == NULL) {
		slot = &lm_cache[0];
		for (i = 1; i < LM_CACHE_SLOTS; i++)
			if (lm_cache[i].until < slot->until)
				slot = &lm_cache[i];
	}
	cJSON_free(slot->body);
	memcpy(slot->key, key, strlen(key) + 1);
	slot->body = s;
	slot->len = len;
	slot->until = now + lm_ttl();
	return rc;
}
