#include "hookd/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hookd/log.h"
#include "hookd/map.h"
#include "hookd/mongo.h"
#include "hookd/secret.h"
#include "hookd/subdoc.h"
#include "hookd/util.h"

/* Seconds of the change log whose applied ids are counted: a look needs those of the lookback, the last seconds
 * the previous look read, which any ring longer than the lookback still holds. */
#define HD_STORE_SEEN 64
typedef struct {
    int64_t second;
    int count;
} seen_t;

struct hd_store_s {
    char *path;        /* file backend */
    hd_mongo_t *mongo; /* mongodb backend */
    hd_secret_key_t master;
    int has_master;
    unsigned char digest_key[crypto_shorthash_KEYBYTES];
    hd_store_reuse_cb *reuse; /* of the load in progress */
    void *reuse_opaque;
    uint64_t file_fp;           /* file backend: the fingerprint of the content last loaded */
    int64_t since_ms;           /* MongoDB backend: the start of the last successful look (wall clock ms) */
    int64_t looked_ms;          /* when the store was last read successfully */
    seen_t seen[HD_STORE_SEEN]; /* ids applied of the change log's recent seconds, by second */
};

hd_store_t *hd_store_new(const char *uri, const char *database, char *errstr, size_t errstr_size) {
    hd_store_t *store = hd_xcalloc(1, sizeof(*store));
    randombytes_buf(store->digest_key, sizeof(store->digest_key));
    if (!strncmp(uri, "file:", 5)) {
        store->path = hd_xstrdup(uri + 5);
        return store;
    }
    if (strncmp(uri, "mongodb://", 10) && strncmp(uri, "mongodb+srv://", 14)) {
        snprintf(errstr, errstr_size, "store \"%s\": expected mongodb://... or file:PATH", uri);
        goto fail;
    }
    if (!(store->mongo = hd_mongo_new(uri, database, errstr, errstr_size))) goto fail;
    return store;

fail:
    hd_store_destroy(store);
    return NULL;
}

void hd_store_destroy(hd_store_t *store) {
    if (!store) return;
    free(store->path);
    hd_mongo_destroy(store->mongo);
    sodium_memzero(&store->master, sizeof(store->master));
    free(store);
}

/* ---- file backend ---- */

static int file_fingerprint(hd_store_t *store, uint64_t *fp, char *errstr, size_t errstr_size) {
    struct stat st;
    if (stat(store->path, &st)) {
        snprintf(errstr, errstr_size, "%s: %s", store->path, strerror(errno));
        return -1;
    }
    *fp = (uint64_t)st.st_size * 1000003u ^ (uint64_t)st.st_mtim.tv_sec * 1000000000u ^ (uint64_t)st.st_mtim.tv_nsec ^
          (uint64_t)st.st_ino << 32;
    return 0;
}

int hd_store_use_master_key(hd_store_t *store, const char *b64, char *errstr, size_t errstr_size) {
    int64_t n;
    if (b64 && *b64) {
        if (hd_secret_key_parse(&store->master, b64, errstr, errstr_size)) return -1;
        store->has_master = 1;
        return 0;
    }
    if (hd_store_count_encrypted(store, &n, errstr, errstr_size)) return -1;
    if (n > 0) {
        snprintf(errstr, errstr_size,
                 "%lld subscriptions have encrypted secrets and master.key is not set "
                 "(HOOKD_MASTER_KEY: the key the API encrypted them with)",
                 (long long)n);
        return -1;
    }
    return 0;
}

