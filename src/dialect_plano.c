#include "hookd/dialect_plano.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/render.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

/* PlanoAuth's order statuses: the values of an order event's status field (match.status.field) that statuses[]
 * may name. */
static const char *const order_statuses[] = {"pending",   "paid",      "processing", "shipped",
                                             "delivered", "completed", "cancelled",  "refunded"};
#define NSTATUSES (sizeof(order_statuses) / sizeof(order_statuses[0]))

#define MAX_KEY 200 /* characters */

/* What an empty events[] means: every order event, narrowed by statuses[] when given. */
#define ALL_ORDER_EVENTS "order.**"

/* Parameters renamed on the way to the native subscription; the others keep their names. */
static const char *const renamed[][2] = {{"events", "event_types"},
                                         {"callback_url", "url"},
                                         {"active", "is_active"},
                                         {"payload_render_view", "payload_template"}};
#define NRENAMED (sizeof(renamed) / sizeof(renamed[0]))

/* Every parameter and the operations taking it (bit per hd_plano_op_t), and those requiring it. */
#define OP(o) (1u << (o))
#define SUB_OPS (OP(HD_PLANO_UPDATE) | OP(HD_PLANO_SHOW) | OP(HD_PLANO_DELETE) | OP(HD_PLANO_TEST) | OP(HD_PLANO_JOBS))
#define WRITE_OPS (OP(HD_PLANO_CREATE) | OP(HD_PLANO_UPDATE))
#define ALL_OPS (WRITE_OPS | SUB_OPS | OP(HD_PLANO_LIST))
static const struct {
    const char *name;
    unsigned takes, requires;
} params[] = {
    {"token", ALL_OPS, ALL_OPS},
    {"integration_id", ALL_OPS, WRITE_OPS},
    {"id", SUB_OPS, SUB_OPS},
    {"statuses", WRITE_OPS, 0},
    {"events", WRITE_OPS, 0},
    {"name", WRITE_OPS, 0},
    {"notification_emails", WRITE_OPS, 0},
    {"notify", WRITE_OPS, 0},
    {"key", WRITE_OPS, 0},
    {"payload_render_view", WRITE_OPS, 0},
    {"callback_url", WRITE_OPS, OP(HD_PLANO_CREATE)},
    {"success_code", WRITE_OPS, 0},
    {"active", WRITE_OPS, 0},
    {"version", WRITE_OPS, WRITE_OPS},
    {"event", OP(HD_PLANO_TEST), 0},
    {"payload", OP(HD_PLANO_TEST), 0},
    {"offset", OP(HD_PLANO_LIST) | OP(HD_PLANO_JOBS), 0},
    {"limit", OP(HD_PLANO_LIST) | OP(HD_PLANO_JOBS), 0},
    {"status", OP(HD_PLANO_JOBS), 0},
};
#define NPARAMS (sizeof(params) / sizeof(params[0]))

const char *hd_dialect_plano_slug(unsigned status, const char *native_slug, unsigned *http) {
    static const struct {
        const char *native, *plano;
        unsigned http;
    } map[] = {
        {"invalid-token", "invalid-token", 401},
        {"missing-param", "missing-param", 400},
        {"invalid-content-type", "invalid-content-type", 400},
        {"invalid-json", "invalid-encoded-params", 400},
        /* a route that exists with another method: a client error, with its Allow header */
        {"method-not-allowed", "route-non-existent", 405},
    };
    if (status < 300) {
        *http = 200;
        return "action-successful";
    }
    for (size_t i = 0; native_slug && i < sizeof(map) / sizeof(map[0]); i++) {
        if (!strcmp(map[i].native, native_slug)) {
            *http = map[i].http;
            return map[i].plano;
        }
    }
    if (status >= 500) {
        *http = 500;
        return "application-crash";
    }
    /* not found, conflict, validation, too large: a parameter the request cannot have */
    *http = 400;
    return "invalid-param";
}

json_object *hd_dialect_plano_ok(json_object *data) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "status", json_object_new_string("action-successful"));
    json_object_object_add(o, "data", data);
    return o;
}

