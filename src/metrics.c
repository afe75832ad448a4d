#include "hookd/metrics.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype_t;

static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct hd_metric_s {
    char *labels;             /* rendered: a="x",b="y" (empty for none) */
    _Atomic int64_t value;    /* counter, gauge; a histogram's count */
    _Atomic int64_t sum;      /* histogram */
    _Atomic int64_t *buckets; /* histogram: per bucket (not cumulative), bounds_cnt of them */
    const struct family_s *family;
    struct hd_metric_s *next;
};

typedef struct family_s {
    char *name, *help;
    mtype_t type;
    double *bounds;   /* rendered units */
    int64_t *ibounds; /* in observation units, for the hot path's integer compare */
    int bounds_cnt;
    double unit;
    hd_metric_t *series, *series_tail;
    struct family_s *next;
} family_t;

typedef struct collector_s {
    int id;
    hd_metrics_collect_cb *cb;
    void *opaque;
    struct collector_s *next;
} collector_t;

struct hd_metrics_s {
    pthread_mutex_t lock;         /* families and series lists */
    pthread_mutex_t collect_lock; /* collectors; held while they run */
    family_t *families, *families_tail;
    collector_t *collectors;
    int next_id;
};

typedef struct sample_s {
    char *name, *help, *labels;
    const char *type;
    double value;
} sample_t;

struct hd_metrics_scrape_s {
    sample_t *samples;
    int cnt, cap;
};

hd_metrics_t *hd_metrics_new(void) {
    hd_metrics_t *m = hd_xcalloc(1, sizeof(*m));
    pthread_mutex_init(&m->lock, NULL);
    pthread_mutex_init(&m->collect_lock, NULL);
    return m;
}

void hd_metrics_destroy(hd_metrics_t *m) {
    if (!m) return;
    for (family_t *f = m->families, *fn; f; f = fn) {
        fn = f->next;
        for (hd_metric_t *s = f->series, *sn; s; s = sn) {
            sn = s->next;
            free(s->labels);
            free(s->buckets);
            free(s);
        }
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f->ibounds);
        free(f);
    }
    for (collector_t *c = m->collectors, *cn; c; c = cn) {
        cn = c->next;
        free(c);
    }
    pthread_mutex_destroy(&m->lock);
    pthread_mutex_destroy(&m->collect_lock);
    free(m);
}

static hd_metrics_t *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void) {
    default_registry = hd_metrics_new();
}

hd_metrics_t *hd_metrics_default(void) {
    pthread_once(&default_once, default_init);
    return default_registry;
}

