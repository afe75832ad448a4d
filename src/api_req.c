#include "hookd/api_req.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/api_json.h"
#include "hookd/apikey.h"
#include "hookd/log.h"
#include "hookd/mongo.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

/* ---- replies ---- */

void hd_api_req_reply(hd_api_req_t *r, unsigned status, json_object *reply) {
    json_object_put(r->reply);
    r->status = status;
    r->reply = reply;
    r->allow = NULL;
    r->headers = NULL;
}

void hd_api_req_not_allowed(hd_api_req_t *r, const char *allow) {
    hd_api_req_error(r, 405, "method-not-allowed", NULL, "%s is not allowed here (allowed: %s)", r->method, allow);
    r->allow = allow;
}

void hd_api_req_error(hd_api_req_t *r, unsigned status, const char *slug, json_object *details, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap); /* messages quote input: cut whole characters only */
    va_end(ap);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "error", json_object_new_string(slug));
    json_object_object_add(o, "message", json_object_new_string(msg));
    json_object_object_add(o, "details", details ? details : json_object_new_array());
    hd_api_req_reply(r, status, o);
}

void hd_api_req_ok(hd_api_req_t *r, unsigned status, json_object *data) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "data", data);
    hd_api_req_reply(r, status, o);
}

void hd_api_req_detail(json_object **details, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!*details) *details = json_object_new_array();
    json_object *d = json_object_new_object();
    json_object_object_add(d, "field", json_object_new_string(field));
    json_object_object_add(d, "message", json_object_new_string(msg));
    json_object_array_add(*details, d);
}

void hd_api_req_internal(hd_api_req_t *r, const char *what, const char *cause) {
    HD_LOG(HD_LOG_ERROR, "api", HD_KV("method", r->method, "tenant", r->tenant), "%s: %s", what, cause);
    hd_api_req_error(r, 500, "internal", NULL, "%s failed; the server log has the cause", what);
}

