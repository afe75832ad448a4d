/* `hookd api`: the management API over HTTP (libmicrohttpd's thread pool of event loops, with per-address connection
 * limits and a bounded time to receive each request; MongoDB through the store's client pool). This module owns the
 * server, routing, authentication and reading the request; it hands each request (api_req.h) to its resource module
 * (api_subscriptions, api_deliveries, api_event_types, api_keys), which fills in the reply.
 * Routes and schemas: schemas/openapi.yaml; guide: docs/api.md. */
#ifndef HOOKD_API_H
#define HOOKD_API_H

#include <stdatomic.h>

#include "hookd/config.h"

typedef struct hd_api_s hd_api_t;

/* Connects nothing yet; checks the master key, creates the Kafka producer (test events, retries). Does not take
 * conf, which must outlive the API. NULL with errstr on failure. */
hd_api_t *hd_api_new(const hd_conf_t *conf, char *errstr, size_t errstr_size);

/* Seeds the event types, listens, runs the delivery-log writer (deliverylog.h) in a thread when api.recorder is 1,
 * and serves until *stop is non-zero. Returns 0, or -1 when it cannot start (the reason is logged). */
int hd_api_run(hd_api_t *api, const atomic_int *stop);

/* NULL is a no-op. */
void hd_api_destroy(hd_api_t *api);

#endif
