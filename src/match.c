#include "hookd/match.h"

#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/evtype.h"
#include "hookd/log.h"
#include "hookd/map.h"
#include "hookd/notify.h"
#include "hookd/rfc3339.h"
#include "hookd/util.h"

/* One pattern of one subscription: 12 bytes (packed: a million subscriptions hold about 1.75 million), and the
 * pattern is read (through sub) only when the bucket key does not prove the type. */
typedef struct __attribute__((packed, aligned(4))) {
    const hd_sub_t *sub;
    unsigned short index; /* of the pattern in sub->event_types */
    unsigned char exact;  /* the bucket key already proves the type */
    unsigned char checks; /* statuses or filter to evaluate */
} entry_t;

/* Keys: tenant '\0' kind rest, kind '=' (rest: the exact type), 'A' (match-all patterns), 'W' (rest: the first
 * segment of a wildcard pattern), 'T' (the tenant itself: flags only). */
typedef struct {
    entry_t *entries;
    int cnt, cap;
    unsigned flags;  /* 'T' buckets: which wildcard buckets the tenant has, so lookups skip the others */
    atomic_int refs; /* snapshots holding it: a change rebuilds only its tenants' buckets, the others are shared */
} bucket_t;

#define T_ALL 1u
#define T_WILD_FIRST 2u   /* a wildcard pattern starting with "*" */
#define T_WILD_LITERAL 4u /* a wildcard pattern starting with a literal segment */

struct hd_match_s {
    atomic_int refcnt;
    hd_sub_t **subs; /* sorted by id, ids unique: hd_match_get searches it, so the id index costs no memory */
    int cnt;
    hd_map_t *by_type; /* see bucket_t */
};

static size_t make_key(char *buf, size_t buf_size, const char *tenant, char kind, const char *rest, size_t rest_len) {
    size_t tl = strlen(tenant);
    if (tl + rest_len + 2 > buf_size) return 0;
    memcpy(buf, tenant, tl + 1);
    buf[tl + 1] = kind;
    memcpy(buf + tl + 2, rest, rest_len);
    return tl + 2 + rest_len;
}

static void bucket_free(void *v) {
    bucket_t *b = v;
    if (atomic_fetch_sub(&b->refs, 1) != 1) return;
    free(b->entries);
    free(b);
}

static bucket_t *bucket_get(hd_match_t *m, const char *key, size_t len) {
    bucket_t **bp = (bucket_t **)hd_map_slot(m->by_type, key, len);
    if (!*bp) {
        *bp = hd_xcalloc(1, sizeof(**bp));
        atomic_init(&(*bp)->refs, 1);
    }
    return *bp;
}

/* Adds an entry, or with count only reserves room for it: a full index is counted first, so that every bucket is
 * allocated once at its size (growing them left the freed smaller arrays behind as holes in the heap). */
static void index_add(hd_match_t *m, const char *key, size_t len, const hd_sub_t *s, int pattern, int count) {
    bucket_t *b = bucket_get(m, key, len);
    if (count) {
        b->cap++;
        return;
    }
    if (b->cnt == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->entries = hd_xrealloc(b->entries, sizeof(*b->entries) * (size_t)b->cap);
    }
    b->entries[b->cnt++] =
        (entry_t){s, pattern, !strchr(s->event_types[pattern], '*'), s->extra->statuses_cnt || s->extra->filter};
}

static void bucket_alloc(const void *key, size_t len, void *value, void *opaque) {
    bucket_t *b = value;
    if (b->cap) b->entries = hd_xmalloc(sizeof(*b->entries) * (size_t)b->cap);
}

/* Buckets rebuilt by hd_match_apply grow by doubling; trimmed afterwards, the slack is not kept per snapshot. */
static void bucket_trim(const void *key, size_t len, void *value, void *opaque) {
    bucket_t *b = value;
    if (b->cnt && b->cnt < b->cap) {
        b->entries = hd_xrealloc(b->entries, sizeof(*b->entries) * (size_t)b->cnt);
        b->cap = b->cnt;
    }
}

/* Sorts subs by id, stably (equal ids keep their load order), with room in tmp for half of them: qsort would
 * copy the whole array into a buffer of its own, a transient of 16 MB per reload of a million subscriptions. */
