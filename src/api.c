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
#include "hookd/api_subscriptions.h"
#include "hookd/apikey.h"
#include "hookd/decode.h"
#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/recorder.h"
#include "hookd/store.h"
#include "hookd/util.h"

#define MAX_SEGMENTS 8
#define MAX_SEGMENT_BYTES 256
#define MAX_LIMIT 500
#define DEFAULT_LIMIT 50

struct hd_api_s {
    const hd_conf_t *conf;
    hd_secret_key_t master;
    hd_store_t *store;
    rd_kafka_t *producer;
    struct MHD_Daemon *daemon;
};

/* Per-connection request state: the body as it arrives. */
typedef struct conn_s {
    char *body;
    size_t len;
    int started, too_large;
} conn_t;

/* ---- replies ---- */

static void set_reply(hd_api_req_t *r, unsigned status, json_object *reply) {
    json_object_put(r->reply);
    r->status = status;
    r->reply = reply;
}

void hd_api_error(hd_api_req_t *r, unsigned status, const char *slug, json_object *details, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(slug));
    json_object_object_add(o, "message", json_object_new_string(msg));
    json_object_object_add(o, "details", details ? details : json_object_new_array());
    set_reply(r, status, o);
}

void hd_api_ok(hd_api_req_t *r, unsigned status, json_object *data) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "data", data);
    set_reply(r, status, o);
}

void hd_api_detail(json_object **details, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!*details) *details = json_object_new_array();
    json_object *d = json_object_new_object();
    json_object_object_add(d, "field", json_object_new_string(field));
    json_object_object_add(d, "message", json_object_new_string(msg));
    json_object_array_add(*details, d);
}

void hd_api_internal(hd_api_req_t *r, const char *what, const char *cause) {
    HD_LOG(HD_LOG_ERROR, "api", HD_KV("method", r->method, "tenant", r->tenant), "%s: %s", what, cause);
    hd_api_error(r, 500, "internal", NULL, "%s failed; the server log has the cause", what);
}

const char *hd_api_query(hd_api_req_t *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int hd_api_query_time(hd_api_req_t *r, const char *name, int64_t *ms) {
    const char *v = hd_api_query(r, name);
    if (!v) return 0;
    if (hd_decode_time(v, ms)) {
        json_object *d = NULL;
        hd_api_detail(&d, name, "expected an ISO 8601 time such as 2026-11-22T06:35:57Z");
        hd_api_error(r, 400, "invalid-param", d, "%s is not an ISO 8601 time", name);
        return -1;
    }
    return 0;
}

int hd_api_need_object(hd_api_req_t *r, int optional) {
    if (r->body && json_object_is_type(r->body, json_type_object)) return 1;
    if (!r->body && optional) return 1;
    if (!r->body) hd_api_error(r, 400, "missing-param", NULL, "this request needs a JSON object body");
    else hd_api_error(r, 400, "invalid-param", NULL, "the body must be a JSON object");
    return 0;
}

/* ---- BSON <-> JSON ---- */

static json_object *plain(json_object *v) {
    json_object *d, *n;
    if (json_object_is_type(v, json_type_object)) {
        if (json_object_object_get_ex(v, "$date", &d)) {
            /* One format for every date: libbson writes whole seconds without milliseconds. */
            char iso[40];
            int64_t ms = 0;
            if (json_object_is_type(d, json_type_string)) hd_decode_time(json_object_get_string(d), &ms);
            else if (json_object_object_get_ex(d, "$numberLong", &n)) ms = strtoll(json_object_get_string(n), NULL, 10);
            else ms = json_object_get_int64(d);
            hd_iso8601(ms, iso, sizeof(iso));
            return json_object_new_string(iso);
        }
        if (json_object_object_get_ex(v, "$numberLong", &n))
            return json_object_new_int64(strtoll(json_object_get_string(n), NULL, 10));
        json_object *o = json_object_new_object();
        json_object_object_foreach(v, k, child) json_object_object_add(o, k, plain(child));
        return o;
    }
    if (json_object_is_type(v, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(v); i++)
            json_object_array_add(a, plain(json_object_array_get_idx(v, i)));
        return a;
    }
    return json_object_get(v);
}

json_object *hd_api_from_bson(const bson_t *doc) {
    char *js = bson_as_relaxed_extended_json(doc, NULL);
    json_object *raw = js ? json_tokener_parse(js) : NULL, *out = json_object_new_object();
    bson_free(js);
    if (raw) {
        json_object_object_foreach(raw, k, v) json_object_object_add(out, strcmp(k, "_id") ? k : "id", plain(v));
    }
    json_object_put(raw);
    return out;
}

int hd_api_json_storable(json_object *v) {
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, child) {
            if (!*k || *k == '$' || strchr(k, '.') || !hd_api_json_storable(child)) return 0;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!hd_api_json_storable(json_object_array_get_idx(v, i))) return 0;
    } else if (json_object_is_type(v, json_type_string)) {
        return strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
    }
    return 1;
}

