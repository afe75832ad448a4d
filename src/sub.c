#include "hookd/sub.h"

#include <curl/curl.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/evtype.h"
#include "hookd/intern.h"
#include "hookd/rfc3339.h"
#include "hookd/secret.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

/* The document model: its fields (sub.h), read by the parser below with the same defaults. */

enum {
    F_NAME,
    F_EVENT_TYPES,
    F_URL,
    F_SECRET,
    F_SIGNING_KEY,
    F_HEADERS,
    F_MAX_RETRY_COUNT,
    F_SUCCESS_CODE,
    F_IS_ACTIVE,
    F_STATUSES,
    F_PAYLOAD_TEMPLATE,
    F_VERSION,
    F_NOTIFY,
    F_NOTIFICATION_EMAILS,
    F_FILTER,
    F_METADATA,
    F_COUNT_SETTABLE
};

#define SET HD_SUB_FIELD_SETTABLE
#define SHOWN HD_SUB_FIELD_SHOWN
const hd_sub_field_t hd_sub_fields[] = {
    [F_NAME] = {"name", HD_SUB_TYPE_TEXT, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 0},
    [F_EVENT_TYPES] = {"event_types", HD_SUB_TYPE_LIST, SET | SHOWN, 0},
    [F_URL] = {"url", HD_SUB_TYPE_TEXT, SET | SHOWN, 0},
    [F_SECRET] = {"secret", HD_SUB_TYPE_TEXT, SET | HD_SUB_FIELD_KEY, 0},
    [F_SIGNING_KEY] = {"signing_key", HD_SUB_TYPE_TEXT, SET | HD_SUB_FIELD_KEY, 0},
    [F_HEADERS] = {"headers", HD_SUB_TYPE_MAP, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 0},
    [F_MAX_RETRY_COUNT] = {"max_retry_count", HD_SUB_TYPE_INT, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 5},
    [F_SUCCESS_CODE] = {"success_code", HD_SUB_TYPE_INT, SET | SHOWN, 0}, /* null: any 2xx */
    [F_IS_ACTIVE] = {"is_active", HD_SUB_TYPE_BOOL, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 1},
    [F_STATUSES] = {"statuses", HD_SUB_TYPE_LIST, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 0},
    [F_PAYLOAD_TEMPLATE] = {"payload_template", HD_SUB_TYPE_TEXT, SET | SHOWN, 0},
    [F_VERSION] = {"version", HD_SUB_TYPE_INT, SET | SHOWN, HD_RENDER_VERSION_MIN}, /* null: the oldest shape */
    [F_NOTIFY] = {"notify", HD_SUB_TYPE_BOOL, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 0},
    [F_NOTIFICATION_EMAILS] = {"notification_emails", HD_SUB_TYPE_LIST, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 0},
    [F_FILTER] = {"filter", HD_SUB_TYPE_JSON, SET | SHOWN | HD_SUB_FIELD_TEXT, 0},
    [F_METADATA] = {"metadata", HD_SUB_TYPE_MAP, SET | SHOWN | HD_SUB_FIELD_DEFAULT, 0}, /* the client's own */
    {"secret_last_4", HD_SUB_TYPE_TEXT, SHOWN, 0},
    {"previous_secret_expires_at", HD_SUB_TYPE_JSON, SHOWN, 0},
    {"signing_public_key", HD_SUB_TYPE_TEXT, SHOWN, 0},
    {"previous_signing_key_expires_at", HD_SUB_TYPE_JSON, SHOWN, 0},
    {"disabled_reason", HD_SUB_TYPE_TEXT, SHOWN, 0},
    {"disabled_at", HD_SUB_TYPE_JSON, SHOWN, 0},
    {"failing_since", HD_SUB_TYPE_JSON, SHOWN, 0},
    {"created_at", HD_SUB_TYPE_JSON, SHOWN, 0},
    {"updated_at", HD_SUB_TYPE_JSON, SHOWN, 0},
    {"previous_secret", HD_SUB_TYPE_TEXT, HD_SUB_FIELD_KEY, 0},
    {"previous_signing_key", HD_SUB_TYPE_TEXT, HD_SUB_FIELD_KEY, 0},
};
#undef SET
#undef SHOWN
const size_t hd_sub_fields_cnt = sizeof(hd_sub_fields) / sizeof(hd_sub_fields[0]);

#define MAX_RETRIES 100

static const char *get_str(json_object *doc, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(doc, key, &v) || !json_object_is_type(v, json_type_string)) return NULL;
    return json_object_get_string(v);
}

static int get_int(json_object *doc, const char *key, int def) {
    json_object *v;
    if (!json_object_object_get_ex(doc, key, &v) || json_object_is_type(v, json_type_null)) return def;
    return json_object_get_int(v);
}