/* Label values come from configuration (topic names) and must not break the exposition format. */
static void put_escaped(FILE *out, const char *v) {
    for (; *v; v++) {
        if (*v == '\\')
            fputs("\\\\", out);
        else if (*v == '"')
            fputs("\\\"", out);
        else if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static char *render_labels(const char *const *labels) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    if (!out) abort();
    for (const char *const *kv = labels; kv && kv[0] && kv[1]; kv += 2) {
        fprintf(out, "%s%s=\"", kv == labels ? "" : ",", kv[0]);
        put_escaped(out, kv[1]);
        fputc('"', out);
    }
    fclose(out);
    return buf;
}

static hd_metric_t *get_series(hd_metrics_t *m, const char *name, const char *help, const char *const *labels,
                               mtype_t type, const double *bounds, int bounds_cnt, double unit) {
    char *lab = render_labels(labels);
    pthread_mutex_lock(&m->lock);
    family_t *f = m->families;
    while (f && strcmp(f->name, name))
        f = f->next;
    if (!f) {
        f = hd_xcalloc(1, sizeof(*f));
        f->name = hd_xstrdup(name);
        f->help = hd_xstrdup(help);
        f->type = type;
        f->unit = unit;
        if (bounds_cnt > 0) {
            f->bounds_cnt = bounds_cnt;
            f->bounds = hd_xmalloc(sizeof(double) * (size_t)bounds_cnt);
            f->ibounds = hd_xmalloc(sizeof(int64_t) * (size_t)bounds_cnt);
            for (int i = 0; i < bounds_cnt; i++) {
                f->bounds[i] = bounds[i];
                f->ibounds[i] = (int64_t)(bounds[i] / unit + 0.5);
            }
        }
        if (m->families_tail)
            m->families_tail->next = f;
        else
            m->families = f;
        m->families_tail = f;
    } else if (f->type != type) {
        fprintf(stderr, "hookd: metric %s registered as %s and %s\n", name, type_names[f->type], type_names[type]);
        abort();
    }
    hd_metric_t *s = f->series;
    while (s && strcmp(s->labels, lab))
        s = s->next;
    if (!s) {
        s = hd_xcalloc(1, sizeof(*s));
        s->labels = lab;
        lab = NULL;
        s->family = f;
        if (f->bounds_cnt) s->buckets = hd_xcalloc((size_t)f->bounds_cnt, sizeof(*s->buckets));
        if (f->series_tail)
            f->series_tail->next = s;
        else
            f->series = s;
        f->series_tail = s;
    }
    pthread_mutex_unlock(&m->lock);
    free(lab);
    return s;
}

hd_metric_t *hd_metrics_counter(hd_metrics_t *m, const char *name, const char *help, const char *const *labels) {
    return get_series(m, name, help, labels, M_COUNTER, NULL, 0, 1);
}

hd_metric_t *hd_metrics_gauge(hd_metrics_t *m, const char *name, const char *help, const char *const *labels) {
    return get_series(m, name, help, labels, M_GAUGE, NULL, 0, 1);
}

hd_metric_t *hd_metrics_histogram(hd_metrics_t *m, const char *name, const char *help, const char *const *labels,
                                  const double *bounds, int bounds_cnt, double unit) {
    return get_series(m, name, help, labels, M_HISTOGRAM, bounds, bounds_cnt, unit);
}

void hd_metric_add(hd_metric_t *s, int64_t n) {
    atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void hd_metric_observe(hd_metric_t *h, int64_t v) {
    const family_t *f = h->family;
    int i = 0;
    while (i < f->bounds_cnt && v > f->ibounds[i])
        i++;
    if (i < f->bounds_cnt) atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->value, 1, memory_order_relaxed);
}

int64_t hd_metric_value(const hd_metric_t *s) {
    return atomic_load_explicit(&s->value, memory_order_relaxed);
}

int hd_metrics_add_collector(hd_metrics_t *m, hd_metrics_collect_cb *cb, void *opaque) {
    collector_t *c = hd_xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->opaque = opaque;
    pthread_mutex_lock(&m->collect_lock);
    c->id = ++m->next_id;
    c->next = m->collectors;
    m->collectors = c;
    pthread_mutex_unlock(&m->collect_lock);
    return c->id;
}

void hd_metrics_remove_collector(hd_metrics_t *m, int id) {
    pthread_mutex_lock(&m->collect_lock);
    for (collector_t **cp = &m->collectors; *cp; cp = &(*cp)->next)
        if ((*cp)->id == id) {
            collector_t *c = *cp;
            *cp = c->next;
            free(c);
            break;
        }
    pthread_mutex_unlock(&m->collect_lock);
}

void hd_metrics_emit(hd_metrics_scrape_t *s, const char *name, const char *help, const char *type,
                     const char *const *labels, double value) {
    if (s->cnt == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->samples = hd_xrealloc(s->samples, sizeof(*s->samples) * (size_t)s->cap);
    }
    s->samples[s->cnt++] = (sample_t){hd_xstrdup(name), hd_xstrdup(help), render_labels(labels), type, value};
}

static void put_sample(FILE *out, const char *name, const char *suffix, const char *labels, const char *extra) {
    fprintf(out, "%s%s", name, suffix);
    if (*labels || extra) fprintf(out, "{%s%s%s}", labels, *labels && extra ? "," : "", extra ? extra : "");
    fputc(' ', out);
}

static void render_family(FILE *out, const family_t *f) {
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, type_names[f->type]);
    for (const hd_metric_t *s = f->series; s; s = s->next) {
        int64_t count = atomic_load_explicit(&s->value, memory_order_relaxed);
        if (f->type != M_HISTOGRAM) {
            put_sample(out, f->name, "", s->labels, NULL);
            fprintf(out, "%" PRId64 "\n", count);
            continue;
        }
        /* Buckets are read one by one while observations go on; cumulate and cap at the count read first so
         * that a scrape never shows a bucket above +Inf. */
        int64_t cum = 0;
        char le[48];
        for (int i = 0; i < f->bounds_cnt; i++) {
            cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            snprintf(le, sizeof(le), "le=\"%g\"", f->bounds[i]);
            put_sample(out, f->name, "_bucket", s->labels, le);
            fprintf(out, "%" PRId64 "\n", cum < count ? cum : count);
        }
        put_sample(out, f->name, "_bucket", s->labels, "le=\"+Inf\"");
        fprintf(out, "%" PRId64 "\n", count);
        put_sample(out, f->name, "_sum", s->labels, NULL);
        fprintf(out, "%.9g\n", (double)atomic_load_explicit(&s->sum, memory_order_relaxed) * f->unit);
        put_sample(out, f->name, "_count", s->labels, NULL);
        fprintf(out, "%" PRId64 "\n", count);
    }
}