void hd_api_delete_one(hd_api_req_t *r, const char *collection, bson_t *filter, const char *what,
                       const char *not_found) {
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, collection);
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    if (!mongoc_collection_delete_one(coll, filter, NULL, &reply, &err))
        hd_api_internal(r, what, err.message);
    else if (bson_iter_init_find(&it, &reply, "deletedCount") && bson_iter_as_int64(&it) == 0)
        hd_api_error(r, 404, "not-found", NULL, "%s", not_found);
    else
        hd_api_ok(r, 200, NULL);
    bson_destroy(&reply);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
}

void hd_api_append_json_text(bson_t *b, const char *key, json_object *v) {
    if (!v || json_object_is_type(v, json_type_null)) BSON_APPEND_NULL(b, key);
    else BSON_APPEND_UTF8(b, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

json_object *hd_api_json_text_value(json_object *stored) {
    if (json_object_is_type(stored, json_type_string)) return json_tokener_parse(json_object_get_string(stored));
    return json_object_get(stored);
}

void hd_api_append_json(bson_t *b, const char *key, json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null:
        bson_append_null(b, key, -1);
        break;
    case json_type_boolean:
        bson_append_bool(b, key, -1, json_object_get_boolean(v));
        break;
    case json_type_double:
        bson_append_double(b, key, -1, json_object_get_double(v));
        break;
    case json_type_int:
        bson_append_int64(b, key, -1, json_object_get_int64(v));
        break;
    case json_type_string:
        bson_append_utf8(b, key, -1, json_object_get_string(v), json_object_get_string_len(v));
        break;
    case json_type_object: {
        bson_t child;
        bson_append_document_begin(b, key, -1, &child);
        json_object_object_foreach(v, k, c) hd_api_append_json(&child, k, c);
        bson_append_document_end(b, &child);
        break;
    }
    case json_type_array: {
        bson_t child;
        char idx[24];
        bson_append_array_begin(b, key, -1, &child);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(idx, sizeof(idx), "%zu", i);
            hd_api_append_json(&child, idx, json_object_array_get_idx(v, i));
        }
        bson_append_array_end(b, &child);
        break;
    }
    }
}

/* ---- pagination ----
 * Cursors are the base64url of the ordering field's value: opaque to clients, checked on the way back. Forward
 * pages read limit+1 documents past the cursor to learn has_next_page; backward pages read before the cursor in
 * reverse order and are flipped. */

static char *cursor_encode(const char *v) {
    size_t n = strlen(v), cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = hd_xmalloc(cap);
    sodium_bin2base64(out, cap, (const unsigned char *)v, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return out;
}

static char *cursor_decode(const char *c) {
    size_t n = strlen(c), len = 0;
    if (n == 0 || n > 1024) return NULL;
    char *out = hd_xmalloc(n + 1);
    if (sodium_base642bin((unsigned char *)out, n, c, n, NULL, &len, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        !bson_utf8_validate(out, len, false)) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

static int parse_limit(hd_api_req_t *r, int *limit) {
    const char *v = hd_api_query(r, "limit");
    *limit = DEFAULT_LIMIT;
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > MAX_LIMIT || strlen(v) > 6) {
        json_object *d = NULL;
        hd_api_detail(&d, "limit", "expected an integer from 1 to %d", MAX_LIMIT);
        hd_api_error(r, 400, "invalid-param", d, "limit must be an integer from 1 to %d", MAX_LIMIT);
        return -1;
    }
    *limit = (int)n;
    return 0;
}

/* 1 when coll has a document matching filter with field beyond value in direction op ("$gt", "$lt", ...). */
static int exists_beyond(mongoc_collection_t *coll, const bson_t *filter, const char *field, const char *op,
                         const char *value, bson_error_t *err) {
    bson_t f;
    bson_init(&f);
    bson_concat(&f, filter);
    bson_t cond;
    bson_append_document_begin(&f, field, -1, &cond);
    bson_append_utf8(&cond, op, -1, value, -1);
    bson_append_document_end(&f, &cond);
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &f, opts, NULL);
    const bson_t *doc;
    int found = mongoc_cursor_next(cur, &doc) ? 1 : 0;
    if (mongoc_cursor_error(cur, err)) found = -1;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&f);
    return found;
}

