/* Decoding: the hookd envelope, CloudEvents binary and structured modes, and every rejection reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/decode.h"
#include "unit.h"

static const hd_decode_opts_t opts = {
    .max_bytes = 4096, .tenant_attribute = "tenant", .tenant_header = "x-tenant", .status_field = "data.status"};

#define H(n, v)                                                                                                        \
    { n, v, sizeof(v) - 1 }

static hd_event_t *dec(const char *value, const hd_decode_header_t *h, size_t n, hd_decode_err_t *err) {
    char errstr[256];
    *err = HD_DECODE_OK;
    hd_event_t *ev =
        hd_decode_event(value, value ? strlen(value) : 0, h, n, &opts, 1700000000000, err, errstr, sizeof(errstr));
    CHECK((ev != NULL) == (*err == HD_DECODE_OK));
    if (!ev) CHECK(errstr[0] != '\0');
    return ev;
}

static void test_envelope(void) {
    hd_decode_err_t err;
    hd_event_t *ev =
        dec("{\"id\":\"e1\",\"type\":\"order.updated\",\"tenant\":\"t1\",\"time\":\"2026-11-22T06:35:57.123Z\","
            "\"data\":{\"status\":\"paid\"}}",
            NULL, 0, &err);
    CHECK(ev && ev->mode == HD_DECODE_ENVELOPE);
    if (!ev) return;
    CHECK_STR(ev->id, "e1");
    CHECK_STR(ev->type, "order.updated");
    CHECK_STR(ev->tenant, "t1");
    CHECK_STR(ev->status, "paid");
    CHECK(ev->source == NULL);
    CHECK(ev->time_ms == 1795329357123LL);
    hd_decode_event_destroy(ev);

    ev = dec("{\"id\":\"e2\",\"type\":\"x\",\"tenant\":\"t1\",\"data\":{\"status\":7}}", NULL, 0, &err);
    CHECK(ev && ev->time_ms == 1700000000000 && ev->status && !strcmp(ev->status, "7"));
    hd_decode_event_destroy(ev);
}

static void test_binary(void) {
    hd_decode_err_t err;
    const hd_decode_header_t h[] = {H("ce_specversion", "1.0"),
                                    H("ce_id", "ce-1"),
                                    H("ce_type", "customer.created"),
                                    H("ce_source", "/crm"),
                                    H("ce_tenant", "t9"),
                                    H("ce_time", "2026-11-22T06:35:57Z"),
                                    H("content-type", "application/json; charset=utf-8"),
                                    H("other", "x")};
    hd_event_t *ev = dec("{\"email\":\"a@b\",\"status\":\"new\"}", h, 8, &err);
    CHECK(ev && ev->mode == HD_DECODE_CE_BINARY);
    if (!ev) return;
    CHECK_STR(ev->id, "ce-1");
    CHECK_STR(ev->type, "customer.created");
    CHECK_STR(ev->source, "/crm");
    CHECK_STR(ev->tenant, "t9");
    CHECK_STR(ev->status, "new");
    CHECK(ev->time_ms == 1795329357000LL);
    CHECK_STR(json_object_get_string(json_object_object_get(ev->data, "email")), "a@b");
    CHECK(json_object_object_get(ev->root, "other") == NULL);
    CHECK_STR(json_object_get_string(json_object_object_get(ev->root, "datacontenttype")),
              "application/json; charset=utf-8");
    hd_decode_event_destroy(ev);

    /* text data, no data, tenant from the fallback header */
    const hd_decode_header_t t[] = {
        H("ce_specversion", "1.0"),      H("ce_id", "2"),     H("ce_type", "a"), H("ce_source", "s"),
        H("content-type", "text/plain"), H("x-tenant", "hdr")};
    ev = dec("héllo", t, 6, &err);
    CHECK(ev && json_object_is_type(ev->data, json_type_string) && !strcmp(json_object_get_string(ev->data), "héllo"));
    CHECK(ev && !strcmp(ev->tenant, "hdr"));
    hd_decode_event_destroy(ev);
    ev = dec(NULL, t, 6, &err);
    CHECK(ev && ev->data == NULL);
    hd_decode_event_destroy(ev);
}

