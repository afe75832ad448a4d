#include "hookd/admit.h"

#include <stdlib.h>
#include <string.h>

#include "hookd/log.h"
#include "hookd/map.h"
#include "hookd/util.h"

enum { IDLE, WAITING, EXPELLED, ACTIVE };

typedef struct host_s {
    int inflight, queued;
    int cap;              /* slots it may use now, within 1..max_per_host */
    int endpoints;        /* URLs pointing here: a host is forgotten only after all of them */
    int failures;         /* consecutive retryable failures of any of its URLs */
    int64_t last_done_ms; /* last completed attempt, or when the host last went from idle to busy */
    hd_admit_slot_t *head, *tail;
    int ready; /* in the ready list: a slot came free while deliveries wait */
    struct host_s *ready_next;
    struct host_s *qprev, *qnext; /* hosts with deliveries waiting */
} host_t;

struct hd_admit_ep_s {
    int failures, probing;
    int slots; /* waiting, expelled or active slots pointing here */
    int64_t open_until_ms, used_ms;
    host_t *host;
    char *url;
};

struct hd_admit_s {
    hd_admit_conf_t conf;
    hd_map_t *endpoints;       /* url -> hd_admit_ep_t */
    hd_map_t *hosts;           /* origin -> host_t */
    host_t *queued;            /* hosts with deliveries waiting */
    hd_admit_slot_t *expelled; /* left their queue when their breaker opened (linked through prev/next) */
    host_t *ready;
    size_t waiting;
    int64_t pruned_ms;
};

static void ep_free(void *value) {
    hd_admit_ep_t *ep = value;
    free(ep->url);
    free(ep);
}

hd_admit_t *hd_admit_new(const hd_admit_conf_t *conf) {
    hd_admit_t *a = hd_xcalloc(1, sizeof(*a));
    a->conf = *conf;
    a->endpoints = hd_map_new(64);
    a->hosts = hd_map_new(64);
    return a;
}

void hd_admit_destroy(hd_admit_t *a) {
    if (!a) return;
    hd_map_destroy(a->endpoints, ep_free);
    hd_map_destroy(a->hosts, free);
    free(a);
}

static hd_admit_ep_t *endpoint_get(hd_admit_t *a, const char *url, const char *origin, size_t origin_len, int64_t now) {
    hd_admit_ep_t **slot = (hd_admit_ep_t **)hd_map_slot(a->endpoints, url, strlen(url));
    if (!*slot) {
        *slot = hd_xcalloc(1, sizeof(hd_admit_ep_t));
        (*slot)->url = hd_xstrdup(url);
        host_t **host = (host_t **)hd_map_slot(a->hosts, origin, origin_len);
        if (!*host) {
            *host = hd_xcalloc(1, sizeof(host_t));
            (*host)->cap = (int)a->conf.max_per_host;
        }
        (*slot)->host = *host;
        (*host)->endpoints++;
    }
    (*slot)->used_ms = now;
    return *slot;
}

static void make_ready(hd_admit_t *a, host_t *h) {
    if (h->ready || !h->head) return;
    h->ready = 1;
    h->ready_next = a->ready;
    a->ready = h;
}

static void enqueue(hd_admit_t *a, hd_admit_slot_t *s, int64_t now) {
    host_t *h = s->ep->host;
    s->prev = h->tail;
    s->next = NULL;
    if (h->tail)
        h->tail->next = s;
    else
        h->head = s;
    h->tail = s;
    if (h->queued++ == 0) {
        h->qprev = NULL;
        h->qnext = a->queued;
        if (a->queued) a->queued->qprev = h;
        a->queued = h;
    }
    a->waiting++;
    s->since_ms = now;
    s->state = WAITING;
}

static void dequeue(hd_admit_t *a, hd_admit_slot_t *s) {
    host_t *h = s->ep->host;
    if (s->prev)
        s->prev->next = s->next;
    else
        h->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        h->tail = s->prev;
    if (--h->queued == 0) {
        if (h->qprev)
            h->qprev->qnext = h->qnext;
        else
            a->queued = h->qnext;
        if (h->qnext) h->qnext->qprev = h->qprev;
    }
    a->waiting--;
    s->state = IDLE;
}

static void unexpel(hd_admit_t *a, hd_admit_slot_t *s) {
    if (s->prev)
        s->prev->next = s->next;
    else
        a->expelled = s->next;
    if (s->next) s->next->prev = s->prev;
    s->state = IDLE;
}

static void detach(hd_admit_slot_t *s) {
    s->ep->slots--;
    if (s->probe) s->ep->probing = 0;
    s->probe = 0;
    s->ep = NULL;
    s->state = IDLE;
}

