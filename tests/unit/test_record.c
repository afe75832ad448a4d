/* Results records: the JSON text hd_record_result_json writes against json-c's serialisation of the same record,
 * byte for byte, and parsed back with json-c field by field, hostile strings included. The other shapes (retry
 * jobs, both kinds of dead letter, the ops event) read back from librdkafka's mock cluster, fields and header
 * names. The producer: a record librdkafka refuses is kept, a fatal producer is reported. */
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
#include "hookd/retry.h"
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

static void on_ack(void *opaque, void *record_opaque) {
    (*(int *)opaque)++;
}

/* A producer on librdkafka's in-process mock cluster, which a client of its own owns. r is NULL (and a CHECK
 * failed) when it could not be made. acks counts the acknowledged records; the fixture must not move. */
typedef struct {
    rd_kafka_t *owner;
    const char *bootstraps;
    hd_conf_t *conf;
    hd_record_t *r;
    int acks;
} fixture_t;

/* name and value: one more setting, or NULL. */
static void fixture_open(fixture_t *f, const char *name, const char *value) {
    static const char *const topics[] = {"results", "deadletter", "ops", "tier", "events"};
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "test.mock.num.brokers", "1", err, sizeof(err));
    f->owner = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(f->owner);
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        rd_kafka_mock_topic_create(mc, topics[i], 1, 1);
    f->bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    f->conf = hd_conf_new();
    CHECK(hd_conf_set(f->conf, "brokers", f->bootstraps, err, sizeof(err)) == 0);
    CHECK(hd_conf_set(f->conf, "results.topic", "results", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(f->conf, "deadletter.topic", "deadletter", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(f->conf, "ops.topic", "ops", err, sizeof(err)) == 0);
    if (name) CHECK(hd_conf_set(f->conf, name, value, err, sizeof(err)) == 0);
    f->acks = 0;
    f->r = hd_record_new(f->conf, -1, on_ack, &f->acks, err, sizeof(err));
    CHECK(f->r != NULL);
}

static void fixture_close(fixture_t *f) {
    hd_record_destroy(f->r, 0);
    hd_conf_destroy(f->conf);
    rd_kafka_destroy(f->owner);
}

/* A record librdkafka refuses when it is produced is kept, never reported as written: its event's offset waits. */
static void test_a_refused_record_is_kept_not_acknowledged(void) {
    fixture_t f;
    fixture_open(&f, NULL, NULL);
    hd_record_t *r = f.r;
    if (r) {
        static char big[1100000];
        memset(big, 'x', sizeof(big));
        CHECK(hd_record_produce(r, "results", "k", big, sizeof(big), NULL, &f.acks) == 0);
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &f.acks) == 0);
        CHECK(hd_record_flush(r, 3000) == 1); /* the small one is written, the large one still kept */
        CHECK(f.acks == 1);
        CHECK(hd_record_outstanding_bytes(r) > sizeof(big));
        CHECK(!hd_record_fatal(r));
    }
    fixture_close(&f);
}

/* A fatal producer error (here a batch the broker refuses for good while the gapless guarantee is asked for) stops
 * the writing for good: nothing is acknowledged any more and produce says so. */
static void test_a_fatal_producer_is_reported(void) {
    fixture_t f;
    fixture_open(&f, "kafka.producer.enable.gapless.guarantee", "true");
    hd_record_t *r = f.r;
    if (r) {
        rd_kafka_mock_push_request_errors(rd_kafka_handle_mock_cluster(f.owner), 0 /* Produce */, 1,
                                          RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &f.acks) == 0);
        for (int i = 0; i < 50 && !hd_record_fatal(r); i++)
            hd_record_flush(r, 100);
        CHECK(hd_record_fatal(r));
        CHECK(hd_record_produce(r, "results", "k", "{}", 2, NULL, &f.acks) == -1);
        CHECK(f.acks == 0);
    }
    fixture_close(&f);
}

/* The first messages of partition 0 of a topic, read from its start. The consumer outlives them: destroying it
 * waits for every message it handed out. */
typedef struct {
    rd_kafka_t *rk;
    rd_kafka_message_t *m[4];
    int cnt;
} reader_t;

/* Reads until cnt messages came (at most 4), or 10 s passed. */
static void reader_open(reader_t *rd, const char *bootstraps, const char *topic, int cnt) {
    char err[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", "test-record-reader", err, sizeof(err));
    rd->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    rd->cnt = 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rd->rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    for (int i = 0; i < 100 && rd->cnt < cnt && rd->cnt < 4; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rd->rk, 100);
        if (m && !m->err)
            rd->m[rd->cnt++] = m;
        else if (m)
            rd_kafka_message_destroy(m);
    }
}

