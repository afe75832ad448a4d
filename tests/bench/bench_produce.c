/* Produces hookd events for `make bench`: COUNT events of about 1 KB for TENANTS tenants, at RATE events/s
 * (0: as fast as possible), each envelope's "time" set to the moment it is produced so that event-to-delivery
 * latency can be read off the results topic.
 *   bench_produce BROKERS TOPIC COUNT RATE TENANTS  ->  one JSON line on stdout */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: bench_produce BROKERS TOPIC COUNT RATE TENANTS\n");
        return 2;
    }
    long count = atol(argv[3]), tenants = atol(argv[5]);
    double rate = atof(argv[4]);
    char err[512], pad[801];
    memset(pad, 'p', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], NULL, 0);
    /* Paced: librdkafka's default linger, as a producer service would run it (1 ms made a thousand produce
     * requests a second, a load on the shared broker that no real producer adds). */
    rd_kafka_conf_set(conf, "linger.ms", rate > 0 ? "5" : "20", NULL, 0);
    rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_produce: %s\n", err);
        return 1;
    }
    double t0 = now_s();
    for (long i = 0; i < count; i++) {
        if (rate > 0) {
            double due = t0 + i / rate, now = now_s();
            if (due > now) usleep((useconds_t)((due - now) * 1e6));
        }
        char value[1200], tenant[32], when[40];
        double t = now_s();
        time_t sec = (time_t)t;
        struct tm tm;
        gmtime_r(&sec, &tm);
        size_t n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(when + n, sizeof(when) - n, ".%03dZ", (int)((t - (double)sec) * 1000));
        snprintf(tenant, sizeof(tenant), "tenant-%ld", i % tenants);
        int len =
            snprintf(value, sizeof(value),
                     "{\"id\":\"evt-%ld-%.0f\",\"type\":\"customer.created\",\"tenant\":\"%s\",\"time\":\"%s\","
                     "\"data\":{\"customer\":{\"id\":\"cus_%ld\",\"email\":\"c%ld@example.com\",\"notes\":\"%s\"}}}",
                     i, t0 * 1000, tenant, when, i, i, pad);
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_KEY(tenant, strlen(tenant)),
                                 RD_KAFKA_V_VALUE(value, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    int left = rd_kafka_outq_len(rk);
    printf("{\"produced\": %ld, \"unflushed\": %d, \"seconds\": %.3f}\n", count, left, now_s() - t0);
    rd_kafka_destroy(rk);
    return left ? 1 : 0;
}
