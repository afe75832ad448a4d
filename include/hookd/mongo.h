/* The MongoDB layer: the client pool, the names of hookd's collections and the indexes its queries rely on. Every
 * module that reads or writes MongoDB takes its clients and collection names from here.
 *
 *   subscriptions         the subscription documents (store.h writes dispatcher bookkeeping, the API the rest)
 *   subscription_changes  the change log the dispatchers' caches read (store.h)
 *   deliveries            the delivery log: written by deliverylog.h, read and pruned by the API
 *   event_types           the event-type catalogue (api_event_types.h)
 *   api_keys              the management API's keys (apikey.h) */
#ifndef HOOKD_MONGO_H
#define HOOKD_MONGO_H

#include <mongoc/mongoc.h>

#define HD_MONGO_SUBSCRIPTIONS "subscriptions"
#define HD_MONGO_SUBSCRIPTION_CHANGES "subscription_changes"
#define HD_MONGO_DELIVERIES "deliveries"
#define HD_MONGO_EVENT_TYPES "event_types"
#define HD_MONGO_API_KEYS "api_keys"
#define HD_MONGO_COUNTERS "counters" /* numeric aliases (alias.h) */

typedef struct hd_mongo_s hd_mongo_t;

/* A pool for uri (mongodb://... or mongodb+srv://...) and database; connects lazily. Server selection gives up
 * after 3 s unless uri sets serverSelectionTimeoutMS, so that a database that is away fails a call fast instead
 * of blocking its thread for 30 s. NULL with errstr when uri is invalid. Copies both. */
hd_mongo_t *hd_mongo_new(const char *uri, const char *database, char *errstr, size_t errstr_size);

/* NULL is a no-op. Every client popped must have been pushed back. */
void hd_mongo_destroy(hd_mongo_t *mongo);

/* A client for the calling thread; push it back when done. Thread-safe. */
mongoc_client_t *hd_mongo_pop(hd_mongo_t *mongo);
void hd_mongo_push(hd_mongo_t *mongo, mongoc_client_t *client);

const char *hd_mongo_database(const hd_mongo_t *mongo);

/* 1 when err says no server answered (none could be selected, or the connection broke): worth trying again.
 * Any other error is the server's answer. */
int hd_mongo_away(const bson_error_t *err);

/* Creates the indexes hookd's queries rely on (the API's, scoped to a tenant; the dispatchers look up by _id
 * only), where they are missing. A failure (no createIndex privilege) is logged: it only costs speed. */
void hd_mongo_ensure_indexes(hd_mongo_t *mongo);

#endif
