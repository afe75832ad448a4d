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

#include "hookd/admit.h"
#include "hookd/consume.h"
#include "hookd/decode.h"
#include "hookd/deliver.h"
#include "hookd/log.h"
#include "hookd/map.h"
#include "hookd/metrics.h"
#include "hookd/outcome.h"
#include "hookd/record.h"
#include "hookd/render.h"
#include "hookd/retry.h"
#include "hookd/rfc3339.h"
#include "hookd/sign.h"
#include "hookd/util.h"

/* One rendered payload shape of an event: the template, or the built-in version when tmpl is NULL. */
typedef struct {
    const hd_render_tmpl_t *tmpl;
    int version;
    hd_render_body_t *body; /* NULL when it could not be rendered */
    char *error;            /* why, then */
} shape_t;

/* Kafka headers looked at per message (CloudEvents binary mode needs a handful). */
#define HD_DISPATCH_MAX_HEADERS 64

/* One consumed message (a source event, or a retry job from a tier topic) and the work hanging off it. work
 * counts the deliveries queued or in flight, plus one while the message is being processed or held; at zero its
 * content (decoded event, rendered bodies, subscriptions) is released, since only acks are then awaited, which
 * under a slow broker can be thousands of events. pending is work plus the records not yet acknowledged; at zero
 * the message is done and its offset may be stored. */
typedef struct ev_s {
    hd_event_t *event;     /* NULL for a dead-lettered message, and once the work is done */
    hd_retry_job_t *job;   /* set for a message from a retry tier */
    hd_consume_t *consume; /* the consumer it came from, which tracks its offset */
    hd_consume_entry_t *entry;
    hd_match_t *snap;
    shape_t *shapes; /* rendered once per distinct shape, shared by its subscribers */
    int shapes_cnt;
    char *topic; /* the event's origin, named in results: the source topic even for retries */
    int32_t partition;
    int64_t offset;
    char *msg_topic; /* where this message was consumed */
    int32_t msg_partition;
    int work, pending;
    int abandoned;
    int64_t due_ms;
    struct ev_s *prev, *next; /* live events */
    struct ev_s *held_next;   /* retry jobs waiting to be due, soonest first; or events awaiting a look */
    char *target;             /* the subscription an event awaiting a look names */
    int64_t produced_ms;      /* and when that event was produced */
} ev_t;

typedef struct job_s {
    hd_deliver_req_t req; /* first: the deliver callback hands req back */
    hd_admit_slot_t slot;
    ev_t *ev;
    const hd_sub_t *sub;
    const hd_render_body_t *body; /* one of ev's shapes */
    char msg_id[HD_SIGN_ID_SIZE];
    struct curl_slist *headers; /* req.headers, owned */
    int attempt;
    int parked; /* parked by its breaker before (hd_retry_job_t) */
    int64_t attempted_at_ms;
    struct job_s *prev, *next; /* all jobs */
} job_t;

#define JOB_OF_SLOT(s) ((job_t *)((char *)(s)-offsetof(job_t, slot)))

struct hd_dispatch_s {
    const hd_conf_t *conf;
    hd_cache_t *cache;
    hd_health_t *health;
    hd_consume_t *consume;       /* the source topics (or a replay's ranges) */
    hd_consume_t *retry_consume; /* the retry tiers, in a group of their own; NULL for a replay */
    hd_record_t *record;
    hd_deliver_t *deliver;
    hd_retry_t *retry;
    hd_decode_opts_t decode_opts;
    int wake[2];
    ev_t *evs;
    job_t *jobs;
    ev_t *held;
    ev_t *awaiting, **awaiting_tail; /* events naming a subscription this worker's snapshot lacks, oldest first */
    hd_admit_t *admit;
    hd_map_t *paused; /* "topic\0partition" -> held jobs of that partition (as a count in the pointer) */
    hd_dispatch_stats_t stats;
    const hd_dispatch_replay_t *replay; /* NULL: the group dispatcher */
};

#define LIST_ADD(head, x)                                                                                              \
    do {                                                                                                               \
        (x)->prev = NULL;                                                                                              \
        (x)->next = (head);                                                                                            \
        if (head) (head)->prev = (x);                                                                                  \
        (head) = (x);                                                                                                  \
    } while (0)
#define LIST_DEL(head, x)                                                                                              \
    do {                                                                                                               \
        if ((x)->prev)                                                                                                 \
            (x)->prev->next = (x)->next;                                                                               \
        else                                                                                                           \
            (head) = (x)->next;                                                                                        \
        if ((x)->next) (x)->next->prev = (x)->prev;                                                                    \
    } while (0)

static void ev_release_content(ev_t *ev) {
    hd_decode_event_destroy(ev->event);
    hd_retry_job_destroy(ev->job);
    for (int i = 0; i < ev->shapes_cnt; i++) {
        hd_render_body_release(ev->shapes[i].body);
        free(ev->shapes[i].error);
    }
    free(ev->shapes);
    hd_match_release(ev->snap);
    ev->event = NULL;
    ev->job = NULL;
    ev->shapes = NULL;
    ev->shapes_cnt = 0;
    ev->snap = NULL;
}

static void ev_unref(hd_dispatch_t *w, ev_t *ev) {
    if (--ev->pending > 0) return;
    if (!ev->abandoned) hd_consume_done(ev->consume, ev->entry);
    LIST_DEL(w->evs, ev);
    ev_release_content(ev);
    free(ev->topic);
    free(ev->msg_topic);
    free(ev->target);
    free(ev);
}

static void ev_ref_work(ev_t *ev) {
    ev->work++;
    ev->pending++;
}

static void ev_work_done(hd_dispatch_t *w, ev_t *ev) {
    if (--ev->work == 0) ev_release_content(ev);
    ev_unref(w, ev);
}

