/* For unit tests that need a real MongoDB (HOOKD_TEST_MONGO, e.g. FerretDB from scripts/services; `make test` sets
 * it): a throwaway database named for the test and the process, dropped when the test ends. */
#ifndef HOOKD_UNIT_MONGO_H
#define HOOKD_UNIT_MONGO_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hookd/mongo.h"

/* Connects to a database "hookd_unit_<name>_<pid>" (its name in db, db_size bytes). NULL with nothing printed but
 * the reason to skip when HOOKD_TEST_MONGO is unset; NULL with the error printed when the connection fails (then
 * *failed is 1). */
static inline hd_mongo_t *unit_mongo_open(const char *file, const char *name, char *db, size_t db_size, int *failed) {
    const char *uri = getenv("HOOKD_TEST_MONGO");
    char err[256];
    *failed = 0;
    if (!uri || !*uri) {
        printf("%s: skipped (HOOKD_TEST_MONGO unset)\n", file);
        return NULL;
    }
    snprintf(db, db_size, "hookd_unit_%s_%d", name, (int)getpid());
    hd_mongo_t *mongo = hd_mongo_new(uri, db, err, sizeof(err));
    if (!mongo) {
        fprintf(stderr, "%s\n", err);
        *failed = 1;
    }
    return mongo;
}

/* Drops the database, returns client to the pool and frees mongo. */
static inline void unit_mongo_close(hd_mongo_t *mongo, mongoc_client_t *client, const char *db) {
    mongoc_database_t *d = mongoc_client_get_database(client, db);
    mongoc_database_drop(d, NULL);
    mongoc_database_destroy(d);
    hd_mongo_push(mongo, client);
    hd_mongo_destroy(mongo);
}

#endif