const char *hd_api_req_query(hd_api_req_t *r, const char *name) {
    json_object *v;
    if (r->query) return json_object_object_get_ex(r->query, name, &v) ? json_object_get_string(v) : NULL;
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

void hd_api_req_finish(hd_api_req_t *r) {
    json_object_put(r->reply);
    json_object_put(r->body);
    free(r->tenant_owned);
    r->reply = r->body = NULL;
    r->tenant_owned = NULL;
}

const char *hd_api_req_header(hd_api_req_t *r, const char *name) {
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

typedef struct unknown_s {
    const char *const *allowed;
    char *name; /* the first parameter not allowed */
} unknown_t;

static int allowed(const char *const *list, const char *name) {
    for (; list && *list; list++)
        if (!strcmp(*list, name)) return 1;
    return 0;
}

static enum MHD_Result find_unknown(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    unknown_t *u = cls;
    if (allowed(u->allowed, key)) return MHD_YES;
    u->name = hd_xstrdup(key);
    return MHD_NO;
}

int hd_api_req_params(hd_api_req_t *r, const char *const *allowed_params) {
    unknown_t u = {allowed_params, NULL};
    if (r->query) {
        json_object_object_foreach(r->query, k, v) {
            (void)v;
            if (!u.name && !allowed(allowed_params, k)) u.name = hd_xstrdup(k);
        }
    } else if (r->conn) {
        MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, find_unknown, &u);
    }
    if (!u.name) return 1;
    json_object *d = NULL;
    hd_api_req_detail(&d, u.name, "unknown query parameter");
    hd_api_req_error(r, 400, "invalid-param", d, "unknown query parameter \"%.*s\"",
                     (int)hd_utf8_prefix(u.name, strlen(u.name), 64), u.name);
    free(u.name);
    return 0;
}

int hd_api_req_authenticate(hd_api_req_t *r, const char *key) {
    char err[256], *tenant = NULL;
    if (!key || !*key) {
        hd_api_req_error(r, 401, "invalid-token", NULL, "missing API key");
        return 0;
    }
    int rc = hd_apikey_check(r->client, r->database, r->master, key, &tenant, &r->admin, err, sizeof(err));
    if (rc < 0)
        hd_api_req_internal(r, "checking the API key", err);
    else if (rc == 0)
        hd_api_req_error(r, 401, "invalid-token", NULL, "the API key is not valid");
    free(r->tenant_owned);
    r->tenant = r->tenant_owned = tenant;
    return rc;
}

int hd_api_req_authenticate_headers(hd_api_req_t *r) {
    const char *key = hd_api_req_header(r, "x-api-key"), *authz = hd_api_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!key && authz) {
        if (strncasecmp(authz, "Bearer ", 7)) {
            hd_api_req_error(r, 401, "invalid-token", NULL, "Authorization must be \"Bearer <API key>\"");
            return 0;
        }
        key = authz + 7;
    }
    if (!key || !*key) {
        hd_api_req_error(r, 401, "invalid-token", NULL, "missing API key: send x-api-key or Authorization: Bearer");
        return 0;
    }
    return hd_api_req_authenticate(r, key);
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

int hd_api_req_parse_body(hd_api_req_t *r, const char *const *types) {
    if (!r->raw_body || !r->raw_len) return 0;
    const char *ct = hd_api_req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
    size_t ctlen = ct ? strcspn(ct, "; \t") : 0;
    int known = 0;
    for (const char *const *t = types; ct && *t && !known; t++)
        known = strlen(*t) == ctlen && !strncasecmp(ct, *t, ctlen);
    if (!known || !charset_utf8(ct)) {
        char list[256] = "";
        for (const char *const *t = types; *t; t++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", t == types ? "" : " or ", *t);
        hd_api_req_error(r, 415, "invalid-content-type", NULL,
                         "send the body as Content-Type: %s, in UTF-8 (no other "
                         "charset)",
                         list);
        return -1;
    }
    char why[128];
    if (hd_api_json_parse(r->raw_body, r->raw_len, &r->body, why, sizeof(why))) {
        hd_api_req_error(r, 400, "invalid-json", NULL, "the body is not valid JSON: %s", why);
        return -1;
    }
    if (!r->body) {
        hd_api_req_error(r, 400, "invalid-param", NULL, "the body must be a JSON object, not null");
        return -1;
    }
    return 0;
}

int hd_api_req_query_time(hd_api_req_t *r, const char *name, int64_t *ms) {
    const char *v = hd_api_req_query(r, name);
    if (!v) return 0;
    if (hd_rfc3339_parse(v, strlen(v), ms)) {
        json_object *d = NULL;
        hd_api_req_detail(&d, name, "expected an RFC 3339 time such as 2026-11-22T06:35:57Z");
        hd_api_req_error(r, 400, "invalid-param", d, "%s is not an RFC 3339 time", name);
        return -1;
    }
    return 0;
}

int hd_api_req_need_object(hd_api_req_t *r, int optional) {
    if (r->body && json_object_is_type(r->body, json_type_object)) return 1;
    if (!r->body && optional) return 1;
    if (!r->body)
        hd_api_req_error(r, 400, "missing-param", NULL, "this request needs a JSON object body");
    else
        hd_api_req_error(r, 400, "invalid-param", NULL, "the body must be a JSON object");
    return 0;
}

int64_t hd_api_req_delete(hd_api_req_t *r, const char *collection, bson_t *filter, int many, const char *what) {
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, collection);
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    int64_t n = -1;
    if (!(many ? mongoc_collection_delete_many : mongoc_collection_delete_one)(coll, filter, NULL, &reply, &err))
        hd_api_req_internal(r, what, err.message);
    else if ((n = bson_iter_init_find(&it, &reply, "deletedCount") ? bson_iter_as_int64(&it) : 0) > 0)
        hd_api_req_ok(r, 200, NULL);
    bson_destroy(&reply);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return n;
}

/* ---- Kafka ---- */

typedef struct produced_s {
    atomic_int done;
    rd_kafka_resp_err_t err;
} produced_t;

/* Served by whichever request thread polls; each report names its own waiter. */
void hd_api_req_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    produced_t *p = m->_private;
    p->err = m->err;
    atomic_store(&p->done, 1);
}

