#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "hookd/config.h"
#include "hookd/retry.h"
#include "unit.h"

static hd_retry_t *make(const char *schedule, const char *jitter) {
    hd_conf_t *conf = hd_conf_new();
    char err[256];
    CHECK(hd_conf_set(conf, "retry.schedule", schedule, err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "retry.jitter.pct", jitter, err, sizeof(err)) == 0);
    hd_retry_t *r = hd_retry_new(conf, err, sizeof(err));
    hd_conf_destroy(conf);
    return r;
}

static void test_schedule(void) {
    hd_retry_t *r = make("5s,1m,10m,1h,6h", "0");
    CHECK(r && r->cnt == 5);
    CHECK(r->delay_ms[0] == 5000 && r->delay_ms[4] == 6 * 3600000LL);
    CHECK_STR(r->topic[1], "hookd.retry.1m");
    CHECK(hd_retry_tier_of_topic(r, "hookd.retry.10m") == 2);
    CHECK(hd_retry_tier_of_topic(r, "hookd.events") == -1);
    int64_t due;
    CHECK(hd_retry_plan(r, 1, -1, 1000, &due) == 0 && due == 6000);
    CHECK(hd_retry_plan(r, 2, -1, 1000, &due) == 1 && due == 61000);
    CHECK(hd_retry_plan(r, 9, -1, 0, &due) == 4 && due == 6 * 3600000LL); /* the last tier repeats */
    /* Retry-After longer than the tier wins and picks the tier that fits; a shorter one changes nothing. */
    CHECK(hd_retry_plan(r, 1, 120, 0, &due) == 1 && due == 120000);
    CHECK(hd_retry_plan(r, 1, 2, 0, &due) == 0 && due == 5000);
    /* ... capped by retry.after.max.s (6 h by default). */
    CHECK(hd_retry_plan(r, 1, 999999, 0, &due) == 4 && due == 21600000);
    CHECK(hd_retry_tier_for_wait(r, 0) == 0);
    CHECK(hd_retry_tier_for_wait(r, 59999) == 0);
    CHECK(hd_retry_tier_for_wait(r, 60000) == 1);
    hd_retry_destroy(r);
}

static void test_jitter_bounds(void) {
    hd_retry_t *r = make("10s", "20");
    int64_t lo = INT64_MAX, hi = 0, due;
    for (int i = 0; i < 2000; i++) {
        hd_retry_plan(r, 1, -1, 0, &due);
        if (due < lo) lo = due;
        if (due > hi) hi = due;
    }
    CHECK(lo >= 8000 && hi <= 12000);
    CHECK(hi - lo > 2000); /* it does spread */
    hd_retry_destroy(r);
}

static void test_bad_schedules(void) {
    hd_conf_t *conf = hd_conf_new();
    char err[256];
    static const char *const bad[] = {"",
                                      "5",
                                      "5x",
                                      "1m,30s",
                                      "5s,5s",
                                      "-1s",
                                      "1s,2s,3s,4s,5s,6s,7s,8s,9s,10s,11s,"
                                      "12s,13s,14s,15s,16s,17s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hd_conf_set(conf, "retry.schedule", bad[i], err, sizeof(err));
        CHECK(hd_retry_new(conf, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "retry.schedule") != NULL);
    }
    hd_conf_destroy(conf);
}

