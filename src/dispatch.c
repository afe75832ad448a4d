#define _GNU_SOURCE /* pipe2 */
#include "hookd/dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/attempt.h"
#include "hookd/consume.h"
#include "hookd/decode.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/record.h"
#include "hookd/retry.h"
#include "hookd/sign.h"
#include "hookd/target.h"
#include "hookd/util.h"

/* Kafka headers looked at per message (CloudEvents binary mode needs a handful). */
#define HD_DISPATCH_MAX_HEADERS 64

/* One consumed message (a source event, or a retry job from a tier topic) and the work hanging off it. work
 * counts the deliveries queued or in flight, plus one while the message is being processed or held; at zero its
 * content (decoded event, rendered bodies, subscriptions) is released, since only acks are then awaited, which
 * under a slow broker can be thousands of events. pending is work plus the records not yet acknowledged; at zero
 * the message is done and its offset may be stored. */
typedef struct ev_s {
    hd_attempt_src_t src;  /* first: the record opaque of its records; event NULL for a dead-lettered message */
    hd_retry_job_t *job;   /* set for a message from a retry tier */
    hd_consume_t *consume; /* the consumer it came from, which tracks its offset */
    hd_match_t *snap;
    char *msg_topic; /* where this message was consumed */
    int32_t msg_partition;
    hd_retry_held_t held;     /* a retry job waiting to be due */
    hd_target_wait_t wait;    /* an event naming a subscription the snapshot lacks */
    struct ev_s *prev, *next; /* live events */
} ev_t;

#define EV_OF_HELD(h) ((ev_t *)((char *)(h)-offsetof(ev_t, held)))
#define EV_OF_WAIT(t) ((ev_t *)((char *)(t)-offsetof(ev_t, wait)))

struct hd_dispatch_s {
    const hd_conf_t *conf;
    hd_cache_t *cache;
    hd_consume_t *consume;       /* the source topics (or a replay's ranges) */
    hd_consume_t *retry_consume; /* the retry tiers, in a group of their own; NULL for a replay */
    hd_record_t *record;
    hd_attempt_t *attempts;
    hd_retry_t *retry;
    hd_decode_opts_t decode_opts;
    int wake[2];
    ev_t *evs;
    hd_retry_hold_t *hold;
    hd_target_t *targets;               /* events naming a subscription the snapshot lacks, set aside */
    hd_dispatch_stats_t stats;          /* the deliveries' counts are the attempts' */
    const hd_dispatch_replay_t *replay; /* NULL: the group dispatcher */
};

static void ev_release_content(ev_t *ev) {
    hd_decode_event_destroy(ev->src.event);
    hd_retry_job_destroy(ev->job);
    hd_attempt_src_clear(&ev->src);
    hd_match_release(ev->snap);
    ev->src.event = NULL;
    ev->job = NULL;
    ev->snap = NULL;
}

static void ev_unref(hd_dispatch_t *w, ev_t *ev) {
    if (--ev->src.pending > 0) return;
    if (!ev->src.abandoned) hd_consume_done(ev->consume, ev->src.entry);
    HD_LIST_DEL(w->evs, ev);
    ev_release_content(ev);
    free(ev->src.topic);
    free(ev->msg_topic);
    free(ev->wait.id);
    free(ev);
}

static void ev_ref_work(ev_t *ev) {
    ev->src.work++;
    ev->src.pending++;
}

static void ev_work_done(hd_dispatch_t *w, ev_t *ev) {
    if (--ev->src.work == 0) ev_release_content(ev);
    ev_unref(w, ev);
}

static void on_record_ack(void *opaque, void *record_opaque) {
    ev_unref(opaque, record_opaque); /* &ev->src, the same pointer */
}

static void on_attempt_done(void *opaque, hd_attempt_src_t *src) {
    ev_work_done(opaque, (ev_t *)src);
}

