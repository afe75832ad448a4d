#include "hookd/match.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/evtype.h"
#include "hookd/log.h"
#include "hookd/map.h"
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

hd_match_t *hd_match_reload(const hd_match_t *m, hd_sub_t **subs, int cnt) {
    if (!m) return hd_match_new(subs, cnt);
    /* Applied to m as its differences: the subscriptions no longer loaded are gone, the others written; the
     * unchanged ones are m's own (hd_match_shared). So the reload builds no second index, only the buckets of
     * the tenants that changed. */
    cnt = sort_unique(subs, cnt);
    char **gone = NULL;
    int written = 0, gone_cnt = 0, gone_cap = 0, i = 0, j = 0;
    while (i < m->cnt || j < cnt) {
        int c = i == m->cnt ? 1 : j == cnt ? -1 : strcmp(m->subs[i]->id, subs[j]->id);
        if (c < 0) {
            if (gone_cnt == gone_cap) {
                gone_cap = gone_cap ? gone_cap * 2 : 16;
                gone = hd_xrealloc(gone, sizeof(*gone) * (size_t)gone_cap);
            }
            gone[gone_cnt++] = (char *)m->subs[i++]->id; /* only compared */
            continue;
        }
        if (c == 0 && m->subs[i++] == subs[j]) {
            hd_sub_destroy(subs[j++]); /* the reference hd_match_shared took: m's stays */
            continue;
        }
        subs[written++] = subs[j++];
    }
    hd_match_t *n = hd_match_apply(m, subs, written, gone, gone_cnt);
    free(gone);
    return n;
}

hd_sub_t *hd_match_shared(const hd_match_t *m, const char *id, uint64_t digest) {
    hd_sub_t *s = find_id(m, id);
    return s && s->digest == digest ? hd_sub_retain(s) : NULL;
}
