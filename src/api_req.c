#include "hookd/api_req.h"

#include <ctype.h>
#include <math.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/apikey.h"
#include "hookd/log.h"
#include "hookd/mongo.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define MAX_LIMIT 500
#define DEFAULT_LIMIT 50

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
    if (hd_api_req_parse_json(r->raw_body, r->raw_len, &r->body, why, sizeof(why))) {
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

/* ---- strict JSON ---- */

/* The code unit of the 4 hex digits at s (n bytes available), or 0x10000 when they are not 4 hex digits. */
static unsigned hex4(const char *s, size_t n) {
    char digits[5] = "";
    if (n < 4) return 0x10000;
    memcpy(digits, s, 4);
    for (int i = 0; i < 4; i++)
        if (!isxdigit((unsigned char)digits[i])) return 0x10000;
    return (unsigned)strtoul(digits, NULL, 16);
}

/* What json-c 0.16 accepts even with JSON_TOKENER_STRICT but RFC 8259 does not: single-quoted strings, NaN and
 * Infinity, raw control characters in strings, and \u escapes of lone UTF-16 surrogates (which json-c would store
 * as U+FFFD). NULL when text has none of them, else the reason. */
static const char *beyond_json_c(const char *text, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!in_string) {
            if (c == '"')
                in_string = 1;
            else if (c == '\'')
                return "single-quoted strings are not JSON";
            else if (c == 'N' || c == 'I')
                return "NaN and Infinity are not JSON numbers"; /* no other token has them */
            continue;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c < 0x20) {
            return "a control character in a string must be escaped";
        } else if (c == '\\' && i + 1 < len && text[++i] == 'u') {
            unsigned cu = hex4(text + i + 1, len - i - 1);
            if (cu >= 0xd800 && cu <= 0xdbff && i + 6 < len && text[i + 5] == '\\' && text[i + 6] == 'u') {
                unsigned low = hex4(text + i + 7, len - i - 7);
                if (low >= 0xdc00 && low <= 0xdfff) {
                    i += 10;
                    continue;
                }
            }
            if (cu >= 0xd800 && cu <= 0xdfff) return "a \\u escape of a lone UTF-16 surrogate is not a character";
            i += 4;
        }
    }
    return NULL;
}

/* 1 when every number in v is finite (json-c reads 1e999 as infinity). */
static int finite_numbers(json_object *v) {
    if (json_object_is_type(v, json_type_double)) return isfinite(json_object_get_double(v));
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, child) {
            (void)k;
            if (!finite_numbers(child)) return 0;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!finite_numbers(json_object_array_get_idx(v, i))) return 0;
    }
    return 1;
}

