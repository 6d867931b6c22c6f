/*
 * handle.c: the notifier's decisions, as pure functions: which events are
 * parseable, what notification each becomes (the texts of the original
 * system), and how long to wait before retrying. No Kafka, no database.
 */
#include <stdio.h>
#include <string.h>

#include "json.h"
#include "notifier.h"
#include "valid.h"

static const struct {
	const char *type;
	enum notifier_kind kind;
} notifier_kinds[] = {
	{ "user_registered", NK_USER_REGISTERED },
	{ "user_deleted", NK_USER_DELETED },
	{ "task_created", NK_TASK_CREATED },
	{ "task_cancelled", NK_TASK_CANCELLED },
	{ "task_status_changed", NK_TASK_STATUS },
	{ "password_reset_requested", NK_PASSWORD_RESET },
	{ "email_verification_requested", NK_EMAIL_VERIFY },
	{ "user_password_changed", NK_PASSWORD_CHANGED },
};

/* A mailed code: exactly NOTIFIER_TOKEN_MAX base64url characters. */
static int
token_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return 0;
	return i == NOTIFIER_TOKEN_MAX;
}

static int
is_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		char c = s[i];
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

/* Copies string member name of o into out (cap bytes + NUL). 1 copied, 0
 * absent or null, -1 wrong type, too long or with control characters. */
static int
get_text(const cJSON *o, const char *name, char *out, size_t cap)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	size_t n;

	out[0] = '\0';
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v))
		return -1;
	n = strlen(v->valuestring);
	if (n > cap || util_has_ctrl(v->valuestring, n))
		return -1;
	memcpy(out, v->valuestring, n + 1);
	return 1;
}

/* userId as a positive integer number or decimal string. 1, 0 absent, -1 bad. */
static int
get_user_id(const cJSON *o, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "userId");

	*out = 0;
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		if (v->valuedouble < 1 || v->valuedouble > 9007199254740991.0 ||
		    v->valuedouble != (double)(int64_t)v->valuedouble)
			return -1;
		*out = (int64_t)v->valuedouble;
		return 1;
	}
	if (cJSON_IsString(v))
		return util_parse_i64(v->valuestring, 1, INT64_MAX, out) == 0 ? 1 : -1;
	return -1;
}

