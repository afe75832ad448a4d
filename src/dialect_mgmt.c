#include "hookd/dialect_mgmt.h"

#include <ctype.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/api_deliveries.h"
#include "hookd/api_json.h"
#include "hookd/api_page.h"
#include "hookd/api_subscriptions.h"
#include "hookd/dialect_native.h"
#include "hookd/mongo.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define MAX_TAKE 1000
#define MAX_QUERY_TEXT 1024 /* bytes of a filter, sort or select */
#define MAX_CLAUSES 10
#define MAX_SORT_KEYS 5
#define INCLUDED_EVENTS 50 /* the newest events a subscription carries in webhookEvents */
#define CATALOGUE_MAX 10000

/* ---- shapes ---- */

/* Each shape's fields in the order replies list them, with the native field each is read from (NULL: made by the
 * dialect). */
static const char *const sub_map[][2] = {
    {"id", "alias"},
    {"name", "name"},
    {"eventType", "event_types"},
    {"url", "url"},
    {"secret", NULL},
    {"maxRetryCount", "max_retry_count"},
    {"isActive", "is_active"},
    {"userId", NULL},
    {"headers", "headers"},
    {"createdAt", "created_at"},
    {"updatedAt", "updated_at"},
    {"webhookEvents", NULL},
    {NULL, NULL},
};
static const char *const event_map[][2] = {
    {"id", "alias"},
    {"webhookSubscriptionId", NULL},
    {"eventType", "event_type"},
    {"payload", NULL},
    {"statusCode", "status_code"},
    {"response", "response"},
    {"errorMessage", "error_message"},
    {"isSuccess", "is_success"},
    {"retryCount", "retry_count"},
    {"sentAt", "sent_at"},
    {"nextRetryAt", "next_retry_at"},
    {"createdAt", "created_at"},
    {NULL, NULL},
};

