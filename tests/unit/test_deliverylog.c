/* The delivery-log writer against a real MongoDB (HOOKD_TEST_MONGO; skipped when unset): a results record becomes
 * its `deliveries` row with the status it implies; re-applying a record or an older attempt changes nothing, a later
 * attempt updates the row but not its creation; pending rows; records that are not results records. Each run uses
 * a database of its own and drops it. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/deliverylog.h"
#include "hookd/log.h"
#include "hookd/mongo.h"
#include "hookd/sign.h"
#include "hookd/util.h"
#include "unit.h"
#include "unit_mongo.h"

static mongoc_client_t *client;
static char db[64];

/* attempted_at 2026-01-02T03:04:05.678Z */
#define AT_MS 1767323045678LL

/* A results record of delivery id at attempt n; extra is more members (with a leading comma) or "". */
static int apply(const char *id, int n, int success, int final, const char *extra, char *err, size_t err_size) {
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"delivery_id\":\"%s\",\"event_id\":\"ev-%s\",\"subscription_id\":\"sub-1\",\"tenant\":\"t1\","
             "\"event_type\":\"order.paid\",\"attempt\":%d,\"success\":%s,\"final\":%s,"
             "\"attempted_at\":\"2026-01-02T03:04:05.678Z\"%s}",
             id, id, n, success ? "true" : "false", final ? "true" : "false", extra);
    json_object *o = json_tokener_parse(text);
    CHECK(o != NULL);
    err[0] = '\0';
    int rc = hd_deliverylog_apply(client, db, o, err, err_size);
    json_object_put(o);
    return rc;
}

/* The row with _id id (the caller destroys it), or NULL. */
static bson_t *row(const char *id) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db, HD_MONGO_DELIVERIES);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    bson_t *copy = mongoc_cursor_next(cur, &doc) ? bson_copy(doc) : NULL;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    return copy;
}

static int64_t row_count(void) {
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db, HD_MONGO_DELIVERIES);
    bson_t filter = BSON_INITIALIZER;
    int64_t n = mongoc_collection_count_documents(coll, &filter, NULL, NULL, NULL, NULL);
    bson_destroy(&filter);
    mongoc_collection_destroy(coll);
    return n;
}

/* Finds field k (a dotted path) of doc: 0 when doc has none. */
static int field(const bson_t *doc, const char *k, bson_iter_t *it) {
    bson_iter_t top;
    return doc && bson_iter_init(&top, doc) && bson_iter_find_descendant(&top, k, it);
}

/* Field k of doc: its string ("" when not a string), or "null" when it is null. */
static const char *str(const bson_t *doc, const char *k) {
    bson_iter_t it;
    if (!field(doc, k, &it)) return "(missing)";
    if (BSON_ITER_HOLDS_NULL(&it)) return "null";
    return BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, NULL) : "";
}

/* Field k of doc as a number (dates in ms); -1 when missing or not a number. */
static int64_t num(const bson_t *doc, const char *k) {
    bson_iter_t it;
    if (!field(doc, k, &it)) return -1;
    if (BSON_ITER_HOLDS_DATE_TIME(&it)) return bson_iter_date_time(&it);
    if (BSON_ITER_HOLDS_BOOL(&it)) return bson_iter_bool(&it);
    return BSON_ITER_HOLDS_INT32(&it) || BSON_ITER_HOLDS_INT64(&it) ? bson_iter_as_int64(&it) : -1;
}

static void test_success_row(void) {
    char err[256];
    CHECK(apply("d-ok", 1, 1, 1,
                ",\"status_code\":204,\"response\":\"fine\","
                "\"source\":{\"topic\":\"events\",\"partition\":2,\"offset\":41}",
                err, sizeof(err)) == 1);
    bson_t *r = row("d-ok");
    CHECK(r != NULL);
    CHECK_STR(str(r, "tenant"), "t1");
    CHECK_STR(str(r, "subscription_id"), "sub-1");
    CHECK_STR(str(r, "event_id"), "ev-d-ok");
    CHECK_STR(str(r, "event_type"), "order.paid");
    CHECK_STR(str(r, "status"), "succeeded");
    CHECK(num(r, "is_success") == 1);
    CHECK(num(r, "status_code") == 204);
    CHECK_STR(str(r, "response"), "fine");
    CHECK_STR(str(r, "error_message"), "null");
    CHECK(num(r, "retry_count") == 0);
    CHECK(num(r, "sent_at") == AT_MS && num(r, "created_at") == AT_MS);
    CHECK_STR(str(r, "next_retry_at"), "null");
    CHECK_STR(str(r, "sort_key"), "1767323045678:d-ok");
    CHECK_STR(str(r, "source.topic"), "events");
    CHECK(num(r, "source.partition") == 2 && num(r, "source.offset") == 41);
    if (r) bson_destroy(r);
}