/* Appends the subscription of doc to *subs. Returns -1 when doc is not a valid subscription (logged). */
static int add_sub(hd_store_t *store, json_object *doc, hd_sub_t ***subs, int *cnt, int *cap) {
    char err[256];
    const char *text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN), *id = hd_subdoc_id(doc);
    unsigned char h[crypto_shorthash_BYTES];
    uint64_t digest;
    crypto_shorthash(h, (const unsigned char *)text, strlen(text), store->digest_key);
    memcpy(&digest, h, sizeof(digest));
    digest &= (UINT64_C(1) << HD_SUB_DIGEST_BITS) - 1; /* as hd_sub_t holds it */
    hd_sub_t *sub = store->reuse && id ? store->reuse(store->reuse_opaque, id, digest) : NULL;
    if (!sub) {
        if (!(sub = hd_sub_from_doc(doc, store->has_master ? &store->master : NULL, err, sizeof(err)))) {
            HD_LOG(HD_LOG_WARN, "store", NULL, "skipping invalid subscription: %s", err);
            return -1;
        }
        sub->digest = digest;
    }
    if (*cnt == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *subs = hd_xrealloc(*subs, sizeof(**subs) * (size_t)*cap);
    }
    (*subs)[(*cnt)++] = sub;
    return 0;
}

/* The file is read in chunks and parsed one value at a time, so that loading holds one subscription's JSON tree at a
 * time rather than the whole file's (229 MB at 100,000 subscriptions). */
typedef struct {
    FILE *f;
    json_tokener *tok;
    size_t pos, len;
    char buf[65536];
} reader_t;

/* The next character after whitespace (consumed when take), or EOF. */
static int next_char(reader_t *r, int take) {
    for (;;) {
        if (r->pos == r->len) {
            r->len = fread(r->buf, 1, sizeof(r->buf), r->f);
            r->pos = 0;
            if (!r->len) return EOF;
        }
        unsigned char c = (unsigned char)r->buf[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            r->pos += take;
            return c;
        }
        r->pos++;
    }
}

/* One JSON value; NULL at a syntax error or the end of the file. */
static json_object *next_value(reader_t *r) {
    json_tokener_reset(r->tok);
    if (next_char(r, 0) == EOF) return NULL;
    for (;;) {
        json_object *v = json_tokener_parse_ex(r->tok, r->buf + r->pos, (int)(r->len - r->pos));
        enum json_tokener_error err = json_tokener_get_error(r->tok);
        if (err == json_tokener_success) {
            r->pos += json_tokener_get_parse_end(r->tok);
            return v;
        }
        if (err != json_tokener_continue) return NULL;
        r->len = fread(r->buf, 1, sizeof(r->buf), r->f);
        r->pos = 0;
        if (!r->len) return NULL;
    }
}

/* Moves r into the subscriptions array: the file's top-level array, or the value of its "subscriptions" member
 * (other members are parsed and skipped). 0 when r is past the '['. */
static int find_array(reader_t *r) {
    int c = next_char(r, 1);
    if (c == '[') return 0;
    if (c != '{') return -1;
    if (next_char(r, 0) == '}') return -1;
    for (;;) {
        json_object *key = next_value(r);
        int found = key && json_object_is_type(key, json_type_string) &&
                    !strcmp(json_object_get_string(key), HD_MONGO_SUBSCRIPTIONS);
        int ok = key && json_object_is_type(key, json_type_string) && next_char(r, 1) == ':';
        json_object_put(key);
        if (!ok) return -1;
        if (found) return next_char(r, 1) == '[' ? 0 : -1;
        json_object *skipped = next_value(r);
        ok = skipped != NULL;
        json_object_put(skipped);
        if (!ok || next_char(r, 1) != ',') return -1;
    }
}