static void on_record_ack(void *opaque, void *record_opaque) {
    ev_unref(opaque, record_opaque);
}

/* Produces a record whose acknowledgement the event waits for. Takes hdrs. A record the producer cannot take any
 * more (hd_record_fatal) stays pending: the event is never done, its offset never stored, and the loop stops. */
static void send_record(hd_dispatch_t *w, ev_t *ev, const char *topic, const char *key, const char *value,
                        rd_kafka_headers_t *hdrs) {
    ev->pending++;
    hd_record_produce(w->record, topic, key, value, strlen(value), hdrs, ev);
}

typedef struct {
    const char *sub_id, *url, *msg_id;
    int attempt;
    long status;
    int64_t duration_us, attempted_at_ms, next_retry_at_ms;
    hd_outcome_t outcome;
    const char *error;
    const char *response; /* the receiver's body as kept (NUL-terminated), NULL when none */
    size_t response_len;
    int final;
    int cancelled; /* a retry not attempted (its subscription was disabled or deleted): not a delivery */
} attempt_t;

static void record_attempt(hd_dispatch_t *w, ev_t *ev, const attempt_t *a) {
    hd_record_result_t res = {
        .delivery_id = a->msg_id,
        .event_id = ev->event->id,
        .event_type = ev->event->type,
        .subscription_id = a->sub_id,
        .tenant = ev->event->tenant,
        .url = a->url,
        .attempt = a->attempt,
        .status_code = a->status,
        .success = a->outcome == HD_OUTCOME_SUCCESS,
        .outcome = hd_outcome_name(a->outcome),
        .error = a->error,
        .response = a->response,
        .response_len = a->response_len,
        .duration_us = a->duration_us,
        .attempted_at_ms = a->attempted_at_ms,
        .event_time_ms = ev->event->time_ms,
        .next_retry_at_ms = a->next_retry_at_ms,
        .final = a->final,
        .src_topic = ev->topic,
        .src_partition = ev->partition,
        .src_offset = ev->offset,
        .replay = w->replay != NULL,
    };
    if (a->outcome == HD_OUTCOME_SUCCESS)
        w->stats.succeeded++;
    else if (!a->cancelled)
        w->stats.failed++;
    HD_LOG(a->outcome == HD_OUTCOME_SUCCESS ? HD_LOG_DEBUG : HD_LOG_INFO, "deliver",
           HD_KV("event_id", ev->event->id, "subscription_id", a->sub_id, "delivery_id", a->msg_id, "outcome",
                 res.outcome, "error", a->error),
           "attempt %d to %s: status %ld in %.1f ms%s", a->attempt, a->url, a->status, a->duration_us / 1000.0,
           a->next_retry_at_ms ? ", retry scheduled" : "");
    ev->pending++;
    hd_record_result(w->record, &res, ev); /* pending until acknowledged, even when the producer failed (send_record) */
}

static hd_retry_job_t job_of(ev_t *ev, const char *sub_id, const char *url, const char *msg_id, int attempt,
                             int64_t due_ms, json_object *envelope) {
    return (hd_retry_job_t){.delivery_id = (char *)msg_id,
                            .subscription_id = (char *)sub_id,
                            .url = (char *)url,
                            .attempt = attempt,
                            .due_ms = due_ms,
                            .event = envelope,
                            .src_topic = ev->topic,
                            .src_partition = ev->partition,
                            .src_offset = ev->offset};
}

/* Produces a retry job to topic (a tier; or the dead-letter topic, hdrs then saying why). A job too large for a
 * record (an event whose envelope outgrew event.max.bytes) goes to the dead-letter topic instead, its event cut
 * down to id, type and tenant: the source coordinates find the rest. Returns 0, or -1 when it went there that way.
 * Takes hdrs. */
static int send_job(hd_dispatch_t *w, ev_t *ev, const char *topic, const hd_retry_job_t *job,
                    rd_kafka_headers_t *hdrs) {
    char *value = hd_retry_job_encode(job);
    size_t len = strlen(value);
    int rc = 0;
    if (len + strlen(job->delivery_id) > hd_record_max_bytes(w->record)) {
        static const char *const keep[] = {"id", "type", "tenant"};
        char error[256];
        json_object *slim = json_object_new_object(), *v;
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
            if (json_object_object_get_ex(job->event, keep[i], &v))
                json_object_object_add(slim, keep[i], json_object_get(v));
        hd_retry_job_t cut = *job;
        cut.event = slim;
        free(value);
        value = hd_retry_job_encode(&cut);
        json_object_put(slim);
        snprintf(error, sizeof(error),
                 "the retry job of %zu bytes exceeds the producer's message.max.bytes; the event is at its source "
                 "topic, partition and offset",
                 len);
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        hdrs = rd_kafka_headers_new(2);
        rd_kafka_header_add(hdrs, "hookd-reason", -1, "too-large", -1);
        rd_kafka_header_add(hdrs, "hookd-error", -1, error, -1);
        HD_LOG(HD_LOG_ERROR, "record", HD_KV("delivery_id", job->delivery_id), "%s", error);
        topic = w->conf->deadletter_topic;
        rc = -1;
    }
    send_record(w, ev, topic, job->delivery_id, value, hdrs);
    free(value);
    return rc;
}

/* Puts a delivery into a retry tier: attempt is the attempt the job will make when it is due; parked marks one
 * its breaker parked. -1 when it went to the dead-letter topic instead (see send_job). */
static int enqueue_retry(hd_dispatch_t *w, ev_t *ev, const char *sub_id, const char *url, const char *msg_id,
                         int attempt, int64_t due_ms, int tier, int parked) {
    json_object *envelope = hd_decode_to_envelope(ev->event, &w->decode_opts);
    hd_retry_job_t job = job_of(ev, sub_id, url, msg_id, attempt, due_ms, envelope);
    job.parked = parked;
    int rc = send_job(w, ev, w->retry->topic[tier], &job, NULL);
    json_object_put(envelope);
    return rc;
}

