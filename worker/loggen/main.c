/*
 * main.c (esm-loggen): streams test log records to Kafka so a person can
 * watch the log monitor's dashboard move, and so tests and benchmarks can
 * inject records. Each record has exactly the fields of the log contract
 * and goes where a real service's line goes (ERROR and CRITICAL to
 * application-logs-errors, the rest to application-logs, keyed by service).
 *
 *   esm-loggen [-r PER_SECOND] [-n COUNT] [-s SVC,SVC...] [-e ERROR_PERCENT]
 *              [-l LEVEL] [-m MESSAGE] [-t RFC3339_TIME] [-q]
 *
 *   -r  records per second (default 5; 0 = as fast as possible)
 *   -n  records in all, then exit (default: until SIGINT/SIGTERM)
 *   -s  services to pick from (default: a few demo names)
 *   -e  share of ERROR/CRITICAL records in percent (default 30)
 *   -l  every record at this level instead
 *   -m  every record with this message instead of generated ones
 *   -t  every record stamped with this time instead of now
 *   -q  no progress lines
 * ESM_KAFKA_BOOTSTRAP names the brokers. Exits 0 when every record was
 * acknowledged, 1 otherwise.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cfg.h"
#include "kafka.h"
#include "log.h"
#include "logship.h"

#define LOGGEN_SERVICES_MAX 32

static volatile sig_atomic_t loggen_stop;
static uint64_t loggen_acked, loggen_failed;

static void
loggen_on_signal(int sig)
{
	loggen_stop = 1;
}

static void
loggen_on_delivery(void *opaque, int err, const char *errstr, void *ctx)
{
	if (err == 0)
		loggen_acked++;
	else
		loggen_failed++;
}

static const char *const loggen_msgs[] = {
	"database query failed: connection reset by peer",
	"payment gateway timeout after 30000 ms",
	"could not deliver notification: SMTP 451 temporary failure",
	"task worker crashed while processing a report",
	"cache miss storm: 1200 misses per second",
	"request validation failed for field email",
	"upstream returned 502 Bad Gateway",
	"disk usage above 90% on /var",
};

/* The record as one JSON line, malloc'd; NULL on ENOMEM. */
static char *
loggen_record(const char *service, int lvl, const char *msg, const char *ts, long seq)
{
	char now[UTIL_TS_LEN], rid[37], host[128];
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (ts == NULL) {
		util_ts_format(util_now_us(), now);
		ts = now;
	}
	util_uuid4(rid);
	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (o != NULL &&
	    cJSON_AddStringToObject(o, "timestamp", ts) != NULL &&
	    cJSON_AddStringToObject(o, "level", log_level_name((enum log_level)lvl)) != NULL &&
	    cJSON_AddStringToObject(o, "logger", service) != NULL &&
	    cJSON_AddStringToObject(o, "message", msg) != NULL &&
	    cJSON_AddStringToObject(o, "module", "loggen") != NULL &&
	    cJSON_AddStringToObject(o, "function", "generate") != NULL &&
	    cJSON_AddNumberToObject(o, "line", (double)(100 + seq % 900)) != NULL &&
	    cJSON_AddStringToObject(o, "service", service) != NULL &&
	    cJSON_AddStringToObject(o, "host", host) != NULL &&
	    cJSON_AddNumberToObject(o, "process", (double)getpid()) != NULL &&
	    cJSON_AddStringToObject(o, "requestId", rid) != NULL)
		s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void
loggen_usage(void)
{
	fprintf(stderr, "usage: esm-loggen [-r PER_SECOND] [-n COUNT] [-s SVC,SVC...] "
	    "[-e ERROR_PERCENT] [-l LEVEL] [-m MESSAGE] [-t RFC3339_TIME] [-q]\n");
}

int
main(int argc, char **argv)
{
	static const char *defsvc = "payments,inventory,checkout,search,notifications";
	const char *bootstrap = cfg_str("ESM_KAFKA_BOOTSTRAP", NULL), *message = NULL, *ts = NULL;
	char svcbuf[1024], err[256], *svc[LOGGEN_SERVICES_MAX], *tok, *save = NULL;
	int64_t rate = 5, count = -1, errpct = 30, tsus;
	int nsvc = 0, level = -1, quiet = 0, opt, code = 1;
	kafka_producer *p = NULL;
	int64_t start, next_report;
	long seq;
	struct sigaction sa;

	log_init("loggen");
	snprintf(svcbuf, sizeof(svcbuf), "%s", defsvc);
	while ((opt = getopt(argc, argv, "r:n:s:e:l:m:t:q")) != -1) {
		switch (opt) {
		case 'r':
			if (util_parse_i64(optarg, 0, 1000000, &rate) == -1)
				return loggen_usage(), 2;
			break;
		case 'n':
			if (util_parse_i64(optarg, 1, INT64_MAX / 2, &count) == -1)
				return loggen_usage(), 2;
			break;
		case 's':
			if (strlen(optarg) >= sizeof(svcbuf))
				return loggen_usage(), 2;
			snprintf(svcbuf, sizeof(svcbuf), "%s", optarg);
			break;
		case 'e':
			if (util_parse_i64(optarg, 0, 100, &errpct) == -1)
				return loggen_usage(), 2;
			break;
		case 'l':
			if ((level = log_level_parse(optarg)) < 0)
				return loggen_usage(), 2;
			break;
		case 'm':
			message = optarg;
			break;
		case 't':
			if (logship_ts_parse(optarg, &tsus) == -1)
				return loggen_usage(), 2;
			ts = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			return loggen_usage(), 2;
		}
	}
	if (optind != argc)
		return loggen_usage(), 2;
	for (tok = strtok_r(svcbuf, ",", &save); tok != NULL && nsvc < LOGGEN_SERVICES_MAX;
	    tok = strtok_r(NULL, ",", &save))
		svc[nsvc++] = tok;
	if (nsvc == 0 || bootstrap == NULL) {
		fprintf(stderr, "esm-loggen: %s\n", nsvc == 0 ? "no services" :
		    "ESM_KAFKA_BOOTSTRAP is not set (source var/<instance>/env)");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = loggen_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	{
		static const char *const extra[] = { "queue.buffering.max.messages", "1000000",
			"linger.ms", "20", NULL };
		p = kafka_producer_new(bootstrap, 0, 30000, extra, loggen_on_delivery, NULL, err, sizeof(err));
	}
	if (p == NULL) {
		fprintf(stderr, "esm-loggen: kafka producer: %s\n", err);
		return 1;
	}
	srandom((unsigned)(util_now_us() ^ getpid()));
	start = util_mono_us();
	next_report = start + 1000000;
	for (seq = 0; !loggen_stop && (count < 0 || seq < count); seq++) {
		const char *s = svc[random() % nsvc];
		int lvl = level;
		char *rec, msg[256];

		if (lvl < 0) {
			int roll = (int)(random() % 100);
			lvl = roll < errpct ? (roll % 5 == 0 ? LOG_LVL_CRITICAL : LOG_LVL_ERROR) :
			    (roll % 3 == 0 ? LOG_LVL_WARNING : LOG_LVL_INFO);
		}
		snprintf(msg, sizeof(msg), "%s (test record %ld)",
		    loggen_msgs[random() % (long)ESM_NELEM(loggen_msgs)], seq + 1);
		if ((rec = loggen_record(s, lvl, message != NULL ? message : msg, ts, seq)) == NULL)
			break;
		while (kafka_produce(p, logship_topic((enum log_level)lvl), s, rec, strlen(rec), NULL, 0,
		    NULL) == -1 && !loggen_stop)
			kafka_poll(p, 10);	/* local queue full: let it drain */
		free(rec);
		kafka_poll(p, 0);
		if (rate > 0) {
			int64_t due = start + (seq + 1) * 1000000 / rate, now = util_mono_us();
			if (due > now) {
				struct timespec t = { (time_t)((due - now) / 1000000), (long)((due - now) % 1000000) * 1000 };
				nanosleep(&t, NULL);
			}
		}
		if (!quiet && util_mono_us() >= next_report) {
			fprintf(stderr, "esm-loggen: %ld sent, %llu acknowledged\n", seq + 1,
			    (unsigned long long)loggen_acked);
			next_report += 1000000;
		}
	}
	if (kafka_flush(p, 30000) == -1)
		fprintf(stderr, "esm-loggen: some records had no report after 30 s\n");
	if (!quiet || loggen_failed > 0)
		fprintf(stderr, "esm-loggen: %ld sent, %llu acknowledged, %llu failed\n", seq,
		    (unsigned long long)loggen_acked, (unsigned long long)loggen_failed);
	code = loggen_failed == 0 && loggen_acked == (uint64_t)seq ? 0 : 1;
	kafka_producer_free(p, 1000);
	return code;
}
