#include "hookd/dialect_partner.h"

#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/api_req.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define RAW_KEY_MIN 16
#define RAW_KEY_MAX 64

/* ---- shape mappings ---- */

static json_object *get(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) ? json_object_get(v) : NULL;
}

/* Copies field from of src into dst as to (null when absent). */
static void copy(json_object *dst, const char *to, json_object *src, const char *from) {
    json_object_object_add(dst, to, get(src, from));
}

json_object *hd_dialect_partner_subscription(json_object *native, const char *tenant) {
    json_object *o = json_object_new_object(), *types;
    copy(o, "created_at", native, "created_at");
    copy(o, "endpoint_url", native, "url");
    copy(o, "id", native, "id");
    copy(o, "is_active", native, "is_active");
    json_object_object_add(o, "partner_id", json_object_new_string(tenant));
    copy(o, "secret_last_4_digits", native, "secret_last_4");
    /* The partner's topic is single-valued: a subscription made elsewhere with several types shows its first. */
    json_object_object_add(o, "topic",
                           json_object_object_get_ex(native, "event_types", &types) &&
                                   json_object_is_type(types, json_type_array) && json_object_array_length(types)
                               ? json_object_get(json_object_array_get_idx(types, 0))
                               : NULL);
    copy(o, "updated_at", native, "updated_at");
    return o;
}

/* 1 when every key of body is one of allowed (NULL-terminated); otherwise adds an "unknown field" detail each. */
static int known_fields(json_object *body, const char *const *allowed, json_object **details) {
    int ok = 1;
    json_object_object_foreach(body, key, val) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key))
            a++;
        if (!*a) {
            hd_api_req_detail(details, key, "unknown field");
            ok = 0;
        }
        (void)val;
    }
    return ok;
}

json_object *hd_dialect_partner_create_body(json_object *body, json_object **details) {
    static const char *const allowed[] = {"endpoint_url", "secret_key", "topic", NULL};
    json_object *v;
    if (!known_fields(body, allowed, details)) return NULL;
    json_object *n = json_object_new_object();
    if (json_object_object_get_ex(body, "endpoint_url", &v)) json_object_object_add(n, "url", json_object_get(v));
    if (json_object_object_get_ex(body, "topic", &v)) {
        json_object *types = json_object_new_array();
        json_object_array_add(types, json_object_get(v));
        json_object_object_add(n, "event_types", types);
    }
    if (json_object_object_get_ex(body, "secret_key", &v)) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        if (!json_object_is_type(v, json_type_string) || !strncmp(s, "whsec_", 6)) {
            json_object_object_add(n, "secret", json_object_get(v));
        } else if (len < RAW_KEY_MIN || len > RAW_KEY_MAX || strlen(s) != len) {
            hd_api_req_detail(details, "secret_key", "a whsec_ secret, or a key of %d to %d bytes used as it is",
                              RAW_KEY_MIN, RAW_KEY_MAX);
        } else {
            char whsec[6 + sodium_base64_ENCODED_LEN(RAW_KEY_MAX, sodium_base64_VARIANT_ORIGINAL)] = "whsec_";
            sodium_bin2base64(whsec + 6, sizeof(whsec) - 6, (const unsigned char *)s, len,
                              sodium_base64_VARIANT_ORIGINAL);
            json_object_object_add(n, "secret", json_object_new_string(whsec));
            sodium_memzero(whsec, sizeof(whsec));
        }
    }
    if (*details) {
        json_object_put(n);
        return NULL;
    }
    return n;
}

json_object *hd_dialect_partner_test_body(json_object *body, json_object **details) {
    static const char *const allowed[] = {"topic", "payload", NULL};
    json_object *v;
    if (!body) return NULL;
    if (!known_fields(body, allowed, details)) return NULL;
    json_object *n = json_object_new_object();
    if (json_object_object_get_ex(body, "topic", &v)) json_object_object_add(n, "event_type", json_object_get(v));
    if (json_object_object_get_ex(body, "payload", &v)) json_object_object_add(n, "data", json_object_get(v));
    return n;
}

json_object *hd_dialect_partner_event(json_object *native) {
    static const char *const same[] = {"status",      "status_code", "response",      "error_message",
                                       "retry_count", "sent_at",     "next_retry_at", "created_at"};
    json_object *o = json_object_new_object();
    copy(o, "id", native, "id");
    copy(o, "subscription_id", native, "subscription_id");
    copy(o, "event_id", native, "event_id");
    copy(o, "topic", native, "event_type");
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        copy(o, same[i], native, same[i]);
    return o;
}