/* A delivery that will not be attempted again goes to the dead-letter topic as a retry job (it can be replayed
 * by producing it to a tier topic), the reason in the same headers as rejected input. */
static void deadletter_delivery(hd_dispatch_t *w, ev_t *ev, const char *sub_id, const char *url, const char *msg_id,
                                int attempt, const char *reason, const char *error) {
    json_object *envelope = hd_decode_to_envelope(ev->event, &w->decode_opts);
    hd_retry_job_t job = job_of(ev, sub_id, url, msg_id, attempt, 0, envelope);
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "hookd-reason", -1, reason, -1);
    rd_kafka_header_add(h, "hookd-error", -1, error ? error : reason, -1);
    send_job(w, ev, w->conf->deadletter_topic, &job, h);
    json_object_put(envelope);
}

static void disable_sub(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub, const char *reason) {
    if (!hd_health_disable(w->health, sub, reason)) return;
    HD_LOG(HD_LOG_WARN, "dispatch", HD_KV("subscription_id", sub->id), "disabling subscription: %s", reason);
    char at[40];
    hd_rfc3339_format(hd_now_ms(), at);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("subscription.disabled"));
    json_object_object_add(o, "subscription_id", json_object_new_string(sub->id));
    json_object_object_add(o, "tenant", json_object_new_string(sub->tenant));
    json_object_object_add(o, "url", json_object_new_string(sub->url));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "at", json_object_new_string(at));
    send_record(w, ev, w->conf->ops_topic, sub->id, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), NULL);
    json_object_put(o);
}

static void job_free(hd_dispatch_t *w, job_t *job) {
    LIST_DEL(w->jobs, job);
    hd_metrics_delivery_inflight(-1);
    hd_deliver_req_clear(&job->req);
    free(job->headers);
    free(job);
}

static void on_delivered(hd_deliver_req_t *req, void *opaque);

/* The request's header list as one allocation, nodes then lines (curl only reads it): curl_slist_append would
 * make two per header, a dozen per delivery. A NULL value writes "name:", which tells curl to leave it out. */
typedef struct header_s {
    const char *name, *value;
} header_t;

static struct curl_slist *header_list(const header_t *h, int cnt) {
    size_t text = 0;
    for (int i = 0; i < cnt; i++)
        text += strlen(h[i].name) + (h[i].value ? strlen(h[i].value) + 2 : 0) + 2;
    struct curl_slist *nodes = hd_xmalloc(sizeof(*nodes) * (size_t)cnt + text);
    char *p = (char *)(nodes + cnt);
    for (int i = 0; i < cnt; i++) {
        nodes[i].data = p;
        nodes[i].next = i + 1 < cnt ? &nodes[i + 1] : NULL;
        size_t n = strlen(h[i].name);
        memcpy(p, h[i].name, n);
        p += n;
        *p++ = ':';
        if (h[i].value) {
            n = strlen(h[i].value);
            *p++ = ' ';
            memcpy(p, h[i].value, n);
            p += n;
        }
        *p++ = '\0';
    }
    return nodes;
}

/* Signs (with a fresh timestamp) and sends a delivery. */
static void submit_job(hd_dispatch_t *w, job_t *job) {
    const hd_sub_t *sub = job->sub;
    int64_t now = hd_now_ms();
    char ts[24], sig[HD_SIGN_HEADER_SIZE];
    job->attempted_at_ms = now;
    hd_int64_text(now / 1000, ts);
    hd_sign_header(&sub->keys, now, job->msg_id, now / 1000, job->body->data, job->body->len, sig);
    const hd_sub_extra_t *x = sub->extra;
    header_t h[x->headers_cnt + 5];
    int n = 0;
    for (int i = 0; i < x->headers_cnt; i++)
        h[n++] = (header_t){x->headers[i].name, x->headers[i].value};
    h[n++] = (header_t){"content-type", job->body->content_type};
    h[n++] = (header_t){"webhook-id", job->msg_id};
    h[n++] = (header_t){"webhook-timestamp", ts};
    h[n++] = (header_t){"webhook-signature", sig};
    h[n++] = (header_t){"Expect", NULL}; /* no 100-continue round trip for larger bodies */
    job->req.headers = job->headers = header_list(h, n);
    job->req.url = sub->url;
    job->req.body = job->body->data;
    job->req.body_len = job->body->len;
    if (hd_deliver_submit(w->deliver, &job->req)) {
        job->req.curl_code = CURLE_FAILED_INIT;
        on_delivered(&job->req, w);
    }
}

/* Work of a revoked partition that has not started yet: dropped, since the partition's new owner delivers it
 * again from the last committed offset (sending it here too only makes a duplicate). */
static int revoked(const ev_t *ev) {
    return !ev->abandoned && hd_consume_entry_revoked(ev->entry);
}

/* A retryable failure of attempt a->attempt: the next attempt goes to its retry tier (not before min_due_ms), or
 * the delivery is exhausted. Sets a->final and a->next_retry_at_ms; returns the dead-letter reason or NULL. */
static const char *retry_or_exhaust(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub, const char *msg_id,
                                    int64_t retry_after_s, int64_t min_due_ms, int parked, attempt_t *a) {
    a->final = 1;
    if (a->attempt > sub->max_retry_count) return "exhausted";
    int tier = hd_retry_plan(w->retry, a->attempt, retry_after_s, hd_now_ms(), &a->next_retry_at_ms);
    if (min_due_ms > a->next_retry_at_ms) {
        a->next_retry_at_ms = min_due_ms;
        tier = hd_retry_tier_for_wait(w->retry, min_due_ms - hd_now_ms());
    }
    w->stats.retries++;
    hd_metrics_retry(tier);
    if (enqueue_retry(w, ev, sub->id, sub->url, msg_id, a->attempt + 1, a->next_retry_at_ms, tier, parked)) {
        a->next_retry_at_ms = 0; /* dead-lettered: too large to retry */
        return NULL;
    }
    a->final = 0;
    return NULL;
}

