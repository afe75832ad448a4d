/* The partner dialect's shape mappings: subscriptions, create and test bodies, delivery-log rows, pages, errors,
 * dates and the token endpoint's form bodies. */
#include <json-c/json.h>
#include <sodium.h>

#include "hookd/dialect_partner.h"
#include "unit.h"

static json_object *parse(const char *s) {
    return json_tokener_parse(s);
}

static const char *str(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                             : NULL;
}

static int is_null(json_object *o, const char *key) {
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v == NULL;
}

static const char *json(json_object *o) {
    return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void test_subscription(void) {
    json_object *n = parse("{\"id\":\"sub_1\",\"name\":\"x\",\"event_types\":[\"order.paid\",\"order.*\"],"
                           "\"url\":\"https://e.example/h\",\"is_active\":false,\"secret_last_4\":\"abcd\","
                           "\"created_at\":\"2026-01-01T00:00:00.000Z\",\"updated_at\":\"2026-01-02T00:00:00.000Z\","
                           "\"headers\":{}}");
    json_object *p = hd_dialect_partner_subscription(n, "acme");
    CHECK_STR(json(p), "{\"created_at\":\"2026-01-01T00:00:00.000Z\",\"endpoint_url\":\"https://e.example/h\","
                       "\"id\":\"sub_1\",\"is_active\":false,\"partner_id\":\"acme\",\"secret_last_4_digits\":"
                       "\"abcd\",\"topic\":\"order.paid\",\"updated_at\":\"2026-01-02T00:00:00.000Z\"}");
    json_object_put(p);
    json_object_object_add(n, "event_types", json_object_new_array());
    json_object_object_add(n, "metadata", parse("{\"partner_id\":\"p-42\"}"));
    p = hd_dialect_partner_subscription(n, "acme");
    CHECK(is_null(p, "topic"));
    CHECK_STR(str(p, "partner_id"), "p-42");
    json_object_put(p);
    json_object_put(n);
}

static void test_create_body(void) {
    json_object *details = NULL;
    json_object *b = parse("{\"endpoint_url\":\"https://e.example/h\",\"topic\":\"order.paid\","
                           "\"secret_key\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}");
    json_object *n = hd_dialect_partner_create_body(b, &details);
    CHECK(details == NULL);
    CHECK_STR(json(n), "{\"url\":\"https://e.example/h\",\"event_types\":[\"order.paid\"],"
                       "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}");
    json_object_put(n);
    json_object_put(b);

    /* a raw key is its bytes: "0123456789abcdef" in base64 */
    b = parse("{\"secret_key\":\"0123456789abcdef\",\"topic\":7}");
    n = hd_dialect_partner_create_body(b, &details);
    CHECK(details == NULL);
    CHECK_STR(json(n), "{\"event_types\":[7],\"secret\":\"whsec_MDEyMzQ1Njc4OWFiY2RlZg==\"}");
    json_object_put(n);
    json_object_put(b);

    b = parse("{\"secret_key\":\"short\",\"name\":\"x\"}");
    CHECK(hd_dialect_partner_create_body(b, &details) == NULL);
    CHECK(details && json_object_array_length(details) == 1); /* unknown fields first, alone */
    CHECK_STR(str(json_object_array_get_idx(details, 0), "field"), "name");
    json_object_put(details);
    details = NULL;
    json_object_put(b);

    b = parse("{\"secret_key\":\"short\",\"partner_id\":7}");
    CHECK(hd_dialect_partner_create_body(b, &details) == NULL);
    CHECK(details && json_object_array_length(details) == 2);
    CHECK_STR(str(json_object_array_get_idx(details, 0), "field"), "partner_id");
    CHECK_STR(str(json_object_array_get_idx(details, 1), "field"), "secret_key");
    json_object_put(details);
    details = NULL;
    json_object_put(b);

    b = parse("{\"partner_id\":\"p-42\"}");
    n = hd_dialect_partner_create_body(b, &details);
    CHECK(details == NULL);
    CHECK_STR(json(n), "{\"metadata\":{\"partner_id\":\"p-42\"}}");
    json_object_put(n);
    json_object_put(b);
}

static void test_test_body(void) {
    json_object *details = NULL;
    CHECK(hd_dialect_partner_test_body(NULL, &details) == NULL && details == NULL);
    json_object *b = parse("{\"topic\":\"order.paid\",\"payload\":{\"a\":1}}");
    json_object *n = hd_dialect_partner_test_body(b, &details);
    CHECK_STR(json(n), "{\"event_type\":\"order.paid\",\"data\":{\"a\":1}}");
    json_object_put(n);
    json_object_put(b);
    b = parse("{\"data\":{}}");
    CHECK(hd_dialect_partner_test_body(b, &details) == NULL && details);
    json_object_put(details);
    json_object_put(b);
}

static void test_event_and_test_reply(void) {
    json_object *n = parse("{\"id\":\"d1\",\"subscription_id\":\"sub_1\",\"event_id\":\"evt_1\",\"event_type\":"
                           "\"order.paid\",\"status\":\"succeeded\",\"status_code\":200,\"response\":\"ok\","
                           "\"error_message\":null,\"is_success\":true,\"retry_count\":0,\"sent_at\":\"t1\","
                           "\"next_retry_at\":null,\"created_at\":\"t0\"}");
    json_object *p = hd_dialect_partner_event(n);
    CHECK_STR(json(p), "{\"id\":\"d1\",\"subscription_id\":\"sub_1\",\"event_id\":\"evt_1\",\"topic\":\"order.paid\","
                       "\"status\":\"succeeded\",\"status_code\":200,\"response\":\"ok\",\"error_message\":null,"
                       "\"retry_count\":0,\"sent_at\":\"t1\",\"next_retry_at\":null,\"created_at\":\"t0\"}");
    json_object_put(p);
    json_object_put(n);
    n = parse("{\"event_id\":\"evt_test_1\",\"delivery_id\":\"msg_1\",\"event_type\":\"order.paid\","
              "\"subscription_id\":\"sub_1\"}");
    p = hd_dialect_partner_test_reply(n);
    CHECK_STR(json(p), "{\"event_id\":\"evt_test_1\",\"delivery_id\":\"msg_1\",\"topic\":\"order.paid\","
                       "\"subscription_id\":\"sub_1\",\"status\":\"pending\"}");
    json_object_put(p);
    json_object_put(n);
}

static json_object *ident(json_object *item, const char *tenant) {
    json_object *o = json_object_new_object();
    json_object_object_add(o, "item", json_object_get(item));
    json_object_object_add(o, "tenant", json_object_new_string(tenant));
    return o;
}

static void test_page(void) {
    json_object *n = parse("{\"success\":true,\"data\":[1,2],\"pagination\":{\"start_cursor\":\"a\",\"end_cursor\":"
                           "\"b\",\"has_next_page\":true,\"has_previous_page\":false,\"limit\":2}}");
    json_object *p = hd_dialect_partner_page(n, ident, "t");
    CHECK_STR(json(p), "{\"data\":[{\"item\":1,\"tenant\":\"t\"},{\"item\":2,\"tenant\":\"t\"}],\"start_cursor\":"
                       "\"a\",\"end_cursor\":\"b\",\"has_next_page\":true,\"has_previous_page\":false}");
    json_object_put(p);
    json_object_put(n);
}

static void test_error(void) {
    json_object *n = parse("{\"success\":false,\"error\":\"invalid-param\",\"message\":\"not valid\",\"details\":["
                           "{\"field\":\"url\",\"message\":\"m1\"},{\"field\":\"event_types[0]\",\"message\":\"m2\"},"
                           "{\"field\":\"limit\",\"message\":\"m3\"}]}");
    json_object *p = hd_dialect_partner_error(422, n);
    CHECK_STR(json(p), "{\"error\":\"unprocessable_entity\",\"message\":\"not valid\",\"details\":["
                       "{\"field\":\"endpoint_url\",\"message\":\"m1\"},{\"field\":\"topic\",\"message\":\"m2\"},"
                       "{\"field\":\"limit\",\"message\":\"m3\"}]}");
    json_object_put(p);
    p = hd_dialect_partner_error(404, n);
    CHECK_STR(str(p, "error"), "not_found");
    json_object_put(p);
    p = hd_dialect_partner_error(500, n);
    CHECK_STR(str(p, "error"), "internal_error");
    json_object_put(p);
    json_object_put(n);
}

static void test_date(void) {
    char out[64];
    CHECK(hd_dialect_partner_date("2026-03-01", out, sizeof(out)) == 0);
    CHECK_STR(out, "2026-03-01T00:00:00Z");
    CHECK(hd_dialect_partner_date("2026-03-01T10:20:30.5+02:00", out, sizeof(out)) == 0);
    CHECK_STR(out, "2026-03-01T10:20:30.5+02:00");
    CHECK(hd_dialect_partner_date("2026-02-30", out, sizeof(out)) == -1);
    CHECK(hd_dialect_partner_date("yesterday", out, sizeof(out)) == -1);
    CHECK(hd_dialect_partner_date("", out, sizeof(out)) == -1);
}

static void test_form(void) {
    const char *ok = "grant_type=client_credentials&client_id=abc%5F1&client_secret=a+b%2Bc";
    json_object *f = hd_dialect_partner_form(ok, strlen(ok));
    CHECK(f != NULL);
    CHECK_STR(str(f, "grant_type"), "client_credentials");
    CHECK_STR(str(f, "client_id"), "abc_1");
    CHECK_STR(str(f, "client_secret"), "a b+c");
    json_object_put(f);
    f = hd_dialect_partner_form("", 0);
    CHECK(f && json_object_object_length(f) == 0);
    json_object_put(f);
    static const char *const bad[] = {"a=1&a=2", "novalue", "=x", "a=%00", "a=%ff"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(hd_dialect_partner_form(bad[i], strlen(bad[i])) == NULL);
    CHECK(hd_dialect_partner_form("a=1\0b=2", 7) == NULL);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    RUN(test_subscription);
    RUN(test_create_body);
    RUN(test_test_body);
    RUN(test_event_and_test_reply);
    RUN(test_page);
    RUN(test_error);
    RUN(test_date);
    RUN(test_form);
    return UNIT_REPORT();
}
