/*
 * revoke.c: see revoke.h. The list is an open-addressing hash set of
 * session ids with the time each entry may be forgotten; it is rebuilt
 * (dropping what expired) whenever it would grow past half full.
 */
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "json.h"
#include "log.h"
#include "revoke.h"

/* A revocation is read by its timestamp, taken before its transaction
 * commits; fetching again from this far back catches one that committed
 * late. Entries are a set, so reading one twice changes nothing. */
#define REVOKE_OVERLAP_US 5000000
#define REVOKE_PAGES_MAX 64		/* per refresh; the rest at the next */
#define REVOKE_MIN_SLOTS 64
#define TIME_MAX 9007199254740992.0

struct entry {
	char sid[REVOKE_SID_MAX + 1];	/* "" = free slot */
	int64_t until;
};

static struct entry *g_tab;
static size_t g_cap, g_n;
static revoke_source g_src;
static int64_t g_every_us = 1000000;
static int64_t g_tried_at;		/* monotonic us of the last fetch */
static int64_t g_since;			/* where the next fetch starts */
static int g_have;			/* a fetch has completed */
static int g_used;			/* a token was checked */
static int g_failing;

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static struct entry *
slot(struct entry *tab, size_t cap, const char *sid)
{
	size_t i = (size_t)hash(sid) & (cap - 1);

	while (tab[i].sid[0] != '\0' && strcmp(tab[i].sid, sid) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

/* Moves the live entries into a table of cap slots. */
static int
rebuild(size_t cap, int64_t now)
{
	struct entry *tab = calloc(cap, sizeof(*tab)), *e;
	size_t i, n = 0;

	if (tab == NULL)
		return -1;
	for (i = 0; i < g_cap; i++) {
		if (g_tab[i].sid[0] == '\0' || g_tab[i].until < now)
			continue;
		e = slot(tab, cap, g_tab[i].sid);
		*e = g_tab[i];
		n++;
	}
	free(g_tab);
	g_tab = tab;
	g_cap = cap;
	g_n = n;
	return 0;
}

int
revoke_add(const char *sid, int64_t until_s)
{
	int64_t now = (int64_t)time(NULL);
	size_t len = sid != NULL ? strnlen(sid, REVOKE_SID_MAX + 1) : 0;
	struct entry *e;

	if (len == 0 || len > REVOKE_SID_MAX)
		return -1;
	if (until_s < now)
		return 0;	/* its tokens have expired already */
	if ((g_n + 1) * 2 > g_cap) {
		size_t cap = REVOKE_MIN_SLOTS;

		/* Drop what expired, then grow if that was not enough. */
		if (g_tab != NULL && rebuild(g_cap, now) == -1)
			return -1;
		while ((g_n + 1) * 2 > cap)
			cap *= 2;
		if (cap < g_cap)
			cap = g_cap;
		if ((g_tab == NULL || cap != g_cap) && rebuild(cap, now) == -1)
			return -1;
	}
	e = slot(g_tab, g_cap, sid);
	if (e->sid[0] == '\0') {
		memcpy(e->sid, sid, len + 1);
		e->until = until_s;
		g_n++;
	} else if (e->until < until_s) {
		e->until = until_s;
	}
	return 0;
}

static int
lookup(const char *sid, int64_t now_s)
{
	const struct entry *e;

	if (g_n == 0 || sid == NULL || sid[0] == '\0' || strnlen(sid, REVOKE_SID_MAX + 1) >
	    REVOKE_SID_MAX)
		return 0;
	e = slot(g_tab, g_cap, sid);
	return e->sid[0] != '\0' && e->until >= now_s;
}

static void
refresh(void)
{
	int64_t since = g_since, upto = 0;
	int more = 0, pages = 0;

	g_tried_at = util_mono_us();
	do {
		if (g_src(since, &upto, &more) == -1) {
			if (!g_failing)
				log_warn("revoked sessions: the source did not answer; "
				    "checking against the list as of its last answer");
			g_failing = 1;
			return;
		}
		if (upto < since)
			upto = since;
		since = upto;
	} while (more && ++pages < REVOKE_PAGES_MAX);
	if (g_failing)
		log_info("revoked sessions: the source answers again");
	g_failing = 0;
	g_have = 1;
	g_since = more ? upto : (upto > REVOKE_OVERLAP_US ? upto - REVOKE_OVERLAP_US : 0);
}

void
revoke_setup(revoke_source src, int refresh_ms)
{
	g_src = src;
	g_every_us = (int64_t)(refresh_ms > 0 ? refresh_ms : 1000) * 1000;
}

int
revoke_check(const char *sid, int64_t now_s)
{
	if (g_src == NULL)
		return 0;
	g_used = 1;
	if (!g_have || util_mono_us() - g_tried_at >= g_every_us)
		refresh();
	return lookup(sid, now_s);
}

void
revoke_tick(void)
{
	if (g_src != NULL && g_used && util_mono_us() - g_tried_at >= g_every_us / 2)
		refresh();
}

size_t
revoke_count(void)
{
	return g_n;
}

void
revoke_reset(void)
{
	free(g_tab);
	g_tab = NULL;
	g_cap = g_n = 0;
	g_since = g_tried_at = 0;
	g_have = g_used = g_failing = 0;
}

/* Whole number in [0, 2^53], so the double converts exactly. */
static int
get_count(const cJSON *o, const char *name, int64_t *v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= TIME_MAX) ||
	    it->valuedouble != (double)(int64_t)it->valuedouble)
		return -1;
	*v = (int64_t)it->valuedouble;
	return 0;
}

int
revoke_parse(const char *json, size_t len, int64_t *upto_us, int *more)
{
	const cJSON *list, *it, *sid, *m;
	const char *why;
	cJSON *j = NULL;
	int64_t until;
	int rc = -1;

	if (json_parse_strict(json, len, 4, &j, &why) == -1 || !cJSON_IsObject(j) ||
	    !cJSON_IsArray(list = cJSON_GetObjectItemCaseSensitive(j, "revoked")) ||
	    get_count(j, "upto", upto_us) == -1 ||
	    !cJSON_IsBool(m = cJSON_GetObjectItemCaseSensitive(j, "more")))
		goto out;
	cJSON_ArrayForEach(it, list) {
		if (!cJSON_IsObject(it))
			goto out;
		sid = cJSON_GetObjectItemCaseSensitive(it, "sid");
		if (!cJSON_IsString(sid) || get_count(it, "until", &until) == -1 ||
		    revoke_add(sid->valuestring, until) == -1)
			goto out;
	}
	*more = cJSON_IsTrue(m);
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}
