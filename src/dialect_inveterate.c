#include "hookd/dialect_inveterate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hookd/dialect_native.h"
#include "hookd/utf8.h"

/* The catalogues, seeded into the event types when the dialect is mounted: 000's one topic, and 001's eight events,
 * every one of which triggers every webhook. */
static const hd_api_event_type_seed_t topics[] = {{"customer.joined.paid_tier", "A customer joined a paid tier."}};
static const hd_api_event_type_seed_t events[] = {
    {"merchant.updated", "A merchant's profile or settings changed."},
    {"merchant.reinstall", "A merchant reinstalled the application."},
    {"customer.created", "A customer was created."},
    {"customer.updated", "A customer's details changed."},
    {"customer.credits.updated", "A customer's credit balance changed."},
    {"customer.ordered", "A customer placed an order."},
    {"customer.cancellation_requested", "A customer asked to cancel."},
    {"customer.confirmed_cancellation", "A customer's cancellation was confirmed."},
};
#define NTOPICS (sizeof(topics) / sizeof(topics[0]))
#define NEVENTS (sizeof(events) / sizeof(events[0]))

/* Native field names and Inveterate's, for bodies, replies and the fields error messages name. */
static const char *const renames[][2] = {{"url", "callbackUrl"},
                                         {"event_types", "topic"},
                                         {"event_type", "topic"},
                                         {"secret", "token"},
                                         {"after", "lastEventId"}};

/* ---- requests ---- */

/* The fields an operation takes; the required ones first (nreq of them). */
typedef struct shape_s {
    const char *fields[4];
    size_t nfields, nreq;
} shape_t;

static const shape_t subscription_shapes[] = {
    [HD_DIALECT_INVETERATE_CREATE] = {{"topic", "callbackUrl", "name"}, 3, 3},
    [HD_DIALECT_INVETERATE_UPDATE] = {{"topic", "id", "callbackUrl", "name"}, 4, 2},
    [HD_DIALECT_INVETERATE_DELETE] = {{"topic", "id"}, 2, 2},
    [HD_DIALECT_INVETERATE_TEST] = {{"topic", "id", "data"}, 3, 2},
    [HD_DIALECT_INVETERATE_LOG] = {{"topic", "id", "limit", "lastEventId"}, 4, 2},
};

static const shape_t webhook_shapes[] = {
    [HD_DIALECT_INVETERATE_CREATE] = {{"callbackUrl", "name"}, 2, 1},
    [HD_DIALECT_INVETERATE_TEST] = {{"topic", "data"}, 2, 0},
    [HD_DIALECT_INVETERATE_LOG] = {{"limit", "lastEventId"}, 2, 0},
};

/* 0 when body is an object holding only the shape's fields and every required one; else -1 with why. */
static int check_shape(json_object *body, const shape_t *s, char *why, size_t why_size) {
    char allowed[128] = "";
    for (size_t i = 0; i < s->nfields; i++)
        snprintf(allowed + strlen(allowed), sizeof(allowed) - strlen(allowed), "%s%s", i ? ", " : "", s->fields[i]);
    if (!body || !json_object_is_type(body, json_type_object)) {
        snprintf(why, why_size, "the body must be a JSON object with %s", allowed);
        return -1;
    }
    json_object_object_foreach(body, key, val) {
        size_t i = 0;
        while (i < s->nfields && strcmp(s->fields[i], key))
            i++;
        if (i == s->nfields) {
            hd_utf8_format(why, why_size, "unknown parameter \"%.*s\" (allowed: %s)",
                           (int)hd_utf8_prefix(key, strlen(key), 64), key, allowed);
            return -1;
        }
        (void)val;
    }
    for (size_t i = 0; i < s->nreq; i++) {
        if (!json_object_object_get_ex(body, s->fields[i], NULL)) {
            snprintf(why, why_size, "missing parameter %s", s->fields[i]);
            return -1;
        }
    }
    return 0;
}

/* Sets *out to the string value of body's key (NULL when absent): 0, or -1 with why when the value is not a
 * non-empty string. */
static int string_param(json_object *body, const char *key, const char **out, char *why, size_t why_size) {
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(body, key, &v)) return 0;
    if (!json_object_is_type(v, json_type_string) || !json_object_get_string_len(v)) {
        snprintf(why, why_size, "%s must be a non-empty string", key);
        return -1;
    }
    *out = json_object_get_string(v);
    return 0;
}

