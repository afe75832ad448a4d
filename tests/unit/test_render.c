/* Rendering: built-in versions, templates with typed substitution and interpolation, missing paths, size limit. */
#include <stdlib.h>
#include <string.h>

#include "hookd/render.h"
#include "unit.h"

static hd_event_t *event(const char *v) {
    char err[256];
    hd_decode_err_t derr;
    hd_decode_opts_t o = {.max_bytes = 1 << 20, .tenant_attribute = "tenant"};
    hd_event_t *ev = hd_decode_event(v, strlen(v), NULL, 0, &o, 0, &derr, err, sizeof(err));
    if (!ev) fprintf(stderr, "event: %s\n", err);
    return ev;
}

static int starts(const char *s, const char *prefix) {
    return !strncmp(s, prefix, strlen(prefix));
}

static const char *ev_text =
    "{\"id\":\"e1\",\"type\":\"customer.updated\",\"tenant\":\"t1\",\"time\":\"2026-11-22T06:35:57.123Z\","
    "\"data\":{\"customer\":{\"email\":\"a@example.com\",\"credits\":42,\"vip\":true,\"tags\":[\"x\",\"y\"]},"
    "\"note\":\"say \\\"hi\\\"\"}}";

/* Renders template (JSON text) against ev_text; returns the body text (static) or NULL. */
static const char *render(const char *tmpl_text, size_t max) {
    static char out[4096];
    char err[256];
    json_object *tj = json_tokener_parse(tmpl_text);
    hd_render_tmpl_t *t = hd_render_tmpl_new(tj, err, sizeof(err));
    json_object_put(tj);
    CHECK(t != NULL);
    if (!t) return NULL;
    hd_event_t *ev = event(ev_text);
    hd_render_body_t *b = hd_render_payload(ev, 1, t, max, err, sizeof(err));
    const char *rc = NULL;
    if (b) {
        snprintf(out, sizeof(out), "%s", b->data);
        CHECK(strlen(b->data) == b->len);
        CHECK_STR(b->content_type, "application/json");
        json_object *parsed = json_tokener_parse(b->data); /* always valid JSON */
        CHECK(parsed != NULL || !strcmp(b->data, "null"));
        json_object_put(parsed);
        rc = out;
    } else {
        snprintf(out, sizeof(out), "ERR %s", err);
        rc = out;
    }
    hd_render_body_release(b);
    hd_decode_event_destroy(ev);
    hd_render_tmpl_destroy(t);
    return rc;
}

static void test_builtin_versions(void) {
    char err[256];
    hd_event_t *ev = event(ev_text);
    hd_render_body_t *b = hd_render_payload(ev, 1, NULL, 4096, err, sizeof(err));
    CHECK(b && starts(b->data, "{\"type\":\"customer.updated\",\"timestamp\":\"2026-11-22T06:35:57.123Z\",\"data\":{"));
    CHECK(b && !strcmp(b->content_type, "application/json"));
    hd_render_body_release(b);
    b = hd_render_payload(ev, 2, NULL, 4096, err, sizeof(err));
    CHECK(
        b &&
        starts(b->data,
               "{\"specversion\":\"1.0\",\"id\":\"e1\",\"type\":\"customer.updated\",\"source\":\"/hookd/tenants/t1\","
               "\"time\":\"2026-11-22T06:35:57.123Z\",\"datacontenttype\":\"application/json\",\"data\":{"));
    CHECK(b && !strcmp(b->content_type, "application/cloudevents+json"));
    hd_render_body_release(b);
    hd_decode_event_destroy(ev);
}

/* Version 2 keeps a CloudEvent's other attributes and its binary data as the JSON format has them; version 1 sends
 * binary data as base64 text. */
static void test_cloudevent_attributes_and_binary_data(void) {
    char err[256];
    hd_event_t *ev =
        event("{\"specversion\":\"1.0\",\"id\":\"c1\",\"type\":\"a.b\",\"source\":\"/s\",\"tenant\":\"t1\","
              "\"time\":\"2026-11-22T06:35:57Z\",\"subject\":\"cus_1\",\"dataschema\":\"https://x/s\","
              "\"traceparent\":\"00-ab\",\"priority\":3,\"urgent\":true,\"not_an_attribute\":1,\"nested\":{},"
              "\"data_base64\":\"AAEC\"}");
    hd_render_body_t *b = hd_render_payload(ev, 2, NULL, 4096, err, sizeof(err));
    CHECK_STR(b ? b->data : NULL,
              "{\"specversion\":\"1.0\",\"id\":\"c1\",\"type\":\"a.b\",\"source\":\"/"
              "s\",\"time\":\"2026-11-22T06:35:57.000Z\","
              "\"datacontenttype\":\"application/octet-stream\",\"tenant\":\"t1\",\"subject\":\"cus_1\","
              "\"dataschema\":\"https://x/s\",\"traceparent\":\"00-ab\",\"priority\":3,\"urgent\":true,"
              "\"data_base64\":\"AAEC\"}");
    hd_render_body_release(b);
    b = hd_render_payload(ev, 1, NULL, 4096, err, sizeof(err));
    CHECK_STR(b ? b->data : NULL, "{\"type\":\"a.b\",\"timestamp\":\"2026-11-22T06:35:57.000Z\",\"data\":\"AAEC\"}");
    hd_render_body_release(b);
    hd_decode_event_destroy(ev);
}

