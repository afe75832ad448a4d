/* hookd replay's arguments: values, defaults, and the ranges refused before Kafka is asked (offsets with times,
 * offsets without a partition, from after to, no topic when `topics` names several), each with its reason. Then
 * the plan against librdkafka's mock cluster (which cannot look offsets up by time): offsets turned into
 * per-partition ranges, and ranges, partitions or topics that the cluster does not hold refused. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/config.h"
#include "hookd/replay.h"
#include "unit.h"

static hd_conf_t *one_topic, *two_topics;
/* brokers: the mock cluster, which lives in owner; topics: replay.events. */
static hd_conf_t *mocked;
static rd_kafka_t *owner;

/* What the code under test prints on stdout and stderr goes to a temporary file while captured. */
typedef struct {
    FILE *tmp;
    int saved_out, saved_err;
} capture_t;

static void capture_start(capture_t *c) {
    fflush(stdout);
    fflush(stderr);
    c->tmp = tmpfile();
    c->saved_out = dup(1);
    c->saved_err = dup(2);
    dup2(fileno(c->tmp), 1);
    dup2(fileno(c->tmp), 2);
}

static void capture_end(capture_t *c, char *out, size_t out_size) {
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved_out, 1);
    dup2(c->saved_err, 2);
    close(c->saved_out);
    close(c->saved_err);
    rewind(c->tmp);
    size_t n = fread(out, 1, out_size - 1, c->tmp);
    out[n] = '\0';
    fclose(c->tmp);
}

static int count(const char *const *args) {
    int argc = 0;
    while (args[argc])
        argc++;
    return argc;
}

/* hd_replay_parse on args (NULL-terminated) with what it prints captured into out. */
static int parse(const hd_conf_t *conf, hd_replay_opts_t *o, char *out, size_t out_size, const char *const *args) {
    capture_t c;
    capture_start(&c);
    int rc = hd_replay_parse(conf, count(args), (char **)args, o);
    capture_end(&c, out, out_size);
    return rc;
}

#define PARSE(conf, o, out, ...) parse(conf, o, out, sizeof(out), (const char *const[]){__VA_ARGS__, NULL})

static void test_defaults(void) {
    hd_replay_opts_t o;
    char out[512];
    CHECK(parse(one_topic, &o, out, sizeof(out), (const char *const[]){NULL}) == 0);
    CHECK_STR(o.topic, "events");
    CHECK(o.partition == -1 && o.from_offset == -1 && o.to_offset == -1 && o.from_ms == -1 && o.to_ms == -1);
    CHECK(!o.tenant && !o.event_type && !o.subscription && !o.dry_run && !o.new_ids);
    CHECK_STR(out, "");
}

static void test_every_option(void) {
    hd_replay_opts_t o;
    char out[512];
    CHECK(PARSE(two_topics, &o, out, "--topic", "b", "--partition", "3", "--from-offset", "10", "--to-offset", "20",
                "--tenant", "t1", "--event-type", "order.paid", "--subscription", "s1", "--dry-run", "--new-ids") == 0);
    CHECK_STR(o.topic, "b");
    CHECK(o.partition == 3 && o.from_offset == 10 && o.to_offset == 20 && o.from_ms == -1 && o.to_ms == -1);
    CHECK_STR(o.tenant, "t1");
    CHECK_STR(o.event_type, "order.paid");
    CHECK_STR(o.subscription, "s1");
    CHECK(o.dry_run && o.new_ids);
    /* One offset alone, and a range of one event (both ends inclusive). */
    CHECK(PARSE(one_topic, &o, out, "--partition", "0", "--from-offset", "7") == 0);
    CHECK(o.from_offset == 7 && o.to_offset == -1);
    CHECK(PARSE(one_topic, &o, out, "--partition", "0", "--from-offset", "7", "--to-offset", "7") == 0);
}

