/* A worker's deliveries, each from admission to its settled outcome: one (event, subscription) pair is admitted to
 * its host (admit), rendered once per payload shape (render), signed (sign) and posted (deliver); the answer is
 * decided (outcome) and written (record: the results record, then a retry job or a dead letter), and the
 * endpoint's health is told (the failing clock and the disable write-back, health.h).
 * A delivery admission parks waits in a retry tier instead. The dispatcher owns the events and says which
 * subscriptions get one; this module owns the deliveries. Not thread-safe: one per worker. */
#ifndef HOOKD_ATTEMPT_H
#define HOOKD_ATTEMPT_H

#include <curl/curl.h>
#include <stdint.h>

#include "hookd/config.h"
#include "hookd/consume.h"
#include "hookd/decode.h"
#include "hookd/health.h"
#include "hookd/match.h"
#include "hookd/record.h"
#include "hookd/retry.h"

typedef struct hd_attempt_s hd_attempt_t;
typedef struct hd_attempt_shape_s hd_attempt_shape_t;

/* What the deliveries of one consumed message share, embedded in the dispatcher's message. The deliveries read
 * event and the origin, cache the payloads they render in shapes, and count themselves in work and pending:
 * work is the deliveries queued or in flight (plus the dispatcher's own references), pending is work plus the
 * records not yet acknowledged. Every record produced for the message has the src as its record opaque, so its
 * acknowledgement comes back to the dispatcher's hd_record_ack_cb. */
typedef struct hd_attempt_src_s {
    hd_event_t *event;         /* decoded; NULL once the work is done */
    char *topic;               /* the event's origin, named in results: the source topic even for retries */
    int32_t partition;         /* ... */
    int64_t offset;            /* ... */
    hd_consume_entry_t *entry; /* the consumer's tracking of the message */
    int abandoned;             /* given up at shutdown: its offset is not stored */
    int work, pending;
    hd_attempt_shape_t *shapes; /* rendered once per distinct shape, shared by its subscribers */
    int shapes_cnt;
} hd_attempt_src_t;

typedef struct hd_attempt_stats_s {
    uint64_t deliveries, succeeded, failed, retries, parked;
    uint64_t dropped_revoked; /* not started because the partition moved to another member */
} hd_attempt_stats_t;

/* What the deliveries use; the pointers are borrowed and must outlive the hd_attempt_t. done is called when a
 * delivery of src ended, releasing its work reference (it may free src). */
typedef struct hd_attempt_env_s {
    const hd_conf_t *conf;
    hd_record_t *record;
    const hd_retry_t *retry;
    hd_health_t *health;
    const hd_decode_opts_t *decode_opts;
    int replay; /* results records are marked as replays */
    void (*done)(void *opaque, hd_attempt_src_t *src);
    void *opaque;
} hd_attempt_env_t;

/* Creates the worker's admission and curl multi engine (hd_deliver_new). Copies env. NULL with errstr. */
hd_attempt_t *hd_attempt_new(const hd_attempt_env_t *env, char *errstr, size_t errstr_size);

/* Frees it; hd_attempt_abandon first what is still in flight. NULL is a no-op. */
void hd_attempt_destroy(hd_attempt_t *a);

/* Starts the delivery msg_id of src to sub, its attempt-th attempt (parked: its breaker parked it before). sub
 * must stay valid until the delivery is done (the dispatcher holds its snapshot). */
void hd_attempt_start(hd_attempt_t *a, hd_attempt_src_t *src, const hd_sub_t *sub, int attempt, int parked,
                      const char *msg_id);

/* A delivery that ends without an attempt (its subscription is missing or inactive): a final permanent failure,
 * recorded. cancelled: a retry not attempted, not counted as a failed delivery. */
void hd_attempt_fail(hd_attempt_t *a, hd_attempt_src_t *src, const char *sub_id, const char *url, const char *msg_id,
                     int attempt, const char *error, int cancelled);

/* Starts or parks the deliveries leaving their host's queue (admission); once per turn of the loop. */
void hd_attempt_ready(hd_attempt_t *a);

/* Waits up to timeout_ms for the network or one of extra_fds and settles the deliveries that finished
 * (hd_deliver_run). -1 on a curl multi error. */
int hd_attempt_run(hd_attempt_t *a, struct curl_waitfd *extra_fds, unsigned extra_cnt, int timeout_ms);

/* Deliveries in flight; in flight or waiting for a slot of their host. */
size_t hd_attempt_inflight(const hd_attempt_t *a);
size_t hd_attempt_busy(const hd_attempt_t *a);

/* A stopping worker parks its deliveries in the retry tiers rather than abandon them: those waiting (inflight 0),
 * or those still in flight (inflight 1, once the grace period is over: their receiver may already have them and
 * gets them again from the tier, as after a crash). Their events' offsets then advance. Deliveries of a revoked
 * partition are the new owner's. Returns how many were parked. */
int hd_attempt_park_all(hd_attempt_t *a, int inflight);

/* Gives up every delivery: their sources are marked abandoned (their offsets are never stored, so they are
 * delivered again by the partition's next owner). Returns how many. */
int hd_attempt_abandon(hd_attempt_t *a);

/* 1 when src's partition was revoked and its work has not started: dropped, since the partition's new owner
 * delivers it again from the last committed offset. */
int hd_attempt_revoked(const hd_attempt_src_t *src);

/* Frees the payloads rendered for src. */
void hd_attempt_src_clear(hd_attempt_src_t *src);

void hd_attempt_stats(const hd_attempt_t *a, hd_attempt_stats_t *out);

#endif
