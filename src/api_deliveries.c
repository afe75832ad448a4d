#include "hookd/api_deliveries.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/api_json.h"
#include "hookd/api_page.h"
#include "hookd/deliverylog.h"
#include "hookd/kafka.h"
#include "hookd/mongo.h"
#include "hookd/util.h"

static const char *const statuses[] = {"pending", "succeeded", "failed", "retrying"};

json_object *hd_api_delivery_json(const bson_t *doc) {
    static const char *const keys[] = {"id",          "alias",       "subscription_id", "event_id",      "event_type",
                                       "status",      "status_code", "response",        "error_message", "is_success",
                                       "retry_count", "sent_at",     "next_retry_at",   "created_at"};
    json_object *raw = hd_api_json_from_bson(doc), *o = json_object_new_object(), *v;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        json_object_object_add(o, keys[i], json_object_object_get_ex(raw, keys[i], &v) ? json_object_get(v) : NULL);
    json_object_put(raw);
    return o;
}

static void list(hd_api_req_t *r, const char *sub_id) {
    static const char *const params[] = {HD_API_PAGE_PARAMS, "event_type", "status", "from_date", "to_date", NULL};
    if (!hd_api_req_params(r, params)) return;
    const char *type = hd_api_req_query(r, "event_type"), *status = hd_api_req_query(r, "status");
    int64_t from = INT64_MIN, to = INT64_MIN; /* absent; times before 1970 are negative */
    if (hd_api_req_query_time(r, "from_date", &from) || hd_api_req_query_time(r, "to_date", &to)) return;
    if (status) {
        size_t i = 0;
        while (i < sizeof(statuses) / sizeof(statuses[0]) && strcmp(statuses[i], status))
            i++;
        if (i == sizeof(statuses) / sizeof(statuses[0])) {
            json_object *d = NULL;
            hd_api_req_detail(&d, "status", "pending, succeeded, failed or retrying");
            hd_api_req_error(r, 400, "invalid-param", d, "status must be pending, succeeded, failed or retrying");
            return;
        }
    }
    bson_t *filter = BCON_NEW("tenant", BCON_UTF8(r->tenant));
    if (sub_id) BSON_APPEND_UTF8(filter, "subscription_id", sub_id);
    if (type) BSON_APPEND_UTF8(filter, "event_type", type);
    if (status) BSON_APPEND_UTF8(filter, "status", status);
    if (from != INT64_MIN || to != INT64_MIN) {
        bson_t range;
        BSON_APPEND_DOCUMENT_BEGIN(filter, "created_at", &range);
        if (from != INT64_MIN) BSON_APPEND_DATE_TIME(&range, "$gte", from);
        if (to != INT64_MIN) BSON_APPEND_DATE_TIME(&range, "$lte", to);
        bson_append_document_end(filter, &range);
    }
    hd_api_page_list(r, HD_MONGO_DELIVERIES, filter, "sort_key", 1, hd_api_delivery_json);
    bson_destroy(filter);
}

/* The row of one delivery of sub_id, named by its id or by its event id. */
static bson_t *row_filter(hd_api_req_t *r, const char *sub_id, const char *eid) {
    return BCON_NEW("tenant", BCON_UTF8(r->tenant), "subscription_id", BCON_UTF8(sub_id), "$or", "[", "{", "_id",
                    BCON_UTF8(eid), "}", "{", "event_id", BCON_UTF8(eid), "}", "]");
}

/* Needs no subscription: a result recorded after its subscription was deleted stays removable. */
static void delete_row(hd_api_req_t *r, const char *sub_id, const char *eid) {
    if (!hd_api_req_params(r, NULL)) return;
    if (!hd_api_req_delete(r, HD_MONGO_DELIVERIES, row_filter(r, sub_id, eid), 0, "deleting the delivery"))
        hd_api_req_error(r, 404, "not-found", NULL, "no delivery %s for subscription %s", eid, sub_id);
}

void hd_api_deliveries_forget(hd_api_req_t *r, const char *sub_id) {
    bson_t *filter = BCON_NEW("tenant", BCON_UTF8(r->tenant), "subscription_id", BCON_UTF8(sub_id));
    hd_api_req_delete(r, HD_MONGO_DELIVERIES, filter, 1, "deleting the subscription's delivery log");
}

/* An event read back from Kafka, owning copies of its parts. */
typedef struct fetched_s {
    char *value, *key;
    size_t len;
    rd_kafka_headers_t *headers; /* without hookd-subscription; NULL when none */
} fetched_t;

/* Reads the message at topic/partition/offset with a short-lived consumer outside any group. 0, or -1 with errstr
 * when it is gone (retention) or Kafka does not answer. The message is copied out: a live message would keep the
 * consumer from being destroyed. */
static int fetch(const hd_conf_t *conf, const char *topic, int32_t partition, int64_t offset, fetched_t *out,
                 char *errstr, size_t errstr_size) {
    static const hd_kafka_prop_t props[] = {{"auto.offset.reset", "error"}}; /* never slide to another offset */
    rd_kafka_conf_t *kc = hd_kafka_conf(conf, HD_KAFKA_READER, props, 1, errstr, errstr_size);
    rd_kafka_t *rk = kc ? hd_kafka_new(HD_KAFKA_READER, kc, errstr, errstr_size) : NULL;
    if (!rk) return -1;
    int rc = -1;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_consume_start(rkt, partition, offset) == -1) {
        snprintf(errstr, errstr_size, "%s", rd_kafka_err2str(rd_kafka_last_error()));
    } else {
        rd_kafka_message_t *m = rd_kafka_consume(rkt, partition, 10000);
        rd_kafka_headers_t *hdrs;
        if (!m || m->err || m->offset != offset) {
            snprintf(errstr, errstr_size, "event at %s [%d] offset %lld: %s", topic, (int)partition, (long long)offset,
                     m ? (m->err ? rd_kafka_message_errstr(m) : "no longer there") : "timed out");
        } else {
            out->value = hd_xstrndup(m->payload, m->len);
            out->len = m->len;
            out->key = m->key ? hd_xstrndup(m->key, m->key_len) : NULL;
            if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                out->headers = rd_kafka_headers_copy(hdrs);
                rd_kafka_header_remove(out->headers, "hookd-subscription");
            }
            rc = 0;
        }
        if (m) rd_kafka_message_destroy(m);
        rd_kafka_consume_stop(rkt, partition);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return rc;
}

