/* Match cost per event as the subscription count grows: every tenant has the same 100 subscriptions (exact
 * types, one- and many-segment wildcards, statuses, filters), and the run with 100,000 subscriptions across
 * 1,000 tenants is compared with 1,000 subscriptions across 10 tenants. With a per-tenant index the work per
 * event is the same in both (the same buckets and entries are examined); what remains is memory: events spread
 * over 1,000 tenants miss the CPU caches more, which the third run (events of 10 of the 1,000 tenants)
 * separates out. Usage: bench_match [lookups] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd/match.h"
#include "hookd/util.h"

#define SUBS_PER_TENANT 100
#define DOMAINS 10
#define ACTIONS 5
#define EVENTS 4096

static hd_sub_t *make_sub(int tenant, int i) {
    char doc[512], types[64], extra[160] = "", err[256];
    int d = i % DOMAINS, a = i % ACTIONS;
    if (i < 80)
        snprintf(types, sizeof(types), "\"d%d.a%d\"", d, a);
    else if (i < 90)
        snprintf(types, sizeof(types), "\"d%d.*\"", d);
    else if (i < 95)
        snprintf(types, sizeof(types), "\"d%d.**\"", d);
    else
        snprintf(types, sizeof(types), "\"d%d.a%d\"", d, a);
    if (i >= 95 && i < 98)
        snprintf(extra, sizeof(extra), ",\"statuses\":[\"paid\",\"shipped\"]");
    else if (i >= 98)
        snprintf(extra, sizeof(extra),
                 ",\"filter\":{\"data.total\":{\"$gte\":100},\"data.region\":{\"$in\":[\"eu\",\"us\"]}}");
    snprintf(doc, sizeof(doc),
             "{\"id\":\"s%d_%d\",\"tenant\":\"tenant-%d\",\"url\":\"http://127.0.0.1/\",\"secret\":"
             "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[%s]%s}",
             tenant, i, tenant, types, extra);
    json_object *o = json_tokener_parse(doc);
    hd_sub_t *s = hd_sub_from_doc(o, NULL, err, sizeof(err));
    json_object_put(o);
    if (!s) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    return s;
}

/* Subscriptions of `tenants` tenants; events of the first `event_tenants` of them. */
static double run(int tenants, int event_tenants, long lookups, double *matched_per_event) {
    int cnt = tenants * SUBS_PER_TENANT;
    hd_sub_t **subs = hd_xmalloc(sizeof(*subs) * (size_t)cnt);
    for (int t = 0; t < tenants; t++)
        for (int i = 0; i < SUBS_PER_TENANT; i++)
            subs[t * SUBS_PER_TENANT + i] = make_sub(t, i);
    hd_match_t *m = hd_match_new(subs, cnt);

    static const char *statuses[] = {"paid", "open", "shipped", "cancelled"};
    hd_event_t **evs = hd_xmalloc(sizeof(*evs) * EVENTS);
    hd_decode_opts_t opts = {.max_bytes = 1 << 20, .tenant_attribute = "tenant", .status_field = "data.status"};
    srand(42);
    for (int i = 0; i < EVENTS; i++) {
        char v[512], err[256];
        hd_decode_err_t derr;
        int n = snprintf(v, sizeof(v),
                         "{\"id\":\"e%d\",\"type\":\"d%d.a%d%s\",\"tenant\":\"tenant-%d\",\"data\":{\"status\":\"%s\","
                         "\"total\":%d,\"region\":\"%s\"}}",
                         i, rand() % DOMAINS, rand() % ACTIONS, rand() % 8 ? "" : ".x", rand() % event_tenants,
                         statuses[rand() % 4], rand() % 200, rand() % 2 ? "eu" : "apac");
        evs[i] = hd_decode_event(v, (size_t)n, NULL, 0, &opts, 1, &derr, err, sizeof(err));
    }
    const hd_sub_t *out[256];
    long total = 0;
    int64_t t0 = hd_mono_us();
    for (long i = 0; i < lookups; i++)
        total += hd_match_find(m, evs[i % EVENTS], out, 256);
    int64_t us = hd_mono_us() - t0;
    *matched_per_event = (double)total / (double)lookups;
    for (int i = 0; i < EVENTS; i++)
        hd_decode_event_destroy(evs[i]);
    free(evs);
    hd_match_release(m);
    return (double)us * 1000.0 / (double)lookups;
}

int main(int argc, char **argv) {
    long lookups = argc > 1 ? atol(argv[1]) : 2000000;
    double small_match, big_match, hot_match;
    double small = run(10, 10, lookups, &small_match);
    double big = run(1000, 1000, lookups, &big_match);
    double hot = run(1000, 10, lookups, &hot_match);
    printf("subscriptions  tenants  event tenants  ns/event  matched/event\n");
    printf("%13d  %7d  %13d  %8.1f  %13.2f\n", 10 * SUBS_PER_TENANT, 10, 10, small, small_match);
    printf("%13d  %7d  %13d  %8.1f  %13.2f\n", 1000 * SUBS_PER_TENANT, 1000, 1000, big, big_match);
    printf("%13d  %7d  %13d  %8.1f  %13.2f\n", 1000 * SUBS_PER_TENANT, 1000, 10, hot, hot_match);
    printf("ratio 100,000 / 1,000 subscriptions: %.2f (events of all tenants), %.2f (events of 10 tenants)\n",
           big / small, hot / small);
    return 0;
}