json_object *hd_dialect_partner_test_reply(json_object *native) {
    json_object *o = json_object_new_object();
    copy(o, "event_id", native, "event_id");
    copy(o, "delivery_id", native, "delivery_id");
    copy(o, "topic", native, "event_type");
    copy(o, "subscription_id", native, "subscription_id");
    json_object_object_add(o, "status", json_object_new_string("pending"));
    return o;
}

json_object *hd_dialect_partner_page(json_object *native, json_object *(*conv)(json_object *item, const char *tenant),
                                     const char *tenant) {
    static const char *const cursors[] = {"start_cursor", "end_cursor", "has_next_page", "has_previous_page"};
    json_object *o = json_object_new_object(), *items = json_object_new_array(), *data, *page = NULL;
    if (json_object_object_get_ex(native, "data", &data) && json_object_is_type(data, json_type_array))
        for (size_t i = 0; i < json_object_array_length(data); i++)
            json_object_array_add(items, conv(json_object_array_get_idx(data, i), tenant));
    json_object_object_add(o, "data", items);
    json_object_object_get_ex(native, "pagination", &page);
    for (size_t i = 0; i < sizeof(cursors) / sizeof(cursors[0]); i++)
        copy(o, cursors[i], page, cursors[i]);
    return o;
}

/* The partner's name of a native field or query parameter ("event_types[0]" included). */
static const char *partner_field(const char *native) {
    static const char *const map[][2] = {{"url", "endpoint_url"},
                                         {"event_types", "topic"},
                                         {"event_type", "topic"},
                                         {"secret", "secret_key"},
                                         {"data", "payload"}};
    size_t n = strcspn(native, "[");
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i][0]) == n && !strncmp(native, map[i][0], n)) return map[i][1];
    return native;
}

json_object *hd_dialect_partner_error(unsigned status, json_object *native) {
    static const struct {
        unsigned status;
        const char *code;
    } codes[] = {{400, "invalid_request"},    {401, "invalid_token"},          {403, "forbidden"},
                 {404, "not_found"},          {405, "method_not_allowed"},     {409, "conflict"},
                 {413, "payload_too_large"},  {415, "unsupported_media_type"}, {422, "unprocessable_entity"},
                 {503, "service_unavailable"}};
    const char *code = "internal_error";
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].status == status) code = codes[i].code;
    json_object *o = json_object_new_object(), *details = json_object_new_array(), *d;
    json_object_object_add(o, "error", json_object_new_string(code));
    copy(o, "message", native, "message");
    if (json_object_object_get_ex(native, "details", &d) && json_object_is_type(d, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(d); i++) {
            json_object *item = json_object_array_get_idx(d, i), *f, *e = json_object_new_object();
            const char *field = json_object_object_get_ex(item, "field", &f) ? json_object_get_string(f) : "";
            json_object_object_add(e, "field", json_object_new_string(partner_field(field)));
            copy(e, "message", item, "message");
            json_object_array_add(details, e);
        }
    }
    json_object_object_add(o, "details", details);
    return o;
}

int hd_dialect_partner_date(const char *in, char *out, size_t out_size) {
    int64_t ms;
    size_t len = strlen(in);
    if (len == 10) {
        char full[32];
        snprintf(full, sizeof(full), "%sT00:00:00Z", in);
        if (hd_rfc3339_parse(full, strlen(full), &ms)) return -1;
        snprintf(out, out_size, "%s", full);
        return 0;
    }
    if (hd_rfc3339_parse(in, len, &ms)) return -1;
    snprintf(out, out_size, "%s", in);
    return 0;
}

json_object *hd_dialect_partner_form(const char *body, size_t len) {
    json_object *o = json_object_new_object();
    char *text = hd_xstrndup(body, len), *save = NULL;
    if (strlen(text) != len) goto bad;
    for (char *pair = strtok_r(text, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq || eq == pair) goto bad;
        *eq = '\0';
        for (char *p = pair; *p; p++)
            if (*p == '+') *p = ' ';
        for (char *p = eq + 1; *p; p++)
            if (*p == '+') *p = ' ';
        size_t klen = MHD_http_unescape(pair), vlen = MHD_http_unescape(eq + 1);
        if (strlen(pair) != klen || strlen(eq + 1) != vlen || !hd_utf8_valid(pair, klen) ||
            !hd_utf8_valid(eq + 1, vlen) || json_object_object_get_ex(o, pair, NULL))
            goto bad;
        json_object_object_add(o, pair, json_object_new_string_len(eq + 1, (int)vlen));
    }
    free(text);
    return o;
bad:
    free(text);
    json_object_put(o);
    return NULL;
}
