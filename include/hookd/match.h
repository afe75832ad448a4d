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
 * A snapshot is built once and never changed, except for the subscriptions' atomic health fields (health.h): a
 * disabled subscription stops matching at once. The cache (cache.h) keeps the current snapshot up to date; workers
 * take a reference per batch, so nothing on the delivery path touches the database. */
#ifndef HOOKD_MATCH_H
#define HOOKD_MATCH_H

#include <stdint.h>

#include "hookd/decode.h"
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

/* A snapshot of exactly subs, like hd_match_new, or NULL when that is m itself (after sorting and dropping
 * duplicate ids, subs holds m's subscriptions and no other, as a full reload that found nothing changed returns
 * them: then subs is freed). Built from m as hd_match_apply does, with the differences: what m holds and subs does
 * not is gone, what differs is written, so a reload never holds a second index. Takes ownership of subs on every
 * path; m may be NULL. */
hd_match_t *hd_match_reload(const hd_match_t *m, hd_sub_t **subs, int cnt);

/* m's subscription with this id when its digest (see hd_sub_t) is digest, retained for the caller; else NULL. A
 * load shares an unchanged subscription with the snapshot it replaces rather than parsing it again. */
hd_sub_t *hd_match_shared(const hd_match_t *m, const char *id, uint64_t digest);

#endif
