#include "hookd/cache.h"

#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hookd/log.h"
#include "hookd/util.h"

struct hd_cache_s {
    hd_store_t *store;
    int64_t refresh_ms, full_reload_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    pthread_t thread;
    hd_match_t *current;    /* guarded by lock */
    int64_t looked_us;      /* the last successful look at the store; guarded by lock */
    int64_t looked_from_ms; /* the wall clock when that look started; guarded by lock */
    int64_t full_us;        /* the last full load (the refresher's own) */
    int wake;               /* look now (hd_cache_seen); guarded by lock */
};

/* The store's reuse callback: the current snapshot's subscription when its document is unchanged, so that a load
 * does not hold two copies of every subscription. */
static hd_sub_t *reuse_sub(void *opaque, const char *id, uint64_t digest) {
    return opaque ? hd_match_shared(opaque, id, digest) : NULL;
}

/* Installs m (NULL: the store was read, nothing changed) as the current snapshot of a look started at from_ms. */
static void install(hd_cache_t *c, hd_match_t *m, int64_t from_ms) {
    pthread_mutex_lock(&c->lock);
    hd_match_t *old = m ? c->current : NULL;
    if (m) c->current = m;
    c->looked_us = hd_mono_us();
    c->looked_from_ms = from_ms;
    pthread_mutex_unlock(&c->lock);
    hd_match_release(old);
}

/* glibc's default M_MXFAST (mallopt(3)). */
#define MXFAST_DEFAULT (64 * sizeof(size_t) / 4)

static int reload(hd_cache_t *c, int *loaded, char *errstr, size_t errstr_size) {
    hd_sub_t **subs;
    int cnt;
    int64_t from_ms = hd_now_ms();
    hd_match_t *cur = hd_cache_get(c);
    /* Without fast bins, each document's freed parse tree coalesces at once instead of leaving holes between the
     * subscriptions kept: 47 MB of free fragments in the heap after loading a million, 0.1 MB without. */
    mallopt(M_MXFAST, 0);
    int rc = hd_store_load(c->store, reuse_sub, cur, &subs, &cnt, errstr, errstr_size);
    mallopt(M_MXFAST, MXFAST_DEFAULT);
    if (rc) {
        hd_match_release(cur);
        return -1;
    }
    hd_match_t *m = hd_match_reload(cur, subs, cnt);
    *loaded = hd_match_count(m ? m : cur); /* NULL: cur holds exactly what was loaded */
    hd_match_release(cur);
    install(c, m, from_ms);
    c->full_us = hd_mono_us();
    malloc_trim(0); /* hand the parsed documents' memory back: a reload must not leave RSS at its peak */
    return 0;
}

static int64_t thread_cpu_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* One look at the store: its changes applied to the snapshot, or everything loaded when the store cannot list
 * them or the safety net's full reload is due. Logs what it took: wall time and this thread's CPU. */
static int refresh(hd_cache_t *c, char *errstr, size_t errstr_size) {
    hd_store_changes_t ch;
    int loaded;
    int64_t from_ms = hd_now_ms(), from_us = hd_mono_us(), cpu_us = thread_cpu_us();
    hd_match_t *cur = hd_cache_get(c);
    int rc = hd_store_changes(c->store, reuse_sub, cur, &ch, errstr, errstr_size);
    if (rc == 0 && (ch.reload || (c->full_reload_ms && hd_mono_us() - c->full_us >= c->full_reload_ms * 1000))) {
        hd_store_changes_clear(&ch);
        hd_match_release(cur);
        if ((rc = reload(c, &loaded, errstr, errstr_size)) == 0)
            HD_LOG(HD_LOG_INFO, "cache", NULL, "subscriptions reloaded: %d in %.1f ms (%.1f ms CPU)", loaded,
                   (hd_mono_us() - from_us) / 1000.0, (thread_cpu_us() - cpu_us) / 1000.0);
        return rc;
    }
    if (rc == 0) {
        int written = ch.cnt, gone = ch.gone_cnt;
        hd_match_t *m = hd_match_apply(cur, ch.subs, ch.cnt, ch.gone, ch.gone_cnt);
        ch.subs = NULL; /* taken by hd_match_apply */
        ch.cnt = 0;
        install(c, m, from_ms);
        HD_LOG(m ? HD_LOG_INFO : HD_LOG_DEBUG, "cache", NULL,
               "subscription changes: %d written, %d gone, %lld documents read in %.1f ms (%.1f ms CPU)%s", written,
               gone, (long long)ch.read, (hd_mono_us() - from_us) / 1000.0, (thread_cpu_us() - cpu_us) / 1000.0,
               m ? "" : ", none new");
        hd_store_changes_clear(&ch);
    }
    hd_match_release(cur);
    return rc;
}

static void *refresher(void *arg) {
    hd_cache_t *c = arg;
    char err[512];
    int failing = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec until = hd_deadline_in(c->refresh_ms);
        if (!c->wake) pthread_cond_timedwait(&c->cond, &c->lock, &until);
        if (c->stop) break;
        c->wake = 0;
        pthread_mutex_unlock(&c->lock);
        int rc = refresh(c, err, sizeof(err));
        if (rc && !failing)
            HD_LOG(HD_LOG_ERROR, "cache", NULL, "subscription refresh failed, keeping the last snapshot: %s", err);
        else if (!rc && failing)
            HD_LOG(HD_LOG_INFO, "cache", NULL, "subscription store reachable again");
        failing = rc != 0;
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

hd_cache_t *hd_cache_new(hd_store_t *store, int64_t refresh_ms, int64_t full_reload_ms, char *errstr,
                         size_t errstr_size) {
    hd_cache_t *c = hd_xcalloc(1, sizeof(*c));
    c->store = store;
    c->refresh_ms = refresh_ms;
    c->full_reload_ms = full_reload_ms;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int loaded;
    int64_t from_us = hd_mono_us();
    if (reload(c, &loaded, errstr, errstr_size)) goto fail;
    HD_LOG(HD_LOG_INFO, "cache", NULL, "subscriptions loaded: %d in %.1f ms", loaded,
           (hd_mono_us() - from_us) / 1000.0);
    if (pthread_create(&c->thread, NULL, refresher, c)) {
        snprintf(errstr, errstr_size, "cannot start the subscription refresher thread");
        goto fail;
    }
    return c;

fail:
    hd_match_release(c->current);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
    return NULL;
}

void hd_cache_destroy(hd_cache_t *c) {
    if (!c) return;
    hd_thread_stop(c->thread, &c->lock, &c->cond, &c->stop);
    hd_match_release(c->current);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

int hd_cache_seen(hd_cache_t *c, int64_t after_ms) {
    pthread_mutex_lock(&c->lock);
    int seen = c->looked_from_ms > after_ms;
    if (!seen && !c->wake) {
        c->wake = 1;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    return seen;
}

hd_match_t *hd_cache_get(hd_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    hd_match_t *m = hd_match_retain(c->current);
    pthread_mutex_unlock(&c->lock);
    return m;
}

int64_t hd_cache_age_ms(hd_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    int64_t age = (hd_mono_us() - c->looked_us) / 1000;
    pthread_mutex_unlock(&c->lock);
    return age;
}