static void test_binary_rejects(void) {
    hd_decode_err_t err;
    const hd_decode_header_t v2[] = {H("ce_specversion", "0.3"), H("ce_id", "1"), H("ce_type", "a"),
                                     H("ce_source", "s"), H("ce_tenant", "t")};
    CHECK(!dec("{}", v2, 5, &err) && err == HD_DECODE_BAD_SPECVERSION);
    const hd_decode_header_t nosrc[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "a"),
                                        H("ce_tenant", "t")};
    CHECK(!dec("{}", nosrc, 4, &err) && err == HD_DECODE_MISSING_SOURCE);
    const hd_decode_header_t bin[] = {H("ce_specversion", "1.0"), H("ce_id", "1"),
                                      H("ce_type", "a"),          H("ce_source", "s"),
                                      H("ce_tenant", "t"),        H("content-type", "application/octet-stream")};
    /* Binary data (and text that is not UTF-8) is kept as the JSON format keeps it: base64 in data_base64. */
    hd_event_t *ev = dec("xyz\xff", bin, 6, &err);
    CHECK(ev && !ev->data && json_object_object_get(ev->root, "data") == NULL);
    CHECK(ev && ev->data_base64 && !strcmp(json_object_get_string(ev->data_base64), "eHl6/w=="));
    hd_decode_event_destroy(ev);
    const hd_decode_header_t latin1[] = {H("ce_specversion", "1.0"), H("ce_id", "1"),
                                         H("ce_type", "a"),          H("ce_source", "s"),
                                         H("ce_tenant", "t"),        H("content-type", "text/plain")};
    ev = dec("caf\xe9", latin1, 6, &err);
    CHECK(ev && ev->data_base64 && !strcmp(json_object_get_string(ev->data_base64), "Y2Fm6Q=="));
    hd_decode_event_destroy(ev);
    const hd_decode_header_t badutf[] = {H("ce_specversion", "1.0"), H("ce_id", "\xff\xfe"), H("ce_type", "a"),
                                         H("ce_source", "s"), H("ce_tenant", "t")};
    CHECK(!dec("{}", badutf, 5, &err) && err == HD_DECODE_BAD_HEADER);
    const hd_decode_header_t ok[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "a"),
                                     H("ce_source", "s"), H("ce_tenant", "t")};
    CHECK(!dec("{\"a\":", ok, 5, &err) && err == HD_DECODE_NOT_JSON);
    const hd_decode_header_t notenant[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "a"),
                                           H("ce_source", "s")};
    CHECK(!dec("{}", notenant, 4, &err) && err == HD_DECODE_MISSING_TENANT);
}

static void test_structured(void) {
    hd_decode_err_t err;
    const hd_decode_header_t ct[] = {H("content-type", "application/cloudevents+json; charset=UTF-8")};
    const char *ce =
        "{\"specversion\":\"1.0\",\"id\":\"s1\",\"type\":\"order.paid\",\"source\":\"/shop\",\"tenant\":\"t2\","
        "\"time\":\"2026-11-22T06:35:57+01:00\",\"data\":{\"status\":\"paid\"}}";
    hd_event_t *ev = dec(ce, ct, 1, &err);
    CHECK(ev && ev->mode == HD_DECODE_CE_STRUCTURED);
    if (ev) {
        CHECK_STR(ev->source, "/shop");
        CHECK_STR(ev->tenant, "t2");
        CHECK_STR(ev->status, "paid");
        CHECK(ev->time_ms == 1795325757000LL);
    }
    hd_decode_event_destroy(ev);
    ev = dec(ce, NULL, 0, &err); /* recognised by specversion without the header */
    CHECK(ev && ev->mode == HD_DECODE_CE_STRUCTURED);
    hd_decode_event_destroy(ev);
    CHECK(!dec("{\"specversion\":\"1.0\",\"id\":\"s1\",\"type\":\"a\",\"tenant\":\"t\"}", ct, 1, &err) &&
          err == HD_DECODE_MISSING_SOURCE);
    ev = dec("{\"specversion\":\"1.0\",\"id\":\"s1\",\"type\":\"a\",\"source\":\"s\",\"tenant\":\"t\",\"data_base64\":"
             "\"AA==\"}",
             ct, 1, &err);
    CHECK(ev && !ev->data && ev->data_base64 && !strcmp(json_object_get_string(ev->data_base64), "AA=="));
    hd_decode_event_destroy(ev);
    static const char *const bad[] = {"\"AA=\"", "\"A A=\"", "\"AA==\",\"data\":1", "\"AA==\",\"data\":null",
                                      "7",       "[]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{\"specversion\":\"1.0\",\"id\":\"s1\",\"type\":\"a\",\"source\":\"s\",\"tenant\":\"t\",\"data_"
                 "base64\":%s}",
                 bad[i]);
        CHECK(!dec(text, ct, 1, &err) && err == HD_DECODE_BAD_DATA);
    }
    CHECK(!dec("[1]", ct, 1, &err) && err == HD_DECODE_NOT_OBJECT);
}

