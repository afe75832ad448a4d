/* The PlanoAuth dialect's shape mappings: parameters checked per operation, PlanoAuth fields to native ones and
 * back, slugs and envelopes. */
#include <json-c/json.h>
#include <stdlib.h>

#include "hookd/dialect_plano.h"
#include "unit.h"

static json_object *parse(const char *s) {
    json_object *o = json_tokener_parse(s);
    CHECK(o != NULL);
    return o;
}

/* The "field" of details[i], or NULL. */
static const char *detail_field(json_object *details, size_t i) {
    json_object *d = json_object_array_get_idx(details, i), *f;
    return d && json_object_object_get_ex(d, "field", &f) ? json_object_get_string(f) : NULL;
}

static const char *get_str(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : NULL;
}

static int is_null(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v == NULL;
}

static void test_slugs(void) {
    unsigned http = 0;
    CHECK_STR(hd_dialect_plano_slug(201, NULL, &http), "action-successful");
    CHECK(http == 200);
    CHECK_STR(hd_dialect_plano_slug(202, NULL, &http), "action-successful");
    CHECK(http == 200);
    CHECK_STR(hd_dialect_plano_slug(401, "invalid-token", &http), "invalid-token");
    CHECK(http == 401);
    CHECK_STR(hd_dialect_plano_slug(404, "not-found", &http), "invalid-param");
    CHECK(http == 400);
    CHECK_STR(hd_dialect_plano_slug(422, "invalid-param", &http), "invalid-param");
    CHECK(http == 400);
    CHECK_STR(hd_dialect_plano_slug(409, "conflict", &http), "invalid-param");
    CHECK(http == 400);
    CHECK_STR(hd_dialect_plano_slug(415, "invalid-content-type", &http), "invalid-content-type");
    CHECK(http == 400);
    CHECK_STR(hd_dialect_plano_slug(400, "invalid-json", &http), "invalid-encoded-params");
    CHECK(http == 400);
    CHECK_STR(hd_dialect_plano_slug(400, "missing-param", &http), "missing-param");
    CHECK(http == 400);
    CHECK_STR(hd_dialect_plano_slug(405, "method-not-allowed", &http), "route-non-existent");
    CHECK(http == 405);
    CHECK_STR(hd_dialect_plano_slug(500, "internal", &http), "application-crash");
    CHECK(http == 500);
    CHECK_STR(hd_dialect_plano_slug(503, "unavailable", &http), "application-crash");
    CHECK(http == 500);
}

static void test_envelopes(void) {
    json_object *ok = hd_dialect_plano_ok(json_object_new_int(7)), *v;
    CHECK_STR(json_object_to_json_string_ext(ok, JSON_C_TO_STRING_PLAIN),
              "{\"status\":\"action-successful\",\"data\":7}");
    json_object_put(ok);
    json_object *details = parse("[{\"field\":\"event_types[1]\",\"message\":\"unknown\"},{\"field\":\"url\","
                                 "\"message\":\"bad\"},{\"field\":\"name\",\"message\":\"long\"}]");
    json_object *e = hd_dialect_plano_error("invalid-param", "the webhook_out_sub is not valid", details);
    CHECK_STR(get_str(e, "status"), "invalid-param");
    CHECK_STR(get_str(e, "message"), "the webhook_out_sub is not valid");
    CHECK(json_object_object_get_ex(e, "errors", &v) && json_object_array_length(v) == 3);
    CHECK_STR(get_str(json_object_array_get_idx(v, 0), "param"), "events[1]");
    CHECK_STR(get_str(json_object_array_get_idx(v, 1), "param"), "callback_url");
    CHECK_STR(get_str(json_object_array_get_idx(v, 2), "param"), "name");
    CHECK_STR(get_str(json_object_array_get_idx(v, 2), "message"), "long");
    json_object_put(e);
    json_object_put(details);
    static const char *const params[][2] = {{"event_type", "event"},
                                            {"data", "payload"},
                                            {"is_active", "active"},
                                            {"url", "callback_url"},
                                            {"event_types[12]", "events[12]"},
                                            {"event_typesx", "event_typesx"},
                                            {"name", "name"}};
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
        char *param = hd_dialect_plano_param(params[i][0]);
        CHECK_STR(param, params[i][1]);
        free(param);
    }
    e = hd_dialect_plano_error("invalid-token", "no", NULL);
    CHECK(json_object_object_get_ex(e, "errors", &v) && json_object_array_length(v) == 0);
    json_object_put(e);
}

