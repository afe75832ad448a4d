/* The dialect "management": the management API v11.5 (reference 003), by default at /v1/webhooks.
 * {"subscription": {...}} bodies in camelCase with integer ids (the numeric aliases, alias.h), application/json or
 * application/json-patch+json, x-api-key or Authorization: Bearer, select/filter/sort/include/take/skip with
 * totals, and {success, message} on every reply. Mapping and choices: docs/dialects.md. This module holds the
 * routes and the error shape; the document shapes are dialect_mgmt_shape.h's, the query language
 * dialect_mgmt_query.h's. */
#ifndef HOOKD_DIALECT_MGMT_H
#define HOOKD_DIALECT_MGMT_H

#include "hookd/dialect.h"

extern const hd_dialect_t hd_dialect_mgmt;

/* The management error reply for the native error reply in r, in place (the dialect's reshape_error). */
void hd_dialect_mgmt_reshape_error(hd_api_req_t *r);

#endif
