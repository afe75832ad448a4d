#include "hookd/dialect_mgmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/api_deliveries.h"
#include "hookd/api_page.h"
#include "hookd/api_subscriptions.h"
#include "hookd/dialect_mgmt_query.h"
#include "hookd/dialect_mgmt_shape.h"
#include "hookd/dialect_native.h"
#include "hookd/mongo.h"
#include "hookd/utf8.h"

#define MAX_TAKE 1000
#define INCLUDED_EVENTS 50 /* the newest events a subscription carries in webhookEvents */
#define CATALOGUE_MAX 10000

/* ---- replies ---- */

/* {key: value, "success": true, "message": message}, and total_key: total for a list (total_key non-NULL). */
static void reply_list(hd_api_req_t *r, const char *key, json_object *value, const char *total_key, int64_t total,
                       const char *message) {
    json_object *o = json_object_new_object();
    if (key) json_object_object_add(o, key, value);
    if (total_key) json_object_object_add(o, total_key, json_object_new_int64(total));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "message", json_object_new_string(message));
    hd_api_req_reply(r, 200, o);
}

static void reply(hd_api_req_t *r, const char *key, json_object *value, const char *message) {
    reply_list(r, key, value, NULL, 0, message);
}

void hd_dialect_mgmt_reshape_error(hd_api_req_t *r) {
    json_object *details = hd_dialect_member(r->reply, "details");
    const char *msg = hd_dialect_message(r->reply), *allow = r->allow;
    const char *const *headers = r->headers;
    char text[2048];
    size_t len = (size_t)snprintf(text, sizeof(text), "%s", msg ? msg : "the request failed");
    /* The details of a validation failure name the fields; others repeat the message. */
    if (r->status != 422) details = NULL;
    for (size_t i = 0; details && i < json_object_array_length(details) && len < sizeof(text); i++) {
        json_object *d = json_object_array_get_idx(details, i);
        const char *field = json_object_get_string(hd_dialect_member(d, "field")),
                   *m = json_object_get_string(hd_dialect_member(d, "message"));
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s: %s", i ? "; " : " (",
                                hd_dialect_mgmt_shape_name(field), m);
        if (i + 1 == json_object_array_length(details) && len < sizeof(text))
            len += (size_t)snprintf(text + len, sizeof(text) - len, ")");
    }
    text[hd_utf8_prefix(text, strlen(text), sizeof(text))] = '\0';
    json_object *o = json_object_new_object();
    json_object_object_add(o, "success", json_object_new_boolean(0));
    json_object_object_add(o, "message", json_object_new_string(text));
    /* Validation failures are 400 in this API, whatever stage found them. */
    hd_api_req_reply(r, r->status == 422 ? 400 : r->status, o);
    r->allow = allow;
    r->headers = headers;
}

static void fail(hd_api_req_t *r, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An error of the dialect's own checks, in its shape. */
static void fail(hd_api_req_t *r, unsigned status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap); /* messages quote input: cut whole characters only */
    va_end(ap);
    hd_api_req_error(r, status, status == 404 ? "not-found" : "invalid-param", NULL, "%s", msg);
    hd_dialect_mgmt_reshape_error(r);
}

/* Takes a native reply: 1 when it is a success (*native keeps it), else 0 with r's reply the reshaped error. */
static int native_ok(hd_api_req_t *r, unsigned status, json_object *native) {
    if (status < 300) return 1;
    hd_api_req_reply(r, status, native);
    hd_dialect_mgmt_reshape_error(r);
    return 0;
}

/* ---- requests ---- */

/* The native id of the subscription numbered by path segment s, or NULL with a reply set. */
static char *subscription_id(hd_api_req_t *r, const char *s) {
    int64_t alias;
    char *id = NULL;
    if (hd_dialect_parse_id(s, INT32_MAX, &alias)) {
        fail(r, 400, "the subscription id must be an integer from 1 to 2147483647, not \"%.*s\"",
             (int)hd_utf8_prefix(s, strlen(s), 64), s);
        return NULL;
    }
    if (hd_api_req_alias_id(r, HD_MONGO_SUBSCRIPTIONS, alias, "subscription", &id) != 1)
        hd_dialect_mgmt_reshape_error(r);
    return id;
}

