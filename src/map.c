#include "hookd/map.h"

#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

typedef struct {
    char *key;
    size_t len;
    void *value;
} entry_t;

struct hd_map_s {
    entry_t *e;
    size_t mask, count;
    unsigned char hash_key[crypto_shorthash_KEYBYTES];
};

static uint64_t hash(const hd_map_t *m, const void *key, size_t len) {
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, key, len, m->hash_key);
    memcpy(&v, h, sizeof(v));
    return v;
}

static entry_t *find(const hd_map_t *m, const void *key, size_t len) {
    for (size_t i = hash(m, key, len) & m->mask;; i = (i + 1) & m->mask) {
        entry_t *e = &m->e[i];
        if (!e->key || (e->len == len && !memcmp(e->key, key, len))) return e;
    }
}

hd_map_t *hd_map_new(size_t expected) {
    hd_map_t *m = hd_xcalloc(1, sizeof(*m));
    size_t n = 16;
    while (n < expected * 2)
        n <<= 1;
    m->e = hd_xcalloc(n, sizeof(entry_t));
    m->mask = n - 1;
    randombytes_buf(m->hash_key, sizeof(m->hash_key));
    return m;
}

void hd_map_destroy(hd_map_t *m, void (*free_value)(void *value)) {
    if (!m) return;
    for (size_t i = 0; i <= m->mask; i++) {
        if (!m->e[i].key) continue;
        if (free_value) free_value(m->e[i].value);
        free(m->e[i].key);
    }
    free(m->e);
    free(m);
}

static void grow(hd_map_t *m) {
    entry_t *old = m->e;
    size_t old_n = m->mask + 1;
    m->e = hd_xcalloc(old_n * 2, sizeof(entry_t));
    m->mask = old_n * 2 - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].key) *find(m, old[i].key, old[i].len) = old[i];
    free(old);
}

void **hd_map_slot(hd_map_t *m, const void *key, size_t len) {
    entry_t *e = find(m, key, len);
    if (e->key) return &e->value;
    if ((m->count + 1) * 2 > m->mask + 1) {
        grow(m);
        e = find(m, key, len);
    }
    e->key = hd_xstrndup(key, len);
    e->len = len;
    m->count++;
    return &e->value;
}

void *hd_map_get(const hd_map_t *m, const void *key, size_t len) {
    return find(m, key, len)->value;
}

size_t hd_map_count(const hd_map_t *m) {
    return m->count;
}

void hd_map_foreach(const hd_map_t *m, void (*fn)(const void *key, size_t len, void *value, void *opaque),
                    void *opaque) {
    for (size_t i = 0; i <= m->mask; i++)
        if (m->e[i].key) fn(m->e[i].key, m->e[i].len, m->e[i].value, opaque);
}
