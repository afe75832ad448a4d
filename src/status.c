#include "hookd/status.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hookd/httpwatch.h"
#include "hookd/log.h"
#include "hookd/util.h"

/* A scrape or probe has this long to send its request (libmicrohttpd's timeout counts silence only). */
#define REQUEST_TIMEOUT_MS 10000

struct hd_status_s {
    struct MHD_Daemon *mhd;
    hd_httpwatch_t *watch;
    hd_metrics_t *metrics;
    hd_status_ready_cb *ready;
    void *opaque;
    int port;
    int collector; /* hd_status_new_dispatcher's, removed at destroy */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    hd_status_t *s = cls;
    hd_httpwatch_received(conn);                           /* a bodiless request is complete at the first call */
    if (strcmp(method, "GET") && strcmp(method, "HEAD")) { /* RFC 9110: a 405 lists what is allowed */
        struct MHD_Response *r = MHD_create_response_from_buffer(19, "method not allowed\n", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, r);
        MHD_destroy_response(r);
        return rc;
    }
    if (!strcmp(url, "/metrics")) {
        size_t len;
        char *body = hd_metrics_render(s->metrics, &len);
        return reply(conn, MHD_HTTP_OK, HD_METRICS_CONTENT_TYPE, body, len);
    }
    if (!strcmp(url, "/healthz")) return reply(conn, MHD_HTTP_OK, "text/plain", hd_xstrdup("ok\n"), 3);
    if (!strcmp(url, "/readyz")) {
        char why[256] = "ready", line[300];
        int ok = !s->ready || s->ready(s->opaque, why, sizeof(why));
        int n = snprintf(line, sizeof(line), "%s\n", why);
        return reply(conn, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", hd_xstrdup(line),
                     (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    }
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", hd_xstrdup("not found\n"), 10);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    hd_httpwatch_completed(cls, conn);
}

/* libmicrohttpd's own errors, as JSON log lines like every other. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = '\0';
    HD_LOG(HD_LOG_WARN, "status", NULL, "%s", msg);
}

/* "host:port" or "[v6]:port" -> host, port */
static int split_listen(const char *listen, char *host, size_t host_size, const char **port) {
    const char *colon = strrchr(listen, ':');
    if (!colon || !colon[1]) return -1;
    const char *h = listen;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= host_size) return -1;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port = colon + 1;
    return 0;
}

hd_status_t *hd_status_new(const char *listen, hd_metrics_t *metrics, hd_status_ready_cb *ready, void *opaque,
                           char *errstr, size_t errstr_size) {
    hd_status_t *s = hd_xcalloc(1, sizeof(*s));
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char host[256];
    const char *port;
    s->metrics = metrics;
    s->ready = ready;
    s->opaque = opaque;
    if (split_listen(listen, host, sizeof(host), &port)) {
        snprintf(errstr, errstr_size, "metrics.listen: \"%s\" is not host:port", listen);
        goto fail;
    }
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai) {
        snprintf(errstr, errstr_size, "metrics.listen: %s: %s", listen, gai_strerror(gai));
        goto fail;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    if (!(s->watch = hd_httpwatch_new(REQUEST_TIMEOUT_MS, errstr, errstr_size))) {
        freeaddrinfo(ai);
        goto fail;
    }
    /* The logger first: libmicrohttpd warns on stderr about any option given before it. */
    s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                              MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)256,
                              MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)16, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned)(REQUEST_TIMEOUT_MS / 1000), MHD_OPTION_NOTIFY_CONNECTION, hd_httpwatch_notify,
                              s->watch, MHD_OPTION_NOTIFY_COMPLETED, completed, s->watch, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd) {
        snprintf(errstr, errstr_size, "metrics.listen: cannot listen on %s (address in use or not local?)", listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : 0;
    return s;

fail:
    hd_status_destroy(s);
    return NULL;
}

int hd_status_port(const hd_status_t *s) {
    return s->port;
}

void hd_status_destroy(hd_status_t *s) {
    if (!s) return;
    if (s->mhd) MHD_stop_daemon(s->mhd);
    hd_httpwatch_destroy(s->watch);
    if (s->collector) hd_metrics_remove_collector(s->metrics, s->collector);
    free(s);
}

/* A dispatcher is ready once its consumers hold partitions: before that it cannot deliver anything. */
static int dispatcher_ready(void *opaque, char *why, size_t why_size) {
    int64_t parts = hd_metrics_partitions_assigned();
    snprintf(why, why_size, "%lld partitions assigned", (long long)parts);
    return parts > 0;
}

static void collect_cache(hd_metrics_scrape_t *s, void *opaque) {
    hd_match_t *snap = hd_cache_get(opaque);
    /* Prometheus conventions: base units (seconds), and _count only on a histogram's or summary's series. */
    hd_metrics_emit(s, "hd_match_subscriptions", "Subscriptions in the matching cache.", "gauge", NULL,
                    hd_match_count(snap));
    hd_match_release(snap);
    hd_metrics_emit(s, "hd_match_cache_age_seconds",
                    "Age of the subscription cache snapshot; grows while the store is unreachable.", "gauge", NULL,
                    (double)hd_cache_age_ms(opaque) / 1000.0);
}

hd_status_t *hd_status_new_dispatcher(const hd_conf_t *conf, hd_cache_t *cache, char *errstr, size_t errstr_size) {
    hd_metrics_t *m = hd_metrics_default();
    hd_metrics_register_dispatcher();
    hd_status_t *s = hd_status_new(conf->metrics_listen, m, dispatcher_ready, NULL, errstr, errstr_size);
    if (!s) return NULL;
    s->collector = hd_metrics_add_collector(m, collect_cache, cache);
    HD_LOG(HD_LOG_INFO, "status", NULL, "status server on %s (port %d): /metrics /healthz /readyz",
           conf->metrics_listen, s->port);
    return s;
}
