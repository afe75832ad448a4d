#include "hookd/render.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/jpath.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

#define TMPL_MAX_DEPTH 64
#define TO_JSON (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* An output buffer that stops growing past its limit (a template can multiply a large event). */
typedef struct {
    char *p;
    size_t len, cap, max;
    int over;
} buf_t;

static void put(void *out, const char *s, size_t n) {
    buf_t *b = out;
    if (b->over || b->len + n > b->max) {
        b->over = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        /* 4 KB at first: a usual payload without growing (three reallocs were 1,700 instructions a render) */
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 4096;
        b->p = hd_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(buf_t *b, const char *s) {
    put(b, s, strlen(s));
}

/* Text as a JSON string literal, escaped as json-c does (without a json-c object per string). */
static void put_string(buf_t *b, const char *s, size_t len) {
    hd_json_string(s, len, put, b);
}

/* A value as json-c serialises it. json-c keeps the text it serialises in the object serialised, for the object's
 * lifetime: serialised directly, an event's data would carry a second copy of itself until its deliveries finish.
 * Serialised inside a short-lived array, the copy goes with the array. */
static void put_json_c(buf_t *b, json_object *v) {
    json_object *wrap = json_object_new_array_ext(1);
    json_object_array_add(wrap, json_object_get(v));
    size_t n;
    const char *s = json_object_to_json_string_length(wrap, TO_JSON, &n);
    put(b, s + 1, n - 2); /* without the brackets */
    json_object_put(wrap);
}

/* A value as JSON text, byte for byte what json-c writes (tests/unit/test_render.c); NULL (missing or JSON null) as
 * null. Objects, arrays, strings, booleans and integers are written here: json-c's round trip through a wrapper
 * array and its print buffer was 16,000 instructions for the data of a 1 KB event, this walk a third of it. Doubles
 * (json-c keeps their original text) and integers above INT64_MAX go through json-c. */
static void put_value(buf_t *b, json_object *v) {
    char num[HD_INT64_TEXT];
    int64_t i;
    switch (json_object_get_type(v)) {
    case json_type_null:
        put(b, "null", 4);
        return;
    case json_type_boolean:
        if (json_object_get_boolean(v))
            put(b, "true", 4);
        else
            put(b, "false", 5);
        return;
    case json_type_int:
        if ((i = json_object_get_int64(v)) == INT64_MAX) break; /* perhaps a larger unsigned one */
        put(b, num, hd_int64_text(i, num));
        return;
    case json_type_string:
        put_string(b, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        return;
    case json_type_object: {
        int first = 1;
        put(b, "{", 1);
        json_object_object_foreach(v, key, val) {
            if (!first) put(b, ",", 1);
            first = 0;
            put_string(b, key, strlen(key));
            put(b, ":", 1);
            put_value(b, val);
        }
        put(b, "}", 1);
        return;
    }
    case json_type_array:
        put(b, "[", 1);
        for (size_t k = 0, n = json_object_array_length(v); k < n; k++) {
            if (k) put(b, ",", 1);
            put_value(b, json_object_array_get_idx(v, k));
        }
        put(b, "]", 1);
        return;
    case json_type_double:
        break;
    }
    put_json_c(b, v);
}

/* ---- templates ---- */

typedef enum { P_TEXT, P_REF, P_INTERP } piece_kind_t;

typedef struct {
    piece_kind_t kind;
    char *text; /* P_TEXT: JSON text; P_REF: the path; P_INTERP: the template string */
    size_t len;
} piece_t;

struct hd_render_tmpl_s {
    piece_t *pieces;
    int cnt;
};

static void add_piece(hd_render_tmpl_t *t, piece_kind_t kind, const char *text, size_t len) {
    t->pieces = hd_xrealloc(t->pieces, sizeof(*t->pieces) * (size_t)(t->cnt + 1));
    t->pieces[t->cnt++] = (piece_t){kind, hd_xstrndup(text, len), len};
}

static void flush_text(hd_render_tmpl_t *t, buf_t *lit) {
    if (!lit->len) return;
    add_piece(t, P_TEXT, lit->p, lit->len);
    lit->len = 0;
}

/* Finds the next placeholder of s at or after *pos: sets [*ps, *pe) to its trimmed path and *pos past it.
 * Returns 1 when found, 0 at the end, -1 when malformed. */
static int next_placeholder(const char *s, size_t len, size_t *pos, size_t *open, size_t *ps, size_t *pe) {
    const char *o = *pos < len ? strstr(s + *pos, "{{") : NULL;
    if (!o || (size_t)(o - s) >= len) return 0;
    const char *c = strstr(o + 2, "}}");
    if (!c) return -1;
    size_t a = (size_t)(o - s) + 2, z = (size_t)(c - s);
    while (a < z && s[a] == ' ')
        a++;
    while (z > a && s[z - 1] == ' ')
        z--;
    if (a == z || memchr(s + a, '{', z - a)) return -1;
    *open = (size_t)(o - s);
    *ps = a;
    *pe = z;
    *pos = (size_t)(c - s) + 2;
    return 1;
}

static int compile(hd_render_tmpl_t *t, buf_t *lit, json_object *v, int depth, char *errstr, size_t errstr_size) {
    if (depth > TMPL_MAX_DEPTH) {
        snprintf(errstr, errstr_size, "payload_template nests deeper than %d levels", TMPL_MAX_DEPTH);
        return -1;
    }
    switch (json_object_get_type(v)) {
    case json_type_object: {
        int first = 1;
        puts_(lit, "{");
        json_object_object_foreach(v, key, val) {
            if (!first) puts_(lit, ",");
            first = 0;
            put_string(lit, key, strlen(key));
            puts_(lit, ":");
            if (compile(t, lit, val, depth + 1, errstr, errstr_size)) return -1;
        }
        puts_(lit, "}");
        return 0;
    }
    case json_type_array:
        puts_(lit, "[");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            if (i) puts_(lit, ",");
            if (compile(t, lit, json_object_array_get_idx(v, i), depth + 1, errstr, errstr_size)) return -1;
        }
        puts_(lit, "]");
        return 0;
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v), pos = 0, open, ps, pe;
        int found = 0, rc;
        while ((rc = next_placeholder(s, len, &pos, &open, &ps, &pe)) == 1)
            found++;
        if (rc < 0) {
            snprintf(errstr, errstr_size, "payload_template: malformed placeholder in \"%.*s\" (expected {{path}})",
                     (int)hd_utf8_prefix(s, len, 80), s);
            return -1;
        }
        if (!found) {
            put_value(lit, v);
            return 0;
        }
        flush_text(t, lit);
        pos = 0;
        next_placeholder(s, len, &pos, &open, &ps, &pe);
        if (found == 1 && open == 0 && pos == len)
            add_piece(t, P_REF, s + ps, pe - ps);
        else
            add_piece(t, P_INTERP, s, len);
        return 0;
    }
    default:
        put_value(lit, v);
        return 0;
    }
}

