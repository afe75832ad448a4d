/* The status server over real HTTP on loopback: routes, readiness, content type, bad addresses. */
#include <curl/curl.h>
#include <stdlib.h>
#include <strings.h>

#include "hookd/log.h"
#include "hookd/status.h"
#include "unit.h"

typedef struct {
    char body[4096];
    size_t len;
} buf_t;

static size_t on_data(char *p, size_t size, size_t n, void *opaque) {
    buf_t *b = opaque;
    size_t take = size * n < sizeof(b->body) - 1 - b->len ? size * n : sizeof(b->body) - 1 - b->len;
    memcpy(b->body + b->len, p, take);
    b->len += take;
    b->body[b->len] = '\0';
    return size * n;
}

/* Returns the HTTP status of method url, the body in *b and the content type in ctype. */
static long request(int port, const char *method, const char *path, buf_t *b, char *ctype, size_t ctype_size) {
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    b->len = 0;
    b->body[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        char *ct = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
        snprintf(ctype, ctype_size, "%s", ct ? ct : "");
    }
    curl_easy_cleanup(c);
    return status;
}

static size_t on_header(char *p, size_t size, size_t n, void *opaque) {
    if (n * size > 7 && !strncasecmp(p, "allow: ", 7)) snprintf(opaque, 64, "%.*s", (int)strcspn(p + 7, "\r\n"), p + 7);
    return size * n;
}

/* The Allow header of method path's answer ("" when none). */
static void allow_of(int port, const char *method, const char *path, char allow[64]) {
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    allow[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, allow);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_perform(c);
    curl_easy_cleanup(c);
}

static int ready_flag;

static int ready(void *opaque, char *why, size_t why_size) {
    snprintf(why, why_size, "%s", ready_flag ? "all good" : "waiting for partitions");
    return ready_flag;
}

static void test_routes(void) {
    char err[256], ct[128];
    buf_t b;
    hd_metrics_t *m = hd_metrics_new();
    hd_metric_add(hd_metrics_counter(m, "t_total", "Things.", NULL), 3);
    hd_status_t *s = hd_status_new("127.0.0.1:0", m, ready, NULL, err, sizeof(err));
    CHECK(s != NULL);
    if (!s) {
        hd_metrics_destroy(m);
        return;
    }
    int port = hd_status_port(s);
    CHECK(port > 0);
    CHECK(request(port, "GET", "/healthz", &b, ct, sizeof(ct)) == 200);
    CHECK_STR(b.body, "ok\n");
    ready_flag = 0;
    CHECK(request(port, "GET", "/readyz", &b, ct, sizeof(ct)) == 503);
    CHECK_STR(b.body, "waiting for partitions\n");
    ready_flag = 1;
    CHECK(request(port, "GET", "/readyz", &b, ct, sizeof(ct)) == 200);
    CHECK_STR(b.body, "all good\n");
    CHECK(request(port, "GET", "/metrics", &b, ct, sizeof(ct)) == 200);
    CHECK_STR(ct, HD_METRICS_CONTENT_TYPE);
    CHECK_STR(b.body, "# HELP t_total Things.\n# TYPE t_total counter\nt_total 3\n");
    CHECK(request(port, "GET", "/nope", &b, ct, sizeof(ct)) == 404);
    CHECK(request(port, "POST", "/metrics", &b, ct, sizeof(ct)) == 405);
    CHECK(request(port, "TRACE", "/metrics", &b, ct, sizeof(ct)) == 405);
    char allow[64];
    allow_of(port, "TRACE", "/metrics", allow);
    CHECK_STR(allow, "GET, HEAD");
    hd_status_destroy(s);
    hd_status_destroy(NULL);
    hd_metrics_destroy(m);
}

static void test_bad_listen(void) {
    char err[256];
    const char *bad[] = {"9090", "127.0.0.1:", ":9090", "no.such.host.invalid:9090"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(hd_status_new(bad[i], hd_metrics_default(), NULL, NULL, err, sizeof(err)) == NULL);
        CHECK(strncmp(err, "metrics.listen: ", 16) == 0);
    }
    /* A port already taken. */
    hd_status_t *a = hd_status_new("127.0.0.1:0", hd_metrics_default(), NULL, NULL, err, sizeof(err));
    CHECK(a != NULL);
    if (!a) return;
    char listen[64];
    snprintf(listen, sizeof(listen), "127.0.0.1:%d", hd_status_port(a));
    CHECK(hd_status_new(listen, hd_metrics_default(), NULL, NULL, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "cannot listen on") != NULL);
    hd_status_destroy(a);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(test_routes);
    RUN(test_bad_listen);
    curl_global_cleanup();
    return UNIT_REPORT();
}
