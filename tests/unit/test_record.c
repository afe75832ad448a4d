#include <librdkafka/rdkafka.h>
/* after rdkafka.h */
#include <librdkafka/rdkafka_mock.h>
#include <string.h>

#include "hookd/config.h"
#include "hookd/log.h"
#include "hookd/record.h"
#include "unit.h"

/* librdkafka's in-process mock cluster, owned by a client of its own. */
static rd_kafka_t *mock_owner(const char **bootstraps) {
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "test.mock.num.brokers", "1", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    rd_kafka_mock_topic_create(mc, "results", 1, 1);
    rd_kafka_mock_topic_create(mc, "deadletter", 1, 1);
    *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    return rk;
}

static void on_ack(void *opaque, void *record_opaque) {
    (*(int *)opaque)++;
}

static hd_conf_t *conf_for(const char *bootstraps) {
    char err[256];
    hd_conf_t *conf = hd_conf_new();
    CHECK(hd_conf_set(conf, "brokers", bootstraps, err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "results.topic", "results", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "deadletter.topic", "deadletter", err, sizeof(err)) == 0);
    return conf;
}

/* A record librdkafka refuses when it is produced is kept, never reported as written: its event's offset waits. */
static void test_a_refused_record_is_kept_not_acknowledged(void) {
    const char *bootstraps;
    rd_kafka_t *owner = mock_owner(&bootstraps);
    hd_conf_t *conf = conf_for(bootstraps);
    char err[256];
    int acks = 0;
    hd_record_t *r = hd_record_new(conf, -1, on_ack, &acks, err, sizeof(err));
    CHECK(r != NULL);
    if (r) {
        static char big[1100000];
        memset(big, 'x', sizeof(big));
        CHECK(hd_record_produce(r, "results", "k", big, sizeof(big), NULL, &acks) == 0);
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &acks) == 0);
        CHECK(hd_record_flush(r, 3000) == 1); /* the small one is written, the large one still kept */
        CHECK(acks == 1);
        CHECK(hd_record_outstanding_bytes(r) > sizeof(big));
        CHECK(!hd_record_fatal(r));
        hd_record_destroy(r, 0);
    }
    hd_conf_destroy(conf);
    rd_kafka_destroy(owner);
}

/* A fatal producer error (here a batch the broker refuses for good while the gapless guarantee is asked for) stops
 * the writing for good: nothing is acknowledged any more and produce says so. */
static void test_a_fatal_producer_is_reported(void) {
    const char *bootstraps;
    rd_kafka_t *owner = mock_owner(&bootstraps);
    hd_conf_t *conf = conf_for(bootstraps);
    char err[256];
    int acks = 0;
    CHECK(hd_conf_set(conf, "kafka.producer.enable.gapless.guarantee", "true", err, sizeof(err)) == 0);
    hd_record_t *r = hd_record_new(conf, -1, on_ack, &acks, err, sizeof(err));
    CHECK(r != NULL);
    if (r) {
        rd_kafka_mock_push_request_errors(rd_kafka_handle_mock_cluster(owner), 0 /* Produce */, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &acks) == 0);
        for (int i = 0; i < 50 && !hd_record_fatal(r); i++)
            hd_record_flush(r, 100);
        CHECK(hd_record_fatal(r));
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &acks) == -1);
        CHECK(acks == 0);
        hd_record_destroy(r, 0);
    }
    hd_conf_destroy(conf);
    rd_kafka_destroy(owner);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    RUN(test_a_refused_record_is_kept_not_acknowledged);
    RUN(test_a_fatal_producer_is_reported);
    return UNIT_REPORT();
}
