/*
 * log.h: one JSON object per line on stderr, with the fields of the
 * application-logs contract (timestamp, level, logger, message, module,
 * function, line, service, host, process, requestId). An optional sink
 * receives each finished line as well (log shipping to Kafka plugs in there).
 * Callers cap and never pass secrets; the message is escaped here.
 */
#ifndef ESM_LOG_H
#define ESM_LOG_H

#include <stddef.h>
#include "util.h"

enum log_level {
	LOG_LVL_DEBUG,
	LOG_LVL_INFO,
	LOG_LVL_WARNING,
	LOG_LVL_ERROR,
	LOG_LVL_CRITICAL
};

/* Sink for finished lines: called with the level and the JSON text (no
 * newline). It must not block or log itself. */
typedef void (*log_sink_fn)(enum log_level lvl, const char *json, size_t len, void *arg);

/* service: the service name of every line. Reads ESM_LOG_LEVEL
 * (debug|info|warning|error|critical, default info). */
void log_init(const char *service);
void log_set_sink(log_sink_fn fn, void *arg);
/* Request id attached to following lines until cleared with NULL. Copied. */
void log_set_request_id(const char *rid);
const char *log_level_name(enum log_level lvl);
/* Parses a level name (case-insensitive); -1 when unknown. */
int log_level_parse(const char *s);

void log_emit(enum log_level lvl, const char *file, const char *func, int line,
    const char *fmt, ...) ESM_PRINTF(5, 6);

#define log_debug(...) log_emit(LOG_LVL_DEBUG, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_info(...) log_emit(LOG_LVL_INFO, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_warn(...) log_emit(LOG_LVL_WARNING, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_error(...) log_emit(LOG_LVL_ERROR, __FILE__, __func__, __LINE__, __VA_ARGS__)
#define log_crit(...) log_emit(LOG_LVL_CRITICAL, __FILE__, __func__, __LINE__, __VA_ARGS__)

#endif
