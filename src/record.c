#include "hookd/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/retry.h"
#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

/* A record librdkafka refused when it was produced (an unknown topic, a broker-side refusal): kept and produced
 * again every KEEP_RETRY_MS, its event's offset waiting, rather than dropped. */
#define KEEP_RETRY_MS 1000

typedef struct kept_s {
    char *topic;
    void *key;
    size_t key_len;
    void *value;
    size_t value_len;
    rd_kafka_headers_t *hdrs;
    void *record_opaque;
    struct kept_s *next;
} kept_t;

struct hd_record_s {
    rd_kafka_t *rk;
    rd_kafka_queue_t *admin; /* CreateTopics answers, NULL when none is awaited */
    rd_kafka_topic_t *results, *deadletter, *ops;
    char *json; /* hd_record_result's text, reused */
    size_t json_cap;
    hd_record_ack_cb *ack;
    void *opaque;
    size_t outstanding_bytes; /* produced, not yet reported; see hd_record_outstanding_bytes */
    int acked;                /* a record was acknowledged */
    int fatal;                /* the producer failed for good: nothing more will be acknowledged */
    size_t max_bytes;         /* the most key, value and headers one record may carry */
    kept_t *kept, **kept_tail;
    int kept_cnt;
    int64_t kept_due_ms;
};

/* What librdkafka holds for a record until its report: the copied key and value, and its message struct (176
 * bytes in 2.12) with the allocator's header. */
static size_t record_bytes(size_t key_len, size_t value_len) {
    return key_len + value_len + 192;
}

/* A record's key for log lines: the delivery id of results records and retry jobs (so a lost outcome can be traced
 * to its delivery), the source message's key for dead letters. */
static const char *key_text(const void *key, size_t key_len, char *out, size_t out_size) {
    if (!key) return NULL;
    size_t n = key_len < out_size - 1 ? key_len : out_size - 1;
    memcpy(out, key, n);
    out[n] = '\0';
    return out;
}

static size_t headers_bytes(const rd_kafka_headers_t *hdrs) {
    size_t n = 0, len;
    const char *name;
    const void *value;
    for (size_t i = 0; hdrs && !rd_kafka_header_get_all(hdrs, i, &name, &value, &len); i++)
        n += strlen(name) + len + 10;
    return n;
}

static void keep(hd_record_t *r, const char *topic, const void *key, size_t key_len, const void *value,
                 size_t value_len, rd_kafka_headers_t *hdrs, void *record_opaque) {
    kept_t *k = hd_xcalloc(1, sizeof(*k));
    k->topic = hd_xstrdup(topic);
    k->key = key_len ? hd_xmalloc(key_len) : NULL;
    if (key_len) memcpy(k->key, key, key_len);
    k->key_len = key ? key_len : 0;
    k->value = hd_xmalloc(value_len ? value_len : 1);
    memcpy(k->value, value, value_len);
    k->value_len = value_len;
    k->hdrs = hdrs;
    k->record_opaque = record_opaque;
    *r->kept_tail = k;
    r->kept_tail = &k->next;
    if (!r->kept_cnt++) r->kept_due_ms = hd_now_ms() + KEEP_RETRY_MS;
    r->outstanding_bytes += record_bytes(key_len, value_len);
}

/* The producer queue is sized generously; when it is still full, serve reports until there is room rather than
 * fail: the worker then naturally slows down to Kafka's pace. Any other refusal keeps the record to be produced
 * again, except a fatal producer error (-1): then nothing will be acknowledged any more. Takes hdrs. */
