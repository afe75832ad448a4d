#define _GNU_SOURCE
#include "hookd/dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/consume.h"
#include "hookd/decode.h"
#include "hookd/deliver.h"
#include "hookd/log.h"
#include "hookd/outcome.h"
#include "hookd/record.h"
#include "hookd/render.h"
#include "hookd/sign.h"
#include "hookd/util.h"

/* One consumed message and the work hanging off it. pending counts the deliveries in flight and the records not
 * yet acknowledged, plus one while the message is being processed; at zero the message is done. */
typedef struct ev_s {
    hd_event_t *event; /* NULL for a dead-lettered message */
    hd_consume_entry_t *entry;
    hd_match_t *snap;
    hd_render_body_t *body;
    char *topic;
    int32_t partition;
    int64_t offset;
    int pending;
    int abandoned;
    struct ev_s *prev, *next;
} ev_t;

typedef struct job_s {
    hd_deliver_req_t req;
    ev_t *ev;
    const hd_sub_t *sub;
    char msg_id[HD_SIGN_ID_SIZE];
    int attempt;
    int64_t attempted_at_ms;
    struct job_s *prev, *next;
} job_t;

struct hd_dispatch_s {
    const hd_conf_t *conf;
    hd_match_cache_t *cache;
    hd_consume_t *consume;
    hd_record_t *record;
    hd_deliver_t *deliver;
    int wake[2];
    ev_t *evs;   /* live events, for abandonment at shutdown */
    job_t *jobs; /* deliveries in flight */
    hd_dispatch_stats_t stats;
};

#define LIST_ADD(head, x)                                                                                       \
    do {                                                                                                         \
        (x)->prev = NULL;                                                                                        \
        (x)->next = (head);                                                                                      \
        if (head) (head)->prev = (x);                                                                            \
        (head) = (x);                                                                                            \
    } while (0)
#define LIST_DEL(head, x)                                                                                       \
    do {                                                                                                         \
        if ((x)->prev) (x)->prev->next = (x)->next;                                                             \
        else (head) = (x)->next;                                                                                 \
        if ((x)->next) (x)->next->prev = (x)->prev;                                                             \
    } while (0)

static void ev_unref(hd_dispatch_t *w, ev_t *ev) {
    if (--ev->pending > 0) return;
    if (!ev->abandoned) hd_consume_done(w->consume, ev->entry);
    LIST_DEL(w->evs, ev);
    hd_decode_event_destroy(ev->event);
    hd_render_body_release(ev->body);
    hd_match_release(ev->snap);
    free(ev->topic);
    free(ev);
}

static void on_record_ack(void *opaque, void *record_opaque) {
    ev_unref(opaque, record_opaque);
}

static void record_attempt(hd_dispatch_t *w, job_t *job, hd_outcome_t outcome, const char *error) {
    ev_t *ev = job->ev;
    hd_record_result_t res = {
        .delivery_id = job->msg_id,
        .event_id = ev->event->id,
        .event_type = ev->event->type,
        .subscription_id = job->sub->id,
        .tenant = ev->event->tenant,
        .url = job->sub->url,
        .attempt = job->attempt,
        .status_code = job->req.status,
        .success = outcome == HD_OUTCOME_SUCCESS,
        .outcome = hd_outcome_name(outcome),
        .error = error,
        .duration_ms = job->req.duration_us / 1000,
        .attempted_at_ms = job->attempted_at_ms,
        .event_time_ms = ev->event->time_ms,
        .src_topic = ev->topic,
        .src_partition = ev->partition,
        .src_offset = ev->offset,
    };
    if (outcome == HD_OUTCOME_SUCCESS) w->stats.succeeded++;
    else w->stats.failed++;
    HD_LOG(outcome == HD_OUTCOME_SUCCESS ? HD_LOG_DEBUG : HD_LOG_INFO, "deliver",
           HD_KV("event_id", ev->event->id, "subscription_id", job->sub->id, "delivery_id", job->msg_id,
                 "outcome", res.outcome, "error", error),
           "attempt %d to %s: status %ld in %" PRId64 " ms", job->attempt, job->sub->url, job->req.status,
           res.duration_ms);
    ev->pending++;
    if (hd_record_result(w->record, &res, ev)) ev->pending--; /* logged by record; the offset then stays put */
}

static void job_free(hd_dispatch_t *w, job_t *job) {
    LIST_DEL(w->jobs, job);
    hd_deliver_req_clear(&job->req);
    free(job);
}

