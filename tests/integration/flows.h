/*
 * flows.h: common steps of the integration suites (register, log in) so
 * each suite reads as the scenario it checks.
 */
#ifndef ESM_TEST_FLOWS_H
#define ESM_TEST_FLOWS_H

#include <stdint.h>
#include "itest.h"

#define FLOW_PASSWORD "correct horse battery"
#define USERS_BASE "/api/v1/eventstreammonitor/users"
#define AUTH_BASE "/api/v1/eventstreammonitor/auth"
#define TASKS "/api/v1/eventstreammonitor/tasks"

struct flow_user {
	char username[32];
	char email[80];
	int64_t id;
	char access[2048];
	char refresh[128];
};

/* Registers a fresh user (unique name with prefix); 0 / -1 with CUnit
 * assertions on the way. */
int flow_register(struct flow_user *u, const char *prefix);
/* The same with the address username + tag + "@example.org" (the SMTP
 * sink refuses tags with reject550 or tempfail451). */
int flow_register_mail(struct flow_user *u, const char *prefix, const char *tag);
/* Logs u in, filling access and refresh; 0 / -1. */
int flow_login(struct flow_user *u);
/* The same with another password, without asserting success (a refusal
 * may be the point). */
int flow_login_as(struct flow_user *u, const char *password);
/* POSTs the JSON body to path through the gateway; the status (a server
 * error is printed with its body). */
long flow_post(const char *path, const char *body, const char *token);
/* Both, plus the admin role when admin != 0 (set in the database, then a
 * fresh login so the token carries it). */
int flow_user(struct flow_user *u, const char *prefix, int admin);
/* Count of rows in db matching the SQL count query. */
int64_t flow_count(const char *db, const char *sql);

/* Polls the count query in db until it reaches want (or secs pass);
 * returns the last count. */
int64_t flow_wait_count(const char *db, const char *sql, int64_t want, int secs);
/* Mails in the SMTP sink's Maildir (ESM_MAILDIR) to addr with subject
 * (NULL = any); -1, with a failed assertion, when there is no sink. */
int flow_mails_to(const char *addr, const char *subject);
/* Waits up to secs for a mail to addr with subject that carries a code (a
 * body line of 43 base64url characters) other than except (NULL: any) and
 * copies the code; 1 / 0. */
int flow_mail_code(const char *addr, const char *subject, const char *except, char *code,
    size_t n, int secs);

/* Sum of the values of the Prometheus lines in GET /metrics/<service> on
 * the internal listener that start with prefix (a metric name and the
 * start of its labels); -1 when there is none, or the page failed. */
double flow_metric(const char *service, const char *prefix);
/* Polls flow_metric until it is at least min (or secs pass); returns the
 * last value. */
double flow_wait_metric(const char *service, const char *prefix, double min, int secs);

/* Produces the lines of text ("key\tpayload" per line) to topic with
 * kcat; 0 / -1. */
int flow_produce(const char *topic, const char *text);
/* A fresh event id: a per-run random prefix and n. The prefix is one per
 * process, so each suite keeps to its own n: notify below 500000,
 * notifications from 500000. */
void flow_event_id(char out[37], int n);

/* Member name of object o (NULL when o is not an object or lacks it). */
const cJSON *jget(const cJSON *o, const char *name);
/* Its string value, "" when it is missing or not a string. */
const char *jstr(const cJSON *o, const char *name);

#endif
