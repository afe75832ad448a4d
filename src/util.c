#include "hookd/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n) {
    fprintf(stderr, "hookd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *hd_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *hd_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}

void *hd_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *hd_xstrndup(const char *s, size_t n) {
    if (!s) return NULL;
    char *d = hd_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *hd_xstrdup(const char *s) {
    return s ? hd_xstrndup(s, strlen(s)) : NULL;
}

void *hd_per_thread_get(hd_per_thread_t *pt) {
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    if (!atomic_load_explicit(&pt->ready, memory_order_acquire)) {
        pthread_mutex_lock(&mu);
        if (!atomic_load_explicit(&pt->ready, memory_order_relaxed)) {
            if (pthread_key_create(&pt->key, pt->destroy)) oom(sizeof(pthread_key_t));
            atomic_store_explicit(&pt->ready, 1, memory_order_release);
        }
        pthread_mutex_unlock(&mu);
    }
    void *p = pthread_getspecific(pt->key);
    if (!p && (!(p = pt->make()) || pthread_setspecific(pt->key, p))) oom(sizeof(void *));
    return p;
}

size_t hd_int64_text(int64_t v, char *out) {
    char d[HD_INT64_TEXT], *e = d + sizeof(d), *p = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    size_t n = (size_t)(e - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

/* Whether any of the 8 bytes of w is below 0x20, '"' or '\\' (the exact tests of "Bit Twiddling Hacks": a byte's
 * high bit survives only where it matches, never for bytes of 0x80 and above). A word at a time is 2 instructions
 * a byte under callgrind where the byte loop takes 12. */
static int needs_escape(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & high) != 0;
}

void hd_json_string(const char *s, size_t len, void (*put)(void *out, const char *p, size_t n), void *out) {
    static const char hex[] = "0123456789abcdef";
    const char *end = s + len;
    put(out, "\"", 1);
    for (;;) {
        const char *run = s;
        uint64_t w;
        while (end - s >= 8 && (memcpy(&w, s, 8), !needs_escape(w)))
            s += 8;
        while (s < end && (unsigned char)*s >= 0x20 && *s != '"' && *s != '\\')
            s++;
        if (s > run) put(out, run, (size_t)(s - run));
        if (s == end) break;
        unsigned char c = (unsigned char)*s++;
        char esc[6] = {'\\', (char)c, '0', '0'};
        size_t n = 2;
        if (c == '\b')
            esc[1] = 'b';
        else if (c == '\t')
            esc[1] = 't';
        else if (c == '\n')
            esc[1] = 'n';
        else if (c == '\f')
            esc[1] = 'f';
        else if (c == '\r')
            esc[1] = 'r';
        else if (c != '"' && c != '\\') {
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        put(out, esc, n);
    }
    put(out, "\"", 1);
}

char *hd_trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int64_t hd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hd_mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct timespec hd_deadline_in(int64_t ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    int64_t ns = t.tv_nsec + ms % 1000 * 1000000;
    t.tv_sec += ms / 1000 + ns / 1000000000;
    t.tv_nsec = ns % 1000000000;
    return t;
}

void hd_thread_stop(pthread_t thread, pthread_mutex_t *lock, pthread_cond_t *cond, int *stop) {
    pthread_mutex_lock(lock);
    *stop = 1;
    pthread_cond_signal(cond);
    pthread_mutex_unlock(lock);
    pthread_join(thread, NULL);
}
