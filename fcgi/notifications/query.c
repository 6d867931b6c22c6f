/*
 * query.c: the notification list's paging limits and status values. Pure;
 * query strings themselves are shared/query.c.
 */
#include <string.h>

#include "notifs.h"
#include "util.h"

int
notifs_paging(const char *limit, const char *offset, int64_t *lim, int64_t *off, const char **bad)
{
	return query_paging(limit, offset, NOTIFS_PAGE_DEFAULT, NOTIFS_PAGE_MAX, NOTIFS_OFFSET_MAX,
	    lim, off, bad);
}

int
notifs_valid_status(const char *s)
{
	return strcmp(s, "pending") == 0 || strcmp(s, "sent") == 0 || strcmp(s, "failed") == 0 ||
	    strcmp(s, "undeliverable") == 0;
}

int
notifs_valid_bool(const char *s)
{
	return strcmp(s, "true") == 0 || strcmp(s, "false") == 0;
}

int
notifs_valid_event_type(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}