/* Copies body's key, when there, to native under native_key. */
static void copy(json_object *native, const char *native_key, json_object *body, const char *key) {
    json_object *v;
    if (json_object_object_get_ex(body, key, &v)) json_object_object_add(native, native_key, json_object_get(v));
}

/* The native delivery-log query of an event-log request: limit as it is, lastEventId as the cursor after. */
static void page_query(json_object *native, json_object *params) {
    copy(native, "limit", params, "limit");
    copy(native, "after", params, "lastEventId");
}

/* The names of n catalogue entries, as a JSON array. */
static json_object *names(const hd_api_event_type_seed_t *seeds, size_t n) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(seeds[i].name));
    return a;
}

int hd_dialect_inveterate_subscription_in(json_object *body, hd_dialect_inveterate_op_t op, json_object **native,
                                          const char **id, const char **topic, char *why, size_t why_size) {
    *native = NULL;
    *id = *topic = NULL;
    if (check_shape(body, &subscription_shapes[op], why, why_size) ||
        string_param(body, "topic", topic, why, why_size) || string_param(body, "id", id, why, why_size))
        return -1;
    size_t i = 0;
    while (i < NTOPICS && strcmp(topics[i].name, *topic))
        i++;
    if (i == NTOPICS) {
        size_t len = (size_t)snprintf(why, why_size, "topic must be one of:");
        for (i = 0; i < NTOPICS && len < why_size; i++)
            len += (size_t)snprintf(why + len, why_size - len, "%s %s", i ? "," : "", topics[i].name);
        return -1;
    }
    *native = json_object_new_object();
    if (op == HD_DIALECT_INVETERATE_LOG) {
        page_query(*native, body);
        return 0;
    }
    if (op == HD_DIALECT_INVETERATE_TEST) {
        json_object_object_add(*native, "event_type", json_object_new_string(*topic));
        copy(*native, "data", body, "data");
        return 0;
    }
    if (op == HD_DIALECT_INVETERATE_CREATE) json_object_object_add(*native, "event_types", names(&topics[i], 1));
    copy(*native, "url", body, "callbackUrl");
    copy(*native, "name", body, "name");
    return 0;
}

int hd_dialect_inveterate_webhook_in(json_object *body, hd_dialect_inveterate_op_t op, json_object **native, char *why,
                                     size_t why_size) {
    *native = NULL;
    json_object *empty = NULL;
    if (op != HD_DIALECT_INVETERATE_CREATE && !body) body = empty = json_object_new_object(); /* all optional */
    int rc = check_shape(body, &webhook_shapes[op], why, why_size);
    if (!rc) {
        *native = json_object_new_object();
        if (op == HD_DIALECT_INVETERATE_LOG) {
            page_query(*native, body);
        } else if (op == HD_DIALECT_INVETERATE_TEST) {
            copy(*native, "event_type", body, "topic");
            copy(*native, "data", body, "data");
        } else {
            json_object_object_add(*native, "event_types", names(events, NEVENTS));
            copy(*native, "url", body, "callbackUrl");
            copy(*native, "name", body, "name");
        }
    }
    json_object_put(empty);
    return rc;
}

/* ---- replies ---- */

/* Sets out[key] to in[native_key] (null when absent). */
static void field(json_object *out, const char *key, json_object *in, const char *native_key) {
    json_object *v = NULL;
    json_object_object_get_ex(in, native_key, &v);
    json_object_object_add(out, key, json_object_get(v));
}

static void add_token(json_object *out, json_object *sub) {
    json_object *v;
    if (json_object_object_get_ex(sub, "secret", &v) && json_object_is_type(v, json_type_string))
        json_object_object_add(out, "token", json_object_get(v));
}

json_object *hd_dialect_inveterate_subscription_out(json_object *sub) {
    json_object *o = json_object_new_object(), *types;
    field(o, "id", sub, "id");
    json_object_object_add(o, "topic",
                           json_object_object_get_ex(sub, "event_types", &types) &&
                                   json_object_is_type(types, json_type_array)
                               ? json_object_get(json_object_array_get_idx(types, 0))
                               : NULL);
    field(o, "callbackUrl", sub, "url");
    field(o, "name", sub, "name");
    field(o, "createdAt", sub, "created_at");
    field(o, "updatedAt", sub, "updated_at");
    add_token(o, sub);
    return o;
}

