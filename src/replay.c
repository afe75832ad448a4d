#include "hookd/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/decode.h"
#include "hookd/dispatch.h"
#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/rfc3339.h"
#include "hookd/sub.h"
#include "hookd/util.h"
#include "hookd/workers.h"

typedef hd_replay_opts_t opts_t;

typedef struct {
    const opts_t *o;
    uint64_t total; /* events in the ranges */
    int64_t last_progress_us;
    uint64_t listed;
} run_t;

static const char usage[] =
    "Usage: hookd replay [--topic T] [--partition N] [--from-offset A] [--to-offset B]\n"
    "                    [--from-time T] [--to-time T] [--tenant X] [--event-type Y] [--subscription Z]\n"
    "                    [--dry-run] [--new-ids]\n\n"
    "Re-dispatches events of a source topic: offsets are inclusive and per partition (--partition required);\n"
    "times (RFC 3339 or ms since the epoch) select Kafka timestamps in [from, to) on every partition.\n"
    "--dry-run prints what would be delivered to whom (JSON lines) and sends nothing; --new-ids gives the\n"
    "deliveries new webhook-ids. Nothing is committed: interrupting and re-running is safe. See\n"
    "docs/operations.md.\n";

static int parse_i64(const char *opt, const char *v, int64_t *out) {
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < 0) {
        fprintf(stderr, "hookd replay: %s: \"%s\" is not a non-negative integer\n", opt, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_time(const char *opt, const char *v, int64_t *out) {
    if (hd_rfc3339_parse(v, strlen(v), out) == 0) return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (!errno && end != v && !*end && n >= 0) {
        *out = n;
        return 0;
    }
    fprintf(stderr, "hookd replay: %s: \"%s\" is neither an RFC 3339 time nor ms since the epoch\n", opt, v);
    return -1;
}

int hd_replay_parse(const hd_conf_t *conf, int argc, char **argv, opts_t *o) {
    *o = (opts_t){.partition = -1, .from_offset = -1, .to_offset = -1, .from_ms = -1, .to_ms = -1};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 1;
        } else if (!strcmp(a, "--dry-run"))
            o->dry_run = 1;
        else if (!strcmp(a, "--new-ids"))
            o->new_ids = 1;
        else if (!v) {
            fprintf(stderr, "hookd replay: %s needs a value (or is unknown; see hookd replay --help)\n", a);
            return -1;
        } else {
            i++;
            if (!strcmp(a, "--topic"))
                o->topic = v;
            else if (!strcmp(a, "--tenant"))
                o->tenant = v;
            else if (!strcmp(a, "--event-type"))
                o->event_type = v;
            else if (!strcmp(a, "--subscription"))
                o->subscription = v;
            else if (!strcmp(a, "--partition")) {
                if (parse_i64(a, v, &n) || n > INT32_MAX) return -1;
                o->partition = (int32_t)n;
            } else if (!strcmp(a, "--from-offset")) {
                if (parse_i64(a, v, &o->from_offset)) return -1;
            } else if (!strcmp(a, "--to-offset")) {
                if (parse_i64(a, v, &o->to_offset)) return -1;
            } else if (!strcmp(a, "--from-time")) {
                if (parse_time(a, v, &o->from_ms)) return -1;
            } else if (!strcmp(a, "--to-time")) {
                if (parse_time(a, v, &o->to_ms)) return -1;
            } else {
                fprintf(stderr, "hookd replay: unknown option %s (see hookd replay --help)\n", a);
                return -1;
            }
        }
    }
    if (!o->topic) {
        if (strchr(conf->topics, ',')) {
            fprintf(stderr, "hookd replay: --topic is required when `topics` names several (%s)\n", conf->topics);
            return -1;
        }
        o->topic = conf->topics;
    }
    int by_offset = o->from_offset >= 0 || o->to_offset >= 0, by_time = o->from_ms >= 0 || o->to_ms >= 0;
    if (by_offset && by_time) {
        fprintf(stderr, "hookd replay: give an offset range or a time range, not both\n");
        return -1;
    }
    if (by_offset && o->partition < 0) {
        fprintf(stderr, "hookd replay: an offset range needs --partition (offsets are per partition)\n");
        return -1;
    }
    if (o->from_offset >= 0 && o->to_offset >= 0 && o->from_offset > o->to_offset) {
        fprintf(stderr, "hookd replay: bad range: --from-offset %" PRId64 " is after --to-offset %" PRId64 "\n",
                o->from_offset, o->to_offset);
        return -1;
    }
    if (o->from_ms >= 0 && o->to_ms >= 0 && o->from_ms >= o->to_ms) {
        fprintf(stderr, "hookd replay: bad range: --from-time is not before --to-time\n");
        return -1;
    }
    return 0;
}