static void activate(hd_admit_slot_t *s, int64_t now) {
    host_t *h = s->ep->host;
    /* An idle host has not been slow: its time without completions starts now. */
    if (h->inflight++ == 0) h->last_done_ms = now;
    s->state = ACTIVE;
}

static hd_admit_verdict_t park(hd_admit_park_t *p, const char *why, int64_t due_ms, int breaker) {
    *p = (hd_admit_park_t){.why = why, .due_ms = due_ms, .breaker = breaker};
    return HD_ADMIT_PARK;
}

hd_admit_verdict_t hd_admit_request(hd_admit_t *a, hd_admit_slot_t *slot, const char *url, const char *origin,
                                    size_t origin_len, int64_t now, hd_admit_park_t *p) {
    hd_admit_ep_t *ep = endpoint_get(a, url, origin, origin_len, now);
    host_t *h = ep->host;
    int probe = 0;
    if (ep->open_until_ms > now) return park(p, "circuit open", ep->open_until_ms, 1);
    if (ep->failures >= a->conf.breaker_failures) { /* half-open: one probe at a time */
        /* Back once the probe has its answer, so that waiting for it costs one park. */
        if (ep->probing) return park(p, "circuit half-open, probe in flight", now + a->conf.probe_ms, 0);
        probe = 1;
    }
    /* A host at its cap queues deliveries in memory while it keeps answering. One that is failing, or has finished
     * nothing for 200 ms while busy (an idle host's burst is queued, not parked: parking writes a second copy of
     * the delivery to Kafka and delays it by the first tier), queues only a few rounds: the rest is parked, so a
     * hanging host cannot take the global budget that healthy hosts need. */
    if (h->inflight >= h->cap && h->queued >= 4 * h->cap && (h->failures || now - h->last_done_ms > 200))
        return park(p, "host at its in-flight cap", 0, 0);
    slot->ep = ep;
    ep->slots++;
    slot->probe = probe;
    if (probe) ep->probing = 1;
    if (h->inflight < h->cap) {
        activate(slot, now);
        return HD_ADMIT_GO;
    }
    enqueue(a, slot, now);
    return HD_ADMIT_WAIT;
}

/* The URL's breaker opened: its waiting deliveries leave their queue to be parked, not attempted. */
static void expel(hd_admit_t *a, hd_admit_ep_t *ep) {
    for (hd_admit_slot_t *s = ep->host->head, *n; s; s = n) {
        n = s->next;
        if (s->ep != ep) continue;
        dequeue(a, s);
        s->prev = NULL;
        s->next = a->expelled;
        if (a->expelled) a->expelled->prev = s;
        a->expelled = s;
        s->state = EXPELLED;
    }
}

void hd_admit_done(hd_admit_t *a, hd_admit_slot_t *slot, hd_outcome_t outcome, int transport_error, int64_t now) {
    hd_admit_ep_t *ep = slot->ep;
    host_t *h = ep->host;
    h->inflight--;
    h->last_done_ms = now;
    detach(slot);
    int failed = outcome == HD_OUTCOME_RETRYABLE || outcome == HD_OUTCOME_GONE;
    if (outcome == HD_OUTCOME_SUCCESS) {
        h->failures = 0;
        if (h->cap < a->conf.max_per_host) h->cap++;
        if (ep->failures >= a->conf.breaker_failures)
            HD_LOG(HD_LOG_INFO, "deliver", NULL, "circuit to %s closed again", ep->url);
        ep->failures = 0;
        ep->open_until_ms = 0;
    } else if (failed) { /* a 4xx means the receiver is up; a refused address says nothing about its health */
        h->failures++;
        if (transport_error && h->cap > 1) h->cap /= 2;
        if (++ep->failures >= a->conf.breaker_failures) {
            if (ep->open_until_ms <= now)
                HD_LOG(HD_LOG_WARN, "deliver", NULL, "circuit to %s open after %d consecutive failures", ep->url,
                       ep->failures);
            ep->open_until_ms = now + a->conf.breaker_open_ms;
            expel(a, ep);
        }
    }
    make_ready(a, h);
}

void hd_admit_cancel(hd_admit_t *a, hd_admit_slot_t *slot) {
    switch (slot->state) {
    case WAITING:
        dequeue(a, slot);
        break;
    case EXPELLED:
        unexpel(a, slot);
        break;
    case ACTIVE:
        slot->ep->host->inflight--;
        make_ready(a, slot->ep->host);
        break;
    default:
        return;
    }
    detach(slot);
}

