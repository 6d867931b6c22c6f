/*
 * notifier.h: the notification worker. A member of consumer group
 * notification-service-group on the event topics; for each message, one
 * database transaction (notification row, unique on eventId, and the user
 * projection), commit, then the offset store. Unparseable messages go to
 * notifications-dlq. A delivery pass mails pending notifications over SMTP.
 *
 * handle.c holds the decisions as pure functions (parse an event, choose
 * and render its notification, retry backoff), tested in
 * tests/unit/test_notifier.c; store.c talks to PostgreSQL; main.c to Kafka.
 */
#ifndef ESM_NOTIFIER_H
#define ESM_NOTIFIER_H

#include <stddef.h>
#include <stdint.h>
#include "db.h"
#include "util.h"

#define NOTIFIER_TYPE_MAX 64
#define NOTIFIER_STATUS_MAX 32
#define NOTIFIER_TEXT_MAX 128		/* bytes of username, reference, type... */
#define NOTIFIER_SUBJECT_MAX 200
#define NOTIFIER_MESSAGE_MAX 1024
#define NOTIFIER_TOKEN_MAX 43			/* a mailed code: 32 bytes in base64url */
#define NOTIFIER_BACKOFF_MIN_MS 100
#define NOTIFIER_BACKOFF_MAX_MS 5000
#define NOTIFIER_DEFAULT_TOPICS \
	"user-registration-events,task-events,booking-events,flight-updates"
#define NOTIFIER_DLQ_TOPIC "notifications-dlq"
#define NOTIFIER_GROUP "notification-service-group"

enum notifier_kind {
	NK_USER_REGISTERED,
	NK_USER_DELETED,
	NK_TASK_CREATED,
	NK_TASK_CANCELLED,
	NK_TASK_STATUS,		/* task_status_changed: a notification when it ended */
	NK_PASSWORD_RESET,	/* password_reset_requested: mails the code */
	NK_EMAIL_VERIFY,	/* email_verification_requested: mails the code */
	NK_PASSWORD_CHANGED,	/* user_password_changed: tells the owner */
	NK_GENERIC		/* any other event type: a generic notification */
};

/* One parsed event: only what the notification needs, copied. */
struct notifier_event {
	enum notifier_kind kind;
	char event_id[37];			/* lowercase UUID */
	char type[NOTIFIER_TYPE_MAX + 1];
	char source[NOTIFIER_TEXT_MAX + 1];	/* "" when absent */
	int64_t user_id;			/* 0 when the event names no user */
	char username[NOTIFIER_TEXT_MAX + 1];
	char email[256];
	char task_ref[NOTIFIER_TEXT_MAX + 1];
	char task_type[NOTIFIER_TEXT_MAX + 1];
	char priority[NOTIFIER_TEXT_MAX + 1];
	char status[NOTIFIER_STATUS_MAX + 1];	/* task_status_changed: the new status */
	char token[NOTIFIER_TOKEN_MAX + 1];	/* the code a mail carries */
};

/* The notification an event becomes. */
struct notifier_note {
	int write;				/* 0: the event only updates the projection */
	char subject[NOTIFIER_SUBJECT_MAX + 1];
	char message[NOTIFIER_MESSAGE_MAX + 1];
	const char *channel;			/* "email", or "log" when there is no recipient */
	const char *status;			/* "pending", or "sent" for channel "log" */
	const char *email;			/* address from the event itself, or NULL */
	const char *secret;			/* a code for the mail only (never shown by
						   the API), or NULL */
};

/* Parses one message payload. 0, or -1 with *why (a constant string fit
 * for the DLQ "reason" header) when the message is unparseable: not strict
 * JSON, not an object, no UUID eventId, no eventType, a field of the wrong
 * type, with control characters or too long, or a known type without its
 * fields (an empty username or taskReference counts as absent). Pure. */
int notifier_parse(const char *payload, size_t len, struct notifier_event *ev,
    const char **why) ESM_WUR;
/* Chooses and renders the notification of ev (the original system's texts
 * for the known types, a generic one for the rest). A task that ended
 * (task_status_changed to completed or failed) is a notification; its
 * other status changes are not. Pure. */
