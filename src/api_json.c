#include "hookd/api_json.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/rfc3339.h"

/* The code unit of the 4 hex digits at s (n bytes available), or 0x10000 when they are not 4 hex digits. */
static unsigned hex4(const char *s, size_t n) {
    char digits[5] = "";
    if (n < 4) return 0x10000;
    memcpy(digits, s, 4);
    for (int i = 0; i < 4; i++)
        if (!isxdigit((unsigned char)digits[i])) return 0x10000;
    return (unsigned)strtoul(digits, NULL, 16);
}

/* What json-c 0.16 accepts even with JSON_TOKENER_STRICT but RFC 8259 does not: single-quoted strings, NaN and
 * Infinity, raw control characters in strings, and \u escapes of lone UTF-16 surrogates (which json-c would store
 * as U+FFFD). NULL when text has none of them, else the reason. */
static const char *beyond_json_c(const char *text, size_t len) {
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (!in_string) {
            if (c == '"')
                in_string = 1;
            else if (c == '\'')
                return "single-quoted strings are not JSON";
            else if (c == 'N' || c == 'I')
                return "NaN and Infinity are not JSON numbers"; /* no other token has them */
            continue;
        }
        if (c == '"') {
            in_string = 0;
        } else if (c < 0x20) {
            return "a control character in a string must be escaped";
        } else if (c == '\\' && i + 1 < len && text[++i] == 'u') {
            unsigned cu = hex4(text + i + 1, len - i - 1);
            if (cu >= 0xd800 && cu <= 0xdbff && i + 6 < len && text[i + 5] == '\\' && text[i + 6] == 'u') {
                unsigned low = hex4(text + i + 7, len - i - 7);
                if (low >= 0xdc00 && low <= 0xdfff) {
                    i += 10;
                    continue;
                }
            }
            if (cu >= 0xd800 && cu <= 0xdfff) return "a \\u escape of a lone UTF-16 surrogate is not a character";
            i += 4;
        }
    }
    return NULL;
}

/* 1 when every number in v is finite (json-c reads 1e999 as infinity). */
static int finite_numbers(json_object *v) {
    if (json_object_is_type(v, json_type_double)) return isfinite(json_object_get_double(v));
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, child) {
            (void)k;
            if (!finite_numbers(child)) return 0;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!finite_numbers(json_object_array_get_idx(v, i))) return 0;
    }
    return 1;
}

int hd_api_json_parse(const char *text, size_t len, json_object **out, char *why, size_t why_size) {
    const char *bad = beyond_json_c(text, len);
    *out = NULL;
    if (bad) {
        snprintf(why, why_size, "%s", bad);
        return -1;
    }
    json_tokener *tok = json_tokener_new_ex(32);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    /* The terminating NUL goes in too: it ends a bare top-level value such as null or 42. */
    json_object *v = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (used > len) used = len;
    while (used < len && text[used] && strchr(" \t\r\n", text[used]))
        used++;
    if (jerr != json_tokener_success || used != len) {
        snprintf(why, why_size, "%s",
                 jerr == json_tokener_success    ? "unexpected data after the value"
                 : jerr == json_tokener_continue ? "unexpected end of input"
                                                 : json_tokener_error_desc(jerr));
        json_object_put(v);
        return -1;
    }
    if (!finite_numbers(v)) {
        snprintf(why, why_size, "a number is out of range");
        json_object_put(v);
        return -1;
    }
    *out = v;
    return 0;
}

static json_object *plain(json_object *v) {
    json_object *d, *n;
    if (json_object_is_type(v, json_type_object)) {
        if (json_object_object_get_ex(v, "$date", &d)) {
            /* One format for every date: libbson writes whole seconds without milliseconds. */
            char iso[40];
            int64_t ms = 0;
            if (json_object_is_type(d, json_type_string))
                hd_rfc3339_parse(json_object_get_string(d), (size_t)json_object_get_string_len(d), &ms);
            else if (json_object_object_get_ex(d, "$numberLong", &n))
                ms = strtoll(json_object_get_string(n), NULL, 10);
            else
                ms = json_object_get_int64(d);
            hd_rfc3339_format(ms, iso);
            return json_object_new_string(iso);
        }
        if (json_object_object_get_ex(v, "$numberLong", &n))
            return json_object_new_int64(strtoll(json_object_get_string(n), NULL, 10));
        json_object *o = json_object_new_object();
        json_object_object_foreach(v, k, child) json_object_object_add(o, k, plain(child));
        return o;
    }
    if (json_object_is_type(v, json_type_array)) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < json_object_array_length(v); i++)
            json_object_array_add(a, plain(json_object_array_get_idx(v, i)));
        return a;
    }
    return json_object_get(v);
}

json_object *hd_api_json_from_bson(const bson_t *doc) {
    char *js = bson_as_relaxed_extended_json(doc, NULL);
    json_object *raw = js ? json_tokener_parse(js) : NULL, *out = json_object_new_object();
    bson_free(js);
    if (raw) {
        json_object_object_foreach(raw, k, v) json_object_object_add(out, strcmp(k, "_id") ? k : "id", plain(v));
    }
    json_object_put(raw);
    return out;
}

int hd_api_json_storable(json_object *v) {
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, child) {
            if (!*k || *k == '$' || strchr(k, '.') || !hd_api_json_storable(child)) return 0;
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (!hd_api_json_storable(json_object_array_get_idx(v, i))) return 0;
    } else if (json_object_is_type(v, json_type_string)) {
        return strlen(json_object_get_string(v)) == (size_t)json_object_get_string_len(v);
    }
    return 1;
}

void hd_api_json_append_text(bson_t *b, const char *key, json_object *v) {
    if (!v || json_object_is_type(v, json_type_null))
        BSON_APPEND_NULL(b, key);
    else
        BSON_APPEND_UTF8(b, key, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

json_object *hd_api_json_text_value(json_object *stored) {
    if (json_object_is_type(stored, json_type_string)) return json_tokener_parse(json_object_get_string(stored));
    return json_object_get(stored);
}

void hd_api_json_append(bson_t *b, const char *key, json_object *v) {
    switch (json_object_get_type(v)) {
    case json_type_null:
        bson_append_null(b, key, -1);
        break;
    case json_type_boolean:
        bson_append_bool(b, key, -1, json_object_get_boolean(v));
        break;
    case json_type_double:
        bson_append_double(b, key, -1, json_object_get_double(v));
        break;
    case json_type_int:
        bson_append_int64(b, key, -1, json_object_get_int64(v));
        break;
    case json_type_string:
        bson_append_utf8(b, key, -1, json_object_get_string(v), json_object_get_string_len(v));
        break;
    case json_type_object: {
        bson_t child;
        bson_append_document_begin(b, key, -1, &child);
        json_object_object_foreach(v, k, c) hd_api_json_append(&child, k, c);
        bson_append_document_end(b, &child);
        break;
    }
    case json_type_array: {
        bson_t child;
        char idx[24];
        bson_append_array_begin(b, key, -1, &child);
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            snprintf(idx, sizeof(idx), "%zu", i);
            hd_api_json_append(&child, idx, json_object_array_get_idx(v, i));
        }
        bson_append_array_end(b, &child);
        break;
    }
    }
}
