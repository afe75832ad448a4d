#include <sodium.h>
#include <stdint.h>
#include <stdio.h>

#include "hookd/map.h"
#include "unit.h"

static void count(const void *key, size_t len, void *value, void *opaque) {
    (*(size_t *)opaque) += (size_t)(intptr_t)value;
}

static void test_insert_get_grow(void) {
    hd_map_t *m = hd_map_new(0);
    char key[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        *hd_map_slot(m, key, (size_t)n) = (void *)(intptr_t)(i + 1);
    }
    CHECK(hd_map_count(m) == 10000);
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        CHECK((intptr_t)hd_map_get(m, key, (size_t)n) == i + 1);
    }
    CHECK(hd_map_get(m, "absent", 6) == NULL);
    /* Keys are byte strings: an embedded NUL is part of the key. */
    *hd_map_slot(m, "a\0b", 3) = (void *)1;
    CHECK(hd_map_get(m, "a\0c", 3) == NULL && hd_map_get(m, "a", 1) == NULL);
    size_t sum = 0;
    hd_map_foreach(m, count, &sum);
    CHECK(sum == 10000ul * 10001 / 2 + 1);
    hd_map_destroy(m, NULL);
    hd_map_destroy(NULL, NULL);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_insert_get_grow);
    return UNIT_REPORT();
}
