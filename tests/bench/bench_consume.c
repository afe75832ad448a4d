/* The floor under hookd's event-to-delivery latency in `make bench`: a plain consumer (its own group, the fetch
 * settings hookd uses) reading the same events in the same run, reporting how long after its envelope "time"
 * each one arrived. What Kafka, the producer's batching and the box's load cost before hookd does anything.
 * With OUT, also writes "<event id> <arrival ms>" per event, so that hookd's own share can be taken per event.
 *   bench_consume BROKERS TOPIC GROUP COUNT TIMEOUT_S [OUT]  ->  one JSON line on stdout */
#define _GNU_SOURCE
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* "time":"YYYY-MM-DDTHH:MM:SS.mmmZ" as bench_produce writes it; -1 when absent. */
static double event_ms(const char *v, size_t len) {
    const char *key = memmem(v, len, "\"time\":\"", 8);
    if (!key || (size_t)(key - v) + 8 + 24 > len) return -1;
    struct tm tm = {0};
    const char *rest = strptime(key + 8, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest || *rest != '.') return -1;
    return (double)timegm(&tm) * 1e3 + atoi(rest + 1);
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: bench_consume BROKERS TOPIC GROUP COUNT TIMEOUT_S [OUT]\n");
        return 2;
    }
    FILE *out = argc == 7 ? fopen(argv[6], "w") : NULL;
    if (argc == 7 && !out) {
        perror(argv[6]);
        return 1;
    }
    long count = atol(argv[4]), got = 0;
    double deadline = now_ms() + atof(argv[5]) * 1e3;
    double *lat = calloc((size_t)count + 1, sizeof(*lat));
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *settings[][2] = {{"bootstrap.servers", argv[1]},
                                 {"group.id", argv[3]},
                                 {"auto.offset.reset", "earliest"},
                                 {"fetch.wait.max.ms", "100"},
                                 {"enable.auto.commit", "false"}};
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        rd_kafka_conf_set(conf, settings[i][0], settings[i][1], NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!rk || !lat) {
        fprintf(stderr, "bench_consume: %s\n", rk ? "out of memory" : err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, argv[2], RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    while (got < count && now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) continue;
        if (!m->err) {
            double t = event_ms(m->payload, m->len), arrived = now_ms();
            if (t >= 0) lat[got++] = arrived - t;
            /* bench_produce's envelopes start with {"id":"...": the id is the first quoted value */
            const char *id = m->len > 7 ? memchr((const char *)m->payload + 7, '"', m->len - 7) : NULL;
            if (out && id)
                fprintf(out, "%.*s %.3f\n", (int)(id - (const char *)m->payload - 7), (const char *)m->payload + 7,
                        arrived);
        }
        rd_kafka_message_destroy(m);
    }
    if (out) fclose(out);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    qsort(lat, (size_t)got, sizeof(*lat), cmp);
    if (got == 0) {
        printf("{\"consumed\": 0}\n");
        return 1;
    }
    printf("{\"consumed\": %ld, \"p50_ms\": %.1f, \"p99_ms\": %.1f, \"max_ms\": %.1f}\n", got, lat[(got - 1) / 2],
           lat[(got * 99 - 1) / 100], lat[got - 1]);
    free(lat);
    return 0;
}