static const char *field_of(const bson_t *doc, const char *field) {
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, field) && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

void hd_api_list(hd_api_req_t *r, const char *collname, const bson_t *filter, const char *field, int desc,
                 json_object *(*conv)(const bson_t *doc)) {
    const char *after_c = hd_api_query(r, "after"), *before_c = hd_api_query(r, "before");
    char *cursor = NULL;
    int limit;
    if (parse_limit(r, &limit)) return;
    if (after_c && before_c) {
        hd_api_error(r, 400, "invalid-param", NULL, "give after or before, not both");
        return;
    }
    int backward = before_c != NULL;
    if ((after_c || before_c) && !(cursor = cursor_decode(after_c ? after_c : before_c))) {
        json_object *d = NULL;
        hd_api_detail(&d, after_c ? "after" : "before", "not a cursor returned by this API");
        hd_api_error(r, 400, "invalid-param", d, "%s is not a valid cursor", after_c ? "after" : "before");
        return;
    }
    /* Reading direction in the field's natural order: ascending unless (desc xor backward). */
    int read_desc = desc ^ backward;
    const char *past = read_desc ? "$lt" : "$gt", *behind = read_desc ? "$gte" : "$lte";

    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, collname);
    bson_t f;
    bson_init(&f);
    bson_concat(&f, filter);
    if (cursor) {
        bson_t cond;
        bson_append_document_begin(&f, field, -1, &cond);
        bson_append_utf8(&cond, past, -1, cursor, -1);
        bson_append_document_end(&f, &cond);
    }
    bson_t *opts = BCON_NEW("sort", "{", field, BCON_INT32(read_desc ? -1 : 1), "}", "limit", BCON_INT64(limit + 1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &f, opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    json_object *items = json_object_new_array();
    char *first = NULL, *last = NULL;
    int n = 0, more = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        if (n == limit) {
            more = 1;
            break;
        }
        json_object_array_add(items, conv(doc));
        free(last);
        last = hd_xstrdup(field_of(doc, field));
        if (!first) first = hd_xstrdup(last);
        n++;
    }
    int other = 0;
    if (!mongoc_cursor_error(cur, &err) && cursor) other = exists_beyond(coll, filter, field, behind, cursor, &err);
    if (other < 0 || mongoc_cursor_error(cur, &err)) {
        hd_api_internal(r, "listing", err.message);
        json_object_put(items);
        goto out;
    }
    if (backward) {
        /* Read in reverse: flip into the order the client pages in. */
        json_object *flipped = json_object_new_array();
        for (size_t i = json_object_array_length(items); i-- > 0;)
            json_object_array_add(flipped, json_object_get(json_object_array_get_idx(items, i)));
        json_object_put(items);
        items = flipped;
        char *t = first;
        first = last;
        last = t;
    }
    json_object *page = json_object_new_object();
    char *sc = first ? cursor_encode(first) : NULL, *ec = last ? cursor_encode(last) : NULL;
    json_object_object_add(page, "start_cursor", sc ? json_object_new_string(sc) : NULL);
    json_object_object_add(page, "end_cursor", ec ? json_object_new_string(ec) : NULL);
    json_object_object_add(page, "has_next_page", json_object_new_boolean(backward ? other : more));
    json_object_object_add(page, "has_previous_page", json_object_new_boolean(backward ? more : other));
    json_object_object_add(page, "limit", json_object_new_int(limit));
    free(sc);
    free(ec);
    hd_api_ok(r, 200, items);
    json_object_object_add(r->reply, "pagination", page);
out:
    free(first);
    free(last);
    free(cursor);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&f);
    mongoc_collection_destroy(coll);
}