static json_object *get(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

json_object *hd_dialect_mgmt_subscription(json_object *native, const char *secret, const char *user_id) {
    json_object *o = json_object_new_object(), *types, *last4 = get(native, "secret_last_4"), *headers;
    char masked[32];
    for (int i = 0; sub_map[i][0]; i++) {
        const char *name = sub_map[i][0];
        json_object *v = sub_map[i][1] ? get(native, sub_map[i][1]) : NULL;
        if (!strcmp(name, "eventType")) {
            /* Single-valued: a subscription with several types (written natively) shows its first. */
            types = v;
            v = json_object_is_type(types, json_type_array) && json_object_array_length(types)
                    ? json_object_get(json_object_array_get_idx(types, 0))
                    : NULL;
        } else if (!strcmp(name, "secret")) {
            if (last4) snprintf(masked, sizeof(masked), "****%s", json_object_get_string(last4));
            v = secret || last4 ? json_object_new_string(secret ? secret : masked) : NULL;
        } else if (!strcmp(name, "userId")) {
            v = json_object_new_string(user_id);
        } else if (!strcmp(name, "headers")) {
            headers = v;
            v = json_object_new_string(headers ? json_object_to_json_string_ext(
                                                     headers, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                                               : "{}");
        } else if (!strcmp(name, "webhookEvents")) {
            continue; /* added by those that read the events */
        } else {
            v = json_object_get(v);
        }
        json_object_object_add(o, name, v);
    }
    return o;
}

json_object *hd_dialect_mgmt_event(json_object *native, int64_t sub_alias) {
    json_object *o = json_object_new_object();
    for (int i = 0; event_map[i][0]; i++) {
        const char *name = event_map[i][0];
        json_object *v = event_map[i][1] ? json_object_get(get(native, event_map[i][1])) : NULL;
        if (!strcmp(name, "webhookSubscriptionId")) v = json_object_new_int64(sub_alias);
        /* payload stays null: the log keeps no payloads, the event stays in Kafka */
        json_object_object_add(o, name, v);
    }
    return o;
}

/* A secret that is not a whsec_ one: its bytes are the key. */
static int raw_secret(const char *s, size_t len, json_object **out, char *why, size_t why_size) {
    if (len < 16 || len > 64) {
        snprintf(why, why_size, "secret: a whsec_ secret, or 16 to 64 bytes used as the key (%zu given)", len);
        return -1;
    }
    char enc[6 + sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)] = "whsec_";
    sodium_bin2base64(enc + 6, sizeof(enc) - 6, (const unsigned char *)s, len, sodium_base64_VARIANT_ORIGINAL);
    *out = json_object_new_string(enc);
    sodium_memzero(enc, sizeof(enc));
    return 0;
}

int hd_dialect_mgmt_native_body(json_object *sub, json_object **native, char *why, size_t why_size) {
    static const char *const known[] = {"name", "eventType", "url", "secret", "headers", "maxRetryCount", "isActive"};
    json_object *n = json_object_new_object(), *v;
    *native = NULL;
    json_object_object_foreach(sub, key, val) {
        size_t i = 0;
        (void)val;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(known[i], key))
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            snprintf(why, why_size,
                     "%.*s: unknown field (fields: name, eventType, url, secret, headers, "
                     "maxRetryCount, isActive)",
                     (int)hd_utf8_prefix(key, strlen(key), 64), key);
            goto fail;
        }
    }
    if (!(v = get(sub, "url"))) {
        snprintf(why, why_size, "url: required");
        goto fail;
    }
    json_object_object_add(n, "url", json_object_get(v));
    if (!(v = get(sub, "eventType"))) {
        snprintf(why, why_size, "eventType: required");
        goto fail;
    }
    if (!json_object_is_type(v, json_type_string)) {
        snprintf(why, why_size, "eventType: a string, one event type");
        goto fail;
    }
    json_object *types = json_object_new_array();
    json_object_array_add(types, json_object_get(v));
    json_object_object_add(n, "event_types", types);
    v = get(sub, "name");
    json_object_object_add(n, "name", v ? json_object_get(v) : json_object_new_string(""));
    v = get(sub, "maxRetryCount");
    json_object_object_add(n, "max_retry_count", v ? json_object_get(v) : json_object_new_int(5));
    v = get(sub, "isActive");
    json_object_object_add(n, "is_active", v ? json_object_get(v) : json_object_new_boolean(1));
    /* headers: an object, or the JSON text of one (as replies show them). */
    json_object *headers = NULL;
    v = get(sub, "headers");
    if (!v) {
        headers = json_object_new_object();
    } else if (json_object_is_type(v, json_type_object)) {
        headers = json_object_get(v);
    } else if (json_object_is_type(v, json_type_string)) {
        char jwhy[128];
        if (hd_api_json_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &headers, jwhy,
                              sizeof(jwhy)) ||
            !json_object_is_type(headers, json_type_object)) {
            json_object_put(headers);
            snprintf(why, why_size, "headers: an object of names and values, or its JSON text");
            goto fail;
        }
    } else {
        snprintf(why, why_size, "headers: an object of names and values, or its JSON text");
        goto fail;
    }
    json_object_object_add(n, "headers", headers);
    if ((v = get(sub, "secret"))) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        json_object *secret = NULL;
        if (!json_object_is_type(v, json_type_string)) {
            snprintf(why, why_size, "secret: a string");
            goto fail;
        }
        if (!strncmp(s, "****", 4)) {
            /* masked, as read back: unchanged */
        } else if (!strncmp(s, "whsec_", 6)) {
            json_object_object_add(n, "secret", json_object_get(v));
        } else if (raw_secret(s, len, &secret, why, why_size)) {
            goto fail;
        } else {
            json_object_object_add(n, "secret", secret);
        }
    }
    *native = n;
    return 0;

fail:
    json_object_put(n);
    return -1;
}

/* ---- select, filter, sort ---- */

typedef enum { Q_STR, Q_STRS, Q_BOOL, Q_INT, Q_DATE } qtype_t;

typedef struct qfield_s {
    const char *name, *stored;
    qtype_t type;
} qfield_t;

static const qfield_t sub_query[] = {
    {"id", "alias", Q_INT},
    {"name", "name", Q_STR},
    {"eventType", "event_types", Q_STRS},
    {"url", "url", Q_STR},
    {"maxRetryCount", "max_retry_count", Q_INT},
    {"isActive", "is_active", Q_BOOL},
    {"createdAt", "created_at", Q_DATE},
    {"updatedAt", "updated_at", Q_DATE},
    {NULL, NULL, Q_STR},
};
static const qfield_t event_query[] = {
    {"id", "alias", Q_INT},
    {"eventType", "event_type", Q_STR},
    {"statusCode", "status_code", Q_INT},
    {"isSuccess", "is_success", Q_BOOL},
    {"retryCount", "retry_count", Q_INT},
    {"sentAt", "sent_at", Q_DATE},
    {"nextRetryAt", "next_retry_at", Q_DATE},
    {"createdAt", "created_at", Q_DATE},
    {NULL, NULL, Q_STR},
};

