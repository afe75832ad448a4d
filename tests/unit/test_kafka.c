#include <string.h>

#include "hookd/config.h"
#include "hookd/kafka.h"
#include "hookd/log.h"
#include "unit.h"

/* The value librdkafka holds for name in a configuration built for role under the given kafka.* settings; "" when
 * the factory refused them (err then says why). */
static const char *built(hd_kafka_role_t role, const char *const *settings, const char *name, char *out,
                         size_t out_size, char *err, size_t err_size) {
    hd_conf_t *conf = hd_conf_new();
    for (; settings && settings[0]; settings += 2)
        CHECK(hd_conf_set(conf, settings[0], settings[1], err, err_size) == 0);
    err[0] = '\0';
    out[0] = '\0';
    rd_kafka_conf_t *rkconf = hd_kafka_conf(conf, role, NULL, 0, err, err_size);
    if (rkconf) {
        size_t size = out_size;
        CHECK(rd_kafka_conf_get(rkconf, name, out, &size) == RD_KAFKA_CONF_OK);
        rd_kafka_conf_destroy(rkconf);
    }
    hd_conf_destroy(conf);
    return out;
}

#define KV(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_invariants_are_set(void) {
    char v[64], err[512];
    CHECK_STR(built(HD_KAFKA_PRODUCER, NULL, "enable.idempotence", v, sizeof(v), err, sizeof(err)), "true");
    CHECK_STR(built(HD_KAFKA_PRODUCER, NULL, "acks", v, sizeof(v), err, sizeof(err)), "-1");
    CHECK_STR(built(HD_KAFKA_CONSUMER, NULL, "enable.auto.offset.store", v, sizeof(v), err, sizeof(err)), "false");
    /* A reader stores nothing itself: librdkafka's default is left alone. */
    CHECK_STR(built(HD_KAFKA_READER, NULL, "enable.auto.offset.store", v, sizeof(v), err, sizeof(err)), "true");
}

static void test_passthrough_cannot_undo_them(void) {
    char v[64], err[512];
    CHECK_STR(built(HD_KAFKA_CONSUMER, KV("kafka.enable.auto.offset.store", "true"), "enable.auto.offset.store", v,
                    sizeof(v), err, sizeof(err)),
              "");
    CHECK(strstr(err, "kafka.enable.auto.offset.store = true is refused") != NULL);
    CHECK_STR(built(HD_KAFKA_PRODUCER, KV("kafka.producer.enable.idempotence", "false"), "enable.idempotence", v,
                    sizeof(v), err, sizeof(err)),
              "");
    CHECK(strstr(err, "enable.idempotence") != NULL);
    /* Aliases and other spellings are caught by what librdkafka holds, not by the name given. */
    CHECK_STR(built(HD_KAFKA_PRODUCER, KV("kafka.request.required.acks", "1"), "acks", v, sizeof(v), err, sizeof(err)),
              "");
    CHECK(strstr(err, "acks = all") != NULL);
    /* Repeating an invariant is fine. */
    CHECK_STR(built(HD_KAFKA_PRODUCER, KV("kafka.acks", "all"), "acks", v, sizeof(v), err, sizeof(err)), "-1");
    /* A producer setting does not reach consumers, and the other way round. */
    CHECK_STR(built(HD_KAFKA_CONSUMER, KV("kafka.producer.enable.idempotence", "false"), "enable.auto.offset.store", v,
                    sizeof(v), err, sizeof(err)),
              "false");
}

static void test_passthrough_and_defaults(void) {
    char v[64], err[512];
    CHECK_STR(
        built(HD_KAFKA_CONSUMER, KV("brokers", "k1:9092,k2:9092"), "bootstrap.servers", v, sizeof(v), err, sizeof(err)),
        "k1:9092,k2:9092");
    CHECK_STR(built(HD_KAFKA_CONSUMER, KV("kafka.consumer.session.timeout.ms", "15000"), "session.timeout.ms", v,
                    sizeof(v), err, sizeof(err)),
              "15000");
    CHECK_STR(built(HD_KAFKA_PRODUCER, KV("kafka.no.such.property", "1"), "acks", v, sizeof(v), err, sizeof(err)), "");
    CHECK(strstr(err, "kafka.no.such.property") != NULL);
    /* The caller's own defaults come before the pass-through, which wins. */
    hd_conf_t *conf = hd_conf_new();
    CHECK(hd_conf_set(conf, "kafka.producer.linger.ms", "5", err, sizeof(err)) == 0);
    const hd_kafka_prop_t props[] = {{"linger.ms", "20"}, {"compression.type", "lz4"}};
    rd_kafka_conf_t *rkconf = hd_kafka_conf(conf, HD_KAFKA_PRODUCER, props, 2, err, sizeof(err));
    size_t size = sizeof(v);
    CHECK(rkconf && rd_kafka_conf_get(rkconf, "linger.ms", v, &size) == RD_KAFKA_CONF_OK && !strcmp(v, "5"));
    size = sizeof(v);
    CHECK(rkconf && rd_kafka_conf_get(rkconf, "compression.type", v, &size) == RD_KAFKA_CONF_OK && !strcmp(v, "lz4"));
    rd_kafka_t *rk = rkconf ? hd_kafka_new(HD_KAFKA_PRODUCER, rkconf, err, sizeof(err)) : NULL;
    CHECK(rk != NULL);
    CHECK(rk && hd_kafka_record_max(rk) == 1000000 - 64);
    if (rk) rd_kafka_destroy(rk);
    hd_conf_destroy(conf);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    RUN(test_invariants_are_set);
    RUN(test_passthrough_cannot_undo_them);
    RUN(test_passthrough_and_defaults);
    return UNIT_REPORT();
}
