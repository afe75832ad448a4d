/* The shared string pool: equal bytes give one block, reference counted; lists and strings never mix. */
#include <stdio.h>
#include <string.h>

#include "hookd/intern.h"
#include "unit.h"

static void test_strings_shared(void) {
    size_t base = hd_intern_count();
    const char *a = hd_intern_str("merchant-00001xyz", 14), *b = hd_intern_str("merchant-00001", 14);
    CHECK(a == b && hd_intern_count() == base + 1);
    CHECK_STR(a, "merchant-00001");
    const char *c = hd_intern_str("merchant-00002", 14), *empty = hd_intern_str("", 0);
    CHECK(c != a && hd_intern_count() == base + 3);
    CHECK_STR(empty, "");
    hd_intern_release(a);
    CHECK(hd_intern_count() == base + 3); /* b still holds it */
    CHECK_STR(b, "merchant-00001");
    hd_intern_release(b);
    hd_intern_release(c);
    hd_intern_release(empty);
    hd_intern_release(NULL);
    CHECK(hd_intern_count() == base);
}

static void test_lists(void) {
    size_t base = hd_intern_count();
    const char *const x[] = {"order.created", "order.*"}, *const y[] = {"order.created", "order.*"};
    const char *const joined[] = {"order.createdorder.*"}, *const split[] = {"order.create", "dorder.*"};
    const char **a = hd_intern_list(x, 2), **b = hd_intern_list(y, 2);
    CHECK(a == b && hd_intern_count() == base + 1);
    CHECK_STR(a[0], "order.created");
    CHECK_STR(a[1], "order.*");
    const char **c = hd_intern_list(joined, 1), **d = hd_intern_list(split, 2), **e = hd_intern_list(x, 1);
    CHECK(c != a && d != a && e != a && c != d && hd_intern_count() == base + 4);
    /* a one-element list is not the string itself: a string's key has no NUL */
    const char *s = hd_intern_str("order.created", 13);
    CHECK((const void *)s != (const void *)e && hd_intern_count() == base + 5);
    hd_intern_release(s);
    hd_intern_release(a);
    hd_intern_release(b);
    hd_intern_release(c);
    hd_intern_release(d);
    hd_intern_release(e);
    CHECK(hd_intern_count() == base);
}

/* A string is left to its first holder, and shared from the second on. */
static void test_repeated(void) {
    size_t base = hd_intern_count();
    CHECK(hd_intern_repeated("https://once.example.com/", 25) == NULL);
    CHECK(hd_intern_repeated("https://twice.example.com/", 26) == NULL);
    CHECK(hd_intern_count() == base);
    const char *a = hd_intern_repeated("https://twice.example.com/", 26),
               *b = hd_intern_repeated("https://twice.example.com/", 26);
    CHECK(a && a == b && hd_intern_count() == base + 1);
    CHECK_STR(a, "https://twice.example.com/");
    const char *c = hd_intern_str("https://shared.example.com/", 27), *d = hd_intern_repeated(c, 27);
    CHECK(d == c); /* shared already: no first sight needed */
    hd_intern_release(a);
    hd_intern_release(b);
    hd_intern_release(c);
    hd_intern_release(d);
    CHECK(hd_intern_count() == base);
}

/* Past the first table size: the table grows and every block stays findable. */
static void test_many(void) {
    enum { N = 5000 };
    static const char *p[N];
    char buf[32];
    size_t base = hd_intern_count();
    for (int i = 0; i < N; i++) {
        int n = snprintf(buf, sizeof(buf), "https://h%d.example.com/", i);
        p[i] = hd_intern_str(buf, (size_t)n);
    }
    CHECK(hd_intern_count() == base + N);
    int same = 1;
    for (int i = 0; i < N; i++) {
        int n = snprintf(buf, sizeof(buf), "https://h%d.example.com/", i);
        const char *q = hd_intern_str(buf, (size_t)n);
        same &= q == p[i];
        hd_intern_release(q);
    }
    CHECK(same);
    /* removals in a scattered order keep every other block findable */
    for (int i = 0; i < N; i++)
        if (i * 7 % 3) hd_intern_release(p[i * 7 % N]);
    for (int i = 0; i < N; i++) {
        if (!(i * 7 % 3)) {
            int n = snprintf(buf, sizeof(buf), "https://h%d.example.com/", i * 7 % N);
            const char *q = hd_intern_str(buf, (size_t)n);
            same &= q == p[i * 7 % N];
            hd_intern_release(q);
        }
    }
    CHECK(same);
    for (int i = 0; i < N; i++)
        if (!(i * 7 % 3)) hd_intern_release(p[i * 7 % N]);
    CHECK(hd_intern_count() == base);
}

int main(void) {
    RUN(test_strings_shared);
    RUN(test_lists);
    RUN(test_repeated);
    RUN(test_many);
    return UNIT_REPORT();
}
