/* A dispatch worker: one thread, one event loop. It consumes events (consume), decodes them (decode), finds the
 * subscribers (match), renders (render) and signs (sign) each delivery, posts them all concurrently (deliver),
 * classifies the answers (outcome) and writes every outcome to Kafka (record). A source offset advances only
 * when every delivery of its event has a durable outcome. */
#ifndef HOOKD_DISPATCH_H
#define HOOKD_DISPATCH_H

#include <stdatomic.h>

#include "hookd/config.h"
#include "hookd/match.h"

typedef struct hd_dispatch_s hd_dispatch_t;

/* Creates a worker with its own consumer, producer and curl multi handle. Does not take conf or cache; both must
 * outlive the worker. NULL with errstr on failure. */
hd_dispatch_t *hd_dispatch_new(const hd_conf_t *conf, hd_match_cache_t *cache, char *errstr, size_t errstr_size);

/* Runs until *stop becomes non-zero, then drains: stops consuming, lets in-flight deliveries finish for up to
 * shutdown.grace.ms, abandons the rest (their offsets are not stored, so they are re-delivered after restart),
 * waits for outcome records, commits and leaves the group. Returns 0, or -1 on a fatal error. */
int hd_dispatch_run(hd_dispatch_t *w, const atomic_int *stop);

/* NULL is a no-op. */
void hd_dispatch_destroy(hd_dispatch_t *w);

typedef struct hd_dispatch_stats_s {
    uint64_t consumed, deadlettered, deliveries, succeeded, failed, retries, parked;
} hd_dispatch_stats_t;

void hd_dispatch_stats(const hd_dispatch_t *w, hd_dispatch_stats_t *out);

#endif
