/* The subscription cache over a file store: the first load, a changed file reloaded, an unchanged one kept, and
 * a start without a readable store refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/cache.h"
#include "hookd/util.h"
#include "unit.h"

#define SUB(id, type)                                                                                                  \
    "{\"id\":\"" id "\",\"tenant\":\"t\",\"url\":\"http://127.0.0.1/\",\"event_types\":[\"" type "\"],"                \
    "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}"

static char path[] = "/tmp/hookd-test-cache-XXXXXX";

static void write_file(const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* The snapshot once a look at the store that started now has finished (hd_cache_seen asks for one). */
static hd_match_t *after_a_look(hd_cache_t *cache) {
    int64_t from = hd_now_ms();
    for (int i = 0; i < 500 && !hd_cache_seen(cache, from); i++)
        usleep(10000);
    return hd_cache_get(cache);
}

static hd_cache_t *start(hd_store_t **store) {
    char uri[64], err[256];
    snprintf(uri, sizeof(uri), "file:%s", path);
    *store = hd_store_new(uri, NULL, err, sizeof(err));
    /* refreshes every 50 ms; no periodic full reload (a file reloads when it changes) */
    hd_cache_t *cache = *store ? hd_cache_new(*store, 50, 0, err, sizeof(err)) : NULL;
    if (!cache) fprintf(stderr, "cache: %s\n", err);
    return cache;
}

/* A full reload that finds every subscription unchanged keeps the snapshot (no second index while it runs); one
 * that finds a change installs a new one, sharing the unchanged subscriptions. */
static void test_reload(void) {
    hd_store_t *store;
    write_file("[" SUB("a", "x") "," SUB("b", "y") "]");
    hd_cache_t *cache = start(&store);
    CHECK(cache != NULL);
    if (!cache) goto out;
    hd_match_t *first = hd_cache_get(cache);
    CHECK(hd_match_count(first) == 2 && hd_cache_seen(cache, 0) == 1);
    write_file("[" SUB("b", "y") ", " SUB("a", "x") "]"); /* another file, the same subscriptions */
    hd_match_t *second = after_a_look(cache);
    CHECK(second == first);
    write_file("[" SUB("a", "x") "]");
    hd_match_t *third = after_a_look(cache);
    CHECK(third != first && hd_match_count(third) == 1 && hd_match_get(third, "a") == hd_match_get(first, "a"));
    write_file("[" SUB("a", "z") "]");
    hd_match_t *fourth = after_a_look(cache);
    CHECK(fourth != third && hd_match_get(fourth, "a") != hd_match_get(first, "a"));
    CHECK(hd_match_get(fourth, "a") && !strcmp(hd_match_get(fourth, "a")->event_types[0], "z"));
    hd_match_release(first);
    hd_match_release(second);
    hd_match_release(third);
    hd_match_release(fourth);
out:
    hd_cache_destroy(cache);
    hd_store_destroy(store);
}

/* A start must fail loudly rather than dispatch with no subscriptions. */
static void test_unreadable_store(void) {
    char err[256] = "";
    hd_store_t *store = hd_store_new("file:/nonexistent/hookd/subscriptions.json", NULL, err, sizeof(err));
    CHECK(store != NULL);
    CHECK(hd_cache_new(store, 50, 0, err, sizeof(err)) == NULL && strstr(err, "/nonexistent/hookd"));
    hd_store_destroy(store);
}

int main(void) {
    close(mkstemp(path));
    RUN(test_reload);
    RUN(test_unreadable_store);
    unlink(path);
    return UNIT_REPORT();
}
