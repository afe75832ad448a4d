#include "hookd/deliver.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "hookd/guard.h"
#include "hookd/util.h"

#define POOL_MAX 256

struct hd_deliver_s {
    CURLM *multi;
    hd_deliver_done_cb *done;
    void *opaque;
    size_t inflight;
    CURL *pool[POOL_MAX]; /* idle easy handles: reusing them keeps their DNS and TLS session caches warm */
    int pool_cnt;
    long timeout_ms, connect_timeout_ms;
    size_t max_response;
    char *user_agent;
    char *proxy;
    hd_guard_t *guard;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

hd_deliver_t *hd_deliver_new(const hd_conf_t *conf, hd_deliver_done_cb *done, void *opaque, char *errstr,
                             size_t errstr_size) {
    pthread_once(&curl_once, curl_init_once);
    hd_deliver_t *d = hd_xcalloc(1, sizeof(*d));
    d->multi = curl_multi_init();
    if (!d->multi) {
        snprintf(errstr, errstr_size, "curl_multi_init failed");
        free(d);
        return NULL;
    }
    d->done = done;
    d->opaque = opaque;
    d->timeout_ms = (long)conf->http_timeout_ms;
    d->connect_timeout_ms = (long)conf->http_connect_timeout_ms;
    d->max_response = (size_t)conf->http_max_response_bytes;
    d->user_agent = hd_xstrdup(conf->user_agent);
    d->proxy = hd_xstrdup(conf->http_proxy);
    if (!(d->guard = hd_guard_new(conf->http_allow_cidrs, errstr, errstr_size))) {
        hd_deliver_destroy(d);
        return NULL;
    }
    /* The dispatcher caps deliveries per host at the same figure, so curl never queues transfers internally where
     * they would hold global in-flight slots; HTTP/2 multiplexes where the receiver offers it. */
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conf->http_max_inflight_per_host);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 1024L);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    return d;
}

void hd_deliver_destroy(hd_deliver_t *d) {
    if (!d) return;
    for (int i = 0; i < d->pool_cnt; i++)
        curl_easy_cleanup(d->pool[i]);
    curl_multi_cleanup(d->multi);
    hd_guard_destroy(d->guard);
    free(d->proxy);
    free(d->user_agent);
    free(d);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
    hd_deliver_req_t *req = userdata;
    size_t n = size * nmemb, room = req->response_cap - req->response_len;
    size_t take = n < room ? n : room;
    if (take) {
        if (req->response_len + take + 1 > req->response_alloc) { /* most receivers send no body: grow on demand */
            size_t want = req->response_len + take + 1, alloc = req->response_alloc ? req->response_alloc : 256;
            while (alloc < want)
                alloc *= 2;
            req->response_alloc = alloc < req->response_cap + 1 ? alloc : req->response_cap + 1;
            req->response = hd_xrealloc(req->response, req->response_alloc);
        }
        memcpy(req->response + req->response_len, ptr, take);
        req->response_len += take;
        req->response[req->response_len] = '\0';
    }
    return n; /* the rest is read and dropped: memory stays bounded whatever the receiver sends */
}

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110 10.2.3). */
static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
    hd_deliver_req_t *req = userdata;
    size_t n = size * nitems;
    if (n > 12 && !strncasecmp(buf, "retry-after:", 12)) {
        char val[64];
        size_t vlen = n - 12 < sizeof(val) - 1 ? n - 12 : sizeof(val) - 1;
        memcpy(val, buf + 12, vlen);
        val[vlen] = '\0';
        char *v = hd_trim(val), *end;
        long long secs = strtoll(v, &end, 10);
        if (end != v && !*end && secs >= 0) {
            req->retry_after_s = secs;
        } else {
            time_t when = curl_getdate(v, NULL);
            if (when > 0) req->retry_after_s = when > time(NULL) ? when - time(NULL) : 0;
        }
    }
    return n;
}

/* Every connection curl opens passes here with the address it resolved, so the guard sees the real target. */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
    hd_deliver_req_t *req = clientp;
    const char *why = hd_guard_check(req->guard, &address->addr);
    if (why) {
        char ip[INET6_ADDRSTRLEN] = "?";
        if (address->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&address->addr)->sin_addr, ip, sizeof(ip));
        else if (address->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&address->addr)->sin6_addr, ip, sizeof(ip));
        snprintf(req->refused, sizeof(req->refused), "%s (%s)", ip, why);
        return CURL_SOCKET_BAD;
    }
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

/* A new easy handle with the options every request shares; pooled handles keep them, so a request sets only its
 * own (curl_easy_reset and a dozen setopts per request were a few percent of a delivery's CPU). */
static CURL *easy_new(hd_deliver_t *d) {
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, d->user_agent);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, d->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, d->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is the receiver's misconfiguration */
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROXY, d->proxy); /* "" disables proxies, including the environment's */
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    return e;
}