static int get_bool(json_object *doc, const char *key, int def) {
    json_object *v;
    if (!json_object_object_get_ex(doc, key, &v) || !json_object_is_type(v, json_type_boolean)) return def;
    return json_object_get_boolean(v);
}

/* Dates arrive as epoch ms, as ISO strings, or from MongoDB as {"$date": ...} (relaxed extended JSON). */
static int64_t get_time_ms(json_object *doc, const char *key) {
    json_object *v, *d;
    if (!json_object_object_get_ex(doc, key, &v)) return 0;
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "$date", &d)) v = d;
    if (json_object_is_type(v, json_type_int)) return json_object_get_int64(v);
    if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "$numberLong", &d))
        return strtoll(json_object_get_string(d), NULL, 10);
    int64_t ms;
    if (json_object_is_type(v, json_type_string) &&
        hd_rfc3339_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &ms) == 0)
        return ms;
    return 0;
}

/* The subscription's own allocation after the struct: the out-of-line structs (hd_sub_extra_t, hd_sign_more_t) and
 * pointer arrays first (aligned as the struct is), then the strings and the HMAC keys' bytes. measure_array() and
 * measure_headers() size it from the same fields the parser copies. */
typedef struct {
    char *ptrs, *strs;
} arena_t;

static void *arena_bytes(arena_t *a, const void *p, size_t n) {
    void *out = memcpy(a->strs, p, n);
    a->strs += n;
    return out;
}

static const char *arena_str(arena_t *a, const char *s) {
    return arena_bytes(a, s, strlen(s) + 1);
}

static void *arena_array(arena_t *a, size_t n, size_t size) {
    void *out = a->ptrs;
    a->ptrs += n * size;
    return out;
}

/* Adds what the array at key (string elements, and integers: statuses may hold them) takes. */
static void measure_array(json_object *doc, const char *key, size_t *ptrs, size_t *strs) {
    json_object *arr;
    if (!json_object_object_get_ex(doc, key, &arr) || !json_object_is_type(arr, json_type_array)) return;
    size_t n = json_object_array_length(arr);
    *ptrs += n * sizeof(char *);
    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(arr, i);
        if (json_object_is_type(v, json_type_string) || json_object_is_type(v, json_type_int))
            *strs += strlen(json_object_get_string(v)) + 1;
    }
}

static void measure_headers(json_object *doc, size_t *ptrs, size_t *strs) {
    json_object *headers;
    if (!json_object_object_get_ex(doc, "headers", &headers) || !json_object_is_type(headers, json_type_object)) return;
    *ptrs += (size_t)json_object_object_length(headers) * sizeof(hd_sub_header_t);
    json_object_object_foreach(headers, name, value) {
        *strs += strlen(name) + 1;
        if (json_object_is_type(value, json_type_string)) *strs += strlen(json_object_get_string(value)) + 1;
    }
}

/* 1 when doc sets a field of hd_sub_extra_t: exactly when parsing it leaves a filter, a template, a non-empty
 * array or object, or a non-zero value there (or fails). */
static int has_extra(json_object *doc) {
    json_object *v;
    static const char *const arrays[] = {"statuses", "notification_emails"};
    for (size_t i = 0; i < sizeof(arrays) / sizeof(arrays[0]); i++)
        if (json_object_object_get_ex(doc, arrays[i], &v) && v &&
            (!json_object_is_type(v, json_type_array) || json_object_array_length(v)))
            return 1;
    if (json_object_object_get_ex(doc, "headers", &v) && json_object_is_type(v, json_type_object) &&
        json_object_object_length(v))
        return 1;
    if ((json_object_object_get_ex(doc, "filter", &v) && v) ||
        (json_object_object_get_ex(doc, "payload_template", &v) && v))
        return 1;
    return get_int(doc, "success_code", 0) || get_bool(doc, "notify", 0);
}

/* An optional array of non-empty strings; absent or null gives zero entries. */
static int get_str_array(json_object *doc, const char *key, arena_t *a, const char ***out, int *cnt, char *errstr,
                         size_t errstr_size) {
    json_object *arr;
    *out = NULL;
    *cnt = 0;
    if (!json_object_object_get_ex(doc, key, &arr) || json_object_is_type(arr, json_type_null)) return 0;
    if (!json_object_is_type(arr, json_type_array)) {
        snprintf(errstr, errstr_size, "%s must be an array of strings", key);
        return -1;
    }
    int n = (int)json_object_array_length(arr);
    *out = arena_array(a, (size_t)n, sizeof(char *));
    for (int i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(arr, (size_t)i);
        if (!json_object_is_type(t, json_type_string) || !json_object_get_string_len(t)) {
            snprintf(errstr, errstr_size, "%s[%d] is not a non-empty string", key, i);
            return -1;
        }
        (*out)[i] = arena_str(a, json_object_get_string(t));
        (*cnt)++;
    }
    return 0;
}

