/* Filters: MongoDB-style queries compiled once and evaluated against events. */
#include <json-c/json.h>

#include "hookd/filter.h"
#include "unit.h"

static const char *doc_text =
    "{\"type\":\"order.updated\",\"data\":{\"status\":\"paid\",\"total\":120.5,\"qty\":3,\"tags\":[\"vip\",\"eu\"],"
    "\"customer\":{\"email\":\"a@example.com\",\"tier\":null},\"items\":[{\"sku\":\"A\",\"n\":1},{\"sku\":\"B\",\"n\":"
    "5}],"
    "\"flags\":{\"test\":false}}}";

static int eval(const char *query) {
    char err[256];
    json_object *q = json_tokener_parse(query), *doc = json_tokener_parse(doc_text);
    hd_filter_t *f = hd_filter_new(q, err, sizeof(err));
    int rc = -1;
    if (!f)
        fprintf(stderr, "filter %s: %s\n", query, err);
    else
        rc = hd_filter_match(f, doc);
    hd_filter_destroy(f);
    json_object_put(q);
    json_object_put(doc);
    return rc;
}

static const char *invalid(const char *query) {
    static char err[256];
    json_object *q = json_tokener_parse(query);
    err[0] = '\0';
    int rc = hd_filter_validate(q, err, sizeof(err));
    json_object_put(q);
    return rc ? err : NULL;
}

static void test_equality_and_paths(void) {
    CHECK(eval("{}") == 1);
    CHECK(eval("{\"data.status\":\"paid\"}") == 1);
    CHECK(eval("{\"data.status\":\"open\"}") == 0);
    CHECK(eval("{\"data.status\":\"paid\",\"type\":\"order.updated\"}") == 1);
    CHECK(eval("{\"data.status\":\"paid\",\"type\":\"order.created\"}") == 0);
    CHECK(eval("{\"data.qty\":3.0}") == 1); /* numbers compare by value */
    CHECK(eval("{\"data.customer\":{\"tier\":null,\"email\":\"a@example.com\"}}") == 1);
    CHECK(eval("{\"data.missing\":null}") == 1);       /* null matches a missing path */
    CHECK(eval("{\"data.customer.tier\":null}") == 1); /* and a null value */
    CHECK(eval("{\"data.status\":null}") == 0);
    CHECK(eval("{\"data.flags.test\":false}") == 1);
}

static void test_arrays(void) {
    CHECK(eval("{\"data.tags\":\"vip\"}") == 1);          /* any element */
    CHECK(eval("{\"data.tags\":[\"vip\",\"eu\"]}") == 1); /* the whole array */
    CHECK(eval("{\"data.tags\":[\"eu\",\"vip\"]}") == 0);
    CHECK(eval("{\"data.tags.1\":\"eu\"}") == 1); /* index */
    CHECK(eval("{\"data.tags.5\":{\"$exists\":true}}") == 0);
    CHECK(eval("{\"data.items.sku\":\"B\"}") == 1); /* a field of each element */
    CHECK(eval("{\"data.items.n\":{\"$gt\":4}}") == 1);
    CHECK(eval("{\"data.items.n\":{\"$gt\":5}}") == 0);
    CHECK(eval("{\"data.items.0.sku\":\"B\"}") == 0);
}

static void test_operators(void) {
    CHECK(eval("{\"data.total\":{\"$gt\":100,\"$lte\":120.5}}") == 1);
    CHECK(eval("{\"data.total\":{\"$lt\":120.5}}") == 0);
    CHECK(eval("{\"data.total\":{\"$gte\":120.5}}") == 1);
    CHECK(eval("{\"data.total\":{\"$gt\":\"100\"}}") == 0);   /* string vs number: never */
    CHECK(eval("{\"data.status\":{\"$gt\":\"open\"}}") == 1); /* strings bytewise */
    CHECK(eval("{\"data.status\":{\"$eq\":\"paid\"}}") == 1);
    CHECK(eval("{\"data.status\":{\"$ne\":\"paid\"}}") == 0);
    CHECK(eval("{\"data.missing\":{\"$ne\":\"x\"}}") == 1);
    CHECK(eval("{\"data.status\":{\"$in\":[\"open\",\"paid\"]}}") == 1);
    CHECK(eval("{\"data.status\":{\"$nin\":[\"open\",\"paid\"]}}") == 0);
    CHECK(eval("{\"data.tags\":{\"$in\":[\"eu\"]}}") == 1);
    CHECK(eval("{\"data.tags\":{\"$nin\":[\"eu\"]}}") == 0);
    CHECK(eval("{\"data.missing\":{\"$nin\":[1]}}") == 1);
    CHECK(eval("{\"data.customer.email\":{\"$exists\":true}}") == 1);
    CHECK(eval("{\"data.customer.phone\":{\"$exists\":true}}") == 0);
    CHECK(eval("{\"data.customer.phone\":{\"$exists\":false}}") == 1);
    CHECK(eval("{\"data.total\":{\"$not\":{\"$gt\":200}}}") == 1);
    CHECK(eval("{\"data.total\":{\"$not\":{\"$gt\":100}}}") == 0);
    CHECK(eval("{\"data.missing\":{\"$not\":{\"$gt\":1}}}") == 1);
}

static void test_logic(void) {
    CHECK(eval("{\"$or\":[{\"data.status\":\"open\"},{\"data.qty\":3}]}") == 1);
    CHECK(eval("{\"$or\":[{\"data.status\":\"open\"},{\"data.qty\":4}]}") == 0);
    CHECK(eval("{\"$and\":[{\"data.status\":\"paid\"},{\"data.qty\":{\"$gte\":3}}]}") == 1);
    CHECK(eval("{\"$and\":[{\"data.status\":\"paid\"},{\"$or\":[{\"data.qty\":1},{\"type\":\"x\"}]}]}") == 0);
}

static void test_invalid(void) {
    CHECK(invalid("{\"data.status\":\"paid\"}") == NULL);
    CHECK(invalid("[1]") != NULL);
    CHECK(strstr(invalid("{\"a\":{\"$regex\":\"x\"}}"), "$regex"));
    CHECK(strstr(invalid("{\"$nor\":[{}]}"), "$nor"));
    CHECK(invalid("{\"$and\":[]}") != NULL);
    CHECK(invalid("{\"$or\":{}}") != NULL);
    CHECK(invalid("{\"a\":{\"$in\":1}}") != NULL);
    CHECK(invalid("{\"a\":{\"$exists\":1}}") != NULL);
    CHECK(invalid("{\"a\":{\"$not\":1}}") != NULL);
    CHECK(invalid("{\"a\":{\"$gt\":1,\"b\":2}}") != NULL);
    CHECK(strstr(invalid("{\"a..b\":1}"), "empty segment"));
    CHECK(invalid("{\"\":1}") != NULL);
    /* nesting is bounded */
    char deep[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{\"$and\":[");
    strcat(deep, "{}");
    for (int i = 0; i < 40; i++)
        strcat(deep, "]}");
    json_tokener *tok = json_tokener_new_ex(200);
    json_object *q = json_tokener_parse_ex(tok, deep, (int)strlen(deep));
    char err[256] = "";
    CHECK(q && hd_filter_validate(q, err, sizeof(err)) == -1 && strstr(err, "deeper"));
    json_object_put(q);
    json_tokener_free(tok);
}

int main(void) {
    RUN(test_equality_and_paths);
    RUN(test_arrays);
    RUN(test_operators);
    RUN(test_logic);
    RUN(test_invalid);
    return UNIT_REPORT();
}
