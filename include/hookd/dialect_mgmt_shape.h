/* The management dialect's documents (reference 003) and their native counterparts: the subscription and event
 * shapes replies show, the native body a subscription document becomes, and the field names they share. Pure
 * mappings: values in, new values out. */
#ifndef HOOKD_DIALECT_MGMT_SHAPE_H
#define HOOKD_DIALECT_MGMT_SHAPE_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

/* Which management document: a subscription or one of its events (a delivery-log entry). */
typedef enum { HD_MGMT_SUBSCRIPTIONS, HD_MGMT_EVENTS } hd_mgmt_kind_t;

/* The management shape of a native subscription (borrowed) of user_id (the tenant): a new object without
 * webhookEvents. secret (may be NULL) is shown as it is; without it the secret is masked ("****" and the last 4
 * characters of its whsec_ form). */
json_object *hd_dialect_mgmt_shape_subscription(json_object *native, const char *secret, const char *user_id);

/* The management shape of a native delivery-log entry (borrowed) of the subscription numbered sub_alias. */
json_object *hd_dialect_mgmt_shape_event(json_object *native, int64_t sub_alias);

/* The native body for the management subscription object sub (borrowed), for a create or a full replace: every
 * field of the management document is set, absent or null ones to their defaults, and url and eventType are
 * required. The secret is left out when absent or masked ("****...", as read back): a create generates one, a
 * replace keeps the current one; one without the whsec_ prefix is the raw key (16 to 64 bytes). 0 with *native (a
 * new object) set, or -1 with why filled (the camelCase field and what is wrong). The native API validates the
 * values themselves. */
int hd_dialect_mgmt_shape_native_body(json_object *sub, json_object **native, char *why, size_t why_size);

/* The field of kind's management shape named by the len bytes at name (static text), or NULL when it has none. */
const char *hd_dialect_mgmt_shape_field(hd_mgmt_kind_t kind, const char *name, size_t len);

/* A native subscription field as a validation detail names it, in the management document's terms (an item of
 * event_types, "event_types[0]", is eventType); native itself when the management document has no such field. */
const char *hd_dialect_mgmt_shape_name(const char *native);

#endif