static void test_envelope_rejects(void) {
    hd_decode_err_t err;
    CHECK(!dec(NULL, NULL, 0, &err) && err == HD_DECODE_EMPTY);
    CHECK(!dec("nope", NULL, 0, &err) && err == HD_DECODE_NOT_JSON);
    CHECK(!dec("{} x", NULL, 0, &err) && err == HD_DECODE_NOT_JSON);
    CHECK(!dec("\"s\"", NULL, 0, &err) && err == HD_DECODE_NOT_OBJECT);
    CHECK(!dec("{\"type\":\"a\",\"tenant\":\"t\"}", NULL, 0, &err) && err == HD_DECODE_MISSING_ID);
    CHECK(!dec("{\"id\":\"1\",\"tenant\":\"t\"}", NULL, 0, &err) && err == HD_DECODE_MISSING_TYPE);
    CHECK(!dec("{\"id\":\"1\",\"type\":\"a\"}", NULL, 0, &err) && err == HD_DECODE_MISSING_TENANT);
    CHECK(!dec("{\"id\":\"1\",\"type\":\"a\",\"tenant\":\"t\",\"time\":\"yesterday\"}", NULL, 0, &err) &&
          err == HD_DECODE_BAD_TIME);
    /* RFC 3339 (tests/unit/test_rfc3339.c has the whole grammar): real days, no spaces, a NUL ends nothing. */
    CHECK(!dec("{\"id\":\"1\",\"type\":\"a\",\"tenant\":\"t\",\"time\":\"2026-02-30T00:00:00Z\"}", NULL, 0, &err) &&
          err == HD_DECODE_BAD_TIME);
    CHECK(!dec("{\"id\":\"1\",\"type\":\"a\",\"tenant\":\"t\",\"time\":\"2026-01-01T 1:00:00Z\"}", NULL, 0, &err) &&
          err == HD_DECODE_BAD_TIME);
    CHECK(!dec("{\"id\":\"1\",\"type\":\"a\",\"tenant\":\"t\",\"time\":\"2026-01-01T01:00:00Z\\u0000x\"}", NULL, 0,
               &err) &&
          err == HD_DECODE_BAD_TIME);
    hd_event_t *ev =
        dec("{\"id\":\"1\",\"type\":\"a\",\"tenant\":\"t\",\"time\":\"1969-12-31t23:59:59.5z\"}", NULL, 0, &err);
    CHECK(ev && ev->time_ms == -500);
    hd_decode_event_destroy(ev);
    char big[5000];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(!dec(big, NULL, 0, &err) && err == HD_DECODE_TOO_LARGE);
    CHECK_STR(hd_decode_reason(HD_DECODE_BAD_DATA), "bad-data");
    CHECK_STR(hd_decode_reason(HD_DECODE_BAD_SPECVERSION), "bad-specversion");
}

static void test_tenant_attribute(void) {
    hd_decode_opts_t o = opts;
    o.tenant_attribute = "partnerid";
    o.tenant_header = NULL;
    hd_decode_err_t err;
    char errstr[256];
    const char *v = "{\"id\":\"1\",\"type\":\"a\",\"partnerid\":\"p7\",\"tenant\":\"ignored\"}";
    hd_event_t *ev = hd_decode_event(v, strlen(v), NULL, 0, &o, 0, &err, errstr, sizeof(errstr));
    CHECK(ev && !strcmp(ev->tenant, "p7"));
    hd_decode_event_destroy(ev);
    const hd_decode_header_t h[] = {H("ce_specversion", "1.0"), H("ce_id", "1"), H("ce_type", "a"), H("ce_source", "s"),
                                    H("ce_partnerid", "p8")};
    ev = hd_decode_event("", 0, h, 5, &o, 0, &err, errstr, sizeof(errstr));
    CHECK(ev && !strcmp(ev->tenant, "p8"));
    hd_decode_event_destroy(ev);
}

