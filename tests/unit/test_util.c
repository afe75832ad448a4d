/* Shared helpers: integers in decimal against printf, byte for byte; one object per thread. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

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

int main(void) {
    RUN(test_int64_text_matches_printf);
    RUN(test_per_thread);
    return UNIT_REPORT();
}
