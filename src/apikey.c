#include "hookd/apikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/mongo.h"
#include "hookd/util.h"

#define ID_HEX 16
#define HASH_BYTES crypto_generichash_BYTES

static void key_hash(const hd_secret_key_t *master, const char *key, unsigned char out[HASH_BYTES]) {
    crypto_generichash(out, HASH_BYTES, (const unsigned char *)key, strlen(key), master->mac, sizeof(master->mac));
}

static int tenant_ok(const char *t) {
    size_t n = strlen(t);
    if (n == 0 || n > 128) return 0;
    for (const unsigned char *p = (const unsigned char *)t; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) return 0;
    return 1;
}

int hd_apikey_create(mongoc_client_t *client, const char *database, const hd_secret_key_t *master, const char *tenant,
                     int admin, char out[HD_APIKEY_SIZE], char *errstr, size_t errstr_size) {
    unsigned char idbin[ID_HEX / 2], secret[32], hash[HASH_BYTES];
    char id[ID_HEX + 1], hashhex[HASH_BYTES * 2 + 1],
        b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
    if (!tenant_ok(tenant)) {
        snprintf(errstr, errstr_size, "tenant must be 1-128 printable characters without spaces");
        return -1;
    }
    randombytes_buf(idbin, sizeof(idbin));
    randombytes_buf(secret, sizeof(secret));
    sodium_bin2hex(id, sizeof(id), idbin, sizeof(idbin));
    sodium_bin2base64(b64, sizeof(b64), secret, sizeof(secret), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    snprintf(out, HD_APIKEY_SIZE, "hk_%s_%s", id, b64);
    key_hash(master, out, hash);
    sodium_bin2hex(hashhex, sizeof(hashhex), hash, sizeof(hash));
    sodium_memzero(secret, sizeof(secret));
    sodium_memzero(b64, sizeof(b64));

    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_API_KEYS);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "tenant", BCON_UTF8(tenant), "admin", BCON_BOOL(admin != 0), "hash",
                           BCON_UTF8(hashhex), "created_at", BCON_DATE_TIME(hd_now_ms()));
    bson_error_t err;
    int rc = 0;
    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: storing the API key: %s", err.message);
        sodium_memzero(out, HD_APIKEY_SIZE);
        rc = -1;
    }
    bson_destroy(doc);
    mongoc_collection_destroy(coll);
    return rc;
}

/* Reads the key document with this id into *doc (caller destroys it): 1 when found, 0 when not, -1 with errstr
 * filled when the database fails. */
static int find_key(mongoc_client_t *client, const char *database, const char *id, bson_t **doc, char *errstr,
                    size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_API_KEYS);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *found;
    bson_error_t err;
    int rc = 0;
    *doc = NULL;
    if (mongoc_cursor_next(cur, &found)) {
        *doc = bson_copy(found);
        rc = 1;
    }
    if (mongoc_cursor_error(cur, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: reading API keys: %s", err.message);
        bson_destroy(*doc);
        *doc = NULL;
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return rc;
}

/* The document's tenant, copied (caller frees), or NULL when it has none. */
static char *tenant_of(const bson_t *doc) {
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "tenant") && BSON_ITER_HOLDS_UTF8(&it) ? hd_xstrdup(bson_iter_utf8(&it, NULL))
                                                                                : NULL;
}

int hd_apikey_check(mongoc_client_t *client, const char *database, const hd_secret_key_t *master, const char *key,
                    char **tenant, int *admin, char *errstr, size_t errstr_size) {
    char id[ID_HEX + 1];
    unsigned char want[HASH_BYTES], have[HASH_BYTES];
    size_t len = strlen(key);
    *tenant = NULL;
    *admin = 0;
    if (len < 4 + ID_HEX || len >= HD_APIKEY_SIZE || strncmp(key, "hk_", 3) || key[3 + ID_HEX] != '_') return 0;
    memcpy(id, key + 3, ID_HEX);
    id[ID_HEX] = '\0';

    bson_t *doc;
    bson_iter_t it;
    int rc = find_key(client, database, id, &doc, errstr, errstr_size);
    if (rc != 1) return rc;
    const char *hex =
        bson_iter_init_find(&it, doc, "hash") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
    size_t got = 0;
    key_hash(master, key, have);
    rc = 0;
    if (!sodium_hex2bin(want, sizeof(want), hex, strlen(hex), NULL, &got, NULL) && got == sizeof(want) &&
        sodium_memcmp(want, have, sizeof(want)) == 0 && (*tenant = tenant_of(doc))) {
        *admin = bson_iter_init_find(&it, doc, "admin") && bson_iter_as_bool(&it);
        rc = 1;
    }
    bson_destroy(doc);
    return rc;
}

int hd_apikey_lookup(mongoc_client_t *client, const char *database, const char *id, char **tenant, char *errstr,
                     size_t errstr_size) {
    bson_t *doc;
    *tenant = NULL;
    int rc = find_key(client, database, id, &doc, errstr, errstr_size);
    if (rc != 1) return rc;
    *tenant = tenant_of(doc);
    bson_destroy(doc);
    return *tenant ? 1 : 0;
}

int hd_apikey_list(mongoc_client_t *client, const char *database, const char *tenant, hd_apikey_fn fn, void *arg,
                   char *errstr, size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_API_KEYS);
    bson_t *filter = tenant ? BCON_NEW("tenant", BCON_UTF8(tenant)) : bson_new();
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    bson_iter_t it;
    int rc = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        const char *id =
            bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        const char *t =
            bson_iter_init_find(&it, doc, "tenant") && BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
        int admin = bson_iter_init_find(&it, doc, "admin") && bson_iter_as_bool(&it);
        int64_t created = bson_iter_init_find(&it, doc, "created_at") && BSON_ITER_HOLDS_DATE_TIME(&it)
                              ? bson_iter_date_time(&it)
                              : 0;
        fn(arg, id, t, admin, created);
    }
    if (mongoc_cursor_error(cur, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: reading API keys: %s", err.message);
        rc = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return rc;
}

int hd_apikey_revoke(mongoc_client_t *client, const char *database, const char *id_or_key, char *errstr,
                     size_t errstr_size) {
    char id[ID_HEX + 1];
    /* A whole key names its id; only the id part is used, the rest is not compared. */
    const char *start = !strncmp(id_or_key, "hk_", 3) ? id_or_key + 3 : id_or_key;
    size_t n = strcspn(start, "_");
    if (n != ID_HEX || strspn(start, "0123456789abcdef") < ID_HEX) return 0;
    memcpy(id, start, ID_HEX);
    id[ID_HEX] = '\0';
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_API_KEYS);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    int rc = -1;
    if (!mongoc_collection_delete_one(coll, filter, NULL, &reply, &err))
        snprintf(errstr, errstr_size, "MongoDB: revoking the API key: %s", err.message);
    else
        rc = bson_iter_init_find(&it, &reply, "deletedCount") && bson_iter_as_int64(&it) > 0;
    bson_destroy(&reply);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return rc;
}
