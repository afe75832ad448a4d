/* The two Inveterate dialects (docs/dialects.md): `inveterate-subscriptions` (reference 000, webhook subscriptions
 * keyed by a single topic under /v2.0/admin/webhook-subscriptions) and `inveterate-webhooks` (reference 001,
 * per-merchant webhooks triggered by the eight-event catalogue under /v2.0/admin/webhooks). Both authenticate with
 * the X-Inveterate-Api-Key header and answer {"message", "data"} with 200/201 on success, 400 for a malformed
 * request (nothing done) and 500 for a backend failure. Each operation is a native sub-request (dialect.h); the
 * functions below are the pure shape mappings between the wire shapes and the native API's, which take and return
 * json-c objects and never touch a request. */
#ifndef HOOKD_DIALECT_INVETERATE_H
#define HOOKD_DIALECT_INVETERATE_H

#include <json-c/json.h>
#include <stddef.h>

#include "hookd/dialect.h"

/* The dialects, for the table in dialects.c; they seed their catalogues (000's topic, 001's eight events). */
extern const hd_dialect_t hd_dialect_inveterate_subscriptions;
extern const hd_dialect_t hd_dialect_inveterate_webhooks;

/* What a request body is for. */
typedef enum {
    HD_DIALECT_INVETERATE_CREATE,
    HD_DIALECT_INVETERATE_UPDATE,
    HD_DIALECT_INVETERATE_DELETE,
    HD_DIALECT_INVETERATE_TEST,
    HD_DIALECT_INVETERATE_LOG, /* the query parameters of an event-log request, as an object of strings */
} hd_dialect_inveterate_op_t;

/* Checks a webhook-subscription (000) body for op: fields, their types, the topic enum, the required ones
 * (create: topic, callbackUrl, name; update: topic, id; delete: topic, id; test: topic, id, optional data; log:
 * topic, id, optional limit and lastEventId), and builds the native body: event_types [topic] (create), url, name;
 * for a test {event_type, data}; for a log the native query {limit, after}. *native is a
 * new object (caller owns it); *id and *topic point into body (borrowed; *id NULL on create). 0, or -1 with why
 * filled with the 400 message and *native NULL. body may be NULL (a request without one). */
int hd_dialect_inveterate_subscription_in(json_object *body, hd_dialect_inveterate_op_t op, json_object **native,
                                          const char **id, const char **topic, char *why, size_t why_size);

/* Checks a webhook (001) body for op (create: callbackUrl, optional name; test: optional topic and data; log:
 * optional limit and lastEventId) and builds the native body: event_types = the eight events, url, name; or
 * {event_type, data}; or the native query {limit, after}. Ownership and return as above; body may be NULL but for
 * a create. */
int hd_dialect_inveterate_webhook_in(json_object *body, hd_dialect_inveterate_op_t op, json_object **native, char *why,
                                     size_t why_size);

/* A native subscription (borrowed) as a 000 subscription {id, topic, callbackUrl, name, createdAt, updatedAt},
 * topic being its first event type, plus token when the native reply carries the secret (on create only). */
json_object *hd_dialect_inveterate_subscription_out(json_object *sub);

/* A native subscription (borrowed) as a 001 webhook {id, merchantId, callbackUrl, name, events, createdAt}, plus
 * token when the native reply carries the secret. */
json_object *hd_dialect_inveterate_webhook_out(json_object *sub);

/* A native delivery-log row (borrowed) as an event-log entry in camelCase: id, subscriptionId, eventId, topic,
 * status, statusCode, response, errorMessage, success, retryCount, sentAt, nextRetryAt, createdAt. */
json_object *hd_dialect_inveterate_event_out(json_object *row);

/* A native test-event reply's data (borrowed) as {eventId, webhookId, topic, id}. */
json_object *hd_dialect_inveterate_test_out(json_object *data);

/* {"message": message, "data": data} (data taken; NULL gives null). */
json_object *hd_dialect_inveterate_envelope(const char *message, json_object *data);

/* A native error reply (borrowed: {success, error, message, details}) as this dialect's: 400 for every 4xx (the
 * message names the fields in the dialect's names, data null: nothing was done), 500 for every 5xx (data
 * {"error": slug}, from the backend). Sets *status; returns a new object. */
json_object *hd_dialect_inveterate_error(unsigned native_status, json_object *native_reply, unsigned *status);

#endif
