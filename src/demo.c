#include "hookd/demo.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/kafka.h"
#include "hookd/log.h"
#include "hookd/receiver.h"
#include "hookd/retry.h"
#include "hookd/sign.h"
#include "hookd/util.h"
#include "hookd/workers.h"

static const struct {
    const char *id, *tenant, *name, *types, *path;
    int status, fail_first;
} demo_subs[] = {
    {"sub_crm", "acme", "CRM sync", "customer.created,customer.updated", "/crm", 200, 0},
    {"sub_billing", "acme", "Billing", "customer.credits.updated", "/billing", 200, 0},
    {"sub_orders", "acme", "Fulfilment", "order.status.changed", "/orders", 202, 0},
    {"sub_flaky", "acme", "Flaky partner", "customer.created", "/flaky", 200, 1},
    {"sub_globex", "globex", "Another tenant", "customer.created", "/globex", 200, 0},
};
#define SUBS_CNT (int)(sizeof(demo_subs) / sizeof(demo_subs[0]))

static const char *const demo_events[] = {
    "{\"id\":\"evt_1001\",\"type\":\"customer.created\",\"tenant\":\"acme\",\"time\":\"2026-11-22T09:00:00Z\","
    "\"data\":{\"customer\":{\"id\":\"cus_42\",\"email\":\"ada@example.com\",\"plan\":\"free\"}}}",
    "{\"id\":\"evt_1002\",\"type\":\"customer.credits.updated\",\"tenant\":\"acme\",\"time\":\"2026-11-22T09:00:01Z\","
    "\"data\":{\"customer_id\":\"cus_42\",\"credits\":1500,\"delta\":500}}",
    "{\"id\":\"evt_1003\",\"type\":\"order.status.changed\",\"tenant\":\"acme\",\"time\":\"2026-11-22T09:00:02Z\","
    "\"data\":{\"order_id\":\"ord_7\",\"status\":\"shipped\",\"previous_status\":\"paid\"}}",
    "{\"id\":\"evt_1004\",\"type\":\"customer.updated\",\"tenant\":\"initech\",\"data\":{\"customer_id\":\"c_9\"}}",
    "{this is not json",
};
#define EVENTS_CNT (int)(sizeof(demo_events) / sizeof(demo_events[0]))
/* evt_1001 reaches CRM and the flaky partner (503, then 200 on the retry), 1002 billing, 1003 fulfilment, 1004
 * nobody (no subscriber). */
#define EXPECTED_RESULTS 5
#define EXPECTED_DEADLETTERS 1

static char *write_subscriptions(const char *dir, uint16_t port, char secrets[][48]) {
    json_object *arr = json_object_new_array();
    char url[256];
    for (int i = 0; i < SUBS_CNT; i++) {
        json_object *s = json_object_new_object(), *types = json_object_new_array();
        char *list = hd_xstrdup(demo_subs[i].types), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_object_array_add(types, json_object_new_string(t));
        free(list);
        snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, demo_subs[i].path);
        json_object_object_add(s, "id", json_object_new_string(demo_subs[i].id));
        json_object_object_add(s, "tenant", json_object_new_string(demo_subs[i].tenant));
        json_object_object_add(s, "name", json_object_new_string(demo_subs[i].name));
        json_object_object_add(s, "event_types", types);
        json_object_object_add(s, "url", json_object_new_string(url));
        json_object_object_add(s, "secret", json_object_new_string(secrets[i]));
        if (demo_subs[i].status == 202) json_object_object_add(s, "success_code", json_object_new_int(202));
        json_object *h = json_object_new_object();
        json_object_object_add(h, "x-demo", json_object_new_string("hookd"));
        json_object_object_add(s, "headers", h);
        json_object_array_add(arr, s);
    }
    json_object *root = json_object_new_object();
    json_object_object_add(root, "subscriptions", arr);
    char *path = hd_xmalloc(strlen(dir) + 32);
    sprintf(path, "%s/subscriptions.json", dir);
    int rc = json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    json_object_put(root);
    if (rc) {
        free(path);
        return NULL;
    }
    return path;
}

/* brokers NULL: the client that owns the mock cluster. The demo's producer and reader are plain clients (the
 * producer writes events as any service would; the reader stores nothing). */