json_object *hd_dialect_inveterate_webhook_out(json_object *sub) {
    json_object *o = json_object_new_object();
    field(o, "id", sub, "id");
    field(o, "callbackUrl", sub, "url");
    field(o, "name", sub, "name");
    field(o, "events", sub, "event_types");
    field(o, "createdAt", sub, "created_at");
    add_token(o, sub);
    return o;
}

json_object *hd_dialect_inveterate_event_out(json_object *row) {
    static const char *const keys[][2] = {
        {"id", "id"},
        {"subscriptionId", "subscription_id"},
        {"eventId", "event_id"},
        {"topic", "event_type"},
        {"status", "status"},
        {"statusCode", "status_code"},
        {"response", "response"},
        {"errorMessage", "error_message"},
        {"success", "is_success"},
        {"retryCount", "retry_count"},
        {"sentAt", "sent_at"},
        {"nextRetryAt", "next_retry_at"},
        {"createdAt", "created_at"},
    };
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        field(o, keys[i][0], row, keys[i][1]);
    return o;
}

json_object *hd_dialect_inveterate_test_out(json_object *data) {
    json_object *o = json_object_new_object();
    field(o, "id", data, "subscription_id");
    field(o, "eventId", data, "event_id");
    field(o, "deliveryId", data, "delivery_id");
    field(o, "topic", data, "event_type");
    return o;
}

json_object *hd_dialect_inveterate_envelope(const char *message, json_object *data) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "message", json_object_new_string(message));
    json_object_object_add(o, "data", data);
    return o;
}

/* A native field name as the dialect names it: "event_types[0]" is "topic". */
static const char *dialect_name(const char *native) {
    for (size_t i = 0; i < sizeof(renames) / sizeof(renames[0]); i++) {
        size_t n = strlen(renames[i][0]);
        if (!strncmp(native, renames[i][0], n) && (!native[n] || native[n] == '[')) return renames[i][1];
    }
    return native;
}

json_object *hd_dialect_inveterate_error(unsigned native_status, json_object *native_reply, unsigned *status) {
    json_object *v, *details;
    char msg[1024] = "";
    size_t len = 0;
    if (json_object_object_get_ex(native_reply, "message", &v)) {
        const char *m = json_object_get_string(v);
        size_t skip = strcspn(m, " ");
        char first[32];
        snprintf(first, sizeof(first), "%.*s", (int)skip, m);
        const char *named = skip < sizeof(first) && m[skip] ? dialect_name(first) : first;
        if (named == first) skip = 0; /* "after is not a valid cursor" speaks of lastEventId */
        len = hd_utf8_format(msg, sizeof(msg), "%s%s", named == first ? "" : named, m + skip);
    }
    if (json_object_object_get_ex(native_reply, "details", &details) && json_object_is_type(details, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(details) && len < sizeof(msg) - 1; i++) {
            json_object *d = json_object_array_get_idx(details, i), *f, *m;
            if (!json_object_object_get_ex(d, "field", &f) || !json_object_object_get_ex(d, "message", &m)) continue;
            len += hd_utf8_format(msg + len, sizeof(msg) - len, "%s%s: %s", i ? "; " : ": ",
                                  dialect_name(json_object_get_string(f)), json_object_get_string(m));
        }
    }
    json_object *data = NULL;
    if (native_status >= 500) {
        *status = 500;
        data = json_object_new_object();
        json_object_object_add(data, "error",
                               json_object_object_get_ex(native_reply, "error", &v)
                                   ? json_object_get(v)
                                   : json_object_new_string("internal"));
    } else {
        *status = 400;
    }
    return hd_dialect_inveterate_envelope(msg, data);
}

/* ---- serving ---- */

static const char *const json_types[] = {"application/json", NULL};

/* Answers a native error reply (borrowed; it may be r's own) in this dialect's shape. */
static void relay(hd_api_req_t *r, unsigned native_status, json_object *native_reply) {
    unsigned status;
    json_object *o = hd_dialect_inveterate_error(native_status, native_reply, &status);
    hd_api_req_reply(r, status, o);
}