/* Parses take and skip. 0, or -1 with a reply. */
static int take_skip(hd_api_req_t *r, int64_t *take, int64_t *skip) {
    const char *names[] = {"take", "skip"};
    int64_t *out[] = {take, skip};
    *take = 50;
    *skip = 0;
    for (int i = 0; i < 2; i++) {
        const char *v = hd_api_req_query(r, names[i]);
        char *end;
        if (!v) continue;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end || strlen(v) > 10 || n < 0 || n > (i ? INT32_MAX : MAX_TAKE)) {
            fail(r, 400, "%s must be an integer from 0 to %d", names[i], i ? INT32_MAX : MAX_TAKE);
            return -1;
        }
        *out[i] = n;
    }
    return 0;
}

/* The list's filter (tenant and extra, borrowed), sort and select, from the query. 0, or -1 with a reply. */
static int list_query(hd_api_req_t *r, hd_mgmt_kind_t kind, bson_t *filter, bson_t *sort, json_object **fields) {
    char why[512];
    const char *f = hd_api_req_query(r, "filter"), *s = hd_api_req_query(r, "sort"),
               *sel = hd_api_req_query(r, "select");
    *fields = NULL;
    if ((f && hd_dialect_mgmt_query_filter(f, kind, filter, why, sizeof(why))) ||
        (s && hd_dialect_mgmt_query_sort(s, kind, sort, why, sizeof(why))) ||
        (sel && hd_dialect_mgmt_query_select(sel, kind, fields, why, sizeof(why)))) {
        fail(r, 400, "%s", why);
        return -1;
    }
    if (!s) BSON_APPEND_INT32(sort, kind == HD_MGMT_EVENTS ? "sort_key" : "alias", kind == HD_MGMT_EVENTS ? -1 : 1);
    return 0;
}

/* The management events of the tenant's subscription id numbered sub_alias: one page, into *events. 0, or -1
 * with a reply. */
static int events_page(hd_api_req_t *r, const char *id, int64_t sub_alias, const bson_t *extra, const bson_t *sort,
                       int64_t skip, int64_t take, json_object *fields, json_object **events, int64_t *total) {
    bson_t *filter = BCON_NEW("tenant", BCON_UTF8(r->tenant), "subscription_id", BCON_UTF8(id));
    json_object *rows;
    bson_concat(filter, extra);
    int rc = hd_api_page_slice(r, HD_MONGO_DELIVERIES, filter, sort, skip, take, hd_api_delivery_json, &rows, total);
    bson_destroy(filter);
    if (rc) {
        hd_dialect_mgmt_reshape_error(r);
        return -1;
    }
    *events = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(rows); i++)
        json_object_array_add(*events,
                              hd_dialect_mgmt_query_project(
                                  hd_dialect_mgmt_shape_event(json_object_array_get_idx(rows, i), sub_alias), fields));
    json_object_put(rows);
    return 0;
}

/* A native subscription in the management shape, with its newest events when with_events. NULL with a reply. */
static json_object *full_subscription(hd_api_req_t *r, json_object *native, const char *secret, int with_events) {
    json_object *o = hd_dialect_mgmt_shape_subscription(native, secret, r->tenant), *events;
    if (!with_events) return o;
    bson_t none = BSON_INITIALIZER, *sort = BCON_NEW("sort_key", BCON_INT32(-1));
    int64_t total;
    int rc = events_page(r, json_object_get_string(hd_dialect_member(native, "id")),
                         json_object_get_int64(hd_dialect_member(native, "alias")), &none, sort, 0, INCLUDED_EVENTS,
                         NULL, &events, &total);
    bson_destroy(sort);
    if (rc) {
        json_object_put(o);
        return NULL;
    }
    json_object_object_add(o, "webhookEvents", events);
    return o;
}

