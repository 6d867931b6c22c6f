/*
 * client.h: HTTP calls from one service to another over the internal
 * listener (auth -> users validate, users -> auth revoke), on libcurl, one
 * handle per process, a new connection per call. Only client.c includes
 * curl.h.
 */
#ifndef ESM_CLIENT_H
#define ESM_CLIENT_H

#include "util.h"

/* Sends method (GET/POST) to url with an optional JSON body and the request
 * id to propagate. Only for idempotent calls: a transport failure is retried
 * once on a fresh connection. Returns 0 when an HTTP response arrived (any status, in
 * *status, body appended to resp), -1 on a transport failure or timeout. */
int client_call(const char *method, const char *url, const char *json_body,
    const char *request_id, int timeout_ms, long *status, buf_t *resp) ESM_WUR;
/* Releases the process's handle. */
void client_cleanup(void);

#endif