static const qfield_t *qfield(hd_mgmt_kind_t kind, const char *name, size_t len) {
    for (const qfield_t *f = kind == HD_MGMT_EVENTS ? event_query : sub_query; f->name; f++)
        if (strlen(f->name) == len && !strncmp(f->name, name, len)) return f;
    return NULL;
}

static void list_fields(hd_mgmt_kind_t kind, char *out, size_t size) {
    out[0] = '\0';
    for (const qfield_t *f = kind == HD_MGMT_EVENTS ? event_query : sub_query; f->name; f++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? ", " : "", f->name);
}

/* One token of a filter: a word, or a quoted string ('...' with '' for a quote) decoded into buf. */
typedef struct token_s {
    const char *start;
    size_t len;
    int quoted;
} token_t;

/* The next token after *p, or 0 at the end; -1 with why on an unterminated string. */
static int next_token(const char **p, token_t *t, char *buf, size_t buf_size, char *why, size_t why_size) {
    const char *s = *p + strspn(*p, " \t");
    if (!*s) return 0;
    if (*s == '\'') {
        size_t n = 0;
        for (s++;; s++) {
            if (!*s) {
                snprintf(why, why_size, "filter: a string is not closed (strings are 'text', '' for a quote)");
                return -1;
            }
            if (*s == '\'' && s[1] != '\'') break;
            if (*s == '\'') s++;
            if (n + 1 < buf_size) buf[n++] = *s;
        }
        buf[n] = '\0';
        *t = (token_t){buf, n, 1};
        *p = s + 1;
        return 1;
    }
    size_t n = strcspn(s, " \t'");
    *t = (token_t){s, n, 0};
    *p = s + n;
    return 1;
}

static int word_is(const token_t *t, const char *w) {
    return !t->quoted && t->len == strlen(w) && !strncasecmp(t->start, w, t->len);
}

/* Appends {stored: {op: value}} for one clause to and. */
static int clause(const qfield_t *f, const token_t *op, const token_t *val, bson_t *and, int idx, char *why,
                  size_t why_size) {
    static const char *const ops[][2] = {{"eq", "$eq"},  {"ne", "$ne"}, {"gt", "$gt"},
                                         {"ge", "$gte"}, {"lt", "$lt"}, {"le", "$lte"}};
    const char *mop = NULL;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]) && !mop; i++)
        if (word_is(op, ops[i][0])) mop = ops[i][1];
    if (!mop) {
        snprintf(why, why_size, "filter: \"%.*s\" is not an operator (eq, ne, gt, ge, lt, le)",
                 (int)hd_utf8_prefix(op->start, op->len, 32), op->start);
        return -1;
    }
    int ordered = strcmp(mop, "$eq") && strcmp(mop, "$ne");
    if (ordered && f->type != Q_INT && f->type != Q_DATE) {
        snprintf(why, why_size, "filter: %s takes eq and ne only", f->name);
        return -1;
    }
    char key[12];
    snprintf(key, sizeof(key), "%d", idx);
    bson_t c, cond;
    BSON_APPEND_DOCUMENT_BEGIN(and, key, &c);
    BSON_APPEND_DOCUMENT_BEGIN(&c, f->stored, &cond);
    int ok = 1;
    if (word_is(val, "null") && !ordered) {
        BSON_APPEND_NULL(&cond, mop);
    } else if (f->type == Q_STR || f->type == Q_STRS) {
        ok = val->quoted && hd_utf8_valid(val->start, val->len);
        if (ok) bson_append_utf8(&cond, mop, -1, val->start, (int)val->len);
    } else if (f->type == Q_BOOL) {
        ok = word_is(val, "true") || word_is(val, "false");
        if (ok) BSON_APPEND_BOOL(&cond, mop, word_is(val, "true"));
    } else if (f->type == Q_INT) {
        char digits[24] = "", *end;
        ok = !val->quoted && val->len > 0 && val->len < 19;
        if (ok) memcpy(digits, val->start, val->len);
        long long n = ok ? strtoll(digits, &end, 10) : 0;
        ok = ok && !*end;
        if (ok) BSON_APPEND_INT64(&cond, mop, n);
    } else {
        int64_t ms;
        ok = val->quoted && !hd_rfc3339_parse(val->start, val->len, &ms);
        if (ok) BSON_APPEND_DATE_TIME(&cond, mop, ms);
    }
    bson_append_document_end(&c, &cond);
    bson_append_document_end(and, &c);
    if (!ok) {
        static const char *const expect[] = {"a quoted string such as 'text'", "a quoted string such as 'text'",
                                             "true or false", "an integer",
                                             "a quoted RFC 3339 time such as '2026-01-01T00:00:00Z'"};
        snprintf(why, why_size, "filter: %s takes %s%s", f->name, expect[f->type], ordered ? "" : " (or null)");
        return -1;
    }
    return 0;
}