static void retry(hd_api_req_t *r, const char *sub_id, const char *eid) {
    if (!hd_api_req_params(r, NULL)) return;
    bson_t *sub = NULL, *row = NULL;
    bson_iter_t it, src;
    char err[512], topic[256] = "";
    int32_t partition = -1;
    int64_t offset = -1;
    if (!hd_api_req_need_object(r, 1)) return;
    if (r->body && json_object_object_length(r->body)) {
        hd_api_req_error(r, 422, "invalid-param", NULL, "retry takes no fields");
        return;
    }
    if (hd_api_req_find_subscription(r, sub_id, &sub) != 1) return;
    mongoc_collection_t *coll = mongoc_client_get_collection(r->client, r->database, HD_MONGO_DELIVERIES);
    bson_t *filter = row_filter(r, sub_id, eid);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *d;
    bson_error_t berr;
    if (mongoc_cursor_next(cur, &d)) row = bson_copy(d);
    if (mongoc_cursor_error(cur, &berr)) {
        hd_api_req_internal(r, "reading the delivery", berr.message);
        goto out;
    }
    if (!row) {
        hd_api_req_error(r, 404, "not-found", NULL, "no delivery %s for subscription %s", eid, sub_id);
        goto out;
    }
    if (bson_iter_init_find(&it, sub, "is_active") && BSON_ITER_HOLDS_BOOL(&it) && !bson_iter_bool(&it)) {
        hd_api_req_error(r, 409, "conflict", NULL, "subscription %s is not active: activate it to retry", sub_id);
        goto out;
    }
    if (bson_iter_init_find(&it, row, "source") && BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &src)) {
        while (bson_iter_next(&src)) {
            const char *k = bson_iter_key(&src);
            if (!strcmp(k, "topic") && BSON_ITER_HOLDS_UTF8(&src))
                snprintf(topic, sizeof(topic), "%s", bson_iter_utf8(&src, NULL));
            else if (!strcmp(k, "partition"))
                partition = (int32_t)bson_iter_as_int64(&src);
            else if (!strcmp(k, "offset"))
                offset = bson_iter_as_int64(&src);
        }
    }
    if (!*topic || partition < 0 || offset < 0) {
        hd_api_req_error(r, 409, "conflict", NULL, "delivery %s has no recorded attempt to retry yet", eid);
        goto out;
    }
    fetched_t ev = {0};
    if (fetch(r->conf, topic, partition, offset, &ev, err, sizeof(err))) {
        hd_api_req_error(r, 409, "conflict", NULL, "the original event cannot be read back from Kafka (%s)", err);
        goto out;
    }
    bson_iter_t f;
    const char *event_id = bson_iter_init_find(&f, row, "event_id") ? bson_iter_utf8(&f, NULL) : eid;
    const char *type = bson_iter_init_find(&f, row, "event_type") ? bson_iter_utf8(&f, NULL) : "";
    int pending = hd_deliverylog_pending(r->client, r->database, r->tenant, sub_id, event_id, type, err, sizeof(err));
    if (pending && ev.headers) rd_kafka_headers_destroy(ev.headers);
    if (pending ||
        hd_api_req_produce_targeted(r, topic, ev.key, ev.value, ev.len, ev.headers, sub_id, err, sizeof(err))) {
        hd_api_req_internal(r, "re-sending the event", err);
    } else {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "event_id", json_object_new_string(event_id));
        json_object_object_add(o, "subscription_id", json_object_new_string(sub_id));
        json_object_object_add(o, "status", json_object_new_string("pending"));
        hd_api_req_ok(r, 202, o);
    }
    free(ev.key);
    free(ev.value);
out:
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    bson_destroy(row);
    bson_destroy(sub);
}

void hd_api_deliveries(hd_api_req_t *r, const char *sub_id) {
    int get = !strcmp(r->method, "GET");
    if (!sub_id) {
        if (r->nseg != 1) return;
        if (get)
            list(r, NULL);
        else
            hd_api_req_not_allowed(r, "GET");
        return;
    }
    bson_t *sub = NULL;
    if (r->nseg == 3) {
        if (!get)
            hd_api_req_not_allowed(r, "GET");
        else if (hd_api_req_find_subscription(r, sub_id, &sub) == 1)
            list(r, sub_id);
    } else if (r->nseg == 4) {
        if (strcmp(r->method, "DELETE"))
            hd_api_req_not_allowed(r, "DELETE");
        else
            delete_row(r, sub_id, r->seg[3]);
    } else if (r->nseg == 5 && !strcmp(r->seg[4], "retry")) {
        if (strcmp(r->method, "POST"))
            hd_api_req_not_allowed(r, "POST");
        else
            retry(r, sub_id, r->seg[3]);
    }
    bson_destroy(sub);
}
