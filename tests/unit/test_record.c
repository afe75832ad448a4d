/* Results records: the JSON text hd_record_result_json writes against json-c's serialisation of the same record,
 * byte for byte, and parsed back with json-c field by field, hostile strings included. The producer: a record
 * librdkafka refuses is kept, a fatal producer is reported (librdkafka's mock cluster). */
#include <inttypes.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
/* after rdkafka.h */
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/config.h"
#include "hookd/log.h"
#include "hookd/record.h"
#include "hookd/rfc3339.h"
#include "hookd/util.h"
#include "unit.h"

static json_object *str_or_null(const char *s) {
    return s ? json_object_new_string(s) : NULL;
}

static json_object *iso(int64_t ms) {
    char t[40];
    hd_rfc3339_format(ms, t);
    return json_object_new_string(t);
}

/* The record as a json-c tree, fields in schema order (the response is taken as it is: valid UTF-8 here). */
static json_object *reference(const hd_record_result_t *r) {
    json_object *o = json_object_new_object(), *src = json_object_new_object();
    json_object_object_add(o, "delivery_id", str_or_null(r->delivery_id));
    json_object_object_add(o, "event_id", str_or_null(r->event_id));
    json_object_object_add(o, "event_type", str_or_null(r->event_type));
    json_object_object_add(o, "subscription_id", str_or_null(r->subscription_id));
    json_object_object_add(o, "tenant", str_or_null(r->tenant));
    json_object_object_add(o, "attempt", json_object_new_int64(r->attempt));
    json_object_object_add(o, "url", str_or_null(r->url));
    json_object_object_add(o, "status_code", r->status_code ? json_object_new_int64(r->status_code) : NULL);
    json_object_object_add(o, "success", json_object_new_boolean(r->success));
    json_object_object_add(o, "outcome", str_or_null(r->outcome));
    json_object_object_add(o, "error", str_or_null(r->error));
    json_object_object_add(o, "response",
                           r->response ? json_object_new_string_len(r->response, (int)r->response_len) : NULL);
    json_object *ms = json_object_new_double((double)r->duration_us / 1000.0);
    json_object_set_serializer(ms, json_object_double_to_json_string, (void *)"%.3f", NULL);
    json_object_object_add(o, "duration_ms", ms);
    json_object_object_add(o, "attempted_at", iso(r->attempted_at_ms));
    json_object_object_add(o, "event_time", iso(r->event_time_ms));
    json_object_object_add(src, "topic", str_or_null(r->src_topic));
    json_object_object_add(src, "partition", json_object_new_int64(r->src_partition));
    json_object_object_add(src, "offset", json_object_new_int64(r->src_offset));
    json_object_object_add(o, "source", src);
    json_object_object_add(o, "next_retry_at", r->next_retry_at_ms ? iso(r->next_retry_at_ms) : NULL);
    json_object_object_add(o, "final", json_object_new_boolean(r->final));
    json_object_object_add(o, "replay", json_object_new_boolean(r->replay));
    return o;
}

static const char *get_str(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                           : NULL;
}

static int64_t get_int(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_int) ? json_object_get_int64(v)
                                                                                        : -12345;
}

static int is_null(json_object *o, const char *k) {
    json_object *v;
    return json_object_object_get_ex(o, k, &v) && v == NULL;
}

static int same(const char *a, const char *b) {
    return a == b || (a && b && !strcmp(a, b));
}

