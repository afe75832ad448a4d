/* /v1/webhooks/subscriptions: CRUD, rotate-secret and test events, scoped to the key's tenant. The stored
 * document is the one the dispatcher reads (sub.h): secrets encrypted (secret.h), updated_at changed by every
 * write so that the dispatchers' refresher notices within subscriptions.refresh.ms. */
#ifndef HOOKD_API_SUBSCRIPTIONS_H
#define HOOKD_API_SUBSCRIPTIONS_H

#include "hookd/api.h"

/* Routes everything under /subscriptions (r->seg[0] is "subscriptions"); the delivery-log routes below a
 * subscription go to api_deliveries. */
void hd_api_subscriptions(hd_api_req_t *r);

/* Loads the tenant's subscription id into *doc (caller destroys it). 1 when found; 0 with a 404 reply set;
 * -1 with a 500 reply set. */
int hd_api_subscription_find(hd_api_req_t *r, const char *id, bson_t **doc);

#endif
