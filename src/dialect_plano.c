#include "hookd/dialect_plano.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/api_page.h"
#include "hookd/api_subscriptions.h"
#include "hookd/dialect_native.h"
#include "hookd/render.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

/* PlanoAuth's order statuses: the values of an order event's status field (match.status.field) that statuses[]
 * may name. */
static const char *const order_statuses[] = {"pending",   "paid",      "processing", "shipped",
                                             "delivered", "completed", "cancelled",  "refunded"};
#define NSTATUSES (sizeof(order_statuses) / sizeof(order_statuses[0]))

#define MAX_KEY 200 /* characters */
#define MAX_ID 9007199254740991LL

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

char *hd_dialect_plano_param(const char *native_field) {
    static const char *const test_params[][2] = {{"event", "event_type"}, {"payload", "data"}};
    size_t base = strcspn(native_field, "[");
    for (size_t i = 0; i < NRENAMED + 2; i++) {
        const char *const *pair = i < NRENAMED ? renamed[i] : test_params[i - NRENAMED];
        if (strlen(pair[1]) == base && !strncmp(pair[1], native_field, base)) {
            char *out = hd_xmalloc(strlen(pair[0]) + strlen(native_field + base) + 1);
            sprintf(out, "%s%s", pair[0], native_field + base);
            return out;
        }
    }
    return hd_xstrdup(native_field);
}