static void reshape_error(hd_api_req_t *r) {
    relay(r, r->status, r->reply);
}

static void answer(hd_api_req_t *r, unsigned status, const char *message, json_object *data) {
    hd_api_req_reply(r, status, hd_dialect_inveterate_envelope(message, data));
}

/* The 400 of a malformed request: nothing was done. */
static void refuse(hd_api_req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void refuse(hd_api_req_t *r, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    answer(r, 400, msg, NULL);
}

/* Authenticates with X-Inveterate-Api-Key, parses the JSON body and allows params (NULL-terminated; NULL: none)
 * as the query. 1, or 0 with the reply set. */
static int begin(hd_api_req_t *r, const char *const *params) {
    const char *key = hd_api_req_header(r, "X-Inveterate-Api-Key");
    if (!key || !*key) {
        refuse(r, "missing X-Inveterate-Api-Key header: send your private Inveterate API key");
        return 0;
    }
    if (hd_api_req_authenticate(r, key) != 1 || hd_api_req_parse_body(r, json_types) || !hd_api_req_params(r, params)) {
        reshape_error(r);
        return 0;
    }
    return 1;
}

/* Runs method on the native subscription id (NULL: the collection) and its action (NULL: none). 1 with *reply
 * (caller owns it) on success; 0 with the native error answered in this dialect's shape. */
static int call(hd_api_req_t *r, json_object **reply, const char *method, json_object *body, json_object *query,
                const char *id, const char *action) {
    unsigned status =
        hd_dialect_native_call(r, method, body, query, reply, "subscriptions", id, action, (const char *)NULL);
    if (status >= 200 && status < 300) return 1;
    relay(r, status, *reply);
    json_object_put(*reply);
    *reply = NULL;
    return 0;
}

/* Answers every subscription of the tenant, converted with out: the native list page by page. */
static void list(hd_api_req_t *r, json_object *(*out)(json_object *), const char *message) {
    json_object *items = json_object_new_array(), *query = json_object_new_object(), *reply = NULL, *page, *v;
    json_object_object_add(query, "limit", json_object_new_string("500"));
    for (;;) {
        if (!call(r, &reply, "GET", NULL, query, NULL, NULL)) goto out;
        json_object *data = hd_dialect_data(reply);
        for (size_t i = 0; i < json_object_array_length(data); i++)
            json_object_array_add(items, out(json_object_array_get_idx(data, i)));
        if (!json_object_object_get_ex(reply, "pagination", &page) ||
            !json_object_object_get_ex(page, "has_next_page", &v) || !json_object_get_boolean(v) ||
            !json_object_object_get_ex(page, "end_cursor", &v))
            break;
        json_object_object_add(query, "after", json_object_get(v));
        json_object_put(reply);
        reply = NULL;
    }
    answer(r, 200, message, items);
    items = NULL;
out:
    json_object_put(reply);
    json_object_put(items);
    json_object_put(query);
}

/* Creates the subscription of native (borrowed) and answers it converted with out. */
static void create(hd_api_req_t *r, json_object *native, json_object *(*out)(json_object *), const char *message) {
    json_object *reply;
    if (call(r, &reply, "POST", native, NULL, NULL, NULL)) answer(r, 201, message, out(hd_dialect_data(reply)));
    json_object_put(reply);
}

static void test_event(hd_api_req_t *r, const char *id, json_object *native) {
    json_object *reply;
    if (call(r, &reply, "POST", native, NULL, id, "test"))
        answer(r, 201, "Test event sent", hd_dialect_inveterate_test_out(hd_dialect_data(reply)));
    json_object_put(reply);
}

/* Answers one page of id's event log: native holds the native query (limit, after). */
static void event_log(hd_api_req_t *r, const char *id, json_object *native) {
    json_object *reply, *page, *v, *next = NULL;
    if (!call(r, &reply, "GET", NULL, native, id, "events")) return;
    json_object *data = hd_dialect_data(reply), *entries = json_object_new_array(), *o = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(data); i++)
        json_object_array_add(entries, hd_dialect_inveterate_event_out(json_object_array_get_idx(data, i)));
    if (json_object_object_get_ex(reply, "pagination", &page) && json_object_object_get_ex(page, "has_next_page", &v) &&
        json_object_get_boolean(v) && json_object_object_get_ex(page, "end_cursor", &v))
        next = json_object_get(v);
    json_object_object_add(o, "events", entries);
    json_object_object_add(o, "lastEventId", next);
    answer(r, 200, "Events retrieved", o);
    json_object_put(reply);
}

