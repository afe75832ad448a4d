/* Endpoint health: the failing clock, the disable decision, and the write-back queue (order kept, a store that is
 * away tried again, a refused write dropped, what is queued at shutdown written once) against a fake store. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/health.h"
#include "hookd/match.h"
#include "unit.h"

/* A fake store: logs every write ("disable a;", "failing b 1000;") and answers from a script (0 once it ends). */
typedef struct {
    pthread_mutex_t lock;
    char log[1024];
    int calls;
    const int *script;
    int script_cnt;
} fake_t;

static int answer(fake_t *f, const char *entry) {
    pthread_mutex_lock(&f->lock);
    strncat(f->log, entry, sizeof(f->log) - strlen(f->log) - 1);
    int rc = f->calls < f->script_cnt ? f->script[f->calls] : 0;
    f->calls++;
    pthread_mutex_unlock(&f->lock);
    return rc;
}

static int fake_disable(void *opaque, const char *id, const char *reason, char *errstr, size_t errstr_size) {
    char entry[128];
    snprintf(entry, sizeof(entry), "disable %s;", id);
    snprintf(errstr, errstr_size, "fake store");
    return answer(opaque, entry);
}

static int fake_set_failing(void *opaque, const char *id, int64_t since_ms, char *errstr, size_t errstr_size) {
    char entry[128];
    snprintf(entry, sizeof(entry), "failing %s %lld;", id, (long long)since_ms);
    snprintf(errstr, errstr_size, "fake store");
    return answer(opaque, entry);
}

static void fake_init(fake_t *f, const int *script, int script_cnt) {
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->script = script;
    f->script_cnt = script_cnt;
}

/* Waits (bounded) until the health thread has made calls writes. */
static void wait_calls(fake_t *f, int calls) {
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&f->lock);
        int n = f->calls;
        pthread_mutex_unlock(&f->lock);
        if (n >= calls) return;
        usleep(10000);
    }
}

/* Stops h (writing what is queued) and returns what the fake store was asked, in order. */
static const char *stop(hd_health_t *h, fake_t *f) {
    hd_health_destroy(h);
    return f->log;
}

static hd_health_t *start(fake_t *f) {
    char err[256];
    hd_health_t *h =
        hd_health_new((hd_health_sink_t){fake_disable, fake_set_failing, f}, 10, NULL, NULL, err, sizeof(err));
    if (!h) fprintf(stderr, "health: %s\n", err);
    return h;
}

static hd_sub_t *sub(const char *id, const char *more) {
    char doc[1024], err[256];
    snprintf(doc, sizeof(doc),
             "{\"id\":\"%s\",\"tenant\":\"t\",\"url\":\"http://127.0.0.1/\",\"event_types\":[\"x\"],\"secret\":"
             "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"%s}",
             id, more);
    json_object *o = json_tokener_parse(doc);
    hd_sub_t *s = hd_sub_from_doc(o, NULL, err, sizeof(err));
    if (!s) fprintf(stderr, "sub %s: %s\n", id, err);
    json_object_put(o);
    return s;
}

/* A run of failures starts at the first one, survives more failures, ends at a success, is written once it has
 * lasted 10 s (and its end then too), and goes on from the store's failing_since loaded with the subscription. */
static void test_failing_clock(void) {
    fake_t f;
    fake_init(&f, NULL, 0);
    hd_health_t *h = start(&f);
    hd_sub_t *a = sub("a", ""), *b = sub("b", ",\"failing_since\":\"2026-01-01T00:00:00Z\"");
    CHECK(h && a && b);
    if (!h || !a || !b) return;
    CHECK(hd_health_attempted(h, a, 0, 500) == 0); /* a success outside a run: nothing */
    CHECK(hd_health_attempted(h, a, 1, 1000) == 1000);
    CHECK(hd_health_attempted(h, a, 1, 5000) == 1000);
    CHECK(atomic_load(&a->failing_stored) == 0); /* a 4 s run: not worth a write */
    CHECK(hd_health_attempted(h, a, 1, 11000) == 1000);
    CHECK(atomic_load(&a->failing_stored) == 1);
    CHECK(hd_health_attempted(h, a, 1, 12000) == 1000); /* written once per run */
    CHECK(hd_health_attempted(h, a, 0, 13000) == 0);
    CHECK(atomic_load(&a->failing_stored) == 0);
    CHECK(hd_health_attempted(h, a, 1, 14000) == 14000);
    CHECK(hd_health_attempted(h, a, 0, 15000) == 0); /* a blip: its start and end cost no write */
    CHECK(atomic_load(&b->failing_since_ms) == 1767225600000LL);
    CHECK(atomic_load(&b->failing_stored) == 1);
    CHECK(hd_health_attempted(h, b, 1, 1767225600000LL + 3600000) == 1767225600000LL);
    CHECK(hd_health_attempted(h, b, 0, 1767225600000LL + 3600001) == 0);
    CHECK_STR(stop(h, &f), "failing a 1000;failing a 0;failing b 0;");
    hd_sub_destroy(a);
    hd_sub_destroy(b);
}

