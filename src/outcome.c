#include "hookd/outcome.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

hd_outcome_t hd_outcome_classify(long status, int transport_error, int success_code) {
    if (transport_error) {
        switch (transport_error) {
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            return HD_OUTCOME_PERMANENT;
        default:
            return HD_OUTCOME_RETRYABLE; /* timeouts, resets, DNS and TLS trouble can all heal */
        }
    }
    if (success_code ? status == success_code : (status >= 200 && status < 300)) return HD_OUTCOME_SUCCESS;
    if (status == 410) return HD_OUTCOME_GONE;
    if (status == 408 || status == 425 || status == 429) return HD_OUTCOME_RETRYABLE;
    if (status >= 500 && status != 501 && status != 505) return HD_OUTCOME_RETRYABLE;
    return HD_OUTCOME_PERMANENT;
}

const char *hd_outcome_name(hd_outcome_t o) {
    static const char *const names[] = {"success", "retryable", "permanent", "gone"};
    return names[o];
}

/* A retryable failure of attempt: the next attempt from its tier, not before not_before_ms, or exhausted. */
static void retry_or_exhaust(const hd_retry_t *r, int attempt, int max_retry_count, int64_t retry_after_s,
                             int64_t not_before_ms, int64_t now_ms, hd_outcome_decision_t *d) {
    if (attempt > max_retry_count) {
        d->dead = "exhausted";
        return;
    }
    d->retry = 1;
    d->next_attempt = attempt + 1;
    d->tier = hd_retry_plan(r, attempt, retry_after_s, now_ms, &d->due_ms);
    if (not_before_ms > d->due_ms) {
        d->due_ms = not_before_ms;
        d->tier = hd_retry_tier_for_wait(r, not_before_ms - now_ms);
    }
}

static int refused(const hd_outcome_in_t *in) {
    return in->refused && in->refused[0];
}

hd_outcome_t hd_outcome_of(const hd_outcome_in_t *in) {
    return refused(in) ? HD_OUTCOME_PERMANENT : hd_outcome_classify(in->status, in->transport_error, in->success_code);
}

void hd_outcome_decide(const hd_outcome_in_t *in, const hd_retry_t *r, hd_outcome_decision_t *d) {
    memset(d, 0, sizeof(*d));
    d->record = 1;
    d->outcome = hd_outcome_of(in);
    if (refused(in))
        snprintf(d->error, sizeof(d->error), "refused to connect to %s (allow it with http.allow.cidrs)", in->refused);
    else if (in->transport_error)
        snprintf(d->error, sizeof(d->error), "%s", in->transport_text ? in->transport_text : "");
    else if (d->outcome != HD_OUTCOME_SUCCESS)
        snprintf(d->error, sizeof(d->error), "receiver answered %ld%s", in->status,
                 in->success_code ? " (not the subscription's success_code)" : "");
    switch (d->outcome) {
    case HD_OUTCOME_SUCCESS:
        break;
    case HD_OUTCOME_PERMANENT:
        d->dead = "permanent";
        break;
    case HD_OUTCOME_GONE:
        d->dead = "gone";
        snprintf(d->disable, sizeof(d->disable), "the endpoint answered 410 Gone");
        break;
    case HD_OUTCOME_RETRYABLE:
        retry_or_exhaust(r, in->attempt, in->max_retry_count, in->retry_after_s, 0, in->now_ms, d);
        if (in->disable_after_ms && in->failing_since_ms && in->now_ms - in->failing_since_ms >= in->disable_after_ms)
            snprintf(d->disable, sizeof(d->disable), "the endpoint has failed continuously for %" PRId64 " s",
                     (in->now_ms - in->failing_since_ms) / 1000);
        break;
    }
}

void hd_outcome_park(const hd_retry_t *r, int attempt, int max_retry_count, int was_parked, int breaker, int64_t due_ms,
                     int64_t now_ms, hd_outcome_decision_t *d) {
    memset(d, 0, sizeof(*d));
    d->outcome = HD_OUTCOME_RETRYABLE;
    snprintf(d->error, sizeof(d->error), "not attempted: the circuit to this endpoint is open");
    if (breaker && was_parked) {
        d->record = 1;
        retry_or_exhaust(r, attempt, max_retry_count, -1, due_ms, now_ms, d);
        d->parked = 1;
        return;
    }
    d->retry = 1;
    d->next_attempt = attempt;
    d->due_ms = due_ms ? due_ms : now_ms + r->delay_ms[0];
    d->tier = hd_retry_tier_for_wait(r, d->due_ms - now_ms);
    d->parked = was_parked || breaker;
}
