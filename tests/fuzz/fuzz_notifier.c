/*
 * fuzz_notifier.c: the notifier's handling of one consumed message, as
 * main.c does it minus Kafka: notifier_parse on the payload, and for a
 * message that parses notifier_render, the mail that notification becomes
 * (mail_format) and notifier_store against the in-memory database of
 * fake_db.c. The same bytes are also read as a topic list
 * (ESM_NOTIFIER_TOPICS) by notifier_topics.
 *
 * Checked, each by abort(): a refusal always says why and a success never
 * does; a parsed event holds only NUL-terminated, control-free UTF-8 within
 * its buffers, a lowercase UUID, a type the table would accept and the
 * fields its kind needs; a parse is deterministic; a rendered text is
 * whole (nothing cut) and control-free UTF-8; a notification that asks
 * for mail has a recipient (the event's own valid address or a user id
 * the projection resolves), never a made-up one, and a "log" one is
 * "sent"; its mail formats without header injection; the store writes
 * what the schema's CHECKs allow, exactly one row per written note.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/notifier/notifier.h"
#include "fake_db.h"
#include "log.h"
#include "mail.h"
#include "valid.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_FROM "notifications@eventstreammonitor.local"
#define FZ_TOPIC "task-events"

static void fz_fail(const char *what) __attribute__((noreturn));

static void
fz_fail(const char *what)
{
	fprintf(stderr, "fuzz_notifier: %s\n", what);
	abort();
}

/* buf[0..cap) holds a NUL, and the text before it is UTF-8 without
 * control characters. */
static void
text_ok(const char *buf, size_t cap, const char *what)
{
	const char *nul = memchr(buf, '\0', cap);

	if (nul == NULL)
		fz_fail(what);
	if (!util_utf8_valid(buf, (size_t)(nul - buf)) || util_has_ctrl(buf, (size_t)(nul - buf)))
		fz_fail(what);
}

static int
type_chars_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

static void
check_event(const struct notifier_event *ev)
{
	static const struct {
		const char *type;
		enum notifier_kind kind;
	} kinds[] = {
		{ "user_registered", NK_USER_REGISTERED }, { "user_deleted", NK_USER_DELETED },
		{ "task_created", NK_TASK_CREATED }, { "task_cancelled", NK_TASK_CANCELLED },
		{ "task_status_changed", NK_TASK_STATUS },
	};
	enum notifier_kind want = NK_GENERIC;
	size_t i;

	text_ok(ev->event_id, sizeof(ev->event_id), "event_id not a terminated string");
	text_ok(ev->type, sizeof(ev->type), "type not terminated or not clean UTF-8");
	text_ok(ev->source, sizeof(ev->source), "source not terminated or not clean UTF-8");
	text_ok(ev->username, sizeof(ev->username), "username not terminated or not clean UTF-8");
	text_ok(ev->email, sizeof(ev->email), "email not terminated or not clean UTF-8");
	text_ok(ev->task_ref, sizeof(ev->task_ref), "taskReference not terminated or not clean UTF-8");
	text_ok(ev->task_type, sizeof(ev->task_type), "taskType not terminated or not clean UTF-8");
	text_ok(ev->priority, sizeof(ev->priority), "priority not terminated or not clean UTF-8");
	text_ok(ev->status, sizeof(ev->status), "status not terminated or not clean UTF-8");
	if (strlen(ev->event_id) != 36)
		fz_fail("eventId is not 36 characters");
	for (i = 0; i < 36; i++) {
		char c = ev->event_id[i];
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			fz_fail("eventId is not a lowercase UUID");
	}
	/* notifications.event_type: CHECK (length BETWEEN 1 AND 64). */
	if (!type_chars_ok(ev->type) || strlen(ev->type) > 64)
		fz_fail("eventType outside [A-Za-z0-9_.-]{1,64}");
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i].type, ev->type) == 0)
			want = kinds[i].kind;
	if (ev->kind != want)
		fz_fail("kind does not match eventType");
	if (ev->user_id < 0 || (ev->user_id == 0 && want != NK_GENERIC))
		fz_fail("a user event or task event without a positive userId");
	switch (ev->kind) {
	case NK_USER_REGISTERED:
		if (ev->username[0] == '\0')
			fz_fail("user_registered without username");
		/* notifier_users.email: CHECK (length <= 254). */
		if (strlen(ev->email) > 254 || !valid_email(ev->email, strlen(ev->email)))
			fz_fail("user_registered with an invalid email");
		break;
	case NK_TASK_CREATED:
		if (ev->task_type[0] == '\0' || ev->priority[0] == '\0')
			fz_fail("task_created without taskType or priority");
		/* FALLTHROUGH */
	case NK_TASK_CANCELLED:
		if (ev->task_ref[0] == '\0')
			fz_fail("task event without taskReference");
		break;
	case NK_TASK_STATUS:
		if (ev->task_ref[0] == '\0' || !type_chars_ok(ev->status))
			fz_fail("task_status_changed without taskReference or a clean status");
		break;
	case NK_USER_DELETED:
	case NK_GENERIC:
		break;
	}
	if (ev->kind != NK_USER_REGISTERED && ev->email[0] != '\0')
		fz_fail("an address kept from an event that has none");
}

