#include "hookd/attempt.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/admit.h"
#include "hookd/deliver.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/outcome.h"
#include "hookd/render.h"
#include "hookd/sign.h"
#include "hookd/util.h"

/* One rendered payload shape of an event: the template, or the built-in version when tmpl is NULL. */
struct hd_attempt_shape_s {
    const hd_render_tmpl_t *tmpl;
    int version;
    hd_render_body_t *body; /* NULL when it could not be rendered */
    char *error;            /* why, then */
};

typedef struct job_s {
    hd_deliver_req_t req; /* first: the deliver callback hands req back */
    hd_admit_slot_t slot;
    hd_attempt_src_t *ev;
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

struct hd_attempt_s {
    hd_attempt_env_t env;
    hd_admit_t *admit;
    hd_deliver_t *deliver;
    job_t *jobs;
    hd_attempt_stats_t stats;
};

static void work_done(hd_attempt_t *w, hd_attempt_src_t *ev) {
    w->env.done(w->env.opaque, ev);
}

/* The producing calls below leave the record pending on its event until acknowledged. A record the producer
 * cannot take any more (hd_record_fatal) stays pending: the event is never done, its offset never stored, and the
 * loop stops. */

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

static void record_attempt(hd_attempt_t *w, hd_attempt_src_t *ev, const attempt_t *a) {
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
        .replay = w->env.replay,
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
    hd_record_result(w->env.record, &res, ev);
}

/* Produces a delivery's retry job: to the tier of d (attempt d->next_attempt, due d->due_ms), or when dead is set
 * to the dead-letter topic, error saying why. 1 when it went to the dead-letter topic for being too large. */
static int send_job(hd_attempt_t *w, hd_attempt_src_t *ev, const hd_sub_t *sub, const char *msg_id, int attempt,
                    const hd_outcome_decision_t *d, const char *dead, const char *error) {
    json_object *envelope = hd_decode_to_envelope(ev->event, w->env.decode_opts);
    hd_retry_job_t job = {.delivery_id = (char *)msg_id,
                          .subscription_id = (char *)sub->id,
                          .url = (char *)sub->url,
                          .attempt = dead ? attempt : d->next_attempt,
                          .due_ms = dead ? 0 : d->due_ms,
                          .parked = dead ? 0 : d->parked,
                          .event = envelope,
                          .src_topic = ev->topic,
                          .src_partition = ev->partition,
                          .src_offset = ev->offset};
    ev->pending++;
    int rc = hd_record_job(w->env.record, dead ? NULL : w->env.retry->topic[d->tier], &job, dead, error, ev);
    json_object_put(envelope);
    return rc == 1;
}

/* Endpoint health: the failing clock and the disable write-back (health.h), and the ops event a disable writes. */
static int64_t health_attempted(hd_attempt_t *w, const hd_sub_t *sub, hd_outcome_t outcome, int64_t now) {
    return outcome == HD_OUTCOME_PERMANENT
               ? 0 /* the receiver answers: says nothing either way */
               : hd_health_attempted(w->env.health, sub, outcome != HD_OUTCOME_SUCCESS, now);
}

static void health_disable(hd_attempt_t *w, hd_attempt_src_t *ev, const hd_sub_t *sub, const char *reason) {
    if (!hd_health_disable(w->env.health, sub, reason)) return;
    HD_LOG(HD_LOG_WARN, "dispatch", HD_KV("subscription_id", sub->id), "disabling subscription: %s", reason);
    ev->pending++;
    hd_record_disabled(w->env.record, sub->id, sub->tenant, sub->url, reason, hd_now_ms(), ev);
}

/* Carries out the decision d for attempt a of a delivery to sub: the retry job or the dead letter, the disable,
 * and the results record. */
static void settle(hd_attempt_t *w, hd_attempt_src_t *ev, const hd_sub_t *sub, attempt_t *a,
                   const hd_outcome_decision_t *d) {
    a->outcome = d->outcome;
    a->error = d->error[0] ? d->error : NULL;
    a->final = !d->retry;
    if (d->retry) {
        w->stats.retries++;
        hd_metrics_retry(d->tier);
        a->next_retry_at_ms = send_job(w, ev, sub, a->msg_id, a->attempt, d, NULL, NULL) ? 0 : d->due_ms;
        a->final = !a->next_retry_at_ms; /* dead-lettered: too large to retry */
    }
    if (d->disable[0]) health_disable(w, ev, sub, d->disable);
    record_attempt(w, ev, a);
    if (d->dead) send_job(w, ev, sub, a->msg_id, a->attempt, d, d->dead, a->error);
}

static void job_free(hd_attempt_t *w, job_t *job) {
    HD_LIST_DEL(w->jobs, job);
    hd_metrics_delivery_inflight(-1);
    hd_deliver_req_clear(&job->req);
    free(job->headers);
    free(job);
}

static void on_delivered(hd_deliver_req_t *req, void *opaque);

/* Signs (with a fresh timestamp) and sends a delivery. */
static void submit_job(hd_attempt_t *w, job_t *job) {
    const hd_sub_t *sub = job->sub;
    int64_t now = hd_now_ms();
    char ts[24], sig[HD_SIGN_HEADER_SIZE];
    job->attempted_at_ms = now;
    hd_int64_text(now / 1000, ts);
    hd_sign_header(&sub->keys, now, job->msg_id, now / 1000, job->body->data, job->body->len, sig);
    job->req.headers = job->headers =
        hd_deliver_headers(sub->extra->headers, sub->extra->headers_cnt, job->body->content_type, job->msg_id, ts, sig);
    job->req.url = sub->url;
    job->req.body = job->body->data;
    job->req.body_len = job->body->len;
    if (hd_deliver_submit(w->deliver, &job->req)) {
        job->req.curl_code = CURLE_FAILED_INIT;
        on_delivered(&job->req, w);
    }
}

/* Sending a revoked partition's delivery here too would only make a duplicate. */
int hd_attempt_revoked(const hd_attempt_src_t *ev) {
    return !ev->abandoned && hd_consume_entry_revoked(ev->entry);
}

static void on_delivered(hd_deliver_req_t *req, void *opaque) {
    hd_attempt_t *w = opaque;
    job_t *job = (job_t *)req;
    hd_attempt_src_t *ev = job->ev;
    const hd_sub_t *sub = job->sub;
    hd_outcome_in_t in = {.status = req->status,
                          .transport_error = req->curl_code,
                          .transport_text = req->error,
                          .refused = req->refused,
                          .retry_after_s = req->retry_after_s,
                          .attempt = job->attempt,
                          .max_retry_count = sub->max_retry_count,
                          .success_code = sub->extra->success_code,
                          .disable_after_ms = w->env.conf->disable_after_ms,
                          .now_ms = hd_now_ms()};
    hd_outcome_t outcome = hd_outcome_of(&in);
    hd_admit_done(w->admit, &job->slot, outcome, req->curl_code, in.now_ms);
    hd_metrics_delivery_attempt(outcome, req->status, req->duration_us);
    in.failing_since_ms = health_attempted(w, sub, outcome, in.now_ms);
    hd_outcome_decision_t d;
    hd_outcome_decide(&in, w->env.retry, &d);
    attempt_t a = {.sub_id = sub->id,
                   .url = sub->url,
                   .msg_id = job->msg_id,
                   .attempt = job->attempt,
                   .status = req->status,
                   .duration_us = req->duration_us,
                   .attempted_at_ms = job->attempted_at_ms,
                   .response = req->response_len ? req->response : NULL,
                   .response_len = req->response_len};
    settle(w, ev, sub, &a, &d);
    job_free(w, job);
    work_done(w, ev);
}

/* Parks a delivery without attempting it (see hd_outcome_park): it waits in a retry tier instead of hammering the
 * receiver, taking slots from healthy endpoints or holding its event's offset. */
static void park(hd_attempt_t *w, hd_attempt_src_t *ev, const hd_sub_t *sub, const char *msg_id, int attempt,
                 int parked, const hd_admit_park_t *p) {
    int64_t now = hd_now_ms();
    hd_outcome_decision_t d;
    hd_outcome_park(w->env.retry, attempt, sub->max_retry_count, parked, p->breaker, p->due_ms, now, &d);
    attempt_t a = {.sub_id = sub->id, .url = sub->url, .msg_id = msg_id, .attempt = attempt, .attempted_at_ms = now};
    if (d.record) {
        settle(w, ev, sub, &a, &d);
        return;
    }
    w->stats.parked++;
    HD_LOG(HD_LOG_DEBUG, "deliver", HD_KV("subscription_id", sub->id, "delivery_id", msg_id), "parked: %s", p->why);
    if (send_job(w, ev, sub, msg_id, attempt, &d, NULL, NULL)) {
        a.outcome = HD_OUTCOME_PERMANENT;
        a.error = "not attempted: too large to park in a retry tier (dead-lettered)";
        a.final = 1;
        record_attempt(w, ev, &a);
    }
}

/* The rendered shape of sub's payload for ev, rendered on first use; a failure is kept too, so every subscriber
 * of that shape fails alike. */
static const hd_attempt_shape_t *shape_for(hd_attempt_t *w, hd_attempt_src_t *ev, const hd_sub_t *sub) {
    int version = sub->extra->tmpl ? 0 : sub->version;
    for (int i = 0; i < ev->shapes_cnt; i++)
        if (ev->shapes[i].tmpl == sub->extra->tmpl && ev->shapes[i].version == version) return &ev->shapes[i];
    char err[256];
    ev->shapes = hd_xrealloc(ev->shapes, sizeof(*ev->shapes) * (size_t)(ev->shapes_cnt + 1));
    hd_attempt_shape_t *s = &ev->shapes[ev->shapes_cnt++];
    s->tmpl = sub->extra->tmpl;
    s->version = version;
    s->body = hd_render_payload(ev->event, sub->version, sub->extra->tmpl, (size_t)w->env.conf->render_max_bytes, err,
                                sizeof(err));
    s->error = s->body ? NULL : hd_xstrdup(err);
    return s;
}

void hd_attempt_fail(hd_attempt_t *w, hd_attempt_src_t *ev, const char *sub_id, const char *url, const char *msg_id,
                     int attempt, const char *error, int cancelled) {
    attempt_t a = {.sub_id = sub_id,
                   .url = url,
                   .msg_id = msg_id,
                   .attempt = attempt,
                   .attempted_at_ms = hd_now_ms(),
                   .outcome = HD_OUTCOME_PERMANENT,
                   .error = error,
                   .final = 1,
                   .cancelled = cancelled};
    record_attempt(w, ev, &a);
}

void hd_attempt_start(hd_attempt_t *w, hd_attempt_src_t *ev, const hd_sub_t *sub, int attempt, int parked,
                      const char *msg_id) {
    job_t *job = hd_xcalloc(1, sizeof(*job));
    hd_admit_park_t p;
    hd_admit_verdict_t v =
        hd_admit_request(w->admit, &job->slot, sub->url, sub->origin, (size_t)sub->origin_len, hd_now_ms(), &p);
    if (v == HD_ADMIT_PARK) {
        free(job);
        park(w, ev, sub, msg_id, attempt, parked, &p);
        return;
    }
    const hd_attempt_shape_t *shape = shape_for(w, ev, sub);
    if (!shape->body) { /* nothing can be sent: a permanent failure, recorded and dead-lettered like any other */
        hd_admit_cancel(w->admit, &job->slot);
        free(job);
        hd_attempt_fail(w, ev, sub->id, sub->url, msg_id, attempt, shape->error, 0);
        send_job(w, ev, sub, msg_id, attempt, NULL, "permanent", shape->error);
        return;
    }
    job->ev = ev;
    job->sub = sub;
    job->attempt = attempt;
    job->parked = parked;
    snprintf(job->msg_id, sizeof(job->msg_id), "%s", msg_id);
    job->body = shape->body;
    HD_LIST_ADD(w->jobs, job);
    hd_metrics_delivery_inflight(1);
    ev->work++;
    ev->pending++;
    w->stats.deliveries++;
    if (v == HD_ADMIT_GO) submit_job(w, job);
}

void hd_attempt_ready(hd_attempt_t *w) {
    hd_admit_verdict_t v;
    hd_admit_park_t p;
    hd_admit_slot_t *slot;
    while ((slot = hd_admit_next(w->admit, hd_now_ms(), &v, &p))) {
        job_t *job = JOB_OF_SLOT(slot);
        hd_attempt_src_t *ev = job->ev;
        if (v == HD_ADMIT_GO && !hd_attempt_revoked(ev)) {
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
        work_done(w, ev);
    }
}

int hd_attempt_park_all(hd_attempt_t *w, int inflight) {
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
        hd_attempt_src_t *ev = job->ev;
        if (!hd_attempt_revoked(ev)) park(w, ev, job->sub, job->msg_id, job->attempt, job->parked, &stopping);
        job_free(w, job);
        work_done(w, ev);
        n++;
    }
    while (inflight && w->jobs) {
        job_t *job = w->jobs;
        hd_attempt_src_t *ev = job->ev;
        if (!hd_attempt_revoked(ev)) park(w, ev, job->sub, job->msg_id, job->attempt, job->parked, &stopping);
        job_free(w, job);
        work_done(w, ev);
        n++;
    }
    return n;
}

int hd_attempt_abandon(hd_attempt_t *w) {
    int n = 0;
    while (w->jobs) {
        job_t *job = w->jobs;
        hd_attempt_src_t *ev = job->ev;
        hd_deliver_cancel(w->deliver, &job->req);
        hd_admit_cancel(w->admit, &job->slot);
        ev->abandoned = 1;
        job_free(w, job);
        work_done(w, ev);
        n++;
    }
    return n;
}

hd_attempt_t *hd_attempt_new(const hd_attempt_env_t *env, char *errstr, size_t errstr_size) {
    hd_attempt_t *w = hd_xcalloc(1, sizeof(*w));
    const hd_conf_t *conf = env->conf;
    w->env = *env;
    w->admit = hd_admit_new(&(hd_admit_conf_t){.max_per_host = conf->http_max_inflight_per_host,
                                               .breaker_failures = conf->breaker_failures,
                                               .breaker_open_ms = conf->breaker_open_ms,
                                               .queue_max_ms = conf->http_queue_max_ms,
                                               .probe_ms = conf->http_timeout_ms,
                                               .idle_ms = conf->http_endpoint_idle_ms});
    if (!(w->deliver = hd_deliver_new(conf, on_delivered, w, errstr, errstr_size))) {
        hd_attempt_destroy(w);
        return NULL;
    }
    return w;
}

void hd_attempt_destroy(hd_attempt_t *w) {
    if (!w) return;
    hd_deliver_destroy(w->deliver);
    hd_admit_destroy(w->admit);
    free(w);
}

int hd_attempt_run(hd_attempt_t *w, struct curl_waitfd *extra_fds, unsigned extra_cnt, int timeout_ms) {
    return hd_deliver_run(w->deliver, extra_fds, extra_cnt, timeout_ms);
}

size_t hd_attempt_inflight(const hd_attempt_t *w) {
    return hd_deliver_inflight(w->deliver);
}

size_t hd_attempt_busy(const hd_attempt_t *w) {
    return hd_deliver_inflight(w->deliver) + hd_admit_waiting(w->admit);
}

void hd_attempt_src_clear(hd_attempt_src_t *src) {
    for (int i = 0; i < src->shapes_cnt; i++) {
        hd_render_body_release(src->shapes[i].body);
        free(src->shapes[i].error);
    }
    free(src->shapes);
    src->shapes = NULL;
    src->shapes_cnt = 0;
}

void hd_attempt_stats(const hd_attempt_t *w, hd_attempt_stats_t *out) {
    *out = w->stats;
}