static rd_kafka_t *new_client(const hd_conf_t *conf, hd_kafka_role_t role, const char *brokers, char *errstr,
                              size_t errstr_size) {
    const hd_kafka_prop_t props[] = {
        {"group.id", "hookd-demo-reader"},
        {brokers ? "bootstrap.servers" : "test.mock.num.brokers", brokers ? brokers : "1"}};
    rd_kafka_conf_t *c = hd_kafka_conf(conf, role, props + (role == HD_KAFKA_READER ? 0 : 1),
                                       role == HD_KAFKA_READER ? 2 : 1, errstr, errstr_size);
    return c ? hd_kafka_new(role, c, errstr, errstr_size) : NULL;
}

static void print_row(const char *a, const char *b, const char *c, const char *d, const char *e, const char *f,
                      const char *g) {
    printf("%-10s %-25s %-14s %-30s %-7s %-8s %s\n", a, b, c, d, e, f, g);
}

/* Reads the results and dead-letter topics from the start until every expected record arrived. */
static int collect(const char *brokers, const hd_conf_t *conf, const atomic_int *interrupted) {
    char err[512];
    rd_kafka_t *rk = new_client(conf, HD_KAFKA_READER, brokers, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "demo: %s\n", err);
        return -1;
    }
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(parts, conf->results_topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_topic_partition_list_add(parts, conf->deadletter_topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);

    int results = 0, dead = 0;
    int64_t deadline = hd_mono_us() + 60 * 1000000LL;
    printf("\n");
    print_row("event", "type", "subscription", "url", "status", "latency", "outcome");
    print_row("-----", "----", "------------", "---", "------", "-------", "-------");
    while ((results < EXPECTED_RESULTS || dead < EXPECTED_DEADLETTERS) && hd_mono_us() < deadline &&
           !atomic_load(interrupted)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m) continue;
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        if (!strcmp(rd_kafka_topic_name(m->rkt), conf->deadletter_topic)) {
            const void *reason = "";
            size_t rlen = 0;
            rd_kafka_headers_t *h;
            if (!rd_kafka_message_headers(m, &h)) rd_kafka_header_get_last(h, "hookd-reason", &reason, &rlen);
            char r[64];
            snprintf(r, sizeof(r), "dead-letter: %.*s", (int)rlen, (const char *)reason);
            char where[32];
            snprintf(where, sizeof(where), "offset %" PRId64, m->offset);
            print_row("(bad)", "-", "-", where, "-", "-", r);
            dead++;
        } else {
            json_object *o = json_tokener_parse(m->payload ? (const char *)m->payload : "");
            json_object *v;
            char status[16] = "-", latency[24], url[31];
#define S(k) (json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "?")
            if (json_object_object_get_ex(o, "status_code", &v) && json_object_is_type(v, json_type_int))
                snprintf(status, sizeof(status), "%d", json_object_get_int(v));
            json_object_object_get_ex(o, "duration_ms", &v);
            snprintf(latency, sizeof(latency), "%.1f ms", json_object_get_double(v));
            snprintf(url, sizeof(url), "%s", strstr(S("url"), "/") ? strrchr(S("url"), '/') : S("url"));
            char full[64];
            snprintf(full, sizeof(full), ".../%s (%s)", url + 1, S("tenant"));
            char outcome[48];
            json_object_object_get_ex(o, "attempt", &v);
            int attempt = json_object_get_int(v);
            json_object_object_get_ex(o, "next_retry_at", &v);
            snprintf(outcome, sizeof(outcome), "%s%s (attempt %d)", S("outcome"), v ? ", retry scheduled" : "",
                     attempt);
            print_row(S("event_id"), S("event_type"), S("subscription_id"), full, status, latency, outcome);
#undef S
            json_object_put(o);
            results++;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    printf("\n%d delivery outcomes and %d dead-lettered message on the results and dead-letter topics.\n", results,
           dead);
    return results == EXPECTED_RESULTS && dead == EXPECTED_DEADLETTERS ? 0 : -1;
}

int hd_demo_run(hd_conf_t *conf, const atomic_int *interrupted) {
    char err[512], dir[32], secrets[SUBS_CNT][48];
    rd_kafka_t *producer = NULL, *mock_owner = NULL;
    hd_receiver_t *recv = NULL;
    hd_workers_t *ws = NULL;
    atomic_int stop = 0;
    int rc = 1;
    char *path = NULL;

    if (hd_log_min_level < HD_LOG_WARN && !getenv("HOOKD_LOG_LEVEL")) hd_log_min_level = HD_LOG_WARN;
    printf("hookd demo: Kafka is librdkafka's in-process mock cluster; subscriptions come from a JSON file;\n"
           "the receiver on 127.0.0.1 verifies every signature.\n");

    hd_receiver_route_t routes[SUBS_CNT];
    for (int i = 0; i < SUBS_CNT; i++) {
        hd_sign_secret_generate(secrets[i], sizeof(secrets[i]));
        routes[i] = (hd_receiver_route_t){demo_subs[i].path, demo_subs[i].status, demo_subs[i].fail_first, secrets[i]};
    }
    if (!(recv = hd_receiver_new(0, routes, SUBS_CNT, err, sizeof(err)))) goto out;
    int prefix = snprintf(dir, sizeof(dir), "/tmp/hookd-demo-");
    memset(dir + prefix, 'X', 6); /* mkdtemp's template */
    dir[prefix + 6] = '\0';
    if (!mkdtemp(dir) || !(path = write_subscriptions(dir, hd_receiver_port(recv), secrets))) {
        snprintf(err, sizeof(err), "cannot write the demo subscriptions under /tmp");
        goto out;
    }
    printf("subscriptions: %s\nreceiver:      http://127.0.0.1:%u\n", path, hd_receiver_port(recv));

    /* The mock cluster lives inside the client that creates it. */
    if (!(mock_owner = new_client(conf, HD_KAFKA_PRODUCER, NULL, err, sizeof(err)))) goto out;
    rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(mock_owner);
    const char *brokers = rd_kafka_mock_cluster_bootstraps(mc);
    rd_kafka_mock_topic_create(mc, conf->topics, 3, 1);
    rd_kafka_mock_topic_create(mc, conf->results_topic, 1, 1);
    rd_kafka_mock_topic_create(mc, conf->deadletter_topic, 1, 1);
    rd_kafka_mock_topic_create(mc, conf->ops_topic, 1, 1);

    char storeuri[512];
    snprintf(storeuri, sizeof(storeuri), "file:%s", path);
    if (hd_conf_set(conf, "brokers", brokers, err, sizeof(err)) ||
        hd_conf_set(conf, "store", storeuri, err, sizeof(err)) ||
        hd_conf_set(conf, "group.id", "hookd-demo", err, sizeof(err)) ||
        hd_conf_set(conf, "http.allow.cidrs", "127.0.0.0/8", err, sizeof(err)) || /* the receiver is local */
        hd_conf_set(conf, "retry.schedule", "1s,5s", err, sizeof(err)) ||
        hd_conf_set(conf, "workers", "1", err, sizeof(err)))
        goto out;
    /* The mock cluster has no CreateTopics: make the retry tiers here. */
    hd_retry_t *retry = hd_retry_new(conf, err, sizeof(err));
    if (!retry) goto out;
    for (int i = 0; i < retry->cnt; i++)
        rd_kafka_mock_topic_create(mc, retry->topic[i], 1, 1);
    hd_retry_destroy(retry);

    if (!(producer = new_client(conf, HD_KAFKA_PRODUCER, brokers, err, sizeof(err)))) goto out;
    for (int i = 0; i < EVENTS_CNT; i++) {
        const char *key = i < 3 ? "acme" : "other";
        rd_kafka_producev(producer, RD_KAFKA_V_TOPIC(conf->topics), RD_KAFKA_V_KEY(key, strlen(key)),
                          RD_KAFKA_V_VALUE((void *)demo_events[i], strlen(demo_events[i])),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    }
    rd_kafka_flush(producer, 5000);
    printf("published:     %d events (one malformed) to %s\n", EVENTS_CNT, conf->topics);

    if (!(ws = hd_workers_new(conf, NULL, err, sizeof(err)))) goto out;
    if (hd_workers_start(ws, &stop, err, sizeof(err))) goto out;
    printf("dispatching    (the mock cluster takes a few seconds to form the consumer group)...\n");

    int collected = collect(brokers, conf, interrupted);
    int received, verified;
    hd_receiver_counts(recv, &received, &verified);
    printf("receiver:      %d requests, %d with a valid signature\n", received, verified);
    rc = collected == 0 && received == EXPECTED_RESULTS && verified == received ? 0 : 1;
    printf("%s\n", rc ? "demo FAILED" : "demo OK");
    err[0] = '\0';

out:
    if (ws) { /* the threads that started */
        atomic_store(&stop, 1);
        hd_workers_join(ws);
    }
    if (rc && err[0]) fprintf(stderr, "hookd demo: %s\n", err);
    hd_workers_destroy(ws);
    if (producer) rd_kafka_destroy(producer);
    if (mock_owner) rd_kafka_destroy(mock_owner);
    hd_receiver_destroy(recv);
    if (path) {
        unlink(path);
        rmdir(dir);
    }
    free(path);
    return rc;
}