hd_render_tmpl_t *hd_render_tmpl_new(json_object *tmpl, char *errstr, size_t errstr_size) {
    hd_render_tmpl_t *t = hd_xcalloc(1, sizeof(*t));
    buf_t lit = {.max = SIZE_MAX};
    if (compile(t, &lit, tmpl, 0, errstr, errstr_size)) {
        hd_render_tmpl_destroy(t);
        t = NULL;
    } else {
        flush_text(t, &lit);
    }
    free(lit.p);
    return t;
}

void hd_render_tmpl_destroy(hd_render_tmpl_t *t) {
    if (!t) return;
    for (int i = 0; i < t->cnt; i++)
        free(t->pieces[i].text);
    free(t->pieces);
    free(t);
}

static json_object *lookup(const hd_event_t *ev, const char *path, size_t len) {
    char p[512];
    if (len >= sizeof(p)) return NULL;
    memcpy(p, path, len);
    p[len] = '\0';
    return hd_jpath_get(ev->root, p);
}

static void render_interp(buf_t *out, const hd_event_t *ev, const piece_t *pc) {
    buf_t text = {.max = out->max};
    size_t pos = 0, last = 0, open, ps, pe;
    while (next_placeholder(pc->text, pc->len, &pos, &open, &ps, &pe) == 1) {
        put(&text, pc->text + last, open - last);
        json_object *v = lookup(ev, pc->text + ps, pe - ps);
        if (json_object_is_type(v, json_type_string))
            put(&text, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        else if (v)
            put_value(&text, v);
        last = pos;
    }
    put(&text, pc->text + last, pc->len - last);
    if (text.over)
        out->over = 1;
    else
        put_string(out, text.p ? text.p : "", text.len);
    free(text.p);
}

static void render_template(buf_t *b, const hd_render_tmpl_t *t, const hd_event_t *ev) {
    for (int i = 0; i < t->cnt && !b->over; i++) {
        const piece_t *pc = &t->pieces[i];
        switch (pc->kind) {
        case P_TEXT:
            put(b, pc->text, pc->len);
            break;
        case P_REF:
            put_value(b, lookup(ev, pc->text, pc->len));
            break;
        case P_INTERP:
            render_interp(b, ev, pc);
            break;
        }
    }
}

/* ---- built-in shapes ---- */

static void put_member(buf_t *b, const char *sep_key, const char *s) {
    puts_(b, sep_key);
    put_string(b, s, strlen(s));
}

/* A CloudEvents attribute name (lower-case ASCII letters and digits) that the members written by render_builtin do not
 * already cover. */
static int extension_name(const char *k) {
    static const char *const own[] = {"specversion", "id", "type", "source", "time", "datacontenttype", "data"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        if (!strcmp(k, own[i])) return 0;
    if (!*k) return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9'))) return 0;
    return 1;
}

/* subject, dataschema and extensions: the CloudEvent's other attributes, which are strings, numbers or booleans. */
static void put_attributes(buf_t *b, const hd_event_t *ev) {
    json_object_object_foreach(ev->root, k, v) {
        json_type t = json_object_get_type(v);
        if ((t != json_type_string && t != json_type_int && t != json_type_boolean) || !extension_name(k)) continue;
        puts_(b, ",");
        put_string(b, k, strlen(k));
        puts_(b, ":");
        put_value(b, v);
    }
}

static void render_builtin(buf_t *b, const hd_event_t *ev, int version) {
    char ts[40];
    hd_rfc3339_format(ev->time_ms, ts);
    if (version == 2) {
        json_object *ct = NULL;
        json_object_object_get_ex(ev->root, "datacontenttype", &ct);
        char source[300];
        if (!ev->source)
            snprintf(source, sizeof(source), "/hookd/tenants/%.*s",
                     (int)hd_utf8_prefix(ev->tenant, strlen(ev->tenant), 256), ev->tenant);
        put_member(b, "{\"specversion\":\"1.0\",\"id\":", ev->id);
        put_member(b, ",\"type\":", ev->type);
        put_member(b, ",\"source\":", ev->source ? ev->source : source);
        put_member(b, ",\"time\":", ts);
        put_member(b, ",\"datacontenttype\":",
                   json_object_is_type(ct, json_type_string) ? json_object_get_string(ct)
                   : ev->data_base64                         ? "application/octet-stream"
                                                             : "application/json");
        if (ev->mode != HD_DECODE_ENVELOPE) put_attributes(b, ev);
        if (ev->data_base64) {
            puts_(b, ",\"data_base64\":");
            put_value(b, ev->data_base64);
            puts_(b, "}");
            return;
        }
    } else {
        put_member(b, "{\"type\":", ev->type);
        put_member(b, ",\"timestamp\":", ts);
    }
    /* Version 1 has only data: binary data goes there as its base64 text. */
    puts_(b, ",\"data\":");
    put_value(b, ev->data_base64 ? ev->data_base64 : ev->data);
    puts_(b, "}");
}

hd_render_body_t *hd_render_payload(const hd_event_t *ev, int version, const hd_render_tmpl_t *tmpl, size_t max_bytes,
                                    char *errstr, size_t errstr_size) {
    buf_t b = {.max = max_bytes};
    if (tmpl)
        render_template(&b, tmpl, ev);
    else
        render_builtin(&b, ev, version);
    if (b.over) {
        snprintf(errstr, errstr_size, "rendered payload exceeds render.max.bytes (%zu bytes)", max_bytes);
        free(b.p);
        return NULL;
    }
    hd_render_body_t *body = hd_xmalloc(sizeof(*body) + b.len + 1);
    body->content_type = !tmpl && version == 2 ? "application/cloudevents+json" : "application/json";
    body->len = b.len;
    memcpy(body->data, b.p ? b.p : "", b.len + 1);
    free(b.p);
    return body;
}

void hd_render_body_release(hd_render_body_t *b) {
    free(b);
}