static void on_delivered(hd_deliver_req_t *req, void *opaque) {
    hd_dispatch_t *w = opaque;
    job_t *job = (job_t *)req; /* req is the first member */
    ev_t *ev = job->ev;
    hd_outcome_t outcome = hd_outcome_classify(req->status, req->curl_code, job->sub->success_code);
    char error[CURL_ERROR_SIZE + 64];
    const char *err = NULL;
    if (req->curl_code) {
        err = req->error;
    } else if (outcome != HD_OUTCOME_SUCCESS) {
        snprintf(error, sizeof(error), "receiver answered %ld%s", req->status,
                 job->sub->success_code ? " (not the subscription's success_code)" : "");
        err = error;
    }
    record_attempt(w, job, outcome, err);
    job_free(w, job);
    ev_unref(w, ev);
}

static struct curl_slist *add_header(struct curl_slist *l, const char *name, const char *value) {
    char line[8192];
    snprintf(line, sizeof(line), "%s: %s", name, value);
    return curl_slist_append(l, line);
}

static void start_delivery(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub) {
    job_t *job = hd_xcalloc(1, sizeof(*job));
    char ts[24], sig[HD_SIGN_HEADER_SIZE];
    job->ev = ev;
    job->sub = sub;
    job->attempt = 1;
    job->attempted_at_ms = hd_now_ms();
    hd_sign_message_id(ev->event->id, sub->id, job->msg_id);
    int64_t now_s = job->attempted_at_ms / 1000;
    snprintf(ts, sizeof(ts), "%" PRId64, now_s);
    hd_sign_header(&sub->keys, job->attempted_at_ms, job->msg_id, now_s, ev->body->data, ev->body->len, sig);

    struct curl_slist *h = NULL;
    for (int i = 0; i < sub->headers_cnt; i++) h = add_header(h, sub->headers[i].name, sub->headers[i].value);
    h = add_header(h, "content-type", "application/json");
    h = add_header(h, "webhook-id", job->msg_id);
    h = add_header(h, "webhook-timestamp", ts);
    h = add_header(h, "webhook-signature", sig);
    h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip for larger bodies */
    job->req.headers = h;
    job->req.url = sub->url;
    job->req.body = ev->body->data;
    job->req.body_len = ev->body->len;
    LIST_ADD(w->jobs, job);
    ev->pending++;
    w->stats.deliveries++;
    if (hd_deliver_submit(w->deliver, &job->req)) {
        record_attempt(w, job, HD_OUTCOME_RETRYABLE, job->req.error);
        job_free(w, job);
        ev_unref(w, ev);
    }
}

static void handle_message(hd_dispatch_t *w, hd_match_t *snap, rd_kafka_message_t *msg) {
    if (msg->err) {
        HD_LOG(HD_LOG_WARN, "consume", NULL, "consumer: %s", rd_kafka_message_errstr(msg));
        return;
    }
    w->stats.consumed++;
    ev_t *ev = hd_xcalloc(1, sizeof(*ev));
    ev->entry = hd_consume_track(w->consume, msg);
    ev->topic = hd_xstrdup(rd_kafka_topic_name(msg->rkt));
    ev->partition = msg->partition;
    ev->offset = msg->offset;
    ev->pending = 1;
    LIST_ADD(w->evs, ev);

    char errstr[512];
    hd_decode_err_t derr;
    ev->event = hd_decode_event(msg->payload, msg->len, (size_t)w->conf->event_max_bytes,
                                rd_kafka_message_timestamp(msg, NULL), &derr, errstr, sizeof(errstr));
    if (!ev->event) {
        char where[64];
        snprintf(where, sizeof(where), "%d@%" PRId64, msg->partition, msg->offset);
        HD_LOG(HD_LOG_WARN, "decode", HD_KV("topic", ev->topic, "at", where, "reason", hd_decode_reason(derr)),
               "dead-lettering message: %s", errstr);
        w->stats.deadlettered++;
        ev->pending++;
        if (hd_record_deadletter(w->record, msg, hd_decode_reason(derr), errstr, ev)) ev->pending--;
        ev_unref(w, ev);
        return;
    }

    /* A test event or a retry from the API names the one subscription it is for. */
    const void *target = NULL;
    size_t target_len = 0;
    rd_kafka_headers_t *hdrs;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_header_get_last(hdrs, "hookd-subscription", &target, &target_len);

    const hd_sub_t *small[64], **subs = small;
    int n = hd_match_find(snap, ev->event->tenant, ev->event->type, small, 64);
    if (n > 64) {
        subs = hd_xmalloc(sizeof(*subs) * (size_t)n);
        hd_match_find(snap, ev->event->tenant, ev->event->type, subs, n);
    }
    if (n > 0) {
        ev->snap = hd_match_retain(snap); /* the subscriptions must outlive a refresh while in flight */
        ev->body = hd_render_default(ev->event);
        for (int i = 0; i < n; i++)
            if (!target || (strlen(subs[i]->id) == target_len && !memcmp(subs[i]->id, target, target_len)))
                start_delivery(w, ev, subs[i]);
    }
    HD_LOG(HD_LOG_DEBUG, "match", HD_KV("event_id", ev->event->id), "event %s for tenant %s: %d subscriptions",
           ev->event->type, ev->event->tenant, n);
    if (subs != small) free(subs);
    ev_unref(w, ev);
}