/* Retry tiers carry hd_decode_to_envelope: decoding it again must give the same event, whatever the shape. */
static void test_envelope_round_trip(void) {
    hd_decode_err_t err;
    char errstr[256];
    const hd_decode_header_t h[] = {H("ce_specversion", "1.0"), H("ce_id", "r1"),       H("ce_type", "order.paid"),
                                    H("ce_source", "/shop"),    H("ce_subject", "o-1"), H("x-tenant", "from-header")};
    hd_event_t *ev = dec("{\"status\":\"paid\"}", h, 6, &err), *again = NULL;
    CHECK(ev != NULL);
    if (!ev) return;
    json_object *env = hd_decode_to_envelope(ev, &opts);
    again = hd_decode_envelope(env, &opts, 0, &err, errstr, sizeof(errstr));
    CHECK(again && again->mode == HD_DECODE_CE_STRUCTURED);
    if (again) {
        CHECK_STR(again->id, "r1");
        CHECK_STR(again->type, "order.paid");
        CHECK_STR(again->source, "/shop");
        CHECK_STR(again->tenant, "from-header");
        CHECK_STR(again->status, "paid");
        CHECK(again->time_ms == ev->time_ms);
        CHECK_STR(json_object_get_string(json_object_object_get(again->root, "subject")), "o-1");
    }
    hd_decode_event_destroy(again);
    hd_decode_event_destroy(ev);
}

