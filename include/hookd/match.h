/* Matching events to subscriptions.
 *
 * Event type patterns (evtype.h; docs/events.md, "Matching"): an exact type ("customer.created"); "*" as a whole
 * segment matches exactly one segment ("customer.*" reaches customer.created, not customer.credits.updated); "**" as
 * the last segment matches one or more segments ("customer.**" reaches both, not "customer" itself); a lone "*" or
 * "**" matches every type. Then the subscription's statuses (the event's status field, see decode.h) and filter
 * must hold.
 *
 * hd_match_t is an immutable, reference-counted snapshot of the active subscriptions, indexed per tenant: exact
 * types by (tenant, type), match-all patterns by tenant, other wildcard patterns by (tenant, first segment), so
 * that the cost of a lookup does not grow with other tenants' or types' subscriptions.
 * hd_match_cache_t owns a background thread that asks the store for what changed (hd_store_changes) every
 * subscriptions.refresh.ms, applies it to a new snapshot that shares every unchanged subscription, and the index
 * buckets of every tenant the change did not touch, with the current one, and swaps it in; a full load happens at
 * start, every subscriptions.full.reload.ms, and when the store cannot list its changes (a file that changed). Workers
 * take a reference per batch; nothing on the delivery path touches the database. */
#ifndef HOOKD_MATCH_H
#define HOOKD_MATCH_H

#include <stdint.h>

#include "hookd/decode.h"
#include "hookd/store.h"
#include "hookd/sub.h"

typedef struct hd_match_s hd_match_t;

/* Builds a snapshot. Takes ownership of subs (the array and every element) on every path. Inactive
 * subscriptions are kept for lookups by id but never matched. Of subscriptions sharing an id only the last one
 * is kept. */
hd_match_t *hd_match_new(hd_sub_t **subs, int cnt);

/* A new snapshot: m's subscriptions (shared with m) without those whose id is in gone, with subs in place of
 * those with the same id, and the others of subs added. Takes ownership of subs (the array and every element) on
 * every path; sorts gone, which stays the caller's. Returns NULL when that is m itself (every element of subs is
 * already m's and no id of gone is in m). */
hd_match_t *hd_match_apply(const hd_match_t *m, hd_sub_t **subs, int cnt, char **gone, int gone_cnt);

/* Reference counting; the last release frees the snapshot and its subscriptions. NULL is a no-op. */
hd_match_t *hd_match_retain(hd_match_t *m);
void hd_match_release(hd_match_t *m);

/* Subscriptions matching ev (its tenant, type, status and data): fills out with up to out_size borrowed pointers
 * (valid while the snapshot is retained), each subscription once, and returns how many match in total (may
 * exceed out_size). */
int hd_match_find(const hd_match_t *m, const hd_event_t *ev, const hd_sub_t **out, int out_size);

/* The subscription with this id (active or not), borrowed like hd_match_find's, or NULL. */
const hd_sub_t *hd_match_get(const hd_match_t *m, const char *id);

int hd_match_count(const hd_match_t *m);

typedef struct hd_match_cache_s hd_match_cache_t;

/* Loads the store once (synchronously, so a start with an unreachable store fails loudly) and starts the
 * refresher thread: it applies the store's changes every refresh_ms, and loads everything every full_reload_ms
 * (0: only when the store asks for it). Does not take store; it must outlive the cache. NULL with errstr on failure. */
hd_match_cache_t *hd_match_cache_new(hd_store_t *store, int64_t refresh_ms, int64_t full_reload_ms, char *errstr,
                                     size_t errstr_size);

/* Stops the thread and releases the current snapshot. NULL is a no-op. */
void hd_match_cache_destroy(hd_match_cache_t *cache);

/* 1 when a look at the store that started after after_ms (wall clock) has finished, so that hd_match_cache_get
 * has seen every write made before after_ms; else 0, and the refresher thread is asked to look now. Never waits:
 * for an event naming a subscription the API wrote before producing it, which its worker sets aside meanwhile. */
int hd_match_cache_seen(hd_match_cache_t *cache, int64_t after_ms);

/* The current snapshot, retained for the caller (release it with hd_match_release). */
hd_match_t *hd_match_cache_get(hd_match_cache_t *cache);

/* Where the cache's thread sends e-mail about disabled subscriptions; smtp_url empty disables e-mail. Copies. */
void hd_match_cache_set_smtp(hd_match_cache_t *cache, const char *smtp_url, const char *from);

/* Disables sub (410 Gone, or failing for too long): it stops matching at once in every worker, and the cache's
 * thread marks it inactive in the store and e-mails its notification_emails when it asked for that. Reloads keep
 * it disabled until its document changes (an unchanged subscription is shared by the next snapshot). Returns 1
 * when this call disabled it, 0 when it already was (so only one worker reports it). sub must belong to a
 * snapshot of this cache. */
int hd_match_cache_disable(hd_match_cache_t *cache, const hd_sub_t *sub, const char *reason);

/* Accounts one attempt to sub (failed: a retryable failure or 410 Gone) on its failing-since clock, which every
 * worker shares: the first failure after a success starts a run, a success ends it. A run that has lasted 10 s is
 * written to the store (failing_since) by the cache's thread, and its end removes it, so the clock survives
 * restarts and is shared with other dispatchers; shorter blips cost no write. Returns the run's start in ms (0
 * after a success). sub must belong to a snapshot of this cache. */
int64_t hd_match_cache_attempted(hd_match_cache_t *cache, const hd_sub_t *sub, int failed, int64_t now_ms);

/* Time since the store was last read successfully, in ms (it grows while the store is unreachable: the last
 * snapshot is kept). */
int64_t hd_match_cache_age_ms(hd_match_cache_t *cache);

#endif