hd_dispatch_t *hd_dispatch_new(const hd_conf_t *conf, hd_match_cache_t *cache, char *errstr, size_t errstr_size) {
    hd_dispatch_t *w = hd_xcalloc(1, sizeof(*w));
    w->conf = conf;
    w->cache = cache;
    w->wake[0] = w->wake[1] = -1;
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC)) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(w->deliver = hd_deliver_new(conf, on_delivered, w, errstr, errstr_size))) goto fail;
    if (!(w->record = hd_record_new(conf, w->wake[1], on_record_ack, w, errstr, errstr_size))) goto fail;
    if (!(w->consume = hd_consume_new(conf, w->wake[1], errstr, errstr_size))) goto fail;
    return w;

fail:
    hd_dispatch_destroy(w);
    return NULL;
}

static void drain_wake(hd_dispatch_t *w) {
    char buf[256];
    while (read(w->wake[0], buf, sizeof(buf)) > 0) {
    }
}

/* One turn of the loop: take events while there is room, serve Kafka's reports, wait for the network. */
static int turn(hd_dispatch_t *w, int consuming, int max_wait_ms) {
    int took = 0;
    if (consuming) {
        int64_t room = w->conf->http_max_inflight - (int64_t)hd_deliver_inflight(w->deliver);
        int want = room < w->conf->batch_size ? (int)room : (int)w->conf->batch_size;
        if (want > 0) {
            rd_kafka_message_t *msgs[want];
            took = hd_consume_batch(w->consume, msgs, want);
            if (took) {
                hd_match_t *snap = hd_match_cache_get(w->cache);
                for (int i = 0; i < took; i++) {
                    handle_message(w, snap, msgs[i]);
                    rd_kafka_message_destroy(msgs[i]);
                }
                hd_match_release(snap);
            }
            if (took == want) max_wait_ms = 0; /* more may be queued: the wake fd only signals the first */
        }
    }
    hd_record_poll(w->record);
    drain_wake(w);
    struct curl_waitfd wfd = {.fd = w->wake[0], .events = CURL_WAIT_POLLIN};
    if (hd_deliver_run(w->deliver, &wfd, 1, max_wait_ms) < 0) {
        HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "curl multi failed");
        return -1;
    }
    return 0;
}

int hd_dispatch_run(hd_dispatch_t *w, const atomic_int *stop) {
    while (!atomic_load(stop))
        if (turn(w, 1, 100)) return -1;

    /* Drain: no new events; in-flight deliveries get the grace period. */
    int64_t deadline = hd_mono_us() + w->conf->shutdown_grace_ms * 1000;
    HD_LOG(HD_LOG_INFO, "dispatch", NULL, "stopping: %zu deliveries in flight", hd_deliver_inflight(w->deliver));
    while (w->jobs && hd_mono_us() < deadline)
        if (turn(w, 0, 50)) break;
    int abandoned = 0;
    while (w->jobs) {
        job_t *job = w->jobs;
        ev_t *ev = job->ev;
        hd_deliver_cancel(w->deliver, &job->req);
        ev->abandoned = 1; /* never store its offset: it is re-delivered after restart */
        job_free(w, job);
        ev_unref(w, ev);
        abandoned++;
    }
    if (abandoned) HD_LOG(HD_LOG_WARN, "dispatch", NULL, "abandoned %d deliveries; they will be redelivered", abandoned);
    int left = hd_record_flush(w->record, 10000);
    if (left) HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "%d outcome records unacknowledged; their events will be redelivered", left);
    hd_consume_close(w->consume);
    return 0;
}

void hd_dispatch_destroy(hd_dispatch_t *w) {
    if (!w) return;
    while (w->jobs) {
        hd_deliver_cancel(w->deliver, &w->jobs->req);
        job_free(w, w->jobs);
    }
    /* Whatever is still live is abandoned: late acks during the producer's final flush must not touch the
     * consumer, which may already be gone. */
    for (ev_t *ev = w->evs; ev; ev = ev->next) ev->abandoned = 1;
    hd_record_destroy(w->record, 0);
    hd_consume_destroy(w->consume);
    while (w->evs) {
        w->evs->pending = 1;
        ev_unref(w, w->evs);
    }
    hd_deliver_destroy(w->deliver);
    if (w->wake[0] >= 0) close(w->wake[0]);
    if (w->wake[1] >= 0) close(w->wake[1]);
    free(w);
}

void hd_dispatch_stats(const hd_dispatch_t *w, hd_dispatch_stats_t *out) {
    *out = w->stats;
}