json_object *hd_dialect_plano_error(const char *slug, const char *message, json_object *details) {
    json_object *o = json_object_new_object(), *errors = json_object_new_array();
    for (size_t i = 0; details && i < json_object_array_length(details); i++) {
        json_object *d = json_object_array_get_idx(details, i), *f, *m, *e = json_object_new_object();
        char *param =
            hd_dialect_plano_param(json_object_object_get_ex(d, "field", &f) ? json_object_get_string(f) : "");
        json_object_object_add(e, "param", json_object_new_string(param));
        free(param);
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

/* Ids: 1 to 2^53 - 1, the integers every JSON client reads exactly. */
static int positive_int(json_object *v) {
    return json_object_is_type(v, json_type_int) && json_object_get_int64(v) > 0 && json_object_get_int64(v) <= MAX_ID;
}

int hd_dialect_plano_check(json_object *body, hd_plano_op_t op, const char **slug, json_object **details) {
    json_object *v;
    *details = NULL;
    for (size_t i = 0; i < NPARAMS; i++)
        if ((params[i].requires & OP(op)) && !json_object_object_get_ex(body, params[i].name, &v))
            hd_api_req_detail(details, params[i].name, "required");
    if (*details) {
        *slug = "missing-param";
        return -1;
    }
    json_object_object_foreach(body, key, val) {
        size_t i = 0;
        while (i < NPARAMS && (strcmp(params[i].name, key) || !(params[i].takes & OP(op))))
            i++;
        if (i == NPARAMS) hd_api_req_detail(details, key, "unknown parameter");
        (void)val;
    }
    if (json_object_object_get_ex(body, "id", &v) && !positive_int(v))
        hd_api_req_detail(details, "id", "a positive integer");
    if (json_object_object_get_ex(body, "integration_id", &v) && !positive_int(v))
        hd_api_req_detail(details, "integration_id", "a positive integer");
    if (json_object_object_get_ex(body, "key", &v) && !json_object_is_type(v, json_type_null) &&
        (!json_object_is_type(v, json_type_string) ||
         strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v) ||
         hd_utf8_count(json_object_get_string(v), (size_t)json_object_get_string_len(v)) > MAX_KEY))
        hd_api_req_detail(details, "key", "null or a string of at most 200 characters");
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

/* What an empty events[] means: every order event, narrowed by statuses[] when given. */
static json_object *all_order_events(void) {
    json_object *all = json_object_new_array();
    json_object_array_add(all, json_object_new_string("order.**"));
    return all;
}

json_object *hd_dialect_plano_to_native(json_object *body, hd_plano_op_t op, json_object *metadata,
                                        json_object **details) {
    json_object *out = json_object_new_object(), *v, *meta = NULL;
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
                hd_api_req_detail(details, key, "a string of comma-separated e-mail addresses");
            else
                json_object_object_add(out, name, a);
        } else if (!strcmp(key, "success_code")) {
            int64_t code = json_object_is_type(val, json_type_string) || json_object_is_type(val, json_type_null)
                               ? text_number(val)
                               : -1;
            if (code < 0)
                hd_api_req_detail(details, key,
                                  "a string holding an HTTP status from 200 to 299, or \"\" or null for any 2xx");
            else
                json_object_object_add(out, name, code ? json_object_new_int64(code) : NULL);
        } else if (!strcmp(key, "version")) {
            int64_t n = json_object_is_type(val, json_type_string) ? text_number(val) : -1;
            if (n < HD_RENDER_VERSION_MIN || n > HD_RENDER_VERSION_MAX) {
                hd_api_req_detail(details, key, "a string from \"%d\" to \"%d\" (1: Standard Webhooks, 2: CloudEvents)",
                                  HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX);
            } else {
                json_object_object_add(out, name, json_object_new_int64(n));
            }
        } else if (!strcmp(key, "statuses")) {
            size_t n = json_object_is_type(val, json_type_array) ? json_object_array_length(val) : 0;
            for (size_t i = 0; i < n; i++) {
                if (!order_status(json_object_array_get_idx(val, i))) {
                    char field[32];
                    snprintf(field, sizeof(field), "statuses[%zu]", i);
                    hd_api_req_detail(
                        details, field,
                        "an order status: pending, paid, processing, shipped, delivered, completed, cancelled "
                        "or refunded");
                }
            }
            json_object_object_add(out, name, json_object_get(val)); /* not an array: the core says so */
        } else if (!strcmp(key, "events") && json_object_is_type(val, json_type_array) &&
                   !json_object_array_length(val)) {
            json_object_object_add(out, name, all_order_events());
        } else if (!strcmp(key, "payload_render_view") && json_object_is_type(val, json_type_string) &&
                   !json_object_get_string_len(val)) {
            json_object_object_add(out, name, NULL);
        } else {
            json_object_object_add(out, name, json_object_get(val));
        }
    }
    if (meta) json_object_object_add(out, "metadata", meta);
    if (op == HD_PLANO_CREATE && !json_object_object_get_ex(out, "event_types", &v))
        json_object_object_add(out, "event_types", all_order_events());
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

/* ---- serving ---- */

#define MAX_OFFSET 9999999999LL /* as the core's offset pagination takes it */
#define MAX_LIMIT 500
#define DEFAULT_LIMIT 50

static const struct {
    const char *name, *method;
    hd_plano_op_t op;
} routes[] = {{"create", "POST", HD_PLANO_CREATE}, {"update", "PUT", HD_PLANO_UPDATE},  {"show", "POST", HD_PLANO_SHOW},
              {"list", "POST", HD_PLANO_LIST},     {"delete", "POST", HD_PLANO_DELETE}, {"test", "POST", HD_PLANO_TEST},
              {"jobs", "POST", HD_PLANO_JOBS}};

/* Sets a PlanoAuth error reply; param, when not NULL, is the parameter at fault. */
static void fail(hd_api_req_t *r, unsigned http, const char *slug, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void fail(hd_api_req_t *r, unsigned http, const char *slug, const char *param, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap); /* messages quote input: cut whole characters only */
    va_end(ap);
    json_object *details = NULL;
    if (param) hd_api_req_detail(&details, param, "%s", msg);
    hd_api_req_reply(r, http, hd_dialect_plano_error(slug, msg, details));
    json_object_put(details);
}

/* Rewrites the native error reply in r into PlanoAuth's shape (the Allow header of a 405 stays). */
static void reshape(hd_api_req_t *r) {
    json_object *native = json_object_get(r->reply), *details = NULL;
    const char *allow = r->allow, *message = hd_dialect_message(native);
    unsigned http;
    const char *slug = hd_dialect_plano_slug(r->status, hd_dialect_slug(native), &http);
    json_object_object_get_ex(native, "details", &details);
    hd_api_req_reply(r, http, hd_dialect_plano_error(slug, message ? message : slug, details));
    r->allow = allow;
    json_object_put(native);
}

/* Of a sub-request's status and *reply (borrowed; a pointer, as the call filling it in may be this call's argument):
 * 1 with *data (borrowed from *reply) on success; 0 with r's reply set to the error in PlanoAuth's shape. */
static int native_ok(hd_api_req_t *r, unsigned status, json_object **reply, json_object **data) {
    if (status >= 200 && status < 300) {
        *data = hd_dialect_data(*reply);
        return 1;
    }
    hd_api_req_reply(r, status, json_object_get(*reply));
    reshape(r);
    return 0;
}

static void reply_data(hd_api_req_t *r, const char *key, json_object *value) {
    json_object *data = json_object_new_object();
    json_object_object_add(data, key, value);
    hd_api_req_reply(r, 200, hd_dialect_plano_ok(data));
}

static int64_t int_param(hd_api_req_t *r, const char *name, int64_t absent) {
    json_object *v;
    return json_object_object_get_ex(r->body, name, &v) ? json_object_get_int64(v) : absent;
}

/* The subscription the body's id names, of integration_id when that is given and it has one: 1 with *id (caller
 * frees) and *sub (its native JSON, owned by *reply, which the caller puts) set; 0 with the error reply set. */
static int load(hd_api_req_t *r, char **id, json_object **reply, json_object **sub) {
    int64_t alias = int_param(r, "id", 0), integration = int_param(r, "integration_id", 0);
    json_object *meta = NULL, *v = NULL;
    *id = NULL;
    *reply = NULL;
    int found = hd_api_req_alias_id(r, "subscriptions", alias, "subscription", id);
    if (found == 0) {
        fail(r, 400, "invalid-param", "id", "no webhook_out_sub %lld", (long long)alias);
        return 0;
    }
    if (found < 0) {
        reshape(r);
        return 0;
    }
    if (!native_ok(r, hd_dialect_native_call(r, "GET", NULL, NULL, reply, "subscriptions", *id, NULL), reply, sub))
        goto fail;
    /* one created elsewhere, without an integration, is taken up by the first update naming one */
    if (integration && json_object_object_get_ex(*sub, "metadata", &meta) &&
        json_object_object_get_ex(meta, "integration_id", &v) && v && json_object_get_int64(v) != integration) {
        fail(r, 400, "invalid-param", "integration_id", "webhook_out_sub %lld does not belong to integration %lld",
             (long long)alias, (long long)integration);
        goto fail;
    }
    return 1;
fail:
    free(*id);
    *id = NULL;
    json_object_put(*reply);
    *reply = NULL;
    return 0;
}

/* create and update: the body converted, then the native POST or PATCH. */
static void write_sub(hd_api_req_t *r, hd_plano_op_t op) {
    char *id = NULL;
    json_object *cur = NULL, *sub = NULL, *meta = NULL, *details = NULL, *reply = NULL, *data;
    if (op == HD_PLANO_UPDATE) {
        if (!load(r, &id, &cur, &sub)) return;
        json_object_object_get_ex(sub, "metadata", &meta);
    }
    json_object *body = hd_dialect_plano_to_native(r->body, op, meta, &details);
    if (!body) {
        hd_api_req_reply(r, 400, hd_dialect_plano_error("invalid-param", "the webhook_out_sub is not valid", details));
        goto out;
    }
    unsigned status = id ? hd_dialect_native_call(r, "PATCH", body, NULL, &reply, "subscriptions", id, NULL)
                         : hd_dialect_native_call(r, "POST", body, NULL, &reply, "subscriptions", NULL);
    if (native_ok(r, status, &reply, &data)) reply_data(r, "webhook_out_sub", hd_dialect_plano_from_native(data));
out:
    json_object_put(details);
    json_object_put(body);
    json_object_put(reply);
    json_object_put(cur);
    free(id);
}

/* offset and limit of the body, checked: 1, or 0 with the error reply set. */
static int page_params(hd_api_req_t *r, int64_t *offset, int64_t *limit) {
    *offset = int_param(r, "offset", 0);
    *limit = int_param(r, "limit", DEFAULT_LIMIT);
    json_object *v;
    if (json_object_object_get_ex(r->body, "offset", &v) &&
        (!json_object_is_type(v, json_type_int) || *offset < 0 || *offset > MAX_OFFSET)) {
        fail(r, 400, "invalid-param", "offset", "offset must be an integer from 0 to %lld", MAX_OFFSET);
        return 0;
    }
    if (json_object_object_get_ex(r->body, "limit", &v) &&
        (!json_object_is_type(v, json_type_int) || *limit < 1 || *limit > MAX_LIMIT)) {
        fail(r, 400, "invalid-param", "limit", "limit must be an integer from 1 to %d", MAX_LIMIT);
        return 0;
    }
    return 1;
}

static json_object *sub_from_bson(const bson_t *doc) {
    json_object *native = hd_api_subscription_json(doc), *o = hd_dialect_plano_from_native(native);
    json_object_put(native);
    return o;
}

static json_object *page_reply(const char *key, json_object *items, int64_t total, int64_t offset, int64_t limit) {
    json_object *data = json_object_new_object();
    json_object_object_add(data, key, items);
    json_object_object_add(data, "total", json_object_new_int64(total));
    json_object_object_add(data, "offset", json_object_new_int64(offset));
    json_object_object_add(data, "limit", json_object_new_int64(limit));
    return hd_dialect_plano_ok(data);
}

/* The core's native list has no filter on metadata: the page is read with the core's helper. */
static void list(hd_api_req_t *r) {
    int64_t offset, limit, total, integration = int_param(r, "integration_id", 0);
    json_object *items;
    if (!page_params(r, &offset, &limit)) return;
    bson_t *filter = BCON_NEW("tenant", BCON_UTF8(r->tenant)), *sort = BCON_NEW("_id", BCON_INT32(1));
    if (integration) BSON_APPEND_INT64(filter, "metadata.integration_id", integration);
    if (hd_api_page_slice(r, "subscriptions", filter, sort, offset, limit, sub_from_bson, &items, &total))
        reshape(r);
    else
        hd_api_req_reply(r, 200, page_reply("webhook_out_subs", items, total, offset, limit));
    bson_destroy(filter);
    bson_destroy(sort);
}

static void delete_sub(hd_api_req_t *r) {
    char *id;
    json_object *cur, *sub, *reply = NULL, *data;
    if (!load(r, &id, &cur, &sub)) return;
    if (native_ok(r, hd_dialect_native_call(r, "DELETE", NULL, NULL, &reply, "subscriptions", id, NULL), &reply, &data))
        reply_data(r, "id", json_object_new_int64(int_param(r, "id", 0)));
    json_object_put(reply);
    json_object_put(cur);
    free(id);
}

static void test_event(hd_api_req_t *r) {
    char *id;
    json_object *cur, *sub, *reply = NULL, *data, *v;
    if (!load(r, &id, &cur, &sub)) return;
    json_object *body = json_object_new_object();
    if (json_object_object_get_ex(r->body, "event", &v)) json_object_object_add(body, "event_type", json_object_get(v));
    if (json_object_object_get_ex(r->body, "payload", &v)) json_object_object_add(body, "data", json_object_get(v));
    if (native_ok(r, hd_dialect_native_call(r, "POST", body, NULL, &reply, "subscriptions", id, "test", NULL), &reply,
                  &data)) {
        static const char *const keys[][2] = {
            {"event_id", "event_id"}, {"job_id", "delivery_id"}, {"event", "event_type"}};
        json_object *o = json_object_new_object();
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            json_object_object_add(o, keys[i][0],
                                   json_object_object_get_ex(data, keys[i][1], &v) ? json_object_get(v) : NULL);
        hd_api_req_reply(r, 200, hd_dialect_plano_ok(o));
    }
    json_object_put(body);
    json_object_put(reply);
    json_object_put(cur);
    free(id);
}

/* The native delivery log of the subscription, one offset page. */
static void jobs(hd_api_req_t *r) {
    char *id, text[24];
    int64_t offset, limit;
    json_object *cur, *sub, *reply = NULL, *data, *v, *pagination;
    if (!page_params(r, &offset, &limit)) return;
    if (json_object_object_get_ex(r->body, "status", &v) && !json_object_is_type(v, json_type_string)) {
        fail(r, 400, "invalid-param", "status", "status must be pending, succeeded, failed or retrying");
        return;
    }
    if (!load(r, &id, &cur, &sub)) return;
    json_object *query = json_object_new_object();
    snprintf(text, sizeof(text), "%lld", (long long)offset);
    json_object_object_add(query, "offset", json_object_new_string(text));
    snprintf(text, sizeof(text), "%lld", (long long)limit);
    json_object_object_add(query, "limit", json_object_new_string(text));
    if (json_object_object_get_ex(r->body, "status", &v)) json_object_object_add(query, "status", json_object_get(v));
    if (native_ok(r, hd_dialect_native_call(r, "GET", NULL, query, &reply, "subscriptions", id, "events", NULL), &reply,
                  &data)) {
        json_object *items = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(data); i++)
            json_object_array_add(
                items, hd_dialect_plano_job_from_native(json_object_array_get_idx(data, i), int_param(r, "id", 0)));
        int64_t total = json_object_object_get_ex(reply, "pagination", &pagination) &&
                                json_object_object_get_ex(pagination, "total", &v)
                            ? json_object_get_int64(v)
                            : 0;
        hd_api_req_reply(r, 200, page_reply("jobs", items, total, offset, limit));
    }
    json_object_put(query);
    json_object_put(reply);
    json_object_put(cur);
    free(id);
}