/* The event_types of doc, validated, as the shared list (intern.h) into sub. */
static int intern_event_types(hd_sub_t *sub, json_object *doc, char *errstr, size_t errstr_size) {
    json_object *arr;
    if (!json_object_object_get_ex(doc, "event_types", &arr) || !json_object_is_type(arr, json_type_array) ||
        !json_object_array_length(arr) || json_object_array_length(arr) > HD_SUB_MAX_EVENT_TYPES) {
        snprintf(errstr, errstr_size, "subscription %s: event_types must be an array of 1 to %d patterns", sub->id,
                 HD_SUB_MAX_EVENT_TYPES);
        return -1;
    }
    size_t n = json_object_array_length(arr);
    const char **types = hd_xmalloc(sizeof(*types) * n);
    for (size_t i = 0; i < n; i++) {
        json_object *t = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(t, json_type_string) || !json_object_get_string_len(t)) {
            snprintf(errstr, errstr_size, "subscription %s: event_types[%zu] is not a non-empty string", sub->id, i);
            free(types);
            return -1;
        }
        types[i] = json_object_get_string(t);
        if (!hd_evtype_pattern_valid(types[i])) {
            snprintf(errstr, errstr_size,
                     "subscription %s: event type \"%s\" is not a valid pattern (dot-separated "
                     "[A-Za-z0-9_-] segments, at most 128 bytes; \"*\" is one whole segment, \"**\" only the last one)",
                     sub->id, types[i]);
            free(types);
            return -1;
        }
    }
    sub->event_types = hd_intern_list(types, (int)n);
    sub->event_types_cnt = n;
    free(types);
    return 0;
}

/* RFC 9110 token characters. */
static int is_tchar(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

int hd_sub_header_allowed(const char *name, const char *value) {
    static const char *const reserved[] = {"content-type",      "content-length", "host",  "user-agent",
                                           "transfer-encoding", "connection",     "expect"};
    if (!*name) return 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!is_tchar(*p)) return 0;
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (!strcasecmp(name, reserved[i])) return 0;
    if (!strncasecmp(name, "webhook-", 8)) return 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if (*p == '\r' || *p == '\n' || (*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

/* Absolute http or https URL with a host and no credentials, as curl parses it; *origin gets scheme://host, with
 * :port only when the port is not the scheme's default: then it is a prefix of most URLs, and costs no bytes of its
 * own. The messages never quote the URL: it may hold a password. */
static int url_ok(const char *url, char **origin, char *errstr, size_t errstr_size) {
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL, *password = NULL;
    int ok = 0;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        snprintf(errstr, errstr_size, "url is not a valid absolute URL");
        goto out;
    }
    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    curl_url_get(u, CURLUPART_HOST, &host, 0);
    curl_url_get(u, CURLUPART_USER, &user, 0);
    curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
    if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
        snprintf(errstr, errstr_size, "url must use http or https");
        goto out;
    }
    /* curl reads "http:///path" and "http:/path" as the host "path": the authority must be written out. */
    size_t slen = strlen(scheme);
    if (!host || !*host || strncmp(url + slen, "://", 3) || strchr("/\\?#", url[slen + 3])) {
        snprintf(errstr, errstr_size, "url has no host (expected %s://host/...)", scheme);
        goto out;
    }
    if (user || password) {
        snprintf(errstr, errstr_size, "url must not carry credentials (user:password@): send them in a header");
        goto out;
    }
    curl_url_get(u, CURLUPART_PORT, &port, CURLU_NO_DEFAULT_PORT);
    *origin = hd_xmalloc(strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) + 5);
    sprintf(*origin, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
    ok = 1;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return ok;
}

/* A JSON value, or JSON kept as text (the management API stores filters and templates as text, a file may hold
 * the JSON itself). Returns the value to use, borrowed or *parsed (which the caller puts), or NULL when v is a
 * string that is not JSON. */
static json_object *json_or_text(json_object *v, json_object **parsed) {
    *parsed = NULL;
    if (!json_object_is_type(v, json_type_string)) return v;
    return *parsed = json_tokener_parse(json_object_get_string(v));
}

/* statuses, filter, payload_template (into x) and version. */
static int parse_shape(hd_sub_t *sub, hd_sub_extra_t *x, json_object *doc, arena_t *a, char *errstr,
                       size_t errstr_size) {
    json_object *v;
    char err[400];
    if (json_object_object_get_ex(doc, "statuses", &v) && v) {
        if (!json_object_is_type(v, json_type_array)) {
            snprintf(errstr, errstr_size, "subscription %s: statuses must be an array of strings", sub->id);
            return -1;
        }
        size_t n = json_object_array_length(v);
        x->statuses = n ? arena_array(a, n, sizeof(char *)) : NULL;
        for (size_t i = 0; i < n; i++) {
            json_object *s = json_object_array_get_idx(v, i);
            if (!json_object_is_type(s, json_type_string) && !json_object_is_type(s, json_type_int)) {
                snprintf(errstr, errstr_size, "subscription %s: statuses[%zu] is not a string", sub->id, i);
                return -1;
            }
            x->statuses[x->statuses_cnt++] = arena_str(a, json_object_get_string(s));
        }
    }
    json_object *parsed;
    if (json_object_object_get_ex(doc, "filter", &v) && v) {
        if (!(v = json_or_text(v, &parsed))) {
            snprintf(errstr, errstr_size, "subscription %s: filter is a string but not JSON", sub->id);
            return -1;
        }
        x->filter = hd_filter_new(v, err, sizeof(err));
        json_object_put(parsed);
        if (!x->filter) {
            snprintf(errstr, errstr_size, "subscription %s: %s", sub->id, err);
            return -1;
        }
    }
    if (json_object_object_get_ex(doc, "payload_template", &v) && v) {
        if (!(v = json_or_text(v, &parsed))) {
            snprintf(errstr, errstr_size, "subscription %s: payload_template is a string but not JSON", sub->id);
            return -1;
        }
        x->tmpl = hd_render_tmpl_new(v, err, sizeof(err));
        json_object_put(parsed);
        if (!x->tmpl) {
            snprintf(errstr, errstr_size, "subscription %s: %s", sub->id, err);
            return -1;
        }
    }
    sub->version = (unsigned)hd_sub_fields[F_VERSION].def;
    if (json_object_object_get_ex(doc, "version", &v) && v) {
        if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < HD_RENDER_VERSION_MIN ||
            json_object_get_int64(v) > HD_RENDER_VERSION_MAX) {
            snprintf(errstr, errstr_size, "subscription %s: version must be an integer from %d to %d", sub->id,
                     HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX);
            return -1;
        }
        sub->version = (unsigned)json_object_get_int64(v);
    }
    return 0;
}

