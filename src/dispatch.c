#define _GNU_SOURCE /* pipe2 */
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
#include "hookd/map.h"
#include "hookd/metrics.h"
#include "hookd/outcome.h"
#include "hookd/record.h"
#include "hookd/render.h"
#include "hookd/retry.h"
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
    hd_event_t *event;   /* NULL for a dead-lettered message, and once the work is done */
    hd_retry_job_t *job; /* set for a message from a retry tier */
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
    struct ev_s *held_next;   /* retry jobs waiting to be due, soonest first */
} ev_t;

/* Health of one URL as this worker sees it: consecutive failures for the circuit breaker (auto-disable's clock
 * is the subscription's, shared by every worker: hd_match_cache_attempted). In-flight deliveries are counted per
 * host (origin), the unit of curl's connection limit: a hanging host then holds at most
 * http.max.inflight.per.host slots, whatever its paths. */
typedef struct host_s {
    int inflight, queued;
    /* Slots it may use now, within 1..http.max.inflight.per.host: halved by each attempt the transport gave up on
     * (a timeout, a reset), one more per success. A hanging host then holds one slot instead of them all, and
     * each slot it holds is a transfer every turn of curl's multi loop visits. */
    int cap;
    int endpoints;        /* endpoint_t entries pointing here: a host is forgotten only after all of them */
    int failures;         /* consecutive retryable failures of any of its URLs */
    int64_t last_done_ms; /* last completed attempt, or when the host last went from idle to busy */
    struct job_s *head, *tail; /* deliveries waiting for one of the host's slots */
} host_t;

typedef struct endpoint_s {
    int failures, probing;
    int jobs; /* job_t entries pointing here, queued or in flight */
    int64_t open_until_ms;
    int64_t used_ms;
    host_t *host;
} endpoint_t;

typedef struct job_s {
    hd_deliver_req_t req; /* first: the deliver callback hands req back */
    ev_t *ev;
    const hd_sub_t *sub;
    const hd_render_body_t *body; /* one of ev's shapes */
    endpoint_t *ep;
    char msg_id[HD_SIGN_ID_SIZE];
    struct curl_slist *headers; /* req.headers, owned */
    int attempt;
    int probe;
    int64_t attempted_at_ms;
    struct job_s *prev, *next; /* all jobs */
    struct job_s *queued_next; /* the host's wait queue */
} job_t;