static void serve(hd_api_req_t *r) {
    static const char *const json_types[] = {"application/json", NULL};
    size_t i = 0;
    while (r->nseg == 2 && !strcmp(r->seg[0], "webhook_out_subs") && i < sizeof(routes) / sizeof(routes[0]) &&
           strcmp(routes[i].name, r->seg[1]))
        i++;
    if (r->nseg != 2 || strcmp(r->seg[0], "webhook_out_subs") || i == sizeof(routes) / sizeof(routes[0])) {
        fail(r, 500, "route-non-existent", NULL, "no such route: %s %s", r->method, r->path);
        return;
    }
    if (strcmp(r->method, routes[i].method)) {
        fail(r, 405, "route-non-existent", NULL, "%s %s: this route takes %s", r->method, r->path, routes[i].method);
        r->allow = routes[i].method;
        return;
    }
    json_object *token, *details = NULL;
    const char *slug;
    if (!hd_api_req_params(r, NULL) || hd_api_req_parse_body(r, json_types)) {
        reshape(r);
    } else if (!json_object_is_type(r->body, json_type_object) || !json_object_object_length(r->body)) {
        fail(r, 400, "no-params-decoded", NULL, "the body holds no parameters: send a JSON object with the token");
    } else if (!json_object_object_get_ex(r->body, "token", &token)) {
        fail(r, 400, "missing-param", "token", "token is required");
    } else if (!json_object_is_type(token, json_type_string) ||
               strlen(json_object_get_string(token)) != (size_t)json_object_get_string_len(token)) {
        fail(r, 401, "invalid-token", "token", "the token must be a string: a hookd API key");
    } else if (hd_api_req_authenticate(r, json_object_get_string(token)) != 1) {
        reshape(r);
    } else if (hd_dialect_plano_check(r->body, routes[i].op, &slug, &details)) {
        hd_api_req_reply(r, 400,
                         hd_dialect_plano_error(slug,
                                                strcmp(slug, "missing-param") ? "a parameter is not valid"
                                                                              : "a required parameter is missing",
                                                details));
        json_object_put(details);
    } else if (routes[i].op == HD_PLANO_CREATE || routes[i].op == HD_PLANO_UPDATE) {
        write_sub(r, routes[i].op);
    } else if (routes[i].op == HD_PLANO_SHOW) {
        char *id;
        json_object *cur, *sub;
        if (load(r, &id, &cur, &sub)) reply_data(r, "webhook_out_sub", hd_dialect_plano_from_native(sub));
        json_object_put(cur);
        free(id);
    } else if (routes[i].op == HD_PLANO_LIST) {
        list(r);
    } else if (routes[i].op == HD_PLANO_DELETE) {
        delete_sub(r);
    } else if (routes[i].op == HD_PLANO_TEST) {
        test_event(r);
    } else {
        jobs(r);
    }
}

const hd_dialect_t hd_dialect_plano = {
    .name = "planoauth", .prefix = "/api/v1", .serve = serve, .reshape_error = reshape};