int hd_dialect_mgmt_filter(const char *filter, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size) {
    char nbuf[MAX_QUERY_TEXT + 1], obuf[MAX_QUERY_TEXT + 1], vbuf[MAX_QUERY_TEXT + 1], fields[256];
    token_t name, op, val, join;
    const char *p = filter;
    int n = 0, rc;
    if (strlen(filter) > MAX_QUERY_TEXT) {
        snprintf(why, why_size, "filter: at most %d bytes", MAX_QUERY_TEXT);
        return -1;
    }
    bson_t and;
    bson_t tmp = BSON_INITIALIZER;
    BSON_APPEND_ARRAY_BEGIN(&tmp, "$and", &and);
    for (;;) {
        if ((rc = next_token(&p, &name, nbuf, sizeof(nbuf), why, why_size)) <= 0) {
            if (rc == 0) snprintf(why, why_size, "filter: expected \"field op value\" (e.g. isActive eq true)");
            goto fail;
        }
        const qfield_t *f = name.quoted ? NULL : qfield(kind, name.start, name.len);
        if (!f) {
            list_fields(kind, fields, sizeof(fields));
            snprintf(why, why_size, "filter: \"%.*s\" is not a field to filter on (%s)",
                     (int)hd_utf8_prefix(name.start, name.len, 64), name.start, fields);
            goto fail;
        }
        if ((rc = next_token(&p, &op, obuf, sizeof(obuf), why, why_size)) <= 0 ||
            (rc = next_token(&p, &val, vbuf, sizeof(vbuf), why, why_size)) <= 0) {
            if (rc == 0) snprintf(why, why_size, "filter: %s needs an operator and a value", f->name);
            goto fail;
        }
        if (n == MAX_CLAUSES) {
            snprintf(why, why_size, "filter: at most %d conditions", MAX_CLAUSES);
            goto fail;
        }
        if (clause(f, &op, &val, &and, n++, why, why_size)) goto fail;
        if ((rc = next_token(&p, &join, obuf, sizeof(obuf), why, why_size)) < 0) goto fail;
        if (rc == 0) break;
        if (!word_is(&join, "and")) {
            snprintf(why, why_size, "filter: conditions are joined by \"and\"");
            goto fail;
        }
    }
    bson_append_array_end(&tmp, &and);
    bson_concat(out, &tmp);
    bson_destroy(&tmp);
    return 0;

fail:
    bson_destroy(&tmp);
    return -1;
}

/* Calls item(arg, text, len) for each comma-separated item of list, trimmed; -1 when one is empty or item fails. */
static int each_item(const char *list, const char *what, int (*item)(void *, const char *, size_t), void *arg,
                     char *why, size_t why_size) {
    if (strlen(list) > MAX_QUERY_TEXT) {
        snprintf(why, why_size, "%s: at most %d bytes", what, MAX_QUERY_TEXT);
        return -1;
    }
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t len = n;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (!len) {
            snprintf(why, why_size, "%s: an empty item (a comma-separated list of fields)", what);
            return -1;
        }
        if (item(arg, s, len)) return -1;
        if (!p[n]) return 0;
        p += n + 1;
    }
}

typedef struct sort_arg_s {
    hd_mgmt_kind_t kind;
    bson_t *doc;
    int n;
    char *why;
    size_t why_size;
} sort_arg_t;