/* ---- Kafka ---- */

typedef struct produced_s {
    atomic_int done;
    rd_kafka_resp_err_t err;
} produced_t;

/* Served by whichever request thread polls; each report names its own waiter. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    produced_t *p = m->_private;
    p->err = m->err;
    atomic_store(&p->done, 1);
}

int hd_api_produce_targeted(hd_api_req_t *r, const char *topic, const char *key, const void *value, size_t len,
                            rd_kafka_headers_t *headers, const char *subscription_id, char *errstr,
                            size_t errstr_size) {
    produced_t p = {0};
    rd_kafka_headers_t *h = headers ? headers : rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "hookd-subscription", -1, subscription_id, -1);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        r->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(&p), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        snprintf(errstr, errstr_size, "producing to %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    /* message.timeout.ms bounds this wait: the report always comes. */
    while (!atomic_load(&p.done)) rd_kafka_poll(r->producer, 50);
    if (p.err) {
        snprintf(errstr, errstr_size, "producing to %s: %s", topic, rd_kafka_err2str(p.err));
        return -1;
    }
    return 0;
}

/* ---- requests ---- */

/* Splits path into URL-decoded segments; 0, or -1 when a segment is too long, too many, or not UTF-8. */
static int split_path(const char *path, char **seg, int *nseg) {
    *nseg = 0;
    while (*path) {
        while (*path == '/') path++;
        if (!*path) break;
        const char *end = strchr(path, '/');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        if (*nseg == MAX_SEGMENTS || n > MAX_SEGMENT_BYTES) return -1;
        char *s = hd_xstrndup(path, n);
        size_t len = MHD_http_unescape(s);
        seg[(*nseg)++] = s;
        if (!bson_utf8_validate(s, len, false)) return -1;
        path += n;
    }
    return 0;
}

static enum MHD_Result query_ok(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    int *bad = cls;
    if (!bson_utf8_validate(key, strlen(key), false) || (value && !bson_utf8_validate(value, strlen(value), false)))
        *bad = 1;
    return MHD_YES;
}

/* Sets r->tenant and r->admin from the API key, or a 401/500 reply. */
static void authenticate(hd_api_t *api, hd_api_req_t *r, char **tenant) {
    const char *key = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "x-api-key");
    const char *authz = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!key && authz) {
        if (strncasecmp(authz, "Bearer ", 7)) {
            hd_api_error(r, 401, "invalid-token", NULL, "Authorization must be \"Bearer <API key>\"");
            return;
        }
        key = authz + 7;
    }
    if (!key || !*key) {
        hd_api_error(r, 401, "invalid-token", NULL, "missing API key: send x-api-key or Authorization: Bearer");
        return;
    }
    char err[256];
    int rc = hd_apikey_check(r->client, r->database, &api->master, key, tenant, &r->admin, err, sizeof(err));
    if (rc < 0) hd_api_internal(r, "checking the API key", err);
    else if (rc == 0) hd_api_error(r, 401, "invalid-token", NULL, "the API key is not valid");
    r->tenant = *tenant;
}