static void list_subscriptions(hd_api_req_t *r) {
    static const char *const params[] = {"select", "filter", "sort", "include", "take", "skip", NULL};
    bson_t *filter = BCON_NEW("tenant", BCON_UTF8(r->tenant)), sort = BSON_INITIALIZER;
    json_object *fields = NULL, *natives = NULL;
    int64_t take, skip, total;
    const char *include = hd_api_req_query(r, "include");
    if (!hd_api_req_params(r, params)) {
        hd_dialect_mgmt_reshape_error(r);
        goto out;
    }
    if (include && strcmp(include, "webhookEvents")) {
        fail(r, 400, "include takes webhookEvents, not \"%.*s\"", (int)hd_utf8_prefix(include, strlen(include), 64),
             include);
        goto out;
    }
    if (take_skip(r, &take, &skip) || list_query(r, HD_MGMT_SUBSCRIPTIONS, filter, &sort, &fields)) goto out;
    if (hd_api_page_slice(r, HD_MONGO_SUBSCRIPTIONS, filter, &sort, skip, take, hd_api_subscription_json, &natives,
                          &total)) {
        hd_dialect_mgmt_reshape_error(r);
        goto out;
    }
    json_object *subs = json_object_new_array();
    for (size_t i = 0; i < json_object_array_length(natives); i++) {
        json_object *s = full_subscription(r, json_object_array_get_idx(natives, i), NULL, include != NULL);
        if (!s) {
            json_object_put(subs);
            goto out;
        }
        json_object_array_add(subs, hd_dialect_mgmt_query_project(s, fields));
    }
    reply_list(r, "subscriptions", subs, "totalSubscriptionsCount", total, "Subscriptions retrieved.");
out:
    json_object_put(natives);
    json_object_put(fields);
    bson_destroy(&sort);
    bson_destroy(filter);
}

/* The "subscription" object of the body, or NULL with a reply. */
static json_object *subscription_body(hd_api_req_t *r) {
    json_object *sub = r->body ? hd_dialect_member(r->body, "subscription") : NULL;
    if (!r->body || !json_object_is_type(r->body, json_type_object) || !json_object_is_type(sub, json_type_object) ||
        json_object_object_length(r->body) != 1) {
        fail(r, 400, "%s", "the body must be {\"subscription\": {...}} and nothing else");
        return NULL;
    }
    return sub;
}

/* Create (id NULL) or replace the subscription id. */
static void write_subscription(hd_api_req_t *r, const char *id) {
    json_object *sub = subscription_body(r), *native = NULL, *out = NULL;
    char why[512];
    if (!sub) return;
    if (hd_dialect_mgmt_shape_native_body(sub, &native, why, sizeof(why))) {
        fail(r, 400, "the subscription is not valid: %s", why);
        return;
    }
    unsigned status = id ? hd_dialect_native_call(r, "PATCH", native, NULL, &out, "subscriptions", id, NULL)
                         : hd_dialect_native_call(r, "POST", native, NULL, &out, "subscriptions", NULL);
    if (native_ok(r, status, out)) {
        /* The secret is shown whole once, at creation: as generated, or as given (a raw key as it was sent). */
        json_object *given = hd_dialect_member(sub, "secret"),
                    *generated = hd_dialect_member(hd_dialect_data(out), "secret");
        const char *secret = NULL;
        if (!id) secret = json_object_get_string(generated ? generated : given);
        json_object *s = full_subscription(r, hd_dialect_data(out), secret, 1);
        if (s) reply(r, "subscription", s, id ? "Subscription updated." : "Subscription created.");
        json_object_put(out);
    }
    json_object_put(native);
}

static void get_subscription(hd_api_req_t *r, const char *id) {
    json_object *out;
    unsigned status = hd_dialect_native_call(r, "GET", NULL, NULL, &out, "subscriptions", id, NULL);
    if (!native_ok(r, status, out)) return;
    json_object *s = full_subscription(r, hd_dialect_data(out), NULL, 1);
    if (s) reply(r, "subscription", s, "Subscription retrieved.");
    json_object_put(out);
}

static void delete_subscription(hd_api_req_t *r, const char *id) {
    json_object *out;
    if (native_ok(r, hd_dialect_native_call(r, "DELETE", NULL, NULL, &out, "subscriptions", id, NULL), out)) {
        reply(r, NULL, NULL, "Subscription deleted.");
        json_object_put(out);
    }
}