/* ev->data_json, when set, is byte for byte json-c's serialisation of ev->data (what render writes for it). */
static int data_json_matches(const hd_event_t *ev) {
    const char *want =
        ev->data ? json_object_to_json_string_ext(ev->data, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                 : "null";
    return ev->data_json && ev->data_json_len == strlen(want) && !memcmp(ev->data_json, want, ev->data_json_len);
}

/* The event {"id","type","tenant","data": data}, decoded; NULL when json-c refuses it. */
static hd_event_t *with_data(const char *data, size_t data_len) {
    static const char head[] = "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":";
    char *value = malloc(sizeof(head) + data_len + 1), errstr[256];
    memcpy(value, head, sizeof(head) - 1);
    memcpy(value + sizeof(head) - 1, data, data_len);
    value[sizeof(head) - 1 + data_len] = '}';
    hd_decode_err_t err;
    hd_decode_opts_t o = opts;
    o.max_bytes = 1 << 20;
    hd_event_t *ev = hd_decode_event(value, sizeof(head) + data_len, NULL, 0, &o, 1, &err, errstr, sizeof(errstr));
    free(value);
    return ev;
}

static void test_data_json(void) {
    static const struct {
        const char *data;
        int kept;
    } cases[] = {
        {"{\"a\":1}", 1},
        {"[1,2,3]", 1},
        {"\"x\"", 1},
        {"null", 1},
        {"true", 1},
        {"false", 1},
        {"0", 1},
        {"-5", 1},
        {"123456789012345678", 1},
        {"-123456789012345678", 1},
        {"1.50", 1}, /* json-c prints a double as its source text */
        {"-0.0", 1},
        {"1E400", 1},
        {"2e-3", 1},
        {"{}", 1},
        {"[]", 1},
        {"{\"a\":{\"b\":[{},[],\"\"]},\"b\":{\"a\":1}}", 1},
        {"\"quote \\\" backslash \\\\ \\b\\f\\n\\r\\t\"", 1},
        {"\"caf\xc3\xa9 \x7f\"", 1},
        {"{\"k\\n\":1,\"k\\t\":2}", 1},
        {"{ \"a\":1}", 0},
        {"[1, 2]", 0},
        {"[1,2 ]", 0},
        {"-0", 0},
        {"1234567890123456789", 0},
        {"\"a\\/b\"", 0},
        {"\"\\u0041\"", 0},
        {"\"\\u00e9\"", 0},
        {"\"\\ud83d\\ude00\"", 0},
        {"\"a\x01\"", 0},
        {"{\"a\":1,\"a\":2}", 0},
        {"{\"a\":{\"b\":1,\"c\":2,\"b\":3}}", 0},
        {"[NaN]", 0},
        {"-Infinity", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hd_event_t *ev = with_data(cases[i].data, strlen(cases[i].data));
        CHECK(ev != NULL);
        if (!ev) continue;
        if (cases[i].kept ? !data_json_matches(ev) : ev->data_json != NULL)
            fprintf(stderr, "data %s: data_json %s\n", cases[i].data, ev->data_json ? "kept" : "not kept");
        CHECK(cases[i].kept ? data_json_matches(ev) : ev->data_json == NULL);
        hd_decode_event_destroy(ev);
    }
    /* A repeated name among many members. */
    char many[2048];
    for (int repeat = 0; repeat < 2; repeat++) {
        size_t n = 0;
        for (int k = 0; k < 100; k++)
            n += (size_t)snprintf(many + n, sizeof(many) - n, "%s\"k%d\":%d", k ? "," : "{", repeat && k == 99 ? 3 : k,
                                  k);
        many[n++] = '}';
        hd_event_t *ev = with_data(many, n);
        CHECK(ev && (repeat ? !ev->data_json : data_json_matches(ev)));
        hd_decode_event_destroy(ev);
    }

    hd_decode_err_t err;
    struct {
        const char *value;
        const char *data_json; /* NULL: not kept */
    } events[] = {
        /* whitespace around the member is not data's */
        {"{ \"data\" : {\"a\":1} , \"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\" }", "{\"a\":1}"},
        /* json-c keeps the last of repeated members */
        {"{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":{ },\"data\":[2]}", "[2]"},
        {"{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":[2],\"data\":{ }}", NULL},
        /* a member name with escapes might be "data" */
        {"{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"d\\u0061ta\":[2]}", NULL},
        {"{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":[1],\"d\\u0061ta\":[2]}", NULL},
        {"{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\"}", NULL},
        {"{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"datum\":1}", NULL},
    };
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        hd_event_t *ev = dec(events[i].value, NULL, 0, &err);
        CHECK(ev != NULL);
        if (!ev) continue;
        if (events[i].data_json)
            CHECK(data_json_matches(ev) && ev->data_json_len == strlen(events[i].data_json) &&
                  !memcmp(ev->data_json, events[i].data_json, ev->data_json_len));
        else
            CHECK(ev->data_json == NULL);
        hd_decode_event_destroy(ev);
    }

    /* Binary mode: the whole value is data, when it is JSON. */
    const hd_decode_header_t json_h[] = {H("ce_specversion", "1.0"), H("ce_id", "b1"), H("ce_type", "t"),
                                         H("ce_source", "/s"), H("ce_tenant", "x")};
    const hd_decode_header_t text_h[] = {H("ce_specversion", "1.0"), H("ce_id", "b1"),
                                         H("ce_type", "t"),          H("ce_source", "/s"),
                                         H("ce_tenant", "x"),        H("content-type", "text/plain")};
    hd_event_t *ev = dec("{\"a\":[1,\"b\"]}", json_h, 5, &err);
    CHECK(ev && data_json_matches(ev));
    hd_decode_event_destroy(ev);
    ev = dec(" {\"a\":1}", json_h, 5, &err);
    CHECK(ev && !ev->data_json);
    hd_decode_event_destroy(ev);
    ev = dec("{\"a\":1}", text_h, 6, &err);
    CHECK(ev && !ev->data_json && json_object_is_type(ev->data, json_type_string));
    hd_decode_event_destroy(ev);

    /* An event decoded from a parsed object has no source text. */
    char errstr[256];
    ev = hd_decode_envelope(json_tokener_parse("{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":{\"a\":1}}"),
                            &opts, 0, &err, errstr, sizeof(errstr));
    CHECK(ev && !ev->data_json);
    hd_decode_event_destroy(ev);
}

/* ev's tree is the one json-c's parser makes of the event with that data. */
static int same_as_json_c(const hd_event_t *ev, const char *data, size_t data_len) {
    char value[8192];
    int n = snprintf(value, sizeof(value), "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":%.*s}",
                     (int)data_len, data);
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *want = json_tokener_parse_ex(tok, value, n);
    json_tokener_free(tok);
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    int same = want && json_object_equal(want, ev->root) &&
               !strcmp(json_object_to_json_string_ext(want, flags), json_object_to_json_string_ext(ev->root, flags));
    json_object_put(want);
    return same;
}

/* Random data, each written in json-c's form or with one thing json-c writes otherwise: kept exactly when it is in
 * that form, and then byte for byte json-c's serialisation. */
typedef struct {
    char *p;
    size_t len, cap;
    int odd; /* something json-c writes otherwise went in */
    unsigned seed;
} gen_t;

static unsigned gen_rand(gen_t *g, unsigned n) {
    g->seed = g->seed * 1103515245u + 12345u;
    return (g->seed >> 16) % n;
}

static void gen_put(gen_t *g, const char *s, size_t n) {
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->p = realloc(g->p, g->cap);
    }
    memcpy(g->p + g->len, s, n);
    g->len += n;
}