/* Strings hookd escapes itself (the built-in members, interpolated text) come out as json-c writes them. */
static void test_escaping_matches_json_c(void) {
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    char err[256], want[512];
    hd_event_t *ev = event("{\"id\":\"e1\",\"type\":\"a\\\"b\\\\c\\u0001\\u001f\\n/\\u00e9\\u007f\",\"tenant\":\"t1\","
                           "\"time\":\"2026-11-22T06:35:57.123Z\",\"data\":{\"note\":\"x\\u0000y\\t\\\"z\\\"\"}}");
    CHECK(ev != NULL);
    if (!ev) return;
    hd_render_body_t *b = hd_render_payload(ev, 1, NULL, 4096, err, sizeof(err));
    json_object *s = json_object_new_string(ev->type);
    snprintf(want, sizeof(want), "{\"type\":%s,", json_object_to_json_string_ext(s, flags));
    CHECK(b && starts(b->data, want));
    json_object_put(s);
    hd_render_body_release(b);

    json_object *tj = json_tokener_parse("{\"m\":\"<{{data.note}}>\"}");
    hd_render_tmpl_t *t = hd_render_tmpl_new(tj, err, sizeof(err));
    b = hd_render_payload(ev, 1, t, 4096, err, sizeof(err));
    s = json_object_new_string_len("<x\0y\t\"z\">", 9);
    snprintf(want, sizeof(want), "{\"m\":%s}", json_object_to_json_string_ext(s, flags));
    CHECK(b && !strcmp(b->data, want) && b->len == strlen(want));
    json_object_put(s);
    hd_render_body_release(b);
    hd_render_tmpl_destroy(t);
    json_object_put(tj);
    hd_decode_event_destroy(ev);
}

/* The event's data as hookd writes it into the built-in shape, against json-c's serialisation, byte for byte; the
 * same body whether data is copied from its source text (decode keeps it when it is in json-c's form) or written
 * from the parsed value. */
static void test_data_matches_json_c(void) {
    static const char *const data[] = {
        "{}",
        "[]",
        "null",
        "true",
        "0",
        "-1",
        "9223372036854775807",
        "-9223372036854775808",
        "18446744073709551615",
        "1.0",
        "-0.0",
        "1e5",
        "1.5E-7",
        "3.14159265358979323846",
        "\"\"",
        "{\"a\":{\"b\":[1,[2,[3,{}]],{\"c\":null}]},\"d\":[true,false,null],\"e\":\"\\u00e9\\u0000\\\"\\\\/\\t\"}",
        "[\"\\ud83d\\ude00\",\"\\u001f\\u007f\",12.50,-7,{\"k\\\"ey\":{\"\":[]}}]",
        "{\"dup\":1,\"dup\":2,\"x\":[ 1 , 2 ],  \"y\" : { \"z\" :\"w\" } }"};
    int kept = 0;
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++) {
        char text[1024], err[256];
        snprintf(text, sizeof(text),
                 "{\"id\":\"e1\",\"type\":\"t\",\"tenant\":\"t1\",\"time\":\"2026-11-22T06:35:57.123Z\",\"data\":%s}",
                 data[i]);
        hd_event_t *ev = event(text);
        CHECK(ev != NULL);
        if (!ev) continue;
        hd_render_body_t *b = hd_render_payload(ev, 1, NULL, 4096, err, sizeof(err));
        const char *want =
            ev->data ? json_object_to_json_string_ext(ev->data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                     : "null";
        const char *got = b ? strstr(b->data, ",\"data\":") : NULL;
        CHECK(got && !strncmp(got + 8, want, strlen(want)) && !strcmp(got + 8 + strlen(want), "}"));
        if (!got || strncmp(got + 8, want, strlen(want)))
            fprintf(stderr, "data %zu: %s\n  want %s\n", i, b ? b->data : "-", want);
        kept += ev->data_json != NULL;
        for (int v = HD_RENDER_VERSION_MIN; v <= HD_RENDER_VERSION_MAX; v++) {
            hd_event_t parsed = *ev;
            parsed.data_json = NULL;
            hd_render_body_t *x = hd_render_payload(ev, v, NULL, 4096, err, sizeof(err)),
                             *y = hd_render_payload(&parsed, v, NULL, 4096, err, sizeof(err));
            CHECK(x && y && x->len == y->len && !memcmp(x->data, y->data, x->len));
            hd_render_body_release(x);
            hd_render_body_release(y);
        }
        hd_render_body_release(b);
        hd_decode_event_destroy(ev);
    }
    CHECK(kept >= 10 && kept < (int)(sizeof(data) / sizeof(data[0])));
}

