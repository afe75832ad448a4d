/* The dialect "native": hookd's own management API (docs/api.md, schemas/openapi.yaml), by default at
 * /v1/webhooks. Authentication by x-api-key or Authorization: Bearer, application/json bodies, and the routes of
 * the resource modules. */
#ifndef HOOKD_DIALECT_NATIVE_H
#define HOOKD_DIALECT_NATIVE_H

#include "hookd/dialect.h"

extern const hd_dialect_t hd_dialect_native;

/* Routes an authenticated request with its body parsed to the resource modules (r->seg below the native prefix):
 * every request comes here, those of other dialects as sub-requests (hd_dialect_native_call). */
void hd_dialect_native_route(hd_api_req_t *r);

/* Runs the native API on a sub-request of r (same tenant, database, connection): method on the native path made of
 * the segments that follow (below the native prefix, e.g. "subscriptions", id, "test"; NULL-terminated), with body
 * (borrowed; NULL: none) and query (an object of string values, borrowed; NULL: no parameters; never r's own).
 * Returns the native status; *reply is the native reply (caller owns): {"success": true, "data", ...} or the
 * native error shape. */
unsigned hd_dialect_native_call(hd_api_req_t *r, const char *method, json_object *body, json_object *query,
                                json_object **reply, ...) __attribute__((sentinel));

#endif