static void gen_ws(gen_t *g) {
    if (gen_rand(g, 40)) return;
    gen_put(g, &" \t\n\r"[gen_rand(g, 4)], 1);
    g->odd = 1;
}

static void gen_string(gen_t *g) {
    static const char *const pieces[] = {"a",    "Z",    "0",   " ",   "/",   "\xc3\xa9", "\xe2\x82\xac", "\x7f",
                                         "\\\"", "\\\\", "\\n", "\\t", "\\r", "\\b",      "\\f"};
    static const char *const odd[] = {"\\/", "\\u0041", "\\u001f", "\\u00e9", "\x01", "\x1f"};
    gen_put(g, "\"", 1);
    for (unsigned n = gen_rand(g, 12); n--;) {
        if (!gen_rand(g, 50)) {
            const char *o = odd[gen_rand(g, sizeof(odd) / sizeof(odd[0]))];
            gen_put(g, o, strlen(o));
            g->odd = 1;
        } else {
            const char *p = pieces[gen_rand(g, sizeof(pieces) / sizeof(pieces[0]))];
            gen_put(g, p, strlen(p));
        }
    }
    gen_put(g, "\"", 1);
}

static void gen_value(gen_t *g, int depth) {
    static const char *const numbers[] = {
        "0",    "7",       "-12",  "123456789012345678", "-999999999999999999", "1.5", "-0.25", "1e3",
        "2E-7", "3.0e+10", "1E400"};
    static const char *const odd_numbers[] = {"-0", "1234567890123456789", "9223372036854775807",
                                              "18446744073709551616"};
    static const char *const literals[] = {"true", "false", "null"};
    unsigned kind = gen_rand(g, depth > 5 ? 3 : 5);
    static const char *const names[] = {"\"k\"", "\"k\\n\"", "\"caf\xc3\xa9\"", "\"k\\\"\"", "\"a b\"", "\"\""};
    if (kind == 0) {
        gen_string(g);
    } else if (kind == 1) {
        if (!gen_rand(g, 30)) {
            const char *n = odd_numbers[gen_rand(g, sizeof(odd_numbers) / sizeof(odd_numbers[0]))];
            gen_put(g, n, strlen(n));
            g->odd = 1;
        } else {
            const char *n = numbers[gen_rand(g, sizeof(numbers) / sizeof(numbers[0]))];
            gen_put(g, n, strlen(n));
        }
    } else if (kind == 2) {
        const char *l = literals[gen_rand(g, 3)];
        gen_put(g, l, strlen(l));
    } else {
        int object = kind == 3, seen[6] = {0};
        gen_put(g, object ? "{" : "[", 1);
        for (unsigned i = 0, n = gen_rand(g, 5); i < n; i++) {
            if (i) gen_put(g, ",", 1);
            gen_ws(g);
            if (object) { /* few names, so that objects repeat some */
                unsigned k = gen_rand(g, 6);
                gen_put(g, names[k], strlen(names[k]));
                if (seen[k]++) g->odd = 1;
                gen_ws(g);
                gen_put(g, ":", 1);
                gen_ws(g);
            }
            gen_value(g, depth + 1);
            gen_ws(g);
        }
        gen_put(g, object ? "}" : "]", 1);
    }
}

