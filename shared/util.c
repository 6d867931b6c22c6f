/*
 * util.c: buffers, strict integer parsing, UTF-8 checks, time, randomness.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static int
buf_grow(buf_t *b, size_t need)
{
	size_t cap;
	char *p;

	if (need < b->len || need == SIZE_MAX)
		return -1;
	if (need + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need + 1) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
buf_append(buf_t *b, const void *data, size_t n)
{
	if (n > SIZE_MAX - b->len - 1 || buf_grow(b, b->len + n) == -1)
		return -1;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_puts(buf_t *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, b->len + (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_json_escape(buf_t *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;
	char esc[7];

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *rep = NULL;
		size_t rl = 2;

		switch (c) {
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		default:
			if (c < 0x20 || c == 0x7f) {
				esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
				esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; esc[6] = '\0';
				rep = esc;
				rl = 6;
			}
		}
		if (rep == NULL)
			continue;
		if (buf_append(b, s + start, i - start) == -1 || buf_append(b, rep, rl) == -1)
			return -1;
		start = i + 1;
	}
	return buf_append(b, s + start, n - start);
}

void
buf_reset(buf_t *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

void
buf_free(buf_t *b)
{
	if (b == NULL)
		return;
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int
util_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	long long v;
	char *end;

	if (s == NULL || *s == '\0')
		return -1;
	/* strtoll skips blanks and takes '+': the contract is digits only. */
	if (!(*s == '-' || (*s >= '0' && *s <= '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return -1;
	if (v < min || v > max)
		return -1;
	*out = (int64_t)v;
	return 0;
}

size_t
util_utf8_seq(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[0];
	size_t len, k;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	else if ((c & 0xe0) == 0xc0) {
		len = 2; cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3; cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4; cp = c & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[k] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int
util_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, len;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((len = util_utf8_seq(str + i, n - i)) == 0)
			return 0;
		i += len;
	}
	return 1;
}

size_t
util_utf8_count(const char *s, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

int
util_has_ctrl(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 1;
	}
	return 0;
}

int64_t
util_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
util_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
util_ts_format(int64_t us, char out[UTIL_TS_LEN])
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;
	size_t n;

	if (frac < 0) {
		frac += 1000000;
		sec--;
	}
	gmtime_r(&sec, &tm);
	n = strftime(out, UTIL_TS_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, UTIL_TS_LEN - n, ".%06uZ", (unsigned)frac % 1000000u);
}

int
util_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

void
util_hex(const unsigned char *in, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
util_uuid4(char out[37])
{
	unsigned char b[16];
	char h[33];

	/* getrandom on Linux does not fail for 16 bytes once the pool is
	 * initialised; fall back to a clock mix rather than abort. */
	if (util_random(b, sizeof(b)) == -1) {
		int64_t t = util_now_us() ^ util_mono_us();
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 131);
	}
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	util_hex(b, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int
util_ct_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* xoshiro256** seeded from getrandom once per process (and again after a
 * fork): request ids need uniqueness, not secrecy, and are made per request. */
static uint64_t fast_s[4];
static pid_t fast_pid;

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
fast_next(void)
{
	uint64_t r, t;

	if (fast_pid != getpid()) {
		if (util_random(fast_s, sizeof(fast_s)) == -1 || (fast_s[0] | fast_s[1]) == 0) {
			fast_s[0] = (uint64_t)util_now_us() | 1;
			fast_s[1] = (uint64_t)util_mono_us() ^ ((uint64_t)getpid() << 32);
		}
		fast_pid = getpid();
	}
	r = rotl(fast_s[1] * 5, 7) * 9;
	t = fast_s[1] << 17;
	fast_s[2] ^= fast_s[0];
	fast_s[3] ^= fast_s[1];
	fast_s[1] ^= fast_s[2];
	fast_s[0] ^= fast_s[3];
	fast_s[2] ^= t;
	fast_s[3] = rotl(fast_s[3], 45);
	return r;
}

void
util_uuid4_fast(char out[37])
{
	unsigned char b[16];
	uint64_t a = fast_next(), c = fast_next();
	char h[33];

	memcpy(b, &a, 8);
	memcpy(b + 8, &c, 8);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	util_hex(b, 16, h);
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static volatile sig_atomic_t *util_stop_flag;

static void
util_on_stop(int sig)
{
	*util_stop_flag = 1;
}

int
util_stop_signals(volatile sig_atomic_t *flag)
{
	struct sigaction sa;

	util_stop_flag = flag;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = util_on_stop;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 || sigaction(SIGINT, &sa, NULL) == -1)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}
