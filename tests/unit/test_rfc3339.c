/* RFC 3339 parsing and formatting: a table of valid times (expected values from Python's datetime), a table of
 * near misses, and both directions checked against the C library's gmtime_r/strftime over four centuries. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hookd/rfc3339.h"
#include "unit.h"

static int parse(const char *s, int64_t *ms) {
    return hd_rfc3339_parse(s, strlen(s), ms);
}

static void test_valid(void) {
    /* ms from Python: datetime.fromisoformat(s.upper()) - datetime(1970, 1, 1, tzinfo=timezone.utc) */
    static const struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0LL},
        {"2026-11-22T06:35:57.123Z", 1795329357123LL},
        {"2026-11-22t06:35:57.123z", 1795329357123LL},
        {"2024-02-29T12:00:00Z", 1709208000000LL},
        {"2000-02-29T00:00:00Z", 951782400000LL},
        {"1969-12-31T23:59:59Z", -1000LL},
        {"1969-12-31T23:59:59.999Z", -1LL},
        {"1969-12-31T23:59:59.9999Z", -1LL},
        {"1900-03-01T00:00:00Z", -2203891200000LL},
        {"0001-01-01T00:00:00Z", -62135596800000LL},
        {"9999-12-31T23:59:59.999Z", 253402300799999LL},
        {"2026-11-22T08:35:57+02:00", 1795329357000LL},
        {"2026-11-22T01:05:57.5-05:30", 1795329357500LL},
        {"2026-01-01T00:00:00.123456Z", 1767225600123LL},
        {"1600-02-29T00:00:00Z", -11670998400000LL},
        {"2026-12-31T23:59:59-00:00", 1798761599000LL},
        {"1960-06-15T10:20:30.45+14:00", -301289969550LL},
        {"0001-01-01T00:30:00+01:00", -62135598600000LL},
        /* Leap seconds (Python has none): POSIX time, the first second of the next day. */
        {"2016-12-31T23:59:60Z", 1483228800000LL},
        {"2017-01-01T00:59:60.5+01:00", 1483228800500LL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = 42;
        int rc = parse(cases[i].s, &ms);
        if (rc || ms != cases[i].ms) fprintf(stderr, "  %s -> rc %d, %lld\n", cases[i].s, rc, (long long)ms);
        CHECK(rc == 0 && ms == cases[i].ms);
    }
}

static void test_invalid(void) {
    static const char *const cases[] = {
        "2026-02-30T00:00:00Z", /* no such day */
        "2026-02-29T00:00:00Z", /* not a leap year */
        "1900-02-29T00:00:00Z", /* nor is a century not divisible by 400 */
        "2026-04-31T00:00:00Z",     "2026-00-10T00:00:00Z",      "2026-13-10T00:00:00Z",
        "2026-01-00T00:00:00Z",     "2026-01-01T 1:00:00Z", /* no spaces or single digits */
        "2026-01-01T1:00:00Z",      "2026-1-01T01:00:00Z",       "2026-01-01 01:00:00Z",
        " 2026-01-01T01:00:00Z",    "2026-01-01T01:00:00Z ",     "2026-01-01T01:00:00", /* an offset is required */
        "2026-01-01T24:00:00Z",     "2026-01-01T23:60:00Z",      "2026-01-01T23:59:61Z",
        "2026-01-01T12:59:60Z", /* a leap second only ends a UTC day */
        "2026-01-01T00:00:00.Z",    "2026-01-01T00:00:00,5Z",    "2026-01-01T00:00:00+0100",
        "2026-01-01T00:00:00+1:00", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
        "2026-01-01T00:00:00+01",   "2026-01-01T00:00:00ZZ",     "2026-01-01",
        "20260101T000000Z",         "+2026-01-01T00:00:00Z",     "-001-01-01T00:00:00Z",
        "2026-W01-1T00:00:00Z",     "２026-01-01T00:00:00Z",     "",
        "2026-01-01T00:00:00.1e3Z",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = 42;
        int rc = parse(cases[i], &ms);
        if (rc == 0) fprintf(stderr, "  accepted %s\n", cases[i]);
        CHECK(rc == -1 && ms == 42);
    }
    /* The length counts: a NUL inside or text past it is not part of the time. */
    int64_t ms;
    CHECK(hd_rfc3339_parse("2026-01-01T00:00:00Z\0junk", 25, &ms) == -1);
    CHECK(hd_rfc3339_parse("2026-01-01T00:00:00Zjunk", 20, &ms) == 0 && ms == 1767225600000LL);
    CHECK(hd_rfc3339_parse("2026-01-01T00:00:00.5", 21, &ms) == -1);
}

static void test_format(void) {
    char out[HD_RFC3339_SIZE];
    CHECK(hd_rfc3339_format(1795329357123LL, out) == 24);
    CHECK_STR(out, "2026-11-22T06:35:57.123Z");
    hd_rfc3339_format(0, out);
    CHECK_STR(out, "1970-01-01T00:00:00.000Z");
    hd_rfc3339_format(-1, out);
    CHECK_STR(out, "1969-12-31T23:59:59.999Z");
    hd_rfc3339_format(-301289969550LL, out);
    CHECK_STR(out, "1960-06-14T20:20:30.450Z");
    hd_rfc3339_format(-62167219200000LL - 1, out);
    CHECK_STR(out, "0000-01-01T00:00:00.000Z");
    hd_rfc3339_format(INT64_MAX, out);
    CHECK_STR(out, "9999-12-31T23:59:59.999Z");
}

/* Every 7 days and 1,234,567 ms from 1800 to 2200, against the C library, and back through the parser. */
static void test_against_libc(void) {
    int bad = 0;
    for (int64_t ms = -5364662400000LL; ms < 7258118400000LL && bad < 5; ms += 7 * 86400000LL + 1234567) {
        char got[HD_RFC3339_SIZE], want[40];
        time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t n = strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(want + n, sizeof(want) - n, ".%03dZ", (int)(ms - (int64_t)sec * 1000));
        hd_rfc3339_format(ms, got);
        int64_t back = 0;
        if (strcmp(got, want) || parse(got, &back) || back != ms) {
            fprintf(stderr, "  %lld: %s, libc %s, back %lld\n", (long long)ms, got, want, (long long)back);
            bad++;
        }
    }
    CHECK(bad == 0);
}

int main(void) {
    RUN(test_valid);
    RUN(test_invalid);
    RUN(test_format);
    RUN(test_against_libc);
    return UNIT_REPORT();
}
