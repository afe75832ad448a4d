/* The outcome policy as a table: for each answer (HTTP status, transport error, refused address, Retry-After),
 * attempt number and subscription setting, the classification and the decision pinned: final or retried (tier,
 * due time), dead-letter reason, record error text, disable reason. Jitter is off so due times are exact. */
#include <curl/curl.h>
#include <stdlib.h>

#include "hookd/config.h"
#include "hookd/outcome.h"
#include "hookd/retry.h"
#include "unit.h"

#define NOW 1800000000000LL
#define H 3600000LL

static hd_retry_t *schedule(void) {
    hd_conf_t *conf = hd_conf_new();
    char err[256];
    CHECK(hd_conf_set(conf, "retry.schedule", "5s,1m,10m,1h,6h", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "retry.jitter.pct", "0", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "retry.after.max.s", "21600", err, sizeof(err)) == 0);
    hd_retry_t *r = hd_retry_new(conf, err, sizeof(err));
    hd_conf_destroy(conf);
    return r;
}

typedef struct {
    const char *name;
    hd_outcome_in_t in;
    hd_outcome_t outcome;
    int retry, next_attempt, tier;
    int64_t due_ms;
    const char *dead, *error, *disable;
} row_t;

/* A row's input: FULL names every field; HTTP and CURL take the defaults (first attempt, 5 retries allowed, any
 * 2xx, no Retry-After, endpoint not failing, disable after 3 days). */
#define FULL(st, ce, tx, rf, ra, at, mr, sc, fs, da)                                                                   \
    {                                                                                                                  \
        .status = st, .transport_error = ce, .transport_text = tx, .refused = rf, .retry_after_s = ra, .attempt = at,  \
        .max_retry_count = mr, .success_code = sc, .failing_since_ms = fs, .disable_after_ms = da, .now_ms = NOW       \
    }
#define HTTP(st) FULL(st, 0, NULL, NULL, -1, 1, 5, 0, 0, 72 * H)
#define CURL(ce, tx) FULL(0, ce, tx, NULL, -1, 1, 5, 0, 0, 72 * H)