static void test_event(hd_api_req_t *r, const char *id) {
    json_object *payload = NULL, *native = NULL, *out = NULL;
    int64_t event_alias;
    if (r->body) {
        int has_payload = json_object_object_get_ex(r->body, "payload", &payload);
        if (!json_object_is_type(r->body, json_type_object) || json_object_object_length(r->body) != has_payload) {
            fail(r, 400, "%s", "the body must be {\"payload\": ...} and nothing else");
            return;
        }
        if (payload && !json_object_is_type(payload, json_type_object)) {
            fail(r, 400, "%s", "payload must be a JSON object (the event's data), or null for the default one");
            return;
        }
    }
    if (payload) {
        native = json_object_new_object();
        json_object_object_add(native, "data", json_object_get(payload));
    }
    unsigned status = hd_dialect_native_call(r, "POST", native, NULL, &out, "subscriptions", id, "test", NULL);
    json_object_put(native);
    if (!native_ok(r, status, out)) return;
    const char *delivery = json_object_get_string(hd_dialect_member(hd_dialect_data(out), "delivery_id"));
    if (hd_api_req_alias_of(r, HD_MONGO_DELIVERIES, delivery, "event", &event_alias) != 1) {
        hd_dialect_mgmt_reshape_error(r);
    } else {
        reply(r, NULL, NULL, "Test event sent.");
        json_object_object_add(r->reply, "eventId", json_object_new_int64(event_alias));
    }
    json_object_put(out);
}

static void list_events(hd_api_req_t *r, const char *id) {
    static const char *const params[] = {"select", "filter", "sort", "include", "take", "skip", NULL};
    bson_t filter = BSON_INITIALIZER, sort = BSON_INITIALIZER;
    json_object *fields = NULL, *events, *out = NULL;
    int64_t take, skip, total;
    const char *include = hd_api_req_query(r, "include");
    if (!hd_api_req_params(r, params)) {
        hd_dialect_mgmt_reshape_error(r);
        goto out;
    }
    if (include) {
        fail(r, 400, "events have nothing to include (include=\"%.*s\")",
             (int)hd_utf8_prefix(include, strlen(include), 64), include);
        goto out;
    }
    if (take_skip(r, &take, &skip) || list_query(r, HD_MGMT_EVENTS, &filter, &sort, &fields)) goto out;
    if (!native_ok(r, hd_dialect_native_call(r, "GET", NULL, NULL, &out, "subscriptions", id, NULL), out)) {
        out = NULL;
        goto out;
    }
    if (events_page(r, id, json_object_get_int64(hd_dialect_member(hd_dialect_data(out), "alias")), &filter, &sort,
                    skip, take, fields, &events, &total))
        goto out;
    reply_list(r, "events", events, "totalEventsCount", total, "Events retrieved.");
out:
    json_object_put(out);
    json_object_put(fields);
    bson_destroy(&sort);
    bson_destroy(&filter);
}

static void delete_event(hd_api_req_t *r, const char *id, const char *event) {
    int64_t alias;
    char *delivery = NULL;
    json_object *out;
    if (hd_dialect_parse_id(event, INT32_MAX, &alias)) {
        fail(r, 400, "the event id must be an integer from 1 to 2147483647, not \"%.*s\"",
             (int)hd_utf8_prefix(event, strlen(event), 64), event);
        return;
    }
    if (hd_api_req_alias_id(r, HD_MONGO_DELIVERIES, alias, "event", &delivery) != 1) {
        hd_dialect_mgmt_reshape_error(r);
        return;
    }
    unsigned status =
        hd_dialect_native_call(r, "DELETE", NULL, NULL, &out, "subscriptions", id, "events", delivery, NULL);
    free(delivery);
    if (status == 404) { /* the entry is another subscription's */
        json_object_put(out);
        fail(r, 404, "no event %s for subscription %s", event, r->seg[1]);
    } else if (native_ok(r, status, out)) {
        reply(r, NULL, NULL, "Event deleted.");
        json_object_put(out);
    }
}

