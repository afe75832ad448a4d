/* Events that name the one subscription they are for (a test event, a re-send through the API: the
 * hookd-subscription header), and the waiting of those whose subscription the worker's snapshot lacks. The API
 * writes the subscription before producing the event, so a snapshot that lacks it is older than the write (rarely:
 * right after a create). Such an event is set aside, without holding up the loop, until a look at the store that
 * started after it was produced has finished, or HD_TARGET_WAIT_MS (the store may be away); the dispatcher then
 * delivers it against the snapshot of that moment. Not thread-safe: one per worker. */
#ifndef HOOKD_TARGET_H
#define HOOKD_TARGET_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/decode.h"

#define HD_TARGET_WAIT_MS 2000 /* the longest an event waits for the store to show its subscription */
#define HD_TARGET_POLL_MS 20   /* how often a worker with events set aside checks: no signal comes with a look */

/* The subscription id the headers name (the last hookd-subscription header), borrowed from hdrs and *len bytes
 * long, not NUL-terminated; NULL when they name none. */
const void *hd_target_of(const hd_decode_header_t *hdrs, size_t hdr_cnt, size_t *len);

/* An event set aside, embedded in the caller's event (the queue links it, never frees it). id is a copy
 * hd_target_set_aside makes; the caller frees it (free) when done with the event. */
typedef struct hd_target_wait_s {
    char *id;
    int64_t produced_ms;
    int64_t until_ms;
    struct hd_target_wait_s *next;
} hd_target_wait_t;

/* 1 when a look at the store that started after after_ms has finished (hd_cache_seen). */
typedef int(hd_target_seen_cb)(void *opaque, int64_t after_ms);

/* The events one worker set aside, oldest first. */
typedef struct hd_target_s hd_target_t;

/* Never NULL (aborts when out of memory). */
hd_target_t *hd_target_new(hd_target_seen_cb *seen, void *opaque);

/* Frees the queue; events still linked are the caller's and are left alone. NULL is a no-op. */
void hd_target_destroy(hd_target_t *t);

/* Sets wait aside for the event naming id, produced at produced_ms (0 or less: unknown, taken as now_ms), unless
 * the store has been seen since: 1 when set aside, 0 when the event can go now (wait untouched). */
int hd_target_set_aside(hd_target_t *t, hd_target_wait_t *wait, const char *id, int64_t produced_ms, int64_t now_ms);

/* The oldest event set aside when the store has been seen since it was produced or its wait is over at now_ms,
 * taken out; NULL otherwise (the events go in the order they came). */
hd_target_wait_t *hd_target_due(hd_target_t *t, int64_t now_ms);

/* Any event set aside, taken out (a stopping worker gives them up); NULL when none. */
hd_target_wait_t *hd_target_take(hd_target_t *t);

/* max_wait_ms, or HD_TARGET_POLL_MS when less and an event is set aside. */
int hd_target_wait_ms(const hd_target_t *t, int max_wait_ms);

#endif