static void reader_close(reader_t *rd) {
    for (int i = 0; i < rd->cnt; i++)
        rd_kafka_message_destroy(rd->m[i]);
    rd_kafka_consumer_close(rd->rk);
    rd_kafka_destroy(rd->rk);
}

/* The message's header name (last of that name), NULL when absent. */
static char *header(const rd_kafka_message_t *m, const char *name, char *buf, size_t size) {
    rd_kafka_headers_t *h;
    const void *v;
    size_t len;
    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &len)) return NULL;
    snprintf(buf, size, "%.*s", (int)len, (const char *)v);
    return buf;
}

static size_t header_cnt(const rd_kafka_message_t *m) {
    rd_kafka_headers_t *h;
    return rd_kafka_message_headers(m, &h) ? 0 : rd_kafka_header_cnt(h);
}

static int key_is(const rd_kafka_message_t *m, const char *key) {
    return m->key_len == strlen(key) && !memcmp(m->key, key, m->key_len);
}

static json_object *value_json(const rd_kafka_message_t *m) {
    json_tokener *tok = json_tokener_new();
    json_object *o = json_tokener_parse_ex(tok, m->payload, (int)m->len);
    json_tokener_free(tok);
    return o;
}

/* Retry jobs in a tier carry no headers; those of deliveries given up go to the dead-letter topic with the reason
 * and error (the reason again when there is no error); one too large for a record goes there cut down to the
 * event's id, type and tenant, with reason too-large. */
static void test_retry_jobs_and_delivery_dead_letters(void) {
    fixture_t f;
    fixture_open(&f, NULL, NULL);
    hd_record_t *r = f.r;
    const char *bootstraps = f.bootstraps;
    char err[256], buf[512];
    if (!r) goto out;
    json_object *event = json_tokener_parse("{\"id\":\"e1\",\"type\":\"t.x\",\"tenant\":\"acme\",\"data\":{\"k\":1}}");
    hd_retry_job_t job = {.delivery_id = "msg_1",
                          .subscription_id = "sub_1",
                          .url = "https://x.example/h",
                          .attempt = 2,
                          .due_ms = 1800000005000,
                          .event = event,
                          .src_topic = "events",
                          .src_partition = 0,
                          .src_offset = 7};
    CHECK(hd_record_job(r, "tier", &job, NULL, NULL, &f.acks) == 0);
    CHECK(hd_record_job(r, NULL, &job, "exhausted", "receiver answered 503", &f.acks) == 0);
    CHECK(hd_record_job(r, NULL, &job, "permanent", NULL, &f.acks) == 0);
    size_t big = hd_record_max_bytes(r);
    char *data = malloc(big + 1);
    memset(data, 'x', big);
    data[big] = '\0';
    json_object *large = json_object_new_object();
    json_object_object_add(large, "id", json_object_new_string("e2"));
    json_object_object_add(large, "type", json_object_new_string("t.y"));
    json_object_object_add(large, "tenant", json_object_new_string("acme"));
    json_object_object_add(large, "data", json_object_new_string(data));
    hd_retry_job_t too_large = job;
    too_large.event = large;
    CHECK(hd_record_job(r, "tier", &too_large, NULL, NULL, &f.acks) == 1);
    CHECK(hd_record_flush(r, 5000) == 0 && f.acks == 4);

    reader_t rd;
    reader_open(&rd, bootstraps, "tier", 1);
    rd_kafka_message_t **m = rd.m;
    CHECK(rd.cnt == 1);
    CHECK(key_is(m[0], "msg_1") && header_cnt(m[0]) == 0);
    hd_retry_job_t *back = hd_retry_job_decode(m[0]->payload, m[0]->len, err, sizeof(err));
    CHECK(back && back->attempt == 2 && back->due_ms == 1800000005000 && json_object_equal(back->event, event));
    hd_retry_job_destroy(back);
    reader_close(&rd);

    reader_open(&rd, bootstraps, "deadletter", 3);
    CHECK(rd.cnt == 3);
    CHECK(key_is(m[0], "msg_1") && header_cnt(m[0]) == 2);
    CHECK_STR(header(m[0], "hookd-reason", buf, sizeof(buf)), "exhausted");
    CHECK_STR(header(m[0], "hookd-error", buf, sizeof(buf)), "receiver answered 503");
    back = hd_retry_job_decode(m[0]->payload, m[0]->len, err, sizeof(err)); /* replayable through a tier */
    CHECK(back && back->attempt == 2 && json_object_equal(back->event, event));
    hd_retry_job_destroy(back);
    CHECK_STR(header(m[1], "hookd-reason", buf, sizeof(buf)), "permanent");
    CHECK_STR(header(m[1], "hookd-error", buf, sizeof(buf)), "permanent");
    CHECK(key_is(m[2], "msg_1") && header_cnt(m[2]) == 2);
    CHECK_STR(header(m[2], "hookd-reason", buf, sizeof(buf)), "too-large");
    CHECK(header(m[2], "hookd-error", buf, sizeof(buf)) && strstr(buf, "exceeds the producer's message.max.bytes"));
    back = hd_retry_job_decode(m[2]->payload, m[2]->len, err, sizeof(err));
    CHECK(back && json_object_object_length(back->event) == 3 && back->src_offset == 7);
    if (back) {
        json_object *v;
        CHECK(json_object_object_get_ex(back->event, "id", &v) && !strcmp(json_object_get_string(v), "e2"));
        CHECK(!json_object_object_get_ex(back->event, "data", &v));
    }
    hd_retry_job_destroy(back);
    reader_close(&rd);
    json_object_put(large);
    free(data);
    json_object_put(event);
out:
    fixture_close(&f);
}

