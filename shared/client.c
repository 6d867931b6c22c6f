/*
 * client.c: see client.h. Response bodies are capped: a misbehaving peer
 * cannot make us buffer without bound.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "cfg.h"
#include "client.h"
#include "log.h"

#define CLIENT_RESP_MAX (256 * 1024)

static CURL *client_h;
/* "X-Internal-Secret: ..." when ESM_INTERNAL_SECRET(_FILE) is set: every
 * call goes to another service's internal listener, which asks for it. */
static char *client_secret_hdr;
static int client_secret_read;

static size_t
client_write(char *p, size_t sz, size_t n, void *arg)
{
	buf_t *b = arg;

	if (b->len + sz * n > CLIENT_RESP_MAX || buf_append(b, p, sz * n) == -1)
		return 0;
	return sz * n;
}

int
client_call(const char *method, const char *url, const char *json_body,
    const char *request_id, int timeout_ms, long *status, buf_t *resp)
{
	struct curl_slist *hdrs = NULL, *t;
	char rid[96];
	CURLcode cc;
	int rc = -1;

	*status = 0;
	if (client_h == NULL) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
		    (client_h = curl_easy_init()) == NULL)
			return -1;
	}
	curl_easy_reset(client_h);
	snprintf(rid, sizeof(rid), "X-Request-Id: %s", request_id ? request_id : "");
	if ((t = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL)
		goto out;
	hdrs = t;
	if ((t = curl_slist_append(hdrs, rid)) == NULL)
		goto out;
	hdrs = t;
	if (!client_secret_read) {
		char *s = cfg_secret("ESM_INTERNAL_SECRET");

		client_secret_read = 1;
		if (s != NULL && (client_secret_hdr = malloc(strlen(s) + 20)) != NULL)
			sprintf(client_secret_hdr, "X-Internal-Secret: %s", s);
		free(s);
	}
	if (client_secret_hdr != NULL) {
		if ((t = curl_slist_append(hdrs, client_secret_hdr)) == NULL)
			goto out;
		hdrs = t;
	}
	curl_easy_setopt(client_h, CURLOPT_URL, url);
	curl_easy_setopt(client_h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(client_h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(client_h, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 2000 ? timeout_ms : 2000));
	curl_easy_setopt(client_h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(client_h, CURLOPT_FOLLOWLOCATION, 0L);
	/* A new connection per call: a kept-alive one may belong to a lighttpd
	 * that is restarting gracefully and no longer reads it (the call would
	 * hang until its timeout). Next to an argon2id hash a loopback connect
	 * costs nothing. */
	curl_easy_setopt(client_h, CURLOPT_FORBID_REUSE, 1L);
	curl_easy_setopt(client_h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(client_h, CURLOPT_WRITEFUNCTION, client_write);
	curl_easy_setopt(client_h, CURLOPT_WRITEDATA, resp);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(client_h, CURLOPT_POST, 1L);
		curl_easy_setopt(client_h, CURLOPT_POSTFIELDS, json_body ? json_body : "");
	}
	cc = curl_easy_perform(client_h);
	/* A kept-alive connection the peer closed at the wrong moment (lighttpd
	 * restarting gracefully, say) fails the call; every call here is
	 * idempotent, so it is sent once more on a fresh connection. */
	if (cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR ||
	    cc == CURLE_COULDNT_CONNECT) {
		buf_reset(resp);
		curl_easy_setopt(client_h, CURLOPT_FRESH_CONNECT, 1L);
		cc = curl_easy_perform(client_h);
	}
	if (cc != CURLE_OK) {
		log_warn("call %s %s failed: %s", method, url, curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(client_h, CURLINFO_RESPONSE_CODE, status);
	rc = 0;
out:
	/* The handle keeps pointers to hdrs until the next reset. */
	curl_easy_setopt(client_h, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	return rc;
}

void
client_cleanup(void)
{
	if (client_h != NULL)
		curl_easy_cleanup(client_h);
	client_h = NULL;
}