static int
type_ok(const char *s)
{
	if (s[0] == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* Reads the kind's required fields. NULL, or why it cannot. */
static const char *
parse_fields(const cJSON *o, struct notifier_event *ev, int has_user)
{
	switch (ev->kind) {
	case NK_USER_REGISTERED:
		if (!has_user)
			return "user_registered without userId";
		/* Present but empty is missing: the welcome text quotes it. */
		if (get_text(o, "username", ev->username, NOTIFIER_TEXT_MAX) != 1 ||
		    ev->username[0] == '\0')
			return "user_registered without a valid username";
		if (get_text(o, "email", ev->email, VALID_EMAIL_MAX) != 1 ||
		    !valid_email(ev->email, strlen(ev->email)))
			return "user_registered without a valid email";
		return NULL;
	case NK_PASSWORD_RESET:
	case NK_EMAIL_VERIFY:
		if (!has_user)
			return "account mail without userId";
		if (get_text(o, "username", ev->username, NOTIFIER_TEXT_MAX) != 1 ||
		    ev->username[0] == '\0')
			return "account mail without a valid username";
		if (get_text(o, "email", ev->email, VALID_EMAIL_MAX) != 1 ||
		    !valid_email(ev->email, strlen(ev->email)))
			return "account mail without a valid email";
		if (get_text(o, "token", ev->token, NOTIFIER_TOKEN_MAX) != 1 || !token_ok(ev->token))
			return "account mail without a valid token";
		return NULL;
	case NK_PASSWORD_CHANGED:
		if (!has_user)
			return "user_password_changed without userId";
		if (get_text(o, "username", ev->username, NOTIFIER_TEXT_MAX) < 0)
			return "user_password_changed with a bad username";
		return NULL;
	case NK_USER_DELETED:
		if (!has_user)
			return "user_deleted without userId";
		if (get_text(o, "username", ev->username, NOTIFIER_TEXT_MAX) < 0)
			return "user_deleted with a bad username";
		return NULL;
	case NK_TASK_CREATED:
	case NK_TASK_CANCELLED:
	case NK_TASK_STATUS:
		if (!has_user)
			return "task event without userId";
		if (get_text(o, "taskReference", ev->task_ref, NOTIFIER_TEXT_MAX) != 1 ||
		    ev->task_ref[0] == '\0')
			return "task event without taskReference";
		if (get_text(o, "taskType", ev->task_type, NOTIFIER_TEXT_MAX) < 0 ||
		    (ev->kind == NK_TASK_CREATED && ev->task_type[0] == '\0'))
			return "task event without a valid taskType";
		if (get_text(o, "priority", ev->priority, NOTIFIER_TEXT_MAX) < 0 ||
		    (ev->kind == NK_TASK_CREATED && ev->priority[0] == '\0'))
			return "task event without a valid priority";
		if (ev->kind == NK_TASK_STATUS &&
		    (get_text(o, "status", ev->status, NOTIFIER_STATUS_MAX) != 1 || !type_ok(ev->status)))
			return "task_status_changed without a valid status";
		return NULL;
	case NK_GENERIC:
		return NULL;
	}
	return "unknown kind";
}

int
notifier_parse(const char *payload, size_t len, struct notifier_event *ev, const char **why)
{
	cJSON *o = NULL;
	const char *jwhy = NULL;
	int hu;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	*why = NULL;
	if (payload == NULL || len == 0) {
		*why = "empty message";
		return -1;
	}
	if (json_parse_strict(payload, len, JSON_DEPTH_MAX, &o, &jwhy) == -1) {
		*why = "not valid JSON";
		return -1;
	}
	if (!cJSON_IsObject(o))
		*why = "not a JSON object";
	else if (get_text(o, "eventId", ev->event_id, 36) != 1 || !is_uuid(ev->event_id))
		*why = "no valid eventId";
	else if (get_text(o, "eventType", ev->type, NOTIFIER_TYPE_MAX) != 1 || !type_ok(ev->type))
		*why = "no valid eventType";
	else if (get_text(o, "source", ev->source, NOTIFIER_TEXT_MAX) < 0)
		*why = "bad source";
	else if ((hu = get_user_id(o, &ev->user_id)) < 0)
		*why = "bad userId";
	else {
		ev->kind = NK_GENERIC;
		for (i = 0; i < ESM_NELEM(notifier_kinds); i++)
			if (strcmp(notifier_kinds[i].type, ev->type) == 0)
				ev->kind = notifier_kinds[i].kind;
		*why = parse_fields(o, ev, hu == 1);
	}
	cJSON_Delete(o);
	for (i = 0; ev->event_id[i]; i++)
		if (ev->event_id[i] >= 'A' && ev->event_id[i] <= 'F')
			ev->event_id[i] = (char)(ev->event_id[i] - 'A' + 'a');
	return *why == NULL ? 0 : -1;
}

void
notifier_render(const struct notifier_event *ev, struct notifier_note *n)
{
	memset(n, 0, sizeof(*n));
	n->write = 1;
	n->channel = "email";
	n->status = "pending";
	switch (ev->kind) {
	case NK_USER_REGISTERED:
		snprintf(n->subject, sizeof(n->subject), "Welcome to EventStreamMonitor");
		snprintf(n->message, sizeof(n->message),
		    "Welcome %s! Your account has been successfully created.", ev->username);
		n->email = ev->email;
		return;
	case NK_USER_DELETED:
		n->write = 0;
		return;
	case NK_PASSWORD_RESET:
		snprintf(n->subject, sizeof(n->subject), "Reset your EventStreamMonitor password");
		snprintf(n->message, sizeof(n->message),
		    "Hello %s, a password reset was asked for your account. To choose a new password, "
		    "send the code below with it to /api/v1/eventstreammonitor/users/password-reset/confirm. "
		    "The code works once and for a limited time. If you did not ask for this, ignore "
		    "this mail: your password stays as it is.", ev->username);
		n->email = ev->email;
		n->secret = ev->token;
		return;
	case NK_EMAIL_VERIFY:
		snprintf(n->subject, sizeof(n->subject), "Verify your email address");
		snprintf(n->message, sizeof(n->message),
		    "Hello %s, please confirm that this address is yours: send the code below to "
		    "/api/v1/eventstreammonitor/users/verify-email. The code works once and for a "
		    "limited time.", ev->username);
		n->email = ev->email;
		n->secret = ev->token;
		return;
	case NK_PASSWORD_CHANGED:
		snprintf(n->subject, sizeof(n->subject), "Your password was changed");
		snprintf(n->message, sizeof(n->message),
		    "The password of your account was changed and every session was signed out. If "
		    "this was not you, reset your password now.");
		return;
	case NK_TASK_CREATED:
		snprintf(n->subject, sizeof(n->subject), "Task Created");
		snprintf(n->message, sizeof(n->message),
		    "Your task %s has been created. Task Type: %s, Priority: %s",
		    ev->task_ref, ev->task_type, ev->priority);
		return;
	case NK_TASK_CANCELLED:
		snprintf(n->subject, sizeof(n->subject), "Task Cancelled");
		snprintf(n->message, sizeof(n->message), "Your task %s has been cancelled.", ev->task_ref);
		return;
	case NK_TASK_STATUS:
		/* Starting (pending -> processing) is no news worth a mail. */
		if (strcmp(ev->status, "completed") == 0) {
			snprintf(n->subject, sizeof(n->subject), "Task Completed");
			snprintf(n->message, sizeof(n->message), "Your task %s has been completed.",
			    ev->task_ref);
		} else if (strcmp(ev->status, "failed") == 0) {
			snprintf(n->subject, sizeof(n->subject), "Task Failed");
			snprintf(n->message, sizeof(n->message), "Your task %s has failed.", ev->task_ref);
		} else {
			n->write = 0;
		}
		return;
	case NK_GENERIC:
		snprintf(n->subject, sizeof(n->subject), "Notification: %s", ev->type);
		snprintf(n->message, sizeof(n->message), "Event %s received%s%s.", ev->type,
		    ev->source[0] ? " from " : "", ev->source);
		if (ev->user_id == 0) {
			/* Nobody to mail: the row records that the event was seen. */
			n->channel = "log";
			n->status = "sent";
		}
		return;
	}
}

int
notifier_backoff(int *cur)
{
	*cur = *cur == 0 ? NOTIFIER_BACKOFF_MIN_MS : *cur * 2;
	if (*cur > NOTIFIER_BACKOFF_MAX_MS)
		*cur = NOTIFIER_BACKOFF_MAX_MS;
	return *cur;
}

int
notifier_mail_delay_ms(int attempts)
{
	int64_t ms = 1000;

	for (int i = 1; i < attempts && ms < 300000; i++)
		ms *= 2;
	return ms > 300000 ? 300000 : (int)ms;
}

enum notifier_mail_end
notifier_mail_outcome(int ok, int reply, int attempts, int max_attempts)
{
	if (ok)
		return NM_SENT;
	if ((reply >= 500 && reply <= 599) || attempts >= max_attempts)
		return NM_FAILED;
	return NM_RETRY;
}

int
notifier_topics(const char *list, char *buf, const char **out, int max)
{
	int n = 0;
	char *save = NULL, *tok;

	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		for (char *e = tok + strlen(tok); e > tok && e[-1] == ' '; )
			*--e = '\0';
		if (!type_ok(tok) || strlen(tok) > 249 || n == max)
			return -1;
		out[n++] = tok;
	}
	return n == 0 ? -1 : n;
}
