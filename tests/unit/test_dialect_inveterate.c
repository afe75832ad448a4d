#include "hookd/dialect_inveterate.h"

#include <json-c/json.h>
#include <string.h>

#include "unit.h"

static json_object *js(const char *text) {
    return json_tokener_parse(text);
}

/* 1 when a and b are equal JSON values (keys in any order). */
static int same(json_object *a, const char *b) {
    json_object *w = js(b);
    int eq = json_object_equal(a, w);
    if (!eq)
        fprintf(stderr, "got %s\nwant %s\n", json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN),
                json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN));
    json_object_put(w);
    return eq;
}

/* Runs subscription_in on text; returns the rc and fills why. */
static int sub_in(const char *text, hd_dialect_inveterate_op_t op, json_object **native, const char **id,
                  const char **topic, json_object **body, char *why) {
    *body = text ? js(text) : NULL;
    return hd_dialect_inveterate_subscription_in(*body, op, native, id, topic, why, 256);
}

static void test_subscription_create(void) {
    json_object *native, *body;
    const char *id, *topic;
    char why[256];
    CHECK(!sub_in("{\"topic\":\"customer.joined.paid_tier\",\"callbackUrl\":\"https://x.test/h\",\"name\":\"n\"}",
                  HD_DIALECT_INVETERATE_CREATE, &native, &id, &topic, &body, why));
    CHECK(
        same(native, "{\"event_types\":[\"customer.joined.paid_tier\"],\"url\":\"https://x.test/h\",\"name\":\"n\"}"));
    CHECK(id == NULL);
    CHECK_STR(topic, "customer.joined.paid_tier");
    json_object_put(native);
    json_object_put(body);
}

static void test_subscription_update_and_delete(void) {
    json_object *native, *body;
    const char *id, *topic;
    char why[256];
    CHECK(!sub_in("{\"topic\":\"customer.joined.paid_tier\",\"id\":\"sub_1\",\"name\":\"m\"}",
                  HD_DIALECT_INVETERATE_UPDATE, &native, &id, &topic, &body, why));
    CHECK(same(native, "{\"name\":\"m\"}")); /* the topic is the key, not a change */
    CHECK_STR(id, "sub_1");
    json_object_put(native);
    json_object_put(body);
    CHECK(!sub_in("{\"topic\":\"customer.joined.paid_tier\",\"id\":\"sub_2\"}", HD_DIALECT_INVETERATE_DELETE, &native,
                  &id, &topic, &body, why));
    CHECK_STR(id, "sub_2");
    json_object_put(native);
    json_object_put(body);
}

static void test_subscription_test_event(void) {
    json_object *native, *body;
    const char *id, *topic;
    char why[256];
    CHECK(!sub_in("{\"topic\":\"customer.joined.paid_tier\",\"id\":\"sub_1\",\"data\":{\"a\":1}}",
                  HD_DIALECT_INVETERATE_TEST, &native, &id, &topic, &body, why));
    CHECK(same(native, "{\"event_type\":\"customer.joined.paid_tier\",\"data\":{\"a\":1}}"));
    json_object_put(native);
    json_object_put(body);
}

static void test_log_queries(void) {
    json_object *native, *body;
    const char *id, *topic;
    char why[256];
    CHECK(!sub_in("{\"topic\":\"customer.joined.paid_tier\",\"id\":\"sub_1\",\"limit\":\"5\",\"lastEventId\":\"c\"}",
                  HD_DIALECT_INVETERATE_LOG, &native, &id, &topic, &body, why));
    CHECK(same(native, "{\"limit\":\"5\",\"after\":\"c\"}"));
    CHECK_STR(id, "sub_1");
    json_object_put(native);
    json_object_put(body);
    CHECK(sub_in("{\"id\":\"sub_1\"}", HD_DIALECT_INVETERATE_LOG, &native, &id, &topic, &body, why) == -1);
    CHECK_STR(why, "missing parameter topic");
    json_object_put(body);

    CHECK(!hd_dialect_inveterate_webhook_in(NULL, HD_DIALECT_INVETERATE_LOG, &native, why, sizeof(why)));
    CHECK(same(native, "{}"));
    json_object_put(native);
    body = js("{\"lastEventId\":\"c\"}");
    CHECK(!hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_LOG, &native, why, sizeof(why)));
    CHECK(same(native, "{\"after\":\"c\"}"));
    json_object_put(native);
    json_object_put(body);
    body = js("{\"take\":\"5\"}");
    CHECK(hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_LOG, &native, why, sizeof(why)) == -1);
    CHECK_STR(why, "unknown parameter \"take\" (allowed: limit, lastEventId)");
    json_object_put(body);
}

