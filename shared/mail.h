/*
 * mail.h: plain-text email over SMTP (smtp:// or smtps://) on libcurl, and
 * the RFC 5322 message it sends. One handle per process keeps the SMTP
 * connection between mails. Only this file and client.c include curl.h.
 * No authentication or STARTTLS policy beyond what the URL says: production
 * points it at a local relay.
 */
#ifndef ESM_MAIL_H
#define ESM_MAIL_H

#include <stddef.h>
#include <stdint.h>
#include "util.h"

/* Appends the message (headers, blank line, body) to out with CRLF line
 * ends: From, To, Subject (RFC 2047 base64 when not ASCII), Date,
 * Message-ID <msgid@esm>, MIME-Version, text/plain UTF-8, 8bit. from and
 * to must be valid addresses (valid_email) and subject free of control
 * characters: else -1 and nothing useful in out. Pure. */
int mail_format(buf_t *out, const char *from, const char *to, const char *subject,
    const char *body, int64_t now_us, const char *msgid) ESM_WUR;

/* Sends one mail through the SMTP server at url within timeout_ms. 0, or
 * -1 with the reason (no secrets, at most errlen bytes) in err and in
 * *reply the server's reply code that refused it (e.g. 550, 451), or 0
 * when no reply did (connection, timeout, a message that cannot be
 * formatted). err then carries the server's reply line, cleaned of control
 * characters. */
int mail_send(const char *url, const char *from, const char *to, const char *subject,
    const char *body, int timeout_ms, char *err, size_t errlen, int *reply) ESM_WUR;
/* Releases the process's handle. */
void mail_cleanup(void);

#endif
