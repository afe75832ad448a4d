/* A dispatch worker: one thread, one event loop, the event lifecycle. It takes messages from the source topics and
 * the retry tiers (consume), decodes them (decode), finds the subscribers (match), hands each delivery to its
 * deliveries (attempt.h: admit, render, sign, deliver, outcome, record), holds retry jobs until due (retry) and
 * dead-letters bad input (record). It orchestrates; the stages decide. A source offset advances only when every
 * delivery of its event has a durable outcome. The process's workers are wired together in workers.h. */
#ifndef HOOKD_DISPATCH_H
#define HOOKD_DISPATCH_H

#include <stdatomic.h>

#include "hookd/cache.h"
#include "hookd/config.h"
#include "hookd/consume.h"
#include "hookd/decode.h"
#include "hookd/health.h"
#include "hookd/match.h"

typedef struct hd_dispatch_s hd_dispatch_t;

/* Creates a worker with its own consumer, producer and curl multi handle; worker is its index in the process (0..),
 * stable across restarts (static group membership). Does not take conf, cache or health; they must outlive the worker.
 * NULL with errstr on failure. */
hd_dispatch_t *hd_dispatch_new(const hd_conf_t *conf, hd_cache_t *cache, hd_health_t *health, int worker, char *errstr,
                               size_t errstr_size);

/* Replay mode (hookd replay): the worker consumes the given ranges without a group (hd_consume_new_range), stops
 * by itself once every range is consumed and its deliveries recorded, never dead-letters (bad input was
 * dead-lettered when first seen) and marks its results records as replays.
 *   select    called for every (event, matching subscription); 1 delivers, 0 skips (filters, --dry-run);
 *             at->from is the event's source offset
 *   salt      NULL: webhook-ids stay those of the original deliveries; else they are derived with this salt too
 *   progress  called about once per loop turn with the running totals
 * The struct and everything it points to must outlive the worker. */
struct hd_dispatch_stats_s;
typedef struct hd_dispatch_replay_s {
    const hd_consume_range_t *ranges;
    int ranges_cnt;
    int (*select)(void *opaque, const hd_event_t *ev, const hd_consume_range_t *at, const hd_sub_t *sub,
                  const char *webhook_id);
    void (*progress)(void *opaque, const struct hd_dispatch_stats_s *st);
    void *opaque;
    const char *salt;
} hd_dispatch_replay_t;

hd_dispatch_t *hd_dispatch_new_replay(const hd_conf_t *conf, hd_cache_t *cache, hd_health_t *health,
                                      const hd_dispatch_replay_t *replay, char *errstr, size_t errstr_size);

/* Runs until *stop becomes non-zero, then drains: stops consuming, lets in-flight deliveries finish for up to
 * shutdown.grace.ms, abandons the rest (their offsets are not stored, so they are re-delivered after restart),
 * waits for outcome records, commits and leaves the group. A replay worker also returns when its ranges are done.
 * Returns 0, or -1 on a fatal error. */
int hd_dispatch_run(hd_dispatch_t *w, const atomic_int *stop);

/* NULL is a no-op. */
void hd_dispatch_destroy(hd_dispatch_t *w);

typedef struct hd_dispatch_stats_s {
    uint64_t consumed, deadlettered, deliveries, succeeded, failed, retries, parked;
    uint64_t dropped_revoked; /* not started because the partition moved to another member */
} hd_dispatch_stats_t;

void hd_dispatch_stats(const hd_dispatch_t *w, hd_dispatch_stats_t *out);

#endif