int hd_sub_url_ok(const char *url, char *errstr, size_t errstr_size) {
    char *origin = NULL;
    int ok = url_ok(url, &origin, errstr, errstr_size);
    free(origin);
    return ok;
}

/* The plaintext of a key that may be stored encrypted, bound to the subscription id: a new string (free it with
 * hd_secret_free), or NULL with errstr filled. */
static char *plain_key(const char *text, const char *id, const hd_secret_key_t *master, char *errstr,
                       size_t errstr_size) {
    if (!hd_secret_is_encrypted(text)) return hd_xstrdup(text);
    if (!master) {
        snprintf(errstr, errstr_size, "subscription %s: its secret is encrypted and master.key is not set", id);
        return NULL;
    }
    char err[128];
    char *plain = hd_secret_decrypt(master, text, id, err, sizeof(err));
    if (!plain) snprintf(errstr, errstr_size, "subscription %s: %s", id, err);
    return plain;
}

/* Initialises key from a whsec_ secret, plain or encrypted. */
static int key_init(hd_sign_key_t *key, const char *secret, const char *id, const hd_secret_key_t *master, char *errstr,
                    size_t errstr_size) {
    char *plain = plain_key(secret, id, master, errstr, errstr_size);
    int rc = plain ? hd_sign_key_init(key, plain, errstr, errstr_size) : -1;
    hd_secret_free(plain);
    return rc;
}

/* Initialises key from a whsk_ signing key, plain or encrypted (as the management API stores it). */
static int ed_key_init(hd_sign_ed_key_t *key, const char *text, const char *id, const hd_secret_key_t *master,
                       char *errstr, size_t errstr_size) {
    char *plain = plain_key(text, id, master, errstr, errstr_size);
    int rc = plain ? hd_sign_ed_key_init(key, plain, errstr, errstr_size) : -1;
    hd_secret_free(plain);
    return rc;
}

_Static_assert(sizeof(hd_sub_t) == 104, "hd_sub_t grew: docs/capacity.md counts its bytes");

/* Every subscription without extras shares it. */
static const hd_sub_extra_t no_extra;