static int produce(hd_record_t *r, rd_kafka_topic_t *topic, const void *key, size_t key_len, const void *value,
                   size_t value_len, rd_kafka_headers_t *hdrs, void *record_opaque) {
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(r->rk, RD_KAFKA_V_RKT(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                              RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(record_opaque), RD_KAFKA_V_END);
        if (!err) { /* headers now belong to the message */
            r->outstanding_bytes += record_bytes(key_len, value_len);
            return 0;
        }
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(r->rk, 10);
            continue;
        }
        char k[128], reason[512];
        if (err == RD_KAFKA_RESP_ERR__FATAL || rd_kafka_fatal_error(r->rk, reason, sizeof(reason))) {
            r->fatal = 1;
            if (hdrs) rd_kafka_headers_destroy(hdrs);
            HD_LOG_LIMITED(HD_LOG_ERROR, "record", HD_KV("key", key_text(key, key_len, k, sizeof(k))),
                           "produce to %s: the producer failed for good: %s", rd_kafka_topic_name(topic),
                           rd_kafka_err2str(err));
            return -1;
        }
        HD_LOG_LIMITED(HD_LOG_ERROR, "record", HD_KV("key", key_text(key, key_len, k, sizeof(k))),
                       "produce to %s: %s; kept, produced again in %d ms", rd_kafka_topic_name(topic),
                       rd_kafka_err2str(err), KEEP_RETRY_MS);
        keep(r, rd_kafka_topic_name(topic), key, key_len, value, value_len, hdrs, record_opaque);
        return 0;
    }
}

/* Produces the kept records again once due; those refused again wait another round. */
static void produce_kept(hd_record_t *r) {
    if (!r->kept || hd_now_ms() < r->kept_due_ms) return;
    kept_t *list = r->kept;
    r->kept = NULL;
    r->kept_tail = &r->kept;
    r->kept_cnt = 0;
    while (list && !r->fatal) {
        kept_t *k = list;
        list = k->next;
        r->outstanding_bytes -= record_bytes(k->key_len, k->value_len);
        rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, k->topic, NULL);
        produce(r, t, k->key, k->key_len, k->value, k->value_len, k->hdrs, k->record_opaque);
        rd_kafka_topic_destroy(t);
        free(k->topic);
        free(k->key);
        free(k->value);
        free(k);
    }
    if (list) { /* fatal: what is left will never be written */
        *r->kept_tail = list;
        while (*r->kept_tail)
            r->kept_tail = &(*r->kept_tail)->next;
    }
}

static void kept_free(hd_record_t *r) {
    for (kept_t *k = r->kept, *n; k; k = n) {
        n = k->next;
        if (k->hdrs) rd_kafka_headers_destroy(k->hdrs);
        free(k->topic);
        free(k->key);
        free(k->value);
        free(k);
    }
    r->kept = NULL;
    r->kept_tail = &r->kept;
    r->kept_cnt = 0;
}

/* A record Kafka could not take (after the idempotent producer's own retries) is produced again: dropping it
 * would let the source offset pass an outcome that was never written. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    hd_record_t *r = opaque;
    r->outstanding_bytes -= record_bytes(m->key_len, m->len);
    if (!m->err) {
        r->acked = 1;
        r->ack(r->opaque, m->_private);
        return;
    }
    char k[128];
    HD_LOG_LIMITED(HD_LOG_ERROR, "record", HD_KV("key", key_text(m->key, m->key_len, k, sizeof(k))),
                   "record to %s not delivered, producing it again: %s", rd_kafka_topic_name(m->rkt),
                   rd_kafka_err2str(m->err));
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = rd_kafka_headers_copy(hdrs);
    else
        hdrs = NULL;
    produce(r, m->rkt, m->key, m->key_len, m->payload, m->len, hdrs, m->_private);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    hd_record_t *r = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) r->fatal = 1;
    HD_LOG_LIMITED(err == RD_KAFKA_RESP_ERR__FATAL ? HD_LOG_ERROR : HD_LOG_WARN, "record", NULL, "kafka: %s", reason);
}

/* librdkafka asks for the idempotent producer's id when a metadata answer comes from a connected broker, and
 * otherwise only every 500 ms; its own first answer comes from the bootstrap server, too early. Without this, every
 * start held its first records, and so its intake (see dispatch.c), for half a second. A broker that does not
 * answer costs the start at most two seconds; the timer then does the work as before. */
