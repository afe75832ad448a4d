#include "hookd/workers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "hookd/cache.h"
#include "hookd/health.h"
#include "hookd/mongo.h"
#include "hookd/status.h"
#include "hookd/store.h"
#include "hookd/util.h"

typedef struct {
    hd_dispatch_t *w;
    pthread_t thread;
    atomic_int *stop;
    int rc;
} worker_t;

struct hd_workers_s {
    hd_store_t *store;
    hd_cache_t *cache;
    hd_health_t *health;
    hd_status_t *status;
    worker_t *workers;
    int cnt, started;
};

hd_workers_t *hd_workers_new(const hd_conf_t *conf, const hd_dispatch_replay_t *replay, char *errstr,
                             size_t errstr_size) {
    hd_workers_t *ws = hd_xcalloc(1, sizeof(*ws));
    ws->cnt = replay ? 1 : hd_conf_workers(conf);
    ws->workers = hd_xcalloc((size_t)ws->cnt, sizeof(*ws->workers));
    if (!(ws->store = hd_store_new(conf->store, conf->mongo_database, errstr, errstr_size))) goto fail;
    if (hd_store_use_master_key(ws->store, conf->master_key, errstr, errstr_size)) goto fail;
    if (hd_store_mongo(ws->store)) hd_mongo_ensure_indexes(hd_store_mongo(ws->store));
    ws->cache = hd_cache_new(ws->store, conf->refresh_ms, conf->full_reload_ms, errstr, errstr_size);
    if (!ws->cache) goto fail;
    ws->health = hd_health_new(hd_health_store_sink(ws->store), conf->refresh_ms, conf->smtp_url, conf->smtp_from,
                               errstr, errstr_size);
    if (!ws->health) goto fail;
    if (!replay && *conf->metrics_listen &&
        !(ws->status = hd_status_new_dispatcher(conf, ws->cache, errstr, errstr_size)))
        goto fail;
    for (int i = 0; i < ws->cnt; i++) {
        ws->workers[i].w = replay ? hd_dispatch_new_replay(conf, ws->cache, ws->health, replay, errstr, errstr_size)
                                  : hd_dispatch_new(conf, ws->cache, ws->health, i, errstr, errstr_size);
        if (!ws->workers[i].w) goto fail;
    }
    return ws;

fail:
    hd_workers_destroy(ws);
    return NULL;
}

int hd_workers_count(const hd_workers_t *ws) {
    return ws->cnt;
}

static void *run_worker(void *arg) {
    worker_t *wk = arg;
    wk->rc = hd_dispatch_run(wk->w, wk->stop);
    if (wk->rc) atomic_store(wk->stop, 1);
    return NULL;
}

int hd_workers_start(hd_workers_t *ws, atomic_int *stop, char *errstr, size_t errstr_size) {
    for (; ws->started < ws->cnt; ws->started++) {
        ws->workers[ws->started].stop = stop;
        if (pthread_create(&ws->workers[ws->started].thread, NULL, run_worker, &ws->workers[ws->started])) {
            snprintf(errstr, errstr_size, "cannot start worker thread %d", ws->started);
            atomic_store(stop, 1);
            return -1;
        }
    }
    return 0;
}

int hd_workers_join(hd_workers_t *ws) {
    int rc = ws->started == ws->cnt ? 0 : -1;
    for (int i = 0; i < ws->started; i++) {
        pthread_join(ws->workers[i].thread, NULL);
        if (ws->workers[i].rc) rc = -1;
    }
    ws->started = 0;
    return rc;
}

void hd_workers_stats(const hd_workers_t *ws, hd_dispatch_stats_t *total) {
    *total = (hd_dispatch_stats_t){0};
    for (int i = 0; i < ws->cnt; i++) {
        hd_dispatch_stats_t st;
        hd_dispatch_stats(ws->workers[i].w, &st);
        total->consumed += st.consumed;
        total->deadlettered += st.deadlettered;
        total->deliveries += st.deliveries;
        total->succeeded += st.succeeded;
        total->failed += st.failed;
        total->retries += st.retries;
        total->parked += st.parked;
        total->dropped_revoked += st.dropped_revoked;
    }
}

void hd_workers_destroy(hd_workers_t *ws) {
    if (!ws) return;
    hd_status_destroy(ws->status); /* it reads the cache */
    for (int i = 0; i < ws->cnt; i++)
        hd_dispatch_destroy(ws->workers[i].w);
    free(ws->workers);
    hd_health_destroy(ws->health); /* after the workers, before the cache */
    hd_cache_destroy(ws->cache);
    hd_store_destroy(ws->store);
    free(ws);
}