static void
check_note(const struct notifier_event *ev, const struct notifier_note *n)
{
	text_ok(n->subject, sizeof(n->subject), "subject not terminated or not clean UTF-8");
	text_ok(n->message, sizeof(n->message), "message not terminated or not clean UTF-8");
	/* A status change is news only when the task ended. */
	if (n->write != (ev->kind == NK_TASK_STATUS ? strcmp(ev->status, "completed") == 0 ||
	    strcmp(ev->status, "failed") == 0 : ev->kind != NK_USER_DELETED))
		fz_fail("write set for the wrong kind");
	if (!n->write)
		return;
	if (n->subject[0] == '\0' || n->message[0] == '\0')
		fz_fail("empty subject or message");
	/* Nothing cut: every field the text quotes is there whole, and the
	 * buffer was not filled to the brim by a truncating snprintf. */
	if (strlen(n->message) >= sizeof(n->message) - 1 || strlen(n->subject) >= sizeof(n->subject) - 1)
		fz_fail("a rendered text fills its buffer: probably cut");
	if ((ev->kind == NK_USER_REGISTERED && strstr(n->message, ev->username) == NULL) ||
	    ((ev->kind == NK_TASK_CREATED || ev->kind == NK_TASK_CANCELLED ||
	    ev->kind == NK_TASK_STATUS) && strstr(n->message, ev->task_ref) == NULL) ||
	    (ev->kind == NK_TASK_CREATED &&
	    (strstr(n->message, ev->task_type) == NULL || strstr(n->message, ev->priority) == NULL)) ||
	    (ev->kind == NK_GENERIC && (strstr(n->message, ev->type) == NULL ||
	    strstr(n->message, ev->source) == NULL || strstr(n->subject, ev->type) == NULL)))
		fz_fail("a field of the event is missing from the text");
	if (n->channel == NULL || n->status == NULL)
		fz_fail("channel or status unset");
	if (strcmp(n->channel, "log") == 0) {
		if (strcmp(n->status, "sent") != 0 || n->email != NULL)
			fz_fail("a log notification that is not simply sent");
		if (ev->user_id != 0)
			fz_fail("a user's notification kept out of the mail");
	} else if (strcmp(n->channel, "email") == 0) {
		if (strcmp(n->status, "pending") != 0)
			fz_fail("a mail notification that is not pending");
		/* A recipient: the event's own address, or the user the
		 * projection resolves. Never one made up here. */
		if (n->email != NULL && n->email != ev->email)
			fz_fail("a recipient that is not the event's address");
		if (n->email != NULL && !valid_email(n->email, strlen(n->email)))
			fz_fail("an invalid recipient");
		if (n->email == NULL && ev->user_id <= 0)
			fz_fail("a mail notification with nobody to mail");
	} else
		fz_fail("channel outside ('email', 'log')");
}

/* The mail a pending notification becomes: it must format, and the
 * event's text must not add a header or a line break to the header. */