void notifier_render(const struct notifier_event *ev, struct notifier_note *n);
/* Next retry delay after a failure: doubles from NOTIFIER_BACKOFF_MIN_MS up
 * to NOTIFIER_BACKOFF_MAX_MS; *cur = 0 means no failure yet. Pure. */
int notifier_backoff(int *cur);
/* Delay before delivery attempt attempts + 1 of a mail (attempts >= 1):
 * 1 s, 2 s, 4 s... capped at 5 minutes. Pure. */
int notifier_mail_delay_ms(int attempts);
/* What becomes of a mail after its attempt number attempts (>= 1). */
enum notifier_mail_end {
	NM_SENT,
	NM_RETRY,	/* transient: a 4xx reply or no reply (connection, timeout) */
	NM_FAILED	/* for good: a 5xx reply, or the last attempt failed */
};
/* ok: the attempt succeeded; reply: the SMTP reply code that refused it (0
 * none). A 5xx reply is the server's final word on this mail, so it fails
 * at once; anything else is retried until max_attempts. Pure. */
enum notifier_mail_end notifier_mail_outcome(int ok, int reply, int attempts, int max_attempts);
/* Splits a comma list of topic names into out[0..max) (pointers into
 * buf, a copy the caller provides of at least strlen(list)+1 bytes).
 * Returns the count, or -1 when empty or a name is not [A-Za-z0-9._-]+. */
int notifier_topics(const char *list, char *buf, const char **out, int max);

/* ---- database (store.c) ---- */

enum notifier_stmt {
	NS_USER_UPSERT,
	NS_USER_FILL,
	NS_USER_DELETE,
	NS_USER_END,
	NS_INSERT,
	NS_INSERT_MANY,
	NS_DUE,
	NS_SENT,
	NS_RETRY,
	NS_FAIL,
	NS_EXPIRE,
	NS_COUNT_
};
extern const struct db_stmt notifier_stmts[NS_COUNT_];

/* One consumed message on its way to the database. */
struct notifier_item {
	int parsed;			/* 0: unparseable, why says why */
	const char *why;
	struct notifier_event ev;
	struct notifier_note note;
	const char *topic;		/* borrowed from the message */
	int inserted;			/* set by notifier_store: a new row was written */
};

/* Writes the parsed items[0..n) in one transaction, in order: each one's
 * projection change, then its notification (nothing when its eventId
 * exists already). Unparsed items are skipped. Returns a db_status; on
 * failure nothing was written. One transaction per batch, not per event,
 * so one WAL flush serves many events; a replay of the batch is harmless. */
int notifier_store(db *d, struct notifier_item *items, size_t n) ESM_WUR;
#define NOTIFIER_RUN_MAX 256	/* notifications per multi-row insert */
/* PostgreSQL array literal of the strings v[0..n) into b (reset first):
 * every element quoted with " and \ escaped, NULL entries as NULL. 0, or
 * -1 on ENOMEM. Pure. */
int notifier_pg_array(buf_t *b, const char *const *v, size_t n) ESM_WUR;

struct notifier_mailcfg {
	const char *url;	/* smtp://host:port */
	const char *from;
	int max_attempts;
	int batch;
	int timeout_ms;
	int recipient_wait_s;	/* how long mail waits for its user's address */
};
/* One delivery pass: locks up to batch due notifications (SKIP LOCKED, so
 * several notifiers share the work), mails each, records the outcome
 * (notifier_mail_outcome); the first transient failure ends the pass and
 * sets *deferred (the server may be down: the caller pauses), a refusal
 * for good does not. Counts mails sent and failed attempts. Returns the
 * number handled, or -1 on a database failure. */
int notifier_deliver(db *d, const struct notifier_mailcfg *mc, uint64_t *sent,
    uint64_t *failed, int *deferred);
/* Ends as undeliverable the pending mail that has waited recipient_wait_s
 * for its user's address (no user event named the user). Returns how many,
 * or -1 on a database failure. */
int notifier_expire(db *d, int recipient_wait_s);

#endif
