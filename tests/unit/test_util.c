/* Shared helpers: integers in decimal against printf and JSON strings against json-c, byte for byte; one object
 * per thread; condition-wait deadlines and stopping a waiting thread. */
#include <inttypes.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "hookd/util.h"
#include "unit.h"

static void check_int(int64_t v) {
    char got[HD_INT64_TEXT], want[32];
    size_t n = hd_int64_text(v, got);
    snprintf(want, sizeof(want), "%" PRId64, v);
    CHECK_STR(got, want);
    CHECK(n == strlen(want));
}

static void test_int64_text_matches_printf(void) {
    const int64_t edges[] = {0,
                             1,
                             -1,
                             9,
                             10,
                             -10,
                             99,
                             100,
                             1700000000,
                             -1700000000,
                             999999999999,
                             INT64_MAX,
                             INT64_MAX - 1,
                             INT64_MIN,
                             INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_int(edges[i]);
    uint64_t x = 88172645463325252ULL; /* xorshift: values of every length and sign */
    for (int i = 0; i < 100000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_int((int64_t)(x >> (x % 64)) * (x & 1 ? -1 : 1));
    }
}

typedef struct {
    char buf[512];
    size_t len;
} text_t;

static void append(void *out, const char *p, size_t n) {
    text_t *t = out;
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

/* Strings of every length up to 64 (the word-at-a-time scan and its byte tail), drawn from the bytes that need
 * escaping and their neighbours, against json-c's serialisation byte for byte. */
static void test_json_string_matches_json_c(void) {
    static const unsigned char pool[] = {0, 1, 0x1f, 0x20, '"', '\\', '/', 'a', 0x7f, 0x80, 0xa2, 0xdc, 0xff, '!', ']'};
    uint64_t x = 2463534242u;
    for (int round = 0; round < 20000; round++) {
        char s[64];
        size_t len = (size_t)round % 65;
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s[i] = (char)(x % 4 ? 'a' + x % 26 : pool[(x >> 8) % sizeof(pool)]);
        }
        text_t got = {.len = 0};
        hd_json_string(s, len, append, &got);
        json_object *o = json_object_new_string_len(s, (int)len);
        size_t want_len;
        const char *want =
            json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &want_len);
        CHECK(got.len == want_len && !memcmp(got.buf, want, want_len));
        json_object_put(o);
    }
}

static atomic_int made, destroyed;

static void *make_counter(void) {
    atomic_fetch_add(&made, 1);
    return calloc(1, sizeof(int));
}

static void destroy_counter(void *p) {
    atomic_fetch_add(&destroyed, 1);
    free(p);
}

static hd_per_thread_t counter = HD_PER_THREAD(make_counter, destroy_counter);

static void *use_counter(void *arg) {
    int *a = hd_per_thread_get(&counter), *b = hd_per_thread_get(&counter);
    return a == b ? a : NULL;
}

/* Each thread gets its own object, made once and destroyed when the thread ends. */
static void test_per_thread(void) {
    pthread_t t[4];
    void *got[4];
    for (int i = 0; i < 4; i++)
        CHECK(pthread_create(&t[i], NULL, use_counter, NULL) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(pthread_join(t[i], &got[i]) == 0);
    for (int i = 0; i < 4; i++)
        CHECK(got[i] != NULL);
    CHECK(made == 4 && destroyed == 4);
    int *mine = hd_per_thread_get(&counter);
    CHECK(mine && mine == hd_per_thread_get(&counter) && made == 5);
}

/* The deadline is on CLOCK_REALTIME (pthread_cond_timedwait's clock), ms later, with tv_nsec normalised even when
 * the milliseconds carry into the seconds. */
static void test_deadline_in(void) {
    static const int64_t ms[] = {0, 1, 999, 1000, 1999, 3600000};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        struct timespec before, after, d;
        clock_gettime(CLOCK_REALTIME, &before);
        d = hd_deadline_in(ms[i]);
        clock_gettime(CLOCK_REALTIME, &after);
        int64_t d_ns = (int64_t)d.tv_sec * 1000000000 + d.tv_nsec, ms_ns = ms[i] * 1000000;
        CHECK(d.tv_nsec >= 0 && d.tv_nsec < 1000000000);
        CHECK(d_ns >= (int64_t)before.tv_sec * 1000000000 + before.tv_nsec + ms_ns);
        CHECK(d_ns <= (int64_t)after.tv_sec * 1000000000 + after.tv_nsec + ms_ns);
    }
}

/* A thread waiting for its stop flag returns once hd_thread_stop has set it. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop, saw_stop;
} waiter_t;

static void *wait_for_stop(void *arg) {
    waiter_t *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop)
        pthread_cond_wait(&w->cond, &w->lock);
    w->saw_stop = 1;
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

static void test_thread_stop(void) {
    waiter_t w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, wait_for_stop, &w) == 0);
    hd_thread_stop(t, &w.lock, &w.cond, &w.stop);
    CHECK(w.stop == 1 && w.saw_stop == 1);
}

int main(void) {
    RUN(test_int64_text_matches_printf);
    RUN(test_json_string_matches_json_c);
    RUN(test_per_thread);
    RUN(test_deadline_in);
    RUN(test_thread_stop);
    return UNIT_REPORT();
}
