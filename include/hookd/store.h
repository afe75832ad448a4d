/* Where subscriptions live. One interface, two backends chosen by URI:
 *   mongodb://...   the `subscriptions` collection, through the MongoDB layer (mongo.h; MongoDB 6/7, or FerretDB)
 *   file:PATH       a JSON file {"subscriptions": [...]} or a bare array: the embedded demo and static
 *                   (GitOps-managed) deployments. Read one subscription at a time, like MongoDB's cursor.
 * Loading is blocking I/O: callers run it off the delivery loop (the cache thread, cache.h). */
#ifndef HOOKD_STORE_H
#define HOOKD_STORE_H

#include <stdint.h>

#include "hookd/mongo.h"
#include "hookd/sub.h"

typedef struct hd_store_s hd_store_t;

/* Returns a store, or NULL with errstr filled (unknown scheme, invalid MongoDB URI). Connects lazily. */
hd_store_t *hd_store_new(const char *uri, const char *database, char *errstr, size_t errstr_size);
void hd_store_destroy(hd_store_t *store);

/* Asked per document, with its id and digest (a keyed hash of the document, see hd_sub_t): an already loaded
 * subscription with that id and digest, retained for the caller, or NULL to parse the document. */
typedef hd_sub_t *hd_store_reuse_cb(void *opaque, const char *id, uint64_t digest);

/* Loads every subscription. On success returns 0 and hands the caller an array of *cnt subscriptions it owns
 * (free each with hd_sub_destroy, then the array with free). Invalid documents are skipped with a warning naming
 * them, so one bad row cannot stop delivery to every other subscriber. reuse (may be NULL) lets a reload share
 * unchanged subscriptions with the snapshot it replaces instead of holding two copies. -1 with errstr when the
 * store fails. */
int hd_store_load(hd_store_t *store, hd_store_reuse_cb *reuse, void *opaque, hd_sub_t ***subs, int *cnt, char *errstr,
                  size_t errstr_size);

/* The change log: the collection `subscription_changes` holds one document per second in which subscriptions
 * were written, {_id: "<epoch second>", ids: [<subscription id>, ...]}, appended to after every write
 * (hd_store_changed). A reader reads the seconds since its last look from this long before it, so that an entry
 * from a clock running a little behind, or appended just after the look, is still seen; ids already applied are
 * counted per second and skipped. */
#define HD_STORE_CHANGE_LOOKBACK_MS 5000

/* How long the change log keeps a second (purged by the writers). A reader whose last look is older than that
 * loads everything instead. */
#define HD_STORE_CHANGES_RETENTION_MS 3600000LL

/* What changed since the last hd_store_load or hd_store_changes of this store (one reader: the cache's thread). */
typedef struct hd_store_changes_s {
    hd_sub_t **subs; /* valid documents of changed ids, owned (hd_store_changes_clear frees them) */
    char **gone;     /* ids to drop: deleted (no document), or a document that is no longer valid */
    int cnt, gone_cnt;
    int64_t read; /* documents read (change log seconds and subscriptions): the database work of the refresh */
    int reload;   /* the store cannot list its changes (a file) and its content changed, or the last look is older
                     than the change log's retention: load everything instead */
} hd_store_changes_t;

/* Reads what changed since the last look: for MongoDB, the change log's recent seconds and the current document
 * of every id they name (primary-key lookups only, which FerretDB answers without a scan); for a file, whether it
 * changed at all. reuse as in hd_store_load. Returns 0 with *out filled (clear it with hd_store_changes_clear),
 * or -1 with errstr when the store is away: the next call then asks from the same point, so nothing is missed. */
int hd_store_changes(hd_store_t *store, hd_store_reuse_cb *reuse, void *opaque, hd_store_changes_t *out, char *errstr,
                     size_t errstr_size);
void hd_store_changes_clear(hd_store_changes_t *ch);

/* Appends id to the change log's document of the current second (and, once a minute, purges seconds past the
 * retention). Call it after every write of the subscription (create, update, delete): dispatchers apply the
 * change within a refresh; a write without it waits for the next full reload. client is borrowed. Returns 0,
 * or -1 with errstr. */
int hd_store_changed(mongoc_client_t *client, const char *database, const char *id, char *errstr, size_t errstr_size);

/* Lets the store decrypt encrypted subscription secrets (see secret.h) with the base64 master key b64. When b64
 * is NULL or empty, fails if the store holds encrypted secrets (a clear start-up error instead of subscriptions
 * skipped one by one). Returns 0, or -1 with errstr filled. */
int hd_store_use_master_key(hd_store_t *store, const char *b64, char *errstr, size_t errstr_size);

/* How many subscriptions hold an encrypted secret (0 for the file backend): the dispatcher refuses to start
 * without a master key when there are any. Returns 0, or -1 with errstr filled. */
int hd_store_count_encrypted(hd_store_t *store, int64_t *n, char *errstr, size_t errstr_size);

/* The MongoDB backend's layer (pool, database), borrowed, for other modules using the same database (the API, the
 * delivery log); NULL for the file backend. */
hd_mongo_t *hd_store_mongo(const hd_store_t *store);

/* Marks a subscription inactive (is_active false, disabled_reason, disabled_at, updated_at bumped) and logs the
 * change, so that every dispatcher applies it. Returns 0, 1 when the store is read-only (file: the change lives in
 * memory until restart), -1 with errstr when no server could be reached (worth trying again), or -2 with errstr when
 * the server refused the write. */
int hd_store_disable(hd_store_t *store, const char *id, const char *reason, char *errstr, size_t errstr_size);

/* Records since when a subscription's deliveries have been failing (since_ms > 0; an earlier time already stored
 * is kept, so the first dispatcher to see the run wins), or that they succeed again (since_ms 0: the field is
 * removed). updated_at is left alone: this is the dispatchers' bookkeeping, not a change that needs a reload.
 * Returns as hd_store_disable. */
int hd_store_set_failing(hd_store_t *store, const char *id, int64_t since_ms, char *errstr, size_t errstr_size);

#endif
