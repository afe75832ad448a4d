/* The dialect "management": the management API v11.5 (reference 003), by default at /v1/webhooks.
 * {"subscription": {...}} bodies in camelCase with integer ids (the numeric aliases, alias.h), application/json or
 * application/json-patch+json, x-api-key or Authorization: Bearer, select/filter/sort/include/take/skip with
 * totals, and {success, message} on every reply. Mapping and choices: docs/dialects.md. The functions below are
 * the pure shape mappings and parsers the dialect is made of. */
#ifndef HOOKD_DIALECT_MGMT_H
#define HOOKD_DIALECT_MGMT_H

#include "hookd/dialect.h"

extern const hd_dialect_t hd_dialect_mgmt;

/* What a query names: subscriptions or their events (delivery-log entries). */
typedef enum { HD_MGMT_SUBSCRIPTIONS, HD_MGMT_EVENTS } hd_mgmt_kind_t;

/* The management shape of a native subscription (borrowed) of user_id (the tenant): a new object without
 * webhookEvents. secret (may be NULL) is shown as it is; without it the secret is masked ("****" and the last 4
 * characters of its whsec_ form). */
json_object *hd_dialect_mgmt_subscription(json_object *native, const char *secret, const char *user_id);

/* The management shape of a native delivery-log entry (borrowed) of the subscription numbered sub_alias. */
json_object *hd_dialect_mgmt_event(json_object *native, int64_t sub_alias);

/* The native body for the management subscription object sub (borrowed), for a create or a full replace: every
 * field of the management document is set, absent or null ones to their defaults, and url and eventType are
 * required. The secret is left out when absent or masked ("****...", as read back): a create generates one, a
 * replace keeps the current one; one without the whsec_ prefix is the raw key (16 to 64 bytes). 0 with *native (a
 * new object) set, or -1 with why filled (the camelCase field and what is wrong). The native API validates the
 * values themselves. */
int hd_dialect_mgmt_native_body(json_object *sub, json_object **native, char *why, size_t why_size);

/* Parses filter (see docs/dialects.md: "field op value" clauses joined by "and") into conditions appended to out
 * under "$and". 0, or -1 with why filled. */
int hd_dialect_mgmt_filter(const char *filter, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size);

/* Parses sort ("field" or "field asc|desc", comma-separated) into a sort document appended to out. 0, or -1 with
 * why filled. */
int hd_dialect_mgmt_sort(const char *sort, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size);

/* Parses select (comma-separated fields of the management shape) into *fields (a new array of names). 0, or -1
 * with why filled. */
int hd_dialect_mgmt_select(const char *select, hd_mgmt_kind_t kind, json_object **fields, char *why, size_t why_size);

/* item (taken) reduced to the fields named in fields (borrowed; NULL keeps them all): a new object. */
json_object *hd_dialect_mgmt_project(json_object *item, json_object *fields);

/* The management error reply for the native error reply in r, in place (the dialect's reshape_error). */
void hd_dialect_mgmt_reshape_error(hd_api_req_t *r);

#endif