/* Not final with a next retry: retrying; final, or no next retry: failed. */
static void test_failure_status(void) {
    char err[256];
    const char *next = ",\"next_retry_at\":\"2026-01-02T03:05:05.678Z\",\"error\":\"timeout\"";
    CHECK(apply("d-retry", 2, 0, 0, next, err, sizeof(err)) == 1);
    CHECK(apply("d-final", 6, 0, 1, next, err, sizeof(err)) == 1);
    CHECK(apply("d-nonext", 1, 0, 0, ",\"status_code\":410", err, sizeof(err)) == 1);
    bson_t *r = row("d-retry");
    CHECK_STR(str(r, "status"), "retrying");
    CHECK(num(r, "is_success") == 0 && num(r, "retry_count") == 1);
    CHECK(num(r, "next_retry_at") == AT_MS + 60000);
    CHECK_STR(str(r, "error_message"), "timeout");
    CHECK_STR(str(r, "status_code"), "null");
    if (r) bson_destroy(r);
    r = row("d-final");
    CHECK_STR(str(r, "status"), "failed");
    CHECK(num(r, "retry_count") == 5);
    if (r) bson_destroy(r);
    r = row("d-nonext");
    CHECK_STR(str(r, "status"), "failed");
    CHECK(num(r, "status_code") == 410);
    if (r) bson_destroy(r);
}

/* Re-consuming the topic: the same attempt again or an older one leaves the row alone; a later one updates it but
 * keeps when and where the row was created. */
static void test_idempotent(void) {
    char err[256];
    const char *next = ",\"next_retry_at\":\"2026-01-02T03:05:05.678Z\"";
    CHECK(apply("d-idem", 2, 0, 0, next, err, sizeof(err)) == 1);
    CHECK(apply("d-idem", 2, 0, 0, next, err, sizeof(err)) == 0);
    CHECK_STR(err, "delivery d-idem attempt 2 already recorded");
    CHECK(apply("d-idem", 1, 1, 1, "", err, sizeof(err)) == 0);
    bson_t *r = row("d-idem");
    CHECK_STR(str(r, "status"), "retrying");
    CHECK(num(r, "retry_count") == 1);
    if (r) bson_destroy(r);
    /* One minute later: the sort key and creation time stay those of the first attempt. */
    CHECK(apply("d-idem", 3, 1, 1, ",\"attempted_at\":\"2026-01-02T03:05:05.678Z\"", err, sizeof(err)) == 1);
    r = row("d-idem");
    CHECK_STR(str(r, "status"), "succeeded");
    CHECK(num(r, "retry_count") == 2);
    CHECK(num(r, "created_at") == AT_MS);
    CHECK_STR(str(r, "sort_key"), "1767323045678:d-idem");
    if (r) bson_destroy(r);
}

static void test_not_results_records(void) {
    char err[256];
    int64_t before = row_count();
    const char *bad[] = {"{}", "{\"delivery_id\":\"x\",\"event_id\":\"e\",\"subscription_id\":\"s\"}",
                         "{\"delivery_id\":1,\"event_id\":\"e\",\"subscription_id\":\"s\",\"tenant\":\"t\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *o = json_tokener_parse(bad[i]);
        err[0] = '\0';
        CHECK(hd_deliverylog_apply(client, db, o, err, sizeof(err)) == 0);
        CHECK(strstr(err, "not a results record") != NULL);
        json_object_put(o);
    }
    CHECK(row_count() == before);
}

