/*
 * metrics.c: shared counters. Increments are relaxed atomic adds on a
 * mapping every pool member shares; a scrape reads whatever is there, which
 * is all Prometheus asks of a counter.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define NSTATUS 16
#define NBUCKETS 12
#define METRICS_MAGIC 0x45534d4d45545231ULL	/* "ESMMETR1" */

static const int statuses[NSTATUS - 1] = {
	200, 201, 204, 400, 401, 403, 404, 405, 409, 411, 413, 415, 429, 500, 503
};
static const int64_t bucket_us[NBUCKETS - 1] = {
	1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000
};
static const char *const bucket_le[NBUCKETS] = {
	"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
	"2.5", "+Inf"
};
static const struct {
	const char *name, *help;
} counters[MC_COUNT_] = {
	[MC_DB_ERRORS] = { "esm_db_errors_total",
	    "Requests answered 500 or 503 because the database failed." },
	[MC_RATE_LIMITED] = { "esm_rate_limited_total",
	    "Requests refused with 429 by a rate limit or cap." },
	[MC_LOG_SHIPPED] = { "esm_log_records_shipped_total",
	    "Log lines shipped to Kafka." },
	[MC_LOG_DROPPED] = { "esm_log_records_dropped_total",
	    "Log lines dropped: the shipping queue was full or the broker did not take them in time." },
	[MC_EVENTS_WRITTEN] = { "esm_events_written_total",
	    "Events written to the outbox with the change that caused them." },
};

struct shm {
	uint64_t magic;
	uint64_t req[METRICS_ROUTES + 1][NSTATUS];	/* last row: unmatched */
	uint64_t hist[METRICS_ROUTES + 1][NBUCKETS];
	uint64_t sum_us[METRICS_ROUTES + 1];
	uint64_t counters[MC_COUNT_];
};

static struct shm private_shm;
static struct shm *m = &private_shm;

int
metrics_open(const char *path)
{
	struct shm *p;
	int fd;

	if (path == NULL || *path == '\0')
		return 0;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		log_warn("metrics file %s: cannot open, counting per process", path);
		return -1;
	}
	/* Every pool member sizes the file the same; racing is harmless. */
	if (ftruncate(fd, sizeof(struct shm)) == -1) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	if (__atomic_load_n(&p->magic, __ATOMIC_RELAXED) != METRICS_MAGIC) {
		uint64_t zero = 0;
		/* First process to map a fresh (zero) file stamps it; a file of
		 * another layout is reset. */
		if (!__atomic_compare_exchange_n(&p->magic, &zero, METRICS_MAGIC, 0,
		    __ATOMIC_RELAXED, __ATOMIC_RELAXED) && p->magic != METRICS_MAGIC) {
			memset(p, 0, sizeof(*p));
			p->magic = METRICS_MAGIC;
		}
	}
	m = p;
	return 0;
}

static int
status_index(int status)
{
	int i;

	for (i = 0; i < NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS - 1;
}

void
metrics_observe(int route, int status, int64_t us)
{
	int b;

	if (route < 0 || route >= METRICS_ROUTES)
		route = METRICS_ROUTES;
	for (b = 0; b < NBUCKETS - 1 && us > bucket_us[b]; b++)
		;
	__atomic_fetch_add(&m->req[route][status_index(status)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->hist[route][b], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&m->sum_us[route], (uint64_t)(us > 0 ? us : 0), __ATOMIC_RELAXED);
}

void
metrics_add(enum metrics_counter c, uint64_t v)
{
	if ((unsigned)c < MC_COUNT_)
		__atomic_fetch_add(&m->counters[c], v, __ATOMIC_RELAXED);
}

uint64_t
metrics_get(enum metrics_counter c)
{
	return (unsigned)c < MC_COUNT_ ? __atomic_load_n(&m->counters[c], __ATOMIC_RELAXED) : 0;
}

int
metrics_render(buf_t *b, const char *service, const char *const *methods,
    const char *const *patterns, size_t nroutes)
{
	size_t r, i;

	if (nroutes > METRICS_ROUTES)
		nroutes = METRICS_ROUTES;
	if (buf_puts(b, "# HELP esm_http_requests_total Requests answered, by route and status.\n"
	    "# TYPE esm_http_requests_total counter\n") == -1)
		return -1;
	for (r = 0; r <= nroutes; r++) {
		size_t row = r == nroutes ? METRICS_ROUTES : r;
		const char *meth = r == nroutes ? "ANY" : methods[r];
		const char *pat = r == nroutes ? "unmatched" : patterns[r];

		for (i = 0; i < NSTATUS; i++) {
			uint64_t v = __atomic_load_n(&m->req[row][i], __ATOMIC_RELAXED);
			if (v == 0)
				continue;
			if (i < NSTATUS - 1) {
				if (buf_printf(b, "esm_http_requests_total{service=\"%s\",method=\"%s\","
				    "route=\"%s\",status=\"%d\"} %llu\n", service, meth, pat,
				    statuses[i], (unsigned long long)v) == -1)
					return -1;
			} else if (buf_printf(b, "esm_http_requests_total{service=\"%s\",method=\"%s\","
			    "route=\"%s\",status=\"other\"} %llu\n", service, meth, pat,
			    (unsigned long long)v) == -1)
				return -1;
		}
	}
	if (buf_puts(b, "# HELP esm_http_request_duration_seconds Time from a request's dispatch to "
	    "its answer, by route.\n"
	    "# TYPE esm_http_request_duration_seconds histogram\n") == -1)
		return -1;
	for (r = 0; r < nroutes; r++) {
		uint64_t cum = 0;
		for (i = 0; i < NBUCKETS; i++) {
			cum += __atomic_load_n(&m->hist[r][i], __ATOMIC_RELAXED);
			if (buf_printf(b, "esm_http_request_duration_seconds_bucket{service=\"%s\","
			    "method=\"%s\",route=\"%s\",le=\"%s\"} %llu\n", service, methods[r],
			    patterns[r], bucket_le[i], (unsigned long long)cum) == -1)
				return -1;
		}
		if (buf_printf(b, "esm_http_request_duration_seconds_sum{service=\"%s\",method=\"%s\","
		    "route=\"%s\"} %.6f\n", service, methods[r], patterns[r],
		    (double)__atomic_load_n(&m->sum_us[r], __ATOMIC_RELAXED) / 1e6) == -1 ||
		    buf_printf(b, "esm_http_request_duration_seconds_count{service=\"%s\",method=\"%s\","
		    "route=\"%s\"} %llu\n", service, methods[r], patterns[r],
		    (unsigned long long)cum) == -1)
			return -1;
	}
	for (i = 0; i < MC_COUNT_; i++) {
		if (counters[i].name == NULL)
			continue;
		if (buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s{service=\"%s\"} %llu\n",
		    counters[i].name, counters[i].help, counters[i].name, counters[i].name, service,
		    (unsigned long long)__atomic_load_n(&m->counters[i], __ATOMIC_RELAXED)) == -1)
			return -1;
	}
	return 0;
}
