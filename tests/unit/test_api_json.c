/* The strict JSON parser, the JSON <-> BSON conversions and the rules for storable JSON. */
#include <json-c/json.h>
#include <mongoc/mongoc.h>
#include <stdlib.h>

#include "hookd/api_json.h"
#include "unit.h"

static void test_from_bson(void) {
    bson_t *doc = BCON_NEW("_id", BCON_UTF8("sub_1"), "at", BCON_DATE_TIME(1795335357123), "old", BCON_DATE_TIME(-1000),
                           "n", BCON_INT64(5000000000), "nested", "{", "d", BCON_DATE_TIME(0), "}");
    json_object *o = hd_api_json_from_bson(doc), *v, *n;
    CHECK(json_object_object_get_ex(o, "id", &v) && !strcmp(json_object_get_string(v), "sub_1"));
    CHECK(!json_object_object_get_ex(o, "_id", &v));
    CHECK(json_object_object_get_ex(o, "at", &v));
    CHECK_STR(json_object_get_string(v), "2026-11-22T08:15:57.123Z");
    CHECK(json_object_object_get_ex(o, "old", &v) && json_object_is_type(v, json_type_string));
    CHECK(json_object_object_get_ex(o, "n", &v) && json_object_get_int64(v) == 5000000000);
    CHECK(json_object_object_get_ex(o, "nested", &n) && json_object_object_get_ex(n, "d", &v));
    CHECK_STR(json_object_get_string(v), "1970-01-01T00:00:00.000Z");
    json_object_put(o);
    bson_destroy(doc);
}

static void test_append_round_trip(void) {
    const char *src = "{\"a\":[1,\"x\",true,null,{\"b\":1.5}],\"c\":{\"d\":\"ü\"}}";
    json_object *in = json_tokener_parse(src), *v;
    bson_t b = BSON_INITIALIZER;
    json_object_object_foreach(in, k, val) hd_api_json_append(&b, k, val);
    json_object *out = hd_api_json_from_bson(&b);
    CHECK(json_object_equal(in, out));
    CHECK(json_object_object_get_ex(out, "c", &v));
    json_object_put(in);
    json_object_put(out);
    bson_destroy(&b);
}

static void test_storable(void) {
    static const char *const ok[] = {"{}", "{\"a\":{\"b\":[{\"c\":1}]}}", "[1,2]", "\"x\""};
    static const char *const bad[] = {"{\"\":1}", "{\"$where\":1}", "{\"a.b\":1}", "{\"a\":[{\"\":1}]}",
                                      "{\"a\":\"x\\u0000y\"}"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_object *o = json_tokener_parse(ok[i]);
        CHECK(hd_api_json_storable(o));
        json_object_put(o);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *o = json_tokener_parse(bad[i]);
        CHECK(o && !hd_api_json_storable(o));
        json_object_put(o);
    }
}

/* RFC 8259 where json-c's strict mode is not. */
static void test_parse_json(void) {
    const char *good[] = {"{}",      "{\"a\": \"\\ud83d\\ude00\"}", " [1, 2.5, -3e2] ",       "null",
                          "\"N I\"", "{\"a\": \"it's\"}",           "{\"a\": \"\\u00e9\\n\"}"};
    const char *bad[] = {"{'a': 1}",
                         "{\"a\": NaN}",
                         "{\"a\": -Infinity}",
                         "{\"a\": 1e999}",
                         "{\"a\": \"\\ud800\"}",
                         "{\"a\": \"\\udc00\"}",
                         "{\"a\": \"\\ud800\\u0041\"}",
                         "{\"a\": \"x\x01\"}",
                         "{} {}",
                         "{\"a\": 1,}",
                         "",
                         "{\"a\": \"\xff\"}"};
    json_object *v;
    char why[128];
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        CHECK(hd_api_json_parse(good[i], strlen(good[i]), &v, why, sizeof(why)) == 0);
        json_object_put(v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        CHECK(hd_api_json_parse(bad[i], strlen(bad[i]), &v, why, sizeof(why)) == -1 && !v && *why);
    }
}

int main(void) {
    RUN(test_parse_json);
    RUN(test_from_bson);
    RUN(test_append_round_trip);
    RUN(test_storable);
    return UNIT_REPORT();
}
