#include "hookd/api.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/alias.h"
#include "hookd/api_event_types.h"
#include "hookd/api_req.h"
#include "hookd/deliverylog.h"
#include "hookd/dialects.h"
#include "hookd/httpwatch.h"
#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/mongo.h"
#include "hookd/secret.h"
#include "hookd/store.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define MAX_SEGMENTS 8
#define MAX_SEGMENT_BYTES 256

struct hd_api_s {
    const hd_conf_t *conf;
    hd_secret_key_t master;
    hd_store_t *store;
    hd_mongo_t *mongo; /* the store's */
    rd_kafka_t *producer;
    struct MHD_Daemon *daemon;
    hd_httpwatch_t *watch; /* api.request.timeout.ms */
    hd_dialects_t *mounts; /* api.dialects */
};

/* Per-request state: the request target as sent and the body as it arrives. */
typedef struct conn_s {
    char *path; /* percent-encoded, without the query */
    char *body;
    size_t len;
    int started, too_large;
} conn_t;

/* ---- requests ---- */

/* Splits the percent-encoded path into segments, each decoded once (an id may hold "%" or "/"). 0; -1 when a
 * segment is too long, there are too many, or one is not UTF-8; -2 when one decodes to a NUL (no such route). */
static int split_path(const char *path, char **seg, int *nseg) {
    *nseg = 0;
    while (*path) {
        while (*path == '/')
            path++;
        if (!*path) break;
        size_t n = strcspn(path, "/");
        if (*nseg == MAX_SEGMENTS) return -1;
        char *s = hd_xstrndup(path, n);
        size_t len = MHD_http_unescape(s);
        seg[(*nseg)++] = s;
        if (len > MAX_SEGMENT_BYTES || !hd_utf8_valid(s, len)) return -1;
        if (strlen(s) != len) return -2;
        path += n;
    }
    return 0;
}

static enum MHD_Result query_ok(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    int *bad = cls;
    if (!hd_utf8_valid(key, strlen(key)) || (value && !hd_utf8_valid(value, strlen(value)))) *bad = 1;
    return MHD_YES;
}

/* The server's own answers: health, readiness, and what no dialect is mounted for. */
static void serve_own(hd_api_req_t *r, char *const *seg, int nseg) {
    if (nseg == 1 && (!strcmp(seg[0], "healthz") || !strcmp(seg[0], "readyz") || !strcmp(seg[0], "metrics"))) {
        if (strcmp(r->method, "GET")) {
            hd_api_req_not_allowed(r, "GET"); /* GET /metrics does not come here */
        } else if (!strcmp(seg[0], "healthz")) {
            hd_api_req_ok(r, 200, json_object_new_string("ok"));
        } else {
            bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
            bson_error_t err;
            if (mongoc_client_command_simple(r->client, r->database, ping, NULL, NULL, &err))
                hd_api_req_ok(r, 200, json_object_new_string("ready"));
            else
                hd_api_req_error(r, 503, "unavailable", NULL, "the database is not reachable: %s", err.message);
            bson_destroy(ping);
        }
    } else {
        hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", r->path);
    }
}

/* Answers the request: the server's own refusals (in the shape of the dialect the path leads to), its own routes,
 * or the dialect's. r->client may be NULL when cs->too_large is set: nothing then reads the database. */
static void route(hd_api_t *api, hd_api_req_t *r, const conn_t *cs) {
    char *seg[MAX_SEGMENTS];
    int nseg = 0, bad_query = 0, prefix = 0;
    int split = split_path(cs->path, seg, &nseg);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_ok, &bad_query);
    const hd_dialect_t *d = hd_dialects_find(api->mounts, (const char *const *)seg, nseg, &prefix);
    r->path = cs->path;
    r->raw_body = cs->body;
    r->raw_len = cs->len;
    if (split == -1 || bad_query)
        hd_api_req_error(r, 400, "invalid-param", NULL, "the URL has an invalid path or query (UTF-8, length)");
    else if (cs->too_large)
        hd_api_req_error(r, 413, "too-large", NULL, "the body exceeds %lld bytes",
                         (long long)r->conf->api_max_body_bytes);
    else if (split == -2 || !d)
        serve_own(r, seg, split ? 0 : nseg);
    if (r->reply && d && d->reshape_error) {
        d->reshape_error(r);
    } else if (!r->reply) {
        r->seg = (const char *const *)seg + prefix;
        r->nseg = nseg - prefix;
        d->serve(r);
        if (!r->reply) {
            hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", r->path);
            if (d->reshape_error) d->reshape_error(r);
        }
    }
    HD_LOG(HD_LOG_DEBUG, "api", HD_KV("method", r->method, "url", cs->path, "tenant", r->tenant), "%u", r->status);
    for (int i = 0; i < nseg; i++)
        free(seg[i]);
}

