/* The file store: a bare array or {"subscriptions": [...]} among other members, read one subscription at a time
 * (values spanning read chunks included); invalid JSON fails the whole load, an invalid subscription is skipped. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/store.h"
#include "unit.h"

#define SUB(id) "{\"id\":\"" id "\",\"tenant\":\"t\",\"url\":\"http://h/\",\"event_types\":[\"a\"]," \
                "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}"

/* Loads text from a temporary file: the count, or -1 when the load fails (err filled). */
static int load(const char *text, hd_sub_t ***subs, char *err, size_t err_size) {
    char path[] = "/tmp/hookd-test-store-XXXXXX", uri[64];
    int fd = mkstemp(path), cnt = 0;
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) return -2;
    close(fd);
    snprintf(uri, sizeof(uri), "file:%s", path);
    hd_store_t *store = hd_store_new(uri, "unused", err, err_size);
    int rc = hd_store_load(store, subs, &cnt, err, err_size);
    hd_store_destroy(store);
    unlink(path);
    return rc ? -1 : cnt;
}

static void free_subs(hd_sub_t **subs, int cnt) {
    for (int i = 0; i < cnt; i++) hd_sub_destroy(subs[i]);
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
    const char *bad[] = {"", "{}", "{\"subscriptions\": 3}", "[" SUB("a") ",", "[" SUB("a") ",]", "[" SUB("a") " " SUB("b") "]",
                         "[" SUB("a") ", {\"id\": \"x\"", "\"text\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(load(bad[i], &subs, err, sizeof(err)) == -1 && subs == NULL);
        CHECK(strstr(err, "hookd-test-store") != NULL);
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

int main(void) {
    RUN(test_shapes);
    RUN(test_invalid);
    RUN(test_large_value);
    return UNIT_REPORT();
}