/* RFC 3339 or ms since the epoch; the range is [from, to). */
static void test_times(void) {
    hd_replay_opts_t o;
    char out[512];
    CHECK(PARSE(one_topic, &o, out, "--from-time", "2026-01-02T03:04:05Z", "--to-time", "1767323100000") == 0);
    CHECK(o.from_ms == 1767323045000 && o.to_ms == 1767323100000);
    CHECK(PARSE(one_topic, &o, out, "--from-time", "2026-01-02T04:04:05+01:00") == 0);
    CHECK(o.from_ms == 1767323045000 && o.to_ms == -1);
    CHECK(PARSE(one_topic, &o, out, "--to-time", "0") == 0);
    CHECK(o.to_ms == 0 && o.from_ms == -1);
}

static void test_help(void) {
    hd_replay_opts_t o;
    char out[2048];
    CHECK(PARSE(one_topic, &o, out, "--partition", "1", "--help") == 1);
    CHECK(strstr(out, "Usage: hookd replay") != NULL);
    CHECK(PARSE(one_topic, &o, out, "-h") == 1);
    CHECK(strstr(out, "Usage: hookd replay") != NULL);
}

/* Refused, each with its reason on stderr. */
static void test_refused(void) {
    hd_replay_opts_t o;
    char out[512];
    CHECK(PARSE(one_topic, &o, out, "--partition") == -1);
    CHECK(strstr(out, "--partition needs a value") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--bogus", "x") == -1);
    CHECK(strstr(out, "unknown option --bogus") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--partition", "-1") == -1);
    CHECK(strstr(out, "--partition: \"-1\" is not a non-negative integer") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--partition", "0", "--from-offset", "12x") == -1);
    CHECK(strstr(out, "--from-offset: \"12x\" is not a non-negative integer") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--partition", "0", "--to-offset", "") == -1);
    CHECK(PARSE(one_topic, &o, out, "--partition", "2147483648") == -1);
    CHECK(PARSE(one_topic, &o, out, "--from-time", "yesterday") == -1);
    CHECK(strstr(out, "--from-time: \"yesterday\" is neither an RFC 3339 time nor ms since the epoch") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--to-time", "-5") == -1);
}

static void test_bad_ranges(void) {
    hd_replay_opts_t o;
    char out[512];
    CHECK(PARSE(one_topic, &o, out, "--partition", "0", "--from-offset", "1", "--to-time", "5") == -1);
    CHECK(strstr(out, "an offset range or a time range, not both") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--to-offset", "9") == -1);
    CHECK(strstr(out, "an offset range needs --partition") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--partition", "0", "--from-offset", "5", "--to-offset", "4") == -1);
    CHECK(strstr(out, "bad range: --from-offset 5 is after --to-offset 4") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--from-time", "1000", "--to-time", "1000") == -1);
    CHECK(strstr(out, "bad range: --from-time is not before --to-time") != NULL);
    CHECK(PARSE(one_topic, &o, out, "--from-time", "2026-01-02T03:04:05Z", "--to-time", "2026-01-01T00:00:00Z") == -1);
    CHECK(strstr(out, "bad range") != NULL);
}

/* Without --topic, `topics` must name one topic. */
static void test_topic(void) {
    hd_replay_opts_t o;
    char out[512];
    CHECK(parse(two_topics, &o, out, sizeof(out), (const char *const[]){NULL}) == -1);
    CHECK(strstr(out, "--topic is required when `topics` names several (a,b)") != NULL);
    CHECK(PARSE(two_topics, &o, out, "--topic", "a") == 0);
    CHECK_STR(o.topic, "a");
}

/* hd_replay_main with *stop already set: it checks and plans the ranges (printed on stderr), then stops before
 * delivering anything. Its exit code; out holds what it printed. */
static int plan(char *out, size_t out_size, const char *const *args) {
    atomic_int stop = 1;
    capture_t c;
    capture_start(&c);
    int rc = hd_replay_main(mocked, count(args), (char **)args, &stop);
    capture_end(&c, out, out_size);
    return rc;
}

#define PLAN(out, ...) plan(out, sizeof(out), (const char *const[]){__VA_ARGS__, NULL})

/* Offsets are inclusive on the command line and [from, to) in the plan; no range is every partition, whole. */
static void test_plan_offsets(void) {
    char out[4096];
    CHECK(PLAN(out, "--partition", "0", "--from-offset", "1", "--to-offset", "3") == 1);
    CHECK(strstr(out, "replay: replay.events [0] offsets 1..3 (3 events)") != NULL);
    CHECK(strstr(out, "[1]") == NULL);
    CHECK(PLAN(out, NULL) == 1);
    CHECK(strstr(out, "replay: replay.events [0] offsets 0..4 (5 events)") != NULL);
    CHECK(strstr(out, "replay: replay.events [1] offsets 0..1 (2 events)") != NULL);
    CHECK(PLAN(out, "--partition", "1", "--from-offset", "1") == 1);
    CHECK(strstr(out, "replay: replay.events [1] offsets 1..1 (1 events)") != NULL);
}

/* What the cluster does not hold: exit code 2 with the reason. */
static void test_plan_refused(void) {
    char out[4096];
    CHECK(PLAN(out, "--partition", "0", "--from-offset", "2", "--to-offset", "9") == 2);
    CHECK(strstr(out, "bad range: replay.events [0] holds offsets 0..4 (first..last; older ones were deleted), "
                      "asked for 2..9") != NULL);
    CHECK(PLAN(out, "--partition", "2") == 2);
    CHECK(strstr(out, "topic \"replay.events\" has no partition 2 (it has 2: 0..1)") != NULL);
    CHECK(PLAN(out, "--topic", "replay.none") == 2);
    CHECK(strstr(out, "topic \"replay.none\" does not exist") != NULL);
    CHECK(PLAN(out, "--partition", "0", "--from-offset", "3", "--to-offset", "1") == 2);
    CHECK(PLAN(out, "--help") == 0);
}

/* The mock cluster with replay.events: five messages in partition 0, two in partition 1. */
static int mock_start(char *err, size_t err_size) {
    rd_kafka_conf_t *rkconf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(rkconf, "test.mock.num.brokers", "1", err, err_size) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(rkconf, "log_level", "4", err, err_size) != RD_KAFKA_CONF_OK ||
        !(owner = rd_kafka_new(RD_KAFKA_PRODUCER, rkconf, err, err_size)))
        return -1;
    rd_kafka_mock_cluster_t *mock = rd_kafka_handle_mock_cluster(owner);
    rd_kafka_mock_topic_create(mock, "replay.events", 2, 1);
    for (int i = 0; i < 7; i++) {
        if (rd_kafka_producev(owner, RD_KAFKA_V_TOPIC("replay.events"), RD_KAFKA_V_PARTITION(i < 5 ? 0 : 1),
                              RD_KAFKA_V_VALUE("{}", 2), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ||
            rd_kafka_flush(owner, 10000)) {
            snprintf(err, err_size, "producing to the mock cluster failed");
            return -1;
        }
    }
    mocked = hd_conf_new();
    if (hd_conf_set(mocked, "brokers", rd_kafka_mock_cluster_bootstraps(mock), err, err_size) ||
        hd_conf_set(mocked, "topics", "replay.events", err, err_size) ||
        hd_conf_set(mocked, "store", "file:/nonexistent/hookd-test-replay.json", err, err_size))
        return -1;
    return 0;
}

int main(void) {
    char err[256];
    one_topic = hd_conf_new();
    two_topics = hd_conf_new();
    if (hd_conf_set(one_topic, "topics", "events", err, sizeof(err)) ||
        hd_conf_set(two_topics, "topics", "a,b", err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(test_defaults);
    RUN(test_every_option);
    RUN(test_times);
    RUN(test_help);
    RUN(test_refused);
    RUN(test_bad_ranges);
    RUN(test_topic);
    if (mock_start(err, sizeof(err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    RUN(test_plan_offsets);
    RUN(test_plan_refused);
    hd_conf_destroy(mocked);
    rd_kafka_destroy(owner);
    hd_conf_destroy(one_topic);
    hd_conf_destroy(two_topics);
    return UNIT_REPORT();
}