/* Every malformed body is refused with a message and no native body. */
static void test_subscription_bad(void) {
    static const struct {
        const char *body;
        hd_dialect_inveterate_op_t op;
        const char *why;
    } cases[] = {
        {NULL, HD_DIALECT_INVETERATE_CREATE, "the body must be a JSON object with topic, callbackUrl, name"},
        {"[1]", HD_DIALECT_INVETERATE_CREATE, "the body must be a JSON object with topic, callbackUrl, name"},
        {"{\"topic\":\"customer.joined.paid_tier\",\"callbackUrl\":\"u\"}", HD_DIALECT_INVETERATE_CREATE,
         "missing parameter name"},
        {"{\"topic\":\"customer.joined.paid_tier\",\"callbackUrl\":\"u\",\"name\":\"n\",\"url\":\"u\"}",
         HD_DIALECT_INVETERATE_CREATE, "unknown parameter \"url\" (allowed: topic, callbackUrl, name)"},
        {"{\"topic\":\"customer.created\",\"callbackUrl\":\"u\",\"name\":\"n\"}", HD_DIALECT_INVETERATE_CREATE,
         "topic must be one of: customer.joined.paid_tier"},
        {"{\"topic\":7,\"callbackUrl\":\"u\",\"name\":\"n\"}", HD_DIALECT_INVETERATE_CREATE,
         "topic must be a non-empty string"},
        {"{\"topic\":\"customer.joined.paid_tier\"}", HD_DIALECT_INVETERATE_UPDATE, "missing parameter id"},
        {"{\"topic\":\"customer.joined.paid_tier\",\"id\":5}", HD_DIALECT_INVETERATE_DELETE,
         "id must be a non-empty string"},
        {"{\"topic\":\"customer.joined.paid_tier\",\"id\":\"\"}", HD_DIALECT_INVETERATE_DELETE,
         "id must be a non-empty string"},
        {"{\"topic\":\"customer.joined.paid_tier\",\"id\":\"s\",\"name\":\"n\"}", HD_DIALECT_INVETERATE_DELETE,
         "unknown parameter \"name\" (allowed: topic, id)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_object *before = js("{}"), *native = before, *body;
        const char *id, *topic;
        char why[256] = "";
        CHECK(sub_in(cases[i].body, cases[i].op, &native, &id, &topic, &body, why) == -1);
        CHECK(native == NULL);
        CHECK_STR(why, cases[i].why);
        json_object_put(body);
        json_object_put(before);
    }
}

static void test_webhook_in(void) {
    json_object *native, *body = js("{\"callbackUrl\":\"https://x.test/h\"}");
    char why[256];
    CHECK(!hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_CREATE, &native, why, sizeof(why)));
    json_object *types;
    CHECK(json_object_object_get_ex(native, "event_types", &types));
    CHECK(json_object_array_length(types) == 8);
    CHECK_STR(json_object_get_string(json_object_array_get_idx(types, 7)), "customer.confirmed_cancellation");
    CHECK(!json_object_object_get_ex(native, "name", NULL));
    json_object_put(native);
    json_object_put(body);

    CHECK(!hd_dialect_inveterate_webhook_in(NULL, HD_DIALECT_INVETERATE_TEST, &native, why, sizeof(why)));
    CHECK(same(native, "{}"));
    json_object_put(native);
    body = js("{\"topic\":\"customer.ordered\",\"data\":{\"x\":true}}");
    CHECK(!hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_TEST, &native, why, sizeof(why)));
    CHECK(same(native, "{\"event_type\":\"customer.ordered\",\"data\":{\"x\":true}}"));
    json_object_put(native);
    json_object_put(body);

    body = js("{\"name\":\"n\"}");
    CHECK(hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_CREATE, &native, why, sizeof(why)) == -1);
    CHECK_STR(why, "missing parameter callbackUrl");
    json_object_put(body);
    body = js("{\"callbackUrl\":\"u\",\"events\":[]}");
    CHECK(hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_CREATE, &native, why, sizeof(why)) == -1);
    CHECK_STR(why, "unknown parameter \"events\" (allowed: callbackUrl, name)");
    CHECK(native == NULL);
    json_object_put(body);
}