static void
check_mail(const struct notifier_note *n)
{
	static buf_t out;
	const char *to = n->email != NULL ? n->email : "user@example.org";
	const char *p, *end;
	int lines = 0;

	buf_reset(&out);
	if (mail_format(&out, FZ_FROM, to, n->subject, n->message, 1795568400000000LL,
	    "0b3e1c4a-1234-4abc-9def-0123456789ab") == -1)
		fz_fail("the mail of a rendered notification does not format");
	if (buf_puts(&out, "") == -1)
		fz_fail("out of memory");
	if ((end = strstr(out.p, "\r\n\r\n")) == NULL)
		fz_fail("mail without a header/body separator");
	for (p = out.p; p < end; lines++) {
		const char *eol = strstr(p, "\r\n");
		if (eol == NULL || eol > end)
			eol = end;
		if (memchr(p, '\n', (size_t)(eol - p)) != NULL || memchr(p, '\r', (size_t)(eol - p)) != NULL)
			fz_fail("bare CR or LF in a mail header");
		if (eol - p > 998)
			fz_fail("mail header line over 998 bytes");
		p = eol + 2;
	}
	/* From To Subject Date Message-ID MIME-Version Content-Type CTE. */
	if (lines != 8)
		fz_fail("the event's text changed the mail's header lines");
	for (p = end + 4; *p; ) {
		const char *eol = strstr(p, "\r\n");
		if (eol == NULL)
			fz_fail("mail body line without CRLF");
		if (eol - p > 998)
			fz_fail("mail body line over 998 bytes");
		p = eol + 2;
	}
}

/* The database side, as the schema's CHECKs and the contract see it. */
struct fz_store {
	const struct notifier_item *it;
	int inserts;
};

static int
is_id(const char *s)
{
	int64_t v;

	return s != NULL && util_parse_i64(s, 1, INT64_MAX, &v) == 0;
}

/* One notification row's nine values, as the schema would take them. */
static void
check_row(const struct notifier_event *ev, const char *const *p)
{
	if (p[0] == NULL || strcmp(p[0], ev->event_id) != 0 || p[1] == NULL ||
	    strlen(p[1]) < 1 || strlen(p[1]) > 64)
		fz_fail("notification insert: eventId or eventType");
	if ((p[2] != NULL && !is_id(p[2])) || (p[3] != NULL && strlen(p[3]) > 254))
		fz_fail("notification insert: userId or recipient");
	if (p[4] == NULL || p[5] == NULL || p[6] == NULL || p[7] == NULL || p[8] == NULL)
		fz_fail("notification insert: NULL in a NOT NULL column");
	if ((strcmp(p[6], "email") != 0 && strcmp(p[6], "log") != 0) ||
	    (strcmp(p[7], "pending") != 0 && strcmp(p[7], "sent") != 0))
		fz_fail("notification insert: channel or status outside its CHECK");
	if (strcmp(p[6], "email") == 0 && p[2] == NULL && p[3] == NULL)
		fz_fail("notification insert: a mail nobody can receive");
}

/* The multi-row insert: nine array literals of one element each (the
 * harness stores one event at a time), decoded as the server would. */
static void
check_rows(struct fz_store *st, const char *const *p, int n, struct fake_db_answer *a)
{
	char *buf[9] = { 0 }, *cell[9][1];
	const char *row[9];
	int i;

	if (n != 9)
		fz_fail("multi-row insert: not nine columns");
	for (i = 0; i < 9; i++) {
		if (p[i] == NULL || fake_db_array(p[i], &buf[i], cell[i], 1) != 1)
			fz_fail("multi-row insert: a column is not a one-element array literal");
		row[i] = cell[i][0];
	}
	check_row(&st->it->ev, row);
	st->inserts++;
	/* RETURNING event_id: the row was new. */
	a->nrows = 1;
	a->ncols = 1;
	a->cells[0] = st->it->ev.event_id;
	a->affected = 1;
	for (i = 0; i < 9; i++)
		free(buf[i]);
}