int hd_api_req_produce_targeted(hd_api_req_t *r, const char *topic, const char *key, const void *value, size_t len,
                                rd_kafka_headers_t *headers, const char *subscription_id, char *errstr,
                                size_t errstr_size) {
    produced_t p = {0};
    rd_kafka_headers_t *h = headers ? headers : rd_kafka_headers_new(1);
    rd_kafka_header_add(h, "hookd-subscription", -1, subscription_id, -1);
    rd_kafka_resp_err_t err =
        rd_kafka_producev(r->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len),
                          RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&p), RD_KAFKA_V_END);
    if (err) {
        rd_kafka_headers_destroy(h);
        snprintf(errstr, errstr_size, "producing to %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    /* message.timeout.ms bounds this wait: the report always comes. */
    while (!atomic_load(&p.done))
        rd_kafka_poll(r->producer, 50);
    if (p.err) {
        snprintf(errstr, errstr_size, "producing to %s: %s", topic, rd_kafka_err2str(p.err));
        return -1;
    }
    return 0;
}

/* ---- lookups ---- */

int hd_api_req_find_subscription(hd_api_req_t *r, const char *id, bson_t **doc) {
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, HD_MONGO_SUBSCRIPTIONS);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "tenant", BCON_UTF8(r->tenant));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *d;
    bson_error_t err;
    int rc = 0;
    *doc = NULL;
    if (mongoc_cursor_next(cur, &d)) {
        *doc = bson_copy(d);
        rc = 1;
    } else if (mongoc_cursor_error(cur, &err)) {
        hd_api_req_internal(r, "reading the subscription", err.message);
        rc = -1;
    } else {
        hd_api_req_error(r, 404, "not-found", NULL, "no subscription %s", id);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return rc;
}

/* The field want of the first document of collection matching filter (taken), copied into *out (caller destroys
 * it): 1; 0 with a 404 reply "no <what> <shown>"; -1 with a 500 reply. */
static int tenant_lookup(hd_api_req_t *r, const char *collection, bson_t *filter, const char *want, const char *what,
                         const char *shown, bson_value_t *out) {
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, collection);
    bson_t *opts = BCON_NEW("projection", "{", want, BCON_INT32(1), "}", "limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *d;
    bson_error_t err;
    bson_iter_t it;
    int rc = 0;
    if (mongoc_cursor_next(cur, &d) && bson_iter_init_find(&it, d, want)) {
        bson_value_copy(bson_iter_value(&it), out);
        rc = 1;
    } else if (mongoc_cursor_error(cur, &err)) {
        hd_api_req_internal(r, "reading by alias", err.message);
        rc = -1;
    } else {
        hd_api_req_error(r, 404, "not-found", NULL, "no %s %s", what, shown);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return rc;
}

int hd_api_req_alias_id(hd_api_req_t *r, const char *collection, int64_t alias, const char *what, char **id) {
    char shown[24];
    bson_value_t v;
    snprintf(shown, sizeof(shown), "%lld", (long long)alias);
    *id = NULL;
    int rc = tenant_lookup(r, collection, BCON_NEW("tenant", BCON_UTF8(r->tenant), "alias", BCON_INT64(alias)), "_id",
                           what, shown, &v);
    if (rc == 1) {
        if (v.value_type == BSON_TYPE_UTF8) {
            *id = hd_xstrdup(v.value.v_utf8.str);
        } else {
            hd_api_req_error(r, 404, "not-found", NULL, "no %s %s", what, shown);
            rc = 0;
        }
        bson_value_destroy(&v);
    }
    return rc;
}

int hd_api_req_alias_of(hd_api_req_t *r, const char *collection, const char *id, const char *what, int64_t *alias) {
    bson_value_t v;
    int rc = tenant_lookup(r, collection, BCON_NEW("tenant", BCON_UTF8(r->tenant), "_id", BCON_UTF8(id)), "alias", what,
                           id, &v);
    if (rc == 1) {
        if (v.value_type == BSON_TYPE_INT64 || v.value_type == BSON_TYPE_INT32) {
            *alias = v.value_type == BSON_TYPE_INT64 ? v.value.v_int64 : v.value.v_int32;
        } else {
            hd_api_req_error(r, 404, "not-found", NULL, "%s %s has no number yet", what, id);
            rc = 0;
        }
        bson_value_destroy(&v);
    }
    return rc;
}
