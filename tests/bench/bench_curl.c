/* The ceiling of `make bench`: raw libcurl multi on one thread, POSTing the same 1 KB JSON body with
 * webhook-like headers to the same receiver, `concurrency` transfers kept in flight, keep-alive. hookd's rate is
 * reported as a ratio of this one, measured in the same run on the same box. Two ways to drive the multi handle:
 * "poll" (curl_multi_poll + curl_multi_perform, as hookd does) and "socket" (curl_multi_socket_action, the sockets
 * kept in one poll set); the bench takes the fastest of both at two concurrencies.
 *   bench_curl URL REQUESTS CONCURRENCY [poll|socket]  ->  one JSON line on stdout */
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static struct pollfd fds[4096];
static int nfds, slot_of[65536];
static double timer_due = -1; /* seconds on now_s()'s clock, -1 for none */

static size_t discard(char *p, size_t s, size_t n, void *u) {
    return s * n;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* slot_of[s]: 1 + the socket's index in fds, 0 when it is not watched. */
static int on_socket(CURL *e, curl_socket_t s, int what, void *u, void *sp) {
    if (what == CURL_POLL_REMOVE) {
        if (!slot_of[s]) return 0;
        int i = slot_of[s] - 1;
        fds[i] = fds[--nfds];
        if (i < nfds) slot_of[fds[i].fd] = i + 1;
        slot_of[s] = 0;
        return 0;
    }
    if (!slot_of[s]) {
        fds[nfds].fd = s;
        slot_of[s] = ++nfds;
    }
    fds[slot_of[s] - 1].events = (short)((what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0));
    return 0;
}

static int on_timer(CURLM *m, long ms, void *u) {
    timer_due = ms < 0 ? -1 : now_s() + ms / 1e3;
    return 0;
}

/* Waits for the network and advances the transfers. */
static void step(CURLM *m, int socket_api) {
    int running;
    if (!socket_api) {
        curl_multi_poll(m, NULL, 0, 100, NULL);
        curl_multi_perform(m, &running);
        return;
    }
    int wait = 100;
    if (timer_due >= 0) wait = timer_due <= now_s() ? 0 : (int)((timer_due - now_s()) * 1e3) + 1;
    poll(fds, (nfds_t)nfds, wait);
    int ready[4096], mask[4096], n = 0; /* taken out first: serving a socket may change fds */
    for (int i = 0; i < nfds; i++) {
        short r = fds[i].revents;
        if (!r) continue;
        ready[n] = fds[i].fd;
        mask[n++] = (r & POLLIN ? CURL_CSELECT_IN : 0) | (r & POLLOUT ? CURL_CSELECT_OUT : 0) |
                    (r & (POLLERR | POLLHUP) ? CURL_CSELECT_ERR : 0);
    }
    for (int i = 0; i < n; i++)
        curl_multi_socket_action(m, ready[i], mask[i], &running);
    if (timer_due >= 0 && timer_due <= now_s()) {
        timer_due = -1;
        curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

int main(int argc, char **argv) {
    if (argc != 4 && !(argc == 5 && (!strcmp(argv[4], "poll") || !strcmp(argv[4], "socket")))) {
        fprintf(stderr, "usage: bench_curl URL REQUESTS CONCURRENCY [poll|socket]\n");
        return 2;
    }
    int socket_api = argc == 5 && !strcmp(argv[4], "socket");
    const char *url = argv[1];
    long total = atol(argv[2]), conc = atol(argv[3]), started = 0, done = 0, failed = 0;
    char body[1024];
    memset(body, 'x', sizeof(body));
    memcpy(body, "{\"data\":\"", 9);
    memcpy(body + sizeof(body) - 2, "\"}", 2);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, 64L);
    if (socket_api) {
        curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
    }
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
        step(m, socket_api);
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
    printf("{\"mode\": \"%s\", \"requests\": %ld, \"failed\": %ld, \"seconds\": %.3f, \"rate\": %.0f, "
           "\"cpu_s\": %.3f}\n",
           socket_api ? "socket" : "poll", done, failed, secs, done / secs, cpu);
    for (int i = 0; i < pooled; i++)
        curl_easy_cleanup(pool[i]);
    free(pool);
    curl_slist_free_all(h);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    return failed ? 1 : 0;
}
