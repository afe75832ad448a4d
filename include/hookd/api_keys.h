/* /v1/webhooks/api-keys: the API keys (apikey.h) for admin keys: list them (id, tenant, admin, created_at; never a
 * key or its hash) and revoke one, effective at its next request. */
#ifndef HOOKD_API_KEYS_H
#define HOOKD_API_KEYS_H

#include "hookd/api_req.h"

/* Routes /api-keys and /api-keys/{id} (r->seg[0] is "api-keys"). */
void hd_api_keys(hd_api_req_t *r);

#endif