/* The query parameters of the request as an object of strings, those of names (NULL-terminated) only. */
static json_object *query_object(hd_api_req_t *r, const char *const *names) {
    json_object *o = json_object_new_object();
    for (; *names; names++) {
        const char *v = hd_api_req_query(r, *names);
        if (v) json_object_object_add(o, *names, json_object_new_string(v));
    }
    return o;
}

/* 1 when the tenant has subscription id with topic as its first event type (000's key); else 0, answered. */
static int find(hd_api_req_t *r, const char *id, const char *topic) {
    json_object *reply = NULL, *types;
    unsigned status = hd_dialect_native_call(r, "GET", NULL, NULL, &reply, "subscriptions", id, (const char *)NULL);
    int found = status == 200 && json_object_object_get_ex(hd_dialect_data(reply), "event_types", &types) &&
                json_object_is_type(types, json_type_array) && json_object_array_length(types) > 0 &&
                !strcmp(json_object_get_string(json_object_array_get_idx(types, 0)), topic);
    if (!found && (status == 200 || status == 404))
        refuse(r, "no webhook subscription %.*s with topic %s", (int)hd_utf8_prefix(id, strlen(id), 128), id, topic);
    else if (!found)
        relay(r, status, reply);
    json_object_put(reply);
    return found;
}

/* 1 unless the request, which takes none, has a body (answered). */
static int no_body(hd_api_req_t *r) {
    if (!r->body) return 1;
    refuse(r, "%s %s takes no body", r->method, r->path);
    return 0;
}

/* Answers a request that is no operation: 405 with the methods of its path (allow, static text, as the Allow
 * header), or 400 when the path is none of this API's (allow NULL). */
static void no_operation(hd_api_req_t *r, const char *allow) {
    if (!allow) {
        refuse(r, "%s is not a path of this API", r->path);
        return;
    }
    char msg[128];
    hd_utf8_format(msg, sizeof(msg), "%s is not allowed here (allowed: %s)", r->method, allow);
    answer(r, 405, msg, NULL);
    r->allow = allow;
}

static void serve_subscriptions(hd_api_req_t *r) {
    static const char *const log_params[] = {"id", "topic", "limit", "lastEventId", NULL};
    const char *m = r->method, *id, *topic;
    int log_path = r->nseg == 1 && !strcmp(r->seg[0], "events"), log = log_path && !strcmp(m, "GET");
    if (!begin(r, log_path ? log_params : NULL)) return;
    hd_dialect_inveterate_op_t op;
    if (r->nseg == 0 && !strcmp(m, "GET")) {
        if (no_body(r)) list(r, hd_dialect_inveterate_subscription_out, "Webhook subscriptions retrieved");
        return;
    } else if (r->nseg == 0 && !strcmp(m, "POST")) {
        op = HD_DIALECT_INVETERATE_CREATE;
    } else if (r->nseg == 0 && !strcmp(m, "PUT")) {
        op = HD_DIALECT_INVETERATE_UPDATE;
    } else if (r->nseg == 0 && !strcmp(m, "DELETE")) {
        op = HD_DIALECT_INVETERATE_DELETE;
    } else if (r->nseg == 1 && !strcmp(r->seg[0], "test") && !strcmp(m, "POST")) {
        op = HD_DIALECT_INVETERATE_TEST;
    } else if (log) {
        op = HD_DIALECT_INVETERATE_LOG;
    } else {
        no_operation(r, r->nseg == 0                                   ? "GET, POST, PUT, DELETE"
                        : r->nseg == 1 && !strcmp(r->seg[0], "test")   ? "POST"
                        : r->nseg == 1 && !strcmp(r->seg[0], "events") ? "GET"
                                                                       : NULL);
        return;
    }
    char why[256];
    json_object *params = op == HD_DIALECT_INVETERATE_LOG ? query_object(r, log_params) : json_object_get(r->body);
    json_object *native = NULL, *reply = NULL;
    if (op == HD_DIALECT_INVETERATE_LOG && !no_body(r)) goto out;
    if (hd_dialect_inveterate_subscription_in(params, op, &native, &id, &topic, why, sizeof(why))) {
        refuse(r, "%s", why);
        goto out;
    }
    if (op == HD_DIALECT_INVETERATE_CREATE) {
        create(r, native, hd_dialect_inveterate_subscription_out, "Webhook subscription created");
        goto out;
    }
    if (!find(r, id, topic)) goto out;
    if (op == HD_DIALECT_INVETERATE_TEST) {
        test_event(r, id, native);
    } else if (op == HD_DIALECT_INVETERATE_LOG) {
        event_log(r, id, native);
    } else if (op == HD_DIALECT_INVETERATE_UPDATE) {
        if (call(r, &reply, "PATCH", native, NULL, id, NULL))
            answer(r, 200, "Webhook subscription updated",
                   hd_dialect_inveterate_subscription_out(hd_dialect_data(reply)));
    } else if (call(r, &reply, "DELETE", NULL, NULL, id, NULL)) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(id));
        json_object_object_add(o, "topic", json_object_new_string(topic));
        answer(r, 201, "Webhook subscription deleted", o);
    }