static void on_delivered(hd_deliver_req_t *req, void *opaque) {
    hd_dispatch_t *w = opaque;
    job_t *job = (job_t *)req;
    ev_t *ev = job->ev;
    const hd_sub_t *sub = job->sub;
    int64_t now = hd_now_ms();
    hd_outcome_t outcome = req->refused[0] ? HD_OUTCOME_PERMANENT
                                           : hd_outcome_classify(req->status, req->curl_code, sub->extra->success_code);
    hd_admit_done(w->admit, &job->slot, outcome, req->curl_code, now);
    hd_metrics_delivery_attempt(outcome, req->status, req->duration_us);

    char error[CURL_ERROR_SIZE + 160];
    const char *err = NULL;
    if (req->refused[0]) {
        snprintf(error, sizeof(error), "refused to connect to %s (allow it with http.allow.cidrs)", req->refused);
        err = error;
    } else if (req->curl_code) {
        err = req->error;
    } else if (outcome != HD_OUTCOME_SUCCESS) {
        snprintf(error, sizeof(error), "receiver answered %ld%s", req->status,
                 sub->extra->success_code ? " (not the subscription's success_code)" : "");
        err = error;
    }
    attempt_t a = {.sub_id = sub->id,
                   .url = sub->url,
                   .msg_id = job->msg_id,
                   .attempt = job->attempt,
                   .status = req->status,
                   .duration_us = req->duration_us,
                   .attempted_at_ms = job->attempted_at_ms,
                   .outcome = outcome,
                   .error = err,
                   .response = req->response_len ? req->response : NULL,
                   .response_len = req->response_len,
                   .final = 1};
    const char *dead = NULL;
    if (outcome == HD_OUTCOME_RETRYABLE) {
        dead = retry_or_exhaust(w, ev, sub, job->msg_id, req->retry_after_s, 0, 0, &a);
    } else if (outcome == HD_OUTCOME_PERMANENT) {
        dead = "permanent";
    } else if (outcome == HD_OUTCOME_GONE) {
        dead = "gone";
        disable_sub(w, ev, sub, "the endpoint answered 410 Gone");
    }
    record_attempt(w, ev, &a);
    if (dead) deadletter_delivery(w, ev, sub->id, sub->url, job->msg_id, job->attempt, dead, err);
    int64_t failing_since = outcome == HD_OUTCOME_PERMANENT
                                ? 0 /* the receiver answers: says nothing either way */
                                : hd_health_attempted(w->health, sub, outcome != HD_OUTCOME_SUCCESS, now);
    if (outcome == HD_OUTCOME_RETRYABLE && w->conf->disable_after_ms && failing_since &&
        now - failing_since >= w->conf->disable_after_ms) {
        char why[128];
        snprintf(why, sizeof(why), "the endpoint has failed continuously for %" PRId64 " s",
                 (now - failing_since) / 1000);
        disable_sub(w, ev, sub, why);
    }
    job_free(w, job);
    ev_work_done(w, ev);
}

/* Parks a delivery without attempting it (open breaker, host at its cap, waited too long for a slot): it waits in
 * a retry tier instead of hammering the receiver, taking slots from healthy endpoints or holding its event's
 * offset, and keeps its attempt number. A delivery parked by its breaker before that finds the circuit still open
 * counts this as a failed attempt instead, so that deliveries to a receiver that never recovers reach their final
 * outcome on their schedule, each with a bounded number of parks. */
static void park(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub, const char *msg_id, int attempt, int parked,
                 const hd_admit_park_t *p) {
    int64_t now = hd_now_ms();
    attempt_t a = {.sub_id = sub->id,
                   .url = sub->url,
                   .msg_id = msg_id,
                   .attempt = attempt,
                   .attempted_at_ms = now,
                   .outcome = HD_OUTCOME_RETRYABLE,
                   .error = "not attempted: the circuit to this endpoint is open",
                   .final = 1};
    if (p->breaker && parked) {
        const char *dead = retry_or_exhaust(w, ev, sub, msg_id, -1, p->due_ms, 1, &a);
        record_attempt(w, ev, &a);
        if (dead) deadletter_delivery(w, ev, sub->id, sub->url, msg_id, attempt, dead, a.error);
        return;
    }
    int64_t due = p->due_ms ? p->due_ms : now + w->retry->delay_ms[0];
    w->stats.parked++;
    HD_LOG(HD_LOG_DEBUG, "deliver", HD_KV("subscription_id", sub->id, "delivery_id", msg_id), "parked: %s", p->why);
    if (enqueue_retry(w, ev, sub->id, sub->url, msg_id, attempt, due, hd_retry_tier_for_wait(w->retry, due - now),
                      parked || p->breaker)) {
        a.outcome = HD_OUTCOME_PERMANENT;
        a.error = "not attempted: too large to park in a retry tier (dead-lettered)";
        record_attempt(w, ev, &a);
    }
}

/* The rendered shape of sub's payload for ev, rendered on first use; a failure is kept too, so every subscriber
 * of that shape fails alike. */
static const shape_t *shape_for(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub) {
    int version = sub->extra->tmpl ? 0 : sub->version;
    for (int i = 0; i < ev->shapes_cnt; i++)
        if (ev->shapes[i].tmpl == sub->extra->tmpl && ev->shapes[i].version == version) return &ev->shapes[i];
    char err[256];
    ev->shapes = hd_xrealloc(ev->shapes, sizeof(*ev->shapes) * (size_t)(ev->shapes_cnt + 1));
    shape_t *s = &ev->shapes[ev->shapes_cnt++];
    s->tmpl = sub->extra->tmpl;
    s->version = version;
    s->body = hd_render_payload(ev->event, sub->version, sub->extra->tmpl, (size_t)w->conf->render_max_bytes, err,
                                sizeof(err));
    s->error = s->body ? NULL : hd_xstrdup(err);
    return s;
}