static void deadletter_message(hd_dispatch_t *w, ev_t *ev, const rd_kafka_message_t *msg, const char *reason,
                               const char *error) {
    char where[64];
    snprintf(where, sizeof(where), "%d@%" PRId64, msg->partition, msg->offset);
    HD_LOG(HD_LOG_WARN, "decode", HD_KV("topic", ev->msg_topic, "at", where, "reason", reason), "%s: %s",
           w->replay ? "skipping message (dead-lettered when first seen)" : "dead-lettering message", error);
    w->stats.deadlettered++;
    hd_metrics_event_deadlettered();
    if (w->replay) return;
    ev->src.pending++;
    hd_record_deadletter(w->record, msg, reason, error, ev);
}

/* Stable per (event, subscription) so that retries and replays keep it; a replay asked for new ids salts it. */
static void delivery_id(const hd_dispatch_t *w, const ev_t *ev, const hd_sub_t *sub, char out[HD_SIGN_ID_SIZE]) {
    hd_sign_message_id_salted(ev->src.event->id, sub->id, w->replay ? w->replay->salt : NULL, out);
}

/* An event naming its subscription (a test event, a re-send through the API) goes to that one alone, whatever its
 * event types, statuses and filter; one still missing or inactive gets a final failed outcome rather than none. */
static void deliver_target(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const char *id) {
    const hd_sub_t *sub = hd_match_get(snap, id);
    char msg_id[HD_SIGN_ID_SIZE];
    if (sub && !strcmp(sub->tenant, ev->src.event->tenant) && sub->is_active && !atomic_load(&sub->disabled)) {
        ev->snap = hd_match_retain(snap);
        delivery_id(w, ev, sub, msg_id);
        hd_attempt_start(w->attempts, &ev->src, sub, 1, 0, msg_id);
    } else {
        hd_sign_message_id(ev->src.event->id, id, msg_id);
        hd_attempt_fail(w->attempts, &ev->src, id, sub ? sub->url : "", msg_id, 1,
                        sub ? "the subscription is not active" : "no such subscription (deleted?)", 0);
    }
}

/* Events set aside whose look has come, or whose wait is over, in the order they came. */
static void release_targets(hd_dispatch_t *w, int64_t now) {
    for (hd_target_wait_t *wait; (wait = hd_target_due(w->targets, now));) {
        ev_t *ev = EV_OF_WAIT(wait);
        hd_match_t *snap = hd_cache_get(w->cache);
        if (hd_attempt_revoked(&ev->src))
            w->stats.dropped_revoked++;
        else
            deliver_target(w, snap, ev, wait->id);
        hd_match_release(snap);
        ev_work_done(w, ev);
    }
}

static void handle_source(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const rd_kafka_message_t *msg) {
    char errstr[512];
    hd_decode_err_t derr;
    ev->src.topic = hd_xstrdup(ev->msg_topic);
    ev->src.partition = msg->partition;
    ev->src.offset = msg->offset;
    hd_decode_header_t hdrs[HD_DISPATCH_MAX_HEADERS];
    size_t hdr_cnt = hd_consume_headers(msg, hdrs, HD_DISPATCH_MAX_HEADERS);
    ev->src.event = hd_decode_event(msg->payload, msg->len, hdrs, hdr_cnt, &w->decode_opts,
                                    rd_kafka_message_timestamp(msg, NULL), &derr, errstr, sizeof(errstr));
    if (!ev->src.event) {
        deadletter_message(w, ev, msg, hd_decode_reason(derr), errstr);
        return;
    }
    /* A test event or a retry from the API names the one subscription it is for. */
    size_t target_len = 0;
    const void *target = hd_target_of(hdrs, hdr_cnt, &target_len);
    if (target && !w->replay) {
        char id[256];
        snprintf(id, sizeof(id), "%.*s", (int)target_len, (const char *)target);
        if (!hd_match_get(snap, id) &&
            hd_target_set_aside(w->targets, &ev->wait, id, rd_kafka_message_timestamp(msg, NULL), hd_now_ms()))
            ev_ref_work(ev);
        else
            deliver_target(w, snap, ev, id);
        return;
    }

    const hd_sub_t *small[64], **subs = small;
    int n = hd_match_find(snap, ev->src.event, small, 64);
    if (n > 64) {
        subs = hd_xmalloc(sizeof(*subs) * (size_t)n);
        hd_match_find(snap, ev->src.event, subs, n);
    }
    if (n > 0) hd_metrics_event_matched();
    if (n > 0 && w->replay) {
        int kept = 0;
        char id[HD_SIGN_ID_SIZE];
        hd_consume_range_t at = {ev->src.topic, ev->src.partition, ev->src.offset, ev->src.offset + 1};
        for (int i = 0; i < n; i++) {
            delivery_id(w, ev, subs[i], id);
            if (w->replay->select(w->replay->opaque, ev->src.event, &at, subs[i], id)) subs[kept++] = subs[i];
        }
        n = kept;
    }
    if (n > 0) {
        ev->snap = hd_match_retain(snap); /* the subscriptions must outlive a refresh while in flight */
        for (int i = 0; i < n; i++) {
            if (target && (strlen(subs[i]->id) != target_len || memcmp(subs[i]->id, target, target_len))) continue;
            char msg_id[HD_SIGN_ID_SIZE];
            delivery_id(w, ev, subs[i], msg_id);
            hd_attempt_start(w->attempts, &ev->src, subs[i], 1, 0, msg_id);
        }
    }
    HD_LOG(HD_LOG_DEBUG, "match", HD_KV("event_id", ev->src.event->id), "event %s for tenant %s: %d subscriptions",
           ev->src.event->type, ev->src.event->tenant, n);
    if (subs != small) free(subs);
}