static void
fz_db(void *arg, size_t idx, const char *const *p, int n, struct fake_db_answer *a)
{
	struct fz_store *st = arg;
	const struct notifier_event *ev = &st->it->ev;

	switch (idx) {
	case NS_USER_UPSERT:
		if (ev->kind != NK_USER_REGISTERED || !is_id(p[0]) || p[1] == NULL || p[1][0] == '\0' ||
		    p[2] == NULL || strlen(p[2]) > 254 || !valid_email(p[2], strlen(p[2])))
			fz_fail("user upsert with bad values");
		a->affected = 1;
		break;
	case NS_USER_FILL:
		if (ev->kind != NK_USER_REGISTERED || !is_id(p[0]) || p[1] == NULL ||
		    strlen(p[1]) > 254)
			fz_fail("address fill with bad values");
		break;
	case NS_USER_DELETE:
		if (ev->kind != NK_USER_DELETED || !is_id(p[0]) || p[1] == NULL)
			fz_fail("user delete with bad values");
		a->affected = 1;
		break;
	case NS_USER_END:
		if (ev->kind != NK_USER_DELETED || !is_id(p[0]) || n != 1)
			fz_fail("ending a deleted user's mail with bad values");
		break;
	case NS_INSERT:
		/* The nine values of the multi-row insert and the mail's code
		 * (mail_secret: NULL, or the event's token). */
		if (n != 10)
			fz_fail("notification insert: not ten values");
		check_row(ev, p);
		if (p[9] != NULL && strcmp(p[9], ev->token) != 0)
			fz_fail("notification insert: a code the event did not carry");
		st->inserts++;
		a->affected = 1;
		break;
	case NS_INSERT_MANY:
		check_rows(st, p, n, a);
		break;
	default:
		fz_fail("statement the notifier's store does not use per event");
	}
}

static void
check_store(struct notifier_item *it)
{
	struct fz_store st = { it, 0 };
	static db *d;

	if (d == NULL && (d = db_open("", notifier_stmts, NS_COUNT_, 0)) == NULL)
		fz_fail("out of memory");
	fake_db.fn = fz_db;
	fake_db.arg = &st;
	if (notifier_store(d, it, 1) != DB_OK)
		fz_fail("the store refused a parsed event with a working database");
	if (it->inserted != it->note.write || st.inserts != it->note.write)
		fz_fail("not exactly one row per written notification");
	fake_db.fn = NULL;
}

static void
check_topics(const uint8_t *data, size_t size)
{
	const char *out[16];
	char *list, *buf;
	int n, i;

	/* An environment variable: text up to the first NUL. */
	if ((list = strndup((const char *)data, size)) == NULL ||
	    (buf = malloc(strlen(list) + 1)) == NULL)
		fz_fail("out of memory");
	n = notifier_topics(list, buf, out, 16);
	if (n == 0 || n < -1 || n > 16)
		fz_fail("topic count outside -1, 1..16");
	for (i = 0; i < n; i++) {
		size_t len = strlen(out[i]);
		if (out[i] < buf || out[i] + len > buf + strlen(list))
			fz_fail("a topic outside the caller's buffer");
		if (!type_chars_ok(out[i]) || len > 249)
			fz_fail("a topic name Kafka refuses");
	}
	free(buf);
	free(list);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* Quiet: the code under test logs every refusal. */
	setenv("ESM_LOG_LEVEL", "critical", 0);
	log_init("fuzz_notifier");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct notifier_item it, again;
	const char *why = "unset";
	int rc;

	memset(&it, 0, sizeof(it));
	rc = notifier_parse((const char *)data, size, &it.ev, &why);
	if (rc != 0 && rc != -1)
		fz_fail("parse returned neither 0 nor -1");
	if ((rc == 0) != (why == NULL))
		fz_fail("a refusal without a reason, or a success with one");
	if (rc == -1 && (why[0] == '\0' || util_has_ctrl(why, strlen(why))))
		fz_fail("a reason unfit for the DLQ header");
	memset(&again, 0, sizeof(again));
	if (notifier_parse((const char *)data, size, &again.ev, &why) != rc ||
	    memcmp(&again.ev, &it.ev, sizeof(it.ev)) != 0)
		fz_fail("parse is not deterministic");
	if (rc == 0) {
		check_event(&it.ev);
		notifier_render(&it.ev, &it.note);
		check_note(&it.ev, &it.note);
		if (it.note.write && strcmp(it.note.channel, "email") == 0)
			check_mail(&it.note);
		it.parsed = 1;
		it.topic = FZ_TOPIC;
		check_store(&it);
	}
	check_topics(data, size);
	return 0;
}
