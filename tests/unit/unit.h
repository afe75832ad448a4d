/* A minimal unit-test harness: CHECK records a failure and goes on; each test file's main ends with
 * `return UNIT_REPORT();`, which prints "N passed, N failed" and makes the exit status non-zero on any failure. */
#ifndef HOOKD_UNIT_H
#define HOOKD_UNIT_H

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

static int unit_checks_failed, unit_tests_passed, unit_tests_failed, unit_current_failed;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                                   \
            unit_checks_failed++;                                                                                      \
            unit_current_failed = 1;                                                                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                                                \
    do {                                                                                                               \
        const char *a_ = (a), *b_ = (b);                                                                               \
        if (!a_ || !b_ || strcmp(a_, b_)) {                                                                            \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");  \
            unit_checks_failed++;                                                                                      \
            unit_current_failed = 1;                                                                                   \
        }                                                                                                              \
    } while (0)

#define RUN(test)                                                                                                      \
    do {                                                                                                               \
        unit_current_failed = 0;                                                                                       \
        test();                                                                                                        \
        if (unit_current_failed) {                                                                                     \
            unit_tests_failed++;                                                                                       \
            fprintf(stderr, "FAIL %s\n", #test);                                                                       \
        } else {                                                                                                       \
            unit_tests_passed++;                                                                                       \
        }                                                                                                              \
    } while (0)

#define UNIT_REPORT()                                                                                                  \
    (printf("%s: %d passed, %d failed\n", __FILE__, unit_tests_passed, unit_tests_failed), unit_tests_failed ? 1 : 0)

/* The JSON text of o (compact), copied into a static buffer: it outlives o. */
static inline const char *unit_json(json_object *o) {
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    return buf;
}

#endif
