/* The delivery log: /v1/webhooks/events and /v1/webhooks/subscriptions/{id}/events[/{eventId}[/retry]], read
 * from the `deliveries` collection that the delivery-log writer fills (deliverylog.h). Retry re-produces the
 * original event, read back from its source topic, offset and partition, with the hookd-subscription header so
 * that the normal dispatch path delivers it to that one subscription again. */
#ifndef HOOKD_API_DELIVERIES_H
#define HOOKD_API_DELIVERIES_H

#include "hookd/api_req.h"

/* sub_id NULL: r->seg is ["events"]; otherwise r->seg is ["subscriptions", sub_id, "events", ...]. */
void hd_api_deliveries(hd_api_req_t *r, const char *sub_id);

/* The native JSON of a stored delivery-log row (a new object), with its numeric alias. */
json_object *hd_api_delivery_json(const bson_t *doc);

/* Deletes every delivery-log row of the tenant's subscription sub_id. Sets a 500 reply on a database error, a
 * 200 one when rows went, none when there were none. */
void hd_api_deliveries_forget(hd_api_req_t *r, const char *sub_id);

#endif