static void start_delivery(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub, int attempt, int parked,
                           const char *msg_id) {
    int64_t now = hd_now_ms();
    job_t *job = hd_xcalloc(1, sizeof(*job));
    hd_admit_park_t p;
    hd_admit_verdict_t v =
        hd_admit_request(w->admit, &job->slot, sub->url, sub->origin, (size_t)sub->origin_len, now, &p);
    if (v == HD_ADMIT_PARK) {
        free(job);
        park(w, ev, sub, msg_id, attempt, parked, &p);
        return;
    }
    const shape_t *shape = shape_for(w, ev, sub);
    if (!shape->body) { /* nothing can be sent: a permanent failure, recorded and dead-lettered like any other */
        hd_admit_cancel(w->admit, &job->slot);
        free(job);
        attempt_t a = {.sub_id = sub->id,
                       .url = sub->url,
                       .msg_id = msg_id,
                       .attempt = attempt,
                       .attempted_at_ms = now,
                       .outcome = HD_OUTCOME_PERMANENT,
                       .error = shape->error,
                       .final = 1};
        record_attempt(w, ev, &a);
        deadletter_delivery(w, ev, sub->id, sub->url, msg_id, attempt, "permanent", shape->error);
        return;
    }
    job->ev = ev;
    job->sub = sub;
    job->attempt = attempt;
    job->parked = parked;
    snprintf(job->msg_id, sizeof(job->msg_id), "%s", msg_id);
    job->body = shape->body;
    LIST_ADD(w->jobs, job);
    hd_metrics_delivery_inflight(1);
    ev_ref_work(ev);
    w->stats.deliveries++;
    if (v == HD_ADMIT_GO) submit_job(w, job);
}

/* Deliveries leaving their host's queue: attempted now, or parked (waited too long, breaker opened). */
static void start_ready(hd_dispatch_t *w) {
    hd_admit_verdict_t v;
    hd_admit_park_t p;
    hd_admit_slot_t *slot;
    while ((slot = hd_admit_next(w->admit, hd_now_ms(), &v, &p))) {
        job_t *job = JOB_OF_SLOT(slot);
        ev_t *ev = job->ev;
        if (v == HD_ADMIT_GO && !revoked(ev)) {
            submit_job(w, job);
            continue;
        }
        if (v == HD_ADMIT_GO) { /* see revoked() */
            hd_admit_cancel(w->admit, slot);
            w->stats.dropped_revoked++;
        } else {
            park(w, ev, job->sub, job->msg_id, job->attempt, job->parked, &p);
        }
        job_free(w, job);
        ev_work_done(w, ev);
    }
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
    ev->pending++;
    hd_record_deadletter(w->record, msg, reason, error, ev); /* pending until acknowledged (send_record) */
}

/* Stable per (event, subscription) so that retries and replays keep it; a replay asked for new ids salts it. */
static void delivery_id(const hd_dispatch_t *w, const ev_t *ev, const hd_sub_t *sub, char out[HD_SIGN_ID_SIZE]) {
    if (!w->replay || !w->replay->salt) {
        hd_sign_message_id(ev->event->id, sub->id, out);
        return;
    }
    char salted[512];
    snprintf(salted, sizeof(salted), "%s/%s", sub->id, w->replay->salt);
    hd_sign_message_id(ev->event->id, salted, out);
}

/* The longest an event waits for the store to show the subscription it names. */
#define TARGET_WAIT_MS 2000

/* An event naming its subscription (a test event, a re-send through the API) goes to that one alone, whatever its
 * event types, statuses and filter; one still missing or inactive gets a final failed outcome rather than none. */
static void deliver_target(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const char *id) {
    const hd_sub_t *sub = hd_match_get(snap, id);
    char msg_id[HD_SIGN_ID_SIZE];
    if (sub && !strcmp(sub->tenant, ev->event->tenant) && sub->is_active && !atomic_load(&sub->disabled)) {
        ev->snap = hd_match_retain(snap);
        delivery_id(w, ev, sub, msg_id);
        start_delivery(w, ev, sub, 1, 0, msg_id);
    } else {
        hd_sign_message_id(ev->event->id, id, msg_id);
        attempt_t a = {.sub_id = id,
                       .url = sub ? sub->url : "",
                       .msg_id = msg_id,
                       .attempt = 1,
                       .attempted_at_ms = hd_now_ms(),
                       .outcome = HD_OUTCOME_PERMANENT,
                       .error = sub ? "the subscription is not active" : "no such subscription (deleted?)",
                       .final = 1};
        record_attempt(w, ev, &a);
    }
}

/* The API wrote the subscription before producing the event, so a snapshot that lacks it is older than the write
 * (rarely: right after a create). The event waits, without holding up the loop, until a look at the store that
 * started after it was produced has finished, or TARGET_WAIT_MS (the store may be away). */
static void await_target(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const char *id, int64_t produced_ms) {
    if (hd_match_get(snap, id) || hd_cache_seen(w->cache, produced_ms)) {
        deliver_target(w, snap, ev, id);
        return;
    }
    ev->target = hd_xstrdup(id);
    ev->produced_ms = produced_ms;
    ev->due_ms = hd_now_ms() + TARGET_WAIT_MS;
    ev_ref_work(ev);
    ev->held_next = NULL;
    *w->awaiting_tail = ev;
    w->awaiting_tail = &ev->held_next;
}

/* How often a worker with events awaiting a look checks whether it has come. */
#define AWAIT_POLL_MS 20