char *hd_metrics_render(hd_metrics_t *m, size_t *len) {
    hd_metrics_scrape_t scrape = {0};
    pthread_mutex_lock(&m->collect_lock);
    for (collector_t *c = m->collectors; c; c = c->next)
        c->cb(&scrape, c->opaque);
    pthread_mutex_unlock(&m->collect_lock);

    char *buf = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&buf, &n);
    if (!out) abort();
    pthread_mutex_lock(&m->lock);
    for (const family_t *f = m->families; f; f = f->next)
        render_family(out, f);
    pthread_mutex_unlock(&m->lock);
    /* Emitted samples, grouped by name in order of first appearance. */
    for (int i = 0; i < scrape.cnt; i++) {
        if (!scrape.samples[i].name) continue;
        const char *name = scrape.samples[i].name;
        fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, scrape.samples[i].help, name, scrape.samples[i].type);
        for (int j = i; j < scrape.cnt; j++) {
            sample_t *s = &scrape.samples[j];
            if (!s->name || strcmp(s->name, name)) continue;
            put_sample(out, s->name, "", s->labels, NULL);
            fprintf(out, "%.17g\n", s->value);
            if (j > i) {
                free(s->name);
                s->name = NULL;
            }
        }
    }
    fclose(out);
    for (int i = 0; i < scrape.cnt; i++) {
        free(scrape.samples[i].name);
        free(scrape.samples[i].help);
        free(scrape.samples[i].labels);
    }
    free(scrape.samples);
    if (len) *len = n;
    return buf;
}

/* hookd's own series. */

#define RETRY_TIERS 16
#define STATUS_CLASSES 6

static struct {
    hd_metric_t *consumed, *matched, *deadlettered, *inflight, *latency, *assigned;
    hd_metric_t *deliveries[HD_OUTCOME_GONE + 1][STATUS_CLASSES];
    hd_metric_t *_Atomic retries[RETRY_TIERS];
} hk;
static pthread_once_t hk_once = PTHREAD_ONCE_INIT;

static const char *const status_classes[STATUS_CLASSES] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

static void hk_init(void) {
    static const double latency_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    hd_metrics_t *m = hd_metrics_default();
    hk.consumed = hd_metrics_counter(m, "hd_events_consumed_total",
                                     "Messages taken from the source topics and the retry tiers.", NULL);
    hk.matched =
        hd_metrics_counter(m, "hd_events_matched_total", "Events that matched at least one subscription.", NULL);
    hk.deadlettered = hd_metrics_counter(m, "hd_events_deadlettered_total",
                                         "Messages that could not be decoded (events or retry jobs), sent to the "
                                         "dead-letter topic (skipped by a replay).",
                                         NULL);
    hk.assigned = hd_metrics_gauge(m, "hd_consumer_partitions_assigned",
                                   "Source partitions assigned to this process's consumers.", NULL);
    hk.inflight = hd_metrics_gauge(m, "hd_deliveries_inflight", "Delivery attempts in flight.", NULL);
    hk.latency = hd_metrics_histogram(m, "hd_delivery_attempt_duration_seconds",
                                      "Duration of delivery attempts, connect to last response byte.", NULL,
                                      latency_bounds, (int)(sizeof(latency_bounds) / sizeof(latency_bounds[0])), 1e-6);
    for (int o = 0; o <= HD_OUTCOME_GONE; o++)
        for (int c = 0; c < STATUS_CLASSES; c++)
            hk.deliveries[o][c] =
                hd_metrics_counter(m, "hd_deliveries_total", "Delivery attempts by outcome and HTTP status class.",
                                   (const char *const[]){"outcome", hd_outcome_name((hd_outcome_t)o), "status_class",
                                                         status_classes[c], NULL});
}

#define HK() pthread_once(&hk_once, hk_init)

void hd_metrics_register_dispatcher(void) {
    HK();
}

void hd_metrics_event_consumed(void) {
    HK();
    hd_metric_add(hk.consumed, 1);
}

void hd_metrics_event_matched(void) {
    HK();
    hd_metric_add(hk.matched, 1);
}

void hd_metrics_event_deadlettered(void) {
    HK();
    hd_metric_add(hk.deadlettered, 1);
}

void hd_metrics_delivery_inflight(int delta) {
    HK();
    hd_metric_add(hk.inflight, delta);
}

void hd_metrics_delivery_attempt(hd_outcome_t outcome, long status, int64_t duration_us) {
    HK();
    int cls = status >= 100 && status < 600 ? (int)(status / 100) : 0;
    if ((unsigned)outcome <= HD_OUTCOME_GONE) hd_metric_add(hk.deliveries[outcome][cls], 1);
    hd_metric_observe(hk.latency, duration_us);
}

void hd_metrics_partitions_assigned_add(int delta) {
    HK();
    hd_metric_add(hk.assigned, delta);
}

int64_t hd_metrics_partitions_assigned(void) {
    HK();
    return hd_metric_value(hk.assigned);
}

void hd_metrics_retry(int tier) {
    HK();
    if (tier < 0) tier = 0;
    if (tier >= RETRY_TIERS) tier = RETRY_TIERS - 1;
    hd_metric_t *s = atomic_load_explicit(&hk.retries[tier], memory_order_acquire);
    if (!s) { /* first retry of this tier: a racing thread finds the same series */
        char t[8];
        snprintf(t, sizeof(t), "%d", tier);
        s = hd_metrics_counter(hd_metrics_default(), "hd_retries_total", "Deliveries scheduled for retry, by tier.",
                               (const char *const[]){"tier", t, NULL});
        atomic_store_explicit(&hk.retries[tier], s, memory_order_release);
    }
    hd_metric_add(s, 1);
}
