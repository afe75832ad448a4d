/* Where subscriptions live. One interface, two backends chosen by URI:
 *   mongodb://...   the `subscriptions` collection, through libmongoc (MongoDB 6/7, or FerretDB in tests)
 *   file:PATH       a JSON file {"subscriptions": [...]} or a bare array: the embedded demo and static
 *                   (GitOps-managed) deployments. Read one subscription at a time, like MongoDB's cursor.
 * Loading is blocking I/O: callers run it off the delivery loop (see hd_match_cache in match.h). */
#ifndef HOOKD_STORE_H
#define HOOKD_STORE_H

#include <stdint.h>

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
int hd_store_load(hd_store_t *store, hd_store_reuse_cb *reuse, void *opaque, hd_sub_t ***subs, int *cnt,
                  char *errstr, size_t errstr_size);

/* Changes are read by updated_at (and deleted_at of tombstones) from this long before the newest change already
 * seen, so that a write stamped by a clock running a little behind, or committed just after a newer one, is not
 * missed. Re-read documents are recognised by their digest and cost no parsing. */
#define HD_STORE_CHANGE_LOOKBACK_MS 5000

/* How long a deleted subscription's tombstone is kept (hd_store_tombstone). A reader whose last look is older
 * than that loads everything instead of asking for changes. */
#define HD_STORE_TOMBSTONE_RETENTION_MS (7 * 86400000LL)

/* What changed since the last hd_store_load or hd_store_changes of this store (one reader: the cache's thread). */
typedef struct hd_store_changes_s {
    hd_sub_t **subs; /* valid documents written since, owned (hd_store_changes_clear frees them) */
    char **gone;     /* ids to drop: deleted (a tombstone), or a document that is no longer valid */
    int cnt, gone_cnt;
    int64_t read; /* documents read (subscriptions and tombstones): the database work of the refresh */
    int reload;   /* the store cannot list its changes (a file) and its content changed, or the last look is older
                     than the tombstones' retention: load everything instead */
} hd_store_changes_t;

/* Reads what changed since the last look: for MongoDB, the subscriptions whose updated_at is at least the newest
 * seen (minus the lookback) and the tombstones as recent; for a file, whether it changed at all. reuse as in
 * hd_store_load. Returns 0 with *out filled (clear it with hd_store_changes_clear), or -1 with errstr when the
 * store is away: the next call then asks from the same point, so nothing is missed. */
int hd_store_changes(hd_store_t *store, hd_store_reuse_cb *reuse, void *opaque, hd_store_changes_t *out, char *errstr,
                     size_t errstr_size);
void hd_store_changes_clear(hd_store_changes_t *ch);

/* Records that the subscription id was deleted, for the dispatchers' change polling (the collection
 * `subscription_tombstones`: _id, deleted_at), and purges tombstones older than the retention. Call it before
 * deleting the document: a tombstone whose delete then fails only hides the subscription until its next change or
 * the next full reload, while a delete without a tombstone would be missed until the full reload. client is
 * borrowed. Returns 0, or -1 with errstr. */
struct _mongoc_client_t;
int hd_store_tombstone(struct _mongoc_client_t *client, const char *database, const char *id, char *errstr,
                       size_t errstr_size);

/* Lets the store decrypt encrypted subscription secrets (see secret.h) with the base64 master key b64. When b64
 * is NULL or empty, fails if the store holds encrypted secrets (a clear start-up error instead of subscriptions
 * skipped one by one). Returns 0, or -1 with errstr filled. */
int hd_store_use_master_key(hd_store_t *store, const char *b64, char *errstr, size_t errstr_size);

/* Creates the indexes that hookd's queries rely on (the API's are scoped to a tenant, the dispatchers poll the
 * newest updated_at), where they are missing. A failure (no createIndex privilege) is logged: it only costs speed.
 * Nothing for the file backend. */
void hd_store_ensure_indexes(hd_store_t *store);

/* How many subscriptions hold an encrypted secret (0 for the file backend): the dispatcher refuses to start
 * without a master key when there are any. Returns 0, or -1 with errstr filled. */
int hd_store_count_encrypted(hd_store_t *store, int64_t *n, char *errstr, size_t errstr_size);

/* The MongoDB backend's client pool, for other modules using the same database (the API, the recorder): pop a
 * client per thread and push it back. NULL for the file backend. */
struct _mongoc_client_t *hd_store_client_pop(hd_store_t *store);
void hd_store_client_push(hd_store_t *store, struct _mongoc_client_t *client);
const char *hd_store_database(const hd_store_t *store); /* NULL for the file backend */
/* Marks a subscription inactive (is_active false, disabled_reason, disabled_at, updated_at bumped so every
 * dispatcher reloads). Returns 0, 1 when the store is read-only (file: the change lives in memory until restart),
 * -1 with errstr when no server could be reached (worth trying again), or -2 with errstr when the server refused
 * the write. */
int hd_store_disable(hd_store_t *store, const char *id, const char *reason, char *errstr, size_t errstr_size);

/* Records since when a subscription's deliveries have been failing (since_ms > 0; an earlier time already stored
 * is kept, so the first dispatcher to see the run wins), or that they succeed again (since_ms 0: the field is
 * removed). updated_at is left alone: this is the dispatchers' bookkeeping, not a change that needs a reload.
 * Returns as hd_store_disable. */
int hd_store_set_failing(hd_store_t *store, const char *id, int64_t since_ms, char *errstr, size_t errstr_size);

#endif
