/* Every librdkafka client hookd builds comes from here: the role's defaults, then the caller's own defaults, then
 * the `kafka.*` pass-through, then the invariants at-least-once needs, which a pass-through cannot undo (one that
 * contradicts them is refused with an error naming it). Every client logs through hd_log (JSON lines, repeated
 * errors rate-limited). */
#ifndef HOOKD_KAFKA_H
#define HOOKD_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

#include "hookd/config.h"

typedef enum {
    HD_KAFKA_PRODUCER, /* records: idempotent (ordered, duplicate-free retries), acks=all */
    HD_KAFKA_CONSUMER, /* a group member whose offsets are stored only once its work is durable */
    HD_KAFKA_READER,   /* a consumer that stores nothing itself: replay planning, single fetches, the demo */
} hd_kafka_role_t;

typedef struct hd_kafka_prop_s {
    const char *name, *value;
} hd_kafka_prop_t;

/* A configuration for role with bootstrap.servers = conf->brokers, then props (cnt of them, the caller's defaults;
 * NULL when none), then the role's invariants, then conf's kafka.* pass-through (kafka.producer.* or
 * kafka.consumer.* by role), which may repeat an invariant but not change it. NULL with errstr when a property is
 * refused. The caller owns the result (hd_kafka_new takes it). */
rd_kafka_conf_t *hd_kafka_conf(const hd_conf_t *conf, hd_kafka_role_t role, const hd_kafka_prop_t *props, size_t cnt,
                               char *errstr, size_t errstr_size);

/* rd_kafka_new for role; takes rkconf on every path. NULL with errstr. */
rd_kafka_t *hd_kafka_new(hd_kafka_role_t role, rd_kafka_conf_t *rkconf, char *errstr, size_t errstr_size);

/* The producer's message.max.bytes less librdkafka's per-message overhead: the most key, value and headers one
 * record may carry. */
size_t hd_kafka_record_max(rd_kafka_t *rk);

/* The smallest max.message.bytes of the topics that exist and whose configuration the cluster answers with within
 * timeout_ms; 0 when none could be read. Blocks; for start-up checks. */
size_t hd_kafka_topics_max_message(rd_kafka_t *rk, const char *const *topics, int cnt, int timeout_ms);

#endif
