/*
 * event.c: see event.h.
 */
#include <stdlib.h>

#include "event.h"
#include "util.h"

cJSON *
event_new(const char *type, const char *source, const char *request_id, char event_id[37])
{
	char ts[UTIL_TS_LEN];
	cJSON *ev;

	util_uuid4(event_id);
	util_ts_format(util_now_us(), ts);
	if ((ev = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(ev, "eventId", event_id) == NULL ||
	    cJSON_AddStringToObject(ev, "eventType", type) == NULL ||
	    cJSON_AddStringToObject(ev, "occurredAt", ts) == NULL ||
	    cJSON_AddStringToObject(ev, "source", source) == NULL ||
	    cJSON_AddStringToObject(ev, "requestId", request_id ? request_id : "") == NULL ||
	    cJSON_AddStringToObject(ev, "timestamp", ts) == NULL) {
		cJSON_Delete(ev);
		return NULL;
	}
	return ev;
}

int
event_outbox_add(db *d, size_t stmt, const char *topic, const char *key,
    const cJSON *ev, const char *event_id, const char *request_id)
{
	const char *p[5];
	char *payload;
	int rc;

	if ((payload = cJSON_PrintUnformatted(ev)) == NULL)
		return DB_ERROR;
	p[0] = event_id;
	p[1] = topic;
	p[2] = key;
	p[3] = payload;
	p[4] = request_id ? request_id : "";
	rc = db_exec(d, stmt, p, 5, NULL);
	cJSON_free(payload);
	return rc;
}