/* A due retry job: attempt it again against the subscription as it is now. */
static void run_retry(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev) {
    hd_retry_job_t *job = ev->job;
    const hd_sub_t *sub = hd_match_get(snap, job->subscription_id);
    if (!sub || !sub->is_active || atomic_load(&sub->disabled)) {
        hd_attempt_fail(w->attempts, &ev->src, job->subscription_id, job->url, job->delivery_id, job->attempt,
                        sub ? "the subscription was disabled before the retry"
                            : "the subscription was deleted before the retry",
                        1);
        return;
    }
    ev->snap = hd_match_retain(snap);
    hd_attempt_start(w->attempts, &ev->src, sub, job->attempt, job->parked, job->delivery_id);
}

static void pause_partition(void *opaque, const hd_retry_held_t *held, int pause) {
    const ev_t *ev = EV_OF_HELD(held);
    hd_consume_pause(ev->consume, held->topic, held->partition, pause);
}

static void handle_retry(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const rd_kafka_message_t *msg, int tier) {
    char errstr[512];
    hd_decode_err_t derr;
    if (!(ev->job = hd_retry_job_decode(msg->payload, msg->len, errstr, sizeof(errstr)))) {
        deadletter_message(w, ev, msg, "bad-retry-job", errstr);
        return;
    }
    ev->src.topic = hd_xstrdup(ev->job->src_topic);
    ev->src.partition = ev->job->src_partition;
    ev->src.offset = ev->job->src_offset;
    if (!(ev->src.event =
              hd_decode_envelope(json_object_get(ev->job->event), &w->decode_opts, 0, &derr, errstr, sizeof(errstr)))) {
        deadletter_message(w, ev, msg, "bad-retry-job", errstr);
        return;
    }
    int64_t now = hd_now_ms(), wait = ev->job->due_ms - now;
    int fit = hd_retry_tier_for_wait(w->retry, wait);
    if (fit > tier) {
        /* Due later than the next tier's delay (a long Retry-After, a long-open breaker): move it to the tier
         * that fits rather than block the jobs queued behind it. Within a tier it is held: re-producing it to the
         * same tier would only circulate it until due. */
        ev->src.pending++;
        hd_record_job(w->record, w->retry->topic[fit], ev->job, NULL, NULL, ev);
        return;
    }
    if (wait > 0) { /* its partition is paused meanwhile, so the consumer does not fetch the backlog */
        ev->held = (hd_retry_held_t){.due_ms = ev->job->due_ms, .topic = ev->msg_topic, .partition = ev->msg_partition};
        ev_ref_work(ev);
        hd_retry_hold_add(w->hold, &ev->held);
        return;
    }
    run_retry(w, snap, ev);
}

