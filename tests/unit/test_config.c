/* The configuration table: environment mapping, kafka.* pass-through, the config file (errors name the line),
 * type and range validation, and the generated reference. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <librdkafka/rdkafka.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hookd/config.h"
#include "unit.h"

static void test_defaults(void) {
    hd_conf_t *c = hd_conf_new();
    CHECK_STR(c->group_id, "hookd");
    CHECK(c->http_max_inflight == 1024);
    CHECK_STR(c->metrics_listen, "");
    CHECK(c->kafka_cnt == 0);
    hd_conf_destroy(c);
    hd_conf_destroy(NULL);
}

static void test_env_mapping(void) {
    hd_conf_t *c = hd_conf_new();
    char err[256];
    char *env[] = {"PATH=/bin",
                   "HOOKD_GROUP_ID=g1",
                   "HOOKD_SHUTDOWN_GRACE_MS=2500",
                   "HOOKD_METRICS_LISTEN=0.0.0.0:9090",
                   "HOOKD_KAFKA_SASL_USERNAME=u",
                   "HOOKD_KAFKA_CONSUMER_FETCH_MAX_BYTES=1024",
                   "HOOKD_CONFIG=/nonexistent",
                   "HOOKD_TEST_KNOB=1",
                   "HOOKD_LOG_LEVEL=debug",
                   NULL};
    CHECK(hd_conf_load_env(c, env, err, sizeof(err)) == 0);
    CHECK_STR(c->group_id, "g1");
    CHECK(c->shutdown_grace_ms == 2500);
    CHECK_STR(c->metrics_listen, "0.0.0.0:9090");
    CHECK_STR(c->log_level, "debug");
    CHECK(c->kafka_cnt == 2);
    if (c->kafka_cnt == 2) {
        CHECK_STR(c->kafka[0].name, "sasl.username");
        CHECK_STR(c->kafka[0].value, "u");
        CHECK_STR(c->kafka[1].name, "consumer.fetch.max.bytes");
    }
    hd_conf_destroy(c);
}

static void test_env_errors(void) {
    hd_conf_t *c = hd_conf_new();
    char err[256] = "";
    char *bad_int[] = {"HOOKD_HTTP_TIMEOUT_MS=10s", NULL};
    CHECK(hd_conf_load_env(c, bad_int, err, sizeof(err)) == -1);
    CHECK_STR(err, "http.timeout.ms: \"10s\" is not an integer");
    char *range[] = {"HOOKD_HTTP_MAX_INFLIGHT=0", NULL};
    CHECK(hd_conf_load_env(c, range, err, sizeof(err)) == -1);
    CHECK_STR(err, "http.max.inflight: 0 is outside 1..100000");
    char *level[] = {"HOOKD_LOG_LEVEL=loud", NULL};
    CHECK(hd_conf_load_env(c, level, err, sizeof(err)) == -1);
    CHECK(strstr(err, "log.level") != NULL);
    CHECK(c->http_max_inflight == 1024); /* a rejected value leaves the setting alone */
    hd_conf_destroy(c);
}

/* A HOOKD_KAFKA_* that names no librdkafka property (a shell's, or Kubernetes' service link for a Service named
 * hookd-kafka) is skipped; a known property with a bad value is an error naming the variable. */
static void test_env_kafka_passthrough(void) {
    hd_conf_t *c = hd_conf_new();
    char err[256] = "";
    char *env[] = {"HOOKD_KAFKA_PORT=tcp://10.0.0.1:9092", "HOOKD_KAFKA_SERVICE_HOST=10.0.0.1",
                   "HOOKD_KAFKA_SOCKET_TIMEOUT_MS=5000", "HOOKD_KAFKA_PRODUCER_NO_SUCH_THING=1", NULL};
    CHECK(hd_conf_load_env(c, env, err, sizeof(err)) == 0);
    CHECK(c->kafka_cnt == 1 && !strcmp(c->kafka[0].name, "socket.timeout.ms"));
    char *bad[] = {"HOOKD_KAFKA_SECURITY_PROTOCOL=carrier-pigeon", NULL};
    CHECK(hd_conf_load_env(c, bad, err, sizeof(err)) == -1);
    CHECK(strstr(err, "HOOKD_KAFKA_SECURITY_PROTOCOL") && strstr(err, "kafka.security.protocol"));
    CHECK(c->kafka_cnt == 1);
    hd_conf_destroy(c);
}

