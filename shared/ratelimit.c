/*
 * ratelimit.c: see ratelimit.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "log.h"
#include "ratelimit.h"

#define RATELIMIT_PURGE_EVERY 1000	/* hits per process between purges */

int
ratelimit_parse(const char *s, struct rate *out)
{
	char num[24];
	const char *slash;
	int64_t n, w;
	size_t l;

	if (s == NULL)
		return -1;
	if (strcmp(s, "off") == 0) {
		out->limit = 0;
		out->window_s = 1;
		return 0;
	}
	if ((slash = strchr(s, '/')) == NULL || (l = (size_t)(slash - s)) == 0 || l >= sizeof(num))
		return -1;
	memcpy(num, s, l);
	num[l] = '\0';
	if (util_parse_i64(num, 0, 1000000000, &n) == -1 ||
	    util_parse_i64(slash + 1, 1, 86400, &w) == -1)
		return -1;
	out->limit = (int)n;
	out->window_s = (int)w;
	return 0;
}

struct rate
ratelimit_cfg(const char *name, const char *def)
{
	struct rate r;

	if (ratelimit_parse(cfg_str(name, def), &r) == -1) {
		log_crit("config %s: expected N/SECONDS or off", name);
		exit(2);
	}
	return r;
}

int
ratelimit_hit(db *d, size_t stmt, int purge_stmt, const char *bucket,
    const struct rate *rate, int *retry_after_s)
{
	static unsigned hits;
	char win[16];
	const char *p[2];
	db_res *res = NULL;
	int64_t count = 0, retry = 1;
	int rc;

	*retry_after_s = 0;
	if (rate->limit == 0)
		return 0;
	snprintf(win, sizeof(win), "%d", rate->window_s);
	p[0] = bucket;
	p[1] = win;
	if ((rc = db_exec(d, stmt, p, 2, &res)) != DB_OK)
		return rc;
	if (util_parse_i64(db_get(res, 0, 0), 0, INT64_MAX, &count) == -1 ||
	    util_parse_i64(db_get(res, 0, 1), 0, 86400, &retry) == -1) {
		db_res_free(res);
		return DB_ERROR;
	}
	db_res_free(res);
	if (purge_stmt >= 0 && ++hits % RATELIMIT_PURGE_EVERY == 0) {
		p[0] = "86400";
		if (db_exec(d, (size_t)purge_stmt, p, 1, NULL) != DB_OK)
			log_warn("rate limit purge failed");
	}
	if (count > rate->limit) {
		*retry_after_s = (int)(retry > 0 ? retry : 1);
		return 1;
	}
	return 0;
}
