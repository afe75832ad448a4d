#include "hookd/intern.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

/* One shared block, chained in its hash bucket. data holds, for a list, the array of pointers followed by the
 * strings; for a string, the string. The key (what equality compares) is the strings' bytes from key_off: a list's
 * strings each with its NUL, a string without, so a list never equals a string. */
typedef struct block_s {
    struct block_s *next;
    uint64_t hash;
    uint32_t refs, len, key_off, pad;
    _Alignas(void *) char data[];
} block_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block_t **buckets; /* guarded by lock, as everything below */
static size_t mask, count;
static unsigned char hash_key[crypto_shorthash_KEYBYTES];

static uint64_t hash_of(const void *key, size_t len) {
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    if (!buckets) {
        randombytes_buf(hash_key, sizeof(hash_key));
        mask = 1023;
        buckets = hd_xcalloc(mask + 1, sizeof(*buckets));
    }
    crypto_shorthash(h, key, len, hash_key);
    memcpy(&v, h, sizeof(v));
    return v;
}

static void grow(void) {
    size_t n = (mask + 1) * 2;
    block_t **b = hd_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i <= mask; i++)
        for (block_t *e = buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(buckets);
    buckets = b;
    mask = n - 1;
}

/* The block of key (len bytes), retained, or NULL after which the caller adds one (the lock is held). */
static block_t *find(const char *key, size_t len, uint64_t h) {
    for (block_t *e = buckets[h & mask]; e; e = e->next)
        if (e->hash == h && e->len == len && !memcmp(e->data + e->key_off, key, len)) {
            e->refs++;
            return e;
        }
    return NULL;
}

static void add(block_t *e) {
    if (++count > mask + 1) grow();
    e->next = buckets[e->hash & mask];
    buckets[e->hash & mask] = e;
}

const char *hd_intern_str(const char *s, size_t len) {
    pthread_mutex_lock(&lock);
    uint64_t h = hash_of(s, len);
    block_t *e = find(s, len, h);
    if (!e) {
        e = hd_xmalloc(sizeof(*e) + len + 1);
        *e = (block_t){.hash = h, .refs = 1, .len = (uint32_t)len};
        memcpy(e->data, s, len);
        e->data[len] = '\0';
        add(e);
    }
    pthread_mutex_unlock(&lock);
    return e->data;
}

const char **hd_intern_list(const char *const *strs, int cnt) {
    size_t len = 0, ptrs = sizeof(char *) * (size_t)cnt;
    for (int i = 0; i < cnt; i++)
        len += strlen(strs[i]) + 1;
    /* The key is built in place in a candidate block: dropped when an equal one exists. */
    block_t *e = hd_xmalloc(sizeof(*e) + ptrs + len);
    char *key = e->data + ptrs, *p = key;
    for (int i = 0; i < cnt; i++) {
        size_t n = strlen(strs[i]) + 1;
        ((const char **)(void *)e->data)[i] = memcpy(p, strs[i], n);
        p += n;
    }
    pthread_mutex_lock(&lock);
    uint64_t h = hash_of(key, len);
    block_t *found = find(key, len, h);
    if (found) {
        free(e);
        e = found;
    } else {
        e->hash = h;
        e->refs = 1;
        e->len = (uint32_t)len;
        e->key_off = (uint32_t)ptrs;
        add(e);
    }
    pthread_mutex_unlock(&lock);
    return (const char **)(void *)e->data;
}

void hd_intern_release(const void *p) {
    if (!p) return;
    block_t *e = (block_t *)(void *)((char *)(uintptr_t)p - offsetof(block_t, data));
    pthread_mutex_lock(&lock);
    if (--e->refs) {
        pthread_mutex_unlock(&lock);
        return;
    }
    block_t **pp = &buckets[e->hash & mask];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    count--;
    pthread_mutex_unlock(&lock);
    free(e);
}

size_t hd_intern_count(void) {
    pthread_mutex_lock(&lock);
    size_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}
