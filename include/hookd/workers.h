/* The dispatch workers of one process and what they share, wired in one place for `hookd dispatch`, `hookd
 * replay` and `hookd demo`: the subscription store (master key applied, indexes ensured), the subscription cache
 * over it, endpoint health with its e-mail settings, the status server on metrics.listen (service workers only: a
 * replay runs beside the service, whose port it would take), and the workers, each on a thread of its own. */
#ifndef HOOKD_WORKERS_H
#define HOOKD_WORKERS_H

#include <stdatomic.h>
#include <stddef.h>

#include "hookd/config.h"
#include "hookd/dispatch.h"

typedef struct hd_workers_s hd_workers_t;

/* Builds everything: workers (hd_conf_workers) group workers, or with replay one replay worker
 * (hd_dispatch_new_replay). Does not take conf or replay; both must outlive the result. NULL with errstr. */
hd_workers_t *hd_workers_new(const hd_conf_t *conf, const hd_dispatch_replay_t *replay, char *errstr,
                             size_t errstr_size);

/* How many workers there are. */
int hd_workers_count(const hd_workers_t *ws);

/* Starts the workers' threads, which run until *stop becomes non-zero (hd_dispatch_run); a worker that fails sets
 * *stop, so that the process stops and its platform can restart it. -1 with errstr (and *stop set) when a thread
 * could not be started; hd_workers_join then waits for those that were. stop must outlive the join. */
int hd_workers_start(hd_workers_t *ws, atomic_int *stop, char *errstr, size_t errstr_size);

/* Waits for the workers' threads to end. 0 when every worker ended without error. */
int hd_workers_join(hd_workers_t *ws);

/* The workers' statistics added up. */
void hd_workers_stats(const hd_workers_t *ws, hd_dispatch_stats_t *total);

/* Frees the status server, the workers, endpoint health, the cache and the store, in that order. NULL is a no-op. */
void hd_workers_destroy(hd_workers_t *ws);

#endif
