/* Consuming events: a librdkafka consumer in the dispatchers' group plus the per-partition offset watermark.
 *
 * Every consumed message is tracked (hd_consume_track) until the dispatcher says its work is durable
 * (hd_consume_done: every fan-out outcome acknowledged by Kafka). The offset stored for a partition is one past
 * the highest message for which it and every earlier message of its partition are done, so a crash at any moment
 * re-delivers only what was not finished. Offsets are committed by librdkafka's auto-commit of stored offsets,
 * on revocation and on close. One hd_consume_t belongs to one worker thread. */
#ifndef HOOKD_CONSUME_H
#define HOOKD_CONSUME_H

#include <librdkafka/rdkafka.h>

#include "hookd/config.h"
#include "hookd/decode.h"

typedef struct hd_consume_s hd_consume_t;
typedef struct hd_consume_entry_s hd_consume_entry_t;

/* Creates a group consumer of topics (NULL: conf->topics, the sources) in group conf->group_id followed by
 * group_suffix. The retry tiers get a consumer and group of their own: in one group with the sources, the sticky
 * assignor balances partition counts over all topics, and a second dispatcher could get only retry partitions
 * while the first kept every source partition. With group.instance.id set, the member is static, its id that
 * followed by "-<worker>" (the worker's index in the process). When wake_fd >= 0 the consumer queue writes a byte to
 * it whenever messages arrive (for the worker's poll loop). NULL with errstr on failure. */
hd_consume_t *hd_consume_new(const hd_conf_t *conf, const char *const *topics, int cnt, const char *group_suffix,
                             int worker, int wake_fd, char *errstr, size_t errstr_size);

/* Range mode (hookd replay): no group membership; each range's partition is assigned explicitly from offset `from`
 * and consumed up to, not including, `to` (or the end of the log, whichever comes first). Offsets are never
 * stored or committed, so a replay cannot disturb the dispatchers' group. NULL with errstr on failure. */
typedef struct hd_consume_range_s {
    const char *topic;
    int32_t partition;
    int64_t from, to;
} hd_consume_range_t;
hd_consume_t *hd_consume_new_range(const hd_conf_t *conf, int wake_fd, const hd_consume_range_t *ranges, int cnt,
                                   char *errstr, size_t errstr_size);

/* 1 when a range consumer has handed out every message of its ranges; always 0 for a group consumer. */
int hd_consume_finished(const hd_consume_t *c);

/* Takes up to max messages without blocking. The caller owns them (rd_kafka_message_destroy). */
int hd_consume_batch(hd_consume_t *c, rd_kafka_message_t **msgs, int max);

/* Serves the consumer's rebalance callbacks while no work is taken (a worker draining for shutdown): a rebalance
 * left unanswered then makes the consumer's close wait forever (librdkafka 2.0 in the cooperative protocol's
 * wait-assign-call state). A message that arrives meanwhile is dropped untracked: its offset is never stored, so
 * the partition's next owner delivers it. */
void hd_consume_serve(hd_consume_t *c);

/* Starts tracking msg (a message of an assigned partition). The entry is owned by the tracker; hand it back
 * exactly once with hd_consume_done. */
hd_consume_entry_t *hd_consume_track(hd_consume_t *c, const rd_kafka_message_t *msg);
void hd_consume_done(hd_consume_t *c, hd_consume_entry_t *e);

/* 1 when e's partition has been revoked: its work not yet started is better left to the partition's new owner,
 * which starts from the last committed offset anyway. */
int hd_consume_entry_revoked(const hd_consume_entry_t *e);

/* The first max Kafka headers of msg as decode reads them (borrowed from msg); returns how many. */
size_t hd_consume_headers(const rd_kafka_message_t *msg, hd_decode_header_t *out, size_t max);

/* Stops (pause != 0) or restarts fetching one partition: a retry tier partition waits while its head job is not
 * due, so that the consumer does not pull the whole backlog into memory. */
void hd_consume_pause(hd_consume_t *c, const char *topic, int32_t partition, int pause);

/* Number of tracked messages: not done yet, or done behind an earlier one of their partition that is not. */
size_t hd_consume_pending(const hd_consume_t *c);

/* Commits the stored offsets and leaves the group, giving up after timeout_ms (a broker that is away): 0 when
 * closed, -1 when it gave up (the group then notices the member's absence after its session timeout). Unfinished
 * entries are abandoned: their offsets are never stored, so the next owner of the partition re-delivers them. */
int hd_consume_close(hd_consume_t *c, int timeout_ms);

/* Frees the consumer (closing it first when hd_consume_close was not called). NULL is a no-op. */
void hd_consume_destroy(hd_consume_t *c);

#endif