/* hookd config: the values in force, not the defaults, with keys and passwords redacted. */
static void test_print_effective(void) {
    hd_conf_t *c = hd_conf_new();
    char err[256], *text = NULL;
    size_t len = 0;
    CHECK(hd_conf_set(c, "group.id", "g7", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "api.port", "9999", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "master.key", "c2VjcmV0", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "store", "mongodb://app:hunter2@db:27017/?tls=true", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "smtp.url", "smtps://mailer@mx.example.com", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "kafka.sasl.password", "hunter3", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "kafka.producer.ssl.key.password", "hunter4", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "kafka.sasl.username", "app", err, sizeof(err)) == 0);
    FILE *out = open_memstream(&text, &len);
    hd_conf_print(c, out);
    fclose(out);
    CHECK(strstr(text, "\ngroup.id = g7\n") && strstr(text, "\napi.port = 9999\n"));
    CHECK(strstr(text, "\nmaster.key = (redacted)\n"));
    CHECK(strstr(text, "\nstore = mongodb://app:(redacted)@db:27017/?tls=true\n"));
    CHECK(strstr(text, "\nsmtp.url = smtps://mailer@mx.example.com\n"));
    CHECK(strstr(text, "\nkafka.sasl.password = (redacted)\n"));
    CHECK(strstr(text, "\nkafka.producer.ssl.key.password = (redacted)\n"));
    CHECK(strstr(text, "\nkafka.sasl.username = app\n"));
    CHECK(strstr(text, "\nsmtp.from = hookd@localhost\n")); /* defaults too */
    CHECK(!strstr(text, "hunter") && !strstr(text, "c2VjcmV0"));
    free(text);
    hd_conf_destroy(c);
}

static void test_set(void) {
    hd_conf_t *c = hd_conf_new();
    char err[256];
    CHECK(hd_conf_set(c, "consume.batch.size", "10000", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "consume.batch.size", "10001", err, sizeof(err)) == -1);
    CHECK(hd_conf_set(c, "no.such.thing", "1", err, sizeof(err)) == -1);
    CHECK(strstr(err, "unknown setting \"no.such.thing\"") != NULL);
    CHECK(hd_conf_set(c, "kafka.", "1", err, sizeof(err)) == -1);
    hd_conf_destroy(c);
}