static int file_load(hd_store_t *store, hd_sub_t ***subs, int *cnt, char *errstr, size_t errstr_size) {
    reader_t *r = hd_xcalloc(1, sizeof(*r));
    int cap = 0, rc = -1;
    uint64_t fp;
    /* Fingerprint first: a change landing during the load is then seen again by the next look. */
    if (file_fingerprint(store, &fp, errstr, errstr_size)) goto out;
    if (!(r->f = fopen(store->path, "r"))) {
        snprintf(errstr, errstr_size, "%s: %s", store->path, strerror(errno));
        goto out;
    }
    r->tok = json_tokener_new();
    if (find_array(r)) {
        snprintf(errstr, errstr_size, "%s: expected an array of subscriptions or {\"subscriptions\": [...]}",
                 store->path);
        goto out;
    }
    for (int first = 1;; first = 0) {
        int c = next_char(r, 0);
        if (c == ']') break;
        if (!first && (next_char(r, 1) != ',' || next_char(r, 0) == ']')) c = EOF;
        json_object *doc = c == EOF ? NULL : next_value(r);
        if (!doc) {
            snprintf(errstr, errstr_size, "%s: invalid JSON after %d subscriptions", store->path, *cnt);
            goto out;
        }
        add_sub(store, doc, subs, cnt, &cap);
        json_object_put(doc);
    }
    store->file_fp = fp;
    rc = 0;
out:
    if (r->tok) json_tokener_free(r->tok);
    if (r->f) fclose(r->f);
    free(r);
    return rc;
}

/* ---- MongoDB backend ---- */

/* One JSON form for both stores: relaxed extended JSON keeps strings, numbers and booleans plain. */
static json_object *bson_to_json(const bson_t *doc) {
    char *js = bson_as_relaxed_extended_json(doc, NULL);
    json_object *o = js ? json_tokener_parse(js) : NULL;
    bson_free(js);
    return o;
}

/* The change log's document of a second: its _id, the second in decimal. */
static void bucket_id(char out[24], int64_t second) {
    snprintf(out, 24, "%lld", (long long)second);
}

/* The one document whose _id is id (a lookup every MongoDB-protocol server answers from its primary key; FerretDB
 * answers no other filter without reading the whole collection), copied into *doc or left NULL when there is
 * none. Returns -1 with err filled when the store fails. */
static int find_by_id(mongoc_collection_t *coll, const char *id, bson_t **doc, bson_error_t *err) {
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *d;
    *doc = mongoc_cursor_next(cur, &d) ? bson_copy(d) : NULL;
    int rc = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    return rc;
}

/* How many ids of the second's change log document were already applied. */
static int *seen_of(hd_store_t *store, int64_t second) {
    seen_t *e = &store->seen[second % HD_STORE_SEEN];
    if (e->second != second) *e = (seen_t){second, 0};
    return &e->count;
}

/* Adds the ids of a change log document beyond those already applied to ids (each once). */
static void collect_ids(hd_store_t *store, int64_t second, const bson_t *doc, hd_map_t *ids) {
    bson_iter_t it, arr;
    int *seen = seen_of(store, second), n = 0;
    if (!bson_iter_init_find(&it, doc, "ids") || !BSON_ITER_HOLDS_ARRAY(&it) || !bson_iter_recurse(&it, &arr)) return;
    while (bson_iter_next(&arr))
        if (n++ >= *seen && BSON_ITER_HOLDS_UTF8(&arr)) {
            uint32_t len;
            const char *id = bson_iter_utf8(&arr, &len);
            *hd_map_slot(ids, id, len) = (void *)1;
        }
    *seen = n;
}

typedef struct {
    hd_store_t *store;
    hd_store_changes_t *ch;
    mongoc_collection_t *subs;
    bson_error_t *err;
    int cap, gone_cap, failed;
} fetch_t;

static void push_gone(fetch_t *f, const char *id) {
    hd_store_changes_t *ch = f->ch;
    if (ch->gone_cnt == f->gone_cap) {
        f->gone_cap = f->gone_cap ? f->gone_cap * 2 : 8;
        ch->gone = hd_xrealloc(ch->gone, sizeof(*ch->gone) * (size_t)f->gone_cap);
    }
    ch->gone[ch->gone_cnt++] = hd_xstrdup(id);
}

