/* /v1/webhooks/event-types: the catalogue of event types ({_id: name, description, schema}), readable by every
 * key, changed by admin keys only. Subscriptions may name only catalogued types or wildcards. */
#ifndef HOOKD_API_EVENT_TYPES_H
#define HOOKD_API_EVENT_TYPES_H

#include "hookd/api_req.h"

/* One catalogue entry to seed. */
typedef struct hd_api_event_type_seed_s {
    const char *name, *description;
} hd_api_event_type_seed_t;

/* The built-in catalogue, seeded by every `hookd api`. */
extern const hd_api_event_type_seed_t hd_api_event_types_builtin[];
extern const size_t hd_api_event_types_builtin_count;

/* Inserts those of the n seeds (borrowed) that are missing; existing entries are left as they are. 0, or -1 with
 * errstr. */
int hd_api_event_types_seed(mongoc_client_t *client, const char *database, const hd_api_event_type_seed_t *seeds,
                            size_t n, char *errstr, size_t errstr_size);

/* Routes /event-types and /event-types/{name} (r->seg[0] is "event-types"). */
void hd_api_event_types(hd_api_req_t *r);

/* The native JSON of a stored catalogue entry (a new object): name, description, schema. */
json_object *hd_api_event_type_json(const bson_t *doc);

/* 1 when name is in the catalogue, 0 when not, -1 on a database error (errstr filled). */
int hd_api_event_type_known(hd_api_req_t *r, const char *name, char *errstr, size_t errstr_size);

#endif