static void test_data_json_random(void) {
    gen_t g = {.seed = 20261201};
    int kept = 0, odd = 0, runs = 20000;
    for (int i = 0; i < runs; i++) {
        g.len = 0;
        g.odd = 0;
        gen_value(&g, 0);
        hd_event_t *ev = with_data(g.p, g.len);
        CHECK(ev != NULL);
        if (!ev) continue;
        if (ev->data_json) {
            kept++;
            CHECK(data_json_matches(ev));
        }
        CHECK(same_as_json_c(ev, g.p, g.len));
        odd += g.odd;
        if (g.odd == (ev->data_json != NULL)) {
            fprintf(stderr, "data %.*s: data_json %s\n", (int)g.len, g.p, ev->data_json ? "kept" : "not kept");
            CHECK(0);
        }
        hd_decode_event_destroy(ev);
    }
    CHECK(kept > runs / 4 && odd > runs / 10);
    free(g.p);
}

/* Decoding parses without json-c's UTF-8 check and checks the bytes itself: every message must be refused, or
 * not, as json-c with JSON_TOKENER_VALIDATE_UTF8 does, with the same error at the same byte. */
static void test_utf8_as_json_c(void) {
    /* Each @ becomes one of the pieces; a quarter of the messages lose or gain a byte besides. */
    static const char *const docs[] = {
        "{\"id\":\"e@\",\"type\":\"t@\",\"tenant\":\"x\",\"data\":{\"s@\":\"@caf\xc3\xa9@ @\xe2\x82\xac@x@\"}}",
        "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x@\",\"data\":[1,2.5,true,null,\"@\\u00e9@\",\"@\"]}",
        "{\"id\":\"e\",\"type\":\"some.type@\",\"tenant\":\"x\",\"note\":\"a @longer@ string@\"}"};
    /* Sequences json-c lets through (overlong, surrogate, above U+10FFFF included), and pieces it does not. */
    static const char *const pieces[] = {"",
                                         "",
                                         "",
                                         "",
                                         "a",
                                         "\xc3\xa9",
                                         "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80",
                                         "\xed\xa0\x80",
                                         "\xc0\x80",
                                         "\xf4\x90\x80\x80",
                                         "\xf7\xbf\xbf\xbf",
                                         "\x7f",
                                         "\x80",
                                         "\xbf",
                                         "\xc3",
                                         "\xe2\x82",
                                         "\xf0\x9f\x98",
                                         "\xf8\x80\x80\x80\x80",
                                         "\xfe",
                                         "\xff",
                                         "\xc3\x41",
                                         "\xe2\x28\xa1",
                                         "\""};
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    unsigned seed = 7;
    int refused = 0, utf8 = 0, runs = 30000;
    for (int i = 0; i < runs; i++) {
        char value[512], want[256], errstr[256];
        size_t len = 0, marks = 0, odd;
        for (const char *d = docs[i % 3]; *d; d++)
            marks += *d == '@';
        seed = seed * 1103515245u + 12345u;
        odd = (seed >> 16) % marks; /* the one @ that may get any piece; the others get one json-c lets through */
        for (const char *d = docs[i % 3]; *d; d++) {
            seed = seed * 1103515245u + 12345u;
            if (*d != '@') {
                value[len++] = *d;
                continue;
            }
            const char *p = pieces[(seed >> 16) % (odd-- ? 12 : sizeof(pieces) / sizeof(pieces[0]))];
            memcpy(value + len, p, strlen(p));
            len += strlen(p);
        }
        if (i % 4 == 0) { /* one byte dropped, or 0xe2 put in */
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            if (seed & 1) {
                memmove(value + at, value + at + 1, len - at - 1);
                len--;
            } else {
                memmove(value + at + 1, value + at, len - at);
                value[at] = '\xe2';
                len++;
            }
        }
        json_tokener_reset(tok);
        json_object *o = json_tokener_parse_ex(tok, value, (int)len);
        enum json_tokener_error je = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        int ok = o && je == json_tokener_success && end == len;
        snprintf(want, sizeof(want), "not JSON: %s at byte %zu",
                 je == json_tokener_success ? "trailing data" : json_tokener_error_desc(je), end);
        json_object_put(o);
        hd_decode_err_t err;
        hd_event_t *ev = hd_decode_event(value, len, NULL, 0, &opts, 1, &err, errstr, sizeof(errstr));
        hd_decode_event_destroy(ev);
        refused += !ok;
        utf8 += je == json_tokener_error_parse_utf8_string;
        if (ok ? err == HD_DECODE_NOT_JSON : err != HD_DECODE_NOT_JSON || strcmp(errstr, want)) {
            fprintf(stderr, "%.*s: json-c %s, decode %s\n", (int)len, value, ok ? "accepts" : want,
                    err == HD_DECODE_NOT_JSON ? errstr : "accepts");
            CHECK(0);
        }
    }
    json_tokener_free(tok);
    CHECK(refused > runs / 4 && utf8 > runs / 10 && refused < runs - runs / 4);
}

