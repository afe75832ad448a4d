/* What applying a subscription change costs the refresher thread as the snapshot grows (docs/capacity.md): a
 * snapshot of N subscriptions (100 per tenant), then changes of one subscription each applied one after the
 * other (hd_match_apply, then the previous snapshot released, as the cache does), and the same for a full
 * rebuild of the index (hd_match_new), in CPU milliseconds of the process. Usage (make build/bench/bench_apply):
 * bench_apply subscriptions [changes] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "hookd/match.h"
#include "hookd/util.h"

#define PER_TENANT 100

static hd_sub_t *make_sub(int tenant, int i, const char *type) {
    char doc[512], err[256];
    snprintf(doc, sizeof(doc),
             "{\"id\":\"sub_%08d_%03d\",\"tenant\":\"merchant-%05d\",\"url\":\"https://h%d.example.com/hooks\","
             "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\",\"event_types\":[\"%s\"]}",
             tenant, i, tenant, tenant, type);
    json_object *o = json_tokener_parse(doc);
    hd_sub_t *s = hd_sub_from_doc(o, NULL, err, sizeof(err));
    json_object_put(o);
    if (!s) {
        fprintf(stderr, "bench_apply: %s\n", err);
        exit(1);
    }
    return s;
}

static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    int cnt = argc > 1 ? atoi(argv[1]) : 100000, changes = argc > 2 ? atoi(argv[2]) : 20;
    int tenants = cnt / PER_TENANT;
    if (tenants < 1 || changes < 1) {
        fprintf(stderr, "usage: bench_apply subscriptions [changes]\n");
        return 2;
    }
    hd_sub_t **subs = hd_xmalloc(sizeof(*subs) * (size_t)cnt);
    char type[32];
    for (int t = 0; t < tenants; t++)
        for (int i = 0; i < PER_TENANT; i++) {
            snprintf(type, sizeof(type), "d%d.a%d", i % 10, i % 5);
            subs[t * PER_TENANT + i] = make_sub(t, i, type);
        }
    double t0 = cpu_ms();
    hd_match_t *m = hd_match_new(subs, tenants * PER_TENANT);
    double build = cpu_ms() - t0, apply = 0;
    srand(1);
    for (int k = 0; k < changes; k++) {
        hd_sub_t **one = hd_xmalloc(sizeof(*one));
        one[0] = make_sub(rand() % tenants, rand() % PER_TENANT, k % 2 ? "d1.a1" : "d2.*");
        t0 = cpu_ms();
        hd_match_t *next = hd_match_apply(m, one, 1, NULL, 0);
        hd_match_release(m);
        apply += cpu_ms() - t0;
        m = next;
    }
    printf("{\"subscriptions\": %d, \"full_index_build_ms\": %.1f, \"apply_one_change_ms\": %.2f}\n", hd_match_count(m),
           build, apply / changes);
    hd_match_release(m);
    return 0;
}
