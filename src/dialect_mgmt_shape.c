#include "hookd/dialect_mgmt_shape.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "hookd/api_json.h"
#include "hookd/dialect.h"
#include "hookd/utf8.h"

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

json_object *hd_dialect_mgmt_shape_subscription(json_object *native, const char *secret, const char *user_id) {
    json_object *o = json_object_new_object(), *types, *last4 = hd_dialect_member(native, "secret_last_4"), *headers;
    char masked[32];
    for (int i = 0; sub_map[i][0]; i++) {
        const char *name = sub_map[i][0];
        json_object *v = sub_map[i][1] ? hd_dialect_member(native, sub_map[i][1]) : NULL;
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

json_object *hd_dialect_mgmt_shape_event(json_object *native, int64_t sub_alias) {
    json_object *o = json_object_new_object();
    for (int i = 0; event_map[i][0]; i++) {
        const char *name = event_map[i][0];
        json_object *v = event_map[i][1] ? json_object_get(hd_dialect_member(native, event_map[i][1])) : NULL;
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

int hd_dialect_mgmt_shape_native_body(json_object *sub, json_object **native, char *why, size_t why_size) {
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
    if (!(v = hd_dialect_member(sub, "url"))) {
        snprintf(why, why_size, "url: required");
        goto fail;
    }
    json_object_object_add(n, "url", json_object_get(v));
    if (!(v = hd_dialect_member(sub, "eventType"))) {
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
    v = hd_dialect_member(sub, "name");
    json_object_object_add(n, "name", v ? json_object_get(v) : json_object_new_string(""));
    v = hd_dialect_member(sub, "maxRetryCount");
    json_object_object_add(n, "max_retry_count", v ? json_object_get(v) : json_object_new_int(5));
    v = hd_dialect_member(sub, "isActive");
    json_object_object_add(n, "is_active", v ? json_object_get(v) : json_object_new_boolean(1));
    /* headers: an object, or the JSON text of one (as replies show them). */
    json_object *headers = NULL;
    v = hd_dialect_member(sub, "headers");
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
    if ((v = hd_dialect_member(sub, "secret"))) {
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

const char *hd_dialect_mgmt_shape_field(hd_mgmt_kind_t kind, const char *name, size_t len) {
    for (const char *const(*f)[2] = kind == HD_MGMT_EVENTS ? event_map : sub_map; (*f)[0]; f++)
        if (strlen((*f)[0]) == len && !strncmp((*f)[0], name, len)) return (*f)[0];
    return NULL;
}

const char *hd_dialect_mgmt_shape_name(const char *native) {
    size_t len = strcspn(native, "[");
    for (int i = 0; sub_map[i][0]; i++)
        if (sub_map[i][1] && strlen(sub_map[i][1]) == len && !strncmp(sub_map[i][1], native, len)) return sub_map[i][0];
    return native;
}