static void sort_by_id(hd_sub_t **subs, int n, hd_sub_t **tmp) {
    if (n < 2) return;
    int h = n / 2, i = 0, j = h, k = 0;
    sort_by_id(subs, h, tmp);
    sort_by_id(subs + h, n - h, tmp);
    if (strcmp(subs[h - 1]->id, subs[h]->id) <= 0) return; /* in order already: a sorted source costs no copy */
    memcpy(tmp, subs, sizeof(*subs) * (size_t)h);
    while (i < h && j < n)
        subs[k++] = strcmp(subs[j]->id, tmp[i]->id) < 0 ? subs[j++] : tmp[i++];
    while (i < h)
        subs[k++] = tmp[i++];
}

/* Sorts subs by id and keeps the last of duplicates (a file may repeat an id; a later entry replaces an earlier
 * one). Returns the new count. */
static int sort_unique(hd_sub_t **subs, int cnt) {
    hd_sub_t **tmp = hd_xmalloc(sizeof(*tmp) * (size_t)(cnt / 2 + 1));
    sort_by_id(subs, cnt, tmp);
    free(tmp);
    int n = 0;
    for (int i = 0; i < cnt; i++) {
        if (i + 1 < cnt && !strcmp(subs[i]->id, subs[i + 1]->id)) {
            HD_LOG(HD_LOG_WARN, "match", HD_KV("subscription_id", subs[i]->id),
                   "duplicate subscription id: the later one replaces it");
            hd_sub_destroy(subs[i]);
            continue;
        }
        subs[n++] = subs[i];
    }
    return n;
}

/* The flag a non-'T' bucket of kind (and rest) sets in its tenant's 'T' bucket. */
static unsigned kind_flag(char kind, const char *rest) {
    return kind == 'A' ? T_ALL : kind == 'W' ? rest[0] == '*' ? T_WILD_FIRST : T_WILD_LITERAL : 0;
}

/* Adds the patterns of s (when active) to the index, or counts them (index_add). */
static void index_sub(hd_match_t *m, const hd_sub_t *s, int count) {
    char key[1024];
    if (!s->is_active) return;
    for (int t = 0; t < s->event_types_cnt; t++) {
        const char *pat = s->event_types[t];
        size_t len;
        if (hd_evtype_any(pat))
            len = make_key(key, sizeof(key), s->tenant, 'A', "", 0);
        else if (strchr(pat, '*'))
            len = make_key(key, sizeof(key), s->tenant, 'W', pat, strcspn(pat, "."));
        else
            len = make_key(key, sizeof(key), s->tenant, '=', pat, strlen(pat));
        if (!len) continue;
        index_add(m, key, len, s, t, count);
        unsigned flag = kind_flag(key[strlen(s->tenant) + 1], pat);
        len = make_key(key, sizeof(key), s->tenant, 'T', "", 0);
        bucket_get(m, key, len)->flags |= flag;
    }
}

/* Indexes subs, sorted by id with unique ids; takes them. */
static hd_match_t *index_new(hd_sub_t **subs, int cnt) {
    hd_match_t *m = hd_xcalloc(1, sizeof(*m));
    atomic_init(&m->refcnt, 1);
    m->subs = subs;
    m->cnt = cnt;
    /* Keyed by (tenant, type): far fewer keys than subscriptions; the map grows as needed. */
    m->by_type = hd_map_new(64);
    for (int i = 0; i < m->cnt; i++)
        index_sub(m, subs[i], 1);
    hd_map_foreach(m->by_type, bucket_alloc, NULL);
    for (int i = 0; i < m->cnt; i++)
        index_sub(m, subs[i], 0);
    return m;
}

hd_match_t *hd_match_new(hd_sub_t **subs, int cnt) {
    return index_new(subs, sort_unique(subs, cnt));
}

hd_match_t *hd_match_retain(hd_match_t *m) {
    if (m) atomic_fetch_add(&m->refcnt, 1);
    return m;
}