static void event_types(hd_api_req_t *r) {
    bson_t filter = BSON_INITIALIZER, *sort = BCON_NEW("_id", BCON_INT32(1));
    json_object *natives;
    int64_t total;
    if (!hd_api_req_params(r, NULL) || hd_api_page_slice(r, HD_MONGO_EVENT_TYPES, &filter, sort, 0, CATALOGUE_MAX,
                                                         hd_api_event_type_json, &natives, &total)) {
        hd_dialect_mgmt_reshape_error(r);
    } else {
        json_object *types = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(natives); i++) {
            json_object *t = json_object_array_get_idx(natives, i), *o = json_object_new_object();
            json_object_object_add(o, "name", json_object_get(hd_dialect_member(t, "name")));
            json_object_object_add(o, "description", json_object_get(hd_dialect_member(t, "description")));
            json_object_array_add(types, o);
        }
        json_object_put(natives);
        reply(r, "eventTypes", types, "Event types retrieved.");
    }
    bson_destroy(sort);
}

static void not_allowed(hd_api_req_t *r, const char *allow) {
    hd_api_req_not_allowed(r, allow);
    hd_dialect_mgmt_reshape_error(r);
}

/* The methods of the route below /subscriptions/{id} that r names, or NULL when there is no such route. */
static const char *allowed_methods(const hd_api_req_t *r) {
    if (r->nseg == 2) return "GET, PUT, DELETE";
    if (r->nseg == 3 && !strcmp(r->seg[2], "test")) return "POST";
    if (r->nseg == 3 && !strcmp(r->seg[2], "events")) return "GET";
    if (r->nseg == 4 && !strcmp(r->seg[2], "events")) return "DELETE";
    return NULL;
}

/* Below /subscriptions/{id}. */
static void subscription_routes(hd_api_req_t *r) {
    const char *allow = allowed_methods(r), *m = r->method;
    char *id = NULL;
    if (!allow) return; /* not found, reshaped by the server */
    size_t mlen = strlen(m);
    int listed = 0;
    for (const char *p = allow; *p && !listed; p += strcspn(p, ",") + (p[strcspn(p, ",")] ? 2 : 0))
        listed = strcspn(p, ",") == mlen && !strncmp(p, m, mlen);
    if (!listed) {
        not_allowed(r, allow);
        return;
    }
    int list = r->nseg == 3 && !strcmp(r->seg[2], "events");
    if (!list && !hd_api_req_params(r, NULL)) { /* only the list of events has parameters */
        hd_dialect_mgmt_reshape_error(r);
        return;
    }
    if (!(id = subscription_id(r, r->seg[1]))) return;
    if (r->nseg == 2 && !strcmp(m, "GET"))
        get_subscription(r, id);
    else if (r->nseg == 2 && !strcmp(m, "PUT"))
        write_subscription(r, id);
    else if (r->nseg == 2)
        delete_subscription(r, id);
    else if (list)
        list_events(r, id);
    else if (r->nseg == 3)
        test_event(r, id);
    else
        delete_event(r, id, r->seg[3]);
    free(id);
}

static void serve(hd_api_req_t *r) {
    /* The document's samples send application/json-patch+json; ASP.NET-style servers take these as JSON too. */
    static const char *const types[] = {"application/json", "application/json-patch+json", "text/json",
                                        "application/*+json", NULL};
    if (r->nseg == 0) return; /* not found, reshaped by the server */
    if (hd_api_req_authenticate_headers(r) != 1 || hd_api_req_parse_body(r, types)) {
        static const char *const bearer[] = {"WWW-Authenticate", "Bearer", NULL}; /* RFC 9110: a 401 names it */
        hd_dialect_mgmt_reshape_error(r);
        if (r->status == 401) r->headers = bearer;
        return;
    }
    const char *top = r->seg[0];
    if (!strcmp(top, "event-types") && r->nseg == 1) {
        if (strcmp(r->method, "GET"))
            not_allowed(r, "GET");
        else
            event_types(r);
    } else if (!strcmp(top, "subscriptions") && r->nseg == 1) {
        if (!strcmp(r->method, "GET"))
            list_subscriptions(r);
        else if (!strcmp(r->method, "POST")) {
            if (hd_api_req_params(r, NULL))
                write_subscription(r, NULL);
            else
                hd_dialect_mgmt_reshape_error(r);
        } else
            not_allowed(r, "GET, POST");
    } else if (!strcmp(top, "subscriptions")) {
        subscription_routes(r);
    }
}

const hd_dialect_t hd_dialect_mgmt = {
    .name = "management",
    .prefix = "/v1/webhooks",
    .serve = serve,
    .reshape_error = hd_dialect_mgmt_reshape_error,
};