hd_sub_t *hd_sub_from_doc(json_object *doc, const hd_secret_key_t *master, char *errstr, size_t errstr_size) {
    hd_sub_t *sub = NULL;
    char *origin = NULL;
    const char *id = hd_sub_doc_id(doc);
    const char *tenant = get_str(doc, "tenant"), *url = get_str(doc, "url"), *secret = get_str(doc, "secret");
    const char *signing_key = get_str(doc, "signing_key");
    const char *name = get_str(doc, "name") ? get_str(doc, "name") : ""; /* the model's default */
    const char *previous = secret ? get_str(doc, "previous_secret") : NULL;
    const char *previous_signing = get_str(doc, "previous_signing_key");
    hd_sign_key_t hmac[2] = {0}; /* secret, previous: decoded first, the arena holds only their bytes */
    json_object *headers;

    if (!id || !*id) {
        snprintf(errstr, errstr_size, "subscription without a string id");
        goto fail;
    }
    if (!tenant || !*tenant) {
        snprintf(errstr, errstr_size, "subscription %s: no tenant", id);
        goto fail;
    }
    char why[160];
    if (!url || !url_ok(url, &origin, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "subscription %s: %s", id, url ? why : "no url");
        goto fail;
    }
    if (!secret && !signing_key) {
        snprintf(errstr, errstr_size, "subscription %s: no secret and no signing_key", id);
        goto fail;
    }
    if ((secret && key_init(&hmac[0], secret, id, master, errstr, errstr_size)) ||
        (previous && key_init(&hmac[1], previous, id, master, errstr, errstr_size)))
        goto fail;
    int extra = has_extra(doc), more = previous || signing_key;
    size_t ptrs = (extra ? sizeof(hd_sub_extra_t) : 0) + (more ? sizeof(hd_sign_more_t) : 0);
    size_t origin_len = strlen(origin);
    int origin_in_url = !strncmp(url, origin, origin_len);
    if (origin_len > UINT16_MAX) {
        snprintf(errstr, errstr_size, "subscription %s: the url's host is too long", id);
        goto fail;
    }
    /* Shared when another subscription holds the same (intern.h), else copied into the allocation. */
    const char *shared[3] = {hd_intern_repeated(tenant, strlen(tenant)), hd_intern_repeated(name, strlen(name)),
                             hd_intern_repeated(url, strlen(url))};
    size_t strs = strlen(id) + 1 + (origin_in_url ? 0 : origin_len + 1) + hmac[0].len + hmac[1].len;
    strs +=
        (shared[0] ? 0 : strlen(tenant) + 1) + (shared[1] ? 0 : strlen(name) + 1) + (shared[2] ? 0 : strlen(url) + 1);
    measure_array(doc, "notification_emails", &ptrs, &strs);
    measure_array(doc, "statuses", &ptrs, &strs);
    measure_headers(doc, &ptrs, &strs);
    sub = hd_xcalloc(1, sizeof(*sub) + ptrs + strs);
    atomic_init(&sub->refs, 1);
    arena_t a = {(char *)(sub + 1), (char *)(sub + 1) + ptrs};
    /* Without extras, the parsers below write only zeros and empty arrays: into scratch, then dropped. */
    hd_sub_extra_t scratch = {0}, *x = extra ? arena_array(&a, 1, sizeof(*x)) : &scratch;
    sub->extra = x;
    sub->id = arena_str(&a, id);
    sub->tenant = shared[0] ? shared[0] : arena_str(&a, tenant);
    sub->name = shared[1] ? shared[1] : arena_str(&a, name);
    sub->url = shared[2] ? shared[2] : arena_str(&a, url);
    sub->origin = origin_in_url ? sub->url : arena_str(&a, origin);
    sub->origin_len = (uint16_t)origin_len;

    if (more) sub->keys.more = arena_array(&a, 1, sizeof(*sub->keys.more));
    if (secret) {
        sub->keys.hmac = arena_bytes(&a, hmac[0].key, hmac[0].len);
        sub->keys.hmac_len = hmac[0].len;
        sub->keys.hmac_cnt = 1;
    }
    if (previous) {
        sub->keys.more->hmac_prev = arena_bytes(&a, hmac[1].key, hmac[1].len);
        sub->keys.more->hmac_prev_len = hmac[1].len;
        sub->keys.more->hmac_prev_expires_ms = get_time_ms(doc, "previous_secret_expires_at");
        sub->keys.hmac_cnt = 2;
    }
    sodium_memzero(hmac, sizeof(hmac));
    if (signing_key) {
        if (ed_key_init(&sub->keys.more->ed[0], signing_key, id, master, errstr, errstr_size)) goto fail;
        sub->keys.ed_cnt = 1;
        if (previous_signing) {
            if (ed_key_init(&sub->keys.more->ed[1], previous_signing, id, master, errstr, errstr_size)) goto fail;
            sub->keys.more->ed_expires_ms[1] = get_time_ms(doc, "previous_signing_key_expires_at");
            sub->keys.ed_cnt = 2;
        }
    }
    if (intern_event_types(sub, doc, errstr, errstr_size)) goto fail;
    if (get_str_array(doc, "notification_emails", &a, &x->notification_emails, &x->notification_emails_cnt, errstr,
                      errstr_size))
        goto fail;
    if (parse_shape(sub, x, doc, &a, errstr, errstr_size)) goto fail;
    if (json_object_object_get_ex(doc, "headers", &headers) && json_object_is_type(headers, json_type_object)) {
        x->headers = arena_array(&a, (size_t)json_object_object_length(headers), sizeof(*x->headers));
        json_object_object_foreach(headers, hname, hval) {
            const char *v = json_object_get_string(hval);
            if (!json_object_is_type(hval, json_type_string) || !hd_sub_header_allowed(hname, v)) {
                snprintf(errstr, errstr_size, "subscription %s: header \"%s\" is reserved or malformed", id, hname);
                goto fail;
            }
            x->headers[x->headers_cnt].name = arena_str(&a, hname);
            x->headers[x->headers_cnt].value = arena_str(&a, v);
            x->headers_cnt++;
        }
    }
    sub->is_active = get_bool(doc, "is_active", hd_sub_fields[F_IS_ACTIVE].def);
    int retries = get_int(doc, "max_retry_count", hd_sub_fields[F_MAX_RETRY_COUNT].def);
    if (retries < 0 || retries > MAX_RETRIES) {
        snprintf(errstr, errstr_size, "subscription %s: max_retry_count must be an integer from 0 to %d", id,
                 MAX_RETRIES);
        goto fail;
    }
    sub->max_retry_count = (unsigned)retries;
    x->success_code = get_int(doc, "success_code", 0);
    x->notify = get_bool(doc, "notify", hd_sub_fields[F_NOTIFY].def);
    if (!extra) sub->extra = &no_extra;
    atomic_init(&sub->failing_since_ms, get_time_ms(doc, "failing_since"));
    atomic_init(&sub->failing_stored, atomic_load(&sub->failing_since_ms) != 0);
    free(origin);
    return sub;

fail:
    free(origin);
    sodium_memzero(hmac, sizeof(hmac));
    hd_sub_destroy(sub);
    return NULL;
}

