/* hookd replay: re-dispatches events of a source topic through the dispatcher's own path (decode, match, render,
 * sign, deliver, outcome, record) in replay mode (hd_dispatch_new_replay): explicit partitions and offsets, no
 * consumer group, no commits, stops at the end of the range.
 *
 *   --topic T               source topic (default: the `topics` setting when it names one topic)
 *   --partition N           one partition (default: every partition; required with offsets)
 *   --from-offset A         first offset (inclusive; default: the partition's first)
 *   --to-offset B           last offset (inclusive; default: the end of the partition when the replay starts)
 *   --from-time T, --to-time T
 *                           RFC 3339 times or ms since the epoch: the events Kafka stamped in [from, to)
 *   --tenant X, --event-type Y, --subscription Z
 *                           replay only these
 *   --dry-run               print what would be delivered to whom (JSON lines on stdout); send nothing
 *   --new-ids               give deliveries new webhook-ids (by default receivers see the original ids and can
 *                           de-duplicate)
 *
 * Progress goes to stderr. Nothing is committed, so interrupting and re-running the same command is safe.
 * Returns the process exit code: 0 done, 1 failed or interrupted, 2 bad arguments, range or topic. */
#ifndef HOOKD_REPLAY_H
#define HOOKD_REPLAY_H

#include <stdatomic.h>

#include "hookd/config.h"

/* Does not take conf or argv. A failing worker sets *stop. */
int hd_replay_main(const hd_conf_t *conf, int argc, char **argv, atomic_int *stop);

/* The options of one replay. Strings point into argv or conf. */
typedef struct hd_replay_opts_s {
    const char *topic, *tenant, *event_type, *subscription;
    int32_t partition;              /* -1: all */
    int64_t from_offset, to_offset; /* -1: unset; to inclusive */
    int64_t from_ms, to_ms;         /* -1: unset; to exclusive */
    int dry_run, new_ids;
} hd_replay_opts_t;

/* Parses the arguments (those after "replay") into *o and checks what can be checked without Kafka: values,
 * offsets or times but not both, offsets only with a partition, from not after to, a topic (conf->topics when it
 * names one). 0: *o is ready; 1: --help was printed on stdout; -1: why not was printed on stderr. */
int hd_replay_parse(const hd_conf_t *conf, int argc, char **argv, hd_replay_opts_t *o);

#endif
