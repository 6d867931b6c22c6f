/*
 * log.c: JSON-line logging. Each record is formatted once into a stack
 * buffer, written to stderr with a single write(2) (so lines from the
 * processes of one pool never interleave), then handed to the sink.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

#define LOG_MSG_MAX 2048	/* longer messages are cut: callers log causes, not bodies */
#define LOG_LINE_MAX 8192

static char log_service[64] = "unknown";
static char log_host[128] = "localhost";
static char log_rid[72];
static enum log_level log_min = LOG_LVL_INFO;
static log_sink_fn log_sink;
static void *log_sink_arg;

static const char *const log_names[] = { "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL" };

const char *
log_level_name(enum log_level lvl)
{
	return (unsigned)lvl < ESM_NELEM(log_names) ? log_names[lvl] : "INFO";
}

int
log_level_parse(const char *s)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < ESM_NELEM(log_names); i++)
		if (strcasecmp(s, log_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warn") == 0)
		return LOG_LVL_WARNING;
	return -1;
}

void
log_init(const char *service)
{
	const char *lv = getenv("ESM_LOG_LEVEL");
	int l;

	snprintf(log_service, sizeof(log_service), "%s", service);
	if (gethostname(log_host, sizeof(log_host)) == -1)
		snprintf(log_host, sizeof(log_host), "localhost");
	log_host[sizeof(log_host) - 1] = '\0';
	if (lv != NULL && (l = log_level_parse(lv)) >= 0)
		log_min = (enum log_level)l;
}

void
log_set_sink(log_sink_fn fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

void
log_set_request_id(const char *rid)
{
	if (rid == NULL)
		log_rid[0] = '\0';
	else
		snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

/* Appends "key":"escaped value" to a fixed buffer; truncation keeps JSON valid
 * because the caller checks the final length and falls back. */
static int
log_put(char *out, size_t cap, size_t *len, const char *key, const char *val, int first)
{
	buf_t b = { 0 };
	int rc = -1;

	if (buf_printf(&b, "%s\"%s\":\"", first ? "" : ",", key) == -1 ||
	    buf_json_escape(&b, val, strlen(val)) == -1 || buf_puts(&b, "\"") == -1)
		goto out;
	if (*len + b.len >= cap)
		goto out;
	memcpy(out + *len, b.p, b.len);
	*len += b.len;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

void
log_emit(enum log_level lvl, const char *file, const char *func, int line,
    const char *fmt, ...)
{
	char msg[LOG_MSG_MAX], line_buf[LOG_LINE_MAX], ts[UTIL_TS_LEN], module[64], num[48];
	const char *base;
	size_t len = 0, mlen;
	va_list ap;

	if (lvl < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Cut at a character boundary so the escaped message stays valid UTF-8. */
	mlen = strlen(msg);
	while (mlen > 0 && !util_utf8_valid(msg, mlen))
		msg[--mlen] = '\0';

	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	snprintf(module, sizeof(module), "%s", base);
	if ((module[0] != '\0') && strchr(module, '.') != NULL)
		*strrchr(module, '.') = '\0';
	util_ts_format(util_now_us(), ts);

	line_buf[len++] = '{';
	if (log_put(line_buf, sizeof(line_buf), &len, "timestamp", ts, 1) == -1 ||
	    log_put(line_buf, sizeof(line_buf), &len, "level", log_level_name(lvl), 0) == -1 ||
	    log_put(line_buf, sizeof(line_buf), &len, "logger", log_service, 0) == -1 ||
	    log_put(line_buf, sizeof(line_buf), &len, "message", msg, 0) == -1 ||
	    log_put(line_buf, sizeof(line_buf), &len, "module", module, 0) == -1 ||
	    log_put(line_buf, sizeof(line_buf), &len, "function", func, 0) == -1)
		return;
	snprintf(num, sizeof(num), ",\"line\":%d", line);
	if (len + strlen(num) >= sizeof(line_buf))
		return;
	memcpy(line_buf + len, num, strlen(num));
	len += strlen(num);
	if (log_put(line_buf, sizeof(line_buf), &len, "service", log_service, 0) == -1 ||
	    log_put(line_buf, sizeof(line_buf), &len, "host", log_host, 0) == -1)
		return;
	snprintf(num, sizeof(num), ",\"process\":%ld", (long)getpid());
	if (len + strlen(num) >= sizeof(line_buf))
		return;
	memcpy(line_buf + len, num, strlen(num));
	len += strlen(num);
	if (log_put(line_buf, sizeof(line_buf), &len, "requestId", log_rid, 0) == -1)
		return;
	if (len + 2 >= sizeof(line_buf))
		return;
	line_buf[len++] = '}';
	line_buf[len] = '\0';
	if (log_sink != NULL)
		log_sink(lvl, line_buf, len, log_sink_arg);
	line_buf[len++] = '\n';
	/* One write per line: pool members share the same stderr file. */
	if (write(STDERR_FILENO, line_buf, len) < 0) {
		/* Nowhere left to report it. */
	}
}
