#include "hookd/sub.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/evtype.h"
#include "hookd/intern.h"
#include "hookd/rfc3339.h"
#include "hookd/secret.h"
#include "hookd/subdoc.h"
#include "hookd/util.h"

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
    sub->version = (unsigned)hd_subdoc_fields[HD_SUBDOC_F_VERSION].def;
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
    const char *id = hd_subdoc_id(doc);
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
    if (!url || !hd_subdoc_url_ok(url, &origin, why, sizeof(why))) {
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
            if (!json_object_is_type(hval, json_type_string) || !hd_subdoc_header_allowed(hname, v)) {
                snprintf(errstr, errstr_size, "subscription %s: header \"%s\" is reserved or malformed", id, hname);
                goto fail;
            }
            x->headers[x->headers_cnt].name = arena_str(&a, hname);
            x->headers[x->headers_cnt].value = arena_str(&a, v);
            x->headers_cnt++;
        }
    }
    sub->is_active = get_bool(doc, "is_active", hd_subdoc_fields[HD_SUBDOC_F_IS_ACTIVE].def);
    int retries = get_int(doc, "max_retry_count", hd_subdoc_fields[HD_SUBDOC_F_MAX_RETRY_COUNT].def);
    if (retries < 0 || retries > HD_SUBDOC_MAX_RETRIES) {
        snprintf(errstr, errstr_size, "subscription %s: max_retry_count must be an integer from 0 to %d", id,
                 HD_SUBDOC_MAX_RETRIES);
        goto fail;
    }
    sub->max_retry_count = (unsigned)retries;
    x->success_code = get_int(doc, "success_code", 0);
    x->notify = get_bool(doc, "notify", hd_subdoc_fields[HD_SUBDOC_F_NOTIFY].def);
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