void hd_match_release(hd_match_t *m) {
    if (!m || atomic_fetch_sub(&m->refcnt, 1) != 1) return;
    hd_map_destroy(m->by_type, bucket_free);
    for (int i = 0; i < m->cnt; i++)
        hd_sub_destroy(m->subs[i]);
    free(m->subs);
    free(m);
}

static int status_ok(const hd_sub_t *s, const hd_event_t *ev) {
    if (!s->extra->statuses_cnt) return 1;
    if (!ev->status) return 0;
    for (int i = 0; i < s->extra->statuses_cnt; i++)
        if (!strcmp(s->extra->statuses[i], ev->status)) return 1;
    return 0;
}

/* Collects the bucket's subscriptions that match. A subscription whose earlier pattern also matches the type is
 * reached through that pattern instead, so each subscription is counted once without per-lookup state. */
static void collect(const hd_match_t *m, const char *key, size_t len, const hd_event_t *ev, const hd_sub_t **out,
                    int out_size, int *n) {
    const bucket_t *b = len ? hd_map_get(m->by_type, key, len) : NULL;
    for (int i = 0; b && i < b->cnt; i++) {
        const entry_t *e = &b->entries[i];
        const hd_sub_t *s = e->sub;
        if (!e->exact && !hd_evtype_match(s->event_types[e->index], ev->type)) continue;
        int earlier = 0;
        for (int j = 0; j < e->index && !earlier; j++)
            earlier = hd_evtype_match(s->event_types[j], ev->type);
        if (earlier || atomic_load(&s->disabled) ||
            (e->checks && (!status_ok(s, ev) || (s->extra->filter && !hd_filter_match(s->extra->filter, ev->root)))))
            continue;
        if (*n < out_size) out[*n] = s;
        (*n)++;
    }
}

int hd_match_find(const hd_match_t *m, const hd_event_t *ev, const hd_sub_t **out, int out_size) {
    char key[1024];
    int n = 0;
    size_t len = make_key(key, sizeof(key), ev->tenant, 'T', "", 0), first = strcspn(ev->type, ".");
    const bucket_t *tb = len ? hd_map_get(m->by_type, key, len) : NULL;
    if (!tb) return 0; /* no active subscription of this tenant */
    unsigned flags = tb->flags;
    collect(m, key, make_key(key, sizeof(key), ev->tenant, '=', ev->type, strlen(ev->type)), ev, out, out_size, &n);
    if (flags & T_ALL) collect(m, key, make_key(key, sizeof(key), ev->tenant, 'A', "", 0), ev, out, out_size, &n);
    if ((flags & T_WILD_LITERAL) && (first != 1 || ev->type[0] != '*'))
        collect(m, key, make_key(key, sizeof(key), ev->tenant, 'W', ev->type, first), ev, out, out_size, &n);
    if (flags & T_WILD_FIRST)
        collect(m, key, make_key(key, sizeof(key), ev->tenant, 'W', "*", 1), ev, out, out_size, &n);
    return n;
}

static int id_cmp(const void *id, const void *sub) {
    return strcmp(id, (*(hd_sub_t *const *)sub)->id);
}

static hd_sub_t *find_id(const hd_match_t *m, const char *id) {
    hd_sub_t *const *s = m->cnt ? bsearch(id, m->subs, (size_t)m->cnt, sizeof(*m->subs), id_cmp) : NULL;
    return s ? *s : NULL;
}