/* Lexical odds and ends, well-formed or not, in data: what decoding accepts and the tree it makes are json-c's. */
static void test_tokens_as_json_c(void) {
    static const char *const tokens[] = {"0",
                                         "-0",
                                         "01",
                                         "-01",
                                         "1.",
                                         ".5",
                                         "1.5",
                                         "1.5e",
                                         "1e+",
                                         "1E5",
                                         "-1e-5",
                                         "0.0",
                                         "-0.0e-0",
                                         "1e400",
                                         "-",
                                         "+1",
                                         "123456789012345678",
                                         "1234567890123456789",
                                         "99999999999999999999",
                                         "1.5.2",
                                         "1e5e",
                                         "NaN",
                                         "Infinity",
                                         "-Infinity",
                                         "true",
                                         "truex",
                                         "nul",
                                         "null",
                                         "True",
                                         "false",
                                         "\"a\"",
                                         "\"a\\u0041\"",
                                         "\"\\/\"",
                                         "\"\\x\"",
                                         "\"a\tb\"",
                                         "\"\\\"\"",
                                         "[]",
                                         "{}",
                                         "[1,]",
                                         "{\"a\":1,}",
                                         "{\"a\" 1}",
                                         "{'a':1}",
                                         "[1 2]",
                                         "\"\\ud83d\\ude00\"",
                                         " ",
                                         "\f",
                                         "\v",
                                         "\r\n",
                                         "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
                                         "[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]",
                                         "{\"k\":{\"k\":{\"k\":[1]}}}",
                                         ",",
                                         ":",
                                         "]",
                                         "}"};
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    const int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    unsigned seed = 11;
    int accepted = 0, runs = 20000, n_tokens = sizeof(tokens) / sizeof(tokens[0]);
    for (int i = 0; i < runs; i++) {
        char value[1024];
        size_t len = (size_t)snprintf(value, sizeof(value), "{\"id\":\"e\",\"type\":\"t\",\"tenant\":\"x\",\"data\":[");
        for (int k = 0, n = 1 + i % 4; k < n; k++) {
            seed = seed * 1103515245u + 12345u;
            /* mostly a well-formed array of tokens, now and then a token where a separator goes */
            const char *t = tokens[(seed >> 16) % n_tokens];
            len += (size_t)snprintf(value + len, sizeof(value) - len, "%s%s", k ? ((seed >> 8) % 9 ? "," : "") : "", t);
        }
        len += (size_t)snprintf(value + len, sizeof(value) - len, "]}");
        json_tokener_reset(tok);
        json_object *want = json_tokener_parse_ex(tok, value, (int)len);
        int ok = want && json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len;
        hd_decode_err_t err;
        char errstr[256];
        hd_event_t *ev = hd_decode_event(value, len, NULL, 0, &opts, 1, &err, errstr, sizeof(errstr));
        accepted += ok;
        /* NaN is not equal to itself */
        int same = ok ? ev && (json_object_equal(want, ev->root) || strstr(value, "NaN")) &&
                            !strcmp(json_object_to_json_string_ext(want, flags),
                                    json_object_to_json_string_ext(ev->root, flags))
                      : err == HD_DECODE_NOT_JSON;
        if (!same) {
            fprintf(stderr, "%s: json-c %s, decode %s\n", value, ok ? "accepts" : "refuses", ev ? "accepts" : errstr);
            CHECK(0);
        }
        json_object_put(want);
        hd_decode_event_destroy(ev);
    }
    json_tokener_free(tok);
    CHECK(accepted > runs / 10 && accepted < runs - runs / 10);
}

int main(void) {
    RUN(test_envelope);
    RUN(test_binary);
    RUN(test_binary_rejects);
    RUN(test_structured);
    RUN(test_envelope_rejects);
    RUN(test_tenant_attribute);
    RUN(test_envelope_round_trip);
    RUN(test_data_json);
    RUN(test_data_json_random);
    RUN(test_utf8_as_json_c);
    RUN(test_tokens_as_json_c);
    return UNIT_REPORT();
}
