/*
 * soak.c: a bounded, paced mixed load on loopback for `make soak`. Threads
 * send requests at a fixed total rate (profile reads, token validations,
 * logins and registrations in the ratio 6:2:1:1) for the given minutes;
 * every minute it prints one line: requests, errors, p50 and p99 latency,
 * and the resident memory of every process named in the pid files given.
 *
 * Usage: soak BASE_URL TOKEN USERNAME PASSWORD RATE MINUTES PIDFILE...
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#define THREADS 8
#define MAX_SAMPLES 400000

static const char *base, *token, *user, *pass;
static double rate;
static volatile int stop;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static double lat[MAX_SAMPLES];
static long nlat, nreq, nerr;
static long long uid;

static size_t
sink(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker(void *arg)
{
	long id = (long)arg, n = 0;
	double interval = THREADS / rate, next = now_s() + interval * (double)id / THREADS;
	char url[512], body[256], auth[2200];
	CURL *c = curl_easy_init();

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	while (!stop) {
		struct curl_slist *h = NULL;
		long status = 0, op = (n++ + id) % 10;
		double t0, d;

		while (now_s() < next && !stop)
			usleep(1000);
		next += interval;
		curl_easy_reset(c);
		h = curl_slist_append(h, "Content-Type: application/json");
		if (op < 6) {
			snprintf(url, sizeof(url), "%s/api/v1/eventstreammonitor/users/%lld", base, uid);
			h = curl_slist_append(h, auth);
		} else if (op < 8) {
			snprintf(url, sizeof(url), "%s/api/v1/eventstreammonitor/auth/validate", base);
			h = curl_slist_append(h, auth);
		} else if (op < 9) {
			snprintf(url, sizeof(url), "%s/api/v1/eventstreammonitor/auth/login", base);
			snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pass);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		} else {
			snprintf(url, sizeof(url), "%s/api/v1/eventstreammonitor/users/register", base);
			snprintf(body, sizeof(body), "{\"username\":\"s%lx%ld\",\"email\":\"s%lx%ld@soak.example\","
			    "\"password\":\"soak password 1\"}", (long)getpid() & 0xffff, id * 1000000 + n,
			    (long)getpid() & 0xffff, id * 1000000 + n);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		}
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
		t0 = now_s();
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		d = now_s() - t0;
		curl_slist_free_all(h);
		pthread_mutex_lock(&mu);
		nreq++;
		if (status < 200 || status >= 300)
			nerr++;
		if (nlat < MAX_SAMPLES)
			lat[nlat++] = d;
		pthread_mutex_unlock(&mu);
	}
	curl_easy_cleanup(c);
	return NULL;
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static long
rss_kib(long pid)
{
	char path[64], line[256];
	long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

/* "name=KiB" for the largest process of each pid file. */
static void
print_rss(int n, char **files)
{
	for (int i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "r");
		long pid, max = 0;
		const char *name = strrchr(files[i], '/');
		if (f == NULL)
			continue;
		while (fscanf(f, "%ld", &pid) == 1) {
			long r = rss_kib(pid);
			if (r > max)
				max = r;
		}
		fclose(f);
		printf(" %s=%ld", name ? name + 1 : files[i], max);
	}
}

int
main(int argc, char **argv)
{
	pthread_t th[THREADS];
	int minutes, m;
	long i;

	if (argc < 7) {
		fprintf(stderr, "usage: soak BASE TOKEN USER PASS RATE MINUTES PIDFILE...\n");
		return 2;
	}
	base = argv[1];
	token = argv[2];
	user = argv[3];
	pass = argv[4];
	rate = atof(argv[5]);
	minutes = atoi(argv[6]);
	uid = getenv("SOAK_UID") ? atoll(getenv("SOAK_UID")) : 1000;
	if (rate <= 0 || minutes < 1 || minutes > 60)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	printf("minute requests errors p50_ms p99_ms rss_kib...\n");
	for (m = 1; m <= minutes; m++) {
		long req, err, n;
		double p50 = 0, p99 = 0;

		sleep(60);
		pthread_mutex_lock(&mu);
		req = nreq;
		err = nerr;
		n = nlat;
		if (n > 0) {
			qsort(lat, (size_t)n, sizeof(double), cmp);
			p50 = lat[n / 2] * 1000;
			p99 = lat[(n * 99) / 100] * 1000;
		}
		nreq = nerr = nlat = 0;
		pthread_mutex_unlock(&mu);
		printf("%d %ld %ld %.2f %.2f", m, req, err, p50, p99);
		print_rss(argc - 7, argv + 7);
		printf("\n");
		fflush(stdout);
	}
	stop = 1;
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	curl_global_cleanup();
	return 0;
}