static enum MHD_Result reply(struct MHD_Connection *c, const hd_api_req_t *r) {
    size_t len;
    const char *s =
        json_object_to_json_string_length(r->reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)s, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    for (const char *const *h = r->headers; h && h[0] && h[1]; h += 2)
        MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result rc = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* The API's own series in the process registry, served at /metrics beside the routes (the ServiceMonitor scrapes
 * the API's http port). */
static void count_request(const char *method, unsigned status, int64_t duration_us) {
    static const double bounds[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    char cls[4] = {(char)('0' + status / 100), 'x', 'x', '\0'};
    const char *known = strcmp(method, "GET") && strcmp(method, "POST") && strcmp(method, "PUT") &&
                                strcmp(method, "PATCH") && strcmp(method, "DELETE")
                            ? "other"
                            : method; /* a bounded label set, whatever clients send */
    hd_metrics_t *m = hd_metrics_default();
    hd_metric_add(hd_metrics_counter(m, "hd_api_requests_total", "API requests by method and status class.",
                                     HD_KV("method", known, "status_class", cls)),
                  1);
    hd_metric_observe(hd_metrics_histogram(m, "hd_api_request_duration_seconds", "API request latency.", NULL, bounds,
                                           (int)(sizeof(bounds) / sizeof(bounds[0])), 1e-6),
                      duration_us);
}

static enum MHD_Result metrics_reply(struct MHD_Connection *c) {
    size_t len;
    char *body = hd_metrics_render(hd_metrics_default(), &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, HD_METRICS_CONTENT_TYPE);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* libmicrohttpd hands on_request a path it has already percent-decoded; split_path wants it as sent. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    conn_t *cs = hd_xcalloc(1, sizeof(*cs));
    cs->path = hd_xstrndup(uri, strcspn(uri, "?"));
    return cs;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    hd_api_t *api = cls;
    conn_t *cs = *con_cls;
    hd_api_req_t r = {.conf = api->conf,
                      .master = &api->master,
                      .producer = api->producer,
                      .conn = c,
                      .method = method,
                      .database = hd_mongo_database(api->mongo)};
    if (!cs->started) {
        cs->started = 1;
        /* A declared oversize body is refused before it is read. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)api->conf->api_max_body_bytes) {
            cs->too_large = 1;
            route(api, &r, cs);
            enum MHD_Result rc = reply(c, &r);
            hd_api_req_finish(&r);
            return rc;
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!cs->too_large && cs->len + *upload_data_size <= (size_t)api->conf->api_max_body_bytes) {
            cs->body = hd_xrealloc(cs->body, cs->len + *upload_data_size + 1);
            memcpy(cs->body + cs->len, upload_data, *upload_data_size);
            cs->len += *upload_data_size;
            cs->body[cs->len] = '\0';
        } else {
            cs->too_large = 1;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    hd_httpwatch_received(c);
    if (!strcmp(cs->path, "/metrics") && !strcmp(method, "GET")) return metrics_reply(c);
    int64_t started = hd_mono_us();
    r.client = hd_mongo_pop(api->mongo);
    route(api, &r, cs);
    hd_mongo_push(api->mongo, r.client);
    count_request(method, r.status, hd_mono_us() - started);
    enum MHD_Result rc = reply(c, &r);
    hd_api_req_finish(&r);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    hd_api_t *api = cls;
    conn_t *cs = *con_cls;
    hd_httpwatch_completed(api->watch, c);
    if (!cs) return;
    free(cs->path);
    free(cs->body);
    free(cs);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    HD_LOG(HD_LOG_WARN, "api", NULL, "http: %s", hd_trim(msg));
}

/* ---- lifecycle ---- */

hd_api_t *hd_api_new(const hd_conf_t *conf, char *errstr, size_t errstr_size) {
    hd_api_t *api = hd_xcalloc(1, sizeof(*api));
    api->conf = conf;
    if (!(api->mounts = hd_dialects_new(conf->api_dialects, errstr, errstr_size))) goto fail;
    if (hd_secret_key_parse(&api->master, conf->master_key, errstr, errstr_size)) goto fail;
    if (!(api->store = hd_store_new(conf->store, conf->mongo_database, errstr, errstr_size))) goto fail;
    if (!(api->mongo = hd_store_mongo(api->store))) {
        snprintf(errstr, errstr_size, "hookd api needs a MongoDB store (store = mongodb://...)");
        goto fail;
    }
    static const hd_kafka_prop_t props[] = {{"message.timeout.ms", "10000"}};
    rd_kafka_conf_t *rkconf = hd_kafka_conf(conf, HD_KAFKA_PRODUCER, props, 1, errstr, errstr_size);
    if (!rkconf) goto fail;
    rd_kafka_conf_set_dr_msg_cb(rkconf, hd_api_req_delivered);
    if (!(api->producer = hd_kafka_new(HD_KAFKA_PRODUCER, rkconf, errstr, errstr_size))) goto fail;
    return api;

fail:
    hd_api_destroy(api);
    return NULL;
}

typedef struct deliverylog_thread_s {
    hd_deliverylog_t *rec;
    atomic_int stop; /* set when the API stops, for whatever reason */
} deliverylog_thread_t;

static void *deliverylog_main(void *arg) {
    deliverylog_thread_t *t = arg;
    hd_deliverylog_run(t->rec, &t->stop);
    return NULL;
}

int hd_api_run(hd_api_t *api, const atomic_int *stop) {
    char err[512];
    hd_deliverylog_t *rec = NULL;
    pthread_t thread;
    deliverylog_thread_t rt = {0};
    int rc = -1, started = 0;
    mongoc_client_t *client = hd_mongo_pop(api->mongo);
    const char *db = hd_mongo_database(api->mongo);
    /* Documents written before numeric aliases existed get theirs before any dialect looks them up. */
    int failed = hd_api_event_types_seed(client, db, hd_api_event_types_builtin, hd_api_event_types_builtin_count, err,
                                         sizeof(err)) ||
                 hd_dialects_seed(api->mounts, client, db, err, sizeof(err)) ||
                 hd_alias_backfill(client, db, HD_MONGO_SUBSCRIPTIONS, HD_MONGO_SUBSCRIPTIONS, err, sizeof(err)) < 0 ||
                 hd_alias_backfill(client, db, HD_MONGO_DELIVERIES, HD_MONGO_DELIVERIES, err, sizeof(err)) < 0;
    hd_mongo_push(api->mongo, client);
    if (failed) goto out;
    hd_mongo_ensure_indexes(api->mongo);
    if (api->conf->api_recorder) {
        if (!(rec = hd_deliverylog_new(api->conf, api->mongo, err, sizeof(err)))) goto out;
        rt.rec = rec;
        if (pthread_create(&thread, NULL, deliverylog_main, &rt)) {
            snprintf(err, sizeof(err), "cannot start the delivery-log thread");
            goto out;
        }
        started = 1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)api->conf->api_port)};
    if (inet_pton(AF_INET, api->conf->api_bind, &sa.sin_addr) != 1) {
        snprintf(err, sizeof(err), "api.bind \"%s\" is not an IPv4 address", api->conf->api_bind);
        goto out;
    }
    /* A pool of event-loop threads (epoll where there is one) rather than a thread per connection: idle and slow
     * connections cost a socket, not a thread, and the limits bound how many one address may hold. */
    const hd_conf_t *c = api->conf;
    if (!(api->watch = hd_httpwatch_new(c->api_request_timeout_ms, err, sizeof(err)))) goto out;
    api->daemon = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, api, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, api, MHD_OPTION_NOTIFY_CONNECTION, hd_httpwatch_notify, api->watch,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)c->api_threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)c->api_max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int)c->api_max_connections_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)((c->api_request_timeout_ms + 999) / 1000), MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_END);
    if (!api->daemon) {
        snprintf(err, sizeof(err), "cannot listen on %s:%lld", api->conf->api_bind, (long long)api->conf->api_port);
        goto out;
    }
    HD_LOG(HD_LOG_INFO, "api", NULL, "hookd %s API listening on %s:%lld", HD_VERSION, api->conf->api_bind,
           (long long)api->conf->api_port);
    while (!atomic_load(stop))
        usleep(100 * 1000);
    MHD_stop_daemon(api->daemon);
    api->daemon = NULL;
    hd_httpwatch_destroy(api->watch);
    api->watch = NULL;
    rc = 0;
out:
    if (rc) HD_LOG(HD_LOG_ERROR, "api", NULL, "%s", err);
    if (started) {
        atomic_store(&rt.stop, 1);
        pthread_join(thread, NULL);
    }
    hd_deliverylog_destroy(rec);
    return rc;
}

void hd_api_destroy(hd_api_t *api) {
    if (!api) return;
    if (api->daemon) MHD_stop_daemon(api->daemon);
    hd_httpwatch_destroy(api->watch);
    if (api->producer) {
        rd_kafka_flush(api->producer, 5000);
        rd_kafka_destroy(api->producer);
    }
    hd_store_destroy(api->store);
    hd_dialects_destroy(api->mounts);
    sodium_memzero(&api->master, sizeof(api->master));
    free(api);
}
