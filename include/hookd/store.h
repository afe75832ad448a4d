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

/* A cheap fingerprint of the store's content: when it is unchanged since the last load, nothing changed
 * (the file's size/mtime; for MongoDB the document count and newest updated_at). Returns 0 with *fp set, or -1
 * with errstr filled when the store is unreachable. */
int hd_store_fingerprint(hd_store_t *store, uint64_t *fp, char *errstr, size_t errstr_size);

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
struct _mongoc_client_t;
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