/* First offset of partition p whose timestamp is >= ms, or the end of the partition when there is none. */
static int offset_for_time(rd_kafka_t *rk, const char *topic, int32_t p, int64_t ms, int64_t hi, int64_t *out) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = ms;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, l, 10000);
    if (!err) err = l->elems[0].err;
    *out = l->elems[0].offset < 0 ? hi : l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    if (err) fprintf(stderr, "hookd replay: offsets for times on %s [%d]: %s\n", topic, p, rd_kafka_err2str(err));
    return err ? -1 : 0;
}

/* Checks the topic and partitions and turns the options into per-partition [from, to) ranges. Returns the number
 * of ranges (in *out, which the caller frees), or -1 after printing why. */
static int plan(const hd_conf_t *conf, const opts_t *o, hd_consume_range_t **out) {
    char err[512];
    int cnt = -1, parts = 0;
    rd_kafka_topic_t *rkt = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_conf_t *rkconf = hd_kafka_conf(conf, HD_KAFKA_READER, NULL, 0, err, sizeof(err));
    rd_kafka_t *rk = rkconf ? hd_kafka_new(HD_KAFKA_READER, rkconf, err, sizeof(err)) : NULL;
    if (!rk) {
        fprintf(stderr, "hookd replay: %s\n", err);
        return -1;
    }
    hd_consume_range_t *r = NULL;
    rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    rd_kafka_resp_err_t kerr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (!kerr && md->topic_cnt == 1) kerr = md->topics[0].err;
    if (kerr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || (!kerr && md->topics[0].partition_cnt == 0)) {
        fprintf(stderr, "hookd replay: topic \"%s\" does not exist on %s\n", o->topic, conf->brokers);
        goto out;
    }
    if (kerr) {
        fprintf(stderr, "hookd replay: metadata of topic \"%s\": %s\n", o->topic, rd_kafka_err2str(kerr));
        goto out;
    }
    parts = md->topics[0].partition_cnt;
    if (o->partition >= parts) {
        fprintf(stderr, "hookd replay: topic \"%s\" has no partition %d (it has %d: 0..%d)\n", o->topic, o->partition,
                parts, parts - 1);
        goto out;
    }
    r = hd_xcalloc((size_t)parts, sizeof(*r));
    int n = 0;
    for (int32_t p = o->partition >= 0 ? o->partition : 0; p < (o->partition >= 0 ? o->partition + 1 : parts); p++) {
        int64_t lo, hi;
        kerr = rd_kafka_query_watermark_offsets(rk, o->topic, p, &lo, &hi, 10000);
        if (kerr) {
            fprintf(stderr, "hookd replay: watermarks of %s [%d]: %s\n", o->topic, p, rd_kafka_err2str(kerr));
            goto out;
        }
        int64_t from = lo, to = hi;
        if (o->from_offset >= 0) from = o->from_offset;
        if (o->to_offset >= 0) to = o->to_offset + 1;
        if (o->from_ms >= 0 && offset_for_time(rk, o->topic, p, o->from_ms, hi, &from)) goto out;
        if (o->to_ms >= 0 && offset_for_time(rk, o->topic, p, o->to_ms, hi, &to)) goto out;
        if (from < lo || to > hi || from > to) {
            fprintf(stderr,
                    "hookd replay: bad range: %s [%d] holds offsets %" PRId64 "..%" PRId64
                    " (first..last; older ones were deleted), asked for %" PRId64 "..%" PRId64 "\n",
                    o->topic, p, lo, hi - 1, from, to - 1);
            goto out;
        }
        r[n++] = (hd_consume_range_t){hd_xstrdup(o->topic), p, from, to};
    }
    cnt = n;
    *out = r;
    r = NULL;

out:
    if (r)
        for (int i = 0; i < parts; i++)
            free((char *)r[i].topic);
    free(r);
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return cnt;
}