static int sort_item(void *arg, const char *s, size_t len) {
    sort_arg_t *a = arg;
    char fields[256];
    size_t flen = strcspn(s, " \t");
    if (flen > len) flen = len;
    const char *dir = s + flen;
    size_t dlen = len - flen;
    while (dlen && isspace((unsigned char)*dir))
        dir++, dlen--;
    const qfield_t *f = qfield(a->kind, s, flen);
    if (!f || f->type == Q_STRS) {
        list_fields(a->kind, fields, sizeof(fields));
        snprintf(a->why, a->why_size, "sort: \"%.*s\" is not a field to sort by (%s; not eventType of subscriptions)",
                 (int)hd_utf8_prefix(s, flen, 64), s, fields);
        return -1;
    }
    int desc = dlen == 4 && !strncasecmp(dir, "desc", 4);
    if (dlen && !desc && !(dlen == 3 && !strncasecmp(dir, "asc", 3))) {
        snprintf(a->why, a->why_size, "sort: \"%s\" is followed by asc, desc or nothing", f->name);
        return -1;
    }
    bson_iter_t it;
    if (bson_iter_init_find(&it, a->doc, f->stored)) {
        snprintf(a->why, a->why_size, "sort: %s is named twice", f->name);
        return -1;
    }
    if (++a->n > MAX_SORT_KEYS) {
        snprintf(a->why, a->why_size, "sort: at most %d fields", MAX_SORT_KEYS);
        return -1;
    }
    BSON_APPEND_INT32(a->doc, f->stored, desc ? -1 : 1);
    return 0;
}

int hd_dialect_mgmt_sort(const char *sort, hd_mgmt_kind_t kind, bson_t *out, char *why, size_t why_size) {
    bson_t doc = BSON_INITIALIZER;
    sort_arg_t a = {kind, &doc, 0, why, why_size};
    int rc = each_item(sort, "sort", sort_item, &a, why, why_size);
    if (rc == 0) bson_concat(out, &doc);
    bson_destroy(&doc);
    return rc;
}

typedef struct select_arg_s {
    const char *const (*known)[2];
    json_object *fields;
    char *why;
    size_t why_size;
} select_arg_t;

static int select_item(void *arg, const char *s, size_t len) {
    select_arg_t *a = arg;
    for (const char *const(*k)[2] = a->known; (*k)[0]; k++)
        if (strlen((*k)[0]) == len && !strncmp((*k)[0], s, len)) {
            json_object_array_add(a->fields, json_object_new_string((*k)[0]));
            return 0;
        }
    snprintf(a->why, a->why_size, "select: \"%.*s\" is not a field", (int)hd_utf8_prefix(s, len, 64), s);
    return -1;
}

int hd_dialect_mgmt_select(const char *select, hd_mgmt_kind_t kind, json_object **fields, char *why, size_t why_size) {
    select_arg_t a = {kind == HD_MGMT_EVENTS ? event_map : sub_map, json_object_new_array(), why, why_size};
    if (each_item(select, "select", select_item, &a, why, why_size)) {
        json_object_put(a.fields);
        *fields = NULL;
        return -1;
    }
    *fields = a.fields;
    return 0;
}

json_object *hd_dialect_mgmt_project(json_object *item, json_object *fields) {
    if (!fields) return item;
    json_object *o = json_object_new_object();
    for (size_t i = 0; i < json_object_array_length(fields); i++) {
        const char *k = json_object_get_string(json_object_array_get_idx(fields, i));
        json_object *v;
        if (json_object_object_get_ex(item, k, &v)) json_object_object_add(o, k, json_object_get(v));
    }
    json_object_put(item);
    return o;
}

/* ---- replies ---- */

static void reply(hd_api_req_t *r, const char *key, json_object *value, const char *message) {
    json_object *o = json_object_new_object();
    if (key) json_object_object_add(o, key, value);
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "message", json_object_new_string(message));
    hd_api_req_reply(r, 200, o);
}

/* A native field name in a detail, in the management document's terms (an item of event_types is eventType). */
static const char *management_name(const char *native) {
    size_t len = strcspn(native, "[");
    for (int i = 0; sub_map[i][0]; i++)
        if (sub_map[i][1] && strlen(sub_map[i][1]) == len && !strncmp(sub_map[i][1], native, len)) return sub_map[i][0];
    return native;
}

