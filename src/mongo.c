#include "hookd/mongo.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "hookd/log.h"
#include "hookd/util.h"

struct hd_mongo_s {
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool; /* a pool, so that the API's threads and the dispatcher's share one layer */
    char *database;
};

static pthread_once_t mongoc_once = PTHREAD_ONCE_INIT;
static void mongoc_init_once(void) {
    mongoc_init();
    hd_log_mongoc_install();
}

hd_mongo_t *hd_mongo_new(const char *uri, const char *database, char *errstr, size_t errstr_size) {
    pthread_once(&mongoc_once, mongoc_init_once);
    hd_mongo_t *mongo = hd_xcalloc(1, sizeof(*mongo));
    bson_error_t err;
    if (!(mongo->uri = mongoc_uri_new_with_error(uri, &err))) {
        snprintf(errstr, errstr_size, "store: invalid MongoDB URI: %s", err.message);
        hd_mongo_destroy(mongo);
        return NULL;
    }
    if (!mongoc_uri_has_option(mongo->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(mongo->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 3000);
    mongo->pool = mongoc_client_pool_new(mongo->uri);
    mongoc_client_pool_set_error_api(mongo->pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_client_pool_set_appname(mongo->pool, "hookd");
    mongo->database = hd_xstrdup(database);
    return mongo;
}

void hd_mongo_destroy(hd_mongo_t *mongo) {
    if (!mongo) return;
    if (mongo->pool) mongoc_client_pool_destroy(mongo->pool);
    mongoc_uri_destroy(mongo->uri);
    free(mongo->database);
    free(mongo);
}

mongoc_client_t *hd_mongo_pop(hd_mongo_t *mongo) {
    return mongoc_client_pool_pop(mongo->pool);
}

void hd_mongo_push(hd_mongo_t *mongo, mongoc_client_t *client) {
    mongoc_client_pool_push(mongo->pool, client);
}

const char *hd_mongo_database(const hd_mongo_t *mongo) {
    return mongo->database;
}

int hd_mongo_away(const bson_error_t *err) {
    return err->domain == MONGOC_ERROR_SERVER_SELECTION || err->domain == MONGOC_ERROR_STREAM;
}

void hd_mongo_ensure_indexes(hd_mongo_t *mongo) {
    static const struct {
        const char *coll, *name;
        const char *keys[3];
    } indexes[] = {
        {HD_MONGO_SUBSCRIPTIONS, "tenant_id", {"tenant", "_id", NULL}},
        {HD_MONGO_DELIVERIES, "tenant_sort", {"tenant", "sort_key", NULL}},
        {HD_MONGO_DELIVERIES, "tenant_sub_sort", {"tenant", "subscription_id", "sort_key"}},
        {HD_MONGO_SUBSCRIPTIONS, "tenant_alias", {"tenant", "alias", NULL}},
        {HD_MONGO_DELIVERIES, "tenant_alias", {"tenant", "alias", NULL}},
    };
    mongoc_client_t *client = hd_mongo_pop(mongo);
    for (size_t i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        bson_t cmd = BSON_INITIALIZER, list, index, keys;
        BSON_APPEND_UTF8(&cmd, "createIndexes", indexes[i].coll);
        BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &index);
        BSON_APPEND_DOCUMENT_BEGIN(&index, "key", &keys);
        for (int k = 0; k < 3 && indexes[i].keys[k]; k++)
            BSON_APPEND_INT32(&keys, indexes[i].keys[k], 1);
        bson_append_document_end(&index, &keys);
        BSON_APPEND_UTF8(&index, "name", indexes[i].name);
        bson_append_document_end(&list, &index);
        bson_append_array_end(&cmd, &list);
        bson_error_t err;
        if (!mongoc_client_write_command_with_opts(client, mongo->database, &cmd, NULL, NULL, &err))
            HD_LOG(HD_LOG_WARN, "mongo", NULL, "creating index %s.%s: %s", indexes[i].coll, indexes[i].name,
                   err.message);
        bson_destroy(&cmd);
    }
    hd_mongo_push(mongo, client);
}
