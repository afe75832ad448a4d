/* UTF-8 helpers: well-formedness (RFC 3629), counts, cuts on character boundaries. */
#include <stdlib.h>

#include "hookd/utf8.h"
#include "unit.h"

static void test_valid(void) {
    const char *good[] = {
        "", "plain", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf"};
    const char *bad[] = {"\xff",
                         "\xc3",
                         "\xc0\xaf" /* overlong */,
                         "\xe0\x80\xaf",
                         "\xed\xa0\x80" /* lone surrogate U+D800 */,
                         "\xf4\x90\x80\x80" /* > U+10FFFF */,
                         "\x80",
                         "\xe2\x82"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(hd_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!hd_utf8_valid(bad[i], strlen(bad[i])));
    CHECK(hd_utf8_valid("a\0b", 3));
}

static void test_count(void) {
    CHECK(hd_utf8_count("", 0) == 0);
    CHECK(hd_utf8_count("abc", 3) == 3);
    CHECK(hd_utf8_count("\xc3\xa9\xc3\xa9", 4) == 2);
    CHECK(hd_utf8_count("\xf0\x9f\x98\x80x", 5) == 2);
    CHECK(hd_utf8_count("\xff\xfe", 2) == 2);
}

static void test_prefix(void) {
    const char *s = "ab\xc3\xa9\xe2\x82\xac"; /* a b é € : 7 bytes */
    CHECK(hd_utf8_prefix(s, 7, 100) == 7);
    CHECK(hd_utf8_prefix(s, 7, 7) == 7);
    CHECK(hd_utf8_prefix(s, 7, 6) == 4);
    CHECK(hd_utf8_prefix(s, 7, 3) == 2);
    CHECK(hd_utf8_prefix(s, 7, 4) == 4);
    CHECK(hd_utf8_prefix(s, 7, 0) == 0);
}

static void test_copy(void) {
    char out[8];
    CHECK(hd_utf8_copy(out, sizeof(out), "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8) == 6);
    CHECK_STR(out, "\xc3\xa9\xc3\xa9\xc3\xa9");
    CHECK(hd_utf8_copy(out, sizeof(out),
                       "a\xff"
                       "b\0c",
                       5) == 5);
    CHECK_STR(out, "a?b?c");
    hd_utf8_copy(out, sizeof(out), "\xed\xa0\x80", 3);
    CHECK_STR(out, "???");
    CHECK(hd_utf8_copy(out, 1, "abc", 3) == 0 && !out[0]);
}

static void test_vformat(void) {
    char out[16], name[81] = "";
    for (int i = 0; i < 40; i++)
        strcat(name, "\xc3\xa9");
    /* "x: " + 40 x é does not fit 16 bytes: cut after the 6th é, not inside the 7th. */
    CHECK(hd_utf8_format(out, sizeof(out), "x: %s", name) == 15);
    CHECK(hd_utf8_valid(out, strlen(out)) && hd_utf8_count(out, strlen(out)) == 9);
    CHECK(hd_utf8_format(out, sizeof(out), "bad %s.", "\xff\xfe") == 7);
    CHECK_STR(out, "bad ??.");
    CHECK(hd_utf8_format(out, sizeof(out), "%s", "fits") == 4);
    CHECK_STR(out, "fits");
}

int main(void) {
    RUN(test_valid);
    RUN(test_count);
    RUN(test_prefix);
    RUN(test_copy);
    RUN(test_vformat);
    return UNIT_REPORT();
}
