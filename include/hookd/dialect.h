/* Dialects: the front ends of `hookd api`. A dialect speaks one platform's management API (paths, authentication,
 * envelopes, field names, id types, pagination, error slugs) as a thin translation over the core: it builds
 * native-shaped sub-requests (hd_dialect_native_call), or lists through the core helpers (api_req.h), and rewrites
 * the native replies into its own shapes. The native API itself is the dialect "native" (dialect_native.h). This
 * header is what every dialect module includes: the dialect's description and helpers shared by dialects; the table
 * of dialects and their mounts at path prefixes (api.dialects) are dialects.h. Adding one: docs/dialects.md. */
#ifndef HOOKD_DIALECT_H
#define HOOKD_DIALECT_H

#include "hookd/api_event_types.h"
#include "hookd/api_req.h"

typedef struct hd_dialect_s {
    const char *name;   /* in api.dialects */
    const char *prefix; /* where it is mounted when api.dialects gives no prefix, e.g. "/v1/webhooks" */
    /* Serves one request: r->seg and r->nseg are the path segments after the prefix (possibly none), r->raw_body
     * the body unparsed, no tenant yet. Sets the reply, in the dialect's shapes. */
    void (*serve)(hd_api_req_t *r);
    /* Rewrites the native error reply in r (a status and {"success": false, "error": slug, "message", "details"})
     * into the dialect's error shape, in place. The server calls it for its own refusals (an oversize body, an
     * undecodable URL) before serve would run; NULL keeps the native shape. */
    void (*reshape_error)(hd_api_req_t *r);
    const hd_api_event_type_seed_t *events; /* seeded into the catalogue when the dialect is mounted; may be NULL */
    size_t nevents;
} hd_dialect_t;

/* The member key of o (borrowed), or NULL when o is not an object or has no such member. */
json_object *hd_dialect_member(json_object *o, const char *key);

/* Of a native reply: its data (borrowed; NULL when none), its error slug and message (borrowed; NULL on success). */
json_object *hd_dialect_data(json_object *reply);
const char *hd_dialect_slug(json_object *reply);
const char *hd_dialect_message(json_object *reply);

/* Parses a decimal integer from 1 to max (a numeric alias in a path): 0 with *out set, or -1. */
int hd_dialect_parse_id(const char *s, int64_t max, int64_t *out);

#endif
