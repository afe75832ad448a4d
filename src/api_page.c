#include "hookd/api_page.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/utf8.h"
#include "hookd/util.h"

#define MAX_LIMIT 500
#define DEFAULT_LIMIT 50

/* Cursors are the base64url of the ordering field's value: opaque to clients, checked on the way back. Forward
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

int hd_api_page_slice(hd_api_req_t *r, const char *collname, const bson_t *filter, const bson_t *sort, int64_t skip,
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

/* Offset pagination for hd_api_page_list: limit documents after offset, with the total. */
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
    if (hd_api_page_slice(r, collname, filter, sort, offset, limit, conv, &items, &total) == 0) {
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

void hd_api_page_list(hd_api_req_t *r, const char *collname, const bson_t *filter, const char *field, int desc,
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
