#include "hookd/intern.h"

#include <pthread.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

/* One shared block: 8 bytes before its data, since a string held by one subscription only costs this much more
 * than a copy of its own. data holds a string, or a list's array of pointers followed by its strings; the key (what
 * equality compares) is the string without its NUL, or the list's strings each with its NUL (so a list never
 * equals a string), from key_of(). */
typedef struct {
    uint32_t refs;
    uint32_t len; /* of the key; LIST set for a list */
    _Alignas(void *) char data[];
} block_t;

#define LIST 0x80000000u

static const char *key_of(const block_t *b) {
    return b->len & LIST ? ((const char *const *)(const void *)b->data)[0] : b->data;
}

/* Open addressing with linear probing; a removal shifts the probe sequence back, so there are no tombstones. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block_t **slots; /* guarded by lock, as everything below */
static size_t mask, count;
static unsigned char hash_key[crypto_shorthash_KEYBYTES];

/* Fingerprints of strings lately left to their holder (hd_intern_repeated), by hash: a direct-mapped memory of
 * the last few thousand, enough to catch the repeats of a tenant's subscriptions loaded one after another. */
#define SEEN 16384
static uint32_t seen[SEEN];

static uint64_t hash_of(const char *key, uint32_t len) {
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t v;
    crypto_shorthash(h, (const unsigned char *)key, len & ~LIST, hash_key);
    memcpy(&v, h, sizeof(v));
    return v ^ len;
}

static size_t home(const block_t *b) {
    return hash_of(key_of(b), b->len) & mask;
}

static void grow(void) {
    block_t **old = slots;
    size_t n = old ? (mask + 1) * 2 : 1024;
    if (!old) randombytes_buf(hash_key, sizeof(hash_key));
    slots = hd_xcalloc(n, sizeof(*slots));
    size_t old_size = old ? mask + 1 : 0;
    mask = n - 1;
    for (size_t i = 0; i < old_size; i++)
        if (old[i]) {
            size_t j = home(old[i]);
            while (slots[j])
                j = (j + 1) & mask;
            slots[j] = old[i];
        }
    free(old);
}

/* The block with key (len with LIST for a list, hash h), retained; or, when there is none, the free slot it would
 * take, in *slot (the lock is held, the table made). */
static block_t *find(const char *key, uint32_t len, uint64_t h, size_t *slot) {
    if ((count + 1) * 4 > (mask + 1) * 3) grow();
    size_t i = h & mask;
    for (; slots[i]; i = (i + 1) & mask)
        if (slots[i]->len == len && !memcmp(key_of(slots[i]), key, len & ~LIST)) {
            slots[i]->refs++;
            return slots[i];
        }
    *slot = i;
    return NULL;
}

/* The shared copy of s, or with repeated only NULL when it is not shared yet and was not seen lately. */
static const char *str(const char *s, size_t len, int repeated) {
    size_t slot;
    pthread_mutex_lock(&lock);
    if (!slots) grow();
    uint64_t h = hash_of(s, (uint32_t)len);
    block_t *b = find(s, (uint32_t)len, h, &slot);
    uint32_t *mark = &seen[(h >> 20) % SEEN], fp = (uint32_t)(h >> 32) | 1;
    if (!b && repeated && *mark != fp) {
        *mark = fp;
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    if (!b) {
        b = hd_xmalloc(sizeof(*b) + len + 1);
        b->refs = 1;
        b->len = (uint32_t)len;
        memcpy(b->data, s, len);
        b->data[len] = '\0';
        slots[slot] = b;
        count++;
    }
    pthread_mutex_unlock(&lock);
    return b->data;
}

const char *hd_intern_str(const char *s, size_t len) {
    return str(s, len, 0);
}

const char *hd_intern_repeated(const char *s, size_t len) {
    return str(s, len, 1);
}

const char **hd_intern_list(const char *const *strs, int cnt) {
    size_t len = 0, ptrs = sizeof(char *) * (size_t)cnt, slot;
    for (int i = 0; i < cnt; i++)
        len += strlen(strs[i]) + 1;
    /* The key is built in place in a candidate block: dropped when an equal one exists. */
    block_t *b = hd_xmalloc(sizeof(*b) + ptrs + len);
    char *p = b->data + ptrs;
    for (int i = 0; i < cnt; i++) {
        size_t n = strlen(strs[i]) + 1;
        ((const char **)(void *)b->data)[i] = memcpy(p, strs[i], n);
        p += n;
    }
    b->refs = 1;
    b->len = (uint32_t)len | LIST;
    pthread_mutex_lock(&lock);
    if (!slots) grow();
    block_t *found = find(b->data + ptrs, b->len, hash_of(b->data + ptrs, b->len), &slot);
    if (found) {
        free(b);
        b = found;
    } else {
        slots[slot] = b;
        count++;
    }
    pthread_mutex_unlock(&lock);
    return (const char **)(void *)b->data;
}

void hd_intern_release(const void *p) {
    if (!p) return;
    block_t *b = (block_t *)(void *)((char *)(uintptr_t)p - offsetof(block_t, data));
    pthread_mutex_lock(&lock);
    if (--b->refs) {
        pthread_mutex_unlock(&lock);
        return;
    }
    size_t i = home(b);
    while (slots[i] != b)
        i = (i + 1) & mask;
    /* Backward shift: a later block of the run moves into the hole unless its home lies between them. */
    for (size_t j = (i + 1) & mask; slots[j]; j = (j + 1) & mask) {
        size_t h = home(slots[j]);
        if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
            slots[i] = slots[j];
            i = j;
        }
    }
    slots[i] = NULL;
    count--;
    pthread_mutex_unlock(&lock);
    free(b);
}

size_t hd_intern_count(void) {
    pthread_mutex_lock(&lock);
    size_t n = count;
    pthread_mutex_unlock(&lock);
    return n;
}
