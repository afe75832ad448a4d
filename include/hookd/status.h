/* The status server: a small libmicrohttpd server on its own thread answering
 *   GET /metrics  the metrics registry in the Prometheus text format
 *   GET /healthz  200 while the process runs (liveness)
 *   GET /readyz   200 when the ready callback says so, else 503 (readiness)
 * It reads only atomics and collectors, so a scrape never blocks a worker. */
#ifndef HOOKD_STATUS_H
#define HOOKD_STATUS_H

#include <stddef.h>

#include "hookd/cache.h"
#include "hookd/config.h"
#include "hookd/metrics.h"

typedef struct hd_status_s hd_status_t;

/* Returns 1 when ready; may write a short reason (shown in the /readyz body) into why. Called on the server's
 * thread. */
typedef int(hd_status_ready_cb)(void *opaque, char *why, size_t why_size);

/* Listens on listen ("host:port", "[v6]:port"; port 0 picks a free one, see hd_status_port). Does not take
 * metrics; it and opaque must outlive the server. ready NULL means always ready. NULL with errstr on failure. */
hd_status_t *hd_status_new(const char *listen, hd_metrics_t *metrics, hd_status_ready_cb *ready, void *opaque,
                           char *errstr, size_t errstr_size);

/* The dispatcher's status server on conf->metrics_listen over the default registry: registers the dispatcher's
 * series, adds the subscription cache's size and age (hd_match_count, hd_cache_age_ms) to every scrape, and
 * is ready while this process's consumers hold partitions. Logs where it listens. Does not take conf or cache;
 * destroy the server before the cache. NULL with errstr on failure. */
hd_status_t *hd_status_new_dispatcher(const hd_conf_t *conf, hd_cache_t *cache, char *errstr, size_t errstr_size);

/* The bound port. */
int hd_status_port(const hd_status_t *s);

/* Stops the server and frees it. NULL is a no-op. */
void hd_status_destroy(hd_status_t *s);

#endif
