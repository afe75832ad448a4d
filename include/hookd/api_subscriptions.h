/* /v1/webhooks/subscriptions: CRUD, rotate-secret and test events, scoped to the key's tenant. The stored
 * document is the one the dispatcher reads (sub.h): secrets encrypted (secret.h), updated_at changed by every
 * write so that the dispatchers' refresher notices within subscriptions.refresh.ms. */
#ifndef HOOKD_API_SUBSCRIPTIONS_H
#define HOOKD_API_SUBSCRIPTIONS_H

#include "hookd/api_req.h"

/* Routes everything under /subscriptions (r->seg[0] is "subscriptions"); the delivery-log routes below a
 * subscription go to api_deliveries. */
void hd_api_subscriptions(hd_api_req_t *r);

/* The native JSON of a stored subscription (a new object): every field but the keys, its id and numeric alias. */
json_object *hd_api_subscription_json(const bson_t *doc);

#endif
