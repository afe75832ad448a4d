#include "hookd/decode.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hookd/jpath.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

static const char *const reasons[] = {
    [HD_DECODE_OK] = "ok",
    [HD_DECODE_EMPTY] = "empty",
    [HD_DECODE_TOO_LARGE] = "too-large",
    [HD_DECODE_NOT_JSON] = "not-json",
    [HD_DECODE_NOT_OBJECT] = "not-object",
    [HD_DECODE_MISSING_ID] = "missing-id",
    [HD_DECODE_MISSING_TYPE] = "missing-type",
    [HD_DECODE_MISSING_TENANT] = "missing-tenant",
    [HD_DECODE_BAD_TIME] = "bad-time",
    [HD_DECODE_MISSING_SOURCE] = "missing-source",
    [HD_DECODE_BAD_SPECVERSION] = "bad-specversion",
    [HD_DECODE_BAD_HEADER] = "bad-header",
    [HD_DECODE_BAD_DATA] = "bad-data",
};

const char *hd_decode_reason(hd_decode_err_t err) {
    return reasons[err];
}

static const char *req_str(json_object *root, const char *key) {
    json_object *v;
    if (!json_object_object_get_ex(root, key, &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

/* The last header of that name (Kafka allows repeats; the last one wins, as in an HTTP field override). */
static const hd_decode_header_t *find_header(const hd_decode_header_t *hdrs, size_t cnt, const char *name) {
    for (size_t i = cnt; i-- > 0;)
        if (!strcasecmp(hdrs[i].name, name)) return &hdrs[i];
    return NULL;
}

/* Well-formed UTF-8 without NUL: header values and text data become JSON strings, which must stay valid. */
static int utf8_text(const unsigned char *s, size_t len) {
    return hd_utf8_valid((const char *)s, len) && !memchr(s, 0, len);
}

/* The media type of a content-type value, lower-cased, without parameters. */
static void media_type(const hd_decode_header_t *h, char *out, size_t out_size) {
    size_t n = 0;
    if (h && h->value)
        for (const char *p = h->value; p < (const char *)h->value + h->len && *p != ';' && n + 1 < out_size; p++)
            if (*p != ' ' && *p != '\t') out[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    out[n] = '\0';
}

static int is_json_media(const char *mt) {
    size_t n = strlen(mt);
    return !*mt || !strcmp(mt, "application/json") || !strcmp(mt, "text/json") ||
           (n > 5 && !strcmp(mt + n - 5, "+json"));
}

/* One parser per thread, reset per event: making and freeing one per event cost 4,000 instructions, 7% of the
 * decode. json-c's own UTF-8 check (JSON_TOKENER_VALIDATE_UTF8) is a function call per byte, 13,000 instructions
 * for a 1 KB event: the parser runs without it and json_c_utf8_ok does the same check a word at a time. A
 * message that either refuses is parsed again with json-c's check, which then decides, and says why. */
#define PARSE_FLAGS JSON_TOKENER_STRICT

static void *tokener_new(void) {
    json_tokener *tok = json_tokener_new();
    if (tok) json_tokener_set_flags(tok, PARSE_FLAGS);
    return tok;
}

static void tokener_free(void *tok) {
    json_tokener_free(tok);
}

static hd_per_thread_t tokener = HD_PER_THREAD(tokener_new, tokener_free);

/* 1 when JSON_TOKENER_VALIDATE_UTF8 lets every byte of s through: no byte of 0xf8 or more, no continuation byte
 * (10xxxxxx) where no sequence expects one, every lead byte (110xxxxx, 1110xxxx, 11110xxx) followed by its 1, 2 or
 * 3 continuation bytes. Like json-c, it lets overlong forms, surrogates and code points above U+10FFFF through
 * (tests/unit/test_decode.c compares the two). */
static int json_c_utf8_ok(const unsigned char *s, size_t len) {
    size_t i = 0;
    unsigned need = 0;
    while (i < len) {
        uint64_t w;
        while (!need && len - i >= 8 && (memcpy(&w, s + i, 8), !(w & 0x8080808080808080u)))
            i += 8;
        if (i == len) break;
        unsigned char c = s[i];
        if (need) {
            if ((c & 0xc0) != 0x80) return 0;
            need--;
        } else if (c >= 0x80) {
            if ((c & 0xe0) == 0xc0)
                need = 1;
            else if ((c & 0xf0) == 0xe0)
                need = 2;
            else if ((c & 0xf8) == 0xf0)
                need = 3;
            else
                return 0;
        }
        i++;
    }
    return 1; /* a sequence cut by the end: json-c refuses the byte after it, not one of these */
}

static json_object *parse_json(const void *value, size_t len, hd_decode_err_t *err, char *errstr, size_t errstr_size) {
    json_tokener *tok = hd_per_thread_get(&tokener);
    json_tokener_reset(tok);
    json_object *root = json_tokener_parse_ex(tok, value, (int)len);
    if (root && json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len &&
        json_c_utf8_ok(value, len))
        return root;
    json_object_put(root);
    json_tokener_reset(tok);
    json_tokener_set_flags(tok, PARSE_FLAGS | JSON_TOKENER_VALIDATE_UTF8);
    root = json_tokener_parse_ex(tok, value, (int)len);
    json_tokener_set_flags(tok, PARSE_FLAGS);
    /* The whole message must be one JSON value: trailing bytes or a truncated document are both errors. */
    if (!root || json_tokener_get_error(tok) != json_tokener_success || json_tokener_get_parse_end(tok) != len) {
        *err = HD_DECODE_NOT_JSON;
        enum json_tokener_error je = json_tokener_get_error(tok);
        snprintf(errstr, errstr_size, "not JSON: %s at byte %zu",
                 je == json_tokener_success ? "trailing data" : json_tokener_error_desc(je),
                 json_tokener_get_parse_end(tok));
        json_object_put(root);
        root = NULL;
    }
    return root;
}

/* ---- the common case without json-c's parser ----
 * json-c's parser reads a byte at a time: 20,000 instructions for a 1 KB event, on top of the objects it builds.
 * Messages in plain JSON (the whitespace, escapes and numbers that most producers write) are parsed here into the
 * same json-c objects, built with the same calls the parser makes; anything else (\u escapes, control characters in
 * strings, integers of 19 digits or more, NaN, nesting near json-c's limit, a scalar at the top) is declined and left
 * to json-c, which then decides. So nothing is accepted that json-c refuses, and what is accepted makes the same
 * tree (tests/unit/test_decode.c and the decode fuzz target compare the two).
 *
 * The same pass notes whether data's text is already what json-c writes for it (no whitespace, no escape json-c
 * writes otherwise, no repeated member, integers as json-c prints them): the event then keeps that text and render
 * copies it instead of writing data again (the payload of a 1 KB event then takes 4,000 instructions, not 9,200). */

#define FAST_MAX_DEPTH 24 /* json-c refuses 32 levels */
#define FAST_MAX_KEY 256

typedef struct fast_s {
    const char *p, *end;
    char *scratch;    /* decoded strings with escapes; as long as the message */
    size_t len;       /* of the message */
    int declined;     /* left to json-c */
    int canonical;    /* cleared at the first byte json-c writes otherwise */
    const char *data; /* the top object's member "data": its text, when that is json-c's form */
    size_t data_len;
} fast_t;

static json_object *fast_value(fast_t *f, int depth);

static void fast_ws(fast_t *f) {
    const char *p = f->p;
    while (p < f->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    if (p != f->p) f->canonical = 0;
    f->p = p;
}

/* After the opening quote: the string's bytes in *out (in the message, or in scratch until the next string when it
 * has escapes), the cursor past the closing quote. 0 when declined. */
static int fast_string(fast_t *f, const char **out, size_t *out_len) {
    const char *p = f->p;
    p += hd_json_plain_len(p, (size_t)(f->end - p));
    if (p < f->end && *p == '"') {
        *out = f->p;
        *out_len = (size_t)(p - f->p);
        f->p = p + 1;
        return 1;
    }
    if (!f->scratch) f->scratch = hd_xmalloc(f->len);
    size_t n = (size_t)(p - f->p);
    memcpy(f->scratch, f->p, n);
    while (p < f->end && *p != '"') {
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *esc = *p == '\\' && f->end - p >= 2 ? memchr(from, p[1], sizeof(from) - 1) : NULL;
        if (!esc) return 0; /* a control character or \u: json-c's */
        if (*esc == '/') f->canonical = 0;
        f->scratch[n++] = to[esc - from];
        p += 2;
        size_t run = hd_json_plain_len(p, (size_t)(f->end - p));
        memcpy(f->scratch + n, p, run);
        n += run;
        p += run;
    }
    if (p == f->end) return 0;
    *out = f->scratch;
    *out_len = n;
    f->p = p + 1;
    return 1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, which json-c reads as strtoll or strtod of its text: an integer
 * when it has neither fraction nor exponent (of 18 digits at most here: 19 may not fit), else a double that keeps
 * its text. What follows is the container's to check: json-c refuses "1.5.2" where this declines it. */
static json_object *fast_number(fast_t *f) {
    const char *start = f->p, *p = start + (*start == '-'), *digits = p;
    while (p < f->end && *p >= '0' && *p <= '9')
        p++;
    size_t int_len = (size_t)(p - digits);
    int is_double = 0;
    if (!int_len || (*digits == '0' && int_len > 1)) goto decline;
    if (p < f->end && *p == '.') {
        const char *frac = ++p;
        while (p < f->end && *p >= '0' && *p <= '9')
            p++;
        if (p == frac) goto decline;
        is_double = 1;
    }
    if (p < f->end && (*p == 'e' || *p == 'E')) {
        p += 1 + (p + 1 < f->end && (p[1] == '+' || p[1] == '-'));
        const char *exp = p;
        while (p < f->end && *p >= '0' && *p <= '9')
            p++;
        if (p == exp) goto decline;
        is_double = 1;
    }
    f->p = p;
    if (is_double) {
        char text[64];
        if ((size_t)(p - start) >= sizeof(text)) goto decline;
        memcpy(text, start, (size_t)(p - start));
        text[p - start] = '\0';
        return json_object_new_double_s(strtod(text, NULL), text); /* hookd leaves LC_NUMERIC at "C" */
    }
    if (int_len > 18) goto decline;
    int64_t v = 0;
    for (const char *d = digits; d < p; d++)
        v = v * 10 + (*d - '0');
    if (*start == '-' && !v) f->canonical = 0; /* "-0" is printed "0" */
    return json_object_new_int64(*start == '-' ? -v : v);
decline:
    f->declined = 1;
    return NULL;
}

static int fast_literal(fast_t *f, const char *lit, size_t n) {
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, lit, n)) {
        f->declined = 1;
        return 0;
    }
    f->p += n;
    return 1;
}

/* After '{' or '[': the members or elements up to the closing bracket. */
static json_object *fast_container(fast_t *f, int depth, int object) {
    json_object *c = object ? json_object_new_object() : json_object_new_array();
    int members = 0;
    fast_ws(f);
    if (f->p < f->end && *f->p == (object ? '}' : ']')) {
        f->p++;
        return c;
    }
    for (;;) {
        char key[FAST_MAX_KEY];
        if (object) {
            const char *k;
            size_t k_len;
            if (f->p == f->end || *f->p != '"') goto decline;
            f->p++;
            if (!fast_string(f, &k, &k_len) || k_len >= sizeof(key)) goto decline;
            memcpy(key, k, k_len);
            key[k_len] = '\0';
            fast_ws(f);
            if (f->p == f->end || *f->p != ':') goto decline;
            f->p++;
            fast_ws(f);
        }
        const char *v_text = f->p;
        int is_data = object && !depth && !strcmp(key, "data");
        if (is_data) f->canonical = 1;
        json_object *v = fast_value(f, depth + 1);
        if (f->declined) goto decline;
        if (is_data) { /* the last one, as json-c keeps */
            f->data = f->canonical ? v_text : NULL;
            f->data_len = (size_t)(f->p - v_text);
        }
        if (object)
            json_object_object_add(c, key, v);
        else
            json_object_array_add(c, v);
        members++;
        fast_ws(f);
        if (f->p == f->end) goto decline;
        if (*f->p++ != ',') break;
        fast_ws(f);
    }
    if (f->p[-1] != (object ? '}' : ']')) goto decline;
    if (object && json_object_object_length(c) != members) f->canonical = 0; /* json-c kept one of a repeated name */
    return c;
decline:
    f->declined = 1;
    json_object_put(c);
    return NULL;
}

static json_object *fast_value(fast_t *f, int depth) {
    const char *s;
    size_t n;
    if (f->p == f->end || depth > FAST_MAX_DEPTH) {
        f->declined = 1;
        return NULL;
    }
    switch (*f->p) {
    case '{':
    case '[':
        return fast_container(f, depth, *f->p++ == '{');
    case '"':
        f->p++;
        if (fast_string(f, &s, &n)) return json_object_new_string_len(s, (int)n);
        f->declined = 1;
        return NULL;
    case 't':
        return fast_literal(f, "true", 4) ? json_object_new_boolean(1) : NULL;
    case 'f':
        return fast_literal(f, "false", 5) ? json_object_new_boolean(0) : NULL;
    case 'n':
        fast_literal(f, "null", 4);
        return NULL;
    default:
        return fast_number(f);
    }
}

/* The message parsed as json-c parses it, or NULL when declined. *json is set to the text of the top object's data
 * (top_data), or of the whole message (else), when that is in json-c's form; else to NULL. */
static json_object *fast_parse(const char *text, size_t len, int top_data, const char **json, size_t *json_len) {
    fast_t f = {.p = text, .end = text + len, .len = len, .canonical = 1};
    json_object *root = NULL;
    *json = NULL;
    fast_ws(&f);
    /* json-c takes a number or a literal at the top only once something follows it */
    if (f.p < f.end && (*f.p == '{' || *f.p == '[' || *f.p == '"'))
        root = fast_value(&f, 0);
    else
        f.declined = 1;
    fast_ws(&f);
    free(f.scratch);
    if (f.declined || f.p != f.end || !json_c_utf8_ok((const unsigned char *)text, len)) {
        json_object_put(root);
        return NULL;
    }
    if (top_data ? f.data != NULL : f.canonical) {
        *json = top_data ? f.data : text;
        *json_len = top_data ? f.data_len : len;
    }
    return root;
}

/* Binary mode: the CloudEvents JSON view built from the ce_* headers and the value; *data_json as fast_parse sets
 * it when data is the value parsed as JSON. */
static json_object *binary_root(const void *value, size_t len, const hd_decode_header_t *hdrs, size_t cnt,
                                const char **data_json, size_t *data_json_len, hd_decode_err_t *err, char *errstr,
                                size_t errstr_size) {
    json_object *root = json_object_new_object(), *data = NULL;
    for (size_t i = 0; i < cnt; i++) {
        const char *name = hdrs[i].name;
        if (strncasecmp(name, "ce_", 3) || !name[3]) continue;
        if (!hdrs[i].value || !utf8_text(hdrs[i].value, hdrs[i].len)) {
            *err = HD_DECODE_BAD_HEADER;
            snprintf(errstr, errstr_size, "header %.*s is null or not UTF-8 text",
                     (int)hd_utf8_prefix(name, strlen(name), 64), name);
            goto fail;
        }
        char attr[128];
        size_t n = 0;
        for (const char *p = name + 3; *p && n + 1 < sizeof(attr); p++)
            attr[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        attr[n] = '\0';
        json_object_object_add(root, attr, json_object_new_string_len(hdrs[i].value, (int)hdrs[i].len));
    }
    char mt[128];
    const hd_decode_header_t *ct = find_header(hdrs, cnt, "content-type");
    media_type(ct, mt, sizeof(mt));
    if (ct && ct->value && utf8_text(ct->value, ct->len))
        json_object_object_add(root, "datacontenttype", json_object_new_string_len(ct->value, (int)ct->len));
    if (len == 0) return root; /* an event without data */
    if (is_json_media(mt)) {
        if (!(data = fast_parse(value, len, 0, data_json, data_json_len)) &&
            !(data = parse_json(value, len, err, errstr, errstr_size)))
            goto fail;
    } else if ((!strncmp(mt, "text/", 5) || !strcmp(mt, "application/xml")) && utf8_text(value, len)) {
        data = json_object_new_string_len(value, (int)len);
    } else {
        /* Binary data: the CloudEvents JSON format carries it as base64 in data_base64. */
        size_t size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = hd_xmalloc(size);
        sodium_bin2base64(b64, size, value, len, sodium_base64_VARIANT_ORIGINAL);
        json_object_object_add(root, "data_base64", json_object_new_string_len(b64, (int)size - 1));
        free(b64);
        return root;
    }
    json_object_object_add(root, "data", data);
    return root;

fail:
    json_object_put(root);
    return NULL;
}

/* A JSON string of standard base64 (RFC 4648 section 4, padded), as the CloudEvents JSON format's data_base64. */
static int base64_text(json_object *v) {
    if (!json_object_is_type(v, json_type_string)) return 0;
    size_t len = (size_t)json_object_get_string_len(v), bin_len;
    unsigned char *bin = hd_xmalloc(len / 4 * 3 + 3);
    int rc = sodium_base642bin(bin, len / 4 * 3 + 3, json_object_get_string(v), len, NULL, &bin_len, NULL,
                               sodium_base64_VARIANT_ORIGINAL);
    free(bin);
    return rc == 0;
}

/* The common part of every shape: required attributes, tenant, time, data, status. Takes ownership of root.
 * data_json (data_json_len bytes, or NULL) is the text of root's data in json-c's form, copied into the event. */
static hd_event_t *finish(json_object *root, hd_decode_mode_t mode, const hd_decode_header_t *hdrs, size_t hdr_cnt,
                          const char *data_json, size_t data_json_len, const hd_decode_opts_t *opts,
                          int64_t kafka_ts_ms, hd_decode_err_t *err, char *errstr, size_t errstr_size) {
    json_object *v;
    hd_event_t *ev = NULL;
    if (!json_object_is_type(root, json_type_object)) {
        *err = HD_DECODE_NOT_OBJECT;
        snprintf(errstr, errstr_size, "event is a JSON %s, not an object",
                 json_type_to_name(json_object_get_type(root)));
        goto fail;
    }
    if (mode == HD_DECODE_ENVELOPE && json_object_object_get_ex(root, "specversion", NULL))
        mode = HD_DECODE_CE_STRUCTURED;
    ev = hd_xmalloc(sizeof(*ev) + (data_json ? data_json_len : 0)); /* calloc would clear the text's room too */
    *ev = (hd_event_t){.root = root};
    ev->mode = mode;
    if (!(ev->id = req_str(root, "id"))) {
        *err = HD_DECODE_MISSING_ID;
        snprintf(errstr, errstr_size, "event has no string \"id\"");
        goto fail;
    }
    if (!(ev->type = req_str(root, "type"))) {
        *err = HD_DECODE_MISSING_TYPE;
        snprintf(errstr, errstr_size, "event %s has no string \"type\"", ev->id);
        goto fail;
    }
    ev->source = req_str(root, "source");
    if (mode != HD_DECODE_ENVELOPE) {
        const char *sv = req_str(root, "specversion");
        if (!sv || strcmp(sv, "1.0")) {
            *err = HD_DECODE_BAD_SPECVERSION;
            snprintf(errstr, errstr_size, "CloudEvent %s: specversion must be \"1.0\"", ev->id);
            goto fail;
        }
        if (!ev->source) {
            *err = HD_DECODE_MISSING_SOURCE;
            snprintf(errstr, errstr_size, "CloudEvent %s has no \"source\"", ev->id);
            goto fail;
        }
        if (json_object_object_get_ex(root, "data_base64", &v) && !json_object_is_type(v, json_type_null)) {
            if (!base64_text(v) || json_object_object_get_ex(root, "data", NULL)) {
                *err = HD_DECODE_BAD_DATA;
                snprintf(errstr, errstr_size, "CloudEvent %s: data_base64 must be a base64 string, without data",
                         ev->id);
                goto fail;
            }
            ev->data_base64 = v;
        }
    }
    if (!(ev->tenant = req_str(root, opts->tenant_attribute)) && opts->tenant_header && *opts->tenant_header) {
        const hd_decode_header_t *h = find_header(hdrs, hdr_cnt, opts->tenant_header);
        if (h && h->value && h->len && utf8_text(h->value, h->len))
            ev->tenant = ev->tenant_buf = hd_xstrndup(h->value, h->len);
    }
    if (!ev->tenant) {
        *err = HD_DECODE_MISSING_TENANT;
        snprintf(errstr, errstr_size, "event %s has no string \"%s\"%s%s", ev->id, opts->tenant_attribute,
                 opts->tenant_header && *opts->tenant_header ? " nor a header " : "",
                 opts->tenant_header ? opts->tenant_header : "");
        goto fail;
    }
    ev->time_ms = kafka_ts_ms > 0 ? kafka_ts_ms : hd_now_ms();
    if (json_object_object_get_ex(root, "time", &v) && !json_object_is_type(v, json_type_null) &&
        (!json_object_is_type(v, json_type_string) ||
         hd_rfc3339_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &ev->time_ms))) {
        *err = HD_DECODE_BAD_TIME;
        snprintf(errstr, errstr_size, "event %s: \"time\" is not an RFC 3339 time", ev->id);
        goto fail;
    }
    if (json_object_object_get_ex(root, "data", &v)) ev->data = v;
    if (data_json && !ev->data_base64) {
        ev->data_json = memcpy(ev + 1, data_json, data_json_len);
        ev->data_json_len = data_json_len;
    }
    if (opts->status_field && *opts->status_field && (v = hd_jpath_get(root, opts->status_field)) &&
        !json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array))
        ev->status = json_object_get_string(v);
    *err = HD_DECODE_OK;
    return ev;

fail:
    if (ev)
        hd_decode_event_destroy(ev);
    else
        json_object_put(root);
    return NULL;
}

hd_event_t *hd_decode_event(const void *value, size_t len, const hd_decode_header_t *hdrs, size_t hdr_cnt,
                            const hd_decode_opts_t *opts, int64_t kafka_ts_ms, hd_decode_err_t *err, char *errstr,
                            size_t errstr_size) {
    json_object *root = NULL;
    hd_decode_mode_t mode = find_header(hdrs, hdr_cnt, "ce_specversion") ? HD_DECODE_CE_BINARY : HD_DECODE_ENVELOPE;
    const char *data_json = NULL;
    size_t data_json_len = 0;
    if (len > opts->max_bytes) {
        *err = HD_DECODE_TOO_LARGE;
        snprintf(errstr, errstr_size, "event of %zu bytes exceeds event.max.bytes (%zu)", len, opts->max_bytes);
        return NULL;
    }
    if (mode == HD_DECODE_CE_BINARY) {
        if (!(root = binary_root(value, len, hdrs, hdr_cnt, &data_json, &data_json_len, err, errstr, errstr_size)))
            return NULL;
    } else {
        if (!value || len == 0) {
            *err = HD_DECODE_EMPTY;
            snprintf(errstr, errstr_size, "empty message");
            return NULL;
        }
        if (!(root = fast_parse(value, len, 1, &data_json, &data_json_len)) &&
            !(root = parse_json(value, len, err, errstr, errstr_size)))
            return NULL;
        char mt[128];
        media_type(find_header(hdrs, hdr_cnt, "content-type"), mt, sizeof(mt));
        if (!strcmp(mt, "application/cloudevents+json")) mode = HD_DECODE_CE_STRUCTURED;
    }
    return finish(root, mode, hdrs, hdr_cnt, data_json, data_json_len, opts, kafka_ts_ms, err, errstr, errstr_size);
}

hd_event_t *hd_decode_envelope(json_object *root, const hd_decode_opts_t *opts, int64_t kafka_ts_ms,
                               hd_decode_err_t *err, char *errstr, size_t errstr_size) {
    return finish(root, HD_DECODE_ENVELOPE, NULL, 0, NULL, 0, opts, kafka_ts_ms, err, errstr, errstr_size);
}

json_object *hd_decode_to_envelope(const hd_event_t *ev, const hd_decode_opts_t *opts) {
    char time[40];
    json_object *o = json_object_new_object();
    json_object_object_foreach(ev->root, k, v) json_object_object_add(o, k, json_object_get(v));
    hd_rfc3339_format(ev->time_ms, time);
    json_object_object_add(o, "time", json_object_new_string(time));
    json_object_object_add(o, opts->tenant_attribute, json_object_new_string(ev->tenant));
    return o;
}

void hd_decode_event_destroy(hd_event_t *ev) {
    if (!ev) return;
    json_object_put(ev->root);
    free(ev->tenant_buf);
    free(ev);
}