static char *write_file(const char *text) {
    char *path = strdup("/tmp/hookd-test-config-XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void test_file(void) {
    hd_conf_t *c = hd_conf_new();
    char err[512];
    char *ok = write_file("# comment\n\n  topics = a.events, b.events  \nkafka.producer.linger.ms=20\n"
                          "http.timeout.ms = 5000\n");
    CHECK(hd_conf_load_file(c, ok, err, sizeof(err)) == 0);
    CHECK_STR(c->topics, "a.events, b.events");
    CHECK(c->http_timeout_ms == 5000);
    CHECK(c->kafka_cnt == 1);

    char *bad[] = {
        write_file("topics = x\n# fine\nhttp.timeout.ms = 50\n"),
        write_file("\n\nthis line has no equals sign\n"),
        write_file("topics = x\ngroup.idd = y\n"),
    };
    const char *want[] = {":3: http.timeout.ms: 50 is outside 100..300000", ":3: expected name = value",
                          ":2: unknown setting \"group.idd\" (see hookd --help)"};
    for (int i = 0; i < 3; i++) {
        CHECK(hd_conf_load_file(c, bad[i], err, sizeof(err)) == -1);
        CHECK(strncmp(err, bad[i], strlen(bad[i])) == 0);
        CHECK_STR(err + strlen(bad[i]), want[i]);
        unlink(bad[i]);
        free(bad[i]);
    }
    CHECK(hd_conf_load_file(c, "/nonexistent/hookd.conf", err, sizeof(err)) == -1);
    CHECK(strstr(err, "/nonexistent/hookd.conf: ") == err);
    unlink(ok);
    free(ok);
    hd_conf_destroy(c);
}

static void test_apply_kafka_roles(void) {
    hd_conf_t *c = hd_conf_new();
    char err[256], val[64];
    size_t sz;
    CHECK(hd_conf_set(c, "kafka.client.id", "both", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "kafka.consumer.fetch.wait.max.ms", "77", err, sizeof(err)) == 0);
    CHECK(hd_conf_set(c, "kafka.producer.linger.ms", "33", err, sizeof(err)) == 0);
    rd_kafka_conf_t *cons = rd_kafka_conf_new(), *prod = rd_kafka_conf_new();
    CHECK(hd_conf_apply_kafka(c, "consumer", cons, err, sizeof(err)) == 0);
    CHECK(hd_conf_apply_kafka(c, "producer", prod, err, sizeof(err)) == 0);
    sz = sizeof(val);
    CHECK(rd_kafka_conf_get(cons, "client.id", val, &sz) == RD_KAFKA_CONF_OK);
    CHECK_STR(val, "both");
    sz = sizeof(val);
    CHECK(rd_kafka_conf_get(cons, "fetch.wait.max.ms", val, &sz) == RD_KAFKA_CONF_OK);
    CHECK_STR(val, "77");
    sz = sizeof(val);
    CHECK(rd_kafka_conf_get(prod, "linger.ms", val, &sz) == RD_KAFKA_CONF_OK);
    CHECK_STR(val, "33");
    sz = sizeof(val);
    CHECK(rd_kafka_conf_get(cons, "linger.ms", val, &sz) == RD_KAFKA_CONF_OK);
    CHECK(strcmp(val, "33") != 0); /* the producer's setting did not reach the consumer */
    rd_kafka_conf_destroy(cons);
    rd_kafka_conf_destroy(prod);

    CHECK(hd_conf_set(c, "kafka.no.such.property", "1", err, sizeof(err)) == 0);
    rd_kafka_conf_t *bad = rd_kafka_conf_new();
    CHECK(hd_conf_apply_kafka(c, "consumer", bad, err, sizeof(err)) == -1);
    CHECK(strstr(err, "kafka.no.such.property: ") == err);
    rd_kafka_conf_destroy(bad);
    hd_conf_destroy(c);
}

static void test_markdown_lists_every_env_name(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    hd_conf_print_markdown(out);
    fclose(out);
    const char *names[] = {"`HOOKD_BROKERS`", "`HOOKD_GROUP_ID`", "`HOOKD_METRICS_LISTEN`", "`HOOKD_SHUTDOWN_GRACE_MS`",
                           "`HOOKD_SUBSCRIPTIONS_REFRESH_MS`"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK(strstr(buf, names[i]) != NULL);
    free(buf);
}

/* Writes text to root/rel, making the directories on the way. */
static void put_file(const char *root, const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
        *p = '\0';
        mkdir(path, 0700);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* workers = 0 runs one per available CPU: the affinity mask, capped by the cgroup's (or an ancestor's) quota. */
static void test_cpus_from_affinity_and_cgroup_quota(void) {
    cpu_set_t set;
    CHECK(sched_getaffinity(0, sizeof(set), &set) == 0);
    int affinity = CPU_COUNT(&set);
    char root[] = "/tmp/hookd-test-cgroup-XXXXXX", cg[600];
    CHECK(mkdtemp(root) != NULL);
    snprintf(cg, sizeof(cg), "%s/self-cgroup", root);

    CHECK(hd_conf_cpus("/nonexistent/cgroup", root) == affinity); /* no cgroup information: the affinity */
    put_file(root, "self-cgroup", "0::/kubepods/pod1/c1\n");
    CHECK(hd_conf_cpus(cg, root) == affinity); /* no cpu.max files */
    put_file(root, "kubepods/pod1/c1/cpu.max", "max 100000\n");
    CHECK(hd_conf_cpus(cg, root) == affinity);                     /* "max": no quota */
    put_file(root, "kubepods/pod1/c1/cpu.max", "150000 100000\n"); /* 1.5 CPUs: 2 */
    CHECK(hd_conf_cpus(cg, root) == (affinity < 2 ? affinity : 2));
    put_file(root, "kubepods/cpu.max", "50000 100000\n"); /* an ancestor's half CPU: 1 */
    CHECK(hd_conf_cpus(cg, root) == 1);

    put_file(root, "self-cgroup", "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n"); /* v1 */
    put_file(root, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");
    put_file(root, "cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    CHECK(hd_conf_cpus(cg, root) == affinity);
    put_file(root, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "250000\n"); /* 2.5 CPUs: 3 */
    CHECK(hd_conf_cpus(cg, root) == (affinity < 3 ? affinity : 3));
    put_file(root, "cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "1000\n"); /* a hundredth of a CPU: still 1 */
    CHECK(hd_conf_cpus(cg, root) == 1);

    hd_conf_t *c = hd_conf_new();
    CHECK(c->workers == 0);
    CHECK(hd_conf_workers(c) >= 1 && hd_conf_workers(c) <= affinity);
    char err[256];
    CHECK(hd_conf_set(c, "workers", "3", err, sizeof(err)) == 0);
    CHECK(hd_conf_workers(c) == 3);
    hd_conf_destroy(c);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
}

int main(void) {
    RUN(test_defaults);
    RUN(test_env_mapping);
    RUN(test_env_errors);
    RUN(test_env_kafka_passthrough);
    RUN(test_print_effective);
    RUN(test_set);
    RUN(test_file);
    RUN(test_apply_kafka_roles);
    RUN(test_markdown_lists_every_env_name);
    RUN(test_cpus_from_affinity_and_cgroup_quota);
    return UNIT_REPORT();
}