static void prime_producer_id(hd_record_t *r) {
    for (int i = 0; i < 2; i++) {
        const struct rd_kafka_metadata *md;
        if (rd_kafka_metadata(r->rk, 0, r->results, &md, 1000)) return;
        int learned = md->orig_broker_id >= 0; /* not a bootstrap server */
        rd_kafka_metadata_destroy(md);
        if (learned) return;
    }
}

hd_record_t *hd_record_new(const hd_conf_t *conf, int wake_fd, hd_record_ack_cb *ack, void *opaque, char *errstr,
                           size_t errstr_size) {
    hd_record_t *r = hd_xcalloc(1, sizeof(*r));
    static const hd_kafka_prop_t defaults[] = {
        /* Lingering delays only the results topic and the offset commit, never a delivery; batches four times
         * larger cut the broker's work: at 10,000 deliveries/s on a shared 2-core box, delivery p99 went from
         * 536-692 ms to 53-96 ms in alternating runs (docs/benchmarks.md). */
        {"linger.ms", "20"},
        {"compression.type", "lz4"},
        {"queue.buffering.max.messages", "1000000"},
    };
    r->kept_tail = &r->kept;
    rd_kafka_conf_t *rkconf =
        hd_kafka_conf(conf, HD_KAFKA_PRODUCER, defaults, sizeof(defaults) / sizeof(defaults[0]), errstr, errstr_size);
    if (!rkconf) goto fail;
    r->ack = ack;
    r->opaque = opaque;
    rd_kafka_conf_set_opaque(rkconf, r);
    rd_kafka_conf_set_dr_msg_cb(rkconf, dr_cb);
    rd_kafka_conf_set_error_cb(rkconf, error_cb);
    if (!(r->rk = hd_kafka_new(HD_KAFKA_PRODUCER, rkconf, errstr, errstr_size))) goto fail;
    r->max_bytes = hd_kafka_record_max(r->rk);
    if (wake_fd >= 0) {
        rd_kafka_queue_t *q = rd_kafka_queue_get_main(r->rk);
        rd_kafka_queue_io_event_enable(q, wake_fd, "p", 1);
        rd_kafka_queue_destroy(q);
    }
    r->results = rd_kafka_topic_new(r->rk, conf->results_topic, NULL);
    r->deadletter = rd_kafka_topic_new(r->rk, conf->deadletter_topic, NULL);
    r->ops = rd_kafka_topic_new(r->rk, conf->ops_topic, NULL);
    prime_producer_id(r);
    return r;

fail:
    free(r);
    return NULL;
}

void hd_record_destroy(hd_record_t *r, int timeout_ms) {
    if (!r) return;
    if (r->admin) rd_kafka_queue_destroy(r->admin);
    int left = hd_record_flush(r, timeout_ms);
    if (left) HD_LOG(HD_LOG_ERROR, "record", NULL, "%d records not acknowledged at exit", left);
    kept_free(r);
    rd_kafka_topic_destroy(r->results);
    free(r->json);
    rd_kafka_topic_destroy(r->deadletter);
    rd_kafka_topic_destroy(r->ops);
    rd_kafka_destroy(r->rk);
    free(r);
}

/* Results records are written as JSON text directly: json-c's tree (even one reused object with its values
 * replaced in place) cost 23,000 instructions a record, the text alone under 3,000. tests/unit/test_record.c
 * checks the text against json-c's serialisation of the same record, byte for byte. */
typedef struct json_out_s {
    char *p;
    size_t len, cap;
} json_out_t;

