/* The management dialect's documents: its shapes of subscriptions and events, the native body it builds and the
 * field names they share. */
#include <stdlib.h>

#include "hookd/dialect_mgmt_shape.h"
#include "unit.h"

static void test_subscription_shape(void) {
    json_object *native = json_tokener_parse(
        "{\"id\": \"sub_1\", \"alias\": 7, \"name\": \"n\", \"event_types\": [\"a.b\", \"c.*\"], "
        "\"url\": \"https://x/h\", \"headers\": {\"x-a\": \"1/2\"}, \"max_retry_count\": 3, "
        "\"is_active\": false, \"secret_last_4\": \"wxyz\", \"filter\": null, "
        "\"created_at\": \"2026-01-01T00:00:00.000Z\", \"updated_at\": \"2026-01-02T00:00:00.000Z\"}");
    json_object *m = hd_dialect_mgmt_shape_subscription(native, NULL, "t1");
    CHECK_STR(unit_json(m),
              "{\"id\":7,\"name\":\"n\",\"eventType\":\"a.b\",\"url\":\"https:\\/\\/x\\/h\",\"secret\":\"****wxyz\","
              "\"maxRetryCount\":3,\"isActive\":false,\"userId\":\"t1\",\"headers\":\"{\\\"x-a\\\":\\\"1\\/2\\\"}\","
              "\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-02T00:00:00.000Z\"}");
    json_object_put(m);
    m = hd_dialect_mgmt_shape_subscription(native, "whsec_shown", "t1");
    CHECK_STR(json_object_get_string(json_object_object_get(m, "headers")), "{\"x-a\":\"1/2\"}"); /* unescaped */
    CHECK_STR(json_object_get_string(json_object_object_get(m, "secret")), "whsec_shown");
    json_object_put(m);
    json_object_put(native);
    native = json_tokener_parse("{\"alias\": 1, \"event_types\": []}");
    m = hd_dialect_mgmt_shape_subscription(native, NULL, "t2");
    CHECK(json_object_object_get(m, "eventType") == NULL && json_object_object_get(m, "secret") == NULL);
    CHECK_STR(json_object_get_string(json_object_object_get(m, "headers")), "{}");
    json_object_put(m);
    json_object_put(native);
}

static void test_event_shape(void) {
    json_object *native =
        json_tokener_parse("{\"id\": \"msg_1\", \"alias\": 12, \"event_type\": \"a.b\", \"status\": \"failed\", "
                           "\"status_code\": 500, \"response\": \"no\", \"error_message\": \"HTTP 500\", "
                           "\"is_success\": false, \"retry_count\": 2, \"sent_at\": \"2026-01-01T00:00:00.000Z\", "
                           "\"next_retry_at\": null, \"created_at\": \"2026-01-01T00:00:00.000Z\"}");
    json_object *m = hd_dialect_mgmt_shape_event(native, 7);
    CHECK_STR(unit_json(m),
              "{\"id\":12,\"webhookSubscriptionId\":7,\"eventType\":\"a.b\",\"payload\":null,\"statusCode\":500,"
              "\"response\":\"no\",\"errorMessage\":\"HTTP 500\",\"isSuccess\":false,\"retryCount\":2,"
              "\"sentAt\":\"2026-01-01T00:00:00.000Z\",\"nextRetryAt\":null,"
              "\"createdAt\":\"2026-01-01T00:00:00.000Z\"}");
    json_object_put(m);
    json_object_put(native);
}

/* The native body for the management object text, or NULL with why. */
static json_object *native_of(const char *sub, char *why, size_t why_size) {
    json_object *in = json_tokener_parse(sub), *out = NULL;
    why[0] = '\0';
    hd_dialect_mgmt_shape_native_body(in, &out, why, why_size);
    json_object_put(in);
    return out;
}

