#include "hookd/deliverylog.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/alias.h"
#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/rfc3339.h"
#include "hookd/sign.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

/* Longest receiver response kept in the log. */
#define RESPONSE_MAX 1024
/* Numeric aliases of rows are reserved this many at a time: one counter write per block, not per row. */
#define ALIAS_BLOCK 100

struct hd_deliverylog_s {
    const hd_conf_t *conf;
    hd_mongo_t *mongo;
    rd_kafka_t *rk;
};

hd_deliverylog_t *hd_deliverylog_new(const hd_conf_t *conf, hd_mongo_t *mongo, char *errstr, size_t errstr_size) {
    hd_deliverylog_t *rec = hd_xcalloc(1, sizeof(*rec));
    rec->conf = conf;
    rec->mongo = mongo;
    if (!mongo) {
        snprintf(errstr, errstr_size, "the delivery log needs a MongoDB store (store = mongodb://...)");
        goto fail;
    }
    /* A consumer: offsets are stored once the row is written. */
    const hd_kafka_prop_t props[] = {{"auto.offset.reset", "earliest"}, {"group.id", conf->recorder_group_id}};
    rd_kafka_conf_t *rkconf = hd_kafka_conf(conf, HD_KAFKA_CONSUMER, props, 2, errstr, errstr_size);
    if (!rkconf || !(rec->rk = hd_kafka_new(HD_KAFKA_CONSUMER, rkconf, errstr, errstr_size))) goto fail;
    rd_kafka_poll_set_consumer(rec->rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, conf->results_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rec->rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err) {
        snprintf(errstr, errstr_size, "subscribing to %s: %s", conf->results_topic, rd_kafka_err2str(err));
        goto fail;
    }
    return rec;

fail:
    hd_deliverylog_destroy(rec);
    return NULL;
}

void hd_deliverylog_destroy(hd_deliverylog_t *rec) {
    if (!rec) return;
    if (rec->rk) {
        rd_kafka_consumer_close(rec->rk);
        rd_kafka_destroy(rec->rk);
    }
    free(rec);
}

static const char *str(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : NULL;
}

static int64_t time_of(json_object *o, const char *k) {
    const char *s = str(o, k);
    int64_t ms = 0;
    return s && hd_rfc3339_parse(s, strlen(s), &ms) == 0 ? ms : 0;
}

/* The log's ordering key: creation time then id, fixed-width so that string order is time order. */
static void sort_key(int64_t created_ms, const char *id, char *out, size_t out_size) {
    snprintf(out, out_size, "%013" PRId64 ":%s", created_ms, id);
}

static int is_duplicate_key(const bson_error_t *err) {
    return err->code == 11000 || strstr(err->message, "E11000") || strstr(err->message, "duplicate key");
}

/* One upsert of a row of the delivery log; destroys filter and update. 0, or -1 with err filled. */
static int upsert(mongoc_client_t *client, const char *database, bson_t *filter, bson_t *update, bson_error_t *err) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, database, HD_MONGO_DELIVERIES);
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    int ok = mongoc_collection_update_one(coll, filter, update, opts, NULL, err);
    bson_destroy(opts);
    mongoc_collection_destroy(coll);
    bson_destroy(update);
    bson_destroy(filter);
    return ok ? 0 : -1;
}

int hd_deliverylog_apply(mongoc_client_t *client, const char *database, json_object *record, char *errstr,
                         size_t errstr_size) {
    const char *id = str(record, "delivery_id"), *event_id = str(record, "event_id"),
               *sub_id = str(record, "subscription_id"), *tenant = str(record, "tenant");
    json_object *v, *src = NULL;
    if (!id || !event_id || !sub_id || !tenant) {
        snprintf(errstr, errstr_size, "not a results record (delivery_id, event_id, subscription_id, tenant)");
        return 0;
    }
    int attempt = json_object_object_get_ex(record, "attempt", &v) ? json_object_get_int(v) : 1;
    int success = json_object_object_get_ex(record, "success", &v) && json_object_get_boolean(v);
    int final = json_object_object_get_ex(record, "final", &v) && json_object_get_boolean(v);
    int64_t at = time_of(record, "attempted_at"), next = time_of(record, "next_retry_at");
    int64_t order = at * 1000 + (attempt > 0 && attempt < 1000 ? attempt : 999);
    const char *status = success ? "succeeded" : next && !final ? "retrying" : "failed";
    const char *response = str(record, "response");
    char key[128];
    int64_t alias;
    sort_key(at, id, key, sizeof(key));
    if (hd_alias_next(client, database, HD_MONGO_DELIVERIES, ALIAS_BLOCK, &alias, errstr, errstr_size)) return -1;

    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id), "order", "{", "$lt", BCON_INT64(order), "}");
    bson_t update = BSON_INITIALIZER, set, once;
    bson_append_document_begin(&update, "$set", -1, &set);
    BSON_APPEND_UTF8(&set, "tenant", tenant);
    BSON_APPEND_UTF8(&set, "subscription_id", sub_id);
    BSON_APPEND_UTF8(&set, "event_id", event_id);
    BSON_APPEND_UTF8(&set, "event_type", str(record, "event_type") ? str(record, "event_type") : "");
    BSON_APPEND_UTF8(&set, "status", status);
    BSON_APPEND_BOOL(&set, "is_success", success);
    if (json_object_object_get_ex(record, "status_code", &v) && json_object_is_type(v, json_type_int))
        BSON_APPEND_INT32(&set, "status_code", json_object_get_int(v));
    else
        BSON_APPEND_NULL(&set, "status_code");
    if (response)
        bson_append_utf8(&set, "response", -1, response, (int)hd_utf8_prefix(response, strlen(response), RESPONSE_MAX));
    else
        BSON_APPEND_NULL(&set, "response");
    if (str(record, "error"))
        BSON_APPEND_UTF8(&set, "error_message", str(record, "error"));
    else
        BSON_APPEND_NULL(&set, "error_message");
    BSON_APPEND_INT32(&set, "retry_count", attempt > 0 ? attempt - 1 : 0);
    BSON_APPEND_DATE_TIME(&set, "sent_at", at);
    if (next)
        BSON_APPEND_DATE_TIME(&set, "next_retry_at", next);
    else
        BSON_APPEND_NULL(&set, "next_retry_at");
    BSON_APPEND_INT64(&set, "order", order);
    if (json_object_object_get_ex(record, "source", &src) && json_object_is_type(src, json_type_object)) {
        bson_t s;
        BSON_APPEND_DOCUMENT_BEGIN(&set, "source", &s);
        BSON_APPEND_UTF8(&s, "topic", str(src, "topic") ? str(src, "topic") : "");
        BSON_APPEND_INT32(&s, "partition",
                          json_object_object_get_ex(src, "partition", &v) ? json_object_get_int(v) : 0);
        BSON_APPEND_INT64(&s, "offset", json_object_object_get_ex(src, "offset", &v) ? json_object_get_int64(v) : -1);
        bson_append_document_end(&set, &s);
    }
    bson_append_document_end(&update, &set);
    bson_append_document_begin(&update, "$setOnInsert", -1, &once);
    BSON_APPEND_DATE_TIME(&once, "created_at", at);
    BSON_APPEND_UTF8(&once, "sort_key", key);
    BSON_APPEND_INT64(&once, "alias", alias); /* used only by an insert: a number lost to an update is a gap */
    bson_append_document_end(&update, &once);

    bson_error_t err;
    if (!upsert(client, database, filter, &update, &err)) return 1;
    /* The row exists with this or a later attempt: the upsert's insert collides, nothing to do. */
    if (is_duplicate_key(&err)) {
        snprintf(errstr, errstr_size, "delivery %s attempt %d already recorded", id, attempt);
        return 0;
    }
    snprintf(errstr, errstr_size, "MongoDB: writing delivery %s: %s", id, err.message);
    return -1;
}