/* A NULL value writes "name:", which tells curl to leave the header out. */
struct curl_slist *hd_deliver_headers(const hd_sub_header_t *custom, int custom_cnt, const char *content_type,
                                      const char *webhook_id, const char *timestamp, const char *signature) {
    int cnt = custom_cnt + 5;
    hd_sub_header_t h[cnt];
    for (int i = 0; i < custom_cnt; i++)
        h[i] = custom[i];
    h[custom_cnt] = (hd_sub_header_t){"content-type", content_type};
    h[custom_cnt + 1] = (hd_sub_header_t){"webhook-id", webhook_id};
    h[custom_cnt + 2] = (hd_sub_header_t){"webhook-timestamp", timestamp};
    h[custom_cnt + 3] = (hd_sub_header_t){"webhook-signature", signature};
    h[custom_cnt + 4] = (hd_sub_header_t){"Expect", NULL};
    size_t text = 0;
    for (int i = 0; i < cnt; i++)
        text += strlen(h[i].name) + (h[i].value ? strlen(h[i].value) + 2 : 0) + 2;
    struct curl_slist *nodes = hd_xmalloc(sizeof(*nodes) * (size_t)cnt + text);
    char *p = (char *)(nodes + cnt);
    for (int i = 0; i < cnt; i++) {
        nodes[i].data = p;
        nodes[i].next = i + 1 < cnt ? &nodes[i + 1] : NULL;
        size_t n = strlen(h[i].name);
        memcpy(p, h[i].name, n);
        p += n;
        *p++ = ':';
        if (h[i].value) {
            n = strlen(h[i].value);
            *p++ = ' ';
            memcpy(p, h[i].value, n);
            p += n;
        }
        *p++ = '\0';
    }
    return nodes;
}

int hd_deliver_submit(hd_deliver_t *d, hd_deliver_req_t *req) {
    CURL *e = d->pool_cnt ? d->pool[--d->pool_cnt] : easy_new(d);
    if (!e) {
        snprintf(req->error, sizeof(req->error), "curl_easy_init failed");
        return -1;
    }
    req->easy = e;
    req->status = 0;
    req->curl_code = 0;
    req->error[0] = '\0';
    req->retry_after_s = -1;
    req->refused[0] = '\0';
    req->guard = d->guard;
    req->response_cap = d->max_response;
    req->response_len = 0;
    req->started_us = hd_mono_us();

    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, req);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, req);

    CURLMcode mc = curl_multi_add_handle(d->multi, e);
    if (mc != CURLM_OK) {
        snprintf(req->error, sizeof(req->error), "curl_multi_add_handle: %s", curl_multi_strerror(mc));
        curl_easy_cleanup(e);
        req->easy = NULL;
        return -1;
    }
    d->inflight++;
    return 0;
}

static void release_easy(hd_deliver_t *d, CURL *e) {
    curl_multi_remove_handle(d->multi, e);
    if (d->pool_cnt < POOL_MAX) {
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, NULL); /* the request it points into is about to be freed */
        d->pool[d->pool_cnt++] = e;
    } else {
        curl_easy_cleanup(e);
    }
}

int hd_deliver_run(hd_deliver_t *d, struct curl_waitfd *extra_fds, unsigned extra_cnt, int timeout_ms) {
    int running, finished = 0, left;
    if (curl_multi_poll(d->multi, extra_fds, extra_cnt, timeout_ms, NULL) != CURLM_OK) return -1;
    if (curl_multi_perform(d->multi, &running) != CURLM_OK) return -1;
    /* Drain the message queue before removing any handle: curl_multi_remove_handle scans the queue for the
     * handle's messages, so removing while messages are pending costs O(n^2) per batch. */
    CURLMsg *msg;
    CURL *finished_handles[256];
    CURLcode results[256];
    int n;
    do {
        n = 0;
        while (n < 256 && (msg = curl_multi_info_read(d->multi, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            finished_handles[n] = msg->easy_handle;
            results[n++] = msg->data.result;
        }
        for (int i = 0; i < n; i++) {
            CURL *e = finished_handles[i];
            hd_deliver_req_t *req;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&req);
            req->curl_code = (int)results[i];
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &req->status);
            if (req->curl_code && !req->error[0])
                snprintf(req->error, sizeof(req->error), "%s", curl_easy_strerror(results[i]));
            req->duration_us = hd_mono_us() - req->started_us;
            release_easy(d, e);
            req->easy = NULL;
            d->inflight--;
            finished++;
            d->done(req, d->opaque);
        }
    } while (n == 256);
    return finished;
}

void hd_deliver_cancel(hd_deliver_t *d, hd_deliver_req_t *req) {
    if (!req->easy) return;
    release_easy(d, req->easy);
    req->easy = NULL;
    d->inflight--;
}

size_t hd_deliver_inflight(const hd_deliver_t *d) {
    return d->inflight;
}

void hd_deliver_req_clear(hd_deliver_req_t *req) {
    free(req->response);
    req->response = NULL;
    req->response_len = 0;
    req->response_alloc = 0;
}