/* Parses the body: JSON, valid UTF-8, one value, no trailing bytes. Sets a 4xx reply and returns -1 otherwise. */
static int parse_body(hd_api_req_t *r, const conn_t *cs) {
    if (cs->len == 0) return 0;
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t ctlen = ct ? strcspn(ct, "; ") : 0;
    if (!ct || ctlen != 16 || strncasecmp(ct, "application/json", 16)) {
        hd_api_error(r, 415, "invalid-content-type", NULL, "send the body as Content-Type: application/json");
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* The terminating NUL goes in too: it ends a bare top-level value such as null or 42. */
    r->body = json_tokener_parse_ex(tok, cs->body, (int)cs->len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (used > cs->len) used = cs->len;
    while (used < cs->len && cs->body[used] && strchr(" \t\r\n", cs->body[used])) used++;
    if (jerr == json_tokener_success && used == cs->len && !r->body) {
        hd_api_error(r, 400, "invalid-param", NULL, "the body must be a JSON object, not null");
        return -1;
    }
    if (!r->body || jerr != json_tokener_success || used != cs->len) {
        hd_api_error(r, 400, "invalid-json", NULL, "the body is not valid JSON: %s",
                     jerr == json_tokener_success ? "unexpected data after the value"
                     : jerr == json_tokener_continue ? "unexpected end of input"
                                                     : json_tokener_error_desc(jerr));
        json_object_put(r->body);
        r->body = NULL;
        return -1;
    }
    return 0;
}

static void route(hd_api_t *api, hd_api_req_t *r, const char *url, const conn_t *cs) {
    char *seg[MAX_SEGMENTS], *tenant = NULL;
    int nseg = 0, bad_query = 0;
    int path_ok = split_path(url, seg, &nseg) == 0;
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_ok, &bad_query);

    if (!path_ok || bad_query) {
        hd_api_error(r, 400, "invalid-param", NULL, "the URL has an invalid path or query (UTF-8, length)");
    } else if (nseg == 1 && (!strcmp(seg[0], "healthz") || !strcmp(seg[0], "readyz"))) {
        if (strcmp(r->method, "GET")) {
            hd_api_error(r, 405, "method-not-allowed", NULL, "%s is not allowed here", r->method);
        } else if (!strcmp(seg[0], "healthz")) {
            hd_api_ok(r, 200, json_object_new_string("ok"));
        } else {
            bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
            bson_error_t err;
            if (mongoc_client_command_simple(r->client, r->database, ping, NULL, NULL, &err))
                hd_api_ok(r, 200, json_object_new_string("ready"));
            else
                hd_api_error(r, 503, "unavailable", NULL, "the database is not reachable: %s", err.message);
            bson_destroy(ping);
        }
    } else if (nseg < 3 || strcmp(seg[0], "v1") || strcmp(seg[1], "webhooks")) {
        hd_api_error(r, 404, "not-found", NULL, "no such route: %s", url);
    } else if (cs->too_large) {
        hd_api_error(r, 413, "too-large", NULL, "the body exceeds %lld bytes", (long long)r->conf->api_max_body_bytes);
    } else {
        authenticate(api, r, &tenant);
    }
    if (!r->reply && parse_body(r, cs) == 0) {
        r->seg = seg + 2;
        r->nseg = nseg - 2;
        if (!strcmp(r->seg[0], "subscriptions")) hd_api_subscriptions(r);
        else if (!strcmp(r->seg[0], "events")) hd_api_deliveries(r, NULL);
        else if (!strcmp(r->seg[0], "event-types")) hd_api_event_types(r);
        else hd_api_error(r, 404, "not-found", NULL, "no such route: %s", url);
        if (!r->reply) hd_api_error(r, 404, "not-found", NULL, "no such route: %s", url);
    }
    HD_LOG(HD_LOG_DEBUG, "api", HD_KV("method", r->method, "url", url, "tenant", r->tenant), "%u", r->status);
    for (int i = 0; i < nseg; i++) free(seg[i]);
    r->tenant = NULL;
    free(tenant);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, json_object *o) {
    size_t len;
    const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)s, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result rc = MHD_queue_response(c, status, resp);
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
    hd_metric_observe(hd_metrics_histogram(m, "hd_api_request_duration_seconds", "API request latency.", NULL,
                                           bounds, (int)(sizeof(bounds) / sizeof(bounds[0])), 1e-6),
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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    hd_api_t *api = cls;
    conn_t *cs = *con_cls;
    hd_api_req_t r = {.conf = api->conf, .master = &api->master, .producer = api->producer, .conn = c,
                      .method = method, .database = hd_store_database(api->store)};
    if (!cs) {
        cs = *con_cls = hd_xcalloc(1, sizeof(*cs));
        /* A declared oversize body is refused before it is read. */
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)api->conf->api_max_body_bytes) {
            hd_api_error(&r, 413, "too-large", NULL, "the body exceeds %lld bytes",
                         (long long)api->conf->api_max_body_bytes);
            enum MHD_Result rc = reply(c, r.status, r.reply);
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
    if (!strcmp(url, "/metrics") && !strcmp(method, "GET")) return metrics_reply(c);
    int64_t started = hd_mono_us();
    r.client = hd_store_client_pop(api->store);
    route(api, &r, url, cs);
    hd_store_client_push(api->store, r.client);
    count_request(method, r.status, hd_mono_us() - started);
    enum MHD_Result rc = reply(c, r.status, r.reply);
    json_object_put(r.reply);
    json_object_put(r.body);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    conn_t *cs = *con_cls;
    if (!cs) return;
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
    if (!hd_store_database(api->store)) {
        snprintf(errstr, errstr_size, "hookd api needs a MongoDB store (store = mongodb://...)");
        goto fail;
    }
    static const hd_kafka_prop_t props[] = {{"message.timeout.ms", "10000"}};
    rd_kafka_conf_t *rkconf = hd_kafka_conf(conf, HD_KAFKA_PRODUCER, props, 1, errstr, errstr_size);
    if (!rkconf) goto fail;
    rd_kafka_conf_set_dr_msg_cb(rkconf, dr_cb);
    if (!(api->producer = hd_kafka_new(HD_KAFKA_PRODUCER, rkconf, errstr, errstr_size))) goto fail;
    return api;

fail:
    hd_api_destroy(api);
    return NULL;
}

typedef struct recorder_thread_s {
    hd_recorder_t *rec;
    atomic_int stop; /* set when the API stops, for whatever reason */
} recorder_thread_t;

static void *recorder_main(void *arg) {
    recorder_thread_t *t = arg;
    hd_recorder_run(t->rec, &t->stop);
    return NULL;
}

int hd_api_run(hd_api_t *api, const atomic_int *stop) {
    char err[512];
    hd_recorder_t *rec = NULL;
    pthread_t thread;
    recorder_thread_t rt = {0};
    int rc = -1, started = 0;
    mongoc_client_t *client = hd_store_client_pop(api->store);
    int seeded = hd_api_event_types_seed(client, hd_store_database(api->store), err, sizeof(err));
    if (!seeded) hd_store_ensure_indexes(api->store);
    hd_store_client_push(api->store, client);
    if (seeded) goto out;
    if (api->conf->api_recorder) {
        if (!(rec = hd_recorder_new(api->conf, api->store, err, sizeof(err)))) goto out;
        rt.rec = rec;
        if (pthread_create(&thread, NULL, recorder_main, &rt)) {
            snprintf(err, sizeof(err), "cannot start the recorder thread");
            goto out;
        }
        started = 1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)api->conf->api_port)};
    if (inet_pton(AF_INET, api->conf->api_bind, &sa.sin_addr) != 1) {
        snprintf(err, sizeof(err), "api.bind \"%s\" is not an IPv4 address", api->conf->api_bind);
        goto out;
    }
    api->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, api, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned int)api->conf->api_threads, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (!api->daemon) {
        snprintf(err, sizeof(err), "cannot listen on %s:%lld", api->conf->api_bind, (long long)api->conf->api_port);
        goto out;
    }
    HD_LOG(HD_LOG_INFO, "api", NULL, "hookd %s API listening on %s:%lld", HD_VERSION, api->conf->api_bind,
           (long long)api->conf->api_port);
    while (!atomic_load(stop)) usleep(100 * 1000);
    MHD_stop_daemon(api->daemon);
    api->daemon = NULL;
    rc = 0;
out:
    if (rc) HD_LOG(HD_LOG_ERROR, "api", NULL, "%s", err);
    if (started) {
        atomic_store(&rt.stop, 1);
        pthread_join(thread, NULL);
    }
    hd_recorder_destroy(rec);
    return rc;
}

void hd_api_destroy(hd_api_t *api) {
    if (!api) return;
    if (api->daemon) MHD_stop_daemon(api->daemon);
    if (api->producer) {
        rd_kafka_flush(api->producer, 5000);
        rd_kafka_destroy(api->producer);
    }
    hd_store_destroy(api->store);
    sodium_memzero(&api->master, sizeof(api->master));
    free(api);
}