static void test_check(void) {
    const char *slug = NULL;
    json_object *details, *b;

    b = parse("{\"token\":\"t\",\"integration_id\":3,\"id\":9,\"version\":\"1\",\"statuses\":[\"paid\"]}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_UPDATE, &slug, &details) == 0 && !details);
    json_object_put(b);

    b = parse("{\"token\":\"t\",\"id\":9,\"name\":\"x\"}"); /* integration_id and version required on update */
    CHECK(hd_dialect_plano_check(b, HD_PLANO_UPDATE, &slug, &details) == -1);
    CHECK_STR(slug, "missing-param");
    CHECK(json_object_array_length(details) == 2);
    CHECK_STR(detail_field(details, 0), "integration_id");
    CHECK_STR(detail_field(details, 1), "version");
    json_object_put(details);
    json_object_put(b);

    b = parse("{\"integration_id\":3,\"version\":\"1\",\"callback_url\":\"http://x/\"}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_CREATE, &slug, &details) == -1);
    CHECK_STR(slug, "missing-param");
    CHECK_STR(detail_field(details, 0), "token");
    json_object_put(details);
    json_object_put(b);

    /* the id is the server's on create; wrong types; unknown parameters */
    b = parse("{\"token\":5,\"integration_id\":\"3\",\"id\":1,\"version\":\"1\",\"callback_url\":\"http://x/\","
              "\"colour\":\"red\",\"key\":7}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_CREATE, &slug, &details) == -1);
    CHECK_STR(slug, "invalid-param");
    CHECK(json_object_array_length(details) == 4);
    json_object_put(details);
    json_object_put(b);

    char big[400];
    snprintf(big, sizeof(big), "{\"token\":\"t\",\"integration_id\":1,\"id\":2,\"version\":\"1\",\"key\":\"%0201d\"}",
             0);
    b = parse(big);
    CHECK(hd_dialect_plano_check(b, HD_PLANO_UPDATE, &slug, &details) == -1);
    CHECK_STR(detail_field(details, 0), "key");
    json_object_put(details);
    json_object_put(b);

    b = parse("{\"token\":\"t\",\"id\":9007199254740992}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_SHOW, &slug, &details) == -1);
    json_object_put(details);
    json_object_put(b);
    b = parse("{\"token\":\"t\",\"id\":9007199254740991}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_SHOW, &slug, &details) == 0);
    json_object_put(b);

    b = parse("{\"token\":\"t\",\"id\":0}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_SHOW, &slug, &details) == -1);
    CHECK_STR(slug, "invalid-param");
    CHECK_STR(detail_field(details, 0), "id");
    json_object_put(details);
    json_object_put(b);

    b = parse("{\"token\":\"t\",\"id\":4,\"event\":\"order.paid\",\"payload\":{\"a\":1}}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_TEST, &slug, &details) == 0);
    CHECK(hd_dialect_plano_check(b, HD_PLANO_SHOW, &slug, &details) == -1);
    CHECK(json_object_array_length(details) == 2);
    json_object_put(details);
    json_object_put(b);

    b = parse("{\"token\":\"t\",\"offset\":10,\"limit\":5,\"integration_id\":2}");
    CHECK(hd_dialect_plano_check(b, HD_PLANO_LIST, &slug, &details) == 0);
    json_object_put(b);
}

static void test_to_native(void) {
    json_object *details, *v, *m;
    json_object *b = parse("{\"token\":\"t\",\"integration_id\":3,\"name\":\"n\",\"statuses\":[\"paid\",\"shipped\"],"
                           "\"events\":[\"order.created\"],\"notification_emails\":\" a@x.com ,b@y.org\","
                           "\"notify\":true,\"key\":\"k1\",\"payload_render_view\":\"{\\\"o\\\":\\\"{{id}}\\\"}\","
                           "\"callback_url\":\"https://h/x\",\"success_code\":\"201\",\"active\":false,"
                           "\"version\":\"2\"}");
    json_object *n = hd_dialect_plano_to_native(b, HD_PLANO_CREATE, NULL, &details);
    CHECK(n && !details);
    CHECK(!json_object_object_get_ex(n, "token", &v) && !json_object_object_get_ex(n, "integration_id", &v) &&
          !json_object_object_get_ex(n, "key", &v));
    CHECK(json_object_object_get_ex(n, "metadata", &m));
    CHECK_STR(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), "{\"integration_id\":3,\"key\":\"k1\"}");
    CHECK_STR(get_str(n, "url"), "https://h/x");
    CHECK_STR(get_str(n, "payload_template"), "{\"o\":\"{{id}}\"}");
    CHECK(json_object_object_get_ex(n, "success_code", &v) && json_object_get_int64(v) == 201);
    CHECK(json_object_object_get_ex(n, "version", &v) && json_object_get_int64(v) == 2);
    CHECK(json_object_object_get_ex(n, "is_active", &v) && !json_object_get_boolean(v));
    CHECK(json_object_object_get_ex(n, "notification_emails", &v) && json_object_array_length(v) == 2);
    CHECK_STR(json_object_get_string(json_object_array_get_idx(v, 0)), "a@x.com");
    CHECK_STR(json_object_get_string(json_object_array_get_idx(v, 1)), "b@y.org");
    CHECK(json_object_object_get_ex(n, "event_types", &v) && json_object_array_length(v) == 1);
    CHECK(json_object_object_get_ex(n, "statuses", &v) && json_object_array_length(v) == 2);
    json_object_put(n);
    json_object_put(b);

    /* empty values: every order event, no template, any 2xx, no e-mails */
    b = parse("{\"events\":[],\"payload_render_view\":\"\",\"success_code\":\"\",\"notification_emails\":\"\","
              "\"version\":\"1\"}");
    n = hd_dialect_plano_to_native(b, HD_PLANO_UPDATE, NULL, &details);
    CHECK(n && !details);
    CHECK(json_object_object_get_ex(n, "event_types", &v));
    CHECK_STR(json_object_get_string(json_object_array_get_idx(v, 0)), "order.**");
    CHECK(is_null(n, "payload_template") && is_null(n, "success_code"));
    CHECK(json_object_object_get_ex(n, "notification_emails", &v) && json_object_array_length(v) == 0);
    json_object_put(n);
    json_object_put(b);

    /* integration_id and key change in a copy of the current metadata, which keeps its other members */
    json_object *current = parse("{\"partner_id\":\"p\",\"key\":\"old\"}");
    b = parse("{\"version\":\"1\",\"key\":null}");
    n = hd_dialect_plano_to_native(b, HD_PLANO_UPDATE, current, &details);
    CHECK(n && json_object_object_get_ex(n, "metadata", &m) && m != current);
    CHECK_STR(json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN), "{\"partner_id\":\"p\",\"key\":null}");
    CHECK_STR(json_object_to_json_string_ext(current, JSON_C_TO_STRING_PLAIN),
              "{\"partner_id\":\"p\",\"key\":\"old\"}");
    json_object_put(n);
    json_object_put(b);
    b = parse("{\"version\":\"1\",\"name\":\"x\"}");
    n = hd_dialect_plano_to_native(b, HD_PLANO_UPDATE, current, &details);
    CHECK(n && !json_object_object_get_ex(n, "metadata", &m));
    json_object_put(n);
    json_object_put(b);
    json_object_put(current);

    /* an update without events leaves them; a create without them gets every order event */
    b = parse("{\"version\":\"1\"}");
    n = hd_dialect_plano_to_native(b, HD_PLANO_UPDATE, NULL, &details);
    CHECK(n && !json_object_object_get_ex(n, "event_types", &v));
    json_object_put(n);
    n = hd_dialect_plano_to_native(b, HD_PLANO_CREATE, NULL, &details);
    CHECK(n && json_object_object_get_ex(n, "event_types", &v));
    json_object_put(n);
    json_object_put(b);

    static const char *const bad[][2] = {
        {"{\"version\":\"3\"}", "version"},
        {"{\"version\":\"v1\"}", "version"},
        {"{\"version\":1}", "version"},
        {"{\"version\":\"\"}", "version"},
        {"{\"success_code\":200}", "success_code"},
        {"{\"success_code\":\"2000\"}", "success_code"},
        {"{\"success_code\":\"2x0\"}", "success_code"},
        {"{\"notification_emails\":[\"a@x.com\"]}", "notification_emails"},
        {"{\"notification_emails\":\"a@x.com,\"}", "notification_emails"},
        {"{\"notification_emails\":\"a@x.com,,b@y.org\"}", "notification_emails"},
        {"{\"notification_emails\":\"a@x.com\\u0000,b@y.org\"}", "notification_emails"},
        {"{\"statuses\":[\"paid\",\"lost\"]}", "statuses[1]"},
        {"{\"statuses\":[7]}", "statuses[0]"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = parse(bad[i][0]);
        n = hd_dialect_plano_to_native(b, HD_PLANO_UPDATE, NULL, &details);
        CHECK(!n && details);
        if (details) CHECK_STR(detail_field(details, 0), bad[i][1]);
        json_object_put(details);
        json_object_put(b);
    }
}

static void test_from_native(void) {
    json_object *sub = parse("{\"id\":\"sub_1\",\"name\":\"n\",\"event_types\":[\"order.paid\"],\"url\":\"https://h/\","
                             "\"success_code\":204,\"is_active\":true,\"statuses\":[\"paid\"],"
                             "\"payload_template\":null,\"version\":2,\"notify\":false,"
                             "\"notification_emails\":[\"a@x.com\",\"b@y.org\"],\"alias\":12,"
                             "\"metadata\":{\"integration_id\":3,\"key\":\"k\",\"other\":1},"
                             "\"secret_last_4\":\"abcd\",\"created_at\":\"2026-01-01T00:00:00.000Z\","
                             "\"filter\":null,\"headers\":{}}");
    json_object *p = hd_dialect_plano_from_native(sub), *v;
    CHECK(json_object_object_get_ex(p, "id", &v) && json_object_get_int64(v) == 12);
    CHECK(json_object_object_get_ex(p, "integration_id", &v) && json_object_get_int64(v) == 3);
    CHECK_STR(get_str(p, "subscription_id"), "sub_1");
    CHECK_STR(get_str(p, "callback_url"), "https://h/");
    CHECK_STR(get_str(p, "success_code"), "204");
    CHECK_STR(get_str(p, "version"), "2");
    CHECK_STR(get_str(p, "notification_emails"), "a@x.com,b@y.org");
    CHECK_STR(get_str(p, "key"), "k");
    CHECK(json_object_object_get_ex(p, "active", &v) && json_object_get_boolean(v));
    CHECK(is_null(p, "payload_render_view"));
    CHECK(json_object_object_get_ex(p, "events", &v) && json_object_array_length(v) == 1);
    CHECK(!json_object_object_get_ex(p, "filter", &v) && !json_object_object_get_ex(p, "headers", &v) &&
          !json_object_object_get_ex(p, "url", &v) && !json_object_object_get_ex(p, "secret", &v) &&
          !json_object_object_get_ex(p, "metadata", &v) && !json_object_object_get_ex(p, "other", &v));
    json_object_put(p);
    json_object_put(sub);

    /* defaults of a native subscription: any 2xx, the default shape, no e-mails */
    sub = parse("{\"id\":\"sub_2\",\"alias\":1,\"success_code\":null,\"version\":null,\"notification_emails\":[],"
                "\"secret\":\"whsec_x\"}");
    p = hd_dialect_plano_from_native(sub);
    CHECK(is_null(p, "success_code") && is_null(p, "integration_id") && is_null(p, "key"));
    CHECK_STR(get_str(p, "version"), "1");
    CHECK_STR(get_str(p, "notification_emails"), "");
    CHECK_STR(get_str(p, "secret"), "whsec_x");
    json_object_put(p);
    json_object_put(sub);
}

/* What goes in comes back out: PlanoAuth -> native -> PlanoAuth. */
static void test_round_trip(void) {
    json_object *details, *v;
    json_object *b = parse("{\"name\":\"n\",\"statuses\":[\"refunded\"],\"events\":[\"order.refunded\"],"
                           "\"notification_emails\":\"a@x.com,b@y.org\",\"notify\":true,"
                           "\"payload_render_view\":\"{}\",\"callback_url\":\"https://h/x\",\"success_code\":\"202\","
                           "\"active\":true,\"version\":\"2\",\"integration_id\":9,\"key\":\"k\"}");
    json_object *n = hd_dialect_plano_to_native(b, HD_PLANO_CREATE, NULL, &details);
    json_object *p = hd_dialect_plano_from_native(n);
    json_object_object_foreach(b, key, val) {
        CHECK(json_object_object_get_ex(p, key, &v) && json_object_equal(v, val));
    }
    json_object_put(p);
    json_object_put(n);
    json_object_put(b);
}

static void test_job(void) {
    json_object *row = parse("{\"id\":\"msg_1\",\"alias\":31,\"subscription_id\":\"sub_1\",\"event_id\":\"evt_1\","
                             "\"event_type\":\"order.paid\",\"status\":\"succeeded\",\"status_code\":200,"
                             "\"response\":\"ok\",\"error_message\":null,\"is_success\":true,\"retry_count\":0,"
                             "\"sent_at\":\"2026-01-01T00:00:00.000Z\",\"next_retry_at\":null,"
                             "\"created_at\":\"2026-01-01T00:00:00.000Z\"}");
    json_object *j = hd_dialect_plano_job_from_native(row, 4), *v;
    CHECK(json_object_object_get_ex(j, "webhook_out_sub_id", &v) && json_object_get_int64(v) == 4);
    CHECK_STR(get_str(j, "job_id"), "msg_1");
    CHECK(json_object_object_get_ex(j, "id", &v) && json_object_get_int64(v) == 31);
    CHECK_STR(get_str(j, "event"), "order.paid");
    CHECK_STR(get_str(j, "status"), "succeeded");
    CHECK(json_object_object_get_ex(j, "success", &v) && json_object_get_boolean(v));
    CHECK(json_object_object_get_ex(j, "status_code", &v) && json_object_get_int(v) == 200);
    CHECK(is_null(j, "error_message") && is_null(j, "next_retry_at"));
    CHECK(!json_object_object_get_ex(j, "subscription_id", &v) && !json_object_object_get_ex(j, "is_success", &v));
    json_object_put(j);
    json_object_put(row);
}

int main(void) {
    RUN(test_slugs);
    RUN(test_envelopes);
    RUN(test_check);
    RUN(test_to_native);
    RUN(test_from_native);
    RUN(test_round_trip);
    RUN(test_job);
    return UNIT_REPORT();
}
