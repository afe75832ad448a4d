#include "hookd/api.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "hookd/api_deliveries.h"
#include "hookd/api_event_types.h"
#include "hookd/api_keys.h"
#include "hookd/api_req.h"
#include "hookd/api_subscriptions.h"
#include "hookd/apikey.h"
#include "hookd/deliverylog.h"
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

/* Sets r->tenant and r->admin from the API key, or a 401/500 reply. */
static void authenticate(hd_api_t *api, hd_api_req_t *r, char **tenant) {
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-api-key");
    const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!key && authz) {
        if (strncasecmp(authz, "Bearer ", 7)) {
            hd_api_req_error(r, 401, "invalid-token", NULL, "Authorization must be \"Bearer <API key>\"");
            return;
        }
        key = authz + 7;
    }
    if (!key || !*key) {
        hd_api_req_error(r, 401, "invalid-token", NULL, "missing API key: send x-api-key or Authorization: Bearer");
        return;
    }
    char err[256];
    int rc = hd_apikey_check(r->client, r->database, &api->master, key, tenant, &r->admin, err, sizeof(err));
    if (rc < 0)
        hd_api_req_internal(r, "checking the API key", err);
    else if (rc == 0)
        hd_api_req_error(r, 401, "invalid-token", NULL, "the API key is not valid");
    r->tenant = *tenant;
}

/* 1 unless the content type names a charset other than UTF-8, the only one JSON has (RFC 8259). */
static int charset_utf8(const char *ct) {
    for (const char *p = strchr(ct, ';'); p; p = strchr(p + 1, ';')) {
        const char *v = p + 1 + strspn(p + 1, " \t");
        if (strncasecmp(v, "charset=", 8)) continue;
        v += 8 + (v[8] == '"');
        return !strncasecmp(v, "utf-8", 5) && strchr("\"; \t", v[5]); /* v[5] may be the terminating NUL */
    }
    return 1;
}

/* Parses the body: strict JSON (hd_api_req_parse_json), one object. Sets a 4xx reply and returns -1 otherwise. */
static int parse_body(hd_api_req_t *r, const conn_t *cs) {
    if (cs->len == 0) return 0;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t ctlen = ct ? strcspn(ct, "; ") : 0;
    if (!ct || ctlen != 16 || strncasecmp(ct, "application/json", 16) || !charset_utf8(ct)) {
        hd_api_req_error(r, 415, "invalid-content-type", NULL,
                         "send the body as Content-Type: application/json, in UTF-8 (no other charset)");
        return -1;
    }
    char why[128];
    if (hd_api_req_parse_json(cs->body, cs->len, &r->body, why, sizeof(why))) {
        hd_api_req_error(r, 400, "invalid-json", NULL, "the body is not valid JSON: %s", why);
        return -1;
    }
    if (!r->body) {
        hd_api_req_error(r, 400, "invalid-param", NULL, "the body must be a JSON object, not null");
        return -1;
    }
    return 0;
}

static void route(hd_api_t *api, hd_api_req_t *r, const conn_t *cs) {
    char *seg[MAX_SEGMENTS], *tenant = NULL;
    const char *url = cs->path;
    int nseg = 0, bad_query = 0;
    int split = split_path(url, seg, &nseg);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_ok, &bad_query);

    if (split == -1 || bad_query) {
        hd_api_req_error(r, 400, "invalid-param", NULL, "the URL has an invalid path or query (UTF-8, length)");
    } else if (split == -2) {
        hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", url);
    } else if (nseg == 1 && (!strcmp(seg[0], "healthz") || !strcmp(seg[0], "readyz") || !strcmp(seg[0], "metrics"))) {
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
    } else if (nseg < 3 || strcmp(seg[0], "v1") || strcmp(seg[1], "webhooks")) {
        hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", url);
    } else if (cs->too_large) {
        hd_api_req_error(r, 413, "too-large", NULL, "the body exceeds %lld bytes",
                         (long long)r->conf->api_max_body_bytes);
    } else {
        authenticate(api, r, &tenant);
    }
    if (!r->reply && parse_body(r, cs) == 0) {
        r->seg = seg + 2;
        r->nseg = nseg - 2;
        if (!strcmp(r->seg[0], "subscriptions"))
            hd_api_subscriptions(r);
        else if (!strcmp(r->seg[0], "events"))
            hd_api_deliveries(r, NULL);
        else if (!strcmp(r->seg[0], "event-types"))
            hd_api_event_types(r);
        else if (!strcmp(r->seg[0], "api-keys"))
            hd_api_keys(r);
        else
            hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", url);
        if (!r->reply) hd_api_req_error(r, 404, "not-found", NULL, "no such route: %s", url);
    }
    HD_LOG(HD_LOG_DEBUG, "api", HD_KV("method", r->method, "url", url, "tenant", r->tenant), "%u", r->status);
    for (int i = 0; i < nseg; i++)
        free(seg[i]);
    r->tenant = NULL;
    free(tenant);
}

static enum MHD_Result reply(struct MHD_Connection *c, const hd_api_req_t *r) {
    size_t len;
    const char *s =
        json_object_to_json_string_length(r->reply, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)s, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (r->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
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
            hd_api_req_error(&r, 413, "too-large", NULL, "the body exceeds %lld bytes",
                             (long long)api->conf->api_max_body_bytes);
            enum MHD_Result rc = reply(c, &r);
            json_object_put(r.reply);
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
    json_object_put(r.reply);
    json_object_put(r.body);
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
    int seeded = hd_api_event_types_seed(client, hd_mongo_database(api->mongo), err, sizeof(err));
    hd_mongo_push(api->mongo, client);
    if (!seeded) hd_mongo_ensure_indexes(api->mongo);
    if (seeded) goto out;
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
    sodium_memzero(&api->master, sizeof(api->master));
    free(api);
}