/* The current document of a changed id: a subscription to apply, or gone (deleted, or no longer valid). */
static void fetch_changed(const void *key, size_t len, void *value, void *opaque) {
    fetch_t *f = opaque;
    char id[512];
    bson_t *doc;
    if (f->failed) return;
    snprintf(id, sizeof(id), "%.*s", (int)len, (const char *)key);
    if (find_by_id(f->subs, id, &doc, f->err)) {
        f->failed = 1;
        return;
    }
    f->ch->read++;
    json_object *o = doc ? bson_to_json(doc) : NULL;
    if (!o || add_sub(f->store, o, &f->ch->subs, &f->ch->cnt, &f->cap)) push_gone(f, id);
    json_object_put(o);
    bson_destroy(doc);
}

/* Reads the change log's documents of every second from the last look (minus the lookback) to now, then the
 * current document of each id they name beyond those already applied: a few primary-key lookups per refresh plus
 * one per change, whatever the collection's size. Each document's state is read, not the change itself, so
 * repeated and reordered entries are harmless, and an id without a document is a delete. */
static int mongo_changes(hd_store_t *store, hd_store_changes_t *ch, char *errstr, size_t errstr_size) {
    int64_t start = hd_now_ms(), now_s = start / 1000;
    mongoc_client_t *client = hd_mongo_pop(store->mongo);
    mongoc_collection_t *subs = mongoc_client_get_collection(client, hd_mongo_database(store->mongo),
                                                             HD_MONGO_SUBSCRIPTIONS),
                        *log = mongoc_client_get_collection(client, hd_mongo_database(store->mongo),
                                                            HD_MONGO_SUBSCRIPTION_CHANGES);
    hd_map_t *ids = hd_map_new(16);
    bson_error_t err;
    int rc = -1;
    seen_t seen[HD_STORE_SEEN]; /* put back when the look fails: its ids were not applied */
    memcpy(seen, store->seen, sizeof(seen));
    for (int64_t s = (store->since_ms - HD_STORE_CHANGE_LOOKBACK_MS) / 1000; s <= now_s; s++) {
        char key[24];
        bson_t *doc;
        bucket_id(key, s);
        if (find_by_id(log, key, &doc, &err)) goto out;
        if (!doc) continue;
        ch->read++;
        collect_ids(store, s, doc, ids);
        bson_destroy(doc);
    }
    fetch_t f = {.store = store, .ch = ch, .subs = subs, .err = &err};
    hd_map_foreach(ids, fetch_changed, &f);
    if (f.failed) goto out;
    store->since_ms = store->looked_ms = start;
    rc = 0;
out:
    if (rc) {
        snprintf(errstr, errstr_size, "MongoDB: reading subscription changes: %s", err.message);
        memcpy(store->seen, seen, sizeof(seen));
    }
    hd_map_destroy(ids, NULL);
    mongoc_collection_destroy(subs);
    mongoc_collection_destroy(log);
    hd_mongo_push(store->mongo, client);
    return rc;
}