static void test_job_roundtrip(void) {
    json_object *event = json_tokener_parse("{\"id\":\"e1\",\"type\":\"t\",\"tenant\":\"a\",\"data\":{\"x\":[1,2]}}");
    hd_retry_job_t job = {.delivery_id = "msg_1",
                          .subscription_id = "sub_1",
                          .url = "https://x.example/h",
                          .attempt = 3,
                          .due_ms = 1700000000123LL,
                          .event = event,
                          .src_topic = "events",
                          .src_partition = 2,
                          .src_offset = 99};
    char *text = hd_retry_job_encode(&job), err[256];
    hd_retry_job_t *back = hd_retry_job_decode(text, strlen(text), err, sizeof(err));
    CHECK(back != NULL);
    if (back) {
        CHECK_STR(back->delivery_id, "msg_1");
        CHECK_STR(back->subscription_id, "sub_1");
        CHECK_STR(back->url, "https://x.example/h");
        CHECK(back->attempt == 3 && back->due_ms == 1700000000123LL);
        CHECK(back->parked == 0);
        CHECK_STR(back->src_topic, "events");
        CHECK(back->src_partition == 2 && back->src_offset == 99);
        CHECK(json_object_equal(back->event, event));
    }
    hd_retry_job_destroy(back);
    free(text);
    job.parked = 1; /* parked by its breaker: kept across the tier */
    text = hd_retry_job_encode(&job);
    back = hd_retry_job_decode(text, strlen(text), err, sizeof(err));
    CHECK(back && back->parked == 1);
    hd_retry_job_destroy(back);
    free(text);
    json_object_put(event);
    static const char *const bad[] = {"",
                                      "[]",
                                      "{}",
                                      "not json",
                                      "{\"delivery_id\":\"m\"}",
                                      "{\"delivery_id\":\"m\",\"subscription_id\":\"s\",\"url\":\"u\",\"attempt\":0,"
                                      "\"due_ms\":1,\"event\":{},\"source\":{\"topic\":\"t\",\"partition\":0,"
                                      "\"offset\":0}}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(hd_retry_job_decode(bad[i], strlen(bad[i]), err, sizeof(err)) == NULL);
}

/* Pause and resume calls the hold makes, as "+topic/partition" and "-topic/partition". */
typedef struct {
    char calls[16][32];
    int cnt;
} pauses_t;

static void on_pause(void *opaque, const hd_retry_held_t *held, int pause) {
    pauses_t *p = opaque;
    if (p->cnt < 16) snprintf(p->calls[p->cnt++], 32, "%c%s/%d", pause ? '+' : '-', held->topic, (int)held->partition);
}

/* Jobs come out soonest first (equal due times in the order held), only once due; a partition is paused with its
 * first held job and resumed with its last. */
static void test_hold(void) {
    pauses_t p = {0};
    hd_retry_hold_t *h = hd_retry_hold_new(on_pause, &p);
    hd_retry_held_t a = {.due_ms = 300, .topic = "r.5s", .partition = 0};
    hd_retry_held_t b = {.due_ms = 100, .topic = "r.5s", .partition = 0};
    hd_retry_held_t c = {.due_ms = 300, .topic = "r.5s", .partition = 1};
    hd_retry_held_t d = {.due_ms = 200, .topic = "r.1m", .partition = 0};
    CHECK(hd_retry_hold_next_ms(h) == INT64_MAX);
    CHECK(hd_retry_hold_due(h, 1000) == NULL);
    hd_retry_hold_add(h, &a);
    hd_retry_hold_add(h, &b);
    hd_retry_hold_add(h, &c);
    hd_retry_hold_add(h, &d);
    CHECK(p.cnt == 3);
    CHECK_STR(p.calls[0], "+r.5s/0");
    CHECK_STR(p.calls[1], "+r.5s/1");
    CHECK_STR(p.calls[2], "+r.1m/0");
    CHECK(hd_retry_hold_next_ms(h) == 100);
    CHECK(hd_retry_hold_due(h, 99) == NULL);
    CHECK(hd_retry_hold_due(h, 100) == &b);
    CHECK(p.cnt == 3); /* a is still held in r.5s/0 */
    CHECK(hd_retry_hold_due(h, 250) == &d);
    CHECK(p.cnt == 4);
    CHECK_STR(p.calls[3], "-r.1m/0");
    CHECK(hd_retry_hold_due(h, 250) == NULL);
    CHECK(hd_retry_hold_next_ms(h) == 300);
    CHECK(hd_retry_hold_due(h, 300) == &a);
    CHECK_STR(p.calls[4], "-r.5s/0");
    hd_retry_hold_add(h, &b); /* held again: paused again */
    CHECK_STR(p.calls[5], "+r.5s/0");
    CHECK(hd_retry_hold_due(h, 1000) == &b);
    CHECK_STR(p.calls[6], "-r.5s/0");
    /* Taken at shutdown: whatever is held, due or not, without resuming. */
    CHECK(hd_retry_hold_take(h) == &c);
    CHECK(hd_retry_hold_take(h) == NULL);
    CHECK(p.cnt == 7);
    CHECK(hd_retry_hold_next_ms(h) == INT64_MAX);
    hd_retry_hold_destroy(h);
    hd_retry_hold_destroy(NULL);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_schedule);
    RUN(test_hold);
    RUN(test_jitter_bounds);
    RUN(test_bad_schedules);
    RUN(test_job_roundtrip);
    return UNIT_REPORT();
}