static const char native_sub[] =
    "{\"id\":\"sub_1\",\"name\":\"n\",\"event_types\":[\"customer.joined.paid_tier\"],\"url\":\"https://x.test/h\","
    "\"secret_last_4\":\"abcd\",\"created_at\":\"2026-01-01T00:00:00.000Z\",\"updated_at\":\"2026-01-02T00:00:00."
    "000Z\","
    "\"secret\":\"whsec_AAAA\"}";

static void test_subscription_out(void) {
    json_object *sub = js(native_sub), *o = hd_dialect_inveterate_subscription_out(sub);
    CHECK(same(o,
               "{\"id\":\"sub_1\",\"topic\":\"customer.joined.paid_tier\",\"callbackUrl\":\"https://x.test/h\","
               "\"name\":\"n\",\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-02T00:00:00.000Z\","
               "\"token\":\"whsec_AAAA\"}"));
    json_object_put(o);
    json_object_object_del(sub, "secret");
    json_object_object_del(sub, "event_types");
    o = hd_dialect_inveterate_subscription_out(sub);
    CHECK(same(o, "{\"id\":\"sub_1\",\"topic\":null,\"callbackUrl\":\"https://x.test/h\",\"name\":\"n\","
                  "\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-02T00:00:00.000Z\"}"));
    json_object_put(o);
    json_object_put(sub);
}

static void test_webhook_out(void) {
    json_object *sub = js(native_sub), *o = hd_dialect_inveterate_webhook_out(sub);
    CHECK(same(o, "{\"id\":\"sub_1\",\"callbackUrl\":\"https://x.test/h\",\"name\":\"n\","
                  "\"events\":[\"customer.joined.paid_tier\"],\"createdAt\":\"2026-01-01T00:00:00.000Z\","
                  "\"token\":\"whsec_AAAA\"}"));
    json_object_put(o);
    json_object_put(sub);
}

static void test_event_and_test_out(void) {
    json_object *row = js("{\"id\":\"d1\",\"subscription_id\":\"sub_1\",\"event_id\":\"e1\",\"event_type\":\"t\","
                          "\"status\":\"succeeded\",\"status_code\":200,\"response\":\"ok\",\"error_message\":null,"
                          "\"is_success\":true,\"retry_count\":0,\"sent_at\":\"s\",\"next_retry_at\":null,"
                          "\"created_at\":\"c\"}");
    json_object *o = hd_dialect_inveterate_event_out(row);
    CHECK(same(o, "{\"id\":\"d1\",\"subscriptionId\":\"sub_1\",\"eventId\":\"e1\",\"topic\":\"t\",\"status\":"
                  "\"succeeded\",\"statusCode\":200,\"response\":\"ok\",\"errorMessage\":null,\"success\":true,"
                  "\"retryCount\":0,\"sentAt\":\"s\",\"nextRetryAt\":null,\"createdAt\":\"c\"}"));
    json_object_put(o);
    json_object_put(row);
    json_object *data =
        js("{\"event_id\":\"evt_test_1\",\"delivery_id\":\"msg_1\",\"event_type\":\"t\",\"subscription_id\":\"s\"}");
    o = hd_dialect_inveterate_test_out(data);
    CHECK(same(o, "{\"id\":\"s\",\"eventId\":\"evt_test_1\",\"deliveryId\":\"msg_1\",\"topic\":\"t\"}"));
    json_object_put(o);
    json_object_put(data);
}

