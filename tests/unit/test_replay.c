/* hookd replay's arguments: values, defaults, and the ranges refused before Kafka is asked (offsets with times,
 * offsets without a partition, from after to, no topic when `topics` names several), each with its reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/config.h"
#include "hookd/replay.h"
#include "unit.h"

static hd_conf_t *one_topic, *two_topics;

/* hd_replay_parse on args (NULL-terminated) with what it prints (stdout and stderr) captured into out. */
static int parse(const hd_conf_t *conf, hd_replay_opts_t *o, char *out, size_t out_size, const char *const *args) {
    int argc = 0;
    while (args[argc])
        argc++;
    fflush(stdout);
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(tmp), 1);
    dup2(fileno(tmp), 2);
    int rc = hd_replay_parse(conf, argc, (char **)args, o);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    rewind(tmp);
    size_t n = fread(out, 1, out_size - 1, tmp);
    out[n] = '\0';
    fclose(tmp);
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
    hd_conf_destroy(one_topic);
    hd_conf_destroy(two_topics);
    return UNIT_REPORT();
}
