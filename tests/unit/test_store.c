/* The file store: a bare array or {"subscriptions": [...]} among other members, read one subscription at a time
 * (values spanning read chunks included); invalid JSON fails the whole load, an invalid subscription is skipped. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/store.h"
#include "unit.h"

#define SUB(id)                                                                                                        \
    "{\"id\":\"" id "\",\"tenant\":\"t\",\"url\":\"http://h/\",\"event_types\":[\"a\"],"                               \
    "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}"

static hd_store_t *store;
static char path[] = "/tmp/hookd-test-store-XXXXXX";

/* Writes text to the store's file and loads it: the count, or -1 when the load fails (err filled). */
static int load_reusing(const char *text, hd_store_reuse_cb *reuse, void *opaque, hd_sub_t ***subs, char *err,
                        size_t err_size) {
    FILE *f = fopen(path, "w");
    int cnt = 0;
    fputs(text, f);
    fclose(f);
    return hd_store_load(store, reuse, opaque, subs, &cnt, err, err_size) ? -1 : cnt;
}

static int load(const char *text, hd_sub_t ***subs, char *err, size_t err_size) {
    return load_reusing(text, NULL, NULL, subs, err, err_size);
}

static void free_subs(hd_sub_t **subs, int cnt) {
    for (int i = 0; i < cnt; i++)
        hd_sub_destroy(subs[i]);
    free(subs);
}

static void test_shapes(void) {
    hd_sub_t **subs;
    char err[256];
    int n = load(" [ " SUB("a") " ,\n" SUB("b") " ] ", &subs, err, sizeof(err));
    CHECK(n == 2);
    if (n == 2) CHECK_STR(subs[1]->id, "b");
    free_subs(subs, n);
    n = load("{\"version\": 1, \"meta\": {\"x\": [1, \"]\"]}, \"subscriptions\": [" SUB("a") "], \"tail\": 2}", &subs,
             err, sizeof(err));
    CHECK(n == 1);
    free_subs(subs, n);
    n = load("[]", &subs, err, sizeof(err));
    CHECK(n == 0 && subs == NULL);
    n = load("[" SUB("a") ", {\"id\": \"no-url\"}, " SUB("c") "]", &subs, err, sizeof(err)); /* one skipped */
    CHECK(n == 2);
    free_subs(subs, n);
}

static void test_invalid(void) {
    hd_sub_t **subs;
    char err[256];
    const char *bad[] = {"",
                         "{}",
                         "{\"subscriptions\": 3}",
                         "[" SUB("a") ",",
                         "[" SUB("a") ",]",
                         "[" SUB("a") " " SUB("b") "]",
                         "[" SUB("a") ", {\"id\": \"x\"",
                         "\"text\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(load(bad[i], &subs, err, sizeof(err)) == -1 && subs == NULL);
        CHECK(strstr(err, path) != NULL);
    }
}

/* A subscription larger than the reader's 64 KB chunk, split across reads. */
static void test_large_value(void) {
    size_t pad = 200000;
    char *text = malloc(pad + 1024), *p = text;
    p += sprintf(p, "[" SUB("a") ", {\"id\":\"big\",\"name\":\"");
    memset(p, 'n', pad);
    p += pad;
    sprintf(p, "\",\"tenant\":\"t\",\"url\":\"http://h/\",\"event_types\":[\"a\"],"
               "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}, " SUB("c") "]");
    hd_sub_t **subs;
    char err[256];
    int n = load(text, &subs, err, sizeof(err));
    CHECK(n == 3);
    if (n == 3) CHECK(!strcmp(subs[1]->id, "big") && strlen(subs[1]->name) == pad);
    free_subs(subs, n);
    free(text);
}

typedef struct {
    hd_sub_t **subs;
    int cnt;
} previous_t;

static hd_sub_t *reuse_previous(void *opaque, const char *id, uint64_t digest) {
    previous_t *p = opaque;
    for (int i = 0; i < p->cnt; i++)
        if (!strcmp(p->subs[i]->id, id) && p->subs[i]->digest == digest) return hd_sub_retain(p->subs[i]);
    return NULL;
}

/* A reload shares unchanged subscriptions (same document) with the previous load and parses changed ones. */
static void test_reuse(void) {
    hd_sub_t **first, **second;
    char err[256];
    int n = load("[" SUB("a") "," SUB("b") "]", &first, err, sizeof(err));
    CHECK(n == 2);
    previous_t prev = {first, n};
    int m = load_reusing("[" SUB("a") ",{\"id\":\"b\",\"tenant\":\"t2\",\"url\":\"http://h/\",\"event_types\":[\"a\"],"
                                      "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}]",
                         reuse_previous, &prev, &second, err, sizeof(err));
    CHECK(m == 2);
    if (n == 2 && m == 2) {
        CHECK(second[0] == first[0] && second[1] != first[1]);
        CHECK_STR(second[1]->tenant, "t2");
        CHECK(second[0]->digest == first[0]->digest && second[1]->digest != first[1]->digest);
    }
    free_subs(first, n); /* the shared one lives on in second */
    if (m == 2) CHECK_STR(second[0]->id, "a");
    free_subs(second, m);
}

/* A file cannot list its changes: a look says whether it changed since the last load, and a failed load leaves
 * the change to be seen again. */
static void test_file_changes(void) {
    hd_sub_t **subs;
    hd_store_changes_t ch;
    char err[256];
    int n = load("[" SUB("a") "]", &subs, err, sizeof(err));
    free_subs(subs, n);
    CHECK(hd_store_changes(store, NULL, NULL, &ch, err, sizeof(err)) == 0 && !ch.reload && !ch.cnt);
    FILE *f = fopen(path, "w");
    fputs("[" SUB("a") "," SUB("b") "]", f);
    fclose(f);
    CHECK(hd_store_changes(store, NULL, NULL, &ch, err, sizeof(err)) == 0 && ch.reload);
    CHECK(load("[" SUB("a") ",", &subs, err, sizeof(err)) == -1);
    CHECK(hd_store_changes(store, NULL, NULL, &ch, err, sizeof(err)) == 0 && ch.reload);
    hd_store_changes_clear(&ch);
}

int main(void) {
    char err[256], uri[64];
    close(mkstemp(path));
    snprintf(uri, sizeof(uri), "file:%s", path);
    store = hd_store_new(uri, "unused", err, sizeof(err));
    RUN(test_reuse);
    RUN(test_shapes);
    RUN(test_invalid);
    RUN(test_large_value);
    RUN(test_file_changes);
    hd_store_destroy(store);
    unlink(path);
    return UNIT_REPORT();
}
