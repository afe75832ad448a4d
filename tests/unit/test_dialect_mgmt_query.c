/* The management dialect's query language: the filter, sort and select parsers and the projection of a reply. */
#include <stdlib.h>

#include "hookd/dialect_mgmt_query.h"
#include "unit.h"

/* What parser makes of text: the BSON it appends as text, or the error. */
static const char *parsed(int (*parser)(const char *, hd_mgmt_kind_t, bson_t *, char *, size_t), const char *text,
                          hd_mgmt_kind_t kind) {
    static char buf[4096];
    bson_t out = BSON_INITIALIZER;
    if (parser(text, kind, &out, buf, sizeof(buf)) == 0) {
        char *s = bson_as_relaxed_extended_json(&out, NULL);
        snprintf(buf, sizeof(buf), "%s", s);
        bson_free(s);
    }
    bson_destroy(&out);
    return buf;
}

static const char *filter(const char *f, hd_mgmt_kind_t kind) {
    return parsed(hd_dialect_mgmt_query_filter, f, kind);
}

static const char *sort(const char *s, hd_mgmt_kind_t kind) {
    return parsed(hd_dialect_mgmt_query_sort, s, kind);
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
    CHECK(hd_dialect_mgmt_query_select("id, webhookEvents,name", HD_MGMT_SUBSCRIPTIONS, &fields, why, sizeof(why)) ==
          0);
    CHECK_STR(unit_json(fields), "[\"id\",\"webhookEvents\",\"name\"]");
    json_object *item = json_tokener_parse("{\"id\": 1, \"name\": \"n\", \"url\": \"u\"}");
    json_object *p = hd_dialect_mgmt_query_project(item, fields);
    CHECK_STR(unit_json(p), "{\"id\":1,\"name\":\"n\"}");
    json_object_put(p);
    json_object_put(fields);
    item = json_tokener_parse("{\"id\": 1}");
    p = hd_dialect_mgmt_query_project(item, NULL);
    CHECK(p == item);
    json_object_put(p);
    CHECK(hd_dialect_mgmt_query_select("id,webhookSubscriptionId", HD_MGMT_EVENTS, &fields, why, sizeof(why)) == 0);
    json_object_put(fields);
    CHECK(hd_dialect_mgmt_query_select("id,webhookSubscriptionId", HD_MGMT_SUBSCRIPTIONS, &fields, why, sizeof(why)) ==
          -1);
    CHECK(fields == NULL && strstr(why, "\"webhookSubscriptionId\" is not a field"));
    CHECK(hd_dialect_mgmt_query_select("id,,name", HD_MGMT_SUBSCRIPTIONS, &fields, why, sizeof(why)) == -1);
}

int main(void) {
    RUN(test_filter);
    RUN(test_sort);
    RUN(test_select_and_project);
    return UNIT_REPORT();
}