void hd_dialect_mgmt_reshape_error(hd_api_req_t *r) {
    json_object *details = get(r->reply, "details");
    const char *msg = hd_dialect_message(r->reply), *allow = r->allow;
    const char *const *headers = r->headers;
    char text[2048];
    size_t len = (size_t)snprintf(text, sizeof(text), "%s", msg ? msg : "the request failed");
    /* The details of a validation failure name the fields; others repeat the message. */
    if (r->status != 422) details = NULL;
    for (size_t i = 0; details && i < json_object_array_length(details) && len < sizeof(text); i++) {
        json_object *d = json_object_array_get_idx(details, i);
        const char *field = json_object_get_string(get(d, "field")), *m = json_object_get_string(get(d, "message"));
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%s: %s", i ? "; " : " (", management_name(field), m);
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
    if ((f && hd_dialect_mgmt_filter(f, kind, filter, why, sizeof(why))) ||
        (s && hd_dialect_mgmt_sort(s, kind, sort, why, sizeof(why))) ||
        (sel && hd_dialect_mgmt_select(sel, kind, fields, why, sizeof(why)))) {
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
        json_object_array_add(
            *events,
            hd_dialect_mgmt_project(hd_dialect_mgmt_event(json_object_array_get_idx(rows, i), sub_alias), fields));
    json_object_put(rows);
    return 0;
}

/* A native subscription in the management shape, with its newest events when with_events. NULL with a reply. */
static json_object *full_subscription(hd_api_req_t *r, json_object *native, const char *secret, int with_events) {
    json_object *o = hd_dialect_mgmt_subscription(native, secret, r->tenant), *events;
    if (!with_events) return o;
    bson_t none = BSON_INITIALIZER, *sort = BCON_NEW("sort_key", BCON_INT32(-1));
    int64_t total;
    int rc = events_page(r, json_object_get_string(get(native, "id")), json_object_get_int64(get(native, "alias")),
                         &none, sort, 0, INCLUDED_EVENTS, NULL, &events, &total);
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
        json_object_array_add(subs, hd_dialect_mgmt_project(s, fields));
    }
    json_object *o = json_object_new_object();
    json_object_object_add(o, "subscriptions", subs);
    json_object_object_add(o, "totalSubscriptionsCount", json_object_new_int64(total));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "message", json_object_new_string("Subscriptions retrieved."));
    hd_api_req_reply(r, 200, o);
out:
    json_object_put(natives);
    json_object_put(fields);
    bson_destroy(&sort);
    bson_destroy(filter);
}

/* The "subscription" object of the body, or NULL with a reply. */
static json_object *subscription_body(hd_api_req_t *r) {
    json_object *sub = r->body ? get(r->body, "subscription") : NULL;
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
    if (hd_dialect_mgmt_native_body(sub, &native, why, sizeof(why))) {
        fail(r, 400, "the subscription is not valid: %s", why);
        return;
    }
    unsigned status = id ? hd_dialect_native_call(r, "PATCH", native, NULL, &out, "subscriptions", id, NULL)
                         : hd_dialect_native_call(r, "POST", native, NULL, &out, "subscriptions", NULL);
    if (native_ok(r, status, out)) {
        /* The secret is shown whole once, at creation: as generated, or as given (a raw key as it was sent). */
        json_object *given = get(sub, "secret"), *generated = get(hd_dialect_data(out), "secret");
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
    const char *delivery = json_object_get_string(get(hd_dialect_data(out), "delivery_id"));
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
    if (events_page(r, id, json_object_get_int64(get(hd_dialect_data(out), "alias")), &filter, &sort, skip, take,
                    fields, &events, &total))
        goto out;
    json_object *o = json_object_new_object();
    json_object_object_add(o, "events", events);
    json_object_object_add(o, "totalEventsCount", json_object_new_int64(total));
    json_object_object_add(o, "success", json_object_new_boolean(1));
    json_object_object_add(o, "message", json_object_new_string("Events retrieved."));
    hd_api_req_reply(r, 200, o);
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
            json_object_object_add(o, "name", json_object_get(get(t, "name")));
            json_object_object_add(o, "description", json_object_get(get(t, "description")));
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
