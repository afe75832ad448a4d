#include <string.h>

#include "hookd/admit.h"
#include "hookd/log.h"
#include "unit.h"

#define URL "http://h:1/a"
#define URL2 "http://h:1/b"
#define ORIGIN "http://h:1"

static const hd_admit_conf_t conf = {.max_per_host = 2,
                                     .breaker_failures = 3,
                                     .breaker_open_ms = 1000,
                                     .queue_max_ms = 500,
                                     .probe_ms = 2000,
                                     .idle_ms = 60000};

static hd_admit_verdict_t req(hd_admit_t *a, hd_admit_slot_t *s, const char *url, int64_t now, hd_admit_park_t *p) {
    memset(s, 0, sizeof(*s));
    return hd_admit_request(a, s, url, ORIGIN, strlen(ORIGIN), now, p);
}

static void test_cap_then_queue_in_order(void) {
    hd_admit_t *a = hd_admit_new(&conf);
    hd_admit_slot_t s[4];
    hd_admit_park_t p;
    hd_admit_verdict_t v;
    CHECK(req(a, &s[0], URL, 0, &p) == HD_ADMIT_GO);
    CHECK(req(a, &s[1], URL2, 0, &p) == HD_ADMIT_GO); /* the cap is per host, whatever the path */
    CHECK(req(a, &s[2], URL, 0, &p) == HD_ADMIT_WAIT);
    CHECK(req(a, &s[3], URL2, 0, &p) == HD_ADMIT_WAIT);
    CHECK(hd_admit_waiting(a) == 2);
    CHECK(hd_admit_next(a, 10, &v, &p) == NULL); /* no slot free yet */
    hd_admit_done(a, &s[0], HD_OUTCOME_SUCCESS, 0, 10);
    CHECK(hd_admit_next(a, 10, &v, &p) == &s[2] && v == HD_ADMIT_GO);
    CHECK(hd_admit_next(a, 10, &v, &p) == NULL);
    hd_admit_done(a, &s[1], HD_OUTCOME_SUCCESS, 0, 20);
    CHECK(hd_admit_next(a, 20, &v, &p) == &s[3] && v == HD_ADMIT_GO);
    CHECK(hd_admit_waiting(a) == 0);
    hd_admit_cancel(a, &s[2]);
    hd_admit_cancel(a, &s[3]);
    hd_admit_destroy(a);
}

static void test_waiting_too_long_is_parked(void) {
    hd_admit_t *a = hd_admit_new(&conf);
    hd_admit_slot_t s[3];
    hd_admit_park_t p;
    hd_admit_verdict_t v;
    req(a, &s[0], URL, 0, &p);
    req(a, &s[1], URL, 0, &p);
    CHECK(req(a, &s[2], URL, 100, &p) == HD_ADMIT_WAIT);
    CHECK(hd_admit_next(a, 599, &v, &p) == NULL);
    CHECK(hd_admit_next(a, 600, &v, &p) == &s[2] && v == HD_ADMIT_PARK && p.due_ms == 0 && !p.breaker);
    CHECK(hd_admit_waiting(a) == 0 && s[2].ep == NULL);
    hd_admit_cancel(a, &s[0]);
    hd_admit_cancel(a, &s[1]);
    hd_admit_destroy(a);
}

static void test_a_host_that_completes_keeps_its_queue(void) {
    hd_admit_t *a = hd_admit_new(&conf);
    hd_admit_slot_t s[5];
    hd_admit_park_t p;
    hd_admit_verdict_t v;
    for (int i = 0; i < 5; i++)
        req(a, &s[i], URL, 0, &p);
    hd_admit_done(a, &s[0], HD_OUTCOME_SUCCESS, 0, 400);
    CHECK(hd_admit_next(a, 400, &v, &p) == &s[2] && v == HD_ADMIT_GO);
    CHECK(hd_admit_next(a, 700, &v, &p) == NULL); /* s[3] waited 700 ms, but the host answered 300 ms ago */
    CHECK(hd_admit_next(a, 900, &v, &p) == &s[3] && v == HD_ADMIT_PARK); /* nothing for 500 ms: stalled */
    for (int i = 1; i < 5; i++)
        hd_admit_cancel(a, &s[i]);
    CHECK(hd_admit_waiting(a) == 0);
    hd_admit_destroy(a);
}

