/* The management dialect's pure parts: its shapes of subscriptions and events, the native body it builds, the
 * filter, sort and select parsers, and its error shape. */
#include <stdlib.h>

#include "hookd/dialect_mgmt.h"
#include "unit.h"

static json_object *parse(const char *text) {
    return json_tokener_parse(text);
}

/* The JSON text of o (compact), in a static buffer. */
static const char *text(json_object *o) {
    static char buf[4096];
    snprintf(buf, sizeof(buf), "%s", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    return buf;
}

static const char *bson_text(const bson_t *b) {
    static char buf[4096];
    char *s = bson_as_relaxed_extended_json(b, NULL);
    snprintf(buf, sizeof(buf), "%s", s);
    bson_free(s);
    return buf;
}

static void test_subscription_shape(void) {
    json_object *native =
        parse("{\"id\": \"sub_1\", \"alias\": 7, \"name\": \"n\", \"event_types\": [\"a.b\", \"c.*\"], "
              "\"url\": \"https://x/h\", \"headers\": {\"x-a\": \"1/2\"}, \"max_retry_count\": 3, "
              "\"is_active\": false, \"secret_last_4\": \"wxyz\", \"filter\": null, "
              "\"created_at\": \"2026-01-01T00:00:00.000Z\", \"updated_at\": \"2026-01-02T00:00:00.000Z\"}");
    json_object *m = hd_dialect_mgmt_subscription(native, NULL, "t1");
    CHECK_STR(text(m),
              "{\"id\":7,\"name\":\"n\",\"eventType\":\"a.b\",\"url\":\"https:\\/\\/x\\/h\",\"secret\":\"****wxyz\","
              "\"maxRetryCount\":3,\"isActive\":false,\"userId\":\"t1\",\"headers\":\"{\\\"x-a\\\":\\\"1\\/2\\\"}\","
              "\"createdAt\":\"2026-01-01T00:00:00.000Z\",\"updatedAt\":\"2026-01-02T00:00:00.000Z\"}");
    json_object_put(m);
    m = hd_dialect_mgmt_subscription(native, "whsec_shown", "t1");
    CHECK_STR(json_object_get_string(json_object_object_get(m, "headers")), "{\"x-a\":\"1/2\"}"); /* unescaped */
    CHECK_STR(json_object_get_string(json_object_object_get(m, "secret")), "whsec_shown");
    json_object_put(m);
    json_object_put(native);
    native = parse("{\"alias\": 1, \"event_types\": []}");
    m = hd_dialect_mgmt_subscription(native, NULL, "t2");
    CHECK(json_object_object_get(m, "eventType") == NULL && json_object_object_get(m, "secret") == NULL);
    CHECK_STR(json_object_get_string(json_object_object_get(m, "headers")), "{}");
    json_object_put(m);
    json_object_put(native);
}

static void test_event_shape(void) {
    json_object *native = parse("{\"id\": \"msg_1\", \"alias\": 12, \"event_type\": \"a.b\", \"status\": \"failed\", "
                                "\"status_code\": 500, \"response\": \"no\", \"error_message\": \"HTTP 500\", "
                                "\"is_success\": false, \"retry_count\": 2, \"sent_at\": \"2026-01-01T00:00:00.000Z\", "
                                "\"next_retry_at\": null, \"created_at\": \"2026-01-01T00:00:00.000Z\"}");
    json_object *m = hd_dialect_mgmt_event(native, 7);
    CHECK_STR(text(m),
              "{\"id\":12,\"webhookSubscriptionId\":7,\"eventType\":\"a.b\",\"payload\":null,\"statusCode\":500,"
              "\"response\":\"no\",\"errorMessage\":\"HTTP 500\",\"isSuccess\":false,\"retryCount\":2,"
              "\"sentAt\":\"2026-01-01T00:00:00.000Z\",\"nextRetryAt\":null,"
              "\"createdAt\":\"2026-01-01T00:00:00.000Z\"}");
    json_object_put(m);
    json_object_put(native);
}

/* The native body for the management object text, or NULL with why. */
static json_object *native_of(const char *sub, char *why, size_t why_size) {
    json_object *in = parse(sub), *out = NULL;
    why[0] = '\0';
    hd_dialect_mgmt_native_body(in, &out, why, why_size);
    json_object_put(in);
    return out;
}

static void test_native_body(void) {
    char why[256];
    json_object *n = native_of("{\"name\": \"s\", \"eventType\": \"a.b\", \"url\": \"http://x/\", "
                               "\"secret\": \"whsec_abc\", \"headers\": {\"x\": \"1\"}, \"maxRetryCount\": 0, "
                               "\"isActive\": false}",
                               why, sizeof(why));
    CHECK_STR(text(n), "{\"url\":\"http:\\/\\/x\\/\",\"event_types\":[\"a.b\"],\"name\":\"s\",\"max_retry_count\":0,"
                       "\"is_active\":false,\"headers\":{\"x\":\"1\"},\"secret\":\"whsec_abc\"}");
    json_object_put(n);
    /* Defaults for a full replace; a masked secret and null fields are left to the core. */
    n = native_of(
        "{\"eventType\": \"a.b\", \"url\": \"u\", \"secret\": \"****abcd\", \"headers\": \"{\\\"k\\\": \\\"v\\\"}\", "
        "\"name\": null}",
        why, sizeof(why));
    CHECK_STR(text(n), "{\"url\":\"u\",\"event_types\":[\"a.b\"],\"name\":\"\",\"max_retry_count\":5,"
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

/* The filter as BSON text, or the error. */
static const char *filter(const char *f, hd_mgmt_kind_t kind) {
    static char why[512];
    bson_t out = BSON_INITIALIZER;
    const char *s = hd_dialect_mgmt_filter(f, kind, &out, why, sizeof(why)) ? why : bson_text(&out);
    bson_destroy(&out);
    return s;
}

static void test_filter(void) {
    CHECK_STR(filter("isActive eq true", HD_MGMT_SUBSCRIPTIONS),
              "{ \"$and\" : [ { \"is_active\" : { \"$eq\" : true } } ] }");
    CHECK_STR(filter("name eq 'o''b c' AND maxRetryCount ge -2 and id ne null", HD_MGMT_SUBSCRIPTIONS),
              "{ \"$and\" : [ { \"name\" : { \"$eq\" : \"o'b c\" } }, { \"max_retry_count\" : { \"$gte\" : -2 } }, "
              "{ \"alias\" : { \"$ne\" : null } } ] }");
    CHECK_STR(filter("  eventType  eq  'a.b'  ", HD_MGMT_SUBSCRIPTIONS),
              "{ \"$and\" : [ { \"event_types\" : { \"$eq\" : \"a.b\" } } ] }");
    CHECK_STR(filter("createdAt lt '2026-01-01T00:00:00Z'", HD_MGMT_EVENTS),
              "{ \"$and\" : [ { \"created_at\" : { \"$lt\" : { \"$date\" : \"2026-01-01T00:00:00Z\" } } } ] }");
    CHECK_STR(filter("statusCode gt 299 and isSuccess eq false", HD_MGMT_EVENTS),
              "{ \"$and\" : [ { \"status_code\" : { \"$gt\" : 299 } }, { \"is_success\" : { \"$eq\" : false } } ] }");
    static const char *const bad[][2] = {
        {"", "expected \"field op value\""},
        {"name", "needs an operator"},
        {"name eq", "needs an operator"},
        {"nope eq 1", "\"nope\" is not a field"},
        {"'name' eq 'x'", "not a field"},
        {"name is 'x'", "not an operator"},
        {"name eq x", "quoted string"},
        {"name lt 'x'", "eq and ne only"},
        {"isActive eq 1", "true or false"},
        {"id eq '1'", "an integer"},
        {"id eq 1x", "an integer"},
        {"id eq 99999999999999999999", "an integer"},
        {"createdAt eq 'soon'", "RFC 3339"},
        {"id gt null", "an integer"},
        {"name eq 'x' or id eq 1", "joined by \"and\""},
        {"name eq 'x' and", "expected \"field op value\""},
        {"name eq 'open", "not closed"},
        {"name eq '\xff'", "quoted string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *got = filter(bad[i][0], HD_MGMT_SUBSCRIPTIONS);
        if (!strstr(got, bad[i][1])) fprintf(stderr, "%s: %s\n", bad[i][0], got);
        CHECK(strstr(got, bad[i][1]) != NULL);
    }
    CHECK(strstr(filter("name eq 'x'", HD_MGMT_EVENTS), "not a field") != NULL);
    CHECK(strstr(filter("isSuccess eq true", HD_MGMT_SUBSCRIPTIONS), "not a field") != NULL);
    char many[512] = "";
    for (int i = 0; i < 11; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sid eq %d", i ? " and " : "", i);
    CHECK(strstr(filter(many, HD_MGMT_SUBSCRIPTIONS), "at most 10") != NULL);
    char *huge = calloc(1, 2000);
    memset(huge, 'a', 1999);
    CHECK(strstr(filter(huge, HD_MGMT_SUBSCRIPTIONS), "at most 1024 bytes") != NULL);
    free(huge);
}

static const char *sort(const char *s, hd_mgmt_kind_t kind) {
    static char why[512];
    bson_t out = BSON_INITIALIZER;
    const char *r = hd_dialect_mgmt_sort(s, kind, &out, why, sizeof(why)) ? why : bson_text(&out);
    bson_destroy(&out);
    return r;
}

static void test_sort(void) {
    CHECK_STR(sort("name", HD_MGMT_SUBSCRIPTIONS), "{ \"name\" : 1 }");
    CHECK_STR(sort(" createdAt DESC , id asc", HD_MGMT_SUBSCRIPTIONS), "{ \"created_at\" : -1, \"alias\" : 1 }");
    CHECK_STR(sort("sentAt desc", HD_MGMT_EVENTS), "{ \"sent_at\" : -1 }");
    CHECK(strstr(sort("eventType", HD_MGMT_SUBSCRIPTIONS), "not a field to sort by") != NULL);
    CHECK(strstr(sort("name up", HD_MGMT_SUBSCRIPTIONS), "asc, desc") != NULL);
    CHECK(strstr(sort("name,name", HD_MGMT_SUBSCRIPTIONS), "twice") != NULL);
    CHECK(strstr(sort("name,", HD_MGMT_SUBSCRIPTIONS), "empty item") != NULL);
    CHECK(strstr(sort("", HD_MGMT_SUBSCRIPTIONS), "empty item") != NULL);
    CHECK(strstr(sort("id,name,url,isActive,createdAt,updatedAt", HD_MGMT_SUBSCRIPTIONS), "at most 5") != NULL);
}

static void test_select_and_project(void) {
    char why[256];
    json_object *fields;
    CHECK(hd_dialect_mgmt_select("id, webhookEvents,name", HD_MGMT_SUBSCRIPTIONS, &fields, why, sizeof(why)) == 0);
    CHECK_STR(text(fields), "[\"id\",\"webhookEvents\",\"name\"]");
    json_object *item = parse("{\"id\": 1, \"name\": \"n\", \"url\": \"u\"}");
    json_object *p = hd_dialect_mgmt_project(item, fields);
    CHECK_STR(text(p), "{\"id\":1,\"name\":\"n\"}");
    json_object_put(p);
    json_object_put(fields);
    item = parse("{\"id\": 1}");
    p = hd_dialect_mgmt_project(item, NULL);
    CHECK(p == item);
    json_object_put(p);
    CHECK(hd_dialect_mgmt_select("id,webhookSubscriptionId", HD_MGMT_EVENTS, &fields, why, sizeof(why)) == 0);
    json_object_put(fields);
    CHECK(hd_dialect_mgmt_select("id,webhookSubscriptionId", HD_MGMT_SUBSCRIPTIONS, &fields, why, sizeof(why)) == -1);
    CHECK(fields == NULL && strstr(why, "\"webhookSubscriptionId\" is not a field"));
    CHECK(hd_dialect_mgmt_select("id,,name", HD_MGMT_SUBSCRIPTIONS, &fields, why, sizeof(why)) == -1);
}

static void test_error_shape(void) {
    hd_api_req_t r = {.method = "POST"};
    json_object *details = NULL;
    hd_api_req_detail(&details, "event_types[0]", "unknown event type \"x\"");
    hd_api_req_detail(&details, "max_retry_count", "an integer from 0 to 100");
    hd_api_req_error(&r, 422, "invalid-param", details, "the subscription is not valid");
    hd_dialect_mgmt_reshape_error(&r);
    CHECK(r.status == 400);
    CHECK_STR(text(r.reply), "{\"success\":false,\"message\":\"the subscription is not valid (eventType: unknown event "
                             "type \\\"x\\\"; maxRetryCount: an integer from 0 to 100)\"}");
    hd_api_req_not_allowed(&r, "GET, PUT");
    hd_dialect_mgmt_reshape_error(&r);
    CHECK(r.status == 405 && r.allow && !strcmp(r.allow, "GET, PUT"));
    CHECK_STR(text(r.reply), "{\"success\":false,\"message\":\"POST is not allowed here (allowed: GET, PUT)\"}");
    details = NULL;
    hd_api_req_detail(&details, "take", "unknown query parameter");
    hd_api_req_error(&r, 400, "invalid-param", details, "unknown query parameter \"take\"");
    hd_dialect_mgmt_reshape_error(&r);
    CHECK_STR(text(r.reply), "{\"success\":false,\"message\":\"unknown query parameter \\\"take\\\"\"}");
    json_object_put(r.reply);
}

int main(void) {
    RUN(test_subscription_shape);
    RUN(test_event_shape);
    RUN(test_native_body);
    RUN(test_filter);
    RUN(test_sort);
    RUN(test_select_and_project);
    RUN(test_error_shape);
    return UNIT_REPORT();
}
