/* The MongoDB layer without a server: URI checks, the server selection default, and which errors mean "away". */
#include <string.h>

#include "hookd/mongo.h"
#include "unit.h"

static void test_new(void) {
    char err[256] = "";
    hd_mongo_t *m = hd_mongo_new("mongodb://127.0.0.1:1/", "hookd_test", err, sizeof(err));
    CHECK(m != NULL);
    if (m) CHECK_STR(hd_mongo_database(m), "hookd_test");
    hd_mongo_destroy(m);
    CHECK(hd_mongo_new("mongodb://", "db", err, sizeof(err)) == NULL);
    CHECK(strstr(err, "invalid MongoDB URI") != NULL);
    hd_mongo_destroy(NULL);
}

/* Nothing listens on port 1: a call fails with an error that means away; a server's answer does not. */
static void test_away(void) {
    char err[256];
    hd_mongo_t *m = hd_mongo_new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", "db", err, sizeof(err));
    CHECK(m != NULL);
    if (!m) return;
    mongoc_client_t *client = hd_mongo_pop(m);
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e;
    CHECK(!mongoc_client_command_simple(client, "admin", ping, NULL, NULL, &e));
    CHECK(hd_mongo_away(&e));
    bson_destroy(ping);
    hd_mongo_push(m, client);
    hd_mongo_destroy(m);
    bson_error_t refused = {.domain = MONGOC_ERROR_SERVER, .code = 11000};
    CHECK(!hd_mongo_away(&refused));
    bson_error_t broken = {.domain = MONGOC_ERROR_STREAM};
    CHECK(hd_mongo_away(&broken));
}

int main(void) {
    RUN(test_new);
    RUN(test_away);
    return UNIT_REPORT();
}