static void handle_message(hd_dispatch_t *w, hd_match_t *snap, hd_consume_t *from, rd_kafka_message_t *msg) {
    if (msg->err) {
        HD_LOG(HD_LOG_WARN, "consume", NULL, "consumer: %s", rd_kafka_message_errstr(msg));
        return;
    }
    w->stats.consumed++;
    hd_metrics_event_consumed();
    ev_t *ev = hd_xcalloc(1, sizeof(*ev));
    ev->consume = from;
    ev->src.entry = hd_consume_track(from, msg);
    ev->msg_topic = hd_xstrdup(rd_kafka_topic_name(msg->rkt));
    ev->msg_partition = msg->partition;
    ev_ref_work(ev);
    HD_LIST_ADD(w->evs, ev);
    int tier = hd_retry_tier_of_topic(w->retry, ev->msg_topic);
    if (tier < 0)
        handle_source(w, snap, ev, msg);
    else
        handle_retry(w, snap, ev, msg, tier);
    ev_work_done(w, ev);
}

static int cache_seen(void *cache, int64_t after_ms) {
    return hd_cache_seen(cache, after_ms);
}

static hd_dispatch_t *dispatch_new(const hd_conf_t *conf, hd_cache_t *cache, hd_health_t *health, int worker,
                                   const hd_dispatch_replay_t *replay, char *errstr, size_t errstr_size) {
    hd_dispatch_t *w = hd_xcalloc(1, sizeof(*w));
    w->conf = conf;
    w->replay = replay;
    w->cache = cache;
    w->targets = hd_target_new(cache_seen, cache);
    w->decode_opts = (hd_decode_opts_t){.max_bytes = (size_t)conf->event_max_bytes,
                                        .tenant_attribute = conf->event_tenant_attribute,
                                        .tenant_header = conf->event_tenant_header,
                                        .status_field = conf->match_status_field};
    w->wake[0] = w->wake[1] = -1;
    w->hold = hd_retry_hold_new(pause_partition, w);
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC)) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(w->retry = hd_retry_new(conf, errstr, errstr_size))) goto fail;
    if (!(w->record = hd_record_new(conf, w->wake[1], on_record_ack, w, errstr, errstr_size))) goto fail;
    hd_attempt_env_t env = {.conf = conf,
                            .record = w->record,
                            .retry = w->retry,
                            .health = health,
                            .decode_opts = &w->decode_opts,
                            .replay = replay != NULL,
                            .done = on_attempt_done,
                            .opaque = w};
    if (!(w->attempts = hd_attempt_new(&env, errstr, errstr_size))) goto fail;
    if (replay) {
        w->consume = hd_consume_new_range(conf, w->wake[1], replay->ranges, replay->ranges_cnt, errstr, errstr_size);
        if (!w->consume) goto fail;
    } else {
        w->consume = hd_consume_new(conf, NULL, 0, "", worker, w->wake[1], errstr, errstr_size);
        if (!w->consume) goto fail;
        if (w->retry->cnt &&
            !(w->retry_consume = hd_consume_new(conf, (const char *const *)w->retry->topic, w->retry->cnt, ".retry",
                                                worker, w->wake[1], errstr, errstr_size)))
            goto fail;
    }
    if (hd_record_prepare(w->record, w->retry, (size_t)conf->event_max_bytes, errstr, errstr_size)) goto fail;
    return w;

fail:
    hd_dispatch_destroy(w);
    return NULL;
}

hd_dispatch_t *hd_dispatch_new(const hd_conf_t *conf, hd_cache_t *cache, hd_health_t *health, int worker, char *errstr,
                               size_t errstr_size) {
    return dispatch_new(conf, cache, health, worker, NULL, errstr, errstr_size);
}

hd_dispatch_t *hd_dispatch_new_replay(const hd_conf_t *conf, hd_cache_t *cache, hd_health_t *health,
                                      const hd_dispatch_replay_t *replay, char *errstr, size_t errstr_size) {
    return dispatch_new(conf, cache, health, 0, replay, errstr, errstr_size);
}

