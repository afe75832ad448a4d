/* Dotted paths: object members, array indexes, and what is missing. */
#include <json-c/json.h>
#include <string.h>

#include "hookd/jpath.h"
#include "unit.h"

static const char *doc_text = "{\"type\":\"order.updated\",\"data\":{\"status\":\"paid\",\"customer\":{\"email\":"
                              "\"a@example.com\"},\"items\":[{\"sku\":\"A\"},{\"sku\":\"B\"}],\"matrix\":[[1,2],[3,4]],"
                              "\"0\":\"zero\"}}";

static void test_members_and_indexes(void) {
    json_object *doc = json_tokener_parse(doc_text);
    CHECK_STR(json_object_get_string(hd_jpath_get(doc, "data.customer.email")), "a@example.com");
    CHECK_STR(json_object_get_string(hd_jpath_get(doc, "data.items.1.sku")), "B");
    CHECK(json_object_get_int(hd_jpath_get(doc, "data.matrix.1.0")) == 3);
    CHECK_STR(json_object_get_string(hd_jpath_get(doc, "data.0")), "zero"); /* a numeric member of an object */
    CHECK(json_object_is_type(hd_jpath_get(doc, "data.items"), json_type_array));
    CHECK(hd_jpath_get(doc, "type") && !strcmp(json_object_get_string(hd_jpath_get(doc, "type")), "order.updated"));
    json_object_put(doc);
}

static void test_missing(void) {
    json_object *doc = json_tokener_parse(doc_text);
    char long_seg[300];
    memset(long_seg, 'a', sizeof(long_seg) - 1);
    long_seg[sizeof(long_seg) - 1] = '\0';
    CHECK(hd_jpath_get(doc, "data.items.9.sku") == NULL);
    CHECK(hd_jpath_get(doc, "data.items.sku") == NULL); /* a name applied to an array */
    CHECK(hd_jpath_get(doc, "data.items.-1") == NULL);
    CHECK(hd_jpath_get(doc, "data.items.1x") == NULL);
    CHECK(hd_jpath_get(doc, "data.status.x") == NULL);
    CHECK(hd_jpath_get(doc, "data.") == NULL);
    CHECK(hd_jpath_get(doc, "nope") == NULL);
    CHECK(hd_jpath_get(doc, long_seg) == NULL);
    json_object_put(doc);
}

static void test_index(void) {
    size_t idx = 99;
    CHECK(hd_jpath_index("0", &idx) && idx == 0);
    CHECK(hd_jpath_index("12", &idx) && idx == 12);
    CHECK(!hd_jpath_index("", &idx));
    CHECK(!hd_jpath_index("x1", &idx));
    CHECK(!hd_jpath_index("1x", &idx));
    CHECK(!hd_jpath_index("-1", &idx));
    CHECK(!hd_jpath_index("+1", &idx));
}

int main(void) {
    RUN(test_members_and_indexes);
    RUN(test_missing);
    RUN(test_index);
    return UNIT_REPORT();
}