/* The first disable of a subscription decides it (it stops matching at once); later ones only report. */
static void test_disable(void) {
    fake_t f;
    fake_init(&f, NULL, 0);
    hd_health_t *h = start(&f);
    hd_sub_t **subs = malloc(sizeof(*subs) * 2);
    subs[0] = sub("a", "");
    subs[1] = sub("b", "");
    hd_match_t *m = hd_match_new(subs, 2);
    char err[256];
    hd_decode_opts_t o = {.max_bytes = 4096, .tenant_attribute = "tenant"};
    hd_decode_err_t derr;
    static const char v[] = "{\"id\":\"e\",\"type\":\"x\",\"tenant\":\"t\",\"data\":{}}";
    hd_event_t *ev = hd_decode_event(v, strlen(v), NULL, 0, &o, 0, &derr, err, sizeof(err));
    const hd_sub_t *found[4];
    CHECK(h && ev);
    if (h && ev) {
        CHECK(hd_match_find(m, ev, found, 4) == 2);
        const hd_sub_t *a = hd_match_get(m, "a");
        CHECK(hd_health_disable(h, a, "the endpoint answered 410 Gone") == 1);
        CHECK(hd_health_disable(h, a, "the endpoint has failed continuously for 600 s") == 0);
        CHECK(hd_match_find(m, ev, found, 4) == 1 && !strcmp(found[0]->id, "b"));
    }
    CHECK_STR(stop(h, &f), "disable a;");
    hd_decode_event_destroy(ev);
    hd_match_release(m);
}

/* The store away (-1) holds the queue in order and tries again; a refused write (-2) is dropped and the rest go
 * on; the read-only file store (1) is final. */
static void test_write_back_queue(void) {
    static const int script[] = {-1, -1, 0, -2, 1};
    fake_t f;
    fake_init(&f, script, 5);
    hd_health_t *h = start(&f);
    hd_sub_t *a = sub("a", ""), *b = sub("b", ""), *c = sub("c", "");
    CHECK(h && a && b && c);
    if (!h || !a || !b || !c) return;
    hd_health_attempted(h, b, 1, 1000);
    hd_health_attempted(h, b, 1, 20000); /* failing b 1000 */
    CHECK(hd_health_disable(h, a, "gone") == 1);
    CHECK(hd_health_disable(h, c, "gone") == 1);
    wait_calls(&f, 5);
    /* b away twice, then written; a refused and dropped; c read-only */
    CHECK_STR(stop(h, &f), "failing b 1000;failing b 1000;failing b 1000;disable a;disable c;");
    hd_sub_destroy(a);
    hd_sub_destroy(b);
    hd_sub_destroy(c);
}

/* A change the store could not take before the shutdown is tried once more, then reported lost; nothing hangs. */
static void test_shutdown_with_the_store_away(void) {
    static const int script[] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};
    fake_t f;
    fake_init(&f, script, 16);
    hd_health_t *h = start(&f);
    hd_sub_t *a = sub("a", "");
    CHECK(h && a);
    if (!h || !a) return;
    CHECK(hd_health_disable(h, a, "gone") == 1);
    wait_calls(&f, 1);
    CHECK(!strncmp(stop(h, &f), "disable a;disable a;", 20)); /* at least once by the thread, once at the stop */
    CHECK(f.calls <= 16);
    hd_sub_destroy(a);
}

/* The store's own sink: a file store is read-only, so the disable lives in memory only. */
static void test_store_sink(void) {
    char err[256];
    hd_store_t *store = hd_store_new("file:/nonexistent/subscriptions.json", NULL, err, sizeof(err));
    CHECK(store != NULL);
    if (!store) return;
    hd_health_sink_t sink = hd_health_store_sink(store);
    CHECK(sink.disable(sink.opaque, "a", "gone", err, sizeof(err)) == 1);
    CHECK(sink.set_failing(sink.opaque, "a", 1000, err, sizeof(err)) == 1);
    hd_store_destroy(store);
}

int main(void) {
    RUN(test_failing_clock);
    RUN(test_disable);
    RUN(test_write_back_queue);
    RUN(test_shutdown_with_the_store_away);
    RUN(test_store_sink);
    return UNIT_REPORT();
}
