/*
 * metrics.h: request counters by route and status, a latency histogram per
 * route, and a few named counters, rendered in Prometheus text format. The
 * processes of one prefork pool share the numbers through a file mapped
 * MAP_SHARED (ESM_METRICS_FILE); without it each process counts alone.
 */
#ifndef ESM_METRICS_H
#define ESM_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

#define METRICS_ROUTES 48

enum metrics_counter {
	MC_DB_ERRORS,
	MC_RATE_LIMITED,
	MC_LOG_SHIPPED,
	MC_LOG_DROPPED,
	MC_EVENTS_WRITTEN,
	MC_COUNT_ = 16
};

/* Maps the shared file at path (created if needed), or private memory when
 * path is NULL. 0 / -1 (then private memory is used anyway). */
int metrics_open(const char *path) ESM_WUR;
/* Records one request: route index (-1 when no route matched), status,
 * duration in microseconds. Lock-free. */
void metrics_observe(int route, int status, int64_t us);
void metrics_add(enum metrics_counter c, uint64_t v);
uint64_t metrics_get(enum metrics_counter c);

/* Appends the Prometheus exposition for service to b, a HELP and a TYPE
 * line before each family; route i is labelled "METHOD pattern" from the
 * two arrays. 0 / -1. */
int metrics_render(buf_t *b, const char *service, const char *const *methods,
    const char *const *patterns, size_t nroutes) ESM_WUR;

#endif