static void drain_wake(hd_dispatch_t *w) {
    char buf[256];
    while (read(w->wake[0], buf, sizeof(buf)) > 0) {
    }
}

/* The longest a turn waits for the network when nothing wakes it. librdkafka writes the queue's io-event only
 * when an empty queue gets an entry; turn() drains the pipe before reading the queues so that no wake-up is lost,
 * and this short timer bounds the cost of any it still misses (the loop once lost them, and the median event
 * waited 0.9 s at 2,000 deliveries/s). Idle, it is a hundred cheap turns a second. */
#define IDLE_WAIT_MS 10

/* One turn of the loop: release due retries, take events while there is room, serve Kafka's reports, wait for
 * the network (at most until the next held job is due). */
static int turn(hd_dispatch_t *w, int consuming, int max_wait_ms) {
    hd_match_t *snap = NULL;
    int64_t now = hd_now_ms();
    hd_attempt_ready(w->attempts);
    /* Before the queues are read: a wake-up written while they are being read then stays in the pipe. Drained
     * after, it was lost, and the queue, no longer empty, never signalled again until the timer below. */
    drain_wake(w);
    hd_retry_held_t *held;
    while (consuming && (held = hd_retry_hold_due(w->hold, now))) {
        if (!snap) snap = hd_cache_get(w->cache);
        ev_t *ev = EV_OF_HELD(held);
        if (hd_attempt_revoked(&ev->src))
            w->stats.dropped_revoked++;
        else
            run_retry(w, snap, ev);
        ev_work_done(w, ev); /* the hold's reference */
    }
    if (hd_retry_hold_next_ms(w->hold) - now < max_wait_ms) max_wait_ms = (int)(hd_retry_hold_next_ms(w->hold) - now);
    release_targets(w, now);
    max_wait_ms = hd_target_wait_ms(w->targets, max_wait_ms);
    /* The retry tiers first: a retry is older work than any new event. */
    hd_consume_t *const from[] = {w->retry_consume, w->consume};
    for (size_t f = 0; f < sizeof(from) / sizeof(from[0]); f++) {
        if (!from[f]) continue;
        if (!consuming) {
            hd_consume_serve(from[f]);
            continue;
        }
        int64_t room = w->conf->http_max_inflight - (int64_t)hd_attempt_busy(w->attempts);
        /* Messages done but waiting for an earlier one of their partition hold a little memory each: bounded. */
        if (!hd_record_has_room(w->record, w->conf->results_max_outstanding_kbytes) ||
            hd_consume_pending(from[f]) >= (size_t)w->conf->consume_max_pending)
            room = 0;
        int want = room < w->conf->batch_size ? (int)room : (int)w->conf->batch_size;
        if (want <= 0) continue;
        rd_kafka_message_t *msgs[want];
        int took = hd_consume_batch(from[f], msgs, want);
        if (took && !snap) snap = hd_cache_get(w->cache);
        for (int i = 0; i < took; i++) {
            handle_message(w, snap, from[f], msgs[i]);
            rd_kafka_message_destroy(msgs[i]);
        }
        if (took == want) max_wait_ms = 0; /* more may be queued: the wake fd only signals the first */
    }
    hd_match_release(snap);
    hd_record_poll(w->record);
    if (hd_record_fatal(w->record)) {
        HD_LOG(HD_LOG_ERROR, "dispatch", NULL,
               "the producer failed for good: stopping; offsets stay behind every unwritten outcome");
        return -1;
    }
    struct curl_waitfd wfd = {.fd = w->wake[0], .events = CURL_WAIT_POLLIN};
    if (hd_attempt_run(w->attempts, &wfd, 1, max_wait_ms < 0 ? 0 : max_wait_ms) < 0) {
        HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "curl multi failed");
        return -1;
    }
    return 0;
}

/* Gives up everything still in flight or held: their offsets are never stored, so they are re-delivered by the
 * partition's next owner (after a restart, by this process again). */
