/* Durable retries: the delay tiers and the retry job that travels through them.
 *
 * A retryable failure is produced to the tier topic of its next attempt (<retry.topic.prefix>.<delay>, e.g.
 * hookd.retry.5s) as a job carrying the event (in the plain envelope form), the subscription and the attempt
 * number. Tier consumers hold a job until it is due, then deliver it again with the same webhook-id. Because the
 * job is in Kafka, the source offset can advance and a pending retry survives restarts. */
#ifndef HOOKD_RETRY_H
#define HOOKD_RETRY_H

#include <json-c/json.h>
#include <stdint.h>

#include "hookd/config.h"

#define HD_RETRY_MAX_TIERS 16

/* A retry job's bytes around its event (ids, URL, source coordinates): event.max.bytes plus this must fit a
 * record, which hookd checks at start. */
#define HD_RETRY_JOB_OVERHEAD 16384

typedef struct hd_retry_s {
    int cnt;
    int64_t delay_ms[HD_RETRY_MAX_TIERS];
    char *topic[HD_RETRY_MAX_TIERS];
    int jitter_pct;
    int64_t retry_after_max_ms;
} hd_retry_t;

/* Parses retry.schedule ("5s,1m,10m,1h,6h": strictly increasing, s/m/h suffixes). NULL with errstr. */
hd_retry_t *hd_retry_new(const hd_conf_t *conf, char *errstr, size_t errstr_size);
void hd_retry_destroy(hd_retry_t *r);

/* The tier index of a topic name, or -1 when it is not a retry topic. */
int hd_retry_tier_of_topic(const hd_retry_t *r, const char *topic);

/* When the next attempt (after failed attempt `attempt`, counting from 1) is due: the tier's delay with jitter,
 * or the receiver's Retry-After (retry_after_s >= 0) when longer, capped at retry.after.max.s. Returns the tier
 * whose topic should carry the job and sets *due_ms. */
int hd_retry_plan(const hd_retry_t *r, int attempt, int64_t retry_after_s, int64_t now_ms, int64_t *due_ms);

/* The tier to wait in for wait_ms: the longest delay not above it (tier 0 for short waits), so a job is held in
 * a tier no longer than that tier's own delay and does not block the jobs queued behind it. */
int hd_retry_tier_for_wait(const hd_retry_t *r, int64_t wait_ms);

/* A retry job held until it is due, embedded in the caller's message (the hold links it, never frees it). topic
 * and partition name the tier partition it was consumed from; they must stay valid while it is held. */
typedef struct hd_retry_held_s {
    int64_t due_ms;
    const char *topic;
    int32_t partition;
    struct hd_retry_held_s *next;
} hd_retry_held_t;

/* Called to pause (pause 1) a tier partition when it gets its first held job, and to resume it (pause 0) when its
 * last one is released: the consumer then does not fetch the backlog queued behind a job that is not due. */
typedef void(hd_retry_pause_cb)(void *opaque, const hd_retry_held_t *held, int pause);

/* The jobs one worker holds, soonest first. Not thread-safe. */
typedef struct hd_retry_hold_s hd_retry_hold_t;

/* Never NULL (aborts when out of memory). */
hd_retry_hold_t *hd_retry_hold_new(hd_retry_pause_cb *pause, void *opaque);

/* Frees the hold; jobs still linked are the caller's and are left alone. NULL is a no-op. */
void hd_retry_hold_destroy(hd_retry_hold_t *h);

/* Holds held until held->due_ms (after those due at the same time). */
void hd_retry_hold_add(hd_retry_hold_t *h, hd_retry_held_t *held);

/* The soonest job when it is due at now, taken out of the hold (its partition resumed when it was the last held
 * there); NULL when none is due. */
hd_retry_held_t *hd_retry_hold_due(hd_retry_hold_t *h, int64_t now_ms);

/* Any held job, taken out without resuming its partition (a stopping worker gives them up); NULL when none. */
hd_retry_held_t *hd_retry_hold_take(hd_retry_hold_t *h);

/* When the soonest held job is due; INT64_MAX when none is held. */
int64_t hd_retry_hold_next_ms(const hd_retry_hold_t *h);

/* A retry job: owned strings, event owned. */
typedef struct hd_retry_job_s {
    char *delivery_id, *subscription_id, *url;
    int attempt; /* the attempt this job will make */
    int parked;  /* its circuit breaker parked it before: finding the circuit open again costs it an attempt */
    int64_t due_ms;
    json_object *event; /* plain envelope */
    char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
} hd_retry_job_t;

/* JSON text of job (the caller frees it). */
char *hd_retry_job_encode(const hd_retry_job_t *job);

/* Parses a job; NULL with errstr when value is not a well-formed job. The caller frees it with _destroy. */
hd_retry_job_t *hd_retry_job_decode(const void *value, size_t len, char *errstr, size_t errstr_size);
void hd_retry_job_destroy(hd_retry_job_t *job);

#endif
