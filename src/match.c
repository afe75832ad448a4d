#include "hookd/match.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/log.h"
#include "hookd/util.h"

typedef struct {
    char *key; /* tenant '\0' type */
    size_t key_len;
    const hd_sub_t **subs;
    int cnt, cap;
} bucket_t;

struct hd_match_s {
    atomic_int refcnt;
    hd_sub_t **subs;
    int cnt;
    bucket_t *buckets; /* open addressing, power-of-two size */
    size_t mask;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

/* SipHash with a per-snapshot random key: tenants and event types come from outside and must not be able to
 * degrade the table into a list. */
static uint64_t hash(const hd_match_t *m, const char *key, size_t len) {
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)key, len, m->hash_key);
    memcpy(&v, h, sizeof(v));
    return v;
}

static size_t make_key(char *buf, size_t buf_size, const char *tenant, const char *type) {
    size_t tl = strlen(tenant), yl = strlen(type);
    if (tl + yl + 1 > buf_size) return 0;
    memcpy(buf, tenant, tl + 1);
    memcpy(buf + tl + 1, type, yl);
    return tl + 1 + yl;
}

static bucket_t *slot(const hd_match_t *m, const char *key, size_t len) {
    for (size_t i = hash(m, key, len) & m->mask;; i = (i + 1) & m->mask) {
        bucket_t *b = &m->buckets[i];
        if (!b->key || (b->key_len == len && !memcmp(b->key, key, len))) return b;
    }
}

hd_match_t *hd_match_new(hd_sub_t **subs, int cnt) {
    hd_match_t *m = hd_xcalloc(1, sizeof(*m));
    atomic_init(&m->refcnt, 1);
    m->subs = subs;
    m->cnt = cnt;
    randombytes_buf(m->hash_key, sizeof(m->hash_key));
    size_t want = 16, entries = 0;
    for (int i = 0; i < cnt; i++) entries += (size_t)subs[i]->event_types_cnt;
    while (want < entries * 2) want <<= 1;
    m->buckets = hd_xcalloc(want, sizeof(bucket_t));
    m->mask = want - 1;

    char key[1024];
    for (int i = 0; i < cnt; i++) {
        const hd_sub_t *s = subs[i];
        if (!s->is_active) continue;
        for (int t = 0; t < s->event_types_cnt; t++) {
            size_t len = make_key(key, sizeof(key), s->tenant, s->event_types[t]);
            if (!len) continue;
            bucket_t *b = slot(m, key, len);
            if (!b->key) {
                b->key = hd_xstrndup(key, len);
                b->key_len = len;
            } else if (b->cnt && b->subs[b->cnt - 1] == s) {
                continue; /* the same type listed twice: deliver once */
            }
            if (b->cnt == b->cap) {
                b->cap = b->cap ? b->cap * 2 : 4;
                b->subs = hd_xrealloc(b->subs, sizeof(*b->subs) * (size_t)b->cap);
            }
            b->subs[b->cnt++] = s;
        }
    }
    return m;
}

hd_match_t *hd_match_retain(hd_match_t *m) {
    if (m) atomic_fetch_add(&m->refcnt, 1);
    return m;
}

void hd_match_release(hd_match_t *m) {
    if (!m || atomic_fetch_sub(&m->refcnt, 1) != 1) return;
    for (size_t i = 0; i <= m->mask; i++) {
        free(m->buckets[i].key);
        free(m->buckets[i].subs);
    }
    free(m->buckets);
    for (int i = 0; i < m->cnt; i++) hd_sub_destroy(m->subs[i]);
    free(m->subs);
    free(m);
}

int hd_match_find(const hd_match_t *m, const char *tenant, const char *type, const hd_sub_t **out, int out_size) {
    char key[1024];
    size_t len = make_key(key, sizeof(key), tenant, type);
    if (!len) return 0;
    const bucket_t *b = slot(m, key, len);
    if (!b->key) return 0;
    for (int i = 0; i < b->cnt && i < out_size; i++) out[i] = b->subs[i];
    return b->cnt;
}

int hd_match_count(const hd_match_t *m) {
    return m->cnt;
}

/* ---- the refreshing cache ---- */

#define FULL_RELOAD_US (60 * 1000000LL)

struct hd_match_cache_s {
    hd_store_t *store;
    int64_t refresh_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    pthread_t thread;
    hd_match_t *current; /* guarded by lock */
    int64_t loaded_us;   /* guarded by lock */
    uint64_t fingerprint;
};

static int reload(hd_match_cache_t *c, int *loaded, char *errstr, size_t errstr_size) {
    hd_sub_t **subs;
    int cnt;
    uint64_t fp;
    /* Fingerprint first: a change landing during the load is then seen again by the next poll. */
    if (hd_store_fingerprint(c->store, &fp, errstr, errstr_size)) return -1;
    if (hd_store_load(c->store, &subs, &cnt, errstr, errstr_size)) return -1;
    hd_match_t *m = hd_match_new(subs, cnt), *old;
    *loaded = cnt;
    pthread_mutex_lock(&c->lock);
    old = c->current;
    c->current = m;
    c->loaded_us = hd_mono_us();
    c->fingerprint = fp;
    pthread_mutex_unlock(&c->lock);
    hd_match_release(old);
    return 0;
}

static void *refresher(void *arg) {
    hd_match_cache_t *c = arg;
    char err[512];
    int failing = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = until.tv_nsec + (c->refresh_ms % 1000) * 1000000;
        until.tv_sec += c->refresh_ms / 1000 + ns / 1000000000;
        until.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&c->cond, &c->lock, &until);
        if (c->stop) break;
        int64_t loaded_us = c->loaded_us;
        uint64_t known = c->fingerprint;
        pthread_mutex_unlock(&c->lock);

        uint64_t fp;
        int rc = hd_store_fingerprint(c->store, &fp, err, sizeof(err));
        if (rc == 0 && (fp != known || hd_mono_us() - loaded_us > FULL_RELOAD_US)) {
            int loaded;
            rc = reload(c, &loaded, err, sizeof(err));
            if (rc == 0 && fp != known) HD_LOG(HD_LOG_INFO, "match", NULL, "subscriptions reloaded: %d", loaded);
        }
        if (rc && !failing)
            HD_LOG(HD_LOG_ERROR, "match", NULL, "subscription refresh failed, keeping the last snapshot: %s", err);
        else if (!rc && failing)
            HD_LOG(HD_LOG_INFO, "match", NULL, "subscription store reachable again");
        failing = rc != 0;
        pthread_mutex_lock(&c->lock);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

hd_match_cache_t *hd_match_cache_new(hd_store_t *store, int64_t refresh_ms, char *errstr, size_t errstr_size) {
    hd_match_cache_t *c = hd_xcalloc(1, sizeof(*c));
    c->store = store;
    c->refresh_ms = refresh_ms;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int loaded;
    if (reload(c, &loaded, errstr, errstr_size)) goto fail;
    HD_LOG(HD_LOG_INFO, "match", NULL, "subscriptions loaded: %d", loaded);
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

void hd_match_cache_destroy(hd_match_cache_t *c) {
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    hd_match_release(c->current);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

hd_match_t *hd_match_cache_get(hd_match_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    hd_match_t *m = hd_match_retain(c->current);
    pthread_mutex_unlock(&c->lock);
    return m;
}

int64_t hd_match_cache_age_ms(hd_match_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    int64_t age = (hd_mono_us() - c->loaded_us) / 1000;
    pthread_mutex_unlock(&c->lock);
    return age;
}
