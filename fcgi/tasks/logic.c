/*
 * logic.c: the task service's pure decisions: the closed vocabularies,
 * the status state machine, the pending cap, task references, query
 * strings and paging.
 * No I/O; tested directly in tests/unit/test_tasks.c.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tasks.h"
#include "util.h"

static const char *const tasks_types[] = {
	"data_processing", "file_upload", "report_generation", "data_export", "image_processing"
};
static const char *const tasks_priorities[] = { "low", "medium", "high", "critical" };
static const char *const tasks_statuses[] = {
	"pending", "processing", "completed", "failed", "cancelled"
};

/* Allowed transitions, from -> to. */
static const struct { const char *from, *to; } tasks_transitions[] = {
	{ "pending", "processing" },
	{ "pending", "cancelled" },
	{ "processing", "completed" },
	{ "processing", "failed" },
	{ "processing", "cancelled" },
};

static int
in_list(const char *const *list, size_t n, const char *s, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(list[i], s, len) == 0)
			return 1;
	return 0;
}

int
tasks_valid_type(const char *s, size_t n)
{
	return in_list(tasks_types, ESM_NELEM(tasks_types), s, n);
}

int
tasks_valid_priority(const char *s, size_t n)
{
	return in_list(tasks_priorities, ESM_NELEM(tasks_priorities), s, n);
}

int
tasks_valid_status(const char *s, size_t n)
{
	return in_list(tasks_statuses, ESM_NELEM(tasks_statuses), s, n);
}

int
tasks_transition_ok(const char *from, const char *to)
{
	for (size_t i = 0; i < ESM_NELEM(tasks_transitions); i++)
		if (strcmp(tasks_transitions[i].from, from) == 0 &&
		    strcmp(tasks_transitions[i].to, to) == 0)
			return 1;
	return 0;
}

int
tasks_cancellable(const char *status)
{
	return tasks_transition_ok(status, "cancelled");
}

void
tasks_reference(int64_t now_us, uint32_t rnd, char out[TASKS_REF_LEN + 1])
{
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;
	char day[16];

	gmtime_r(&t, &tm);
	/* strftime bounds the date; the format checker cannot see the ranges. */
	if (strftime(day, sizeof(day), "%Y%m%d", &tm) != 8)
		memcpy(day, "00000000", 9);
	snprintf(out, TASKS_REF_LEN + 1, "TASK%.8s%08X", day, (unsigned)rnd);
}

int
tasks_paging(const char *limit, const char *offset, int64_t *lim, int64_t *off, const char **bad)
{
	return query_paging(limit, offset, TASKS_PAGE_DEFAULT, TASKS_PAGE_MAX, TASKS_OFFSET_MAX,
	    lim, off, bad);
}

int
tasks_pending_full(int64_t pending, int64_t max)
{
	return max > 0 && pending >= max;
}
