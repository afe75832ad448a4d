/* The event-type grammar: names, patterns and matching. */
#include <string.h>

#include "hookd/evtype.h"
#include "unit.h"

/* One table row: names the input when the answer differs. */
#define EXPECT(input, got, want)                                                                                       \
    do {                                                                                                               \
        if ((got) != (want)) fprintf(stderr, "%s:%d: \"%s\": want %d\n", __FILE__, __LINE__, (input), (want));         \
        CHECK((got) == (want));                                                                                        \
    } while (0)

static void test_names(void) {
    char long_name[130];
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    static const struct {
        const char *name;
        int valid;
    } cases[] = {
        {"customer.created", 1},
        {"customer.joined.paid_tier", 1},
        {"order-v2.status_updated", 1},
        {"", 0},
        {".customer", 0},
        {"customer.", 0},
        {"customer..created", 0},
        {"customer.*", 0},
        {"*", 0},
        {"bad type", 0},
        {"h\xc3\xa9llo", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT(cases[i].name, hd_evtype_name_valid(cases[i].name), cases[i].valid);
    CHECK(!hd_evtype_name_valid(long_name));
    long_name[128] = '\0';
    CHECK(hd_evtype_name_valid(long_name));
}

static void test_patterns(void) {
    static const struct {
        const char *pattern;
        int valid;
    } cases[] = {
        {"*", 1},
        {"**", 1},
        {"customer.*", 1},
        {"order.**", 1},
        {"customer.created", 1},
        {"*.created", 1},
        {"a-b_c.*.d", 1},
        {"a.*.c.**", 1},
        {"", 0},
        {"customer.**.x", 0},
        {"a.**.c", 0},
        {"cust*", 0},
        {"bad type.*", 0},
        {"h\xc3\xa9llo.*", 0},
        {"a..*", 0},
        {"a..b", 0},
        {".*", 0},
        {".a", 0},
        {"*.", 0},
        {"***", 0},
        {"a.***", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT(cases[i].pattern, hd_evtype_pattern_valid(cases[i].pattern), cases[i].valid);
}

static void test_match(void) {
    static const struct {
        const char *pattern, *type;
        int match;
    } cases[] = {
        {"customer.created", "customer.created", 1},
        {"customer.created", "customer.created.x", 0},
        {"customer.*", "customer.created", 1},
        {"customer.*", "customer.credits.updated", 0},
        {"customer.*", "customer", 0},
        {"customer.**", "customer.credits.updated", 1},
        {"customer.**", "customer.created", 1},
        {"customer.**", "customer", 0},
        {"customer.**", "customers.created", 0},
        {"*.created", "order.created", 1},
        {"*.created", "order.item.created", 0},
        {"*.*.updated", "customer.credits.updated", 1},
        {"*", "a.b.c", 1},
        {"**", "a", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT(cases[i].type, hd_evtype_match(cases[i].pattern, cases[i].type), cases[i].match);
    CHECK(hd_evtype_any("*") && hd_evtype_any("**") && !hd_evtype_any("a.*"));
}

int main(void) {
    RUN(test_names);
    RUN(test_patterns);
    RUN(test_match);
    return UNIT_REPORT();
}
