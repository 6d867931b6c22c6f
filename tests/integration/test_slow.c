/*
 * test_slow.c: lighttpd's bounds on slow clients (lighttpd/lighttpd.conf,
 * lighttpd/conncap.lua), over raw loopback sockets to the gateway:
 *  - a connection silent in its request headers is closed after
 *    ESM_HEADER_IDLE_S seconds;
 *  - request headers over 8 KiB get 431;
 *  - an address holding ESM_CONN_PER_ADDR connections (slow headers, say)
 *    gets 429 for any further request, while other addresses are served,
 *    and is served again once it lets them go.
 * Each test connects from its own random 127.0.0.x address, so the other
 * suites (from 127.0.0.1) neither disturb it nor are disturbed.
 * Not bounded, so not tested: the total time of headers that keep trickling.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"

#define SLOW_HOLD_MAX 512

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A random source address 127.0.0.10 .. 127.0.0.249 into buf. */
static void
random_source(char *buf, size_t n)
{
	unsigned char b = 0;

	if (getrandom(&b, 1, 0) != 1)
		b = 77;
	snprintf(buf, n, "127.0.0.%d", 10 + b % 240);
}

/* A connection to the gateway from source address src; -1 on error. */
static int
gw_connect(const char *src)
{
	const char *url = itest_url("gateway");
	struct sockaddr_in a, s;
	char host[64];
	int fd, port;

	if (url == NULL || sscanf(url, "http://%63[^:]:%d", host, &port) != 2)
		return -1;
	memset(&a, 0, sizeof(a));
	memset(&s, 0, sizeof(s));
	a.sin_family = s.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || inet_pton(AF_INET, src, &s.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&s, sizeof(s)) == -1 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_str(int fd, const char *s)
{
	size_t len = strlen(s), off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = send(fd, s + off, len - off, MSG_NOSIGNAL)) <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* Reads until the peer closes or secs pass; the bytes (up to n - 1) into buf.
 * Returns 1 when the peer closed (EOF or reset), 0 on timeout. */
static int
read_until_close(int fd, char *buf, size_t n, double secs)
{
	double end = now_s() + secs;
	struct pollfd p = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t k;
	char sink[512];

	buf[0] = '\0';
	while (now_s() < end) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		k = recv(fd, sink, sizeof(sink), 0);
		if (k == 0 || (k < 0 && errno == ECONNRESET))
			return 1;
		if (k < 0)
			continue;
		if (got + (size_t)k < n) {
			memcpy(buf + got, sink, (size_t)k);
			got += (size_t)k;
			buf[got] = '\0';
		}
	}
	return 0;
}

/* The status of one complete request from src (a new connection); 0 on error. */
static long
status_from(const char *src, const char *extra_header)
{
	char req[16384], buf[4096];
	long status = 0;
	int fd;

	if ((fd = gw_connect(src)) == -1)
		return 0;
	snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nHost: test\r\n%sConnection: close\r\n\r\n",
	    extra_header != NULL ? extra_header : "");
	if (send_str(fd, req) == 0) {
		read_until_close(fd, buf, sizeof(buf), 10);
		if (sscanf(buf, "HTTP/1.%*d %ld", &status) != 1)
			status = 0;
		if (status == 429)
			CU_ASSERT_PTR_NOT_NULL(strstr(buf, "Retry-After: "));
	}
	close(fd);
	return status;
}

static int
env_int(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL) {
		fprintf(stderr, "  %s is not set (run through tests/run.sh)\n", name);
		return -1;
	}
	return atoi(v);
}

static void
test_silent_headers_cut_off(void)
{
	int idle = env_int("ESM_HEADER_IDLE_S"), fd, closed;
	char src[32], buf[256];
	double t0, took;

	CU_ASSERT_FATAL(idle > 0 && idle <= 60);
	random_source(src, sizeof(src));
	CU_ASSERT_FATAL((fd = gw_connect(src)) != -1);
	CU_ASSERT_FATAL(send_str(fd, "GET /health HTTP/1.1\r\nHost: test\r\n") == 0);
	t0 = now_s();
	closed = read_until_close(fd, buf, sizeof(buf), idle + 5);
	took = now_s() - t0;
	close(fd);
	fprintf(stderr, "  silent after a header line: closed after %.1f s (limit %d s)\n", took, idle);
	CU_ASSERT(closed);
	CU_ASSERT(took >= idle - 1 && took <= idle + 3);
}

static void
test_oversized_headers_431(void)
{
	static char big[10000];
	char src[32];

	random_source(src, sizeof(src));
	memcpy(big, "X-Filler: ", 10);
	memset(big + 10, 'a', 9000);
	memcpy(big + 9010, "\r\n", 3);
	CU_ASSERT_EQUAL(status_from(src, big), 431);
	CU_ASSERT_NOT_EQUAL(status_from(src, NULL), 431);
}

static void
test_connections_per_address(void)
{
	int cap = env_int("ESM_CONN_PER_ADDR"), hold[SLOW_HOLD_MAX], n = 0, i;
	char a[32], b[32];
	long st = 0;
	double end;

	CU_ASSERT_FATAL(cap > 0 && cap < SLOW_HOLD_MAX);
	random_source(a, sizeof(a));
	do
		random_source(b, sizeof(b));
	while (strcmp(a, b) == 0);
	/* cap - 1 slow-header connections: one more request is still served */
	for (n = 0; n < cap - 1; n++) {
		CU_ASSERT_FATAL((hold[n] = gw_connect(a)) != -1);
		CU_ASSERT_FATAL(send_str(hold[n], "GET /health HTTP/1.1\r\n") == 0);
	}
	itest_sleep_ms(200);
	st = status_from(a, NULL);
	CU_ASSERT(st > 0 && st != 429);
	/* cap of them: the address gets 429, another address is served */
	CU_ASSERT_FATAL((hold[n] = gw_connect(a)) != -1);
	CU_ASSERT_FATAL(send_str(hold[n++], "GET /health HTTP/1.1\r\n") == 0);
	itest_sleep_ms(200);
	CU_ASSERT_EQUAL(status_from(a, NULL), 429);
	st = status_from(b, NULL);
	CU_ASSERT(st > 0 && st != 429);
	for (i = 0; i < n; i++)
		close(hold[i]);
	/* let go: served again (lighttpd sees the closes on its next poll) */
	for (end = now_s() + 5; now_s() < end; itest_sleep_ms(100))
		if ((st = status_from(a, NULL)) != 429)
			break;
	CU_ASSERT(st > 0 && st != 429);
}

static CU_TestInfo tests[] = {
	{ "a client silent in its headers is cut off after ESM_HEADER_IDLE_S", test_silent_headers_cut_off },
	{ "request headers over 8 KiB get 431", test_oversized_headers_431 },
	{ "an address holding ESM_CONN_PER_ADDR connections gets 429, others are served",
	  test_connections_per_address },
	CU_TEST_INFO_NULL,
};
ITEST_SUITE(slow_clients, tests)
