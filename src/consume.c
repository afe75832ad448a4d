#include "hookd/consume.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/metrics.h"
#include "hookd/util.h"

struct hd_consume_entry_s {
    int64_t offset;
    int done;
    struct part_s *part;
    hd_consume_entry_t *next;
};

/* One assigned partition: its tracked messages in offset order. A revoked partition is detached from the
 * consumer and lives on until its last in-flight entry is done, but stores nothing. */
typedef struct part_s {
    char *topic;
    int32_t partition;
    int revoked;
    int64_t end;  /* range mode: first offset not to consume */
    int finished; /* range mode: everything below end was taken */
    hd_consume_entry_t *head, *tail;
    struct part_s *next;
} part_t;

struct hd_consume_s {
    rd_kafka_t *rk;
    rd_kafka_queue_t *queue;
    part_t *parts;         /* assigned partitions */
    part_t *detached;      /* revoked partitions with entries still in flight */
    atomic_size_t pending; /* tracked entries: not done, or done behind one that is not (read by scrapes) */
    int closed;
    int range; /* explicit assignment: stops at the ends, never stores or commits offsets */
    int closing;
    int collector;
};

static part_t *part_find(hd_consume_t *c, const char *topic, int32_t partition, part_t ***link) {
    for (part_t **pp = &c->parts; *pp; pp = &(*pp)->next)
        if ((*pp)->partition == partition && !strcmp((*pp)->topic, topic)) {
            if (link) *link = pp;
            return *pp;
        }
    return NULL;
}

static void part_free(part_t *p) {
    for (hd_consume_entry_t *e = p->head, *n; e; e = n) {
        n = e->next;
        free(e);
    }
    free(p->topic);
    free(p);
}

static void on_assign(hd_consume_t *c, rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        if (part_find(c, parts->elems[i].topic, parts->elems[i].partition, NULL)) continue;
        part_t *p = hd_xcalloc(1, sizeof(*p));
        p->topic = hd_xstrdup(parts->elems[i].topic);
        p->partition = parts->elems[i].partition;
        p->next = c->parts;
        c->parts = p;
        hd_metrics_partitions_assigned_add(1);
        HD_LOG(HD_LOG_INFO, "consume", NULL, "assigned %s [%d]", p->topic, p->partition);
    }
}