void hd_dialect_plano_param(const char *native_field, char *out, size_t out_size) {
    size_t base = strcspn(native_field, "[");
    for (size_t i = 0; i < NRENAMED; i++) {
        if (strlen(renamed[i][1]) == base && !strncmp(renamed[i][1], native_field, base)) {
            snprintf(out, out_size, "%s%s", renamed[i][0], native_field + base);
            return;
        }
    }
    snprintf(out, out_size, "%s", native_field);
}

json_object *hd_dialect_plano_error(const char *slug, const char *message, json_object *details) {
    json_object *o = json_object_new_object(), *errors = json_object_new_array();
    for (size_t i = 0; details && i < json_object_array_length(details); i++) {
        json_object *d = json_object_array_get_idx(details, i), *f, *m, *e = json_object_new_object();
        char param[160];
        hd_dialect_plano_param(json_object_object_get_ex(d, "field", &f) ? json_object_get_string(f) : "", param,
                               sizeof(param));
        json_object_object_add(e, "param", json_object_new_string(param));
        json_object_object_add(e, "message",
                               json_object_object_get_ex(d, "message", &m) ? json_object_get(m)
                                                                           : json_object_new_string(""));
        json_object_array_add(errors, e);
    }
    json_object_object_add(o, "status", json_object_new_string(slug));
    json_object_object_add(o, "message", json_object_new_string(message));
    json_object_object_add(o, "errors", errors);
    return o;
}

static void detail(json_object **details, const char *field, const char *message) {
    if (!*details) *details = json_object_new_array();
    json_object *d = json_object_new_object();
    json_object_object_add(d, "field", json_object_new_string(field));
    json_object_object_add(d, "message", json_object_new_string(message));
    json_object_array_add(*details, d);
}

static int positive_int(json_object *v) {
    return json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0;
}

int hd_dialect_plano_check(json_object *body, hd_plano_op_t op, const char **slug, json_object **details) {
    json_object *v;
    *details = NULL;
    for (size_t i = 0; i < NPARAMS; i++)
        if ((params[i].requires & OP(op)) && !json_object_object_get_ex(body, params[i].name, &v))
            detail(details, params[i].name, "required");
    if (*details) {
        *slug = "missing-param";
        return -1;
    }
    json_object_object_foreach(body, key, val) {
        size_t i = 0;
        while (i < NPARAMS && (strcmp(params[i].name, key) || !(params[i].takes & OP(op))))
            i++;
        if (i == NPARAMS) detail(details, key, "unknown parameter");
        (void)val;
    }
    if (json_object_object_get_ex(body, "id", &v) && !positive_int(v)) detail(details, "id", "a positive integer");
    if (json_object_object_get_ex(body, "integration_id", &v) && !positive_int(v))
        detail(details, "integration_id", "a positive integer");
    if (json_object_object_get_ex(body, "key", &v) && !json_object_is_type(v, json_type_null) &&
        (!json_object_is_type(v, json_type_string) ||
         strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v) ||
         hd_utf8_count(json_object_get_string(v), (size_t)json_object_get_string_len(v)) > MAX_KEY))
        detail(details, "key", "null or a string of at most 200 characters");
    if (!*details) return 0;
    *slug = "invalid-param";
    return -1;
}

/* "a@x.com, b@y.com" -> ["a@x.com", "b@y.com"]; "" or null -> []. NULL when an entry is empty or the text holds a
 * NUL. The core checks each address. */
static json_object *split_emails(json_object *v) {
    if (json_object_is_type(v, json_type_null)) return json_object_new_array();
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (strlen(s) != len) return NULL;
    json_object *out = json_object_new_array();
    for (const char *p = s; len;) {
        size_t n = strcspn(p, ",");
        char *item = hd_xstrndup(p, n), *t = hd_trim(item);
        int empty = !*t;
        if (!empty) json_object_array_add(out, json_object_new_string(t));
        free(item);
        if (empty) {
            json_object_put(out);
            return NULL;
        }
        if (!p[n]) break;
        p += n + 1;
    }
    return out;
}