static void test_errors(void) {
    unsigned status = 0;
    json_object *native = js("{\"success\":false,\"error\":\"invalid-param\",\"message\":\"the subscription is not "
                             "valid\",\"details\":[{\"field\":\"url\",\"message\":\"an absolute http or https URL\"},"
                             "{\"field\":\"event_types[0]\",\"message\":\"unknown\"}]}");
    json_object *o = hd_dialect_inveterate_error(422, native, &status);
    CHECK(status == 400);
    CHECK(same(o, "{\"message\":\"the subscription is not valid: callbackUrl: an absolute http or https URL; topic: "
                  "unknown\",\"data\":null}"));
    json_object_put(o);
    json_object_put(native);

    native = js("{\"success\":false,\"error\":\"not-found\",\"message\":\"no subscription x\",\"details\":[]}");
    o = hd_dialect_inveterate_error(404, native, &status);
    CHECK(status == 400);
    CHECK(same(o, "{\"message\":\"no subscription x\",\"data\":null}"));
    json_object_put(o);
    json_object_put(native);

    native = js("{\"success\":false,\"error\":\"invalid-param\",\"message\":\"after is not a valid cursor\","
                "\"details\":[{\"field\":\"after\",\"message\":\"not a cursor returned by this API\"}]}");
    o = hd_dialect_inveterate_error(400, native, &status);
    CHECK(status == 400);
    CHECK(same(o, "{\"message\":\"lastEventId is not a valid cursor: lastEventId: not a cursor returned by this API\","
                  "\"data\":null}"));
    json_object_put(o);
    json_object_put(native);

    native = js("{\"success\":false,\"error\":\"internal\",\"message\":\"creating the subscription failed\","
                "\"details\":[]}");
    o = hd_dialect_inveterate_error(500, native, &status);
    CHECK(status == 500);
    CHECK(same(o, "{\"message\":\"creating the subscription failed\",\"data\":{\"error\":\"internal\"}}"));
    json_object_put(o);
    json_object_put(native);

    native = js("{\"success\":false,\"error\":\"unavailable\",\"message\":\"m\",\"details\":[]}");
    o = hd_dialect_inveterate_error(503, native, &status);
    CHECK(status == 500);
    CHECK(same(o, "{\"message\":\"m\",\"data\":{\"error\":\"unavailable\"}}"));
    json_object_put(o);
    json_object_put(native);
}

/* The catalogues seeded when the dialects are mounted are the events their webhooks are created with. */
static void test_catalogues(void) {
    CHECK_STR(hd_dialect_inveterate_subscriptions.name, "inveterate-subscriptions");
    CHECK_STR(hd_dialect_inveterate_webhooks.name, "inveterate-webhooks");
    CHECK(hd_dialect_inveterate_subscriptions.nevents == 1);
    CHECK_STR(hd_dialect_inveterate_subscriptions.events[0].name, "customer.joined.paid_tier");
    json_object *native, *body = js("{\"callbackUrl\":\"https://x.test/h\"}"), *types;
    char why[256];
    CHECK(!hd_dialect_inveterate_webhook_in(body, HD_DIALECT_INVETERATE_CREATE, &native, why, sizeof(why)));
    CHECK(json_object_object_get_ex(native, "event_types", &types));
    CHECK(hd_dialect_inveterate_webhooks.nevents == 8 && json_object_array_length(types) == 8);
    for (size_t i = 0; i < hd_dialect_inveterate_webhooks.nevents && i < json_object_array_length(types); i++)
        CHECK_STR(json_object_get_string(json_object_array_get_idx(types, i)),
                  hd_dialect_inveterate_webhooks.events[i].name);
    json_object_put(native);
    json_object_put(body);
}

static void test_envelope(void) {
    json_object *o = hd_dialect_inveterate_envelope("Webhook deleted", NULL);
    CHECK(same(o, "{\"message\":\"Webhook deleted\",\"data\":null}"));
    json_object_put(o);
}

int main(void) {
    RUN(test_subscription_create);
    RUN(test_subscription_update_and_delete);
    RUN(test_subscription_test_event);
    RUN(test_log_queries);
    RUN(test_subscription_bad);
    RUN(test_webhook_in);
    RUN(test_subscription_out);
    RUN(test_webhook_out);
    RUN(test_event_and_test_out);
    RUN(test_errors);
    RUN(test_catalogues);
    RUN(test_envelope);
    return UNIT_REPORT();
}