static int select_cb(void *opaque, const hd_event_t *ev, const hd_consume_range_t *at, const hd_sub_t *sub,
                     const char *webhook_id) {
    run_t *run = opaque;
    const opts_t *o = run->o;
    if ((o->tenant && strcmp(o->tenant, ev->tenant)) || (o->event_type && strcmp(o->event_type, ev->type)) ||
        (o->subscription && strcmp(o->subscription, sub->id)))
        return 0;
    if (!o->dry_run) return 1;
    json_object *j = json_object_new_object(), *src = json_object_new_object();
    json_object_object_add(j, "event_id", json_object_new_string(ev->id));
    json_object_object_add(j, "event_type", json_object_new_string(ev->type));
    json_object_object_add(j, "tenant", json_object_new_string(ev->tenant));
    json_object_object_add(j, "subscription_id", json_object_new_string(sub->id));
    json_object_object_add(j, "url", json_object_new_string(sub->url));
    json_object_object_add(j, "webhook_id", json_object_new_string(webhook_id));
    json_object_object_add(src, "topic", json_object_new_string(at->topic));
    json_object_object_add(src, "partition", json_object_new_int(at->partition));
    json_object_object_add(src, "offset", json_object_new_int64(at->from));
    json_object_object_add(j, "source", src);
    printf("%s\n", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(j);
    run->listed++;
    return 0;
}

static void print_progress(const run_t *run, const hd_dispatch_stats_t *st, const char *state) {
    fprintf(stderr,
            "replay: %s %" PRIu64 "/%" PRIu64 " events, %" PRIu64 " deliveries (%" PRIu64 " succeeded, %" PRIu64
            " failed)%s\n",
            state, st->consumed, run->total, st->deliveries, st->succeeded, st->failed,
            run->o->dry_run ? ", dry run: nothing sent" : "");
}

static void progress_cb(void *opaque, const hd_dispatch_stats_t *st) {
    run_t *run = opaque;
    int64_t now = hd_mono_us();
    if (now - run->last_progress_us < 1000000) return;
    run->last_progress_us = now;
    print_progress(run, st, "at");
}

int hd_replay_main(const hd_conf_t *conf, int argc, char **argv, atomic_int *stop) {
    opts_t o;
    hd_consume_range_t *ranges = NULL;
    hd_workers_t *ws = NULL;
    char err[512], salt[33];
    int rc = 2, cnt = 0;
    run_t run = {.o = &o, .last_progress_us = hd_mono_us()};

    int parsed = hd_replay_parse(conf, argc, argv, &o);
    if (parsed) {
        if (parsed > 0) rc = 0;
        goto out;
    }
    if ((cnt = plan(conf, &o, &ranges)) < 0) {
        cnt = 0;
        goto out;
    }
    for (int i = 0; i < cnt; i++) {
        run.total += (uint64_t)(ranges[i].to - ranges[i].from);
        fprintf(stderr, "replay: %s [%d] offsets %" PRId64 "..%" PRId64 " (%" PRId64 " events)\n", ranges[i].topic,
                ranges[i].partition, ranges[i].from, ranges[i].to - 1, ranges[i].to - ranges[i].from);
    }
    rc = 1;
    if (o.new_ids) {
        unsigned char nonce[16];
        randombytes_buf(nonce, sizeof(nonce));
        sodium_bin2hex(salt, sizeof(salt), nonce, sizeof(nonce));
    }
    hd_dispatch_replay_t replay = {
        .ranges = ranges,
        .ranges_cnt = cnt,
        .select = select_cb,
        .progress = progress_cb,
        .opaque = &run,
        .salt = o.new_ids ? salt : NULL,
    };
    if (!(ws = hd_workers_new(conf, &replay, err, sizeof(err)))) {
        fprintf(stderr, "hookd replay: %s\n", err);
        goto out;
    }
    /* A worker that fails sets *stop too: only a stop without a failure is an interruption. */
    int started = hd_workers_start(ws, stop, err, sizeof(err)) == 0, failed = hd_workers_join(ws) || !started;
    if (!started) fprintf(stderr, "hookd replay: %s\n", err);
    if (!failed) rc = atomic_load(stop) ? 1 : 0;
    hd_dispatch_stats_t st;
    hd_workers_stats(ws, &st);
    print_progress(&run, &st, rc == 0 ? "done:" : "stopped at");
    if (o.dry_run) fprintf(stderr, "replay: %" PRIu64 " deliveries would be made\n", run.listed);
    if (!failed && atomic_load(stop))
        fprintf(stderr, "replay: interrupted; nothing was committed, so running the same command again is safe "
                        "(receivers can de-duplicate on webhook-id)\n");

out:
    hd_workers_destroy(ws);
    for (int i = 0; i < cnt; i++)
        free((char *)ranges[i].topic);
    free(ranges);
    return rc;
}