/* A small number as text (success_code, version): "201" -> 201; "" or null -> 0. -1 when it is not 1 to 3 digits. */
static int64_t text_number(json_object *v) {
    if (json_object_is_type(v, json_type_null)) return 0;
    const char *s = json_object_get_string(v);
    size_t len = (size_t)json_object_get_string_len(v);
    if (!len) return 0;
    if (len > 3 || strspn(s, "0123456789") != len) return -1;
    return strtol(s, NULL, 10);
}

static int order_status(json_object *v) {
    for (size_t i = 0; json_object_is_type(v, json_type_string) && i < NSTATUSES; i++)
        if (!strcmp(order_statuses[i], json_object_get_string(v))) return 1;
    return 0;
}

json_object *hd_dialect_plano_to_native(json_object *body, hd_plano_op_t op, json_object *metadata,
                                        json_object **details) {
    json_object *out = json_object_new_object(), *v, *meta = NULL;
    char msg[160];
    *details = NULL;
    json_object_object_foreach(body, key, val) {
        const char *name = key;
        for (size_t i = 0; i < NRENAMED; i++)
            if (!strcmp(renamed[i][0], key)) name = renamed[i][1];
        if (!strcmp(key, "token") || !strcmp(key, "id")) continue;
        if (!strcmp(key, "integration_id") || !strcmp(key, "key")) {
            if (!meta && (!metadata || json_object_deep_copy(metadata, &meta, NULL))) meta = json_object_new_object();
            json_object_object_add(meta, key, json_object_get(val));
            continue;
        }
        if (!strcmp(key, "notification_emails")) {
            json_object *a = json_object_is_type(val, json_type_string) || json_object_is_type(val, json_type_null)
                                 ? split_emails(val)
                                 : NULL;
            if (!a)
                detail(details, key, "a string of comma-separated e-mail addresses");
            else
                json_object_object_add(out, name, a);
        } else if (!strcmp(key, "success_code")) {
            int64_t code = json_object_is_type(val, json_type_string) || json_object_is_type(val, json_type_null)
                               ? text_number(val)
                               : -1;
            if (code < 0)
                detail(details, key, "a string holding an HTTP status from 200 to 299, or \"\" or null for any 2xx");
            else
                json_object_object_add(out, name, code ? json_object_new_int64(code) : NULL);
        } else if (!strcmp(key, "version")) {
            int64_t n = json_object_is_type(val, json_type_string) ? text_number(val) : -1;
            if (n < HD_RENDER_VERSION_MIN || n > HD_RENDER_VERSION_MAX) {
                snprintf(msg, sizeof(msg), "a string from \"%d\" to \"%d\" (1: Standard Webhooks, 2: CloudEvents)",
                         HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX);
                detail(details, key, msg);
            } else {
                json_object_object_add(out, name, json_object_new_int64(n));
            }
        } else if (!strcmp(key, "statuses")) {
            size_t n = json_object_is_type(val, json_type_array) ? json_object_array_length(val) : 0;
            for (size_t i = 0; i < n; i++) {
                if (!order_status(json_object_array_get_idx(val, i))) {
                    snprintf(msg, sizeof(msg), "statuses[%zu]", i);
                    detail(details, msg,
                           "an order status: pending, paid, processing, shipped, delivered, completed, cancelled "
                           "or refunded");
                }
            }
            json_object_object_add(out, name, json_object_get(val)); /* not an array: the core says so */
        } else if (!strcmp(key, "events") && json_object_is_type(val, json_type_array) &&
                   !json_object_array_length(val)) {
            json_object *all = json_object_new_array();
            json_object_array_add(all, json_object_new_string(ALL_ORDER_EVENTS));
            json_object_object_add(out, name, all);
        } else if (!strcmp(key, "payload_render_view") && json_object_is_type(val, json_type_string) &&
                   !json_object_get_string_len(val)) {
            json_object_object_add(out, name, NULL);
        } else {
            json_object_object_add(out, name, json_object_get(val));
        }
    }
    if (meta) json_object_object_add(out, "metadata", meta);
    if (op == HD_PLANO_CREATE && !json_object_object_get_ex(out, "event_types", &v)) {
        json_object *all = json_object_new_array();
        json_object_array_add(all, json_object_new_string(ALL_ORDER_EVENTS));
        json_object_object_add(out, "event_types", all);
    }
    if (!*details) return out;
    json_object_put(out);
    return NULL;
}

