/* The consumer against librdkafka's mock cluster: an offset is stored (and so committed) only once its message and
 * every earlier one of its partition are done; a revoked partition stores nothing and its messages go to the new
 * owner; pause and resume; the pending count; range consumption for replay stops at the end of each range; the
 * close gives up at its deadline. Each test has a topic and group of its own, so offsets are absolute. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "hookd/config.h"
#include "hookd/consume.h"
#include "hookd/log.h"
#include "hookd/util.h"
#include "unit.h"

/* The producer that owns the mock cluster; the consumers under test are clients of it. */
static rd_kafka_t *owner;
static rd_kafka_mock_cluster_t *mock;

/* Long enough for a group join and a rebalance on the mock cluster, under valgrind too. */
#define WAIT_MS 30000

static void produce(const char *topic, int32_t partition, int cnt) {
    for (int i = 0; i < cnt; i++)
        CHECK(!rd_kafka_producev(owner, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                 RD_KAFKA_V_VALUE("{}", 2), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END));
    CHECK(rd_kafka_flush(owner, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

static hd_conf_t *conf_for(const char *topic, const char *group) {
    char err[256];
    hd_conf_t *conf = hd_conf_new();
    CHECK(!hd_conf_set(conf, "brokers", rd_kafka_mock_cluster_bootstraps(mock), err, sizeof(err)));
    CHECK(!hd_conf_set(conf, "topics", topic, err, sizeof(err)));
    CHECK(!hd_conf_set(conf, "group.id", group, err, sizeof(err)));
    /* A member notices a rebalance at its next heartbeat (3 s by default), and the mock cluster waits for members
     * to rejoin for the session timeout less a second (45 s by default). */
    CHECK(!hd_conf_set(conf, "kafka.consumer.heartbeat.interval.ms", "100", err, sizeof(err)));
    CHECK(!hd_conf_set(conf, "kafka.consumer.session.timeout.ms", "6000", err, sizeof(err)));
    return conf;
}

/* Takes messages from c (serving the others meanwhile) until it has want of them or WAIT_MS pass. */
static int take(hd_consume_t *c, hd_consume_t *other, rd_kafka_message_t **msgs, int want) {
    int n = 0;
    for (int64_t deadline = hd_mono_us() + WAIT_MS * 1000LL; n < want && hd_mono_us() < deadline;) {
        n += hd_consume_batch(c, msgs + n, want - n);
        if (other) hd_consume_serve(other);
        usleep(10000);
    }
    return n;
}

/* The offset group has committed for partition, read from the cluster as a new member would;
 * RD_KAFKA_OFFSET_INVALID when none. */
static int64_t committed(const char *group, const char *topic, int32_t partition) {
    char err[256];
    rd_kafka_conf_t *rkconf = rd_kafka_conf_new();
    CHECK(rd_kafka_conf_set(rkconf, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mock), err, sizeof(err)) ==
          RD_KAFKA_CONF_OK);
    CHECK(rd_kafka_conf_set(rkconf, "group.id", group, err, sizeof(err)) == RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkconf, err, sizeof(err));
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, 10000);
    if (!e) e = l->elems[0].err;
    CHECK(!e);
    int64_t offset = e ? -2 : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
    return offset;
}

/* Waits until the auto-commit (every second) has committed want, or returns what is committed after 5 s. */
static int64_t committed_after_autocommit(const char *group, const char *topic, int32_t partition, int64_t want) {
    int64_t got, deadline = hd_mono_us() + 5000000;
    while ((got = committed(group, topic, partition)) != want && hd_mono_us() < deadline)
        usleep(250000);
    return got;
}

/* Done out of order: the stored offset follows the first message not done, per partition. */
static void test_offsets_in_order(void) {
    const char *topic = "consume.order", *group = "order";
    char err[256];
    rd_kafka_mock_topic_create(mock, topic, 2, 1);
    produce(topic, 0, 5);
    produce(topic, 1, 2);
    hd_conf_t *conf = conf_for(topic, group);
    hd_consume_t *c = hd_consume_new(conf, NULL, 0, "", 0, -1, err, sizeof(err));
    CHECK(c != NULL);
    if (!c) goto out;
    CHECK(!hd_consume_finished(c));
    rd_kafka_message_t *msgs[7];
    hd_consume_entry_t *e[2][5] = {{NULL}};
    int n = take(c, NULL, msgs, 7);
    CHECK(n == 7);
    for (int i = 0; i < n; i++) {
        int32_t p = msgs[i]->partition;
        int64_t o = msgs[i]->offset;
        CHECK(p >= 0 && p < 2 && o >= 0 && o < 5);
        if (p >= 0 && p < 2 && o >= 0 && o < 5) e[p][o] = hd_consume_track(c, msgs[i]);
        rd_kafka_message_destroy(msgs[i]);
    }
    int tracked = 0;
    for (int i = 0; i < 10; i++)
        tracked += e[i / 5][i % 5] != NULL;
    CHECK(tracked == 7 && e[1][0] && e[1][1]);
    if (tracked != 7 || !e[1][0] || !e[1][1]) goto close;
    CHECK(hd_consume_pending(c) == 7);

    hd_consume_done(c, e[0][1]);
    hd_consume_done(c, e[0][2]);
    hd_consume_done(c, e[0][4]);
    hd_consume_done(c, e[1][1]);
    CHECK(hd_consume_pending(c) == 7); /* done, but behind message 0 of their partition */
    usleep(2500000);                   /* two auto-commits */
    CHECK(committed(group, topic, 0) == RD_KAFKA_OFFSET_INVALID);
    CHECK(committed(group, topic, 1) == RD_KAFKA_OFFSET_INVALID);

    hd_consume_done(c, e[0][0]); /* 0..2 done; 3 is not, so 4 waits */
    CHECK(hd_consume_pending(c) == 4);
    hd_consume_done(c, e[1][0]);
    CHECK(hd_consume_pending(c) == 2);
    CHECK(committed_after_autocommit(group, topic, 0, 3) == 3);
    CHECK(committed_after_autocommit(group, topic, 1, 2) == 2);

    hd_consume_done(c, e[0][3]);
    CHECK(hd_consume_pending(c) == 0);
close:
    CHECK(hd_consume_close(c, 10000) == 0); /* commits what is stored */
    if (!hd_consume_pending(c)) CHECK(committed(group, topic, 0) == 5);
    hd_consume_destroy(c);
out:
    hd_conf_destroy(conf);
}

/* A second member takes one of two partitions: the first member's entry of that partition is revoked, its done
 * stores nothing, and the new owner gets the message again. */
static void test_revoked_partition(void) {
    const char *topic = "consume.revoke", *group = "revoke";
    char err[256];
    rd_kafka_mock_topic_create(mock, topic, 2, 1);
    produce(topic, 0, 1);
    produce(topic, 1, 1);
    hd_conf_t *conf = conf_for(topic, group);
    hd_consume_t *a = hd_consume_new(conf, NULL, 0, "", 0, -1, err, sizeof(err)), *b = NULL;
    CHECK(a != NULL);
    if (!a) goto out;
    rd_kafka_message_t *msgs[2];
    hd_consume_entry_t *e[2] = {NULL, NULL};
    int n = take(a, NULL, msgs, 2);
    CHECK(n == 2);
    for (int i = 0; i < n; i++) {
        e[msgs[i]->partition] = hd_consume_track(a, msgs[i]);
        rd_kafka_message_destroy(msgs[i]);
    }
    if (n != 2 || !e[0] || !e[1]) goto close;
    CHECK(!hd_consume_entry_revoked(e[0]) && !hd_consume_entry_revoked(e[1]));

    b = hd_consume_new(conf, NULL, 0, "", 1, -1, err, sizeof(err));
    CHECK(b != NULL);
    if (!b) goto close;
    rd_kafka_message_t *again = NULL;
    CHECK(take(b, a, &again, 1) == 1);
    if (!again) goto close;
    int32_t moved = again->partition, kept = 1 - moved;
    CHECK(again->offset == 0);
    rd_kafka_message_destroy(again);
    CHECK(hd_consume_entry_revoked(e[moved]) && !hd_consume_entry_revoked(e[kept]));
    CHECK(hd_consume_pending(a) == 2);
    hd_consume_done(a, e[moved]);
    hd_consume_done(a, e[kept]);
    CHECK(hd_consume_pending(a) == 0);
    CHECK(committed_after_autocommit(group, topic, kept, 1) == 1);
    CHECK(committed(group, topic, moved) == RD_KAFKA_OFFSET_INVALID);
close:
    if (b) CHECK(hd_consume_close(b, 10000) == 0);
    CHECK(hd_consume_close(a, 10000) == 0);
    hd_consume_destroy(b);
    hd_consume_destroy(a);
out:
    hd_conf_destroy(conf);
}

/* A message of a partition not (or no longer) assigned is tracked as revoked and freed when done. */
static void test_unassigned_message(void) {
    char err[256];
    hd_conf_t *conf = conf_for("consume.unassigned", "unassigned");
    hd_consume_t *c = hd_consume_new(conf, NULL, 0, "", 0, -1, err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(owner, "consume.unassigned", NULL);
        rd_kafka_message_t m = {.rkt = rkt, .partition = 3, .offset = 7};
        hd_consume_entry_t *e = hd_consume_track(c, &m);
        CHECK(hd_consume_entry_revoked(e));
        CHECK(hd_consume_pending(c) == 1);
        hd_consume_done(c, e);
        CHECK(hd_consume_pending(c) == 0);
        rd_kafka_topic_destroy(rkt);
    }
    hd_consume_destroy(c);
    hd_conf_destroy(conf);
}

/* A paused partition is not fetched; resumed, it is. */
static void test_pause_resume(void) {
    const char *topic = "consume.pause";
    char err[256];
    rd_kafka_mock_topic_create(mock, topic, 2, 1);
    produce(topic, 0, 1);
    produce(topic, 1, 1);
    hd_conf_t *conf = conf_for(topic, "pause");
    hd_consume_t *c = hd_consume_new(conf, NULL, 0, "", 0, -1, err, sizeof(err));
    CHECK(c != NULL);
    if (!c) goto out;
    rd_kafka_message_t *msgs[2];
    int n = take(c, NULL, msgs, 2);
    CHECK(n == 2);
    for (int i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
    if (n != 2) goto close;

    hd_consume_pause(c, topic, 0, 1);
    produce(topic, 0, 1);
    produce(topic, 1, 1);
    n = take(c, NULL, msgs, 1);
    CHECK(n == 1 && msgs[0]->partition == 1);
    if (n) rd_kafka_message_destroy(msgs[0]);
    usleep(1000000); /* ten fetch waits */
    CHECK(hd_consume_batch(c, msgs, 2) == 0);

    hd_consume_pause(c, topic, 0, 0);
    n = take(c, NULL, msgs, 1);
    CHECK(n == 1 && msgs[0]->partition == 0 && msgs[0]->offset == 1);
    if (n) rd_kafka_message_destroy(msgs[0]);
close:
    CHECK(hd_consume_close(c, 10000) == 0);
    hd_consume_destroy(c);
out:
    hd_conf_destroy(conf);
}

/* Replay's ranges: [from, to) of each partition, to past the end stopping at the end of the log, an empty range
 * finished at once; the wake fd is written when messages arrive. */
static void test_ranges(void) {
    const char *topic = "consume.range";
    char err[256];
    int wake[2];
    CHECK(pipe(wake) == 0);
    rd_kafka_mock_topic_create(mock, topic, 3, 1);
    produce(topic, 0, 6);
    produce(topic, 1, 2);
    produce(topic, 2, 1);
    hd_conf_t *conf = conf_for(topic, "range");
    const hd_consume_range_t ranges[] = {{topic, 0, 2, 5}, {topic, 1, 0, 100}, {topic, 2, 0, 0}};
    hd_consume_t *c = hd_consume_new_range(conf, wake[1], ranges, 3, err, sizeof(err));
    CHECK(c != NULL);
    if (!c) goto out;
    CHECK(!hd_consume_finished(c));
    int64_t seen[3][8], deadline = hd_mono_us() + WAIT_MS * 1000LL;
    int cnt[3] = {0, 0, 0};
    while (!hd_consume_finished(c) && hd_mono_us() < deadline) {
        rd_kafka_message_t *msgs[16];
        int n = hd_consume_batch(c, msgs, 16);
        for (int i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            CHECK(!m->err && m->partition >= 0 && m->partition < 3);
            if (!m->err && m->partition >= 0 && m->partition < 3 && cnt[m->partition] < 8)
                seen[m->partition][cnt[m->partition]++] = m->offset;
            hd_consume_done(c, hd_consume_track(c, m));
            rd_kafka_message_destroy(m);
        }
        usleep(10000);
    }
    CHECK(hd_consume_finished(c));
    CHECK(cnt[0] == 3 && seen[0][0] == 2 && seen[0][1] == 3 && seen[0][2] == 4);
    CHECK(cnt[1] == 2 && seen[1][0] == 0 && seen[1][1] == 1);
    CHECK(cnt[2] == 0);
    CHECK(hd_consume_pending(c) == 0);
    struct pollfd pfd = {.fd = wake[0], .events = POLLIN};
    CHECK(poll(&pfd, 1, 0) == 1);
    CHECK(hd_consume_close(c, 10000) == 0);
    hd_consume_destroy(c);
    /* Nothing to wait for: finished before any fetch. */
    c = hd_consume_new_range(conf, -1, ranges + 2, 1, err, sizeof(err));
    CHECK(c && hd_consume_finished(c));
    hd_consume_destroy(c);
out:
    hd_conf_destroy(conf);
    close(wake[0]);
    close(wake[1]);
}

/* A coordinator that takes 5 s to answer the LeaveGroup: the close gives up at its deadline. */
static void test_close_gives_up(void) {
    const char *topic = "consume.close";
    char err[256];
    rd_kafka_mock_topic_create(mock, topic, 1, 1);
    produce(topic, 0, 1);
    hd_conf_t *conf = conf_for(topic, "close");
    hd_consume_t *c = hd_consume_new(conf, NULL, 0, "", 0, -1, err, sizeof(err));
    CHECK(c != NULL);
    if (c) {
        rd_kafka_message_t *m;
        CHECK(take(c, NULL, &m, 1) == 1);
        if (m) rd_kafka_message_destroy(m);
        rd_kafka_mock_broker_push_request_error_rtts(mock, 1, 13 /* LeaveGroup */, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 5000);
        int64_t start = hd_mono_us();
        CHECK(hd_consume_close(c, 500) == -1);
        CHECK(hd_mono_us() - start < 4000000);
        hd_consume_destroy(c);
    }
    hd_conf_destroy(conf);
}

static void test_no_topic(void) {
    char err[256] = "";
    hd_conf_t *conf = conf_for(" , ", "none");
    CHECK(hd_consume_new(conf, NULL, 0, "", 0, -1, err, sizeof(err)) == NULL);
    CHECK_STR(err, "topics: no source topic configured");
    const char *none[] = {NULL};
    CHECK(hd_consume_new(conf, none, 0, ".retry", 0, -1, err, sizeof(err)) == NULL);
    CHECK_STR(err, "topics: no retry topic configured");
    hd_conf_destroy(conf);
}

int main(void) {
    char err[256];
    hd_log_min_level = HD_LOG_OFF;
    rd_kafka_conf_t *rkconf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(rkconf, "test.mock.num.brokers", "1", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(rkconf, "log_level", "4", err, sizeof(err)) != RD_KAFKA_CONF_OK ||
        !(owner = rd_kafka_new(RD_KAFKA_PRODUCER, rkconf, err, sizeof(err)))) {
        fprintf(stderr, "mock cluster: %s\n", err);
        return 1;
    }
    mock = rd_kafka_handle_mock_cluster(owner);
    rd_kafka_mock_group_initial_rebalance_delay_ms(mock, 0);
    RUN(test_no_topic);
    RUN(test_unassigned_message);
    RUN(test_offsets_in_order);
    RUN(test_revoked_partition);
    RUN(test_pause_resume);
    RUN(test_ranges);
    RUN(test_close_gives_up);
    rd_kafka_destroy(owner);
    return UNIT_REPORT();
}