const char *hd_sub_doc_id(json_object *doc) {
    return get_str(doc, "id") ? get_str(doc, "id") : get_str(doc, "_id");
}

hd_sub_t *hd_sub_retain(hd_sub_t *sub) {
    atomic_fetch_add(&sub->refs, 1);
    return sub;
}

/* Releases p unless it is sub's own copy. */
static void release_shared(hd_sub_t *sub, const char *p) {
    uintptr_t at = (uintptr_t)p, lo = (uintptr_t)sub;
    if (at < lo || at >= lo + malloc_usable_size(sub)) hd_intern_release(p);
}

void hd_sub_destroy(hd_sub_t *sub) {
    if (!sub || atomic_fetch_sub(&sub->refs, 1) != 1) return;
    release_shared(sub, sub->tenant);
    release_shared(sub, sub->name);
    release_shared(sub, sub->url);
    hd_intern_release(sub->event_types);
    hd_filter_destroy(sub->extra->filter);
    hd_render_tmpl_destroy(sub->extra->tmpl);
    if (sub->keys.hmac) sodium_memzero(sub->keys.hmac, sub->keys.hmac_len);
    if (sub->keys.more) {
        if (sub->keys.more->hmac_prev) sodium_memzero(sub->keys.more->hmac_prev, sub->keys.more->hmac_prev_len);
        sodium_memzero(sub->keys.more, sizeof(*sub->keys.more));
    }
    free(sub);
}

#define MAX_TYPES 50
#define MAX_HEADERS 50
#define MAX_STATUSES 50
#define MAX_EMAILS 20
#define MAX_TEMPLATE 32768 /* characters: below api.max.body.bytes, so that the limit is this one */
#define MAX_METADATA 8192  /* bytes of metadata as JSON text */

static void problem(const hd_sub_check_t *c, int *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(const hd_sub_check_t *c, int *n, const char *field, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->problem(c->opaque, field, msg);
    (*n)++;
}

/* 1 when v is a string of at most max characters (as the contract's maxLength counts them). */
static int chars_at_most(json_object *v, size_t max) {
    return json_object_is_type(v, json_type_string) &&
           hd_utf8_count(json_object_get_string(v), (size_t)json_object_get_string_len(v)) <= max;
}

/* A string of 1..max characters (0..max with empty_ok) without NUL or control characters. */
static int text_ok(json_object *v, size_t max, int empty_ok) {
    if (!chars_at_most(v, max)) return 0;
    size_t len = (size_t)json_object_get_string_len(v);
    const unsigned char *s = (const unsigned char *)json_object_get_string(v);
    if (!len && !empty_ok) return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] == 0x7f) return 0;
    return 1;
}

