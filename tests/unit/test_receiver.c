/* The built-in receiver over HTTP: a route answers its status to requests signed with its secret, 401 to any other,
 * 503 to its first fail_first signed ones; unknown paths 404, other methods 405, bodies over 1 MB 413; the counts. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/receiver.h"
#include "hookd/sign.h"
#include "unit.h"

static char secret_a[64], secret_b[64];
static hd_receiver_t *receiver;

static size_t discard(char *data, size_t size, size_t n, void *opaque) {
    return size * n;
}

/* POSTs body to path signed with secret over signed_body, or over body when that is NULL (secret NULL: no webhook
 * headers); GETs when body is NULL. The HTTP status. */
static long request(const char *path, const char *secret, const char *body, size_t body_len, const char *signed_body) {
    char url[256], sig[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", hd_receiver_port(receiver), path);
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
    if (secret) {
        hd_sign_key_t key;
        char err[128], v1[HD_SIGN_V1_SIZE];
        CHECK(hd_sign_key_init(&key, secret, err, sizeof(err)) == 0);
        const char *s = signed_body ? signed_body : body;
        hd_sign_v1(&key, "msg_1", 1767323045, s, strlen(s), v1);
        snprintf(sig, sizeof(sig), "webhook-signature: %s", v1);
        headers = curl_slist_append(headers, "webhook-id: msg_1");
        headers = curl_slist_append(headers, "webhook-timestamp: 1767323045");
        headers = curl_slist_append(headers, sig);
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    long status = 0;
    if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return status;
}

#define POST(path, secret, body) request(path, secret, body, strlen(body), NULL)

static void counts(int *received, int *verified) {
    hd_receiver_counts(receiver, received, verified);
}

static void test_signed(void) {
    int r0, v0, r, v;
    CHECK(hd_receiver_port(receiver) != 0); /* port 0 picked a free one */
    counts(&r0, &v0);
    CHECK(POST("/ok", secret_a, "{\"a\":1}") == 200);
    CHECK(POST("/gone", secret_a, "{}") == 410);
    CHECK(request("/ok", secret_a, "", 0, NULL) == 200); /* an empty body signs as "" */
    counts(&r, &v);
    CHECK(r == r0 + 3 && v == v0 + 3);
}

/* Another route's secret, a changed body, no signature: 401, received but not verified. */
static void test_not_verified(void) {
    int r0, v0, r, v;
    counts(&r0, &v0);
    CHECK(POST("/ok", secret_b, "{\"a\":1}") == 401);
    CHECK(request("/ok", secret_a, "{\"a\":2}", 7, "{\"a\":1}") == 401);
    CHECK(POST("/ok", NULL, "{\"a\":1}") == 401);
    counts(&r, &v);
    CHECK(r == r0 + 3 && v == v0);
}

static void test_routing(void) {
    int r0, v0, r, v;
    counts(&r0, &v0);
    CHECK(POST("/nowhere", secret_a, "{}") == 404);
    CHECK(POST("/ok/", secret_a, "{}") == 404);
    counts(&r, &v);
    CHECK(r == r0 + 2 && v == v0);
    CHECK(request("/ok", NULL, NULL, 0, NULL) == 405); /* GET: not counted */
    counts(&r, &v);
    CHECK(r == r0 + 2);
}

/* The first fail_first signed requests get 503; unsigned ones do not use them up. */
static void test_fail_first(void) {
    CHECK(POST("/flaky", secret_b, "{}") == 503);
    CHECK(POST("/flaky", secret_a, "{}") == 401);
    CHECK(POST("/flaky", secret_b, "{}") == 503);
    CHECK(POST("/flaky", secret_b, "{}") == 204);
    CHECK(POST("/flaky", secret_b, "{}") == 204);
}

static void test_too_large(void) {
    size_t len = (1 << 20) + 1;
    char *body = malloc(len + 1);
    memset(body, 'a', len);
    body[len] = '\0';
    CHECK(request("/ok", secret_a, body, len, NULL) == 413);
    CHECK(request("/ok", secret_a, body, len - 1, "") == 401); /* 1 MB is accepted (and checked) */
    free(body);
}

static void test_new_fails(void) {
    char err[256] = "";
    hd_receiver_route_t bad = {"/x", 200, 0, "whsec_not base64!"};
    CHECK(hd_receiver_new(0, &bad, 1, err, sizeof(err)) == NULL);
    CHECK(err[0] != '\0');
    hd_receiver_route_t ok = {"/x", 200, 0, secret_a};
    err[0] = '\0';
    CHECK(hd_receiver_new(hd_receiver_port(receiver), &ok, 1, err, sizeof(err)) == NULL); /* port taken */
    CHECK(strstr(err, "cannot listen") != NULL);
}

int main(void) {
    char err[256];
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT)) return 1;
    hd_sign_secret_generate(secret_a, sizeof(secret_a));
    hd_sign_secret_generate(secret_b, sizeof(secret_b));
    const hd_receiver_route_t routes[] = {
        {"/ok", 200, 0, secret_a}, {"/gone", 410, 0, secret_a}, {"/flaky", 204, 2, secret_b}};
    if (!(receiver = hd_receiver_new(0, routes, 3, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(test_signed);
    RUN(test_not_verified);
    RUN(test_routing);
    RUN(test_fail_first);
    RUN(test_too_large);
    RUN(test_new_fails);
    hd_receiver_destroy(receiver);
    hd_receiver_destroy(NULL);
    curl_global_cleanup();
    return UNIT_REPORT();
}