/* Events whose look has come, or whose wait is over, in the order they came. */
static void release_awaiting(hd_dispatch_t *w, int64_t now) {
    while (w->awaiting && (hd_cache_seen(w->cache, w->awaiting->produced_ms) || w->awaiting->due_ms <= now)) {
        ev_t *ev = w->awaiting;
        if (!(w->awaiting = ev->held_next)) w->awaiting_tail = &w->awaiting;
        hd_match_t *snap = hd_cache_get(w->cache);
        if (revoked(ev))
            w->stats.dropped_revoked++;
        else
            deliver_target(w, snap, ev, ev->target);
        hd_match_release(snap);
        ev_work_done(w, ev);
    }
}

static void handle_source(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const rd_kafka_message_t *msg) {
    char errstr[512];
    hd_decode_err_t derr;
    ev->topic = hd_xstrdup(ev->msg_topic);
    ev->partition = msg->partition;
    ev->offset = msg->offset;
    hd_decode_header_t hdrs[HD_DISPATCH_MAX_HEADERS];
    size_t hdr_cnt = 0;
    rd_kafka_headers_t *kh;
    if (rd_kafka_message_headers(msg, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR)
        for (; hdr_cnt < HD_DISPATCH_MAX_HEADERS; hdr_cnt++)
            if (rd_kafka_header_get_all(kh, hdr_cnt, &hdrs[hdr_cnt].name, &hdrs[hdr_cnt].value, &hdrs[hdr_cnt].len))
                break;
    ev->event = hd_decode_event(msg->payload, msg->len, hdrs, hdr_cnt, &w->decode_opts,
                                rd_kafka_message_timestamp(msg, NULL), &derr, errstr, sizeof(errstr));
    if (!ev->event) {
        deadletter_message(w, ev, msg, hd_decode_reason(derr), errstr);
        return;
    }
    /* A test event or a retry from the API names the one subscription it is for. */
    const void *target = NULL;
    size_t target_len = 0;
    for (size_t i = 0; i < hdr_cnt; i++)
        if (!strcmp(hdrs[i].name, "hookd-subscription")) {
            target = hdrs[i].value;
            target_len = hdrs[i].len;
        }
    if (target && !w->replay) {
        char id[256];
        snprintf(id, sizeof(id), "%.*s", (int)target_len, (const char *)target);
        int64_t produced_ms = rd_kafka_message_timestamp(msg, NULL);
        await_target(w, snap, ev, id, produced_ms > 0 ? produced_ms : hd_now_ms());
        return;
    }

    const hd_sub_t *small[64], **subs = small;
    int n = hd_match_find(snap, ev->event, small, 64);
    if (n > 64) {
        subs = hd_xmalloc(sizeof(*subs) * (size_t)n);
        hd_match_find(snap, ev->event, subs, n);
    }
    if (n > 0) hd_metrics_event_matched();
    if (n > 0 && w->replay) {
        int kept = 0;
        char id[HD_SIGN_ID_SIZE];
        hd_consume_range_t at = {ev->topic, ev->partition, ev->offset, ev->offset + 1};
        for (int i = 0; i < n; i++) {
            delivery_id(w, ev, subs[i], id);
            if (w->replay->select(w->replay->opaque, ev->event, &at, subs[i], id)) subs[kept++] = subs[i];
        }
        n = kept;
    }
    if (n > 0) {
        ev->snap = hd_match_retain(snap); /* the subscriptions must outlive a refresh while in flight */
        for (int i = 0; i < n; i++) {
            if (target && (strlen(subs[i]->id) != target_len || memcmp(subs[i]->id, target, target_len))) continue;
            char msg_id[HD_SIGN_ID_SIZE];
            delivery_id(w, ev, subs[i], msg_id);
            start_delivery(w, ev, subs[i], 1, 0, msg_id);
        }
    }
    HD_LOG(HD_LOG_DEBUG, "match", HD_KV("event_id", ev->event->id), "event %s for tenant %s: %d subscriptions",
           ev->event->type, ev->event->tenant, n);
    if (subs != small) free(subs);
}

/* A due retry job: attempt it again against the subscription as it is now. */
static void run_retry(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev) {
    hd_retry_job_t *job = ev->job;
    const hd_sub_t *sub = hd_match_get(snap, job->subscription_id);
    if (!sub || !sub->is_active || atomic_load(&sub->disabled)) {
        attempt_t a = {.sub_id = job->subscription_id,
                       .url = job->url,
                       .msg_id = job->delivery_id,
                       .attempt = job->attempt,
                       .attempted_at_ms = hd_now_ms(),
                       .outcome = HD_OUTCOME_PERMANENT,
                       .error = sub ? "the subscription was disabled before the retry"
                                    : "the subscription was deleted before the retry",
                       .final = 1,
                       .cancelled = 1};
        record_attempt(w, ev, &a);
        return;
    }
    ev->snap = hd_match_retain(snap);
    start_delivery(w, ev, sub, job->attempt, job->parked, job->delivery_id);
}

static size_t partition_key(char *buf, size_t size, const char *topic, int32_t partition) {
    return (size_t)snprintf(buf, size, "%s%c%d", topic, 0, (int)partition);
}

/* Holds a job until it is due; its partition is paused meanwhile so the consumer does not fetch the backlog. */
static void hold(hd_dispatch_t *w, ev_t *ev) {
    ev_t **pp = &w->held;
    while (*pp && (*pp)->due_ms <= ev->due_ms)
        pp = &(*pp)->held_next;
    ev->held_next = *pp;
    *pp = ev;
    char key[512];
    intptr_t *count =
        (intptr_t *)hd_map_slot(w->paused, key, partition_key(key, sizeof(key), ev->msg_topic, ev->msg_partition));
    if ((*count)++ == 0) hd_consume_pause(ev->consume, ev->msg_topic, ev->msg_partition, 1);
}

static ev_t *unhold(hd_dispatch_t *w) {
    ev_t *ev = w->held;
    w->held = ev->held_next;
    char key[512];
    intptr_t *count =
        (intptr_t *)hd_map_slot(w->paused, key, partition_key(key, sizeof(key), ev->msg_topic, ev->msg_partition));
    if (--(*count) == 0) hd_consume_pause(ev->consume, ev->msg_topic, ev->msg_partition, 0);
    return ev;
}

static void handle_retry(hd_dispatch_t *w, hd_match_t *snap, ev_t *ev, const rd_kafka_message_t *msg, int tier) {
    char errstr[512];
    hd_decode_err_t derr;
    if (!(ev->job = hd_retry_job_decode(msg->payload, msg->len, errstr, sizeof(errstr)))) {
        deadletter_message(w, ev, msg, "bad-retry-job", errstr);
        return;
    }
    ev->topic = hd_xstrdup(ev->job->src_topic);
    ev->partition = ev->job->src_partition;
    ev->offset = ev->job->src_offset;
    if (!(ev->event =
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
        send_job(w, ev, w->retry->topic[fit], ev->job, NULL);
        return;
    }
    if (wait > 0) {
        ev->due_ms = ev->job->due_ms;
        ev_ref_work(ev);
        hold(w, ev);
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
    ev->entry = hd_consume_track(from, msg);
    ev->msg_topic = hd_xstrdup(rd_kafka_topic_name(msg->rkt));
    ev->msg_partition = msg->partition;
    ev_ref_work(ev);
    LIST_ADD(w->evs, ev);
    int tier = hd_retry_tier_of_topic(w->retry, ev->msg_topic);
    if (tier < 0)
        handle_source(w, snap, ev, msg);
    else
        handle_retry(w, snap, ev, msg, tier);
    ev_work_done(w, ev);
}

static hd_dispatch_t *dispatch_new(const hd_conf_t *conf, hd_cache_t *cache, hd_health_t *health, int worker,
                                   const hd_dispatch_replay_t *replay, char *errstr, size_t errstr_size) {
    hd_dispatch_t *w = hd_xcalloc(1, sizeof(*w));
    w->conf = conf;
    w->replay = replay;
    w->cache = cache;
    w->health = health;
    w->awaiting_tail = &w->awaiting;
    w->decode_opts = (hd_decode_opts_t){.max_bytes = (size_t)conf->event_max_bytes,
                                        .tenant_attribute = conf->event_tenant_attribute,
                                        .tenant_header = conf->event_tenant_header,
                                        .status_field = conf->match_status_field};
    w->wake[0] = w->wake[1] = -1;
    w->admit = hd_admit_new(&(hd_admit_conf_t){.max_per_host = conf->http_max_inflight_per_host,
                                               .breaker_failures = conf->breaker_failures,
                                               .breaker_open_ms = conf->breaker_open_ms,
                                               .queue_max_ms = conf->http_queue_max_ms,
                                               .probe_ms = conf->http_timeout_ms,
                                               .idle_ms = conf->http_endpoint_idle_ms});
    w->paused = hd_map_new(16);
    if (pipe2(w->wake, O_NONBLOCK | O_CLOEXEC)) {
        snprintf(errstr, errstr_size, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (!(w->retry = hd_retry_new(conf, errstr, errstr_size))) goto fail;
    if (!(w->deliver = hd_deliver_new(conf, on_delivered, w, errstr, errstr_size))) goto fail;
    if (!(w->record = hd_record_new(conf, w->wake[1], on_record_ack, w, errstr, errstr_size))) goto fail;
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
    const char *topics[HD_RETRY_MAX_TIERS + 3];
    int n = 0;
    for (int i = 0; i < w->retry->cnt; i++)
        topics[n++] = w->retry->topic[i];
    topics[n++] = conf->deadletter_topic;
    /* The largest records are retry jobs (an event of event.max.bytes in a job) and dead letters. */
    if (hd_record_check_limits(w->record, (size_t)conf->event_max_bytes + HD_RETRY_JOB_OVERHEAD, topics, n, errstr,
                               errstr_size))
        goto fail;
    topics[n++] = conf->results_topic;
    topics[n++] = conf->ops_topic;
    hd_record_create_topics(w->record, topics, n);
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

/* Until Kafka acknowledged a first record, the idempotent producer may still be waiting for its producer id: when
 * hd_record_new's priming finds no broker up, librdkafka asks again only after 500 ms, and a backlog consumed
 * meanwhile left 4,600-8,600 records waiting in memory (docs/benchmarks.md). Intake stops at a small budget until
 * then. */
#define FIRST_ACK_BUDGET_KBYTES 256

static int records_have_room(const hd_dispatch_t *w) {
    int64_t limit = hd_record_acked(w->record) ? w->conf->results_max_outstanding_kbytes : FIRST_ACK_BUDGET_KBYTES;
    return hd_record_outstanding_bytes(w->record) < (size_t)limit * 1024;
}

/* One turn of the loop: release due retries, take events while there is room, serve Kafka's reports, wait for
 * the network (at most until the next held job is due). */
static int turn(hd_dispatch_t *w, int consuming, int max_wait_ms) {
    hd_match_t *snap = NULL;
    int64_t now = hd_now_ms();
    start_ready(w);
    /* Before the queues are read: a wake-up written while they are being read then stays in the pipe. Drained
     * after, it was lost, and the queue, no longer empty, never signalled again until the timer below. */
    drain_wake(w);
    while (consuming && w->held && w->held->due_ms <= now) {
        if (!snap) snap = hd_cache_get(w->cache);
        ev_t *ev = unhold(w);
        if (revoked(ev))
            w->stats.dropped_revoked++;
        else
            run_retry(w, snap, ev);
        ev_work_done(w, ev); /* the hold's reference */
    }
    if (w->held && w->held->due_ms - now < max_wait_ms) max_wait_ms = (int)(w->held->due_ms - now);
    release_awaiting(w, now);
    if (w->awaiting && max_wait_ms > AWAIT_POLL_MS) max_wait_ms = AWAIT_POLL_MS; /* no signal comes with a look */
    /* The retry tiers first: a retry is older work than any new event. */
    hd_consume_t *const from[] = {w->retry_consume, w->consume};
    for (size_t f = 0; f < sizeof(from) / sizeof(from[0]); f++) {
        if (!from[f]) continue;
        if (!consuming) {
            hd_consume_serve(from[f]);
            continue;
        }
        int64_t room =
            w->conf->http_max_inflight - (int64_t)hd_deliver_inflight(w->deliver) - (int64_t)hd_admit_waiting(w->admit);
        /* Messages done but waiting for an earlier one of their partition hold a little memory each: bounded. */
        if (!records_have_room(w) || hd_consume_pending(from[f]) >= (size_t)w->conf->consume_max_pending) room = 0;
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
    if (hd_deliver_run(w->deliver, &wfd, 1, max_wait_ms < 0 ? 0 : max_wait_ms) < 0) {
        HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "curl multi failed");
        return -1;
    }
    return 0;
}

/* Gives up everything still in flight or held: their offsets are never stored, so they are re-delivered by the
 * partition's next owner (after a restart, by this process again). */
static int abandon(hd_dispatch_t *w) {
    int n = 0;
    while (w->jobs) {
        job_t *job = w->jobs;
        ev_t *ev = job->ev;
        hd_deliver_cancel(w->deliver, &job->req);
        hd_admit_cancel(w->admit, &job->slot);
        ev->abandoned = 1;
        job_free(w, job);
        ev_work_done(w, ev);
        n++;
    }
    while (w->held) {
        ev_t *ev = w->held;
        w->held = ev->held_next;
        ev->abandoned = 1;
        ev_work_done(w, ev);
        n++;
    }
    while (w->awaiting) {
        ev_t *ev = w->awaiting;
        w->awaiting = ev->held_next;
        ev->abandoned = 1;
        ev_work_done(w, ev);
        n++;
    }
    w->awaiting_tail = &w->awaiting;
    return n;
}

/* A stopping worker parks deliveries instead of abandoning them: waiting ones (inflight 0) at once, those still in
 * flight (inflight 1) when the grace period ends, whose receiver may already have them and gets them again from the
 * retry tier, as after a crash. Their events' offsets then advance, so a restart re-delivers nothing else of them,
 * however long a hanging receiver made them wait. Deliveries of a revoked partition are the new owner's. */
static int park_all(hd_dispatch_t *w, int inflight) {
    static const hd_admit_park_t stopping = {.why = "the worker is stopping"};
    int n = 0;
    hd_admit_slot_t *slot;
    for (job_t *job = w->jobs, *next; inflight && job; job = next) {
        next = job->next;
        hd_deliver_cancel(w->deliver, &job->req);
        hd_admit_cancel(w->admit, &job->slot);
    }
    while (!inflight && (slot = hd_admit_take_waiting(w->admit))) {
        job_t *job = JOB_OF_SLOT(slot);
        ev_t *ev = job->ev;
        if (!revoked(ev)) park(w, ev, job->sub, job->msg_id, job->attempt, job->parked, &stopping);
        job_free(w, job);
        ev_work_done(w, ev);
        n++;
    }
    while (inflight && w->jobs) {
        job_t *job = w->jobs;
        ev_t *ev = job->ev;
        if (!revoked(ev)) park(w, ev, job->sub, job->msg_id, job->attempt, job->parked, &stopping);
        job_free(w, job);
        ev_work_done(w, ev);
        n++;
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
        if (w->replay->progress) w->replay->progress(w->replay->opaque, &w->stats);
        if (!w->evs && hd_consume_finished(w->consume)) break;
    }

    /* Drain, within shutdown.grace.ms in all: no new events; in-flight deliveries get the grace period less a
     * reserve for the outcome records and leaving the group, which a broker that is away would otherwise hold for a
     * minute each. A replay abandons instead of parking: running it again is how it is resumed. */
    int64_t grace = w->conf->shutdown_grace_ms * 1000, start = hd_mono_us();
    int64_t reserve = grace / 3 < 3000000 ? grace / 3 : 3000000;
    HD_LOG(HD_LOG_INFO, "dispatch", NULL, "stopping: %zu deliveries in flight", hd_deliver_inflight(w->deliver));
    int parked = w->replay ? 0 : park_all(w, 0);
    while (w->jobs && hd_mono_us() < start + grace - reserve)
        if (turn(w, 0, 50)) break;
    if (!w->replay) parked += park_all(w, 1);
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
    if (w->deliver) abandon(w);
    /* Whatever is still live waits only for acks: late acks during the producer's final flush must not touch the
     * consumer, which may already be gone. */
    for (ev_t *ev = w->evs; ev; ev = ev->next)
        ev->abandoned = 1;
    hd_record_destroy(w->record, 0);
    hd_consume_destroy(w->consume);
    hd_consume_destroy(w->retry_consume);
    while (w->evs) {
        w->evs->pending = 1;
        ev_unref(w, w->evs);
    }
    hd_deliver_destroy(w->deliver);
    hd_retry_destroy(w->retry);
    hd_admit_destroy(w->admit);
    hd_map_destroy(w->paused, NULL);
    if (w->wake[0] >= 0) close(w->wake[0]);
    if (w->wake[1] >= 0) close(w->wake[1]);
    free(w);
}

void hd_dispatch_stats(const hd_dispatch_t *w, hd_dispatch_stats_t *out) {
    *out = w->stats;
}