static int int_in(json_object *v, int64_t lo, int64_t hi) {
    if (!json_object_is_type(v, json_type_int)) return 0;
    int64_t n = json_object_get_int64(v);
    return n >= lo && n <= hi;
}

static void check_event_types(json_object *v, const hd_sub_check_t *c, int *n) {
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0 ||
        json_object_array_length(v) > MAX_TYPES) {
        problem(c, n, "event_types", "an array of 1 to %d event types", MAX_TYPES);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        json_object *t = json_object_array_get_idx(v, i);
        char field[48];
        snprintf(field, sizeof(field), "event_types[%zu]", i);
        if (!text_ok(t, 128, 0)) {
            problem(c, n, field, "a non-empty string");
            continue;
        }
        const char *name = json_object_get_string(t);
        if (strchr(name, '*')) { /* the dispatcher's own grammar: "*" one segment, a trailing "**" one or more */
            if (!hd_evtype_pattern_valid(name))
                problem(c, n, field,
                        "\"%s\" is not a valid pattern (segments of [A-Za-z0-9_-]; \"*\" is one whole segment, "
                        "\"**\" only the last one)",
                        name);
            continue;
        }
        if (!hd_evtype_name_valid(name)) {
            problem(c, n, field, "\"%s\" is not a valid event type", name);
            continue;
        }
        int known = c->known(c->opaque, name);
        if (known < 0)
            problem(c, n, field, "cannot check the catalogue right now");
        else if (!known)
            problem(c, n, field, "unknown event type \"%s\" (see GET /v1/webhooks/event-types)", name);
    }
}

static int email_ok(json_object *v) {
    if (!text_ok(v, 254, 0)) return 0;
    const char *s = json_object_get_string(v), *at = strchr(s, '@');
    return at && at != s && at[1] && !strchr(at + 1, '@') && strchr(at + 1, '.') && !strpbrk(s, " \t,;<>");
}

static int status_ok(json_object *v) {
    return text_ok(v, 64, 0);
}

static void check_strings(json_object *v, const char *field, size_t max_items, int (*ok)(json_object *),
                          const hd_sub_check_t *c, int *n) {
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max_items) {
        problem(c, n, field, "an array of at most %zu items", max_items);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++)
        if (!ok(json_object_array_get_idx(v, i))) problem(c, n, field, "item %zu is not valid", i);
}

static void check_keys(json_object *body, const hd_sub_check_t *c, int *n) {
    json_object *v;
    char err[256];
    if (json_object_object_get_ex(body, "secret", &v)) {
        hd_sign_key_t skey;
        if (!text_ok(v, 128, 0) || strncmp(json_object_get_string(v), "whsec_", 6) ||
            hd_sign_key_init(&skey, json_object_get_string(v), err, sizeof(err)))
            problem(c, n, "secret", "a whsec_ secret: \"whsec_\" + base64 of 16 to 64 bytes");
        sodium_memzero(&skey, sizeof(skey));
    }
    if (json_object_object_get_ex(body, "signing_key", &v) && !json_object_is_type(v, json_type_null)) {
        hd_sign_ed_key_t ed;
        if (!json_object_is_type(v, json_type_string) ||
            hd_sign_ed_key_init(&ed, json_object_get_string(v), err, sizeof(err)))
            problem(c, n, "signing_key", "null or an ed25519 key: \"whsk_\" + base64 of seed and public key");
        sodium_memzero(&ed, sizeof(ed));
    }
}

static void check_headers(json_object *v, const hd_sub_check_t *c, int *n) {
    if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) > MAX_HEADERS || !c->storable(v)) {
        problem(c, n, "headers", "an object of at most %d string values (names without '.')", MAX_HEADERS);
        return;
    }
    json_object_object_foreach(v, hname, hval) {
        if (!chars_at_most(hval, 4096) ||
            strlen(json_object_get_string(hval)) != (size_t)json_object_get_string_len(hval) || strlen(hname) > 256 ||
            !hd_sub_header_allowed(hname, json_object_get_string(hval)))
            problem(c, n, "headers",
                    "\"%.*s\": a token name that is not reserved (content-type, host, webhook-*, ...) "
                    "and a string value without CR, LF or control characters",
                    (int)hd_utf8_prefix(hname, strlen(hname), 64), hname);
    }
}

/* The dispatcher compiles templates and filters with the same code (render.h, filter.h): what passes here is what
 * it will run, and what fails gets the dispatcher's own reason. */
