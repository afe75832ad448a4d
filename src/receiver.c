#include "hookd/receiver.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/sign.h"
#include "hookd/util.h"

#define MAX_BODY (1 << 20)

typedef struct {
    char *path;
    int status;
    int fail_first; /* guarded by the receiver's lock */
    hd_sign_key_t key;
} route_t;

struct hd_receiver_s {
    struct MHD_Daemon *daemon;
    route_t *routes;
    int cnt;
    uint16_t port;
    pthread_mutex_t lock;
    int received, verified;
};

typedef struct {
    char *body;
    size_t len;
    int too_big;
} req_t;

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *text) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    hd_receiver_t *r = cls;
    req_t *req = *con_cls;
    if (!req) {
        *con_cls = hd_xcalloc(1, sizeof(req_t));
        return MHD_YES;
    }
    if (*upload_size) {
        if (req->len + *upload_size > MAX_BODY) {
            req->too_big = 1;
        } else {
            req->body = hd_xrealloc(req->body, req->len + *upload_size + 1);
            memcpy(req->body + req->len, upload, *upload_size);
            req->len += *upload_size;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, "POST")) return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
    if (req->too_big) return answer(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body too large\n");

    route_t *route = NULL;
    for (int i = 0; i < r->cnt; i++)
        if (!strcmp(r->routes[i].path, url)) route = &r->routes[i];
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "webhook-signature");
    int ok = route && id && ts && sig &&
             hd_sign_verify(&route->key, id, strtoll(ts, NULL, 10), req->body ? req->body : "", req->len, sig);
    unsigned status = MHD_HTTP_SERVICE_UNAVAILABLE;
    pthread_mutex_lock(&r->lock);
    r->received++;
    r->verified += ok;
    if (route && ok && route->fail_first > 0)
        route->fail_first--;
    else if (route)
        status = (unsigned)route->status;
    pthread_mutex_unlock(&r->lock);
    if (!route) return answer(conn, MHD_HTTP_NOT_FOUND, "no such endpoint\n");
    if (!ok) return answer(conn, MHD_HTTP_UNAUTHORIZED, "invalid signature\n");
    return answer(conn, status, "");
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    req_t *req = *con_cls;
    if (!req) return;
    free(req->body);
    free(req);
    *con_cls = NULL;
}

hd_receiver_t *hd_receiver_new(uint16_t port, const hd_receiver_route_t *routes, int cnt, char *errstr,
                               size_t errstr_size) {
    hd_receiver_t *r = hd_xcalloc(1, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
    r->routes = hd_xcalloc((size_t)cnt, sizeof(route_t));
    r->cnt = cnt; /* a failing secret leaves later paths NULL: destroy frees them all */
    for (int i = 0; i < cnt; i++) {
        r->routes[i].path = hd_xstrdup(routes[i].path);
        r->routes[i].status = routes[i].status;
        r->routes[i].fail_first = routes[i].fail_first;
        if (hd_sign_key_init(&r->routes[i].key, routes[i].secret, errstr, errstr_size)) goto fail;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    r->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL, on_request, r,
                                 MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED, on_done, r, MHD_OPTION_END);
    if (!r->daemon) {
        snprintf(errstr, errstr_size, "receiver: cannot listen on 127.0.0.1:%u", port);
        goto fail;
    }
    r->port = MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    return r;

fail:
    hd_receiver_destroy(r);
    return NULL;
}

void hd_receiver_destroy(hd_receiver_t *r) {
    if (!r) return;
    if (r->daemon) MHD_stop_daemon(r->daemon);
    for (int i = 0; i < r->cnt; i++)
        free(r->routes[i].path);
    free(r->routes);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

uint16_t hd_receiver_port(const hd_receiver_t *r) {
    return r->port;
}

void hd_receiver_counts(hd_receiver_t *r, int *received, int *verified) {
    pthread_mutex_lock(&r->lock);
    *received = r->received;
    *verified = r->verified;
    pthread_mutex_unlock(&r->lock);
}