static void test_breaker_parks_new_and_queued(void) {
    hd_admit_t *a = hd_admit_new(&conf);
    hd_admit_slot_t s[6];
    hd_admit_park_t p;
    hd_admit_verdict_t v;
    /* Failures with responses (503): the cap stays, the breaker counts. */
    for (int i = 0; i < 2; i++) {
        CHECK(req(a, &s[0], URL, 0, &p) == HD_ADMIT_GO);
        hd_admit_done(a, &s[0], HD_OUTCOME_RETRYABLE, 0, 0);
    }
    CHECK(req(a, &s[0], URL, 0, &p) == HD_ADMIT_GO);
    CHECK(req(a, &s[1], URL, 0, &p) == HD_ADMIT_GO);
    CHECK(req(a, &s[2], URL, 0, &p) == HD_ADMIT_WAIT);
    CHECK(req(a, &s[3], URL2, 0, &p) == HD_ADMIT_WAIT);    /* another URL of the host keeps its place */
    hd_admit_done(a, &s[0], HD_OUTCOME_RETRYABLE, 0, 100); /* the third failure opens the circuit */
    CHECK(hd_admit_next(a, 100, &v, &p) == &s[2] && v == HD_ADMIT_PARK && p.breaker && p.due_ms == 1100);
    CHECK(hd_admit_next(a, 100, &v, &p) == &s[3] && v == HD_ADMIT_GO);
    CHECK(req(a, &s[4], URL, 200, &p) == HD_ADMIT_PARK && p.breaker && p.due_ms == 1100);
    /* Half-open: one probe, the others are parked without counting as the breaker's. */
    hd_admit_done(a, &s[1], HD_OUTCOME_RETRYABLE, 0, 300);
    CHECK(req(a, &s[4], URL, 1400, &p) == HD_ADMIT_GO && s[4].probe);
    CHECK(req(a, &s[5], URL, 1400, &p) == HD_ADMIT_PARK && !p.breaker && p.due_ms == 3400); /* after the probe */
    hd_admit_done(a, &s[4], HD_OUTCOME_SUCCESS, 0, 1500);
    CHECK(req(a, &s[5], URL, 1500, &p) == HD_ADMIT_GO && !s[5].probe);
    hd_admit_cancel(a, &s[3]);
    hd_admit_cancel(a, &s[5]);
    hd_admit_destroy(a);
}

static void test_timeouts_halve_the_cap(void) {
    hd_admit_conf_t c = conf;
    c.max_per_host = 8;
    c.breaker_failures = 100;
    hd_admit_t *a = hd_admit_new(&c);
    hd_admit_slot_t s[10];
    hd_admit_park_t p;
    for (int i = 0; i < 8; i++)
        CHECK(req(a, &s[i], URL, 0, &p) == HD_ADMIT_GO);
    for (int i = 0; i < 8; i++)
        hd_admit_done(a, &s[i], HD_OUTCOME_RETRYABLE, 28 /* timed out */, 10);
    CHECK(req(a, &s[0], URL, 10, &p) == HD_ADMIT_GO);
    CHECK(req(a, &s[1], URL, 10, &p) == HD_ADMIT_WAIT); /* one slot left */
    /* A failing host queues only a few rounds; the rest is parked. */
    for (int i = 2; i < 5; i++)
        CHECK(req(a, &s[i], URL, 10, &p) == HD_ADMIT_WAIT);
    CHECK(req(a, &s[5], URL, 10, &p) == HD_ADMIT_PARK && !p.breaker);
    hd_admit_slot_t *w;
    int taken = 0;
    while ((w = hd_admit_take_waiting(a)))
        taken++;
    CHECK(taken == 4 && hd_admit_waiting(a) == 0);
    hd_admit_done(a, &s[0], HD_OUTCOME_SUCCESS, 0, 20); /* one back */
    CHECK(req(a, &s[0], URL, 20, &p) == HD_ADMIT_GO && req(a, &s[1], URL, 20, &p) == HD_ADMIT_GO);
    CHECK(req(a, &s[2], URL, 20, &p) == HD_ADMIT_WAIT);
    hd_admit_cancel(a, &s[0]);
    hd_admit_cancel(a, &s[1]);
    hd_admit_cancel(a, &s[2]);
    hd_admit_destroy(a);
}

static void test_idle_health_is_forgotten(void) {
    hd_admit_t *a = hd_admit_new(&conf);
    hd_admit_slot_t s;
    hd_admit_park_t p;
    hd_admit_verdict_t v;
    req(a, &s, URL, 0, &p);
    hd_admit_done(a, &s, HD_OUTCOME_SUCCESS, 0, 0);
    req(a, &s, URL2, 0, &p);
    hd_admit_done(a, &s, HD_OUTCOME_RETRYABLE, 0, 0); /* a failure is remembered */
    CHECK(hd_admit_endpoints(a) == 2);
    CHECK(hd_admit_next(a, 60000, &v, &p) == NULL);
    CHECK(hd_admit_endpoints(a) == 1);
    hd_admit_destroy(a);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    RUN(test_cap_then_queue_in_order);
    RUN(test_waiting_too_long_is_parked);
    RUN(test_a_host_that_completes_keeps_its_queue);
    RUN(test_breaker_parks_new_and_queued);
    RUN(test_timeouts_halve_the_cap);
    RUN(test_idle_health_is_forgotten);
    return UNIT_REPORT();
}
