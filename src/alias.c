#include "hookd/alias.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hookd/mongo.h"

/* Reserved blocks, per database and counter. A handful of counters exist; a full table falls back to reserving
 * one number at a time. */
#define MAX_BLOCKS 16

typedef struct block_s {
    char key[192]; /* "database/counter"; empty: a free slot */
    int64_t next, end;
} block_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static block_t blocks[MAX_BLOCKS];

/* Reserves n numbers: *first is the first of them. */
static int reserve(mongoc_client_t *client, const char *database, const char *counter, int64_t n, int64_t *first,
                   char *errstr, size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_COUNTERS);
    bson_t *query = BCON_NEW("_id", BCON_UTF8(counter));
    bson_t *update = BCON_NEW("$inc", "{", "seq", BCON_INT64(n), "}");
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    int rc = -1;
    if (!mongoc_collection_find_and_modify(coll, query, NULL, update, NULL, false, true, true, &reply, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: reserving %s numbers: %s", counter, err.message);
    } else if (!bson_iter_init_find(&it, &reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
               !bson_iter_recurse(&it, &it) || !bson_iter_find(&it, "seq") || !BSON_ITER_HOLDS_NUMBER(&it)) {
        snprintf(errstr, errstr_size, "MongoDB: reserving %s numbers: no counter in the reply", counter);
    } else {
        *first = bson_iter_as_int64(&it) - n + 1;
        rc = 0;
    }
    bson_destroy(&reply);
    bson_destroy(update);
    bson_destroy(query);
    mongoc_collection_destroy(coll);
    return rc;
}

int hd_alias_next(mongoc_client_t *client, const char *database, const char *counter, int block, int64_t *out,
                  char *errstr, size_t errstr_size) {
    if (block <= 1) return reserve(client, database, counter, 1, out, errstr, errstr_size);
    char key[sizeof(blocks[0].key)];
    snprintf(key, sizeof(key), "%s/%s", database, counter);
    int rc = 0;
    pthread_mutex_lock(&lock);
    block_t *b = NULL;
    for (int i = 0; i < MAX_BLOCKS && !b; i++)
        if (!strcmp(blocks[i].key, key) || !blocks[i].key[0]) b = &blocks[i];
    if (!b) {
        rc = reserve(client, database, counter, 1, out, errstr, errstr_size);
    } else {
        if (!b->key[0]) snprintf(b->key, sizeof(b->key), "%s", key);
        if (b->next == b->end && (rc = reserve(client, database, counter, block, &b->next, errstr, errstr_size)) == 0)
            b->end = b->next + block;
        if (rc == 0) *out = b->next++;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

int64_t hd_alias_backfill(mongoc_client_t *client, const char *database, const char *collection, const char *counter,
                          char *errstr, size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, collection);
    bson_t *filter = BCON_NEW("alias", "{", "$exists", BCON_BOOL(false), "}");
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "sort", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc;
    bson_error_t err;
    int64_t n = 0;
    while (n >= 0 && mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        int64_t alias;
        if (!bson_iter_init_find(&it, doc, "_id")) continue;
        if (hd_alias_next(client, database, counter, 64, &alias, errstr, errstr_size)) {
            n = -1;
            break;
        }
        /* Only where still missing: a concurrent writer's alias stands. */
        bson_t sel = BSON_INITIALIZER;
        bson_append_iter(&sel, "_id", 3, &it);
        BCON_APPEND(&sel, "alias", "{", "$exists", BCON_BOOL(false), "}");
        bson_t *update = BCON_NEW("$set", "{", "alias", BCON_INT64(alias), "}");
        if (!mongoc_collection_update_one(coll, &sel, update, NULL, NULL, &err)) {
            snprintf(errstr, errstr_size, "MongoDB: giving %s an alias: %s", collection, err.message);
            n = -1;
        } else {
            n++;
        }
        bson_destroy(update);
        bson_destroy(&sel);
    }
    if (n >= 0 && mongoc_cursor_error(cur, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: reading %s: %s", collection, err.message);
        n = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return n;
}