out:
    json_object_put(reply);
    json_object_put(native);
    json_object_put(params);
}

static void serve_webhooks(hd_api_req_t *r) {
    static const char *const log_params[] = {"limit", "lastEventId", NULL};
    const char *m = r->method, *action = r->nseg == 2 ? r->seg[1] : "";
    int log_path = r->nseg == 2 && !strcmp(action, "events"), log = log_path && !strcmp(m, "GET");
    if (!begin(r, log_path ? log_params : NULL)) return;
    char why[256];
    json_object *native = NULL, *params = NULL, *reply = NULL;
    if (r->nseg == 0 && !strcmp(m, "GET")) {
        if (no_body(r)) list(r, hd_dialect_inveterate_webhook_out, "Webhooks retrieved");
    } else if (r->nseg == 0 && !strcmp(m, "POST")) {
        if (hd_dialect_inveterate_webhook_in(r->body, HD_DIALECT_INVETERATE_CREATE, &native, why, sizeof(why)))
            refuse(r, "%s", why);
        else
            create(r, native, hd_dialect_inveterate_webhook_out, "Webhook created");
    } else if (r->nseg == 1 && !strcmp(m, "DELETE")) {
        if (no_body(r) && call(r, &reply, "DELETE", NULL, NULL, r->seg[0], NULL)) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "id", json_object_new_string(r->seg[0]));
            answer(r, 201, "Webhook deleted", o);
        }
    } else if (r->nseg == 2 && !strcmp(action, "test") && !strcmp(m, "POST")) {
        if (hd_dialect_inveterate_webhook_in(r->body, HD_DIALECT_INVETERATE_TEST, &native, why, sizeof(why)))
            refuse(r, "%s", why);
        else
            test_event(r, r->seg[0], native);
    } else if (log) {
        params = query_object(r, log_params);
        if (no_body(r)) {
            if (hd_dialect_inveterate_webhook_in(params, HD_DIALECT_INVETERATE_LOG, &native, why, sizeof(why)))
                refuse(r, "%s", why);
            else
                event_log(r, r->seg[0], native);
        }
    } else {
        no_operation(r, r->nseg == 0                                ? "GET, POST"
                        : r->nseg == 1                              ? "DELETE"
                        : r->nseg == 2 && !strcmp(action, "test")   ? "POST"
                        : r->nseg == 2 && !strcmp(action, "events") ? "GET"
                                                                    : NULL);
    }
    json_object_put(reply);
    json_object_put(native);
    json_object_put(params);
}

const hd_dialect_t hd_dialect_inveterate_subscriptions = {
    .name = "inveterate-subscriptions",
    .prefix = "/v2.0/admin/webhook-subscriptions",
    .serve = serve_subscriptions,
    .reshape_error = reshape_error,
    .events = topics,
    .nevents = NTOPICS,
};

const hd_dialect_t hd_dialect_inveterate_webhooks = {
    .name = "inveterate-webhooks",
    .prefix = "/v2.0/admin/webhooks",
    .serve = serve_webhooks,
    .reshape_error = reshape_error,
    .events = events,
    .nevents = NEVENTS,
};