/* Writes the record, compares it with json-c's text, parses it back and compares every field. */
static void check_record(const hd_record_result_t *r, char **buf, size_t *cap) {
    size_t len = hd_record_result_json(r, buf, cap);
    CHECK(strlen(*buf) == len);
    json_object *ref = reference(r);
    const char *want = json_object_to_json_string_ext(ref, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    CHECK_STR(*buf, want);
    json_object_put(ref);

    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, *buf, (int)len);
    CHECK(o && json_tokener_get_error(tok) == json_tokener_success && json_tokener_get_parse_end(tok) == len);
    json_tokener_free(tok);
    if (!o) return;
    CHECK(same(get_str(o, "delivery_id"), r->delivery_id));
    CHECK(same(get_str(o, "event_id"), r->event_id));
    CHECK(same(get_str(o, "event_type"), r->event_type));
    CHECK(same(get_str(o, "subscription_id"), r->subscription_id));
    CHECK(same(get_str(o, "tenant"), r->tenant));
    CHECK(get_int(o, "attempt") == r->attempt);
    CHECK(same(get_str(o, "url"), r->url));
    CHECK(r->status_code ? get_int(o, "status_code") == r->status_code : is_null(o, "status_code"));
    json_object *v, *src;
    CHECK(json_object_object_get_ex(o, "success", &v) && json_object_get_boolean(v) == !!r->success);
    CHECK(same(get_str(o, "outcome"), r->outcome));
    CHECK(r->error ? same(get_str(o, "error"), r->error) : is_null(o, "error"));
    if (!r->response) CHECK(is_null(o, "response"));
    CHECK(json_object_object_get_ex(o, "duration_ms", &v) && json_object_is_type(v, json_type_double) &&
          (int64_t)(json_object_get_double(v) * 1000 + (r->duration_us < 0 ? -0.5 : 0.5)) == r->duration_us);
    char t[40];
    hd_rfc3339_format(r->attempted_at_ms, t);
    CHECK_STR(get_str(o, "attempted_at"), t);
    hd_rfc3339_format(r->event_time_ms, t);
    CHECK_STR(get_str(o, "event_time"), t);
    CHECK(json_object_object_get_ex(o, "source", &src));
    CHECK(same(get_str(src, "topic"), r->src_topic));
    CHECK(get_int(src, "partition") == r->src_partition);
    CHECK(get_int(src, "offset") == r->src_offset);
    if (r->next_retry_at_ms) {
        hd_rfc3339_format(r->next_retry_at_ms, t);
        CHECK_STR(get_str(o, "next_retry_at"), t);
    } else {
        CHECK(is_null(o, "next_retry_at"));
    }
    CHECK(json_object_object_get_ex(o, "final", &v) && json_object_get_boolean(v) == !!r->final);
    CHECK(json_object_object_get_ex(o, "replay", &v) && json_object_get_boolean(v) == !!r->replay);
    CHECK(json_object_object_length(o) == 19);
    json_object_put(o);
}

static void test_ordinary_record(void) {
    char *buf = NULL;
    size_t cap = 0;
    hd_record_result_t r = {.delivery_id = "msg_0123456789abcdef0123456789abcdef",
                            .event_id = "evt_1001",
                            .event_type = "customer.created",
                            .subscription_id = "sub_crm",
                            .tenant = "acme",
                            .url = "https://crm.example.com/hooks/in?x=1&y=/z",
                            .attempt = 1,
                            .status_code = 200,
                            .success = 1,
                            .outcome = "success",
                            .response = "{\"ok\":true}",
                            .response_len = 11,
                            .duration_us = 21364,
                            .attempted_at_ms = 1795338000123,
                            .event_time_ms = 1795338000000,
                            .final = 1,
                            .src_topic = "events",
                            .src_partition = 2,
                            .src_offset = 123456};
    check_record(&r, &buf, &cap);
    /* The buffer is reused: a shorter record after a longer one leaves nothing behind. */
    r.url = "http://a/";
    r.response = NULL;
    r.status_code = 0;
    r.success = 0;
    r.outcome = "retryable";
    r.error = "Connection refused";
    r.next_retry_at_ms = 1795338005000;
    r.final = 0;
    r.replay = 1;
    check_record(&r, &buf, &cap);
    free(buf);
}

static void test_hostile_strings(void) {
    char every[256], *buf = NULL;
    size_t cap = 0;
    for (int i = 1; i < 256; i++)
        every[i - 1] = (char)i;
    every[255] = '\0';
    hd_record_result_t r = {.delivery_id = "\"quoted\" \\back\\slash\\",
                            .event_id = every,
                            .event_type = "</script><!--",
                            .subscription_id = "tab\there\nnew\rline\f\b",
                            .tenant = "\x01\x1f\x7f",
                            .url = "http://x/\"}{\\u0000",
                            .attempt = 2147483647,
                            .status_code = 599,
                            .outcome = "permanent",
                            .error = every,
                            .response = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \"\\\n",
                            .response_len = strlen("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \"\\\n"),
                            .duration_us = 999,
                            .attempted_at_ms = 0,
                            .event_time_ms = 1,
                            .src_topic = "t/\"x\"",
                            .src_partition = -1,
                            .src_offset = INT64_MAX};
    check_record(&r, &buf, &cap);
    r.src_offset = INT64_MIN;
    r.duration_us = 0;
    r.attempt = 0;
    check_record(&r, &buf, &cap);
    r.duration_us = 1234567891;
    check_record(&r, &buf, &cap);
    free(buf);
}

/* The receiver's body is cut to valid UTF-8: invalid bytes become '?', NUL too, and a sequence cut at the end
 * goes. */
