/* The ceiling of `make bench`: raw libcurl multi on one thread, POSTing the same 1 KB JSON body with
 * webhook-like headers to the same receiver, `concurrency` transfers kept in flight, keep-alive. hookd's rate is
 * reported as a ratio of this one, measured in the same run on the same box.
 *   bench_curl URL REQUESTS CONCURRENCY  ->  one JSON line on stdout */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static size_t discard(char *p, size_t s, size_t n, void *u) {
    return s * n;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: bench_curl URL REQUESTS CONCURRENCY\n");
        return 2;
    }
    const char *url = argv[1];
    long total = atol(argv[2]), conc = atol(argv[3]), started = 0, done = 0, failed = 0;
    char body[1024];
    memset(body, 'x', sizeof(body));
    memcpy(body, "{\"data\":\"", 9);
    memcpy(body + sizeof(body) - 2, "\"}", 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "content-type: application/json");
    h = curl_slist_append(h, "webhook-id: msg_0123456789abcdef0123456789abcdef");
    h = curl_slist_append(h, "webhook-timestamp: 1700000000");
    h = curl_slist_append(h, "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    h = curl_slist_append(h, "Expect:");
    CURL **pool = calloc((size_t)conc, sizeof(CURL *));
    int pooled = 0;
    double t0 = now_s();
    while (done < total) {
        while (started < total && started - done < conc) {
            CURL *e = pooled ? pool[--pooled] : curl_easy_init();
            curl_easy_setopt(e, CURLOPT_URL, url);
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)sizeof(body));
            curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
            curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
            curl_multi_add_handle(m, e);
            started++;
        }
        int running;
        curl_multi_poll(m, NULL, 0, 100, NULL);
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            if (msg->data.result != CURLE_OK || status >= 300) failed++;
            curl_multi_remove_handle(m, msg->easy_handle);
            pool[pooled++] = msg->easy_handle;
            done++;
        }
    }
    double secs = now_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    printf("{\"requests\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"rate\": %.0f, \"cpu_s\": %.3f}\n", done, failed,
           secs, done / secs, cpu);
    for (int i = 0; i < pooled; i++) curl_easy_cleanup(pool[i]);
    free(pool);
    curl_slist_free_all(h);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
