#include "hookd/dialect_inveterate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hookd/utf8.h"

const char *const hd_dialect_inveterate_topics[] = {"customer.joined.paid_tier"};
const size_t hd_dialect_inveterate_ntopics = sizeof(hd_dialect_inveterate_topics) / sizeof(char *);
const char *const hd_dialect_inveterate_events[] = {"merchant.updated",
                                                    "merchant.reinstall",
                                                    "customer.created",
                                                    "customer.updated",
                                                    "customer.credits.updated",
                                                    "customer.ordered",
                                                    "customer.cancellation_requested",
                                                    "customer.confirmed_cancellation"};
const size_t hd_dialect_inveterate_nevents = sizeof(hd_dialect_inveterate_events) / sizeof(char *);

/* Native field names and Inveterate's, for bodies, replies and the fields error messages name. */
static const char *const renames[][2] = {{"url", "callbackUrl"},
                                         {"event_types", "topic"},
                                         {"event_type", "topic"},
                                         {"secret", "token"},
                                         {"after", "lastEventId"}};

/* snprintf whose output is well-formed UTF-8 whatever it quotes; returns the bytes written. */
static size_t say(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static size_t say(char *out, size_t size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = hd_utf8_vformat(out, size, fmt, ap);
    va_end(ap);
    return n;
}

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
            say(why, why_size, "unknown parameter \"%.*s\" (allowed: %s)", (int)hd_utf8_prefix(key, strlen(key), 64),
                key, allowed);
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

/* The string value of body's key, or NULL with why when it is there but not a non-empty string. *out stays NULL
 * when key is absent. */
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

static json_object *string_array(const char *const *items, size_t n) {
    json_object *a = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, json_object_new_string(items[i]));
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
    while (i < hd_dialect_inveterate_ntopics && strcmp(hd_dialect_inveterate_topics[i], *topic))
        i++;
    if (i == hd_dialect_inveterate_ntopics) {
        snprintf(why, why_size, "topic must be one of: customer.joined.paid_tier");
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
    if (op == HD_DIALECT_INVETERATE_CREATE) json_object_object_add(*native, "event_types", string_array(topic, 1));
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
            json_object_object_add(*native, "event_types",
                                   string_array(hd_dialect_inveterate_events, hd_dialect_inveterate_nevents));
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
        len = say(msg, sizeof(msg), "%s%s", named == first ? "" : named, m + skip);
    }
    if (json_object_object_get_ex(native_reply, "details", &details) && json_object_is_type(details, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(details) && len < sizeof(msg) - 1; i++) {
            json_object *d = json_object_array_get_idx(details, i), *f, *m;
            if (!json_object_object_get_ex(d, "field", &f) || !json_object_object_get_ex(d, "message", &m)) continue;
            len += say(msg + len, sizeof(msg) - len, "%s%s: %s", i ? "; " : ": ",
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
