/* Metrics: the exposition format byte for byte, label escaping, histograms, collectors, and exact sums when
 * several threads count at once. */
#include <pthread.h>
#include <stdlib.h>

#include "hookd/log.h"
#include "hookd/metrics.h"
#include "unit.h"

static void test_counter_gauge_format(void) {
    hd_metrics_t *m = hd_metrics_new();
    hd_metric_t *a = hd_metrics_counter(m, "t_total", "Things.", HD_KV("kind", "a"));
    hd_metric_t *b = hd_metrics_counter(m, "t_total", "ignored", HD_KV("kind", "b\"q\\\n"));
    hd_metric_t *g = hd_metrics_gauge(m, "t_level", "Level.", NULL);
    CHECK(hd_metrics_counter(m, "t_total", "x", HD_KV("kind", "a")) == a); /* same series */
    hd_metric_add(a, 2);
    hd_metric_add(b, 1);
    hd_metric_add(g, 7);
    hd_metric_add(g, -10);
    CHECK(hd_metric_value(a) == 2);
    CHECK(hd_metric_value(g) == -3);
    char *text = hd_metrics_render(m, NULL);
    CHECK_STR(text, "# HELP t_total Things.\n# TYPE t_total counter\n"
                    "t_total{kind=\"a\"} 2\n"
                    "t_total{kind=\"b\\\"q\\\\\\n\"} 1\n"
                    "# HELP t_level Level.\n# TYPE t_level gauge\nt_level -3\n");
    free(text);
    hd_metrics_destroy(m);
}

static void test_histogram(void) {
    hd_metrics_t *m = hd_metrics_new();
    static const double bounds[] = {0.01, 0.1, 1};
    hd_metric_t *h = hd_metrics_histogram(m, "t_seconds", "Durations.", HD_KV("op", "x"), bounds, 3, 1e-6);
    hd_metric_observe(h, 5000);    /* 5 ms */
    hd_metric_observe(h, 10000);   /* exactly on a bound: counted in it */
    hd_metric_observe(h, 50000);   /* 50 ms */
    hd_metric_observe(h, 2000000); /* 2 s: only +Inf */
    CHECK(hd_metric_value(h) == 4);
    char *text = hd_metrics_render(m, NULL);
    CHECK_STR(text, "# HELP t_seconds Durations.\n# TYPE t_seconds histogram\n"
                    "t_seconds_bucket{op=\"x\",le=\"0.01\"} 2\n"
                    "t_seconds_bucket{op=\"x\",le=\"0.1\"} 3\n"
                    "t_seconds_bucket{op=\"x\",le=\"1\"} 3\n"
                    "t_seconds_bucket{op=\"x\",le=\"+Inf\"} 4\n"
                    "t_seconds_sum{op=\"x\"} 2.065\n"
                    "t_seconds_count{op=\"x\"} 4\n");
    free(text);
    hd_metrics_destroy(m);
}

static void collect_two(hd_metrics_scrape_t *s, void *opaque) {
    int *calls = opaque;
    (*calls)++;
    hd_metrics_emit(s, "t_lag", "Lag.", "gauge", HD_KV("partition", "0"), 5);
    hd_metrics_emit(s, "t_age", "Age.", "gauge", NULL, 1.5);
}

static void collect_one(hd_metrics_scrape_t *s, void *opaque) {
    hd_metrics_emit(s, "t_lag", "Lag.", "gauge", HD_KV("partition", "1"), 0);
}

static void test_collectors(void) {
    hd_metrics_t *m = hd_metrics_new();
    int calls = 0;
    int id1 = hd_metrics_add_collector(m, collect_two, &calls);
    int id2 = hd_metrics_add_collector(m, collect_one, NULL);
    char *text = hd_metrics_render(m, NULL);
    /* Samples of one name from two collectors form one family (one HELP/TYPE). */
    CHECK_STR(text, "# HELP t_lag Lag.\n# TYPE t_lag gauge\nt_lag{partition=\"1\"} 0\nt_lag{partition=\"0\"} 5\n"
                    "# HELP t_age Age.\n# TYPE t_age gauge\nt_age 1.5\n");
    free(text);
    CHECK(calls == 1);
    hd_metrics_remove_collector(m, id1);
    hd_metrics_remove_collector(m, id2);
    size_t len = 99;
    text = hd_metrics_render(m, &len);
    CHECK_STR(text, "");
    CHECK(len == 0);
    CHECK(calls == 1);
    free(text);
    hd_metrics_destroy(m);
}

#define THREADS 4
#define ADDS 100000

static void *adder(void *arg) {
    for (int i = 0; i < ADDS; i++)
        hd_metric_add(arg, 1);
    return NULL;
}

static void test_concurrent_adds_are_exact(void) {
    hd_metrics_t *m = hd_metrics_new();
    hd_metric_t *c = hd_metrics_counter(m, "t_total", "Things.", NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, adder, c);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK(hd_metric_value(c) == (int64_t)THREADS * ADDS);
    hd_metrics_destroy(m);
}

static void test_dispatcher_series(void) {
    hd_metrics_register_dispatcher();
    hd_metrics_delivery_inflight(1);
    hd_metrics_delivery_attempt(HD_OUTCOME_RETRYABLE, 503, 1200);
    hd_metrics_delivery_inflight(-1);
    hd_metrics_delivery_attempt(HD_OUTCOME_RETRYABLE, 0, 1200);
    hd_metrics_retry(1);
    hd_metrics_retry(1);
    hd_metrics_retry(99);
    char *text = hd_metrics_render(hd_metrics_default(), NULL);
    CHECK(strstr(text, "\nhd_deliveries_total{outcome=\"retryable\",status_class=\"5xx\"} 1\n"));
    CHECK(strstr(text, "\nhd_deliveries_total{outcome=\"retryable\",status_class=\"none\"} 1\n"));
    CHECK(strstr(text, "\nhd_deliveries_total{outcome=\"success\",status_class=\"2xx\"} 0\n"));
    CHECK(strstr(text, "\nhd_deliveries_inflight 0\n"));
    CHECK(strstr(text, "\nhd_retries_total{tier=\"1\"} 2\n"));
    CHECK(strstr(text, "\nhd_retries_total{tier=\"15\"} 1\n"));
    CHECK(strstr(text, "\nhd_delivery_attempt_duration_seconds_bucket{le=\"0.005\"} 2\n"));
    CHECK(strstr(text, "\nhd_events_consumed_total 0\n"));
    free(text);
}

int main(void) {
    RUN(test_counter_gauge_format);
    RUN(test_histogram);
    RUN(test_collectors);
    RUN(test_concurrent_adds_are_exact);
    RUN(test_dispatcher_series);
    return UNIT_REPORT();
}