static void on_revoke(hd_consume_t *c, rd_kafka_topic_partition_list_t *parts) {
    for (int i = 0; i < parts->cnt; i++) {
        part_t **link, *p = part_find(c, parts->elems[i].topic, parts->elems[i].partition, &link);
        if (!p) continue;
        *link = p->next;
        p->next = NULL;
        hd_metrics_partitions_assigned_add(-1);
        HD_LOG(HD_LOG_INFO, "consume", NULL, "revoked %s [%d]", p->topic, p->partition);
        if (p->head) { /* freed by hd_consume_done when its last entry finishes */
            p->revoked = 1;
            p->next = c->detached;
            c->detached = p;
        } else {
            part_free(p);
        }
    }
    /* Commit what is already safe before another member takes over; while closing, without waiting: the close is
     * bounded, and a broker that is away would hold a synchronous commit for a minute. */
    rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, c->closing);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        HD_LOG(HD_LOG_WARN, "consume", NULL, "commit on revoke failed: %s", rd_kafka_err2str(err));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts,
                         void *opaque) {
    hd_consume_t *c = opaque;
    int cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    rd_kafka_error_t *error = NULL;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        on_assign(c, parts);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            rd_kafka_assign(rk, parts);
    } else {
        on_revoke(c, parts);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            rd_kafka_assign(rk, NULL);
    }
    if (error) {
        HD_LOG(HD_LOG_ERROR, "consume", NULL, "rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    HD_LOG_LIMITED(err == RD_KAFKA_RESP_ERR__FATAL ? HD_LOG_ERROR : HD_LOG_WARN, "consume", NULL, "kafka: %s", reason);
}

/* Messages held, and consumer lag per assigned partition (high watermark minus fetch position), read at scrape time
 * from librdkafka's cached watermarks: no broker round trip, nothing on the worker's thread. */
static void collect(hd_metrics_scrape_t *s, void *opaque) {
    hd_consume_t *c = opaque;
    hd_metrics_emit(s, "hd_consumer_messages_pending",
                    "Messages a consumer has taken and not finished, or finished behind an earlier one of their "
                    "partition (at most consume.max.pending plus one batch).",
                    "gauge", (const char *const[]){"consumer", rd_kafka_name(c->rk), NULL}, (double)c->pending);
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(c->rk, &parts) || !parts) return;
    rd_kafka_position(c->rk, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t lo, hi;
        if (tp->offset < 0 || rd_kafka_get_watermark_offsets(c->rk, tp->topic, tp->partition, &lo, &hi) || hi < 0)
            continue;
        char part[16];
        snprintf(part, sizeof(part), "%d", (int)tp->partition);
        hd_metrics_emit(s, "hd_consumer_lag", "Messages between the fetch position and the end of a partition.",
                        "gauge", (const char *const[]){"topic", tp->topic, "partition", part, NULL},
                        (double)(hi > tp->offset ? hi - tp->offset : 0));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Both modes: a group member subscribed to the topics, or (ranges != NULL) an explicit assignment. */
static hd_consume_t *consumer_new(const hd_conf_t *conf, const char *const *topic_list, int topic_cnt,
                                  const char *group_suffix, int worker, const hd_consume_range_t *ranges, int range_cnt,
                                  int wake_fd, char *errstr, size_t errstr_size) {
    hd_consume_t *c = hd_xcalloc(1, sizeof(*c));
    char instance_id[300];
    const char *instance = NULL;
    if (*conf->group_instance_id) {
        snprintf(instance_id, sizeof(instance_id), "%s-%d", conf->group_instance_id, worker);
        instance = instance_id;
    }
    rd_kafka_topic_partition_list_t *topics = NULL;
    /* librdkafka's assign() needs a group.id, but a range consumer never joins or commits: a replay cannot move
     * the dispatchers' offsets. */
    char group[512];
    snprintf(group, sizeof(group), "%s%s", conf->group_id, group_suffix);
    c->range = ranges != NULL;
    hd_kafka_prop_t props[] = {
        {"group.id", group},
        {"enable.auto.commit", ranges ? "false" : "true"},
        {"auto.commit.interval.ms", "1000"},
        {"auto.offset.reset", "earliest"}, /* a new group must not skip events produced before it started */
        /* The broker may hold a fetch this long when it has nothing: 500 ms (the default) showed in the p99. */
        {"fetch.wait.max.ms", "100"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.partition.eof", ranges ? "true" : "false"}, /* range mode: ends behind control records */
        /* Retry tier topics may be created after the subscription: notice them within seconds, not minutes. */
        {"topic.metadata.refresh.interval.ms", "5000"},
        /* Pre-fetch 2 MB, not 64: a backlog otherwise sits in memory ahead of the in-flight cap. 2 MB is 70 ms of
         * work at 28,000 deliveries/s of 1 KB events, well over a fetch round trip plus the backoff; 4 MB gave the
         * same throughput for 3 MB more at the memory peak (docs/benchmarks.md). With the backoff a partition over
         * the bound is fetched again within 10 ms; librdkafka before 2.3 waited up to a second, which is why hookd
         * builds its own (scripts/librdkafka). */
        {"queued.max.messages.kbytes", "2048"},
        {"fetch.queue.backoff.ms", "10"},
        /* Static membership: a restarted member with the same id gets its partitions back at once, without a
         * rebalance or the session timeout. */
        {"group.instance.id", instance},
    };
    size_t props_cnt = sizeof(props) / sizeof(props[0]) - (instance && !ranges ? 0 : 1);
    rd_kafka_conf_t *rkconf =
        hd_kafka_conf(conf, ranges ? HD_KAFKA_READER : HD_KAFKA_CONSUMER, props, props_cnt, errstr, errstr_size);
    if (!rkconf) goto fail;
    rd_kafka_conf_set_opaque(rkconf, c);
    if (!ranges) rd_kafka_conf_set_rebalance_cb(rkconf, rebalance_cb);
    rd_kafka_conf_set_error_cb(rkconf, error_cb);
    if (!(c->rk = hd_kafka_new(HD_KAFKA_CONSUMER, rkconf, errstr, errstr_size))) goto fail;
    rd_kafka_poll_set_consumer(c->rk);
    c->queue = rd_kafka_queue_get_consumer(c->rk);
    if (wake_fd >= 0) rd_kafka_queue_io_event_enable(c->queue, wake_fd, "c", 1);
    c->collector = hd_metrics_add_collector(hd_metrics_default(), collect, c);
    if (ranges) {
        topics = rd_kafka_topic_partition_list_new(range_cnt > 0 ? range_cnt : 1);
        for (int i = 0; i < range_cnt; i++) {
            part_t *p = hd_xcalloc(1, sizeof(*p));
            p->topic = hd_xstrdup(ranges[i].topic);
            p->partition = ranges[i].partition;
            p->end = ranges[i].to;
            p->finished = ranges[i].from >= ranges[i].to;
            p->next = c->parts;
            c->parts = p;
            if (!p->finished)
                rd_kafka_topic_partition_list_add(topics, p->topic, p->partition)->offset = ranges[i].from;
        }
        rd_kafka_resp_err_t err = rd_kafka_assign(c->rk, topics);
        if (err) {
            snprintf(errstr, errstr_size, "assign: %s", rd_kafka_err2str(err));
            goto fail;
        }
        rd_kafka_topic_partition_list_destroy(topics);
        return c;
    }

    topics = rd_kafka_topic_partition_list_new(4);
    if (topic_list) {
        for (int i = 0; i < topic_cnt; i++)
            rd_kafka_topic_partition_list_add(topics, topic_list[i], RD_KAFKA_PARTITION_UA);
    } else {
        char *list = hd_xstrdup(conf->topics), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (*hd_trim(t)) rd_kafka_topic_partition_list_add(topics, hd_trim(t), RD_KAFKA_PARTITION_UA);
        free(list);
    }
    if (topics->cnt == 0) {
        snprintf(errstr, errstr_size, "topics: no %s topic configured", topic_list ? "retry" : "source");
        goto fail;
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(c->rk, topics);
    if (err) {
        snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(err));
        goto fail;
    }
    rd_kafka_topic_partition_list_destroy(topics);
    return c;

fail:
    if (topics) rd_kafka_topic_partition_list_destroy(topics);
    c->closed = 1;
    hd_consume_destroy(c);
    return NULL;
}

hd_consume_t *hd_consume_new(const hd_conf_t *conf, const char *const *topics, int cnt, const char *group_suffix,
                             int worker, int wake_fd, char *errstr, size_t errstr_size) {
    return consumer_new(conf, topics, cnt, group_suffix, worker, NULL, 0, wake_fd, errstr, errstr_size);
}

hd_consume_t *hd_consume_new_range(const hd_conf_t *conf, int wake_fd, const hd_consume_range_t *ranges, int cnt,
                                   char *errstr, size_t errstr_size) {
    return consumer_new(conf, NULL, 0, ".replay", 0, ranges, cnt, wake_fd, errstr, errstr_size);
}

/* Range mode: a partition is finished at its end offset or at the end of the log; it is then paused so that
 * nothing beyond the range is fetched. */
static void range_filter_finish(hd_consume_t *c, part_t *p) {
    if (p->finished) return;
    p->finished = 1;
    hd_consume_pause(c, p->topic, p->partition, 1);
}

static int range_filter(hd_consume_t *c, rd_kafka_message_t **msgs, int n) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        part_t *p = m->rkt ? part_find(c, rd_kafka_topic_name(m->rkt), m->partition, NULL) : NULL;
        int keep = !p || (!p->finished && m->offset < p->end);
        if (p && (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || (!m->err && m->offset >= p->end - 1))) {
            range_filter_finish(c, p);
            if (m->err) keep = 0;
        }
        if (keep)
            msgs[kept++] = m;
        else
            rd_kafka_message_destroy(m);
    }
    return kept;
}

int hd_consume_finished(const hd_consume_t *c) {
    if (!c->range) return 0;
    for (const part_t *p = c->parts; p; p = p->next)
        if (!p->finished) return 0;
    return 1;
}

int hd_consume_batch(hd_consume_t *c, rd_kafka_message_t **msgs, int max) {
    ssize_t n = rd_kafka_consume_batch_queue(c->queue, 0, msgs, (size_t)max);
    if (n <= 0) return 0;
    return c->range ? range_filter(c, msgs, (int)n) : (int)n;
}

void hd_consume_serve(hd_consume_t *c) {
    rd_kafka_message_t *msgs[64];
    ssize_t n = rd_kafka_consume_batch_queue(c->queue, 0, msgs, sizeof(msgs) / sizeof(msgs[0]));
    for (ssize_t i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
}

hd_consume_entry_t *hd_consume_track(hd_consume_t *c, const rd_kafka_message_t *msg) {
    const char *topic = rd_kafka_topic_name(msg->rkt);
    part_t *p = part_find(c, topic, msg->partition, NULL);
    if (!p) { /* a message fetched just before its partition was revoked: track it detached */
        p = hd_xcalloc(1, sizeof(*p));
        p->topic = hd_xstrdup(topic);
        p->partition = msg->partition;
        p->revoked = 1;
        p->next = c->detached;
        c->detached = p;
    }
    hd_consume_entry_t *e = hd_xcalloc(1, sizeof(*e));
    e->offset = msg->offset;
    e->part = p;
    if (p->tail)
        p->tail->next = e;
    else
        p->head = e;
    p->tail = e;
    c->pending++;
    return e;
}

int hd_consume_entry_revoked(const hd_consume_entry_t *e) {
    return e->part->revoked;
}

void hd_consume_done(hd_consume_t *c, hd_consume_entry_t *e) {
    part_t *p = e->part;
    int64_t store = -1;
    e->done = 1;
    while (p->head && p->head->done) {
        hd_consume_entry_t *h = p->head;
        store = h->offset + 1;
        p->head = h->next;
        free(h);
        c->pending--;
    }
    if (!p->head) p->tail = NULL;
    if (p->revoked) {
        if (p->head) return;
        for (part_t **pp = &c->detached; *pp; pp = &(*pp)->next)
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        part_free(p);
        return;
    }
    if (store < 0 || c->range) return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = store;
    rd_kafka_resp_err_t err = rd_kafka_offsets_store(c->rk, l);
    if (err)
        HD_LOG(HD_LOG_WARN, "consume", NULL, "storing offset %s [%d] %lld: %s", p->topic, p->partition,
               (long long)store, rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

void hd_consume_pause(hd_consume_t *c, const char *topic, int32_t partition, int pause) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
    if (err)
        HD_LOG(HD_LOG_WARN, "consume", NULL, "%s %s [%d]: %s", pause ? "pausing" : "resuming", topic, partition,
               rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(l);
}

size_t hd_consume_pending(const hd_consume_t *c) {
    return c->pending;
}

int hd_consume_close(hd_consume_t *c, int timeout_ms) {
    if (c->closed) return 0;
    c->closed = c->closing = 1;
    hd_metrics_remove_collector(hd_metrics_default(), c->collector);
    c->collector = 0;
    if (!c->range) {
        rd_kafka_resp_err_t err = rd_kafka_commit(c->rk, NULL, 1);
        if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
            HD_LOG(HD_LOG_WARN, "consume", NULL, "final commit failed: %s", rd_kafka_err2str(err));
    }
    /* rd_kafka_consumer_close waits for the group coordinator up to the session timeout (45 s); this close serves
     * the rebalance itself and gives up at the deadline. */
    int64_t deadline = hd_mono_us() + (int64_t)timeout_ms * 1000;
    rd_kafka_queue_t *q = rd_kafka_queue_new(c->rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(c->rk, q);
    if (error) {
        HD_LOG(HD_LOG_WARN, "consume", NULL, "close: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
    while (!error && !rd_kafka_consumer_closed(c->rk) && hd_mono_us() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 50);
        if (ev && rd_kafka_event_type(ev) == RD_KAFKA_EVENT_REBALANCE)
            rebalance_cb(c->rk, rd_kafka_event_error(ev), rd_kafka_event_topic_partition_list(ev), c);
        if (ev) rd_kafka_event_destroy(ev);
    }
    c->closed = rd_kafka_consumer_closed(c->rk) ? 1 : -1;
    rd_kafka_queue_destroy(q);
    if (c->closed < 0) HD_LOG(HD_LOG_WARN, "consume", NULL, "leaving the group timed out after %d ms", timeout_ms);
    return c->closed < 0 ? -1 : 0;
}

void hd_consume_destroy(hd_consume_t *c) {
    if (!c) return;
    if (c->collector) hd_metrics_remove_collector(hd_metrics_default(), c->collector);
    if (c->rk && !c->closed) hd_consume_close(c, 0);
    if (!c->range)
        for (part_t *p = c->parts; p; p = p->next)
            hd_metrics_partitions_assigned_add(-1);
    for (part_t *lists[] = {c->parts, c->detached}, **l = lists; l < lists + 2; l++)
        for (part_t *p = *l, *n; p; p = n) {
            n = p->next;
            part_free(p);
        }
    if (c->queue) rd_kafka_queue_destroy(c->queue);
    if (c->rk) rd_kafka_destroy_flags(c->rk, c->closed < 0 ? RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE : 0);
    free(c);
}

size_t hd_consume_headers(const rd_kafka_message_t *msg, hd_decode_header_t *out, size_t max) {
    rd_kafka_headers_t *kh;
    size_t n = 0;
    if (rd_kafka_message_headers(msg, &kh) == RD_KAFKA_RESP_ERR_NO_ERROR)
        while (n < max && !rd_kafka_header_get_all(kh, n, &out[n].name, &out[n].value, &out[n].len))
            n++;
    return n;
}
