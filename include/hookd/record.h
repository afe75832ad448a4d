/* Recording outcomes durably, every record shape hookd writes: one results-topic record per delivery attempt
 * (schemas/delivery-result.schema.json), dead-letter records for rejected input and for deliveries that will not
 * be attempted again, retry jobs in their tiers, and ops events (subscription.disabled), produced with an
 * idempotent producer (acks=all). The ack callback fires once per record, only after Kafka has it; a record
 * whose delivery fails is produced again (the partition's offset waits), never dropped. */
#ifndef HOOKD_RECORD_H
#define HOOKD_RECORD_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "hookd/config.h"
#include "hookd/retry.h"

typedef struct hd_record_s hd_record_t;

/* Called from hd_record_poll/flush on the owner's thread once a record is durable. */
typedef void(hd_record_ack_cb)(void *opaque, void *record_opaque);

/* When wake_fd >= 0, a byte is written to it when delivery reports are ready. NULL with errstr on failure. */
hd_record_t *hd_record_new(const hd_conf_t *conf, int wake_fd, hd_record_ack_cb *ack, void *opaque, char *errstr,
                           size_t errstr_size);

/* Start-up: checks that the largest records (a retry job carrying an event of event_max_bytes, and dead letters)
 * fit the producer's message.max.bytes and the max.message.bytes of the retry tier and dead-letter topics that
 * already exist (read from the cluster, waiting up to two seconds): -1 with errstr when not. Then asks the cluster
 * to create the topics hookd writes that do not exist yet (tiers, dead letters, results, ops), without blocking:
 * the answer is logged from hd_record_poll, and brokers that refuse (no permission, or auto-creation is the policy)
 * only cost a warning. */
int hd_record_prepare(hd_record_t *r, const hd_retry_t *retry, size_t event_max_bytes, char *errstr,
                      size_t errstr_size);

/* Flushes for up to timeout_ms and frees the producer; unacked records are reported in the log. NULL no-op. */
void hd_record_destroy(hd_record_t *r, int timeout_ms);

#define HD_RECORD_RESPONSE_MAX 1024

typedef struct hd_record_result_s {
    const char *delivery_id, *event_id, *event_type, *subscription_id, *tenant, *url;
    int attempt;
    long status_code; /* 0: no response */
    int success;
    const char *outcome;
    const char *error;    /* NULL when none */
    const char *response; /* the receiver's body (any bytes), NULL when none; the record keeps its first
                           * HD_RECORD_RESPONSE_MAX bytes as valid UTF-8 */
    size_t response_len;
    int64_t duration_us;
    int64_t attempted_at_ms, event_time_ms;
    int64_t next_retry_at_ms; /* 0: no further attempt scheduled */
    int final;                /* no further attempt will follow (success, or failed for good) */
    const char *src_topic;
    int32_t src_partition;
    int64_t src_offset;
    int replay; /* produced by hookd replay */
} hd_record_result_t;

/* Every produce call below returns 0 when the ack will follow (a record librdkafka refuses is kept and produced
 * again, so its ack may come much later), or -1 when the producer has failed for good (hd_record_fatal): no ack
 * will ever follow, and the caller must stop rather than count the record as written. */

/* Produces a results record keyed by delivery id. */
int hd_record_result(hd_record_t *r, const hd_record_result_t *res, void *record_opaque);

/* Writes the results record's JSON text (schemas/delivery-result.schema.json, NUL-terminated) into *buf, which
 * has *cap bytes and is grown with realloc as needed (*buf NULL and *cap 0 to start; the caller owns it and frees
 * it). Returns the text's length. */
size_t hd_record_result_json(const hd_record_result_t *res, char **buf, size_t *cap);

/* Produces msg (value, key and headers unchanged) to the dead-letter topic with hookd-reason, hookd-error and
 * hookd-source-{topic,partition,offset} headers. A message too large to produce keeps the first bytes that fit, with
 * a hookd-truncated-from header giving its length. */
int hd_record_deadletter(hd_record_t *r, const rd_kafka_message_t *msg, const char *reason, const char *error,
                         void *record_opaque);

/* Produces a retry job (hd_retry_job_encode) keyed by its delivery id: to topic, a retry tier; or, when topic is
 * NULL, to the dead-letter topic with hookd-reason and hookd-error headers (reason, and error or else the reason
 * again): a delivery that will not be attempted again, which producing it to a tier topic replays. A job too large
 * for a record (an event whose envelope outgrew event.max.bytes) goes to the dead-letter topic instead, its event
 * cut down to id, type and tenant (the source coordinates find the rest), with reason "too-large"; then returns 1.
 * Does not take job. */
int hd_record_job(hd_record_t *r, const char *topic, const hd_retry_job_t *job, const char *reason, const char *error,
                  void *record_opaque);

/* Produces the ops event of a subscription disabled at at_ms to ops.topic, keyed by the subscription id:
 * {"type":"subscription.disabled","subscription_id","tenant","url","reason","at"} (at in RFC 3339). */
int hd_record_disabled(hd_record_t *r, const char *subscription_id, const char *tenant, const char *url,
                       const char *reason, int64_t at_ms, void *record_opaque);

/* Produces value to any topic. Takes hdrs (may be NULL) on every path. value must fit hd_record_max_bytes. */
int hd_record_produce(hd_record_t *r, const char *topic, const char *key, const void *value, size_t len,
                      rd_kafka_headers_t *hdrs, void *record_opaque);

/* Serves delivery reports (calls ack) without blocking. */
void hd_record_poll(hd_record_t *r);

/* Memory that records produced but not yet acknowledged hold in librdkafka: their keys, values and message
 * structs. Records are produced and reported on the owner's thread only. */
size_t hd_record_outstanding_bytes(const hd_record_t *r);

/* 1 while the records outstanding hold less than max_kbytes; until Kafka acknowledged a first record (then the
 * producer has its id and the path to the broker works), less than a small budget. */
int hd_record_has_room(const hd_record_t *r, int64_t max_kbytes);

/* Waits up to timeout_ms for every record to be acknowledged; returns the number still outstanding. */
int hd_record_flush(hd_record_t *r, int timeout_ms);

/* 1 once the producer has failed for good (a fatal idempotent-producer error): records are no longer written. */
int hd_record_fatal(const hd_record_t *r);

/* The most key, value and headers one record may carry (the producer's message.max.bytes less framing). */
size_t hd_record_max_bytes(const hd_record_t *r);

#endif