static void test_native_body(void) {
    char why[256];
    json_object *n = native_of("{\"name\": \"s\", \"eventType\": \"a.b\", \"url\": \"http://x/\", "
                               "\"secret\": \"whsec_abc\", \"headers\": {\"x\": \"1\"}, \"maxRetryCount\": 0, "
                               "\"isActive\": false}",
                               why, sizeof(why));
    CHECK_STR(unit_json(n),
              "{\"url\":\"http:\\/\\/x\\/\",\"event_types\":[\"a.b\"],\"name\":\"s\",\"max_retry_count\":0,"
              "\"is_active\":false,\"headers\":{\"x\":\"1\"},\"secret\":\"whsec_abc\"}");
    json_object_put(n);
    /* Defaults for a full replace; a masked secret and null fields are left to the core. */
    n = native_of(
        "{\"eventType\": \"a.b\", \"url\": \"u\", \"secret\": \"****abcd\", \"headers\": \"{\\\"k\\\": \\\"v\\\"}\", "
        "\"name\": null}",
        why, sizeof(why));
    CHECK_STR(unit_json(n), "{\"url\":\"u\",\"event_types\":[\"a.b\"],\"name\":\"\",\"max_retry_count\":5,"
                            "\"is_active\":true,\"headers\":{\"k\":\"v\"}}");
    json_object_put(n);
    /* A raw secret's bytes become the key. */
    n = native_of("{\"eventType\": \"a.b\", \"url\": \"u\", \"secret\": \"0123456789abcdef\"}", why, sizeof(why));
    CHECK_STR(json_object_get_string(json_object_object_get(n, "secret")), "whsec_MDEyMzQ1Njc4OWFiY2RlZg==");
    json_object_put(n);
    static const char *const bad[][2] = {
        {"{\"url\": \"u\"}", "eventType: required"},
        {"{\"eventType\": \"a.b\"}", "url: required"},
        {"{\"eventType\": \"a.b\", \"url\": null}", "url: required"},
        {"{\"eventType\": 1, \"url\": \"u\"}", "eventType: a string"},
        {"{\"eventType\": \"a.b\", \"url\": \"u\", \"id\": 1}", "id: unknown field"},
        {"{\"eventType\": \"a.b\", \"url\": \"u\", \"headers\": [1]}", "headers:"},
        {"{\"eventType\": \"a.b\", \"url\": \"u\", \"headers\": \"[1]\"}", "headers:"},
        {"{\"eventType\": \"a.b\", \"url\": \"u\", \"secret\": \"short\"}", "(5 given)"},
        {"{\"eventType\": \"a.b\", \"url\": \"u\", \"secret\": 5}", "secret: a string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = native_of(bad[i][0], why, sizeof(why));
        CHECK(n == NULL);
        if (!strstr(why, bad[i][1])) fprintf(stderr, "%s: %s\n", bad[i][0], why);
        CHECK(strstr(why, bad[i][1]) != NULL);
    }
}

static void test_field_names(void) {
    const char *sel = "webhookEvents,x";
    CHECK_STR(hd_dialect_mgmt_shape_field(HD_MGMT_SUBSCRIPTIONS, sel, 13), "webhookEvents");
    CHECK(hd_dialect_mgmt_shape_field(HD_MGMT_SUBSCRIPTIONS, sel, 7) == NULL);
    CHECK(hd_dialect_mgmt_shape_field(HD_MGMT_SUBSCRIPTIONS, "payload", 7) == NULL);
    CHECK_STR(hd_dialect_mgmt_shape_field(HD_MGMT_EVENTS, "payload", 7), "payload");
    CHECK_STR(hd_dialect_mgmt_shape_name("event_types[0]"), "eventType");
    CHECK_STR(hd_dialect_mgmt_shape_name("max_retry_count"), "maxRetryCount");
    CHECK_STR(hd_dialect_mgmt_shape_name("tenant"), "tenant");
}

int main(void) {
    RUN(test_subscription_shape);
    RUN(test_event_shape);
    RUN(test_native_body);
    RUN(test_field_names);
    return UNIT_REPORT();
}
