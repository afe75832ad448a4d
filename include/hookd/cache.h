/* The subscription cache: the current snapshot of the store's subscriptions (match.h), kept up to date off the
 * delivery path.
 *
 * A background thread asks the store for what changed (hd_store_changes: the subscription_changes log) every
 * subscriptions.refresh.ms, applies it to a new snapshot that shares every unchanged subscription, and the index
 * buckets of every tenant the change did not touch, with the current one (hd_match_apply), and swaps it in. A full
 * load happens at start, every subscriptions.full.reload.ms (the safety net for a change the log missed), and when
 * the store cannot list its changes (a file that changed); it shares the subscriptions whose documents did not
 * change (hd_match_shared) and keeps the snapshot when none did. While the store is away the last snapshot stays. */
#ifndef HOOKD_CACHE_H
#define HOOKD_CACHE_H

#include <stdint.h>

#include "hookd/match.h"
#include "hookd/store.h"

typedef struct hd_cache_s hd_cache_t;

/* Loads the store once (synchronously, so a start with an unreachable store fails loudly) and starts the
 * refresher thread: it applies the store's changes every refresh_ms, and loads everything every full_reload_ms
 * (0: only when the store asks for it). Does not take store; it must outlive the cache. NULL with errstr on failure. */
hd_cache_t *hd_cache_new(hd_store_t *store, int64_t refresh_ms, int64_t full_reload_ms, char *errstr,
                         size_t errstr_size);

/* Stops the thread and releases the current snapshot. NULL is a no-op. */
void hd_cache_destroy(hd_cache_t *cache);

/* The current snapshot, retained for the caller (release it with hd_match_release). */
hd_match_t *hd_cache_get(hd_cache_t *cache);

/* 1 when a look at the store that started after after_ms (wall clock) has finished, so that hd_cache_get has seen
 * every write made before after_ms; else 0, and the refresher thread is asked to look now. Never waits: for an
 * event naming a subscription the API wrote before producing it, which its worker sets aside meanwhile. */
int hd_cache_seen(hd_cache_t *cache, int64_t after_ms);

/* Time since the store was last read successfully, in ms (it grows while the store is unreachable: the last
 * snapshot is kept). */
int64_t hd_cache_age_ms(hd_cache_t *cache);

#endif