/* The log keeps at most 1024 bytes of a response, cut on a character boundary. */
static void test_response_cut(void) {
    char err[256], extra[2200], *p = extra;
    p += sprintf(p, ",\"response\":\"");
    memset(p, 'a', 1023);
    p += 1023;
    sprintf(p, "\xc3\xa9 and more\"");
    CHECK(apply("d-long", 1, 1, 1, extra, err, sizeof(err)) == 1);
    bson_t *r = row("d-long");
    CHECK(strlen(str(r, "response")) == 1023);
    if (r) bson_destroy(r);
}

/* A pending row is inserted under the delivery's webhook-id; the first attempt then fills it. On a row that exists,
 * pending changes only the status. */
static void test_pending(void) {
    char err[256], id[HD_SIGN_ID_SIZE];
    hd_sign_message_id("ev-p", "sub-1", id);
    CHECK(hd_deliverylog_pending(client, db, "t1", "sub-1", "ev-p", "order.paid", err, sizeof(err)) == 0);
    bson_t *r = row(id);
    CHECK(r != NULL);
    CHECK_STR(str(r, "status"), "pending");
    CHECK_STR(str(r, "tenant"), "t1");
    CHECK_STR(str(r, "event_type"), "order.paid");
    CHECK(num(r, "retry_count") == 0 && num(r, "is_success") == 0);
    CHECK(num(r, "sent_at") == -1); /* null, or absent: FerretDB leaves out the nulls of $setOnInsert */
    if (r) bson_destroy(r);

    char text[512];
    snprintf(text, sizeof(text),
             "{\"delivery_id\":\"%s\",\"event_id\":\"ev-p\",\"subscription_id\":\"sub-1\",\"tenant\":\"t1\","
             "\"attempt\":2,\"success\":false,\"final\":true,\"attempted_at\":\"2026-01-02T03:04:05.678Z\"}",
             id);
    json_object *o = json_tokener_parse(text);
    CHECK(hd_deliverylog_apply(client, db, o, err, sizeof(err)) == 1);
    json_object_put(o);
    r = row(id);
    CHECK_STR(str(r, "status"), "failed");
    CHECK(num(r, "retry_count") == 1);
    if (r) bson_destroy(r);

    CHECK(hd_deliverylog_pending(client, db, "t1", "sub-1", "ev-p", "order.paid", err, sizeof(err)) == 0);
    r = row(id);
    CHECK_STR(str(r, "status"), "pending");
    CHECK(num(r, "retry_count") == 1 && num(r, "sent_at") == AT_MS);
    if (r) bson_destroy(r);
}

typedef struct {
    hd_deliverylog_t *rec;
    atomic_int stop;
    pthread_t thread;
} writer_t;

static void *writer_run(void *arg) {
    writer_t *w = arg;
    hd_deliverylog_run(w->rec, &w->stop);
    return NULL;
}

static int writer_start(writer_t *w, const hd_conf_t *conf, hd_mongo_t *mongo) {
    char err[256];
    atomic_init(&w->stop, 0);
    if (!(w->rec = hd_deliverylog_new(conf, mongo, err, sizeof(err)))) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return pthread_create(&w->thread, NULL, writer_run, w);
}

static void writer_stop(writer_t *w) {
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    hd_deliverylog_destroy(w->rec);
}

/* The writer over the results topic (librdkafka's mock cluster): records that are not results records are skipped
 * without holding the partition; while MongoDB is away a record is not given up, and its offset is not stored, so
 * the next writer of the group writes it. */