static int mongo_load(hd_store_t *store, hd_sub_t ***subs, int *cnt, char *errstr, size_t errstr_size) {
    /* Everything committed before now is read below; what lands during the read is a change after now, minus
     * what the lookback covers. */
    int64_t start = hd_now_ms();
    mongoc_client_t *client = hd_mongo_pop(store->mongo);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, hd_mongo_database(store->mongo), HD_MONGO_SUBSCRIPTIONS);
    bson_t filter = BSON_INITIALIZER;
    bson_error_t err;
    const bson_t *doc;
    int cap = 0, rc = 0;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, &filter, NULL, NULL);
    while (mongoc_cursor_next(cur, &doc)) {
        json_object *o = bson_to_json(doc);
        if (o) add_sub(store, o, subs, cnt, &cap);
        json_object_put(o);
    }
    if (mongoc_cursor_error(cur, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: loading subscriptions: %s", err.message);
        rc = -1;
    } else {
        store->since_ms = store->looked_ms = start;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    mongoc_collection_destroy(coll);
    hd_mongo_push(store->mongo, client);
    return rc;
}

int hd_store_changes(hd_store_t *store, hd_store_reuse_cb *reuse, void *opaque, hd_store_changes_t *out, char *errstr,
                     size_t errstr_size) {
    memset(out, 0, sizeof(*out));
    if (store->path) {
        uint64_t fp;
        if (file_fingerprint(store, &fp, errstr, errstr_size)) return -1;
        out->reload = fp != store->file_fp;
        return 0;
    }
    if (hd_now_ms() - store->looked_ms >= HD_STORE_CHANGES_RETENTION_MS - HD_STORE_CHANGE_LOOKBACK_MS) {
        out->reload = 1; /* changes this old may be purged from the log already */
        return 0;
    }
    store->reuse = reuse;
    store->reuse_opaque = opaque;
    int rc = mongo_changes(store, out, errstr, errstr_size);
    if (rc) hd_store_changes_clear(out);
    return rc;
}

void hd_store_changes_clear(hd_store_changes_t *ch) {
    for (int i = 0; i < ch->cnt; i++)
        hd_sub_destroy(ch->subs[i]);
    for (int i = 0; i < ch->gone_cnt; i++)
        free(ch->gone[i]);
    free(ch->subs);
    free(ch->gone);
    memset(ch, 0, sizeof(*ch));
}

int hd_store_load(hd_store_t *store, hd_store_reuse_cb *reuse, void *opaque, hd_sub_t ***subs, int *cnt, char *errstr,
                  size_t errstr_size) {
    *subs = NULL;
    *cnt = 0;
    store->reuse = reuse;
    store->reuse_opaque = opaque;
    int rc = store->path ? file_load(store, subs, cnt, errstr, errstr_size)
                         : mongo_load(store, subs, cnt, errstr, errstr_size);
    if (rc) { /* all or nothing: the cache keeps its last snapshot */
        for (int i = 0; i < *cnt; i++)
            hd_sub_destroy((*subs)[i]);
        free(*subs);
        *subs = NULL;
        *cnt = 0;
    } else if (*cnt) { /* the array grew by doubling: up to 1 MB of slack at 100,000 */
        *subs = hd_xrealloc(*subs, sizeof(**subs) * (size_t)*cnt);
    }
    return rc;
}

int hd_store_count_encrypted(hd_store_t *store, int64_t *n, char *errstr, size_t errstr_size) {
    *n = 0;
    if (store->path) return 0;
    mongoc_client_t *client = hd_mongo_pop(store->mongo);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, hd_mongo_database(store->mongo), HD_MONGO_SUBSCRIPTIONS);
    bson_t *filter = BCON_NEW("secret", "{", "$regex", BCON_UTF8("^enc:"), "}");
    bson_error_t err;
    *n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
    if (*n < 0) snprintf(errstr, errstr_size, "MongoDB: counting subscriptions: %s", err.message);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    hd_mongo_push(store->mongo, client);
    return *n < 0 ? -1 : 0;
}

hd_mongo_t *hd_store_mongo(const hd_store_t *store) {
    return store->mongo;
}

/* One update_one on the subscriptions collection; takes filter and update. */
static int update_sub(hd_store_t *store, bson_t *filter, bson_t *update, const char *what, const char *id, char *errstr,
                      size_t errstr_size) {
    mongoc_client_t *client = hd_mongo_pop(store->mongo);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, hd_mongo_database(store->mongo), HD_MONGO_SUBSCRIPTIONS);
    bson_error_t err;
    int rc = 0;
    if (!mongoc_collection_update_one(coll, filter, update, NULL, NULL, &err)) {
        snprintf(errstr, errstr_size, "MongoDB: %s subscription %s: %s", what, id, err.message);
        rc = hd_mongo_away(&err) ? -1 : -2;
    }
    bson_destroy(filter);
    bson_destroy(update);
    mongoc_collection_destroy(coll);
    hd_mongo_push(store->mongo, client);
    return rc;
}