int hd_deliverylog_pending(mongoc_client_t *client, const char *database, const char *tenant,
                           const char *subscription_id, const char *event_id, const char *event_type, char *errstr,
                           size_t errstr_size) {
    char id[HD_SIGN_ID_SIZE], key[128];
    int64_t now = hd_now_ms(), alias;
    if (hd_alias_next(client, database, HD_MONGO_DELIVERIES, ALIAS_BLOCK, &alias, errstr, errstr_size)) return -1;
    hd_sign_message_id(event_id, subscription_id, id);
    sort_key(now, id, key, sizeof(key));
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    bson_t *update =
        BCON_NEW("$set", "{", "status", BCON_UTF8("pending"), "}", "$setOnInsert", "{", "tenant", BCON_UTF8(tenant),
                 "subscription_id", BCON_UTF8(subscription_id), "event_id", BCON_UTF8(event_id), "event_type",
                 BCON_UTF8(event_type), "is_success", BCON_BOOL(false), "status_code", BCON_NULL, "response", BCON_NULL,
                 "error_message", BCON_NULL, "retry_count", BCON_INT32(0), "sent_at", BCON_NULL, "next_retry_at",
                 BCON_NULL, "order", BCON_INT64(0), "created_at", BCON_DATE_TIME(now), "sort_key", BCON_UTF8(key),
                 "alias", BCON_INT64(alias), "}");
    bson_error_t err;
    int rc = upsert(client, database, filter, update, &err);
    if (rc) snprintf(errstr, errstr_size, "MongoDB: marking delivery %s pending: %s", id, err.message);
    return rc;
}

static json_object *parse(const rd_kafka_message_t *m) {
    if (!m->payload || m->len > INT32_MAX) return NULL;
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, m->payload, (int)m->len);
    json_tokener_free(tok);
    return o;
}

void hd_deliverylog_run(hd_deliverylog_t *rec, const atomic_int *stop) {
    char err[512];
    HD_LOG(HD_LOG_INFO, "deliverylog", NULL, "recording %s into %s." HD_MONGO_DELIVERIES, rec->conf->results_topic,
           hd_mongo_database(rec->mongo));
    while (!atomic_load(stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rec->rk, 200);
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                HD_LOG(HD_LOG_WARN, "deliverylog", NULL, "consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        json_object *o = parse(m);
        int rc = 0;
        if (!o || !json_object_is_type(o, json_type_object)) {
            HD_LOG(HD_LOG_WARN, "deliverylog", NULL, "skipping a results record that is not a JSON object");
        } else {
            /* The database being away holds the partition here rather than losing the record. */
            while (!atomic_load(stop)) {
                mongoc_client_t *client = hd_mongo_pop(rec->mongo);
                rc = hd_deliverylog_apply(client, hd_mongo_database(rec->mongo), o, err, sizeof(err));
                hd_mongo_push(rec->mongo, client);
                if (rc >= 0) break;
                HD_LOG(HD_LOG_ERROR, "deliverylog", NULL, "%s; retrying", err);
                usleep(500 * 1000);
            }
            if (rc == 0) HD_LOG(HD_LOG_DEBUG, "deliverylog", NULL, "skipped: %s", err);
        }
        json_object_put(o);
        if (rc >= 0) rd_kafka_offset_store(m->rkt, m->partition, m->offset);
        rd_kafka_message_destroy(m);
    }
}