static void test_run(void) {
    char err[256];
    rd_kafka_conf_t *rkconf = rd_kafka_conf_new();
    rd_kafka_t *owner = NULL;
    hd_conf_t *conf = hd_conf_new();
    hd_mongo_t *away = NULL, *mongo = NULL;
    CHECK(rd_kafka_conf_set(rkconf, "test.mock.num.brokers", "1", err, sizeof(err)) == RD_KAFKA_CONF_OK);
    CHECK(rd_kafka_conf_set(rkconf, "log_level", "4", err, sizeof(err)) == RD_KAFKA_CONF_OK);
    CHECK((owner = rd_kafka_new(RD_KAFKA_PRODUCER, rkconf, err, sizeof(err))) != NULL);
    if (!owner) goto out;
    rd_kafka_mock_cluster_t *mock = rd_kafka_handle_mock_cluster(owner);
    rd_kafka_mock_group_initial_rebalance_delay_ms(mock, 0);
    rd_kafka_mock_topic_create(mock, "results", 1, 1);
    const char *records[] = {
        "not JSON",
        "{\"delivery_id\":\"d-run-1\",\"event_id\":\"e1\",\"subscription_id\":\"s\",\"tenant\":\"t\","
        "\"attempt\":1,\"success\":true,\"attempted_at\":\"2026-01-02T03:04:05.678Z\"}",
        "[1]",
        "{}",
        "{\"delivery_id\":\"d-run-2\",\"event_id\":\"e2\",\"subscription_id\":\"s\",\"tenant\":\"t\","
        "\"attempt\":1,\"success\":true,\"attempted_at\":\"2026-01-02T03:04:05.678Z\"}",
    };
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
        CHECK(!rd_kafka_producev(owner, RD_KAFKA_V_TOPIC("results"), RD_KAFKA_V_PARTITION(0),
                                 RD_KAFKA_V_VALUE((void *)records[i], strlen(records[i])),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END));
    CHECK(rd_kafka_flush(owner, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(!hd_conf_set(conf, "brokers", rd_kafka_mock_cluster_bootstraps(mock), err, sizeof(err)));
    CHECK(!hd_conf_set(conf, "results.topic", "results", err, sizeof(err)));
    CHECK(!hd_conf_set(conf, "recorder.group.id", "recorder", err, sizeof(err)));
    /* The mock cluster waits for the members that left to rejoin for the session timeout less a second. */
    CHECK(!hd_conf_set(conf, "kafka.consumer.heartbeat.interval.ms", "100", err, sizeof(err)));
    CHECK(!hd_conf_set(conf, "kafka.consumer.session.timeout.ms", "6000", err, sizeof(err)));

    /* Nothing listens on port 1. */
    away = hd_mongo_new("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100", db, err, sizeof(err));
    writer_t w;
    CHECK(away && !writer_start(&w, conf, away));
    if (!away) goto out;
    usleep(3000000);
    writer_stop(&w);
    bson_t *r1 = row("d-run-1"), *r2 = NULL;
    CHECK(r1 == NULL);

    mongo = hd_mongo_new(getenv("HOOKD_TEST_MONGO"), db, err, sizeof(err));
    CHECK(mongo && !writer_start(&w, conf, mongo));
    if (!mongo) goto out;
    for (int64_t deadline = hd_mono_us() + 30000000; (!r1 || !r2) && hd_mono_us() < deadline; usleep(100000)) {
        if (!r1) r1 = row("d-run-1");
        if (!r2) r2 = row("d-run-2");
    }
    writer_stop(&w);
    CHECK(r1 != NULL && r2 != NULL);
    CHECK_STR(str(r1, "status"), "succeeded");
    if (r1) bson_destroy(r1);
    if (r2) bson_destroy(r2);
out:
    hd_mongo_destroy(mongo);
    hd_mongo_destroy(away);
    hd_conf_destroy(conf);
    if (owner) rd_kafka_destroy(owner);
}

static void test_needs_mongodb(void) {
    char err[256] = "";
    hd_conf_t *conf = hd_conf_new();
    CHECK(hd_deliverylog_new(conf, NULL, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "needs a MongoDB store") != NULL);
    hd_conf_destroy(conf);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    int failed;
    hd_mongo_t *mongo = unit_mongo_open(__FILE__, "deliverylog", db, sizeof(db), &failed);
    if (!mongo) return failed;
    client = hd_mongo_pop(mongo);
    RUN(test_needs_mongodb);
    RUN(test_success_row);
    RUN(test_failure_status);
    RUN(test_idempotent);
    RUN(test_not_results_records);
    RUN(test_response_cut);
    RUN(test_pending);
    RUN(test_run);
    unit_mongo_close(mongo, client, db);
    return UNIT_REPORT();
}