static void test_typed_substitution(void) {
    CHECK_STR(
        render("{\"email\":\"{{data.customer.email}}\",\"credits\":\"{{ data.customer.credits }}\","
               "\"vip\":\"{{data.customer.vip}}\",\"tags\":\"{{data.customer.tags}}\",\"c\":\"{{data.customer}}\"}",
               4096),
        "{\"email\":\"a@example.com\",\"credits\":42,\"vip\":true,\"tags\":[\"x\",\"y\"],\"c\":{\"email\":"
        "\"a@example.com\",\"credits\":42,\"vip\":true,\"tags\":[\"x\",\"y\"]}}");
    CHECK_STR(
        render("{\"first\":\"{{data.customer.tags.0}}\",\"id\":\"{{id}}\",\"n\":[1,\"{{type}}\",null,2.5]}", 4096),
        "{\"first\":\"x\",\"id\":\"e1\",\"n\":[1,\"customer.updated\",null,2.5]}");
}

static void test_interpolation(void) {
    CHECK_STR(render("{\"text\":\"Hi {{data.customer.email}}, you have {{data.customer.credits}} credits\"}", 4096),
              "{\"text\":\"Hi a@example.com, you have 42 credits\"}");
    CHECK_STR(render("{\"t\":\"{{data.note}}!\",\"u\":\"tags={{data.customer.tags}}\"}", 4096),
              "{\"t\":\"say \\\"hi\\\"!\",\"u\":\"tags=[\\\"x\\\",\\\"y\\\"]\"}");
    CHECK_STR(render("{\"k\":\"<{{data.nope}}>\",\"plain\":\"no placeholder {\"}", 4096),
              "{\"k\":\"<>\",\"plain\":\"no placeholder {\"}");
}

static void test_missing_paths(void) {
    CHECK_STR(render("{\"a\":\"{{data.customer.phone}}\",\"b\":\"{{data.customer.email.x}}\",\"c\":\"{{data.customer."
                     "tags.9}}\"}",
                     4096),
              "{\"a\":null,\"b\":null,\"c\":null}");
    CHECK_STR(render("\"{{data.nope}}\"", 4096), "null");
}

static void test_size_limit(void) {
    const char *r = render("{\"a\":\"{{data}}\",\"b\":\"{{data}}\",\"c\":\"{{data}}\"}", 200);
    CHECK(r && !strncmp(r, "ERR ", 4) && strstr(r, "render.max.bytes"));
    r = render("{\"a\":\"x {{data}}\"}", 100);
    CHECK(r && !strncmp(r, "ERR ", 4));
    char err[256];
    hd_event_t *ev = event(ev_text);
    CHECK(hd_render_payload(ev, 1, NULL, 50, err, sizeof(err)) == NULL);
    hd_decode_event_destroy(ev);
}

static void test_invalid_templates(void) {
    const char *bad[] = {"{\"a\":\"{{data\"}", "{\"a\":\"{{}}\"}", "{\"a\":\"{{ }}\"}", "[\"{{a{b}}\"]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        json_object *tj = json_tokener_parse(bad[i]);
        hd_render_tmpl_t *t = hd_render_tmpl_new(tj, err, sizeof(err));
        CHECK(t == NULL && strstr(err, "placeholder"));
        hd_render_tmpl_destroy(t);
        json_object_put(tj);
    }
}

int main(void) {
    RUN(test_builtin_versions);
    RUN(test_cloudevent_attributes_and_binary_data);
    RUN(test_escaping_matches_json_c);
    RUN(test_data_matches_json_c);
    RUN(test_typed_substitution);
    RUN(test_interpolation);
    RUN(test_missing_paths);
    RUN(test_size_limit);
    RUN(test_invalid_templates);
    return UNIT_REPORT();
}
