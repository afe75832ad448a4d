/* Decoding: the hookd envelope, CloudEvents binary and structured modes, and every rejection reason. */
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

int main(void) {
    RUN(test_envelope);
    RUN(test_binary);
    RUN(test_binary_rejects);
    RUN(test_structured);
    RUN(test_envelope_rejects);
    RUN(test_tenant_attribute);
    RUN(test_envelope_round_trip);
    return UNIT_REPORT();
}