const hd_sub_t *hd_match_get(const hd_match_t *m, const char *id) {
    return find_id(m, id);
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_gone(char *const *gone, int gone_cnt, const char *id) {
    return gone_cnt && bsearch(&id, gone, (size_t)gone_cnt, sizeof(*gone), str_cmp) != NULL;
}

typedef struct {
    hd_match_t *to;
    const hd_map_t *touched;  /* tenants whose buckets are rebuilt */
    const hd_map_t *replaced; /* ids whose old entries are dropped */
} carry_t;

/* Carries one bucket of the old snapshot into the new one: shared when its tenant is untouched, else copied
 * without the entries of replaced subscriptions (and its tenant's 'T' bucket rebuilt from what remains). */
static void carry_bucket(const void *key, size_t len, void *value, void *opaque) {
    carry_t *c = opaque;
    bucket_t *b = value;
    const char *k = key;
    size_t tl = strlen(k);
    if (!hd_map_get(c->touched, k, tl)) {
        atomic_fetch_add(&b->refs, 1);
        *hd_map_slot(c->to->by_type, key, len) = b;
        return;
    }
    if (k[tl + 1] == 'T') return;
    bucket_t *nb = NULL;
    for (int i = 0; i < b->cnt; i++) {
        const char *id = b->entries[i].sub->id;
        if (hd_map_get(c->replaced, id, strlen(id))) continue;
        if (!nb) nb = bucket_get(c->to, key, len);
        if (nb->cnt == nb->cap) {
            nb->cap = nb->cap ? nb->cap * 2 : 4;
            nb->entries = hd_xrealloc(nb->entries, sizeof(*nb->entries) * (size_t)nb->cap);
        }
        nb->entries[nb->cnt++] = b->entries[i];
    }
    if (!nb) return;
    char tkey[1024];
    unsigned flag = kind_flag(k[tl + 1], k + tl + 2);
    bucket_get(c->to, tkey, make_key(tkey, sizeof(tkey), k, 'T', "", 0))->flags |= flag;
}

static void mark(hd_map_t *set, const char *s) {
    *hd_map_slot(set, s, strlen(s)) = (void *)1;
}

hd_match_t *hd_match_apply(const hd_match_t *m, hd_sub_t **subs, int cnt, char **gone, int gone_cnt) {
    cnt = sort_unique(subs, cnt);
    if (gone_cnt) qsort(gone, (size_t)gone_cnt, sizeof(*gone), str_cmp);
    int changed = 0;
    for (int i = 0; i < cnt && !changed; i++)
        changed = find_id(m, subs[i]->id) != subs[i];
    for (int i = 0; i < gone_cnt && !changed; i++)
        changed = find_id(m, gone[i]) != NULL;
    if (!changed) { /* documents read again: the subscriptions already held */
        for (int i = 0; i < cnt; i++)
            hd_sub_destroy(subs[i]);
        free(subs);
        return NULL;
    }
    /* The tenants of the written subscriptions, old and new, and of the gone ones: only their buckets change. */
    hd_map_t *touched = hd_map_new(16), *replaced = hd_map_new(16);
    for (int i = 0; i < cnt + gone_cnt; i++) {
        const char *id = i < cnt ? subs[i]->id : gone[i - cnt];
        const hd_sub_t *old = find_id(m, id);
        mark(replaced, id);
        if (old) mark(touched, old->tenant);
        if (i < cnt) mark(touched, subs[i]->tenant);
    }
    /* A merge of two id-sorted lists: the snapshot's shared subscriptions and the written ones, which replace
     * theirs. */
    hd_sub_t **out = hd_xmalloc(sizeof(*out) * (size_t)(m->cnt + cnt + 1));
    int n = 0, i = 0, j = 0;
    while (i < m->cnt || j < cnt) {
        int c = i == m->cnt ? 1 : j == cnt ? -1 : strcmp(m->subs[i]->id, subs[j]->id);
        if (c > 0) {
            out[n++] = subs[j++];
            continue;
        }
        if (c < 0 && !is_gone(gone, gone_cnt, m->subs[i]->id)) out[n++] = hd_sub_retain(m->subs[i]);
        i++;
    }
    hd_match_t *to = hd_xcalloc(1, sizeof(*to));
    atomic_init(&to->refcnt, 1);
    to->subs = hd_xrealloc(out, sizeof(*out) * (size_t)(n + 1));
    to->cnt = n;
    to->by_type = hd_map_new(hd_map_count(m->by_type));
    carry_t carry = {to, touched, replaced};
    hd_map_foreach(m->by_type, carry_bucket, &carry);
    for (int k = 0; k < cnt; k++)
        index_sub(to, subs[k], 0);
    /* Only the rebuilt buckets have slack; the shared ones were trimmed when built, so this leaves them be. */
    hd_map_foreach(to->by_type, bucket_trim, NULL);
    hd_map_destroy(touched, NULL);
    hd_map_destroy(replaced, NULL);
    free(subs);
    return to;
}

int hd_match_count(const hd_match_t *m) {
    return m->cnt;
}

/* ---- the refreshing cache ---- */

/* A change the cache's thread writes to the store: a disable (reason set), or the start of a subscription's run
 * of failures (failing_since_ms; 0: it succeeds again). */
typedef struct change_s {
    char *id, *name, *tenant, *url, *reason;
    char **emails; /* NULL unless the subscription asked for notification */
    int emails_cnt;
    int64_t failing_since_ms;
    int failed; /* attempts the store refused */
    struct change_s *next;
} change_t;

/* A run of failures is written to the store once it has lasted this long: blips cost no write. */
#define FAILING_STORE_AFTER_MS 10000

struct hd_match_cache_s {
    hd_store_t *store;
    char *smtp_url, *smtp_from;
    change_t *changes, **changes_tail; /* oldest first; guarded by lock */
    int64_t refresh_ms, full_reload_ms;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    pthread_t thread;
    hd_match_t *current;    /* guarded by lock */
    int64_t looked_us;      /* the last successful look at the store; guarded by lock */
    int64_t looked_from_ms; /* the wall clock when that look started; guarded by lock */
    int64_t full_us;        /* the last full load (the refresher's own) */
    int wake;               /* look now (hd_match_cache_seen); guarded by lock */
};

/* The current snapshot's subscription with this id when its document is unchanged: shared with the new snapshot,
 * so that a reload does not hold two copies of every subscription. */
static hd_sub_t *reuse_sub(void *opaque, const char *id, uint64_t digest) {
    hd_sub_t *s = opaque ? find_id(opaque, id) : NULL;
    return s && s->digest == digest ? hd_sub_retain(s) : NULL;
}

/* Installs m (NULL: the store was read, nothing changed) as the current snapshot of a look started at from_ms. */
static void install(hd_match_cache_t *c, hd_match_t *m, int64_t from_ms) {
    pthread_mutex_lock(&c->lock);
    hd_match_t *old = m ? c->current : NULL;
    if (m) c->current = m;
    c->looked_us = hd_mono_us();
    c->looked_from_ms = from_ms;
    pthread_mutex_unlock(&c->lock);
    hd_match_release(old);
}

/* A full load applied to cur as its differences (hd_match_apply): the subscriptions the store no longer holds are
 * gone, the others written; the unchanged ones are cur's own (reuse_sub). So the reload builds no second index,
 * only the buckets of the tenants that changed, and returns NULL when nothing did. Takes subs. */
static hd_match_t *apply_load(const hd_match_t *cur, hd_sub_t **subs, int cnt) {
    cnt = sort_unique(subs, cnt);
    char **gone = NULL;
    int written = 0, gone_cnt = 0, gone_cap = 0, i = 0, j = 0;
    while (i < cur->cnt || j < cnt) {
        int c = i == cur->cnt ? 1 : j == cnt ? -1 : strcmp(cur->subs[i]->id, subs[j]->id);
        if (c < 0) {
            if (gone_cnt == gone_cap) {
                gone_cap = gone_cap ? gone_cap * 2 : 16;
                gone = hd_xrealloc(gone, sizeof(*gone) * (size_t)gone_cap);
            }
            gone[gone_cnt++] = (char *)cur->subs[i++]->id; /* only compared */
            continue;
        }
        if (c == 0 && cur->subs[i++] == subs[j]) {
            hd_sub_destroy(subs[j++]); /* the reference reuse_sub took: cur's stays */
            continue;
        }
        subs[written++] = subs[j++];
    }
    hd_match_t *m = hd_match_apply(cur, subs, written, gone, gone_cnt);
    free(gone);
    return m;
}

/* glibc's default M_MXFAST (mallopt(3)). */
#define MXFAST_DEFAULT (64 * sizeof(size_t) / 4)

static int reload(hd_match_cache_t *c, int *loaded, char *errstr, size_t errstr_size) {
    hd_sub_t **subs;
    int cnt;
    int64_t from_ms = hd_now_ms();
    hd_match_t *cur = hd_match_cache_get(c);
    /* Without fast bins, each document's freed parse tree coalesces at once instead of leaving holes between the
     * subscriptions kept: 47 MB of free fragments in the heap after loading a million, 0.1 MB without. */
    mallopt(M_MXFAST, 0);
    int rc = hd_store_load(c->store, reuse_sub, cur, &subs, &cnt, errstr, errstr_size);
    mallopt(M_MXFAST, MXFAST_DEFAULT);
    if (rc) {
        hd_match_release(cur);
        return -1;
    }
    hd_match_t *m = cur ? apply_load(cur, subs, cnt) : hd_match_new(subs, cnt);
    *loaded = (m ? m : cur)->cnt;
    install(c, m, from_ms);
    hd_match_release(cur);
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
static int refresh(hd_match_cache_t *c, char *errstr, size_t errstr_size) {
    hd_store_changes_t ch;
    int loaded;
    int64_t from_ms = hd_now_ms(), from_us = hd_mono_us(), cpu_us = thread_cpu_us();
    hd_match_t *cur = hd_match_cache_get(c);
    int rc = hd_store_changes(c->store, reuse_sub, cur, &ch, errstr, errstr_size);
    if (rc == 0 && (ch.reload || (c->full_reload_ms && hd_mono_us() - c->full_us >= c->full_reload_ms * 1000))) {
        hd_store_changes_clear(&ch);
        hd_match_release(cur);
        if ((rc = reload(c, &loaded, errstr, errstr_size)) == 0)
            HD_LOG(HD_LOG_INFO, "match", NULL, "subscriptions reloaded: %d in %.1f ms (%.1f ms CPU)", loaded,
                   (hd_mono_us() - from_us) / 1000.0, (thread_cpu_us() - cpu_us) / 1000.0);
        return rc;
    }
    if (rc == 0) {
        int written = ch.cnt, gone = ch.gone_cnt;
        hd_match_t *m = hd_match_apply(cur, ch.subs, ch.cnt, ch.gone, ch.gone_cnt);
        ch.subs = NULL; /* taken by hd_match_apply */
        ch.cnt = 0;
        install(c, m, from_ms);
        HD_LOG(m ? HD_LOG_INFO : HD_LOG_DEBUG, "match", NULL,
               "subscription changes: %d written, %d gone, %lld documents read in %.1f ms (%.1f ms CPU)%s", written,
               gone, (long long)ch.read, (hd_mono_us() - from_us) / 1000.0, (thread_cpu_us() - cpu_us) / 1000.0,
               m ? "" : ", none new");
        hd_store_changes_clear(&ch);
    }
    hd_match_release(cur);
    return rc;
}

static void change_free(change_t *d) {
    free(d->id);
    free(d->name);
    free(d->tenant);
    free(d->url);
    free(d->reason);
    for (int i = 0; i < d->emails_cnt; i++)
        free(d->emails[i]);
    free(d->emails);
    free(d);
}

/* Runs on the cache's thread: the store write and the e-mail may block, the delivery loop must not. Returns -1 when
 * the store is away (the change is then kept and tried again); a write the server refuses is logged and dropped,
 * since trying it again would only hold up the changes behind it. */
static int apply_change(hd_match_cache_t *c, change_t *d) {
    char err[512];
    int rc = d->reason ? hd_store_disable(c->store, d->id, d->reason, err, sizeof(err))
                       : hd_store_set_failing(c->store, d->id, d->failing_since_ms, err, sizeof(err));
    if (rc == -1) {
        if (!d->failed++)
            HD_LOG(HD_LOG_ERROR, "match", HD_KV("subscription_id", d->id),
                   "%s; kept, and written once the store answers again", err);
        return -1;
    }
    if (rc < 0) {
        HD_LOG(HD_LOG_ERROR, "match", HD_KV("subscription_id", d->id), "%s", err);
        return 0;
    }
    if (d->failed)
        HD_LOG(HD_LOG_INFO, "match", HD_KV("subscription_id", d->id), "%s written after %d failed attempt(s)",
               d->reason ? "disable" : "failure run", d->failed);
    if (!d->reason) return 0;
    if (rc > 0)
        HD_LOG(HD_LOG_WARN, "match", HD_KV("subscription_id", d->id),
               "the file store is read-only: the subscription stays disabled until restart; edit the file");
    if (!d->emails_cnt || !c->smtp_url || !*c->smtp_url) return 0;
    char subject[512], body[4096], at[HD_RFC3339_SIZE], *name = hd_notify_one_line(d->name);
    hd_rfc3339_format(hd_now_ms(), at);
    snprintf(subject, sizeof(subject), "Webhook subscription \"%s\" was disabled", name);
    snprintf(body, sizeof(body),
             "hookd disabled the webhook subscription %s (\"%s\", tenant %s) at %s. It delivered to\n%s\n\n"
             "Reason: %s\n\nNothing is delivered to it until it is re-enabled. Fix the endpoint, then re-enable the "
             "subscription through the management API:\n\n  PATCH /v1/webhooks/subscriptions/%s\n  "
             "{\"is_active\": true}\n\n(or a PUT with \"is_active\": true), which also clears disabled_reason, "
             "disabled_at and failing_since.\n",
             d->id, name, d->tenant, at, d->url, d->reason, d->id);
    free(name);
    int sent = hd_notify_email(c->smtp_url, c->smtp_from, d->emails, d->emails_cnt, subject, body, err, sizeof(err));
    if (sent < 0)
        HD_LOG(HD_LOG_ERROR, "match", HD_KV("subscription_id", d->id), "notification e-mail failed: %s", err);
    else
        HD_LOG(HD_LOG_INFO, "match", HD_KV("subscription_id", d->id),
               "notification e-mail sent to %d of %d address(es)", sent, d->emails_cnt);
    return 0;
}

/* Applies the changes in order. On a store error the rest (that change first) is returned, to be tried again in the
 * same order: a disable or a failure run decided while the store is away must not be lost. */
static change_t *apply_changes(hd_match_cache_t *c, change_t *list) {
    for (change_t *d = list, *n; d; d = n) {
        n = d->next;
        if (apply_change(c, d)) return d;
        change_free(d);
    }
    return NULL;
}

/* now + ms on the clock pthread_cond_timedwait uses */
static struct timespec deadline_in(int64_t ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    int64_t ns = t.tv_nsec + ms % 1000 * 1000000;
    t.tv_sec += ms / 1000 + ns / 1000000000;
    t.tv_nsec = ns % 1000000000;
    return t;
}

static void *refresher(void *arg) {
    hd_match_cache_t *c = arg;
    char err[512];
    /* held: changes kept while the store is away wait for the next interval, not a busy loop */
    int failing = 0, held = 0;
    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        struct timespec until = deadline_in(c->refresh_ms);
        if ((!c->changes || held) && !c->wake) pthread_cond_timedwait(&c->cond, &c->lock, &until);
        if (c->stop) break;
        c->wake = 0;
        change_t *todo = c->changes;
        c->changes = NULL;
        c->changes_tail = &c->changes;
        pthread_mutex_unlock(&c->lock);
        change_t *left = apply_changes(c, todo);
        pthread_mutex_lock(&c->lock);
        if ((held = left != NULL)) { /* back in front of what arrived meanwhile */
            change_t **tail = &left;
            while (*tail)
                tail = &(*tail)->next;
            *tail = c->changes;
            if (!c->changes) c->changes_tail = tail;
            c->changes = left;
        }
        pthread_mutex_unlock(&c->lock);

        int rc = refresh(c, err, sizeof(err));
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

hd_match_cache_t *hd_match_cache_new(hd_store_t *store, int64_t refresh_ms, int64_t full_reload_ms, char *errstr,
                                     size_t errstr_size) {
    hd_match_cache_t *c = hd_xcalloc(1, sizeof(*c));
    c->store = store;
    c->refresh_ms = refresh_ms;
    c->full_reload_ms = full_reload_ms;
    c->changes_tail = &c->changes;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    int loaded;
    int64_t from_us = hd_mono_us();
    if (reload(c, &loaded, errstr, errstr_size)) goto fail;
    HD_LOG(HD_LOG_INFO, "match", NULL, "subscriptions loaded: %d in %.1f ms", loaded,
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

void hd_match_cache_destroy(hd_match_cache_t *c) {
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    hd_match_release(c->current);
    /* Decided before the stop: still persist them, once; a store still away at exit loses them (logged). */
    change_t *left = apply_changes(c, c->changes);
    int lost = 0;
    for (change_t *n; left; left = n, lost++) {
        n = left->next;
        change_free(left);
    }
    if (lost)
        HD_LOG(HD_LOG_ERROR, "match", NULL, "%d subscription change(s) not written: the store is away at shutdown",
               lost);
    free(c->smtp_url);
    free(c->smtp_from);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    free(c);
}

void hd_match_cache_set_smtp(hd_match_cache_t *c, const char *smtp_url, const char *from) {
    pthread_mutex_lock(&c->lock);
    free(c->smtp_url);
    free(c->smtp_from);
    c->smtp_url = hd_xstrdup(smtp_url);
    c->smtp_from = hd_xstrdup(from);
    pthread_mutex_unlock(&c->lock);
}

static void push_change(hd_match_cache_t *c, change_t *d) {
    pthread_mutex_lock(&c->lock);
    *c->changes_tail = d;
    c->changes_tail = &d->next;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

int hd_match_cache_disable(hd_match_cache_t *c, const hd_sub_t *sub, const char *reason) {
    /* One of the fields of a snapshot that change after load; atomic, so the cast is safe. */
    if (atomic_exchange(&((hd_sub_t *)sub)->disabled, 1)) return 0;
    change_t *d = hd_xcalloc(1, sizeof(*d));
    d->id = hd_xstrdup(sub->id);
    d->name = hd_xstrdup(sub->name);
    d->tenant = hd_xstrdup(sub->tenant);
    d->url = hd_xstrdup(sub->url);
    d->reason = hd_xstrdup(reason);
    const hd_sub_extra_t *x = sub->extra;
    if (x->notify && x->notification_emails_cnt) {
        d->emails = hd_xcalloc((size_t)x->notification_emails_cnt, sizeof(char *));
        for (int i = 0; i < x->notification_emails_cnt; i++)
            d->emails[i] = hd_xstrdup(x->notification_emails[i]);
        d->emails_cnt = x->notification_emails_cnt;
    }
    push_change(c, d);
    return 1;
}

static void push_failing(hd_match_cache_t *c, const hd_sub_t *sub, int64_t since_ms) {
    change_t *d = hd_xcalloc(1, sizeof(*d));
    d->id = hd_xstrdup(sub->id);
    d->failing_since_ms = since_ms;
    push_change(c, d);
}

int64_t hd_match_cache_attempted(hd_match_cache_t *c, const hd_sub_t *sub, int failed, int64_t now_ms) {
    hd_sub_t *s = (hd_sub_t *)sub; /* only its atomic fields are written */
    if (!failed) {
        if (!atomic_load(&s->failing_since_ms)) return 0;
        atomic_store(&s->failing_since_ms, 0);
        if (atomic_exchange(&s->failing_stored, 0)) push_failing(c, sub, 0);
        return 0;
    }
    int64_t since = 0;
    if (atomic_compare_exchange_strong(&s->failing_since_ms, &since, now_ms)) return now_ms;
    if (now_ms - since >= FAILING_STORE_AFTER_MS && !atomic_exchange(&s->failing_stored, 1))
        push_failing(c, sub, since);
    return since;
}

int hd_match_cache_seen(hd_match_cache_t *c, int64_t after_ms) {
    pthread_mutex_lock(&c->lock);
    int seen = c->looked_from_ms > after_ms;
    if (!seen && !c->wake) {
        c->wake = 1;
        pthread_cond_signal(&c->cond);
    }
    pthread_mutex_unlock(&c->lock);
    return seen;
}

hd_match_t *hd_match_cache_get(hd_match_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    hd_match_t *m = hd_match_retain(c->current);
    pthread_mutex_unlock(&c->lock);
    return m;
}

int64_t hd_match_cache_age_ms(hd_match_cache_t *c) {
    pthread_mutex_lock(&c->lock);
    int64_t age = (hd_mono_us() - c->looked_us) / 1000;
    pthread_mutex_unlock(&c->lock);
    return age;
}