static const row_t rows[] = {
    {"200", HTTP(200), HD_OUTCOME_SUCCESS, 0, 0, 0, 0, NULL, "", ""},
    {"204", HTTP(204), HD_OUTCOME_SUCCESS, 0, 0, 0, 0, NULL, "", ""},
    {"299", HTTP(299), HD_OUTCOME_SUCCESS, 0, 0, 0, 0, NULL, "", ""},
    {"success_code met", FULL(202, 0, NULL, NULL, -1, 1, 5, 202, 0, 72 * H), HD_OUTCOME_SUCCESS, 0, 0, 0, 0, NULL, "",
     ""},
    {"success_code missed by a 2xx", FULL(200, 0, NULL, NULL, -1, 1, 5, 202, 0, 72 * H), HD_OUTCOME_PERMANENT, 0, 0, 0,
     0, "permanent", "receiver answered 200 (not the subscription's success_code)", ""},
    {"success_code missed by a 503", FULL(503, 0, NULL, NULL, -1, 1, 5, 202, 0, 72 * H), HD_OUTCOME_RETRYABLE, 1, 2, 0,
     NOW + 5000, NULL, "receiver answered 503 (not the subscription's success_code)", ""},
    {"success_code outside 2xx", FULL(302, 0, NULL, NULL, -1, 1, 5, 302, 0, 72 * H), HD_OUTCOME_SUCCESS, 0, 0, 0, 0,
     NULL, "", ""},
    {"301 redirect", HTTP(301), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 301", ""},
    {"304", HTTP(304), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 304", ""},
    {"400", HTTP(400), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 400", ""},
    {"401", HTTP(401), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 401", ""},
    {"404", HTTP(404), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 404", ""},
    {"409", HTTP(409), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 409", ""},
    {"413", HTTP(413), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 413", ""},
    {"408", HTTP(408), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 408", ""},
    {"425", HTTP(425), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 425", ""},
    {"410 gone disables", HTTP(410), HD_OUTCOME_GONE, 0, 0, 0, 0, "gone", "receiver answered 410",
     "the endpoint answered 410 Gone"},
    {"429 without Retry-After", HTTP(429), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 429",
     ""},
    {"429 Retry-After shorter than the tier", FULL(429, 0, NULL, NULL, 2, 1, 5, 0, 0, 72 * H), HD_OUTCOME_RETRYABLE, 1,
     2, 0, NOW + 5000, NULL, "receiver answered 429", ""},
    /* A Retry-After HTTP-date reaches the decision as seconds from now (deliver.c). */
    {"429 Retry-After 120 s picks the tier that fits", FULL(429, 0, NULL, NULL, 120, 1, 5, 0, 0, 72 * H),
     HD_OUTCOME_RETRYABLE, 1, 2, 1, NOW + 120000, NULL, "receiver answered 429", ""},
    {"429 Retry-After over retry.after.max.s is capped", FULL(429, 0, NULL, NULL, 999999, 1, 5, 0, 0, 72 * H),
     HD_OUTCOME_RETRYABLE, 1, 2, 4, NOW + 6 * H, NULL, "receiver answered 429", ""},
    {"503 Retry-After", FULL(503, 0, NULL, NULL, 600, 1, 5, 0, 0, 72 * H), HD_OUTCOME_RETRYABLE, 1, 2, 2, NOW + 600000,
     NULL, "receiver answered 503", ""},
    {"500", HTTP(500), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 500", ""},
    {"501 not implemented", HTTP(501), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 501", ""},
    {"502", HTTP(502), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 502", ""},
    {"505", HTTP(505), HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 505", ""},
    {"599", HTTP(599), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 599", ""},
    {"second attempt: second tier", FULL(500, 0, NULL, NULL, -1, 2, 5, 0, 0, 72 * H), HD_OUTCOME_RETRYABLE, 1, 3, 1,
     NOW + 60000, NULL, "receiver answered 500", ""},
    {"attempts past the schedule repeat its last tier", FULL(500, 0, NULL, NULL, -1, 5, 5, 0, 0, 72 * H),
     HD_OUTCOME_RETRYABLE, 1, 6, 4, NOW + 6 * H, NULL, "receiver answered 500", ""},
    {"the last allowed retry", FULL(500, 0, NULL, NULL, -1, 5, 5, 0, 0, 72 * H), HD_OUTCOME_RETRYABLE, 1, 6, 4,
     NOW + 6 * H, NULL, "receiver answered 500", ""},
    {"retries exhausted", FULL(500, 0, NULL, NULL, -1, 6, 5, 0, 0, 72 * H), HD_OUTCOME_RETRYABLE, 0, 0, 0, 0,
     "exhausted", "receiver answered 500", ""},
    {"max_retry_count 0: no retry", FULL(503, 0, NULL, NULL, -1, 1, 0, 0, 0, 72 * H), HD_OUTCOME_RETRYABLE, 0, 0, 0, 0,
     "exhausted", "receiver answered 503", ""},
    {"timeout", CURL(CURLE_OPERATION_TIMEDOUT, "Operation timed out after 10000 ms"), HD_OUTCOME_RETRYABLE, 1, 2, 0,
     NOW + 5000, NULL, "Operation timed out after 10000 ms", ""},
    {"connection refused", CURL(CURLE_COULDNT_CONNECT, "Connection refused"), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000,
     NULL, "Connection refused", ""},
    {"connection reset", CURL(CURLE_RECV_ERROR, "Connection reset by peer"), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000,
     NULL, "Connection reset by peer", ""},
    {"empty reply", CURL(CURLE_GOT_NOTHING, "Empty reply from server"), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL,
     "Empty reply from server", ""},
    {"DNS", CURL(CURLE_COULDNT_RESOLVE_HOST, "Could not resolve host: x"), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000,
     NULL, "Could not resolve host: x", ""},
    {"TLS", CURL(CURLE_PEER_FAILED_VERIFICATION, "SSL certificate problem"), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000,
     NULL, "SSL certificate problem", ""},
    {"not started", CURL(CURLE_FAILED_INIT, "curl_easy_init failed"), HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL,
     "curl_easy_init failed", ""},
    {"malformed URL", CURL(CURLE_URL_MALFORMAT, "URL using bad/illegal format"), HD_OUTCOME_PERMANENT, 0, 0, 0, 0,
     "permanent", "URL using bad/illegal format", ""},
    {"unsupported scheme", CURL(CURLE_UNSUPPORTED_PROTOCOL, "Protocol \"ftp\""), HD_OUTCOME_PERMANENT, 0, 0, 0, 0,
     "permanent", "Protocol \"ftp\"", ""},
    {"timeout with its retries exhausted", FULL(0, CURLE_OPERATION_TIMEDOUT, "timed out", NULL, -1, 3, 2, 0, 0, 72 * H),
     HD_OUTCOME_RETRYABLE, 0, 0, 0, 0, "exhausted", "timed out", ""},
    {"refused by the guard",
     FULL(0, CURLE_COULDNT_CONNECT, NULL, "10.0.0.7 (a private address)", -1, 1, 5, 0, 0, 72 * H), HD_OUTCOME_PERMANENT,
     0, 0, 0, 0, "permanent", "refused to connect to 10.0.0.7 (a private address) (allow it with http.allow.cidrs)",
     ""},
    {"an empty refusal is none", FULL(200, 0, NULL, "", -1, 1, 5, 0, 0, 72 * H), HD_OUTCOME_SUCCESS, 0, 0, 0, 0, NULL,
     "", ""},
    {"failing, not for long enough", FULL(503, 0, NULL, NULL, -1, 1, 5, 0, NOW - 72 * H + 1, 72 * H),
     HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 503", ""},
    {"failing for disable.after.ms disables", FULL(503, 0, NULL, NULL, -1, 1, 5, 0, NOW - 72 * H, 72 * H),
     HD_OUTCOME_RETRYABLE, 1, 2, 0, NOW + 5000, NULL, "receiver answered 503",
     "the endpoint has failed continuously for 259200 s"},
    {"failing and exhausted", FULL(503, 0, NULL, NULL, -1, 6, 5, 0, NOW - 100 * H, 72 * H), HD_OUTCOME_RETRYABLE, 0, 0,
     0, 0, "exhausted", "receiver answered 503", "the endpoint has failed continuously for 360000 s"},
    {"disable.after.ms 0 never disables", FULL(503, 0, NULL, NULL, -1, 1, 5, 0, 1, 0), HD_OUTCOME_RETRYABLE, 1, 2, 0,
     NOW + 5000, NULL, "receiver answered 503", ""},
    {"a permanent failure says nothing of the clock", FULL(400, 0, NULL, NULL, -1, 1, 5, 0, NOW - 100 * H, 72 * H),
     HD_OUTCOME_PERMANENT, 0, 0, 0, 0, "permanent", "receiver answered 400", ""},
};

static void test_decisions(void) {
    hd_retry_t *r = schedule();
    for (size_t i = 0; r && i < sizeof(rows) / sizeof(rows[0]); i++) {
        const row_t *w = &rows[i];
        hd_outcome_decision_t d;
        hd_outcome_decide(&w->in, r, &d);
        int ok = d.outcome == w->outcome && d.record == 1 && d.retry == w->retry && d.parked == 0 &&
                 (!w->retry || (d.next_attempt == w->next_attempt && d.tier == w->tier && d.due_ms == w->due_ms)) &&
                 (w->dead ? d.dead && !strcmp(d.dead, w->dead) : !d.dead) && !strcmp(d.error, w->error) &&
                 !strcmp(d.disable, w->disable) && hd_outcome_of(&w->in) == w->outcome;
        if (!ok)
            fprintf(stderr,
                    "row \"%s\": outcome %s retry %d attempt %d tier %d due %+lld dead %s error \"%s\" "
                    "disable \"%s\"\n",
                    w->name, hd_outcome_name(d.outcome), d.retry, d.next_attempt, d.tier, (long long)(d.due_ms - NOW),
                    d.dead ? d.dead : "-", d.error, d.disable);
        CHECK(ok);
    }
    hd_retry_destroy(r);
}

typedef struct {
    const char *name;
    int attempt, max_retry_count, was_parked, breaker;
    int64_t due_ms;
    int record, retry, next_attempt, tier, parked;
    int64_t want_due;
    const char *dead;
} park_row_t;

static const park_row_t park_rows[] = {
    /* Parked without an attempt: the same attempt waits in the tier that fits, no results record. */
    {"host at its cap", 1, 5, 0, 0, 0, 0, 1, 1, 0, 0, NOW + 5000, NULL},
    {"queue wait over, due given", 3, 5, 0, 0, NOW + 90000, 0, 1, 3, 1, 0, NOW + 90000, NULL},
    {"breaker open, first park", 2, 5, 0, 1, NOW + 30000, 0, 1, 2, 0, 1, NOW + 30000, NULL},
    {"breaker open for long", 1, 5, 0, 1, NOW + 2 * H, 0, 1, 1, 3, 1, NOW + 2 * H, NULL},
    {"parked before, host at its cap now", 2, 5, 1, 0, 0, 0, 1, 2, 0, 1, NOW + 5000, NULL},
    {"exhausted attempts are not judged when parked", 9, 5, 0, 0, 0, 0, 1, 9, 0, 0, NOW + 5000, NULL},
    /* Parked by its breaker again: a failed attempt, retried not before the breaker lets it. */
    {"breaker still open: costs an attempt", 1, 5, 1, 1, NOW + 30000, 1, 1, 2, 0, 1, NOW + 30000, NULL},
    {"breaker still open, the tier is later", 2, 5, 1, 1, NOW + 30000, 1, 1, 3, 1, 1, NOW + 60000, NULL},
    {"breaker still open, exhausted", 6, 5, 1, 1, NOW + 30000, 1, 0, 0, 0, 1, 0, "exhausted"},
};

static void test_parks(void) {
    hd_retry_t *r = schedule();
    for (size_t i = 0; r && i < sizeof(park_rows) / sizeof(park_rows[0]); i++) {
        const park_row_t *w = &park_rows[i];
        hd_outcome_decision_t d;
        hd_outcome_park(r, w->attempt, w->max_retry_count, w->was_parked, w->breaker, w->due_ms, NOW, &d);
        int ok = d.outcome == HD_OUTCOME_RETRYABLE && d.record == w->record && d.retry == w->retry &&
                 d.parked == w->parked &&
                 (!w->retry || (d.next_attempt == w->next_attempt && d.tier == w->tier && d.due_ms == w->want_due)) &&
                 (w->dead ? d.dead && !strcmp(d.dead, w->dead) : !d.dead) &&
                 !strcmp(d.error, "not attempted: the circuit to this endpoint is open") && !d.disable[0];
        if (!ok)
            fprintf(stderr, "park row \"%s\": record %d retry %d attempt %d tier %d due %+lld parked %d dead %s\n",
                    w->name, d.record, d.retry, d.next_attempt, d.tier, (long long)(d.due_ms - NOW), d.parked,
                    d.dead ? d.dead : "-");
        CHECK(ok);
    }
    hd_retry_destroy(r);
}

static void test_classify(void) {
    CHECK(hd_outcome_classify(200, 0, 0) == HD_OUTCOME_SUCCESS);
    CHECK(hd_outcome_classify(199, 0, 0) == HD_OUTCOME_PERMANENT);
    CHECK(hd_outcome_classify(300, 0, 0) == HD_OUTCOME_PERMANENT);
    CHECK(hd_outcome_classify(0, 0, 0) == HD_OUTCOME_PERMANENT); /* no status and no error: nothing to retry on */
    CHECK(hd_outcome_classify(200, CURLE_OPERATION_TIMEDOUT, 0) == HD_OUTCOME_RETRYABLE); /* the transport wins */
    CHECK_STR(hd_outcome_name(HD_OUTCOME_SUCCESS), "success");
    CHECK_STR(hd_outcome_name(HD_OUTCOME_RETRYABLE), "retryable");
    CHECK_STR(hd_outcome_name(HD_OUTCOME_PERMANENT), "permanent");
    CHECK_STR(hd_outcome_name(HD_OUTCOME_GONE), "gone");
}

int main(void) {
    RUN(test_decisions);
    RUN(test_parks);
    RUN(test_classify);
    return UNIT_REPORT();
}
