/* Admission of deliveries to their receivers, per worker: whether a delivery is attempted now, waits in memory for
 * one of its host's slots, or is parked in the retry tiers.
 *
 * In-flight deliveries are counted per host (origin), the unit of curl's connection limit, within a cap that
 * adapts: each attempt the transport gave up on (a timeout, a reset) halves it, each success gives one slot back,
 * so a hanging host soon holds one slot. Consecutive failures of a URL open its circuit breaker for
 * breaker.open.ms, then one probe goes through. A delivery waits in its host's queue at most http.queue.max.ms
 * unless the host keeps completing attempts (a slow but healthy receiver works its queue off), and one whose breaker
 * opens while it waits leaves the queue at once: both are parked, so a stalled or failing receiver holds no
 * delivery's offset longer than that wait plus one attempt. Health of URLs and hosts idle for http.endpoint.idle.ms
 * with nothing to remember is forgotten. Not thread-safe: one per worker. */
#ifndef HOOKD_ADMIT_H
#define HOOKD_ADMIT_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/outcome.h"

typedef struct hd_admit_s hd_admit_t;
typedef struct hd_admit_ep_s hd_admit_ep_t;

typedef struct hd_admit_conf_s {
    int64_t max_per_host;     /* http.max.inflight.per.host */
    int64_t breaker_failures; /* breaker.failures */
    int64_t breaker_open_ms;  /* breaker.open.ms */
    int64_t queue_max_ms;     /* http.queue.max.ms */
    int64_t probe_ms;         /* http.timeout.ms: the longest a half-open breaker's probe takes */
    int64_t idle_ms;          /* http.endpoint.idle.ms */
} hd_admit_conf_t;

/* A delivery's place in admission, embedded in the caller's delivery: admission links it into its queues and
 * never allocates or frees it. Zero it before the first hd_admit_request. */
typedef struct hd_admit_slot_s {
    hd_admit_ep_t *ep;                   /* set while waiting or active */
    struct hd_admit_slot_s *prev, *next; /* the host's wait queue */
    int64_t since_ms;                    /* when it started waiting */
    int probe;                           /* the half-open breaker's one attempt */
    int state;
} hd_admit_slot_t;

typedef enum {
    HD_ADMIT_GO,   /* attempt it now; a slot of its host is taken until hd_admit_done or _cancel */
    HD_ADMIT_WAIT, /* queued: hd_admit_next hands it back */
    HD_ADMIT_PARK, /* put it in a retry tier; the slot is free again */
} hd_admit_verdict_t;

typedef struct hd_admit_park_s {
    const char *why;
    int64_t due_ms; /* when to try again; 0: as soon as the first retry tier allows */
    int breaker;    /* 1 when its circuit breaker is open (not half-open) */
} hd_admit_park_t;

/* Copies conf. Never NULL (aborts when out of memory). */
hd_admit_t *hd_admit_new(const hd_admit_conf_t *conf);

/* Frees admission and its health records; slots still linked are the caller's and are left alone. NULL no-op. */
void hd_admit_destroy(hd_admit_t *a);

/* Decides for a delivery to url, whose host is origin (origin_len bytes), at now. On HD_ADMIT_PARK *park says why
 * and until when. */
hd_admit_verdict_t hd_admit_request(hd_admit_t *a, hd_admit_slot_t *slot, const char *url, const char *origin,
                                    size_t origin_len, int64_t now, hd_admit_park_t *park);

/* An active slot's attempt ended with outcome (transport_error: a CURLcode, 0 when a response came): releases its
 * host's slot and updates the host's cap and the URL's breaker. */
void hd_admit_done(hd_admit_t *a, hd_admit_slot_t *slot, hd_outcome_t outcome, int transport_error, int64_t now);

/* Takes a waiting or active slot out of admission without judging its receiver (shutdown, a revoked partition, a
 * payload that cannot be rendered). */
void hd_admit_cancel(hd_admit_t *a, hd_admit_slot_t *slot);

/* The next waiting slot that leaves its queue at now: HD_ADMIT_GO (a slot of its host is now taken) or
 * HD_ADMIT_PARK (it waited http.queue.max.ms at a host that is failing or completed nothing meanwhile, or its
 * breaker opened; *park says why). NULL when none; call it
 * until NULL after every attempt that ended and once per turn of the loop. */
hd_admit_slot_t *hd_admit_next(hd_admit_t *a, int64_t now, hd_admit_verdict_t *verdict, hd_admit_park_t *park);

/* Any waiting slot, taken out of its queue (a worker that stops parks what has not started); NULL when none. */
hd_admit_slot_t *hd_admit_take_waiting(hd_admit_t *a);

/* Slots waiting in host queues. */
size_t hd_admit_waiting(const hd_admit_t *a);

/* URLs whose health is remembered. */
size_t hd_admit_endpoints(const hd_admit_t *a);

#endif
