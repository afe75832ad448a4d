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

#endif