int hd_store_disable(hd_store_t *store, const char *id, const char *reason, char *errstr, size_t errstr_size) {
    if (store->path) return 1;
    int64_t now = hd_now_ms();
    int rc = update_sub(store, BCON_NEW("_id", BCON_UTF8(id)),
                        BCON_NEW("$set", "{", "is_active", BCON_BOOL(false), "disabled_reason", BCON_UTF8(reason),
                                 "disabled_at", BCON_DATE_TIME(now), "updated_at", BCON_DATE_TIME(now), "}"),
                        "disabling", id, errstr, errstr_size);
    if (rc) return rc;
    /* The other dispatchers would otherwise see the disable only at their full reload: worth trying again too. */
    mongoc_client_t *client = hd_mongo_pop(store->mongo);
    rc = hd_store_changed(client, hd_mongo_database(store->mongo), id, errstr, errstr_size) ? -1 : 0;
    hd_mongo_push(store->mongo, client);
    return rc;
}

int hd_store_set_failing(hd_store_t *store, const char *id, int64_t since_ms, char *errstr, size_t errstr_size) {
    if (store->path) return 1;
    if (!since_ms)
        return update_sub(store, BCON_NEW("_id", BCON_UTF8(id)), BCON_NEW("$unset", "{", "failing_since", "", "}"),
                          "clearing failing_since of", id, errstr, errstr_size);
    /* null also matches a missing field: an earlier start stored by another dispatcher is kept */
    return update_sub(store, BCON_NEW("_id", BCON_UTF8(id), "failing_since", BCON_NULL),
                      BCON_NEW("$set", "{", "failing_since", BCON_DATE_TIME(since_ms), "}"), "marking failing", id,
                      errstr, errstr_size);
}

/* FerretDB applies concurrent updates of one document without isolation: of 286 concurrent $push to one document,
 * 75 were kept. A process's writers therefore append one at a time (MongoDB would not need it). */
static pthread_mutex_t changed_lock = PTHREAD_MUTEX_INITIALIZER;

int hd_store_changed(mongoc_client_t *client, const char *database, const char *id, char *errstr, size_t errstr_size) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_SUBSCRIPTION_CHANGES);
    int64_t second = hd_now_ms() / 1000;
    char key[24], old[24];
    bucket_id(key, second);
    bucket_id(old, second - HD_STORE_CHANGES_RETENTION_MS / 1000);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(key)), *push = BCON_NEW("$push", "{", "ids", BCON_UTF8(id), "}"),
           *opts = BCON_NEW("upsert", BCON_BOOL(true)), reply;
    bson_error_t err;
    bson_iter_t it;
    pthread_mutex_lock(&changed_lock);
    int rc = 0, ok = mongoc_collection_update_one(coll, filter, push, opts, &reply, &err);
    if (!ok) { /* another process created the second's document at the same time: it exists now */
        bson_destroy(&reply);
        ok = mongoc_collection_update_one(coll, filter, push, opts, &reply, &err);
    }
    pthread_mutex_unlock(&changed_lock);
    if (!ok) {
        snprintf(errstr, errstr_size, "MongoDB: logging the change of subscription %s: %s", id, err.message);
        rc = -1;
    } else if (second % 60 == 0 && bson_iter_init_find(&it, &reply, "upsertedCount") && bson_iter_as_int64(&it)) {
        /* A new minute's first change purges what is past the retention: a scan of a log of an hour at most. */
        bson_t *expired = BCON_NEW("_id", "{", "$lt", BCON_UTF8(old), "}");
        if (!mongoc_collection_delete_many(coll, expired, NULL, NULL, &err))
            HD_LOG(HD_LOG_WARN, "store", NULL, "purging the subscription change log: %s", err.message);
        bson_destroy(expired);
    }
    bson_destroy(&reply);
    bson_destroy(filter);
    bson_destroy(push);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    return rc;
}