static void test_response_sanitised(void) {
    char *buf = NULL, body[HD_RECORD_RESPONSE_MAX + 100];
    size_t cap = 0;
    hd_record_result_t r = {.delivery_id = "d",
                            .event_id = "e",
                            .event_type = "t",
                            .subscription_id = "s",
                            .tenant = "x",
                            .url = "http://a/",
                            .outcome = "success",
                            .src_topic = "events",
                            .response = "a\xff"
                                        "b\xc0\xaf"
                                        "c\0d\xed\xa0\x80"
                                        "e",
                            .response_len = 12};
    hd_record_result_json(&r, &buf, &cap);
    json_object *o = json_tokener_parse(buf);
    CHECK_STR(get_str(o, "response"), "a?b??c?d???e");
    json_object_put(o);
    memset(body, 'x', sizeof(body));
    memcpy(body + HD_RECORD_RESPONSE_MAX - 2, "\xe2\x82\xac", 3); /* straddles the limit */
    r.response = body;
    r.response_len = sizeof(body);
    hd_record_result_json(&r, &buf, &cap);
    o = json_tokener_parse(buf);
    const char *got = get_str(o, "response");
    CHECK(got && strlen(got) == HD_RECORD_RESPONSE_MAX - 2 && !strchr(got, '\xe2'));
    json_object_put(o);
    free(buf);
}

/* librdkafka's in-process mock cluster, owned by a client of its own. */
static rd_kafka_t *mock_owner(const char **bootstraps) {
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "test.mock.num.brokers", "1", err, sizeof(err));
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
    rd_kafka_mock_topic_create(mc, "results", 1, 1);
    rd_kafka_mock_topic_create(mc, "deadletter", 1, 1);
    *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    return rk;
}

static void on_ack(void *opaque, void *record_opaque) {
    (*(int *)opaque)++;
}

static hd_conf_t *conf_for(const char *bootstraps) {
    char err[256];
    hd_conf_t *conf = hd_conf_new();
    CHECK(hd_conf_set(conf, "brokers", bootstraps, err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "results.topic", "results", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(conf, "deadletter.topic", "deadletter", err, sizeof(err)) == 0);
    return conf;
}

/* A record librdkafka refuses when it is produced is kept, never reported as written: its event's offset waits. */
static void test_a_refused_record_is_kept_not_acknowledged(void) {
    const char *bootstraps;
    rd_kafka_t *owner = mock_owner(&bootstraps);
    hd_conf_t *conf = conf_for(bootstraps);
    char err[256];
    int acks = 0;
    hd_record_t *r = hd_record_new(conf, -1, on_ack, &acks, err, sizeof(err));
    CHECK(r != NULL);
    if (r) {
        static char big[1100000];
        memset(big, 'x', sizeof(big));
        CHECK(hd_record_produce(r, "results", "k", big, sizeof(big), NULL, &acks) == 0);
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &acks) == 0);
        CHECK(hd_record_flush(r, 3000) == 1); /* the small one is written, the large one still kept */
        CHECK(acks == 1);
        CHECK(hd_record_outstanding_bytes(r) > sizeof(big));
        CHECK(!hd_record_fatal(r));
        hd_record_destroy(r, 0);
    }
    hd_conf_destroy(conf);
    rd_kafka_destroy(owner);
}

/* A fatal producer error (here a batch the broker refuses for good while the gapless guarantee is asked for) stops
 * the writing for good: nothing is acknowledged any more and produce says so. */
static void test_a_fatal_producer_is_reported(void) {
    const char *bootstraps;
    rd_kafka_t *owner = mock_owner(&bootstraps);
    hd_conf_t *conf = conf_for(bootstraps);
    char err[256];
    int acks = 0;
    CHECK(hd_conf_set(conf, "kafka.producer.enable.gapless.guarantee", "true", err, sizeof(err)) == 0);
    hd_record_t *r = hd_record_new(conf, -1, on_ack, &acks, err, sizeof(err));
    CHECK(r != NULL);
    if (r) {
        rd_kafka_mock_push_request_errors(rd_kafka_handle_mock_cluster(owner), 0 /* Produce */, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &acks) == 0);
        for (int i = 0; i < 50 && !hd_record_fatal(r); i++)
            hd_record_flush(r, 100);
        CHECK(hd_record_fatal(r));
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &acks) == -1);
        CHECK(acks == 0);
        hd_record_destroy(r, 0);
    }
    hd_conf_destroy(conf);
    rd_kafka_destroy(owner);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    RUN(test_ordinary_record);
    RUN(test_hostile_strings);
    RUN(test_response_sanitised);
    RUN(test_a_refused_record_is_kept_not_acknowledged);
    RUN(test_a_fatal_producer_is_reported);
    return UNIT_REPORT();
}
