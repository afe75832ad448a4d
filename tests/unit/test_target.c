/* Events naming their subscription: the header that names it, and the waiting of those the snapshot lacks, in the
 * order they came, until the store has been seen since they were produced or their wait is over. */
#include <stdlib.h>
#include <string.h>

#include "hookd/target.h"
#include "unit.h"

static int64_t seen_up_to; /* the fake store: every write before it has been seen */
static int looks;

static int seen(void *opaque, int64_t after_ms) {
    (void)opaque;
    looks++;
    return after_ms < seen_up_to;
}

static void test_header(void) {
    hd_decode_header_t hdrs[] = {
        {"ce_id", "1", 1}, {"hookd-subscription", "sub_a", 5}, {"hookd-subscription", "sub_bc", 6}};
    size_t len = 0;
    const void *id = hd_target_of(hdrs, 3, &len);
    CHECK(id == hdrs[2].value && len == 6); /* the last one */
    CHECK(!hd_target_of(hdrs, 1, &len));
}

static void test_wait(void) {
    hd_target_t *t = hd_target_new(seen, NULL);
    hd_target_wait_t a, b, c;
    seen_up_to = 1000;
    CHECK(!hd_target_set_aside(t, &a, "sub_a", 500, 10000)); /* seen already: goes now */
    CHECK(hd_target_wait_ms(t, 1000) == 1000);
    CHECK(hd_target_set_aside(t, &a, "sub_a", 2000, 10000));
    CHECK(hd_target_set_aside(t, &b, "sub_b", 1500, 10100));
    CHECK(hd_target_set_aside(t, &c, "sub_c", 0, 10200)); /* no timestamp: produced now */
    CHECK_STR(a.id, "sub_a");
    CHECK(c.produced_ms == 10200 && a.until_ms == 10000 + HD_TARGET_WAIT_MS);
    CHECK(hd_target_wait_ms(t, 1000) == HD_TARGET_POLL_MS && hd_target_wait_ms(t, 5) == 5);
    CHECK(!hd_target_due(t, 10300));
    seen_up_to = 1800; /* b is seen, but a came first */
    CHECK(!hd_target_due(t, 10300));
    seen_up_to = 2001;
    CHECK(hd_target_due(t, 10300) == &a && hd_target_due(t, 10300) == &b && !hd_target_due(t, 10300));
    CHECK(hd_target_due(t, 10200 + HD_TARGET_WAIT_MS) == &c); /* the store away: the wait is over */
    CHECK(!hd_target_due(t, 99999) && hd_target_wait_ms(t, 1000) == 1000);
    free(a.id);
    free(b.id);
    free(c.id);
    CHECK(hd_target_set_aside(t, &a, "sub_a", 5000, 10000));
    CHECK(hd_target_set_aside(t, &b, "sub_b", 5000, 10000));
    CHECK(hd_target_take(t) == &a && hd_target_take(t) == &b && !hd_target_take(t));
    CHECK(hd_target_set_aside(t, &c, "sub_c", 5000, 10000)); /* linked again after being emptied */
    CHECK(hd_target_take(t) == &c);
    CHECK(looks > 0);
    free(a.id);
    free(b.id);
    free(c.id);
    hd_target_destroy(t);
}

int main(void) {
    RUN(test_header);
    RUN(test_wait);
    return UNIT_REPORT();
}
