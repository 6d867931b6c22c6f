/*
 * mail.c: see mail.h. Message formatting is pure and tested; sending is a
 * thin libcurl shell.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>

#include "mail.h"
#include "valid.h"

static CURL *mail_h;

static int
ascii_only(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

/* RFC 2047 encoded word(s) for a UTF-8 subject: base64 in chunks of 45
 * input bytes cut at code point boundaries. */
static int
encode_subject(buf_t *b, const char *s)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(s), i = 0, end, k;

	while (i < n) {
		end = i + 45 < n ? i + 45 : n;
		while (end < n && end > i && ((unsigned char)s[end] & 0xC0) == 0x80)
			end--;
		if (buf_puts(b, i == 0 ? "=?UTF-8?B?" : "\r\n =?UTF-8?B?") == -1)
			return -1;
		for (k = i; k < end; k += 3) {
			unsigned v = (unsigned char)s[k] << 16;
			size_t left = end - k;
			char q[4];
			if (left > 1)
				v |= (unsigned char)s[k + 1] << 8;
			if (left > 2)
				v |= (unsigned char)s[k + 2];
			q[0] = tab[(v >> 18) & 63];
			q[1] = tab[(v >> 12) & 63];
			q[2] = left > 1 ? tab[(v >> 6) & 63] : '=';
			q[3] = left > 2 ? tab[v & 63] : '=';
			if (buf_append(b, q, 4) == -1)
				return -1;
		}
		if (buf_puts(b, "?=") == -1)
			return -1;
		i = end;
	}
	return 0;
}

int
mail_format(buf_t *out, const char *from, const char *to, const char *subject,
    const char *body, int64_t now_us, const char *msgid)
{
	char date[64];
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;
	const char *p;

	if (!valid_email(from, strlen(from)) || !valid_email(to, strlen(to)) ||
	    util_has_ctrl(subject, strlen(subject)) || !util_utf8_valid(subject, strlen(subject)) ||
	    !util_utf8_valid(body, strlen(body)) || strpbrk(msgid, "<>\r\n ") != NULL)
		return -1;
	gmtime_r(&t, &tm);
	/* RFC 5322 date; the C locale of a service process gives English names. */
	if (strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		return -1;
	if (buf_printf(out, "From: <%s>\r\nTo: <%s>\r\nSubject: ", from, to) == -1)
		return -1;
	if (ascii_only(subject) ? buf_puts(out, subject) == -1 : encode_subject(out, subject) == -1)
		return -1;
	if (buf_printf(out, "\r\nDate: %s\r\nMessage-ID: <%s@esm>\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
	    date, msgid) == -1)
		return -1;
	/* Body lines end in CRLF whatever they ended in; libcurl dot-stuffs. */
	for (p = body; *p; p++) {
		if (*p == '\r')
			continue;
		if (*p == '\n' ? buf_puts(out, "\r\n") == -1 : buf_append(out, p, 1) == -1)
			return -1;
	}
	return buf_puts(out, "\r\n");
}

struct mail_src {
	const char *p;
	size_t left;
};

static size_t
mail_read(char *dst, size_t sz, size_t n, void *arg)
{
	struct mail_src *s = arg;
	size_t k = sz * n < s->left ? sz * n : s->left;

	memcpy(dst, s->p, k);
	s->p += k;
	s->left -= k;
	return k;
}

/* The server's refusal (4xx or 5xx) among the reply lines libcurl hands
 * to the header callback, kept (control characters as spaces, capped) to
 * say why a mail was refused and with what code. */
struct mail_reply {
	char line[200];
};

static size_t
mail_header(char *p, size_t sz, size_t n, void *arg)
{
	struct mail_reply *r = arg;
	size_t len = sz * n, k, i;

	if (len < 3)
		return len;
	/* A reply that accepted something after a refusal clears it (EHLO
	 * refused, HELO taken), but the goodbye to QUIT does not. */
	if (p[0] != '4' && p[0] != '5') {
		if (strncmp(p, "221", 3) != 0)
			r->line[0] = '\0';
		return len;
	}
	k = len < sizeof(r->line) - 1 ? len : sizeof(r->line) - 1;
	for (i = 0; i < k; i++)
		r->line[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? ' ' : p[i];
	while (i > 0 && r->line[i - 1] == ' ')
		i--;
	r->line[i] = '\0';
	return len;
}

int
mail_send(const char *url, const char *from, const char *to, const char *subject,
    const char *body, int timeout_ms, char *err, size_t errlen, int *reply)
{
	struct curl_slist *rcpt = NULL;
	struct mail_reply last = { "" };
	buf_t msg = { 0 };
	struct mail_src src;
	char fromb[300], msgid[37];
	CURLcode cc;
	int rc = -1;

	*reply = 0;
	util_uuid4(msgid);
	if (mail_format(&msg, from, to, subject, body, util_now_us(), msgid) == -1) {
		snprintf(err, errlen, "address or subject not acceptable");
		goto out;
	}
	if (mail_h == NULL &&
	    (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || (mail_h = curl_easy_init()) == NULL)) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto out;
	}
	if ((rcpt = curl_slist_append(NULL, to)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	snprintf(fromb, sizeof(fromb), "<%s>", from);
	src.p = msg.p;
	src.left = msg.len;
	curl_easy_reset(mail_h);
	curl_easy_setopt(mail_h, CURLOPT_URL, url);
	curl_easy_setopt(mail_h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(mail_h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(mail_h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(mail_h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 3000 ? timeout_ms : 3000));
	curl_easy_setopt(mail_h, CURLOPT_MAIL_FROM, fromb);
	curl_easy_setopt(mail_h, CURLOPT_MAIL_RCPT, rcpt);
	curl_easy_setopt(mail_h, CURLOPT_READFUNCTION, mail_read);
	curl_easy_setopt(mail_h, CURLOPT_READDATA, &src);
	curl_easy_setopt(mail_h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(mail_h, CURLOPT_HEADERFUNCTION, mail_header);
	curl_easy_setopt(mail_h, CURLOPT_HEADERDATA, &last);
	if ((cc = curl_easy_perform(mail_h)) != CURLE_OK) {
		long code = 0;
		/* The refusal's own code: libcurl's response code may be the
		 * QUIT reply that followed it. */
		if (last.line[0] != '\0' && last.line[1] >= '0' && last.line[1] <= '9' &&
		    last.line[2] >= '0' && last.line[2] <= '9')
			code = (last.line[0] - '0') * 100 + (last.line[1] - '0') * 10 + (last.line[2] - '0');
		else
			curl_easy_getinfo(mail_h, CURLINFO_RESPONSE_CODE, &code);
		*reply = code >= 400 && code <= 599 ? (int)code : 0;
		if (*reply >= 400 && last.line[0] != '\0')
			snprintf(err, errlen, "smtp reply: %s", last.line);
		else
			snprintf(err, errlen, "smtp: %s (reply %ld)", curl_easy_strerror(cc), code);
		/* The session may be mid-transaction: the next mail starts afresh. */
		mail_cleanup();
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(rcpt);
	buf_free(&msg);
	return rc;
}

void
mail_cleanup(void)
{
	if (mail_h != NULL)
		curl_easy_cleanup(mail_h);
	mail_h = NULL;
}
