/*
 * logship.c: see logship.h. The sink runs in the thread that logs (the
 * programs are single-threaded; librdkafka's own logs and errors are served
 * from kafka_poll on that thread too, see kafka.c), so a thread-local flag
 * is enough to stop re-entry.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg.h"
#include "kafka.h"
#include "logship.h"
#include "metrics.h"

struct logship {
	kafka_producer *p;
	char service[64];
};

/* Set while this thread is inside the shipper: a line logged then (by the
 * Kafka client, from a callback) goes to stderr only. */
static _Thread_local int ls_busy;

const char *
logship_topic(enum log_level lvl)
{
	return lvl >= LOG_LVL_ERROR ? LOGSHIP_TOPIC_ERRORS : LOGSHIP_TOPIC;
}

int
logship_is_kafka_line(const char *json, size_t len)
{
	static const char pat[] = ",\"module\":\"kafka\",";

	/* Inside an escaped string a quote is always preceded by a backslash,
	 * so this sequence only matches the module field itself. */
	return memmem(json, len, pat, sizeof(pat) - 1) != NULL;
}

static void
logship_on_delivery(void *opaque, int err, const char *errstr, void *ctx)
{
	(void)opaque;
	(void)errstr;
	(void)ctx;
	metrics_add(err == 0 ? MC_LOG_SHIPPED : MC_LOG_DROPPED, 1);
}

static void
logship_sink(enum log_level lvl, const char *json, size_t len, void *arg)
{
	logship *s = arg;

	if (s == NULL || ls_busy || logship_is_kafka_line(json, len))
		return;
	ls_busy = 1;
	if (kafka_produce(s->p, logship_topic(lvl), s->service, json, len, NULL, 0, NULL) == -1)
		metrics_add(MC_LOG_DROPPED, 1);
	ls_busy = 0;
}

logship *
logship_new(const char *bootstrap, const char *service, char *err, size_t errlen)
{
	char qmax[24];
	const char *extra[] = {
		"queue.buffering.max.messages", qmax,
		"queue.buffering.max.kbytes", "16384",
		"client.id", "logship",
		NULL
	};
	logship *s;
	int tmo;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(qmax, sizeof(qmax), "%lld",
	    (long long)cfg_int("ESM_LOGSHIP_QUEUE", 10000, 1, 1000000));
	tmo = (int)cfg_int("ESM_LOGSHIP_TIMEOUT_MS", 30000, 100, 3600000);
	snprintf(s->service, sizeof(s->service), "%s", service != NULL ? service : "unknown");
	ls_busy = 1;	/* the constructor may log */
	s->p = kafka_producer_new(bootstrap, 0, tmo, extra, logship_on_delivery, s, err, errlen);
	ls_busy = 0;
	if (s->p == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

void
logship_install(logship *s)
{
	log_set_sink(s != NULL ? logship_sink : NULL, s);
}

void
logship_poll(logship *s)
{
	if (s == NULL)
		return;
	ls_busy = 1;
	kafka_poll(s->p, 0);
	ls_busy = 0;
}

kafka_producer *
logship_producer(logship *s)
{
	return s != NULL ? s->p : NULL;
}

void
logship_free(logship *s, int timeout_ms)
{
	if (s == NULL)
		return;
	log_set_sink(NULL, NULL);
	ls_busy = 1;
	kafka_producer_free(s->p, timeout_ms);
	ls_busy = 0;
	free(s);
}

logship *
logship_from_env(const char *service)
{
	const char *bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL);
	char err[256];
	logship *s;

	if (bootstrap == NULL || !cfg_bool("ESM_LOG_SHIP", 1))
		return NULL;
	if ((s = logship_new(bootstrap, service, err, sizeof(err))) == NULL) {
		log_error("log shipping disabled: %s", err);
		return NULL;
	}
	logship_install(s);
	return s;
}

/* n digits at s as a number; -1 when one is not a digit. */
static int
ls_digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int
logship_ts_parse(const char *s, int64_t *us)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h, m, sec, oh, om, sign, leap;
	int64_t frac = 0, scale = 100000, days;
	const char *p;
	struct tm tm;

	if (s == NULL || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
		return -1;
	if ((Y = ls_digits(s, 4)) < 1970 || (M = ls_digits(s + 5, 2)) < 1 || M > 12 ||
	    (D = ls_digits(s + 8, 2)) < 1 || (h = ls_digits(s + 11, 2)) < 0 || h > 23 ||
	    (m = ls_digits(s + 14, 2)) < 0 || m > 59 || (sec = ls_digits(s + 17, 2)) < 0 || sec > 60)
		return -1;
	leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
		return -1;
	p = s + 19;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 0) {
				frac += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		oh = om = 0;
		sign = 1;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		sign = *p == '-' ? -1 : 1;
		if ((oh = ls_digits(p + 1, 2)) < 0 || oh > 23 || (om = ls_digits(p + 4, 2)) < 0 || om > 59)
			return -1;
	} else {
		return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	days = (int64_t)timegm(&tm) / 86400;
	*us = ((days * 86400 + h * 3600 + m * 60 + (sec == 60 ? 59 : sec)) -
	    sign * (int64_t)(oh * 3600 + om * 60)) * 1000000 + frac;
	return 0;
}