static void put(void *out, const char *s, size_t n) {
    json_out_t *o = out;
    if (o->len + n + 1 > o->cap) {
        o->cap = (o->len + n + 1) * 2;
        o->p = hd_xrealloc(o->p, o->cap);
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
}

#define PUT(o, lit) put(o, lit, sizeof(lit) - 1)

/* NULL is null. */
static void put_str(json_out_t *o, const char *s) {
    if (s)
        hd_json_string(s, strlen(s), put, o);
    else
        PUT(o, "null");
}

/* Integers and the duration in decimal without the printf machinery: printing them was a fifth of the record's
 * instructions. */
static void put_int(json_out_t *o, int64_t v) {
    char d[HD_INT64_TEXT];
    put(o, d, hd_int64_text(v, d));
}

/* Milliseconds with three decimals ("%.3f" of us / 1000.0: 21.364, not 21.364000000000001). */
static void put_ms(json_out_t *o, int64_t us) {
    uint64_t u = us < 0 ? 0 - (uint64_t)us : (uint64_t)us;
    char frac[4] = {'.', (char)('0' + u / 100 % 10), (char)('0' + u / 10 % 10), (char)('0' + u % 10)};
    if (us < 0) PUT(o, "-");
    put_int(o, (int64_t)(u / 1000));
    put(o, frac, 4);
}

static void put_time(json_out_t *o, int64_t ms) {
    char t[40];
    hd_rfc3339_format(ms, t);
    put_str(o, t);
}

size_t hd_record_result_json(const hd_record_result_t *res, char **buf, size_t *cap) {
    json_out_t o = {*buf, 0, *cap};
    char text[HD_RECORD_RESPONSE_MAX + 1];
    PUT(&o, "{\"delivery_id\":");
    put_str(&o, res->delivery_id);
    PUT(&o, ",\"event_id\":");
    put_str(&o, res->event_id);
    PUT(&o, ",\"event_type\":");
    put_str(&o, res->event_type);
    PUT(&o, ",\"subscription_id\":");
    put_str(&o, res->subscription_id);
    PUT(&o, ",\"tenant\":");
    put_str(&o, res->tenant);
    PUT(&o, ",\"attempt\":");
    put_int(&o, res->attempt);
    PUT(&o, ",\"url\":");
    put_str(&o, res->url);
    PUT(&o, ",\"status_code\":");
    if (res->status_code)
        put_int(&o, res->status_code);
    else
        PUT(&o, "null");
    PUT(&o, ",\"success\":");
    if (res->success)
        PUT(&o, "true");
    else
        PUT(&o, "false");
    PUT(&o, ",\"outcome\":");
    put_str(&o, res->outcome);
    PUT(&o, ",\"error\":");
    put_str(&o, res->error);
    PUT(&o, ",\"response\":");
    if (res->response) hd_utf8_copy(text, sizeof(text), res->response, res->response_len);
    put_str(&o, res->response ? text : NULL);
    PUT(&o, ",\"duration_ms\":");
    put_ms(&o, res->duration_us);
    PUT(&o, ",\"attempted_at\":");
    put_time(&o, res->attempted_at_ms);
    PUT(&o, ",\"event_time\":");
    put_time(&o, res->event_time_ms);
    PUT(&o, ",\"source\":{\"topic\":");
    put_str(&o, res->src_topic);
    PUT(&o, ",\"partition\":");
    put_int(&o, res->src_partition);
    PUT(&o, ",\"offset\":");
    put_int(&o, res->src_offset);
    PUT(&o, "},\"next_retry_at\":");
    if (res->next_retry_at_ms)
        put_time(&o, res->next_retry_at_ms);
    else
        PUT(&o, "null");
    PUT(&o, ",\"final\":");
    if (res->final)
        PUT(&o, "true");
    else
        PUT(&o, "false");
    PUT(&o, ",\"replay\":");
    if (res->replay)
        PUT(&o, "true}");
    else
        PUT(&o, "false}");
    o.p[o.len] = '\0';
    *buf = o.p;
    *cap = o.cap;
    return o.len;
}

int hd_record_result(hd_record_t *r, const hd_record_result_t *res, void *record_opaque) {
    size_t len = hd_record_result_json(res, &r->json, &r->json_cap);
    return produce(r, r->results, res->delivery_id, strlen(res->delivery_id), r->json, len, NULL, record_opaque);
}

/* Why a record is in the dead-letter topic: hookd-reason, and hookd-error (error, or the reason when NULL). */
static void add_reason(rd_kafka_headers_t *hdrs, const char *reason, const char *error) {
    char text[512];
    if (!error) error = reason;
    rd_kafka_header_add(hdrs, "hookd-reason", -1, reason, -1);
    hd_utf8_copy(text, sizeof(text), error, strlen(error)); /* it may quote the event's bytes */
    rd_kafka_header_add(hdrs, "hookd-error", -1, text, -1);
}

/* The source message's headers (unless keep_orig is 0) and the dead-letter ones. */
static rd_kafka_headers_t *deadletter_headers(const rd_kafka_message_t *msg, int keep_orig, const char *reason,
                                              const char *error) {
    rd_kafka_headers_t *orig = NULL, *hdrs;
    char num[24];
    if (keep_orig && rd_kafka_message_headers(msg, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR)
        hdrs = rd_kafka_headers_copy(orig);
    else
        hdrs = rd_kafka_headers_new(6);
    add_reason(hdrs, reason, error);
    rd_kafka_header_add(hdrs, "hookd-source-topic", -1, rd_kafka_topic_name(msg->rkt), -1);
    snprintf(num, sizeof(num), "%d", (int)msg->partition);
    rd_kafka_header_add(hdrs, "hookd-source-partition", -1, num, -1);
    snprintf(num, sizeof(num), "%lld", (long long)msg->offset);
    rd_kafka_header_add(hdrs, "hookd-source-offset", -1, num, -1);
    return hdrs;
}

int hd_record_deadletter(hd_record_t *r, const rd_kafka_message_t *msg, const char *reason, const char *error,
                         void *record_opaque) {
    rd_kafka_headers_t *hdrs = deadletter_headers(msg, 1, reason, error);
    const void *key = msg->key;
    size_t key_len = msg->key_len, len = msg->len, fixed = key_len + headers_bytes(hdrs) + 64;
    /* A message too large to produce again (over event.max.bytes, which stays below the producer's limit) keeps
     * what fits; its source coordinates find the rest. */
    if (fixed + len > r->max_bytes) {
        if (fixed > r->max_bytes / 2) { /* a huge key or huge headers: the coordinates and the reason only */
            rd_kafka_headers_destroy(hdrs);
            hdrs = deadletter_headers(msg, 0, reason, error);
            key = NULL;
            key_len = 0;
            fixed = headers_bytes(hdrs) + 64;
        }
        char num[24];
        snprintf(num, sizeof(num), "%zu", msg->len);
        rd_kafka_header_add(hdrs, "hookd-truncated-from", -1, num, -1);
        fixed += strlen(num) + 30;
        len = r->max_bytes > fixed ? r->max_bytes - fixed : 0;
        if (len > msg->len) len = msg->len;
    }
    return produce(r, r->deadletter, key, key_len, msg->payload, len, hdrs, record_opaque);
}

int hd_record_produce(hd_record_t *r, const char *topic, const char *key, const void *value, size_t len,
                      rd_kafka_headers_t *hdrs, void *record_opaque) {
    rd_kafka_topic_t *t = rd_kafka_topic_new(r->rk, topic, NULL); /* a lookup when the handle exists */
    int rc = produce(r, t, key, key ? strlen(key) : 0, value, len, hdrs, record_opaque);
    rd_kafka_topic_destroy(t);
    return rc;
}

int hd_record_job(hd_record_t *r, const char *topic, const hd_retry_job_t *job, const char *reason, const char *error,
                  void *record_opaque) {
    char *value = hd_retry_job_encode(job);
    size_t len = strlen(value);
    rd_kafka_headers_t *hdrs = NULL;
    int diverted = 0;
    if (!topic) {
        hdrs = rd_kafka_headers_new(2);
        add_reason(hdrs, reason, error);
    }
    if (len + strlen(job->delivery_id) > r->max_bytes) {
        static const char *const keep[] = {"id", "type", "tenant"};
        char why[256];
        json_object *slim = json_object_new_object(), *v;
        for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
            if (json_object_object_get_ex(job->event, keep[i], &v))
                json_object_object_add(slim, keep[i], json_object_get(v));
        hd_retry_job_t cut = *job;
        cut.event = slim;
        free(value);
        value = hd_retry_job_encode(&cut);
        json_object_put(slim);
        snprintf(why, sizeof(why),
                 "the retry job of %zu bytes exceeds the producer's message.max.bytes; the event is at its source "
                 "topic, partition and offset",
                 len);
        if (hdrs) rd_kafka_headers_destroy(hdrs);
        hdrs = rd_kafka_headers_new(2);
        add_reason(hdrs, "too-large", why);
        HD_LOG(HD_LOG_ERROR, "record", HD_KV("delivery_id", job->delivery_id), "%s", why);
        topic = NULL;
        diverted = 1;
    }
    int rc = hd_record_produce(r, topic ? topic : rd_kafka_topic_name(r->deadletter), job->delivery_id, value,
                               strlen(value), hdrs, record_opaque);
    free(value);
    return rc ? rc : diverted;
}

int hd_record_disabled(hd_record_t *r, const char *subscription_id, const char *tenant, const char *url,
                       const char *reason, int64_t at_ms, void *record_opaque) {
    char at[HD_RFC3339_SIZE];
    hd_rfc3339_format(at_ms, at);
    json_object *o = json_object_new_object();
    json_object_object_add(o, "type", json_object_new_string("subscription.disabled"));
    json_object_object_add(o, "subscription_id", json_object_new_string(subscription_id));
    json_object_object_add(o, "tenant", json_object_new_string(tenant));
    json_object_object_add(o, "url", json_object_new_string(url));
    json_object_object_add(o, "reason", json_object_new_string(reason));
    json_object_object_add(o, "at", json_object_new_string(at));
    const char *value = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    int rc = produce(r, r->ops, subscription_id, strlen(subscription_id), value, strlen(value), NULL, record_opaque);
    json_object_put(o);
    return rc;
}

static void create_topics(hd_record_t *r, const char *const *topics, int cnt) {
    rd_kafka_NewTopic_t *nt[cnt];
    char err[256];
    int n = 0;
    for (int i = 0; i < cnt; i++) {
        /* -1: the broker's default partition count and replication factor (KIP-464). */
        nt[n] = rd_kafka_NewTopic_new(topics[i], -1, -1, err, sizeof(err));
        if (nt[n])
            n++;
        else
            HD_LOG(HD_LOG_WARN, "record", NULL, "topic %s: %s", topics[i], err);
    }
    if (!r->admin) r->admin = rd_kafka_queue_new(r->rk);
    rd_kafka_CreateTopics(r->rk, nt, (size_t)n, NULL, r->admin);
    rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
}

static void serve_admin(hd_record_t *r) {
    rd_kafka_event_t *ev = rd_kafka_queue_poll(r->admin, 0);
    if (!ev) return;
    const rd_kafka_CreateTopics_result_t *res = rd_kafka_event_CreateTopics_result(ev);
    size_t n = 0;
    const rd_kafka_topic_result_t **tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
    if (rd_kafka_event_error(ev))
        HD_LOG(HD_LOG_WARN, "record", NULL, "creating topics: %s", rd_kafka_event_error_string(ev));
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
        if (!e)
            HD_LOG(HD_LOG_INFO, "record", NULL, "created topic %s", rd_kafka_topic_result_name(tr[i]));
        else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            HD_LOG(HD_LOG_WARN, "record", NULL, "topic %s not created: %s", rd_kafka_topic_result_name(tr[i]),
                   rd_kafka_err2str(e));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(r->admin);
    r->admin = NULL;
}

void hd_record_poll(hd_record_t *r) {
    rd_kafka_poll(r->rk, 0);
    produce_kept(r);
    if (r->admin) serve_admin(r);
}

size_t hd_record_outstanding_bytes(const hd_record_t *r) {
    return r->outstanding_bytes;
}

/* Until Kafka acknowledged a first record, the idempotent producer may still be waiting for its producer id: when
 * hd_record_new's priming finds no broker up, librdkafka asks again only after 500 ms, and a backlog consumed
 * meanwhile left 4,600-8,600 records waiting in memory (docs/benchmarks.md). */
#define FIRST_ACK_BUDGET_KBYTES 256

int hd_record_has_room(const hd_record_t *r, int64_t max_kbytes) {
    int64_t limit = r->acked ? max_kbytes : FIRST_ACK_BUDGET_KBYTES;
    return r->outstanding_bytes < (size_t)limit * 1024;
}

int hd_record_flush(hd_record_t *r, int timeout_ms) {
    int64_t deadline = hd_mono_us() + (int64_t)timeout_ms * 1000;
    for (;;) { /* kept records are due every KEEP_RETRY_MS: give them their turns within the time */
        int64_t left_ms = (deadline - hd_mono_us()) / 1000;
        rd_kafka_flush(r->rk, (int)(left_ms < 0 ? 0 : left_ms < 100 ? left_ms : 100));
        produce_kept(r);
        if ((!r->kept && !rd_kafka_outq_len(r->rk)) || r->fatal || hd_mono_us() >= deadline) break;
    }
    return rd_kafka_outq_len(r->rk) + r->kept_cnt;
}

int hd_record_fatal(const hd_record_t *r) {
    return r->fatal;
}

size_t hd_record_max_bytes(const hd_record_t *r) {
    return r->max_bytes;
}

static int check_limits(hd_record_t *r, size_t need, const char *const *topics, int cnt, char *errstr,
                        size_t errstr_size) {
    if (need > r->max_bytes) {
        snprintf(errstr, errstr_size,
                 "event.max.bytes with a retry job's envelope needs records of %zu bytes, over the producer's "
                 "message.max.bytes (%zu with its framing): lower event.max.bytes or raise "
                 "kafka.producer.message.max.bytes (and the retry and dead-letter topics' max.message.bytes)",
                 need, r->max_bytes);
        return -1;
    }
    /* A record batch adds its own header to the record; the topic limit is on the batch. */
    size_t topic_max = hd_kafka_topics_max_message(r->rk, topics, cnt, 2000);
    if (topic_max && topic_max < r->max_bytes + 128) {
        snprintf(errstr, errstr_size,
                 "a retry or dead-letter topic has max.message.bytes = %zu, below the producer's message.max.bytes "
                 "(%zu): Kafka would refuse the largest records; raise the topic's max.message.bytes or lower "
                 "kafka.producer.message.max.bytes",
                 topic_max, r->max_bytes);
        return -1;
    }
    return 0;
}

int hd_record_prepare(hd_record_t *r, const hd_retry_t *retry, size_t event_max_bytes, char *errstr,
                      size_t errstr_size) {
    const char *topics[HD_RETRY_MAX_TIERS + 3];
    int n = 0;
    for (int i = 0; i < retry->cnt; i++)
        topics[n++] = retry->topic[i];
    topics[n++] = rd_kafka_topic_name(r->deadletter);
    if (check_limits(r, event_max_bytes + HD_RETRY_JOB_OVERHEAD, topics, n, errstr, errstr_size)) return -1;
    topics[n++] = rd_kafka_topic_name(r->results);
    topics[n++] = rd_kafka_topic_name(r->ops);
    create_topics(r, topics, n);
    return 0;
}