int hd_api_req_parse_json(const char *text, size_t len, json_object **out, char *why, size_t why_size) {
    const char *bad = beyond_json_c(text, len);
    *out = NULL;
    if (bad) {
        snprintf(why, why_size, "%s", bad);
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* The terminating NUL goes in too: it ends a bare top-level value such as null or 42. */
    json_object *v = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (used > len) used = len;
    while (used < len && text[used] && strchr(" \t\r\n", text[used]))
        used++;
    if (jerr != json_tokener_success || used != len) {
        snprintf(why, why_size, "%s",
                 jerr == json_tokener_success    ? "unexpected data after the value"
                 : jerr == json_tokener_continue ? "unexpected end of input"
                                                 : json_tokener_error_desc(jerr));
        json_object_put(v);
        return -1;
    }
    if (!finite_numbers(v)) {
        snprintf(why, why_size, "a number is out of range");
        json_object_put(v);
        return -1;
    }
    *out = v;
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
            if (json_object_is_type(d, json_type_string))
                hd_rfc3339_parse(json_object_get_string(d), (size_t)json_object_get_string_len(d), &ms);
            else if (json_object_object_get_ex(d, "$numberLong", &n))
                ms = strtoll(json_object_get_string(n), NULL, 10);
            else
                ms = json_object_get_int64(d);
            hd_rfc3339_format(ms, iso);
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

json_object *hd_api_req_from_bson(const bson_t *doc) {
    char *js = bson_as_relaxed_extended_json(doc, NULL);
    json_object *raw = js ? json_tokener_parse(js) : NULL, *out = json_object_new_object();
    bson_free(js);
    if (raw) {
        json_object_object_foreach(raw, k, v) json_object_object_add(out, strcmp(k, "_id") ? k : "id", plain(v));
    }
    json_object_put(raw);
    return out;
}

int hd_api_req_json_storable(json_object *v) {
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, child) {
            if (!*k || *k == '$' || strchr(k, '.') || !hd_api_req_json_storable(child)) return 0;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!hd_api_req_json_storable(json_object_array_get_idx(v, i))) return 0;
    } else if (json_object_is_type(v, json_type_string)) {
        return strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
    }
    return 1;
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

void hd_api_req_append_json_text(bson_t *b, const char *key, json_object *v) {
    if (!v || json_object_is_type(v, json_type_null))
        BSON_APPEND_NULL(b, key);
    else
        BSON_APPEND_UTF8(b, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

json_object *hd_api_req_json_text_value(json_object *stored) {
    if (json_object_is_type(stored, json_type_string)) return json_tokener_parse(json_object_get_string(stored));
    return json_object_get(stored);
}

void hd_api_req_append_json(bson_t *b, const char *key, json_object *v) {
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
        json_object_object_foreach(v, k, c) hd_api_req_append_json(&child, k, c);
        bson_append_document_end(b, &child);
        break;
    }
    case json_type_array: {
        bson_t child;
        char idx[24];
        bson_append_array_begin(b, key, -1, &child);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(idx, sizeof(idx), "%zu", i);
            hd_api_req_append_json(&child, idx, json_object_array_get_idx(v, i));
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
        !hd_utf8_valid(out, len) || memchr(out, 0, len)) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return out;
}

static int parse_limit(hd_api_req_t *r, int *limit) {
    const char *v = hd_api_req_query(r, "limit");
    *limit = DEFAULT_LIMIT;
    if (!v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < 1 || n > MAX_LIMIT || strlen(v) > 6) {
        json_object *d = NULL;
        hd_api_req_detail(&d, "limit", "expected an integer from 1 to %d", MAX_LIMIT);
        hd_api_req_error(r, 400, "invalid-param", d, "limit must be an integer from 1 to %d", MAX_LIMIT);
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

int hd_api_req_page(hd_api_req_t *r, const char *collname, const bson_t *filter, const bson_t *sort, int64_t skip,
                    int64_t take, json_object *(*conv)(const bson_t *doc), json_object **items, int64_t *total) {
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, collname);
    bson_t opts = BSON_INITIALIZER, order;
    bson_iter_t it;
    bson_error_t err;
    int rc = -1;
    *items = json_object_new_array();
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &order);
    bson_concat(&order, sort);
    if (!bson_iter_init_find(&it, sort, "_id")) BSON_APPEND_INT32(&order, "_id", 1);
    bson_append_document_end(&opts, &order);
    BSON_APPEND_INT64(&opts, "skip", skip);
    BSON_APPEND_INT64(&opts, "limit", take);
    mongoc_cursor_t *cur = NULL;
    if ((*total = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err)) < 0) goto out;
    if (take > 0 && skip < *total) {
        cur = mongoc_collection_find_with_opts(coll, filter, &opts, NULL);
        const bson_t *doc;
        while (mongoc_cursor_next(cur, &doc))
            json_object_array_add(*items, conv(doc));
        if (mongoc_cursor_error(cur, &err)) goto out;
    }
    rc = 0;
out:
    if (rc) {
        hd_api_req_internal(r, "listing", err.message);
        json_object_put(*items);
        *items = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    mongoc_collection_destroy(coll);
    return rc;
}

/* Offset pagination for hd_api_req_list: limit documents after offset, with the total. */
static void list_offset(hd_api_req_t *r, const char *collname, const bson_t *filter, const char *field, int desc,
                        int limit, json_object *(*conv)(const bson_t *doc)) {
    const char *v = hd_api_req_query(r, "offset");
    char *end;
    long long offset = strtoll(v, &end, 10);
    if (end == v || *end || offset < 0 || strlen(v) > 10) {
        json_object *d = NULL;
        hd_api_req_detail(&d, "offset", "expected an integer from 0 to 9999999999");
        hd_api_req_error(r, 400, "invalid-param", d, "offset must be a non-negative integer");
        return;
    }
    if (hd_api_req_query(r, "after") || hd_api_req_query(r, "before")) {
        hd_api_req_error(r, 400, "invalid-param", NULL, "give offset or a cursor (after, before), not both");
        return;
    }
    bson_t *sort = BCON_NEW(field, BCON_INT32(desc ? -1 : 1));
    json_object *items;
    int64_t total;
    if (hd_api_req_page(r, collname, filter, sort, offset, limit, conv, &items, &total) == 0) {
        json_object *page = json_object_new_object();
        json_object_object_add(page, "start_cursor", NULL);
        json_object_object_add(page, "end_cursor", NULL);
        json_object_object_add(page, "has_next_page",
                               json_object_new_boolean(offset + (int64_t)json_object_array_length(items) < total));
        json_object_object_add(page, "has_previous_page", json_object_new_boolean(offset > 0 && total > 0));
        json_object_object_add(page, "limit", json_object_new_int(limit));
        json_object_object_add(page, "offset", json_object_new_int64(offset));
        json_object_object_add(page, "total", json_object_new_int64(total));
        hd_api_req_ok(r, 200, items);
        json_object_object_add(r->reply, "pagination", page);
    }
    bson_destroy(sort);
}

void hd_api_req_list(hd_api_req_t *r, const char *collname, const bson_t *filter, const char *field, int desc,
                     json_object *(*conv)(const bson_t *doc)) {
    const char *after_c = hd_api_req_query(r, "after"), *before_c = hd_api_req_query(r, "before");
    char *cursor = NULL;
    int limit;
    if (parse_limit(r, &limit)) return;
    if (hd_api_req_query(r, "offset")) {
        list_offset(r, collname, filter, field, desc, limit, conv);
        return;
    }
    if (after_c && before_c) {
        hd_api_req_error(r, 400, "invalid-param", NULL, "give after or before, not both");
        return;
    }
    int backward = before_c != NULL;
    if ((after_c || before_c) && !(cursor = cursor_decode(after_c ? after_c : before_c))) {
        json_object *d = NULL;
        hd_api_req_detail(&d, after_c ? "after" : "before", "not a cursor returned by this API");
        hd_api_req_error(r, 400, "invalid-param", d, "%s is not a valid cursor", after_c ? "after" : "before");
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
        hd_api_req_internal(r, "listing", err.message);
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
    hd_api_req_ok(r, 200, items);
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