/* Forgets URLs and hosts that carry nothing worth remembering (no slots, no failures, no open breaker) and have
 * been idle for idle_ms: without it the maps keep every URL ever delivered to, about 13 MB per worker once
 * deliveries have reached 100,000 subscriptions. The maps are rebuilt, since hd_map has no delete. */
typedef struct {
    hd_map_t *keep;
    int64_t now, idle_ms;
    size_t forgotten;
} prune_t;

static void prune_endpoint(const void *key, size_t len, void *value, void *opaque) {
    prune_t *p = opaque;
    hd_admit_ep_t *ep = value;
    if (ep->slots || ep->failures || ep->probing || ep->open_until_ms > p->now || p->now - ep->used_ms < p->idle_ms) {
        *hd_map_slot(p->keep, key, len) = ep;
        return;
    }
    ep->host->endpoints--;
    ep_free(ep);
    p->forgotten++;
}

static void prune_host(const void *key, size_t len, void *value, void *opaque) {
    prune_t *p = opaque;
    host_t *h = value;
    if (h->endpoints || h->inflight || h->queued || h->failures || h->ready)
        *hd_map_slot(p->keep, key, len) = h;
    else
        free(h);
}

static void prune(hd_admit_t *a, int64_t now) {
    prune_t p = {.keep = hd_map_new(hd_map_count(a->endpoints) / 2 + 16), .now = now, .idle_ms = a->conf.idle_ms};
    hd_map_foreach(a->endpoints, prune_endpoint, &p);
    hd_map_destroy(a->endpoints, NULL);
    a->endpoints = p.keep;
    p.keep = hd_map_new(hd_map_count(a->hosts) / 2 + 16);
    hd_map_foreach(a->hosts, prune_host, &p);
    hd_map_destroy(a->hosts, NULL);
    a->hosts = p.keep;
    a->pruned_ms = now;
    if (p.forgotten)
        HD_LOG(HD_LOG_DEBUG, "dispatch", NULL, "forgot %zu idle endpoints; %zu tracked", p.forgotten,
               hd_map_count(a->endpoints));
}

hd_admit_slot_t *hd_admit_next(hd_admit_t *a, int64_t now, hd_admit_verdict_t *verdict, hd_admit_park_t *p) {
    hd_admit_slot_t *s = a->expelled;
    if (s) {
        unexpel(a, s);
        *verdict = park(p, "circuit open", s->ep->open_until_ms, 1);
        detach(s);
        return s;
    }
    /* A host that keeps completing attempts works its queue off, however slowly; one that is failing, or has
     * completed nothing for as long as its first delivery waited, parks it. */
    for (host_t *h = a->queued; h; h = h->qnext) {
        s = h->head;
        if (now - s->since_ms < a->conf.queue_max_ms || (!h->failures && now - h->last_done_ms < a->conf.queue_max_ms))
            continue;
        dequeue(a, s);
        *verdict = park(p, "waited http.queue.max.ms for a slot at a stalled or failing host", 0, 0);
        detach(s);
        return s;
    }
    while (a->ready) {
        host_t *h = a->ready;
        if (!h->head || h->inflight >= h->cap) {
            a->ready = h->ready_next;
            h->ready = 0;
            continue;
        }
        s = h->head;
        hd_admit_ep_t *ep = s->ep;
        dequeue(a, s);
        if (!s->probe && ep->failures >= a->conf.breaker_failures) { /* the breaker changed while it waited */
            if (ep->open_until_ms > now)
                *verdict = park(p, "circuit open", ep->open_until_ms, 1);
            else if (ep->probing)
                *verdict = park(p, "circuit half-open, probe in flight", now + a->conf.probe_ms, 0);
            else
                s->probe = ep->probing = 1;
            if (!s->probe) {
                detach(s);
                return s;
            }
        }
        activate(s, now);
        *verdict = HD_ADMIT_GO;
        return s;
    }
    if (now - a->pruned_ms >= a->conf.idle_ms) prune(a, now);
    return NULL;
}

hd_admit_slot_t *hd_admit_take_waiting(hd_admit_t *a) {
    hd_admit_slot_t *s = a->expelled ? a->expelled : a->queued ? a->queued->head : NULL;
    if (!s) return NULL;
    if (s->state == EXPELLED)
        unexpel(a, s);
    else
        dequeue(a, s);
    detach(s);
    return s;
}

size_t hd_admit_waiting(const hd_admit_t *a) {
    return a->waiting;
}

size_t hd_admit_endpoints(const hd_admit_t *a) {
    return hd_map_count(a->endpoints);
}
