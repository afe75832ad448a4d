/* Endpoint health: what the outcomes of deliveries say about a subscription's endpoint, written back to the store.
 *
 * The failing clock: every worker accounts its attempts to a subscription on the subscription's shared clock
 * (hd_health_attempted). A run of failures that has lasted 10 s is written to the store (failing_since), and its
 * end removes it, so the clock survives restarts and is shared with other dispatchers; shorter blips cost no
 * write. Auto-disable (410 Gone, or a run longer than disable.after.ms, as the outcome decides):
 * hd_health_disable stops the subscription matching at once in every worker, and the health thread marks it
 * inactive in the store and e-mails its notification_emails (notify.h) when it asked for that.
 *
 * Store writes and e-mail may block, so they wait in a queue for the health thread, in the order they were
 * decided; while the store is away they are kept and tried again every retry_ms, and a write the server refuses
 * is logged and dropped. */
#ifndef HOOKD_HEALTH_H
#define HOOKD_HEALTH_H

#include <stdint.h>

#include "hookd/store.h"
#include "hookd/sub.h"

/* Where the health thread writes: each function returns as hd_store_disable does (0 written, 1 the store is
 * read-only, -1 the store is away: kept and tried again, -2 refused: dropped), with errstr filled on failure. */
typedef struct hd_health_sink_s {
    int (*disable)(void *opaque, const char *id, const char *reason, char *errstr, size_t errstr_size);
    int (*set_failing)(void *opaque, const char *id, int64_t since_ms, char *errstr, size_t errstr_size);
    void *opaque;
} hd_health_sink_t;

/* The sink of store (hd_store_disable, hd_store_set_failing); store is borrowed. */
hd_health_sink_t hd_health_store_sink(hd_store_t *store);

typedef struct hd_health_s hd_health_t;

/* Starts the health thread. sink.opaque must outlive the health. smtp_url empty (or NULL)
 * sends no e-mail; both strings are copied. NULL with errstr on failure. */
hd_health_t *hd_health_new(hd_health_sink_t sink, int64_t retry_ms, const char *smtp_url, const char *smtp_from,
                           char *errstr, size_t errstr_size);

/* Stops the thread, then tries what is still queued once: decided before the stop, it is written if the store
 * answers (what it cannot write is logged as lost). NULL is a no-op. */
void hd_health_destroy(hd_health_t *health);

/* Disables sub (410 Gone, or failing for too long): it stops matching at once in every worker (hd_match_find skips
 * it), and the health thread writes it to the store and sends the e-mail. Reloads keep it disabled until its
 * document changes (an unchanged subscription is shared by the next snapshot). Returns 1 when this call disabled
 * it, 0 when it already was (so only one worker reports it). sub must stay alive (a snapshot's) during the call. */
int hd_health_disable(hd_health_t *health, const hd_sub_t *sub, const char *reason);

/* Accounts one attempt to sub (failed: a retryable failure or 410 Gone) on its failing clock: the first failure
 * after a success starts a run, a success ends it. Returns the run's start in ms (0 after a success); a run whose
 * start the store already held (failing_since, loaded with the subscription) goes on from there. */
int64_t hd_health_attempted(hd_health_t *health, const hd_sub_t *sub, int failed, int64_t now_ms);

#endif
