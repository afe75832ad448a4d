/* The management dialect's error shape. */
#include "hookd/dialect_mgmt.h"
#include "unit.h"

static void test_error_shape(void) {
    hd_api_req_t r = {.method = "POST"};
    json_object *details = NULL;
    hd_api_req_detail(&details, "event_types[0]", "unknown event type \"x\"");
    hd_api_req_detail(&details, "max_retry_count", "an integer from 0 to 100");
    hd_api_req_error(&r, 422, "invalid-param", details, "the subscription is not valid");
    hd_dialect_mgmt_reshape_error(&r);
    CHECK(r.status == 400);
    CHECK_STR(unit_json(r.reply),
              "{\"success\":false,\"message\":\"the subscription is not valid (eventType: unknown event "
              "type \\\"x\\\"; maxRetryCount: an integer from 0 to 100)\"}");
    hd_api_req_not_allowed(&r, "GET, PUT");
    hd_dialect_mgmt_reshape_error(&r);
    CHECK(r.status == 405 && r.allow && !strcmp(r.allow, "GET, PUT"));
    CHECK_STR(unit_json(r.reply), "{\"success\":false,\"message\":\"POST is not allowed here (allowed: GET, PUT)\"}");
    details = NULL;
    hd_api_req_detail(&details, "take", "unknown query parameter");
    hd_api_req_error(&r, 400, "invalid-param", details, "unknown query parameter \"take\"");
    hd_dialect_mgmt_reshape_error(&r);
    CHECK_STR(unit_json(r.reply), "{\"success\":false,\"message\":\"unknown query parameter \\\"take\\\"\"}");
    json_object_put(r.reply);
}

int main(void) {
    RUN(test_error_shape);
    return UNIT_REPORT();
}