static void check_shape(json_object *body, const hd_sub_check_t *c, int *n) {
    json_object *v;
    char why[300];
    if (json_object_object_get_ex(body, "payload_template", &v) && !json_object_is_type(v, json_type_null)) {
        json_object *tmpl = NULL;
        hd_render_tmpl_t *t = NULL;
        if (!chars_at_most(v, MAX_TEMPLATE) ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
            problem(c, n, "payload_template", "null or a JSON template as a string of at most %d characters",
                    MAX_TEMPLATE);
        else if (c->parse_json(json_object_get_string(v), (size_t)json_object_get_string_len(v), &tmpl, why,
                               sizeof(why)))
            problem(c, n, "payload_template", "not JSON (%s): a template is a JSON document as a string", why);
        else if (!tmpl)
            problem(c, n, "payload_template", "a JSON template as a string, not \"null\"");
        else if (!(t = hd_render_tmpl_new(tmpl, why, sizeof(why))))
            problem(c, n, "payload_template", "%s", why);
        hd_render_tmpl_destroy(t);
        json_object_put(tmpl);
    }
    if (json_object_object_get_ex(body, "version", &v) && !json_object_is_type(v, json_type_null) &&
        !int_in(v, HD_RENDER_VERSION_MIN, HD_RENDER_VERSION_MAX))
        problem(c, n, "version", "null or an integer from %d to %d (the payload shape)", HD_RENDER_VERSION_MIN,
                HD_RENDER_VERSION_MAX);
    if (json_object_object_get_ex(body, "metadata", &v) &&
        (!json_object_is_type(v, json_type_object) || !c->storable(v) ||
         strlen(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN)) > MAX_METADATA))
        problem(c, n, "metadata",
                "an object of at most %d bytes as JSON (keys not empty, without '.' or a leading '$')", MAX_METADATA);
    if (json_object_object_get_ex(body, "filter", &v) && !json_object_is_type(v, json_type_null)) {
        if (!json_object_is_type(v, json_type_object))
            problem(c, n, "filter", "null or a MongoDB-style query object");
        else if (hd_filter_validate(v, why, sizeof(why)))
            problem(c, n, "filter", "%s", why);
    }
}

int hd_sub_check(json_object *body, int full, const hd_sub_check_t *c) {
    json_object *v;
    char err[256];
    int n = 0;
    json_object_object_foreach(body, key, val) {
        size_t i = 0;
        while (i < F_COUNT_SETTABLE && strcmp(hd_sub_fields[i].name, key))
            i++;
        if (i == F_COUNT_SETTABLE) problem(c, &n, key, "unknown field");
        (void)val;
    }
    if (full) {
        if (!json_object_object_get_ex(body, "url", &v)) problem(c, &n, "url", "required");
        if (!json_object_object_get_ex(body, "event_types", &v)) problem(c, &n, "event_types", "required");
    }
    if (json_object_object_get_ex(body, "name", &v) && !text_ok(v, 200, 1))
        problem(c, &n, "name", "a string of at most 200 characters");
    if (json_object_object_get_ex(body, "event_types", &v)) check_event_types(v, c, &n);
    if (json_object_object_get_ex(body, "url", &v)) {
        if (!text_ok(v, 2048, 0))
            problem(c, &n, "url", "an absolute http or https URL");
        else if (!hd_sub_url_ok(json_object_get_string(v), err, sizeof(err)))
            problem(c, &n, "url", "%s", err);
    }
    check_keys(body, c, &n);
    if (json_object_object_get_ex(body, "headers", &v)) check_headers(v, c, &n);
    if (json_object_object_get_ex(body, "max_retry_count", &v) && !int_in(v, 0, MAX_RETRIES))
        problem(c, &n, "max_retry_count", "an integer from 0 to %d", MAX_RETRIES);
    if (json_object_object_get_ex(body, "success_code", &v) && !json_object_is_type(v, json_type_null) &&
        !int_in(v, 200, 299))
        problem(c, &n, "success_code", "null (any 2xx) or an integer from 200 to 299");
    if (json_object_object_get_ex(body, "is_active", &v) && !json_object_is_type(v, json_type_boolean))
        problem(c, &n, "is_active", "a boolean");
    if (json_object_object_get_ex(body, "notify", &v) && !json_object_is_type(v, json_type_boolean))
        problem(c, &n, "notify", "a boolean");
    if (json_object_object_get_ex(body, "statuses", &v)) check_strings(v, "statuses", MAX_STATUSES, status_ok, c, &n);
    if (json_object_object_get_ex(body, "notification_emails", &v))
        check_strings(v, "notification_emails", MAX_EMAILS, email_ok, c, &n);
    check_shape(body, c, &n);
    return n;
}