json_object *hd_dialect_plano_from_native(json_object *sub) {
    json_object *o = json_object_new_object(), *v, *meta = NULL;
    json_object_object_add(o, "id", json_object_object_get_ex(sub, "alias", &v) ? json_object_get(v) : NULL);
    json_object_object_get_ex(sub, "metadata", &meta);
    static const char *const stored[] = {"integration_id", "key"};
    for (size_t i = 0; i < sizeof(stored) / sizeof(stored[0]); i++)
        json_object_object_add(o, stored[i],
                               json_object_object_get_ex(meta, stored[i], &v) ? json_object_get(v) : NULL);
    static const char *const same[] = {"name", "statuses", "notify"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        json_object_object_add(o, same[i], json_object_object_get_ex(sub, same[i], &v) ? json_object_get(v) : NULL);
    for (size_t i = 0; i < NRENAMED; i++)
        json_object_object_add(o, renamed[i][0],
                               json_object_object_get_ex(sub, renamed[i][1], &v) ? json_object_get(v) : NULL);

    /* ["a@x.com", "b@y.com"] -> "a@x.com,b@y.com" */
    size_t len = 0;
    char *emails = hd_xstrdup("");
    for (size_t i = 0; json_object_object_get_ex(sub, "notification_emails", &v) &&
                       json_object_is_type(v, json_type_array) && i < json_object_array_length(v);
         i++) {
        const char *e = json_object_get_string(json_object_array_get_idx(v, i));
        emails = hd_xrealloc(emails, len + strlen(e) + 2);
        len += (size_t)sprintf(emails + len, "%s%s", i ? "," : "", e);
    }
    json_object_object_add(o, "notification_emails", json_object_new_string(emails));
    free(emails);

    char text[24];
    if (json_object_object_get_ex(sub, "success_code", &v) && json_object_is_type(v, json_type_int)) {
        snprintf(text, sizeof(text), "%lld", (long long)json_object_get_int64(v));
        json_object_object_add(o, "success_code", json_object_new_string(text));
    } else {
        json_object_object_add(o, "success_code", NULL);
    }
    snprintf(text, sizeof(text), "%lld",
             json_object_object_get_ex(sub, "version", &v) && json_object_is_type(v, json_type_int)
                 ? (long long)json_object_get_int64(v)
                 : (long long)HD_RENDER_VERSION_MIN); /* no version: the default payload shape */
    json_object_object_add(o, "version", json_object_new_string(text));

    static const char *const kept[][2] = {{"subscription_id", "id"},
                                          {"secret", "secret"},
                                          {"secret_last_4", "secret_last_4"},
                                          {"created_at", "created_at"},
                                          {"updated_at", "updated_at"}};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (json_object_object_get_ex(sub, kept[i][1], &v)) json_object_object_add(o, kept[i][0], json_object_get(v));
    return o;
}

json_object *hd_dialect_plano_job_from_native(json_object *row, int64_t sub_id) {
    static const char *const fields[][2] = {{"job_id", "id"},
                                            {"event_id", "event_id"},
                                            {"event", "event_type"},
                                            {"status", "status"},
                                            {"status_code", "status_code"},
                                            {"response", "response"},
                                            {"error_message", "error_message"},
                                            {"success", "is_success"},
                                            {"retry_count", "retry_count"},
                                            {"sent_at", "sent_at"},
                                            {"next_retry_at", "next_retry_at"},
                                            {"created_at", "created_at"}};
    json_object *o = json_object_new_object(), *v;
    json_object_object_add(o, "id", json_object_object_get_ex(row, "alias", &v) ? json_object_get(v) : NULL);
    json_object_object_add(o, "webhook_out_sub_id", json_object_new_int64(sub_id));
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        json_object_object_add(o, fields[i][0],
                               json_object_object_get_ex(row, fields[i][1], &v) ? json_object_get(v) : NULL);
    return o;
}
