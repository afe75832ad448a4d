#include "hookd/kafka.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/log.h"

typedef struct {
    const char *name, *value; /* value as rd_kafka_conf_get prints it */
    const char *why;
} invariant_t;

static const invariant_t producer_invariants[] = {
    {"enable.idempotence", "true", "records are retried in order and without duplicates"},
    {"acks", "-1", "a record counts as written only once every in-sync replica has it (acks=all)"},
};

static const invariant_t consumer_invariants[] = {
    {"enable.auto.offset.store", "false", "an offset is stored only once the outcomes of its event are durable"},
};

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    HD_LOG_LIMITED(err == RD_KAFKA_RESP_ERR__FATAL ? HD_LOG_ERROR : HD_LOG_WARN, "kafka",
                   HD_KV("client", rd_kafka_name(rk)), "kafka: %s", reason);
}

rd_kafka_conf_t *hd_kafka_conf(const hd_conf_t *conf, hd_kafka_role_t role, const hd_kafka_prop_t *props, size_t cnt,
                               char *errstr, size_t errstr_size) {
    rd_kafka_conf_t *rkconf = rd_kafka_conf_new();
    const invariant_t *inv = role == HD_KAFKA_PRODUCER ? producer_invariants : consumer_invariants;
    size_t inv_cnt = role == HD_KAFKA_PRODUCER   ? sizeof(producer_invariants) / sizeof(producer_invariants[0])
                     : role == HD_KAFKA_CONSUMER ? sizeof(consumer_invariants) / sizeof(consumer_invariants[0])
                                                 : 0;
    if (rd_kafka_conf_set(rkconf, "bootstrap.servers", conf->brokers, errstr, errstr_size)) goto fail;
    for (size_t i = 0; i < cnt; i++)
        if (rd_kafka_conf_set(rkconf, props[i].name, props[i].value, errstr, errstr_size)) goto fail;
    for (size_t i = 0; i < inv_cnt; i++)
        rd_kafka_conf_set(rkconf, inv[i].name, inv[i].value, NULL, 0);
    if (hd_conf_apply_kafka(conf, role == HD_KAFKA_PRODUCER ? "producer" : "consumer", rkconf, errstr, errstr_size))
        goto fail;
    /* Read back rather than compare names: librdkafka has aliases (acks, request.required.acks) and several
     * spellings of a value (all, -1). */
    for (size_t i = 0; i < inv_cnt; i++) {
        char have[64];
        size_t size = sizeof(have);
        if (rd_kafka_conf_get(rkconf, inv[i].name, have, &size) == RD_KAFKA_CONF_OK && strcmp(have, inv[i].value)) {
            snprintf(errstr, errstr_size, "kafka.%s = %s is refused: hookd keeps %s = %s (%s)", inv[i].name, have,
                     inv[i].name, !strcmp(inv[i].value, "-1") ? "all" : inv[i].value, inv[i].why);
            goto fail;
        }
    }
    rd_kafka_conf_set_log_cb(rkconf, hd_log_rdkafka);
    rd_kafka_conf_set_error_cb(rkconf, error_cb);
    return rkconf;

fail:
    rd_kafka_conf_destroy(rkconf);
    return NULL;
}

rd_kafka_t *hd_kafka_new(hd_kafka_role_t role, rd_kafka_conf_t *rkconf, char *errstr, size_t errstr_size) {
    rd_kafka_t *rk =
        rd_kafka_new(role == HD_KAFKA_PRODUCER ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, rkconf, errstr, errstr_size);
    if (!rk) rd_kafka_conf_destroy(rkconf);
    return rk;
}

/* librdkafka refuses a message whose key, value and headers with its v2 framing exceed message.max.bytes; the
 * framing is a few dozen bytes of varints. */
#define FRAMING_BYTES 64

size_t hd_kafka_record_max(rd_kafka_t *rk) {
    char v[32];
    size_t size = sizeof(v);
    long long max = 1000000;
    if (rd_kafka_conf_get(rd_kafka_conf(rk), "message.max.bytes", v, &size) == RD_KAFKA_CONF_OK) max = atoll(v);
    return max > FRAMING_BYTES ? (size_t)(max - FRAMING_BYTES) : 0;
}

size_t hd_kafka_topics_max_message(rd_kafka_t *rk, const char *const *topics, int cnt, int timeout_ms) {
    rd_kafka_ConfigResource_t *res[cnt > 0 ? cnt : 1];
    for (int i = 0; i < cnt; i++)
        res[i] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topics[i]);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, NULL, 0);
    rd_kafka_DescribeConfigs(rk, res, (size_t)cnt, opts, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, timeout_ms + 1000);
    size_t min = 0;
    const rd_kafka_DescribeConfigs_result_t *result = ev ? rd_kafka_event_DescribeConfigs_result(ev) : NULL;
    size_t n = 0;
    const rd_kafka_ConfigResource_t **got = result ? rd_kafka_DescribeConfigs_result_resources(result, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_ConfigResource_error(got[i])) continue; /* not created yet: created by hookd, checked then */
        size_t entries = 0;
        const rd_kafka_ConfigEntry_t **e = rd_kafka_ConfigResource_configs(got[i], &entries);
        for (size_t k = 0; k < entries; k++) {
            const char *v = rd_kafka_ConfigEntry_value(e[k]);
            if (!v || strcmp(rd_kafka_ConfigEntry_name(e[k]), "max.message.bytes")) continue;
            size_t bytes = (size_t)atoll(v);
            if (!min || bytes < min) min = bytes;
        }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy_array(res, (size_t)cnt);
    return min;
}
