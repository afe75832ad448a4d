#include "hookd/api_event_types.h"

#include <stdio.h>
#include <string.h>

#include "hookd/api_json.h"
#include "hookd/api_page.h"
#include "hookd/evtype.h"
#include "hookd/mongo.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

const hd_api_event_type_seed_t hd_api_event_types_builtin[] = {
    {"merchant.updated", "A merchant's profile or settings changed."},
    {"merchant.reinstall", "A merchant reinstalled the application."},
    {"customer.created", "A customer was created."},
    {"customer.updated", "A customer's details changed."},
    {"customer.credits.updated", "A customer's credit balance changed."},
    {"customer.ordered", "A customer placed an order."},
    {"customer.cancellation_requested", "A customer asked to cancel."},
    {"customer.confirmed_cancellation", "A customer's cancellation was confirmed."},
    {"customer.joined.paid_tier", "A customer joined a paid tier."},
    {"order.created", "An order was created."},
    {"order.paid", "An order was paid."},
    {"order.processing", "An order is being processed."},
    {"order.shipped", "An order was shipped."},
    {"order.delivered", "An order was delivered."},
    {"order.completed", "An order was completed."},
    {"order.cancelled", "An order was cancelled."},
    {"order.refunded", "An order was refunded."},
    {"order.status.updated", "An order's status changed (the new status is in the event's data)."},
};
const size_t hd_api_event_types_builtin_count =
    sizeof(hd_api_event_types_builtin) / sizeof(hd_api_event_types_builtin[0]);

int hd_api_event_types_seed(mongoc_client_t *client, const char *database, const hd_api_event_type_seed_t *seeds,
                            size_t n, char *errstr, size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_EVENT_TYPES);
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    bson_error_t err;
    int rc = 0;
    int64_t now = hd_now_ms();
    for (size_t i = 0; i < n && !rc; i++) {
        bson_t *filter = BCON_NEW("_id", BCON_UTF8(seeds[i].name));
        bson_t *update = BCON_NEW("$setOnInsert", "{", "description", BCON_UTF8(seeds[i].description), "schema",
                                  BCON_NULL, "created_at", BCON_DATE_TIME(now), "updated_at", BCON_DATE_TIME(now), "}");
        if (!mongoc_collection_update_one(coll, filter, update, opts, NULL, &err)) {
            snprintf(errstr, errstr_size, "MongoDB: seeding event types: %s", err.message);
            rc = -1;
        }
        bson_destroy(update);
        bson_destroy(filter);
    }
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    return rc;
}

json_object *hd_api_event_type_json(const bson_t *doc) {
    json_object *raw = hd_api_json_from_bson(doc), *o = json_object_new_object(), *v;
    json_object_object_add(o, "name", json_object_object_get_ex(raw, "id", &v) ? json_object_get(v) : NULL);
    json_object_object_add(o, "description",
                           json_object_object_get_ex(raw, "description", &v) ? json_object_get(v) : NULL);
    json_object_object_add(o, "schema",
                           json_object_object_get_ex(raw, "schema", &v) ? hd_api_json_text_value(v) : NULL);
    json_object_put(raw);
    return o;
}

int hd_api_event_type_known(hd_api_req_t *r, const char *name, char *errstr, size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, HD_MONGO_EVENT_TYPES);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(name));
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
    if (n < 0) snprintf(errstr, errstr_size, "%s", err.message);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return n < 0 ? -1 : n > 0;
}

static void put(hd_api_req_t *r, const char *name) {
    if (!hd_api_req_params(r, NULL)) return;
    json_object *details = NULL, *v;
    if (!hd_api_req_need_object(r, 0)) return;
    json_object_object_foreach(r->body, k, val) {
        if (strcmp(k, "description") && strcmp(k, "schema")) hd_api_req_detail(&details, k, "unknown field");
        (void)val;
    }
    if (!json_object_object_get_ex(r->body, "description", &v) || !json_object_is_type(v, json_type_string) ||
        hd_utf8_count(json_object_get_string(v), (size_t)json_object_get_string_len(v)) > 1000 ||
        strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
        hd_api_req_detail(&details, "description", "required: a string of at most 1000 characters");
    json_object *schema = NULL;
    if (json_object_object_get_ex(r->body, "schema", &schema) && !json_object_is_type(schema, json_type_null) &&
        !json_object_is_type(schema, json_type_object))
        hd_api_req_detail(&details, "schema", "a JSON Schema object, or null");
    if (!hd_evtype_name_valid(name)) hd_api_req_detail(&details, "name", "dot-separated [A-Za-z0-9_-] segments");
    if (details) {
        hd_api_req_error(r, 422, "invalid-param", details, "the event type is not valid");
        return;
    }
    int64_t now = hd_now_ms();
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(name));
    bson_t update = BSON_INITIALIZER, set;
    bson_append_document_begin(&update, "$set", -1, &set);
    BSON_APPEND_UTF8(&set, "description", json_object_get_string(v));
    hd_api_json_append_text(&set, "schema", schema);
    BSON_APPEND_DATE_TIME(&set, "updated_at", now);
    bson_append_document_end(&update, &set);
    BCON_APPEND(&update, "$setOnInsert", "{", "created_at", BCON_DATE_TIME(now), "}");
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, HD_MONGO_EVENT_TYPES);
    bson_error_t err;
    if (!mongoc_collection_update_one(coll, filter, &update, opts, NULL, &err)) {
        hd_api_req_internal(r, "saving the event type", err.message);
    } else {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "description", json_object_get(v));
        json_object_object_add(o, "schema", json_object_get(schema));
        hd_api_req_ok(r, 200, o);
    }
    mongoc_collection_destroy(coll);
    bson_destroy(opts);
    bson_destroy(&update);
    bson_destroy(filter);
}

static void del(hd_api_req_t *r, const char *name) {
    if (!hd_api_req_params(r, NULL)) return;
    if (!hd_api_req_delete(r, HD_MONGO_EVENT_TYPES, BCON_NEW("_id", BCON_UTF8(name)), 0, "deleting the event type"))
        hd_api_req_error(r, 404, "not-found", NULL, "no event type named %s", name);
}

void hd_api_event_types(hd_api_req_t *r) {
    if (r->nseg == 1) {
        if (strcmp(r->method, "GET")) {
            hd_api_req_not_allowed(r, "GET");
            return;
        }
        static const char *const params[] = {HD_API_PAGE_PARAMS, NULL};
        bson_t filter = BSON_INITIALIZER;
        if (!hd_api_req_params(r, params)) return;
        hd_api_page_list(r, HD_MONGO_EVENT_TYPES, &filter, "_id", 0, hd_api_event_type_json);
        bson_destroy(&filter);
        return;
    }
    if (r->nseg != 2) return;
    const char *name = r->seg[1];
    int put_ = !strcmp(r->method, "PUT"), del_ = !strcmp(r->method, "DELETE");
    if (!put_ && !del_) {
        hd_api_req_not_allowed(r, "PUT, DELETE");
    } else if (!r->admin) {
        hd_api_req_error(r, 403, "forbidden", NULL, "changing the event-type catalogue needs an admin API key");
    } else if (put_) {
        put(r, name);
    } else {
        del(r, name);
    }
}