struct hd_dispatch_s {
    const hd_conf_t *conf;
    hd_match_cache_t *cache;
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
    hd_map_t *endpoints; /* url -> endpoint_t */
    hd_map_t *hosts;     /* origin -> host_t */
    int64_t pruned_ms;   /* endpoints and hosts last pruned */
    int64_t queued;      /* jobs waiting in host queues: they count against http.max.inflight too */
    hd_map_t *paused;    /* "topic\0partition" -> held jobs of that partition (as a count in the pointer) */
    hd_dispatch_stats_t stats;
    const hd_dispatch_replay_t *replay; /* NULL: the group dispatcher */
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
    if (a->outcome == HD_OUTCOME_SUCCESS) w->stats.succeeded++;
    else w->stats.failed++;
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

/* Puts a delivery into a retry tier: attempt is the attempt the job will make when it is due. -1 when it went to
 * the dead-letter topic instead (see send_job). */
static int enqueue_retry(hd_dispatch_t *w, ev_t *ev, const char *sub_id, const char *url, const char *msg_id,
                         int attempt, int64_t due_ms, int tier) {
    json_object *envelope = hd_decode_to_envelope(ev->event, &w->decode_opts);
    hd_retry_job_t job = job_of(ev, sub_id, url, msg_id, attempt, due_ms, envelope);
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
    if (!hd_match_cache_disable(w->cache, sub, reason)) return;
    HD_LOG(HD_LOG_WARN, "dispatch", HD_KV("subscription_id", sub->id), "disabling subscription: %s", reason);
    char at[40];
    hd_iso8601(hd_now_ms(), at, sizeof(at));
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

static endpoint_t *endpoint_get(hd_dispatch_t *w, const hd_sub_t *sub, int64_t now) {
    endpoint_t **slot = (endpoint_t **)hd_map_slot(w->endpoints, sub->url, strlen(sub->url));
    if (!*slot) {
        *slot = hd_xcalloc(1, sizeof(endpoint_t));
        host_t **host = (host_t **)hd_map_slot(w->hosts, sub->origin, (size_t)sub->origin_len);
        if (!*host) {
            *host = hd_xcalloc(1, sizeof(host_t));
            (*host)->cap = (int)w->conf->http_max_inflight_per_host;
        }
        (*slot)->host = *host;
        (*host)->endpoints++;
    }
    (*slot)->used_ms = now;
    return *slot;
}

/* Forgets endpoints and hosts that carry nothing worth remembering (no jobs, no failures, no open breaker) and
 * have been idle for http.endpoint.idle.ms: without it the maps keep every URL ever delivered to, about 13 MB per
 * worker once deliveries have reached 100,000 subscriptions. The maps are rebuilt, since hd_map has no delete. */
typedef struct {
    hd_map_t *keep;
    int64_t now, idle_ms;
    size_t forgotten;
} prune_t;

static void prune_endpoint(const void *key, size_t len, void *value, void *opaque) {
    prune_t *p = opaque;
    endpoint_t *ep = value;
    if (ep->jobs || ep->failures || ep->probing || ep->open_until_ms > p->now || p->now - ep->used_ms < p->idle_ms) {
        *hd_map_slot(p->keep, key, len) = ep;
        return;
    }
    ep->host->endpoints--;
    free(ep);
    p->forgotten++;
}

static void prune_host(const void *key, size_t len, void *value, void *opaque) {
    prune_t *p = opaque;
    host_t *h = value;
    if (h->endpoints || h->inflight || h->queued || h->failures) *hd_map_slot(p->keep, key, len) = h;
    else free(h);
}

static void prune(hd_dispatch_t *w, int64_t now) {
    prune_t p = {.keep = hd_map_new(hd_map_count(w->endpoints) / 2 + 16), .now = now,
                 .idle_ms = w->conf->http_endpoint_idle_ms};
    hd_map_foreach(w->endpoints, prune_endpoint, &p);
    hd_map_destroy(w->endpoints, NULL);
    w->endpoints = p.keep;
    p.keep = hd_map_new(hd_map_count(w->hosts) / 2 + 16);
    hd_map_foreach(w->hosts, prune_host, &p);
    hd_map_destroy(w->hosts, NULL);
    w->hosts = p.keep;
    w->pruned_ms = now;
    if (p.forgotten)
        HD_LOG(HD_LOG_DEBUG, "dispatch", NULL, "forgot %zu idle endpoints; %zu tracked", p.forgotten,
               hd_map_count(w->endpoints));
}

static void job_free(hd_dispatch_t *w, job_t *job) {
    LIST_DEL(w->jobs, job);
    job->ep->jobs--;
    hd_metrics_delivery_inflight(-1);
    hd_deliver_req_clear(&job->req);
    free(job->headers);
    free(job);
}

/* Updates the endpoint's breaker with an attempt's outcome. Only retryable failures count: a 4xx means the
 * receiver is up, and a refused address says nothing about its health. */
static void endpoint_account(hd_dispatch_t *w, job_t *job, hd_outcome_t outcome, int64_t now) {
    endpoint_t *ep = job->ep;
    host_t *host = ep->host;
    host->inflight--;
    host->last_done_ms = now;
    if (outcome == HD_OUTCOME_SUCCESS) {
        host->failures = 0;
        if (host->cap < w->conf->http_max_inflight_per_host) host->cap++;
    } else if (outcome == HD_OUTCOME_RETRYABLE || outcome == HD_OUTCOME_GONE) {
        host->failures++;
        if (job->req.curl_code && host->cap > 1) host->cap /= 2;
    }
    if (job->probe) ep->probing = 0;
    if (outcome == HD_OUTCOME_SUCCESS) {
        if (ep->failures >= w->conf->breaker_failures)
            HD_LOG(HD_LOG_INFO, "deliver", NULL, "circuit to %s closed again", job->sub->url);
        ep->failures = 0;
        ep->open_until_ms = 0;
    } else if (outcome == HD_OUTCOME_RETRYABLE || outcome == HD_OUTCOME_GONE) {
        if (++ep->failures >= w->conf->breaker_failures) {
            if (ep->open_until_ms <= now)
                HD_LOG(HD_LOG_WARN, "deliver", NULL, "circuit to %s open after %d consecutive failures", job->sub->url,
                       ep->failures);
            ep->open_until_ms = now + w->conf->breaker_open_ms;
        }
    }
}

static void on_delivered(hd_deliver_req_t *req, void *opaque);

/* The request's header list as one allocation, nodes then lines (curl only reads it): curl_slist_append would
 * make two per header, a dozen per delivery. A NULL value writes "name:", which tells curl to leave it out. */
typedef struct header_s {
    const char *name, *value;
} header_t;

static struct curl_slist *header_list(const header_t *h, int cnt) {
    size_t text = 0;
    for (int i = 0; i < cnt; i++) text += strlen(h[i].name) + (h[i].value ? strlen(h[i].value) + 2 : 0) + 2;
    struct curl_slist *nodes = hd_xmalloc(sizeof(*nodes) * (size_t)cnt + text);
    char *p = (char *)(nodes + cnt);
    for (int i = 0; i < cnt; i++) {
        nodes[i].data = p;
        nodes[i].next = i + 1 < cnt ? &nodes[i + 1] : NULL;
        p += (h[i].value ? sprintf(p, "%s: %s", h[i].name, h[i].value) : sprintf(p, "%s:", h[i].name)) + 1;
    }
    return nodes;
}

/* Signs (with a fresh timestamp) and sends a delivery. */
static void submit_job(hd_dispatch_t *w, job_t *job) {
    const hd_sub_t *sub = job->sub;
    int64_t now = hd_now_ms();
    char ts[24], sig[HD_SIGN_HEADER_SIZE];
    job->attempted_at_ms = now;
    snprintf(ts, sizeof(ts), "%" PRId64, now / 1000);
    hd_sign_header(&sub->keys, now, job->msg_id, now / 1000, job->body->data, job->body->len, sig);
    const hd_sub_extra_t *x = sub->extra;
    header_t h[x->headers_cnt + 5];
    int n = 0;
    for (int i = 0; i < x->headers_cnt; i++) h[n++] = (header_t){x->headers[i].name, x->headers[i].value};
    h[n++] = (header_t){"content-type", job->body->content_type};
    h[n++] = (header_t){"webhook-id", job->msg_id};
    h[n++] = (header_t){"webhook-timestamp", ts};
    h[n++] = (header_t){"webhook-signature", sig};
    h[n++] = (header_t){"Expect", NULL}; /* no 100-continue round trip for larger bodies */
    job->req.headers = job->headers = header_list(h, n);
    job->req.url = sub->url;
    job->req.body = job->body->data;
    job->req.body_len = job->body->len;
    /* An idle host has not been slow: its time without completions starts now. */
    if (job->ep->host->inflight++ == 0) job->ep->host->last_done_ms = hd_now_ms();
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

static void start_queued(hd_dispatch_t *w, host_t *host) {
    while (host->head && host->inflight < host->cap) {
        job_t *job = host->head;
        host->head = job->queued_next;
        if (!host->head) host->tail = NULL;
        host->queued--;
        w->queued--;
        if (revoked(job->ev)) {
            ev_t *ev = job->ev;
            w->stats.dropped_revoked++;
            job_free(w, job);
            ev_work_done(w, ev);
            continue;
        }
        submit_job(w, job);
    }
}

static void on_delivered(hd_deliver_req_t *req, void *opaque) {
    hd_dispatch_t *w = opaque;
    job_t *job = (job_t *)req;
    ev_t *ev = job->ev;
    const hd_sub_t *sub = job->sub;
    int64_t now = hd_now_ms();
    hd_outcome_t outcome = req->refused[0] ? HD_OUTCOME_PERMANENT
                                           : hd_outcome_classify(req->status, req->curl_code, sub->extra->success_code);
    endpoint_account(w, job, outcome, now);
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
        if (job->attempt > sub->max_retry_count) {
            dead = "exhausted";
        } else {
            int tier = hd_retry_plan(w->retry, job->attempt, req->retry_after_s, now, &a.next_retry_at_ms);
            a.final = 0;
            w->stats.retries++;
            hd_metrics_retry(tier);
            if (enqueue_retry(w, ev, sub->id, sub->url, job->msg_id, job->attempt + 1, a.next_retry_at_ms, tier)) {
                a.final = 1; /* dead-lettered: too large to retry */
                a.next_retry_at_ms = 0;
            }
        }
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
                                : hd_match_cache_attempted(w->cache, sub, outcome != HD_OUTCOME_SUCCESS, now);
    if (outcome == HD_OUTCOME_RETRYABLE && w->conf->disable_after_ms && failing_since &&
        now - failing_since >= w->conf->disable_after_ms) {
        char why[128];
        snprintf(why, sizeof(why), "the endpoint has failed continuously for %" PRId64 " s",
                 (now - failing_since) / 1000);
        disable_sub(w, ev, sub, why);
    }
    host_t *host = job->ep->host;
    job_free(w, job);
    ev_work_done(w, ev);
    start_queued(w, host);
}

/* Parks a delivery without attempting it (open breaker, endpoint at its in-flight cap): it waits in a retry tier
 * instead of hammering the receiver or taking slots from healthy endpoints, and keeps its attempt number. */
static void park(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub, const char *msg_id, int attempt, int64_t due_ms,
                 const char *why) {
    w->stats.parked++;
    HD_LOG(HD_LOG_DEBUG, "deliver", HD_KV("subscription_id", sub->id, "delivery_id", msg_id), "parked: %s", why);
    if (enqueue_retry(w, ev, sub->id, sub->url, msg_id, attempt, due_ms,
                      hd_retry_tier_for_wait(w->retry, due_ms - hd_now_ms()))) {
        attempt_t a = {.sub_id = sub->id,
                       .url = sub->url,
                       .msg_id = msg_id,
                       .attempt = attempt,
                       .attempted_at_ms = hd_now_ms(),
                       .outcome = HD_OUTCOME_PERMANENT,
                       .error = "not attempted: too large to park in a retry tier (dead-lettered)",
                       .final = 1};
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

static void start_delivery(hd_dispatch_t *w, ev_t *ev, const hd_sub_t *sub, int attempt, const char *msg_id) {
    int64_t now = hd_now_ms();
    endpoint_t *ep = endpoint_get(w, sub, now);
    host_t *host = ep->host;
    int probe = 0, cap = host->cap;
    if (ep->open_until_ms > now) {
        park(w, ev, sub, msg_id, attempt, ep->open_until_ms, "circuit open");
        return;
    }
    if (ep->failures >= w->conf->breaker_failures) { /* half-open: one probe at a time */
        if (ep->probing) {
            park(w, ev, sub, msg_id, attempt, now + w->retry->delay_ms[0], "circuit half-open, probe in flight");
            return;
        }
        probe = 1;
    }
    /* A host at its cap queues deliveries in memory (within http.max.inflight) while it keeps answering. One that
     * is failing, or has finished nothing for 200 ms while busy (an idle host's burst is queued, not parked:
     * parking writes a second copy of the delivery to Kafka and delays it by the first tier), queues only a few
     * rounds: the rest is parked, so a hanging host cannot take the global budget that healthy hosts need. */
    if (host->inflight >= cap && host->queued >= 4 * cap && (host->failures || now - host->last_done_ms > 200)) {
        park(w, ev, sub, msg_id, attempt, now + w->retry->delay_ms[0], "host at its in-flight cap");
        return;
    }

    const shape_t *shape = shape_for(w, ev, sub);
    const hd_render_body_t *body = shape->body;
    if (!body) { /* nothing can be sent: a permanent failure, recorded and dead-lettered like any other */
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
    job_t *job = hd_xcalloc(1, sizeof(*job));
    job->ev = ev;
    job->sub = sub;
    job->ep = ep;
    ep->jobs++;
    job->attempt = attempt;
    job->probe = probe;
    snprintf(job->msg_id, sizeof(job->msg_id), "%s", msg_id);
    job->body = body;
    LIST_ADD(w->jobs, job);
    hd_metrics_delivery_inflight(1);
    ev_ref_work(ev);
    if (probe) ep->probing = 1;
    w->stats.deliveries++;
    if (host->inflight < cap) {
        submit_job(w, job);
        return;
    }
    if (host->tail) host->tail->queued_next = job;
    else host->head = job;
    host->tail = job;
    host->queued++;
    w->queued++;
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
            start_delivery(w, ev, subs[i], 1, msg_id);
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
                       .final = 1};
        record_attempt(w, ev, &a);
        return;
    }
    ev->snap = hd_match_retain(snap);
    start_delivery(w, ev, sub, job->attempt, job->delivery_id);
}

static size_t partition_key(char *buf, size_t size, const char *topic, int32_t partition) {
    return (size_t)snprintf(buf, size, "%s%c%d", topic, 0, (int)partition);
}

/* Holds a job until it is due; its partition is paused meanwhile so the consumer does not fetch the backlog. */
static void hold(hd_dispatch_t *w, ev_t *ev) {
    ev_t **pp = &w->held;
    while (*pp && (*pp)->due_ms <= ev->due_ms) pp = &(*pp)->held_next;
    ev->held_next = *pp;
    *pp = ev;
    char key[512];
    intptr_t *count = (intptr_t *)hd_map_slot(w->paused, key, partition_key(key, sizeof(key), ev->msg_topic,
                                                                              ev->msg_partition));
    if ((*count)++ == 0) hd_consume_pause(ev->consume, ev->msg_topic, ev->msg_partition, 1);
}

static ev_t *unhold(hd_dispatch_t *w) {
    ev_t *ev = w->held;
    w->held = ev->held_next;
    char key[512];
    intptr_t *count = (intptr_t *)hd_map_slot(w->paused, key, partition_key(key, sizeof(key), ev->msg_topic,
                                                                              ev->msg_partition));
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
    if (!(ev->event = hd_decode_envelope(json_object_get(ev->job->event), &w->decode_opts, 0, &derr, errstr,
                                         sizeof(errstr)))) {
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
    if (tier < 0) handle_source(w, snap, ev, msg);
    else handle_retry(w, snap, ev, msg, tier);
    ev_work_done(w, ev);
}

static hd_dispatch_t *dispatch_new(const hd_conf_t *conf, hd_match_cache_t *cache, int worker,
                                   const hd_dispatch_replay_t *replay, char *errstr, size_t errstr_size) {
    hd_dispatch_t *w = hd_xcalloc(1, sizeof(*w));
    w->conf = conf;
    w->replay = replay;
    w->cache = cache;
    w->decode_opts = (hd_decode_opts_t){.max_bytes = (size_t)conf->event_max_bytes,
                                        .tenant_attribute = conf->event_tenant_attribute,
                                        .tenant_header = conf->event_tenant_header,
                                        .status_field = conf->match_status_field};
    w->wake[0] = w->wake[1] = -1;
    w->endpoints = hd_map_new(64);
    w->hosts = hd_map_new(64);
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

hd_dispatch_t *hd_dispatch_new(const hd_conf_t *conf, hd_match_cache_t *cache, int worker, char *errstr,
                               size_t errstr_size) {
    return dispatch_new(conf, cache, worker, NULL, errstr, errstr_size);
}

hd_dispatch_t *hd_dispatch_new_replay(const hd_conf_t *conf, hd_match_cache_t *cache,
                                      const hd_dispatch_replay_t *replay, char *errstr, size_t errstr_size) {
    return dispatch_new(conf, cache, 0, replay, errstr, errstr_size);
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
    if (now - w->pruned_ms >= w->conf->http_endpoint_idle_ms) prune(w, now);
    /* Before the queues are read: a wake-up written while they are being read then stays in the pipe. Drained
     * after, it was lost, and the queue, no longer empty, never signalled again until the timer below. */
    drain_wake(w);
    while (consuming && w->held && w->held->due_ms <= now) {
        if (!snap) snap = hd_match_cache_get(w->cache);
        ev_t *ev = unhold(w);
        if (revoked(ev)) w->stats.dropped_revoked++;
        else run_retry(w, snap, ev);
        ev_work_done(w, ev); /* the hold's reference */
    }
    if (w->held && w->held->due_ms - now < max_wait_ms) max_wait_ms = (int)(w->held->due_ms - now);
    /* The retry tiers first: a retry is older work than any new event. */
    hd_consume_t *const from[] = {w->retry_consume, w->consume};
    for (size_t f = 0; f < sizeof(from) / sizeof(from[0]); f++) {
        if (!from[f]) continue;
        if (!consuming) {
            hd_consume_serve(from[f]);
            continue;
        }
        int64_t room = w->conf->http_max_inflight - (int64_t)hd_deliver_inflight(w->deliver) - w->queued;
        if (!records_have_room(w)) room = 0;
        int want = room < w->conf->batch_size ? (int)room : (int)w->conf->batch_size;
        if (want <= 0) continue;
        rd_kafka_message_t *msgs[want];
        int took = hd_consume_batch(from[f], msgs, want);
        if (took && !snap) snap = hd_match_cache_get(w->cache);
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
static void clear_queue(const void *key, size_t len, void *value, void *opaque) {
    host_t *host = value;
    host->head = host->tail = NULL;
    host->queued = 0;
}

static int abandon(hd_dispatch_t *w) {
    int n = 0;
    hd_map_foreach(w->hosts, clear_queue, NULL);
    w->queued = 0;
    while (w->jobs) {
        job_t *job = w->jobs;
        ev_t *ev = job->ev;
        hd_deliver_cancel(w->deliver, &job->req);
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
    return n;
}

int hd_dispatch_run(hd_dispatch_t *w, const atomic_int *stop) {
    while (!atomic_load(stop)) {
        if (turn(w, 1, IDLE_WAIT_MS)) return -1;
        if (!w->replay) continue;
        if (w->replay->progress) w->replay->progress(w->replay->opaque, &w->stats);
        if (!w->evs && hd_consume_finished(w->consume)) break;
    }

    /* Drain: no new events; in-flight deliveries get the grace period. */
    int64_t deadline = hd_mono_us() + w->conf->shutdown_grace_ms * 1000;
    HD_LOG(HD_LOG_INFO, "dispatch", NULL, "stopping: %zu deliveries in flight", hd_deliver_inflight(w->deliver));
    while (w->jobs && hd_mono_us() < deadline)
        if (turn(w, 0, 50)) break;
    int abandoned = abandon(w);
    if (abandoned)
        HD_LOG(HD_LOG_WARN, "dispatch", NULL, "abandoned %d deliveries and held retries; they will be redelivered",
               abandoned);
    int left = hd_record_flush(w->record, 10000);
    if (left)
        HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "%d outcome records unacknowledged; their events will be redelivered",
               left);
    hd_consume_close(w->consume);
    if (w->retry_consume) hd_consume_close(w->retry_consume);
    return 0;
}

void hd_dispatch_destroy(hd_dispatch_t *w) {
    if (!w) return;
    if (w->deliver) abandon(w);
    /* Whatever is still live waits only for acks: late acks during the producer's final flush must not touch the
     * consumer, which may already be gone. */
    for (ev_t *ev = w->evs; ev; ev = ev->next) ev->abandoned = 1;
    hd_record_destroy(w->record, 0);
    hd_consume_destroy(w->consume);
    hd_consume_destroy(w->retry_consume);
    while (w->evs) {
        w->evs->pending = 1;
        ev_unref(w, w->evs);
    }
    hd_deliver_destroy(w->deliver);
    hd_retry_destroy(w->retry);
    hd_map_destroy(w->endpoints, free);
    hd_map_destroy(w->hosts, free);
    hd_map_destroy(w->paused, NULL);
    if (w->wake[0] >= 0) close(w->wake[0]);
    if (w->wake[1] >= 0) close(w->wake[1]);
    free(w);
}

void hd_dispatch_stats(const hd_dispatch_t *w, hd_dispatch_stats_t *out) {
    *out = w->stats;
}
