/* API keys against a real MongoDB (HOOKD_TEST_MONGO; skipped when unset): the key format, a key checks only whole
 * and only under the master key that hashed it, the database holds no key, tenant and admin come from the key,
 * listing by tenant, lookup by id, revocation by id or whole key. Each run uses a database of its own and drops it. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/apikey.h"
#include "hookd/mongo.h"
#include "hookd/util.h"
#include "unit.h"
#include "unit_mongo.h"

#define MASTER "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" /* "0123456789abcdef0123456789abcdef" */
#define OTHER "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="  /* "fedcba9876543210fedcba9876543210" */

static mongoc_client_t *client;
static char db[64];
static hd_secret_key_t master, other;

/* hd_apikey_check's answer for key under m, with the tenant it gave copied into tenant ("" when none). */
static int check(const hd_secret_key_t *m, const char *key, char *tenant, size_t tenant_size, int *admin) {
    char err[256], *t = NULL;
    int rc = hd_apikey_check(client, db, m, key, &t, admin, err, sizeof(err));
    snprintf(tenant, tenant_size, "%s", t ? t : "");
    free(t);
    return rc;
}

static void test_format_and_check(void) {
    char key[HD_APIKEY_SIZE], key2[HD_APIKEY_SIZE], err[256], tenant[64];
    int admin = -1;
    CHECK(hd_apikey_create(client, db, &master, "t1", 0, key, err, sizeof(err)) == 0);
    CHECK(strlen(key) == 3 + 16 + 1 + 43 && !strncmp(key, "hk_", 3) && key[19] == '_');
    CHECK(strspn(key + 3, "0123456789abcdef") == 16);
    CHECK(strspn(key + 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    CHECK(check(&master, key, tenant, sizeof(tenant), &admin) == 1);
    CHECK_STR(tenant, "t1");
    CHECK(admin == 0);
    CHECK(hd_apikey_create(client, db, &master, "ops", 1, key2, err, sizeof(err)) == 0);
    CHECK(strcmp(key, key2) && strncmp(key, key2, 19));
    CHECK(check(&master, key2, tenant, sizeof(tenant), &admin) == 1);
    CHECK_STR(tenant, "ops");
    CHECK(admin == 1);
}

/* Wrong secret part, a master key other than the one that hashed it, malformed: unknown, with nothing set. */
static void test_wrong_keys(void) {
    char key[HD_APIKEY_SIZE], bad[HD_APIKEY_SIZE + 8], err[256], tenant[64];
    int admin = -1;
    CHECK(hd_apikey_create(client, db, &master, "t1", 1, key, err, sizeof(err)) == 0);
    snprintf(bad, sizeof(bad), "%s", key);
    bad[40] = bad[40] == 'A' ? 'B' : 'A';
    CHECK(check(&master, bad, tenant, sizeof(tenant), &admin) == 0);
    CHECK_STR(tenant, "");
    CHECK(admin == 0);
    admin = -1;
    CHECK(check(&other, key, tenant, sizeof(tenant), &admin) == 0);
    CHECK_STR(tenant, "");
    CHECK(admin == 0);
    snprintf(bad, sizeof(bad), "%.62s", key); /* one character short */
    CHECK(check(&master, bad, tenant, sizeof(tenant), &admin) == 0);
    snprintf(bad, sizeof(bad), "%sA", key); /* one too many */
    CHECK(check(&master, bad, tenant, sizeof(tenant), &admin) == 0);
    const char *malformed[] = {"", "hk_", "hk_0123456789abcdef", "xx_0123456789abcdef_secret", "Bearer x"};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        CHECK(check(&master, malformed[i], tenant, sizeof(tenant), &admin) == 0);
}

/* The document holds the id, tenant, admin and a 64-hex-digit hash, and nothing of the key's secret part. */
static void test_stored_document(void) {
    char key[HD_APIKEY_SIZE], id[17], err[256];
    CHECK(hd_apikey_create(client, db, &master, "t-doc", 0, key, err, sizeof(err)) == 0);
    snprintf(id, sizeof(id), "%.16s", key + 3);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db, HD_MONGO_API_KEYS);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    int found = mongoc_cursor_next(cur, &doc);
    CHECK(found);
    if (found) {
        char *json = bson_as_relaxed_extended_json(doc, NULL);
        CHECK(strstr(json, key + 20) == NULL);
        char secret_part[12];
        snprintf(secret_part, sizeof(secret_part), "%.11s", key + 20);
        CHECK(strstr(json, secret_part) == NULL);
        bson_free(json);
        bson_iter_t it;
        CHECK(bson_iter_init_find(&it, doc, "hash") && BSON_ITER_HOLDS_UTF8(&it));
        const char *hash = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        CHECK(strlen(hash) == 64 && strspn(hash, "0123456789abcdef") == 64);
        CHECK(bson_iter_init_find(&it, doc, "tenant") && !strcmp(bson_iter_utf8(&it, NULL), "t-doc"));
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
}

static void test_invalid_tenant(void) {
    char key[HD_APIKEY_SIZE], err[256], long_tenant[130];
    memset(long_tenant, 't', 129);
    long_tenant[129] = '\0';
    const char *bad[] = {"", "a b", "tab\there", "del\x7f", "caf\xc3\xa9", long_tenant};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK(hd_apikey_create(client, db, &master, bad[i], 0, key, err, sizeof(err)) == -1);
        CHECK(strstr(err, "tenant must be") != NULL);
    }
    long_tenant[128] = '\0';
    CHECK(hd_apikey_create(client, db, &master, long_tenant, 0, key, err, sizeof(err)) == 0);
}

typedef struct {
    int cnt, admins;
    char ids[8][17], tenants[8][64];
    int64_t created_min;
} listed_t;

static void collect(void *arg, const char *id, const char *tenant, int admin, int64_t created_at_ms) {
    listed_t *l = arg;
    if (l->cnt < 8) {
        snprintf(l->ids[l->cnt], sizeof(l->ids[0]), "%s", id);
        snprintf(l->tenants[l->cnt], sizeof(l->tenants[0]), "%s", tenant);
    }
    if (!l->cnt || created_at_ms < l->created_min) l->created_min = created_at_ms;
    l->admins += admin;
    l->cnt++;
}

/* A tenant's keys, by id; NULL lists every tenant's. */
static void test_list(void) {
    char key[HD_APIKEY_SIZE], err[256];
    int64_t before = hd_now_ms();
    CHECK(hd_apikey_create(client, db, &master, "lister", 0, key, err, sizeof(err)) == 0);
    CHECK(hd_apikey_create(client, db, &master, "lister", 1, key, err, sizeof(err)) == 0);
    CHECK(hd_apikey_create(client, db, &master, "lister", 0, key, err, sizeof(err)) == 0);
    CHECK(hd_apikey_create(client, db, &master, "someone-else", 0, key, err, sizeof(err)) == 0);
    listed_t l = {0};
    CHECK(hd_apikey_list(client, db, "lister", collect, &l, err, sizeof(err)) == 0);
    CHECK(l.cnt == 3 && l.admins == 1);
    CHECK(l.created_min >= before - 1000 && l.created_min <= hd_now_ms() + 1000);
    for (int i = 0; i < l.cnt && i < 8; i++) {
        CHECK_STR(l.tenants[i], "lister");
        if (i) CHECK(strcmp(l.ids[i - 1], l.ids[i]) < 0);
    }
    listed_t all = {0};
    CHECK(hd_apikey_list(client, db, NULL, collect, &all, err, sizeof(err)) == 0);
    CHECK(all.cnt > l.cnt);
    listed_t none = {0};
    CHECK(hd_apikey_list(client, db, "nobody", collect, &none, err, sizeof(err)) == 0);
    CHECK(none.cnt == 0);
}

/* Revoked by id or whole key, a key stops checking and its id is no longer found; revoking it again, or a
 * malformed id, finds nothing. */
static void test_revoke(void) {
    char k1[HD_APIKEY_SIZE], k2[HD_APIKEY_SIZE], id[17], err[256], tenant[64];
    int admin;
    CHECK(hd_apikey_create(client, db, &master, "rev", 0, k1, err, sizeof(err)) == 0);
    CHECK(hd_apikey_create(client, db, &master, "rev", 0, k2, err, sizeof(err)) == 0);
    snprintf(id, sizeof(id), "%.16s", k1 + 3);
    char *owner = NULL;
    CHECK(hd_apikey_lookup(client, db, id, &owner, err, sizeof(err)) == 1);
    CHECK_STR(owner, "rev");
    free(owner);
    CHECK(hd_apikey_revoke(client, db, id, err, sizeof(err)) == 1);
    CHECK(hd_apikey_lookup(client, db, id, &owner, err, sizeof(err)) == 0 && owner == NULL);
    CHECK(check(&master, k1, tenant, sizeof(tenant), &admin) == 0);
    CHECK(check(&master, k2, tenant, sizeof(tenant), &admin) == 1);
    CHECK(hd_apikey_revoke(client, db, id, err, sizeof(err)) == 0);
    CHECK(hd_apikey_revoke(client, db, k2, err, sizeof(err)) == 1);
    CHECK(check(&master, k2, tenant, sizeof(tenant), &admin) == 0);
    char upper[17];
    for (int i = 0; i < 16; i++)
        upper[i] = (char)toupper((unsigned char)id[i]);
    upper[16] = '\0';
    const char *malformed[] = {"", "hk_", "0123", "0123456789abcdef0", upper, "hk_0123456789abcdeg_x"};
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        CHECK(hd_apikey_revoke(client, db, malformed[i], err, sizeof(err)) == 0);
}

int main(void) {
    char err[256];
    if (sodium_init() < 0 || hd_secret_key_parse(&master, MASTER, err, sizeof(err)) ||
        hd_secret_key_parse(&other, OTHER, err, sizeof(err)))
        return 1;
    int failed;
    hd_mongo_t *mongo = unit_mongo_open(__FILE__, "apikey", db, sizeof(db), &failed);
    if (!mongo) return failed;
    client = hd_mongo_pop(mongo);
    RUN(test_format_and_check);
    RUN(test_wrong_keys);
    RUN(test_stored_document);
    RUN(test_invalid_tenant);
    RUN(test_list);
    RUN(test_revoke);
    unit_mongo_close(mongo, client, db);
    return UNIT_REPORT();
}
