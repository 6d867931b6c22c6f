/*
 * valid.c: field validators (see valid.h). Deliberately byte-oriented and
 * table-free: every rule is short enough to read at a glance.
 */
#include <string.h>

#include "util.h"
#include "valid.h"

static int
is_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int
valid_username(const char *s, size_t n)
{
	size_t i;

	if (n < VALID_USERNAME_MIN || n > VALID_USERNAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* Local part: dot-atom of the usual characters; domain: at least two labels
 * of letters, digits and inner hyphens, a top label of letters. Quoted local
 * parts and address literals are refused: no mail system we deliver to
 * needs them and they are a favourite of injection attempts. */
int
valid_email(const char *s, size_t n)
{
	static const char local_extra[] = "!#$%&'*+/=?^_`{|}~.-";
	const char *at;
	size_t i, llen, lab = 0, labels = 0, last_start = 0;

	if (n < 3 || n > VALID_EMAIL_MAX || (at = memchr(s, '@', n)) == NULL)
		return 0;
	llen = (size_t)(at - s);
	if (llen == 0 || llen > 64 || s[0] == '.' || s[llen - 1] == '.')
		return 0;
	for (i = 0; i < llen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && (c == '\0' || strchr(local_extra, c) == NULL))
			return 0;
		if (c == '.' && s[i + 1] == '.')
			return 0;
	}
	for (i = llen + 1; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)s[i] : '.';
		if (c == '.') {
			if (lab == 0 || lab > 63 || s[i - 1] == '-')
				return 0;
			labels++;
			last_start = i - lab;
			lab = 0;
			continue;
		}
		if (!is_alnum(c) && c != '-')
			return 0;
		if (c == '-' && lab == 0)
			return 0;
		lab++;
	}
	if (labels < 2)
		return 0;
	/* Top-level label: letters only, two or more. */
	for (i = last_start; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return n - last_start >= 2;
}

int
valid_password(const char *s, size_t n)
{
	size_t i, cps;

	if (!util_utf8_valid(s, n))
		return 0;
	cps = util_utf8_count(s, n);
	if (cps < VALID_PASSWORD_MIN || cps > VALID_PASSWORD_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return 1;
}

int
valid_name(const char *s, size_t n)
{
	return util_utf8_valid(s, n) && util_utf8_count(s, n) <= VALID_NAME_MAX &&
	    !util_has_ctrl(s, n);
}

int64_t
valid_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's days_from_civil. */
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
valid_past_date_at(const char *s, size_t n, int64_t today_days)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d, lim;

	if (n != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4) || !digits(s + 5, 2) ||
	    !digits(s + 8, 2))
		return 0;
	y = (unsigned)((s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0'));
	m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	if (y < 1900 || m < 1 || m > 12 || d < 1)
		return 0;
	lim = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		lim = 29;
	if (d > lim)
		return 0;
	return valid_days_from_civil(y, m, d) < today_days;
}

int
valid_past_date(const char *s, size_t n)
{
	return valid_past_date_at(s, n, util_now_us() / 1000000 / 86400);
}

int
valid_request_id(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > VALID_REQUEST_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != ':' && s[i] != '-')
			return 0;
	return 1;
}