/* A rejected input message goes to the dead-letter topic as it came (key, value, its own headers) with the reason,
 * the error (as valid UTF-8) and its source coordinates added. The ops event of a disabled subscription. */
static void test_message_dead_letter_and_ops_event(void) {
    fixture_t f;
    fixture_open(&f, NULL, NULL);
    hd_record_t *r = f.r;
    const char *bootstraps = f.bootstraps;
    char buf[512];
    if (!r) goto out;
    rd_kafka_producev(f.owner, RD_KAFKA_V_TOPIC("events"), RD_KAFKA_V_KEY("k1", 2), RD_KAFKA_V_VALUE("{not json", 9),
                      RD_KAFKA_V_HEADER("ce_type", "t.x", 3), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    rd_kafka_flush(f.owner, 5000);
    reader_t in, rd;
    reader_open(&in, bootstraps, "events", 1);
    CHECK(in.cnt == 1);
    CHECK(in.cnt && hd_record_deadletter(r, in.m[0], "bad-json", "unexpected \xff at 1", &f.acks) == 0);
    CHECK(hd_record_disabled(r, "sub_1", "acme", "https://x.example/h", "the endpoint answered 410 Gone", 1800000000123,
                             &f.acks) == 0);
    CHECK(hd_record_flush(r, 5000) == 0 && f.acks == 2);

    reader_close(&in);
    reader_open(&rd, bootstraps, "deadletter", 1);
    rd_kafka_message_t **m = rd.m;
    CHECK(rd.cnt == 1);
    CHECK(key_is(m[0], "k1") && m[0]->len == 9 && !memcmp(m[0]->payload, "{not json", 9));
    CHECK(header_cnt(m[0]) == 6);
    CHECK_STR(header(m[0], "ce_type", buf, sizeof(buf)), "t.x");
    CHECK_STR(header(m[0], "hookd-reason", buf, sizeof(buf)), "bad-json");
    CHECK_STR(header(m[0], "hookd-error", buf, sizeof(buf)), "unexpected ? at 1");
    CHECK_STR(header(m[0], "hookd-source-topic", buf, sizeof(buf)), "events");
    CHECK_STR(header(m[0], "hookd-source-partition", buf, sizeof(buf)), "0");
    CHECK_STR(header(m[0], "hookd-source-offset", buf, sizeof(buf)), "0");
    reader_close(&rd);

    reader_open(&rd, bootstraps, "ops", 1);
    CHECK(rd.cnt == 1);
    CHECK(key_is(m[0], "sub_1") && header_cnt(m[0]) == 0);
    json_object *o = value_json(m[0]);
    CHECK(o && json_object_object_length(o) == 6);
    CHECK_STR(get_str(o, "type"), "subscription.disabled");
    CHECK_STR(get_str(o, "subscription_id"), "sub_1");
    CHECK_STR(get_str(o, "tenant"), "acme");
    CHECK_STR(get_str(o, "url"), "https://x.example/h");
    CHECK_STR(get_str(o, "reason"), "the endpoint answered 410 Gone");
    CHECK_STR(get_str(o, "at"), "2027-01-15T08:00:00.123Z");
    json_object_put(o);
    reader_close(&rd);
out:
    fixture_close(&f);
}

int main(void) {
    hd_log_min_level = HD_LOG_OFF;
    RUN(test_ordinary_record);
    RUN(test_hostile_strings);
    RUN(test_response_sanitised);
    RUN(test_a_refused_record_is_kept_not_acknowledged);
    RUN(test_a_fatal_producer_is_reported);
    RUN(test_retry_jobs_and_delivery_dead_letters);
    RUN(test_message_dead_letter_and_ops_event);
    return UNIT_REPORT();
}
