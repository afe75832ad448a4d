/* The dialect framework without a server: api.dialects parsing (names, prefixes, nesting, errors) and routing a
 * path to the dialect mounted at its prefix. */
#include <stdlib.h>

#include "hookd/dialects.h"
#include "unit.h"

static void test_default_is_native(void) {
    char err[256];
    hd_dialects_t *m = hd_dialects_new("native", err, sizeof(err));
    const char *prefix;
    CHECK(m && hd_dialects_count(m) == 1);
    CHECK_STR(hd_dialects_get(m, 0, &prefix)->name, "native");
    CHECK_STR(prefix, "/v1/webhooks");
    const char *path[] = {"v1", "webhooks", "subscriptions"};
    int n = -1;
    CHECK(hd_dialects_find(m, path, 3, &n) == hd_dialects_lookup("native") && n == 2);
    CHECK(hd_dialects_find(m, path, 1, &n) == NULL);
    const char *other[] = {"v2", "webhooks"};
    CHECK(hd_dialects_find(m, other, 2, &n) == NULL);
    hd_dialects_destroy(m);
    hd_dialects_destroy(NULL);
}

static void test_prefixes(void) {
    char err[256];
    hd_dialects_t *m = hd_dialects_new(" native = /hookd/v1/ ", err, sizeof(err));
    const char *prefix;
    CHECK(m != NULL);
    if (!m) return;
    hd_dialects_get(m, 0, &prefix);
    CHECK_STR(prefix, "/hookd/v1");
    const char *path[] = {"hookd", "v1"};
    int n = -1;
    CHECK(hd_dialects_find(m, path, 2, &n) && n == 2); /* the prefix alone: the dialect answers */
    const char *native[] = {"v1", "webhooks", "subscriptions"};
    CHECK(hd_dialects_find(m, native, 3, &n) == NULL);
    hd_dialects_destroy(m);
}

/* Each bad list fails with a message holding the given text. */
static void test_errors(void) {
    static const char *const bad[][2] = {
        {"", "at least one"},
        {" , ", "at least one"},
        {"nosuch", "unknown dialect \"nosuch\" (known: native"},
        {"native=v1", "must be a path"},
        {"native=/", "must be a path"},
        {"native=/a//b", "empty segment"},
        {"native=/a b", "holds ' '"},
        {"native=/a?b", "holds '?'"},
        {"native=/a/b/c/d/e/f/g", "more than 6 segments"},
        {"native=/a,native=/a", "cannot share a prefix"},
        {"native=/a,native=/a/b", "nest"},
        {"native=/a/b,native=/a", "nest"},
        {"native,native", "cannot share"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        hd_dialects_t *m = hd_dialects_new(bad[i][0], err, sizeof(err));
        CHECK(m == NULL);
        if (!strstr(err, bad[i][1])) fprintf(stderr, "\"%s\": %s\n", bad[i][0], err);
        CHECK(strstr(err, bad[i][1]) != NULL);
        CHECK(strncmp(err, "api.dialects: ", 14) == 0);
        hd_dialects_destroy(m);
    }
}

static void test_siblings(void) {
    char err[256];
    hd_dialects_t *m = hd_dialects_new("native=/a/b,native=/a/c", err, sizeof(err));
    CHECK(m && hd_dialects_count(m) == 2);
    if (!m) return;
    const char *c[] = {"a", "c", "x"}, *d[] = {"a", "d"};
    int n = -1;
    CHECK(hd_dialects_find(m, c, 3, &n) && n == 2);
    CHECK(hd_dialects_find(m, d, 2, &n) == NULL);
    hd_dialects_destroy(m);
}

static void test_parse_id(void) {
    int64_t v = 0;
    CHECK(hd_dialect_parse_id("1", 100, &v) == 0 && v == 1);
    CHECK(hd_dialect_parse_id("2147483647", INT32_MAX, &v) == 0 && v == INT32_MAX);
    CHECK(hd_dialect_parse_id("2147483648", INT32_MAX, &v) == -1);
    CHECK(hd_dialect_parse_id("0", 100, &v) == -1);
    CHECK(hd_dialect_parse_id("01", 100, &v) == -1);
    CHECK(hd_dialect_parse_id("-1", 100, &v) == -1);
    CHECK(hd_dialect_parse_id("1x", 100, &v) == -1);
    CHECK(hd_dialect_parse_id("", 100, &v) == -1);
    CHECK(hd_dialect_parse_id("9999999999999999999999", INT64_MAX, &v) == -1);
}

int main(void) {
    RUN(test_default_is_native);
    RUN(test_prefixes);
    RUN(test_errors);
    RUN(test_siblings);
    RUN(test_parse_id);
    return UNIT_REPORT();
}
