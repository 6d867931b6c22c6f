/*
 * event.h: events of the Kafka contract, built as JSON and written to the
 * service's outbox in the caller's transaction. The outbox relay publishes
 * them; consumers dedupe on eventId.
 */
#ifndef ESM_EVENT_H
#define ESM_EVENT_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "db.h"

/* The statement every service with an outbox has in its table. */
#define EVENT_OUTBOX_SQL \
	"INSERT INTO outbox (event_id, topic, msg_key, payload, request_id) " \
	"VALUES ($1::uuid, $2, $3, $4, NULLIF($5, ''))"

/* New event object with the common fields: eventId (new UUID, also copied
 * to event_id), eventType, occurredAt and timestamp (now, RFC 3339 UTC),
 * source, requestId. The caller adds the type's own fields and frees it.
 * NULL on ENOMEM. */
cJSON *event_new(const char *type, const char *source, const char *request_id,
    char event_id[37]);
/* Inserts ev into the outbox with statement stmt (EVENT_OUTBOX_SQL), key =
 * message key. Returns a db_status. */
int event_outbox_add(db *d, size_t stmt, const char *topic, const char *key,
    const cJSON *ev, const char *event_id, const char *request_id) ESM_WUR;

#endif
