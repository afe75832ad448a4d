/* Metrics in the Prometheus text format (version 0.0.4).
 *
 * A registry holds series: counters, gauges and histograms, each a name plus fixed label pairs. Creating or
 * looking up a series takes the registry's mutex, so do it once (at start-up, or first use) and keep the pointer;
 * updating a series is a relaxed atomic add, lock-free and safe from any thread, so hot paths stay cheap.
 * Values that are cheaper to read than to maintain (consumer lag, cache age) come from collectors: callbacks the
 * registry runs just before it renders a scrape.
 *
 * hd_metrics_default() is the process registry: the dispatcher, the replay tool and the management API all
 * register there, and each serves it at /metrics (hd_status_t, or hd_metrics_render from the API's own server).
 * The hd_metrics_<event> helpers at the end are hookd's own series on that registry. */
#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "hookd/outcome.h"

typedef struct hd_metrics_s hd_metrics_t;
typedef struct hd_metric_s hd_metric_t;

#define HD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

hd_metrics_t *hd_metrics_new(void);
/* Frees the registry and every series in it (their pointers become invalid). NULL is a no-op. */
void hd_metrics_destroy(hd_metrics_t *m);

/* The process registry, created on first use and never freed. */
hd_metrics_t *hd_metrics_default(void);

/* Returns the series name{labels}, creating it on first use. labels is NULL or a NULL-terminated list of
 * name, value strings (HD_KV from log.h); values are escaped when rendered. help is used when the family is
 * first seen. The pointer stays valid until hd_metrics_destroy. Asking for an existing name with another type
 * is a programming error and aborts. */
hd_metric_t *hd_metrics_counter(hd_metrics_t *m, const char *name, const char *help, const char *const *labels);
hd_metric_t *hd_metrics_gauge(hd_metrics_t *m, const char *name, const char *help, const char *const *labels);
/* bounds: ascending upper bounds of the buckets in rendered units (+Inf is implicit). Observations are integers
 * in units of unit (e.g. microseconds observed, unit 1e-6, rendered in seconds). */
hd_metric_t *hd_metrics_histogram(hd_metrics_t *m, const char *name, const char *help, const char *const *labels,
                                  const double *bounds, int bounds_cnt, double unit);

void hd_metric_add(hd_metric_t *s, int64_t n); /* counters (n >= 0) and gauges */
void hd_metric_observe(hd_metric_t *h, int64_t v);
int64_t hd_metric_value(const hd_metric_t *s); /* a counter's or gauge's value, a histogram's count */

/* A collector adds samples computed at scrape time (consumer lag per partition, cache age): it calls
 * hd_metrics_emit for each. Emitted samples are not stored, so a partition that went away simply disappears;
 * samples of one name from several collectors are grouped into one family. Do not emit a name that is also a
 * stored series. hd_metrics_remove_collector returns only when the collector can no longer run. */
typedef struct hd_metrics_scrape_s hd_metrics_scrape_t;
typedef void(hd_metrics_collect_cb)(hd_metrics_scrape_t *s, void *opaque);
int hd_metrics_add_collector(hd_metrics_t *m, hd_metrics_collect_cb *cb, void *opaque);
void hd_metrics_remove_collector(hd_metrics_t *m, int id);
/* type is "gauge" or "counter". */
void hd_metrics_emit(hd_metrics_scrape_t *s, const char *name, const char *help, const char *type,
                     const char *const *labels, double value);

/* Runs the collectors and renders every series. Returns a NUL-terminated string the caller frees; *len (when not
 * NULL) receives its length. */
char *hd_metrics_render(hd_metrics_t *m, size_t *len);

/* hookd's dispatcher series on the default registry; each call is one atomic add. They are registered on first
 * use, or up front by hd_metrics_register_dispatcher (so that a scrape shows zeros rather than nothing). */
void hd_metrics_register_dispatcher(void);
void hd_metrics_event_consumed(void);
void hd_metrics_event_matched(void); /* an event with at least one subscription */
void hd_metrics_event_deadlettered(void);
void hd_metrics_delivery_inflight(int delta); /* attempts in flight: +1 started, -1 ended */
/* A finished attempt, by outcome and status class (status 0: no response), and its latency. */
void hd_metrics_delivery_attempt(hd_outcome_t outcome, long status, int64_t duration_us);
/* Source partitions assigned to this process's consumers (readiness of a dispatcher). */
void hd_metrics_partitions_assigned_add(int delta);
int64_t hd_metrics_partitions_assigned(void);
/* A delivery scheduled for retry tier tier (0-based; tiers above 15 are counted as 15). */
void hd_metrics_retry(int tier);

#endif
