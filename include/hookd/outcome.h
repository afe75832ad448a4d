/* What a delivery attempt's answer means and what follows from it: recorded as final, attempted again from a retry
 * tier at a due time, dead-lettered, and whether its subscription is to be disabled. Pure: the caller brings the
 * answer, the subscription's settings, the endpoint's failing clock and the time; nothing here reads a clock or
 * does I/O (the retry schedule's jitter aside), so the policy is table-tested (tests/unit/test_outcome.c). */
#ifndef HOOKD_OUTCOME_H
#define HOOKD_OUTCOME_H

#include <stdint.h>

#include "hookd/retry.h"

typedef enum {
    HD_OUTCOME_SUCCESS = 0,
    HD_OUTCOME_RETRYABLE, /* 408, 425, 429, 5xx except 501/505, timeouts, connection and DNS errors */
    HD_OUTCOME_PERMANENT, /* 3xx (redirects are not followed), other 4xx, a wrong success code, bad URL */
    HD_OUTCOME_GONE,      /* 410: the receiver asks us to stop */
} hd_outcome_t;

/* status is the HTTP status (0 when no response arrived); transport_error is 0 or a CURLcode;
 * success_code is the subscription's required status, 0 for any 2xx. */
hd_outcome_t hd_outcome_classify(long status, int transport_error, int success_code);

/* "success", "retryable", "permanent", "gone" */
const char *hd_outcome_name(hd_outcome_t o);

/* One attempt's answer and what the decision depends on. Strings are borrowed for the call. */
typedef struct hd_outcome_in_s {
    long status;                /* HTTP status, 0 when no response arrived */
    int transport_error;        /* 0 or a CURLcode */
    const char *transport_text; /* curl's message for it */
    const char *refused;        /* non-empty when the guard refused the address (deliver.h), else NULL or "" */
    int64_t retry_after_s;      /* the receiver's Retry-After in seconds from now, -1 when absent */
    int attempt;                /* this attempt, counting from 1 */
    int max_retry_count;        /* the subscription's: attempts after the first */
    int success_code;           /* the subscription's, 0: any 2xx */
    int64_t failing_since_ms;   /* the endpoint's failing clock after this attempt (0: not failing) */
    int64_t disable_after_ms;   /* disable.after.ms; 0: never */
    int64_t now_ms;
} hd_outcome_in_t;

#define HD_OUTCOME_ERROR_SIZE 416 /* curl's CURL_ERROR_SIZE and a sentence */

typedef struct hd_outcome_decision_s {
    hd_outcome_t outcome;
    int record;       /* 1: the attempt gets a results record; 0: a park that costs no attempt */
    int retry;        /* 1: attempt next_attempt from retry tier `tier` at due_ms */
    int next_attempt; /* with retry */
    int tier;         /* with retry */
    int64_t due_ms;   /* with retry */
    int parked;       /* with retry: the job is marked parked by its breaker (hd_retry_job_t.parked) */
    const char *dead; /* NULL, or why the delivery goes to the dead-letter topic: "permanent", "gone", "exhausted" */
    char error[HD_OUTCOME_ERROR_SIZE]; /* the results record's error, "" when none */
    char disable[128];                 /* why the subscription is to be disabled, "" when it is not */
} hd_outcome_decision_t;

/* The attempt's outcome: hd_outcome_classify of the answer, or permanent when the guard refused the address. */
hd_outcome_t hd_outcome_of(const hd_outcome_in_t *in);

/* The decision for an attempt that was made. A retryable failure is attempted again from the tier of its next
 * attempt (hd_retry_plan, honouring Retry-After) until max_retry_count retries have been made, then dead-lettered
 * as "exhausted"; a permanent failure is dead-lettered at once; 410 Gone is dead-lettered and disables the
 * subscription, as does a retryable failure of an endpoint failing for disable.after.ms. */
void hd_outcome_decide(const hd_outcome_in_t *in, const hd_retry_t *r, hd_outcome_decision_t *d);

/* A delivery that admission parks instead of attempting (open breaker, host at its cap, waited too long):
 *   attempt, max_retry_count  as in hd_outcome_in_t
 *   was_parked                its breaker parked it before (hd_retry_job_t.parked)
 *   breaker                   its circuit breaker is open now
 *   due_ms                    when admission lets it try again; 0: as soon as the first tier allows
 * It waits in the tier that fits, keeping its attempt number and costing no results record; a delivery its
 * breaker parked before that finds the circuit still open counts it as a failed attempt instead (recorded,
 * retried or exhausted as above), so deliveries to a receiver that never recovers reach their final outcome on
 * their schedule, each with a bounded number of parks. */
void hd_outcome_park(const hd_retry_t *r, int attempt, int max_retry_count, int was_parked, int breaker, int64_t due_ms,
                     int64_t now_ms, hd_outcome_decision_t *d);

#endif