static int abandon(hd_dispatch_t *w) {
    int n = hd_attempt_abandon(w->attempts);
    for (hd_retry_held_t *held; (held = hd_retry_hold_take(w->hold)); n++) {
        EV_OF_HELD(held)->src.abandoned = 1;
        ev_work_done(w, EV_OF_HELD(held));
    }
    for (hd_target_wait_t *wait; (wait = hd_target_take(w->targets)); n++) {
        EV_OF_WAIT(wait)->src.abandoned = 1;
        ev_work_done(w, EV_OF_WAIT(wait));
    }
    return n;
}

static int ms_until(int64_t deadline_us) {
    int64_t left = (deadline_us - hd_mono_us()) / 1000;
    return left > 0 ? (int)left : 0;
}

int hd_dispatch_run(hd_dispatch_t *w, const atomic_int *stop) {
    while (!atomic_load(stop)) {
        if (turn(w, 1, IDLE_WAIT_MS)) return -1;
        if (!w->replay) continue;
        if (w->replay->progress) {
            hd_dispatch_stats_t st;
            hd_dispatch_stats(w, &st);
            w->replay->progress(w->replay->opaque, &st);
        }
        if (!w->evs && hd_consume_finished(w->consume)) break;
    }

    /* Drain, within shutdown.grace.ms in all: no new events; in-flight deliveries get the grace period less a
     * reserve for the outcome records and leaving the group, which a broker that is away would otherwise hold for a
     * minute each. A replay abandons instead of parking: running it again is how it is resumed. */
    int64_t grace = w->conf->shutdown_grace_ms * 1000, start = hd_mono_us();
    int64_t reserve = grace / 3 < 3000000 ? grace / 3 : 3000000;
    HD_LOG(HD_LOG_INFO, "dispatch", NULL, "stopping: %zu deliveries in flight", hd_attempt_inflight(w->attempts));
    int parked = w->replay ? 0 : hd_attempt_park_all(w->attempts, 0);
    while (hd_attempt_busy(w->attempts) && hd_mono_us() < start + grace - reserve)
        if (turn(w, 0, 50)) break;
    if (!w->replay) parked += hd_attempt_park_all(w->attempts, 1);
    int abandoned = abandon(w);
    if (parked) HD_LOG(HD_LOG_INFO, "dispatch", NULL, "parked %d deliveries in the retry tiers", parked);
    if (abandoned)
        HD_LOG(HD_LOG_WARN, "dispatch", NULL, "abandoned %d deliveries and held retries; they will be redelivered",
               abandoned);
    int left = hd_record_flush(w->record, ms_until(start + grace - reserve / 2));
    if (left)
        HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "%d outcome records unacknowledged; their events will be redelivered",
               left);
    hd_consume_close(w->consume, w->retry_consume ? ms_until(start + grace - reserve / 4) : ms_until(start + grace));
    if (w->retry_consume) hd_consume_close(w->retry_consume, ms_until(start + grace));
    return 0;
}

void hd_dispatch_destroy(hd_dispatch_t *w) {
    if (!w) return;
    if (w->attempts) abandon(w);
    /* Whatever is still live waits only for acks: late acks during the producer's final flush must not touch the
     * consumer, which may already be gone. */
    for (ev_t *ev = w->evs; ev; ev = ev->next)
        ev->src.abandoned = 1;
    hd_record_destroy(w->record, 0);
    hd_consume_destroy(w->consume);
    hd_consume_destroy(w->retry_consume);
    while (w->evs) {
        w->evs->src.pending = 1;
        ev_unref(w, w->evs);
    }
    hd_attempt_destroy(w->attempts);
    hd_retry_destroy(w->retry);
    hd_retry_hold_destroy(w->hold);
    hd_target_destroy(w->targets);
    if (w->wake[0] >= 0) close(w->wake[0]);
    if (w->wake[1] >= 0) close(w->wake[1]);
    free(w);
}

void hd_dispatch_stats(const hd_dispatch_t *w, hd_dispatch_stats_t *out) {
    hd_attempt_stats_t a;
    hd_attempt_stats(w->attempts, &a);
    *out = w->stats;
    out->deliveries = a.deliveries;
    out->succeeded = a.succeeded;
    out->failed = a.failed;
    out->retries = a.retries;
    out->parked = a.parked;
    out->dropped_revoked += a.dropped_revoked;
}
