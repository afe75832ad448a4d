#define _GNU_SOURCE /* sched_getaffinity */
#include "hookd/config.h"

#include <ctype.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/log.h"
#include "hookd/util.h"

typedef enum { T_STR, T_INT, T_LEVEL } conf_type_t;

typedef struct {
    const char *name;
    conf_type_t type;
    size_t offset;
    const char *def;
    int64_t min, max; /* T_INT only */
    const char *doc;
} conf_entry_t;

#define F(field) offsetof(hd_conf_t, field)

static const conf_entry_t table[] = {
    {"brokers", T_STR, F(brokers), "127.0.0.1:9092", 0, 0, "Kafka bootstrap servers (host:port,...)."},
    {"group.id", T_STR, F(group_id), "hookd", 0, 0,
     "Consumer group of the dispatchers; the retry tiers are consumed in <group.id>.retry."},
    {"group.instance.id", T_STR, F(group_instance_id), "", 0, 0,
     "Static group membership: a name unique to this replica and stable across its restarts (the pod name, from "
     "the downward API); each worker's consumers use it followed by -<worker>. A restarted replica then gets its "
     "partitions back at once, without a rebalance; one that goes away for good leaves them idle until "
     "kafka.consumer.session.timeout.ms. Empty: dynamic membership."},
    {"topics", T_STR, F(topics), "hookd.events", 0, 0, "Comma-separated source topics holding the events."},
    {"results.topic", T_STR, F(results_topic), "hookd.results", 0, 0,
     "Topic receiving one record per delivery attempt (schemas/delivery-result.schema.json)."},
    {"deadletter.topic", T_STR, F(deadletter_topic), "hookd.deadletter", 0, 0,
     "Topic receiving rejected input, the reason in the hookd-error header."},
    {"store", T_STR, F(store), "mongodb://127.0.0.1:27017/", 0, 0,
     "Subscription store: a MongoDB URI, or file:PATH for a JSON file of subscriptions."},
    {"mongo.database", T_STR, F(mongo_database), "hookd", 0, 0, "MongoDB database holding the collections."},
    {"subscriptions.refresh.ms", T_INT, F(refresh_ms), "1000", 50, 3600000,
     "How often the subscription cache reads the store's changes (the subscription_changes log; a file: "
     "whether it changed)."},
    {"subscriptions.full.reload.ms", T_INT, F(full_reload_ms), "3600000", 0, 86400000,
     "Reload every subscription this often, the safety net for writes missing from the change log; 0: never."},
    {"http.timeout.ms", T_INT, F(http_timeout_ms), "10000", 100, 300000,
     "Whole-request timeout of one delivery attempt."},
    {"http.connect.timeout.ms", T_INT, F(http_connect_timeout_ms), "3000", 100, 60000,
     "Connect timeout of one delivery attempt."},
    {"http.max.inflight", T_INT, F(http_max_inflight), "1024", 1, 100000,
     "Deliveries in flight per worker; consumption pauses at this limit."},
    {"http.max.response.bytes", T_INT, F(http_max_response_bytes), "65536", 0, 16777216,
     "Bytes of a receiver's response body kept (the rest is read and discarded)."},
    {"http.user.agent", T_STR, F(user_agent), "hookd/" HD_VERSION, 0, 0, "User-Agent header of deliveries."},
    {"http.allow.cidrs", T_STR, F(http_allow_cidrs), "", 0, 0,
     "CIDRs deliveries may reach although private, loopback or link-local (refused by default), e.g. 10.0.0.0/8."},
    {"http.proxy", T_STR, F(http_proxy), "", 0, 0,
     "Proxy URL for deliveries; empty for direct connections (proxy environment variables are ignored)."},
    {"http.max.inflight.per.host", T_INT, F(http_max_inflight_per_host), "64", 1, 10000,
     "Connections and deliveries in flight to one host (scheme, host, port) per worker; more are parked in the "
     "first retry tier, so a hanging host holds at most this many of http.max.inflight. Each attempt that times "
     "out or loses its connection halves the host's share (down to 1), each success gives one slot back."},
    {"http.queue.max.ms", T_INT, F(http_queue_max_ms), "2000", 10, 600000,
     "Longest a delivery waits in memory for a slot at a host that is failing or has completed nothing meanwhile; "
     "then it is parked in the first retry tier (a host that keeps answering works its queue off). With "
     "http.timeout.ms it bounds how long a hanging or failing receiver can hold back its events' offsets, and so "
     "what a restart delivers again."},
    {"http.endpoint.idle.ms", T_INT, F(http_endpoint_idle_ms), "60000", 1000, 86400000,
     "A receiver URL's health (breaker, failures) and its host's in-flight count are forgotten this long after "
     "their last use when there is nothing to remember (no failures, nothing in flight): bounds a worker's memory "
     "when deliveries reach many distinct URLs."},
    {"workers", T_INT, F(workers), "0", 0, 64,
     "Independent dispatch workers (threads) in the process, each its own consumer in the group. 0: one per CPU "
     "available to the process (its CPU affinity, capped by a cgroup v2 cpu.max or v1 CFS quota rounded up, as "
     "Kubernetes sets a CPU limit)."},
    {"retry.topic.prefix", T_STR, F(retry_topic_prefix), "hookd.retry", 0, 0,
     "Retry tier topics are named <prefix>.<delay>, e.g. hookd.retry.5s."},
    {"retry.schedule", T_STR, F(retry_schedule), "5s,1m,10m,1h,6h", 0, 0,
     "Delay of each retry tier (s, m, h suffixes); attempt n+1 waits in tier n (the last tier repeats)."},
    {"retry.jitter.pct", T_INT, F(retry_jitter_pct), "20", 0, 50, "Random +/- spread of retry delays, in percent."},
    {"retry.after.max.s", T_INT, F(retry_after_max_s), "21600", 0, 604800,
     "Longest Retry-After a receiver can ask for; longer requests are capped."},
    {"breaker.failures", T_INT, F(breaker_failures), "5", 1, 1000,
     "Consecutive failed attempts to one URL that open its circuit breaker."},
    {"breaker.open.ms", T_INT, F(breaker_open_ms), "30000", 100, 3600000,
     "How long an open breaker parks deliveries before a half-open probe."},
    {"disable.after.ms", T_INT, F(disable_after_ms), "259200000", 0, 31536000000,
     "A subscription failing continuously this long is disabled (0: never). The clock is shared by the workers "
     "and kept in the subscription's failing_since, so restarts do not reset it."},
    {"ops.topic", T_STR, F(ops_topic), "hookd.ops", 0, 0,
     "Topic receiving operational events such as subscription.disabled."},
    {"smtp.url", T_STR, F(smtp_url), "", 0, 0,
     "SMTP server for failure notifications (smtp://host:25 or smtps://...); empty disables e-mail."},
    {"smtp.from", T_STR, F(smtp_from), "hookd@localhost", 0, 0, "Sender address of notification e-mails."},
    {"event.max.bytes", T_INT, F(event_max_bytes), "960000", 64, 67108864,
     "Largest event accepted; larger ones are dead-lettered (with what fits of them, and their source "
     "coordinates). Plus 16384 bytes for a retry job's other fields, it must fit the producer's message.max.bytes "
     "(librdkafka's default 1000000), and that the retry and dead-letter topics' max.message.bytes: checked at "
     "start."},
    {"event.tenant.attribute", T_STR, F(event_tenant_attribute), "tenant", 0, 0,
     "Event attribute holding the tenant (envelope member, CloudEvents extension: ce_<name> header or member)."},
    {"event.tenant.header", T_STR, F(event_tenant_header), "", 0, 0,
     "Kafka header holding the tenant when the event has no tenant attribute; empty for none."},
    {"match.status.field", T_STR, F(match_status_field), "data.status", 0, 0,
     "Dotted path of the event field compared with a subscription's statuses."},
    {"render.max.bytes", T_INT, F(render_max_bytes), "1048576", 256, 67108864,
     "Largest rendered payload; a larger one fails its delivery permanently (outcome on the results topic)."},
    {"consume.batch.size", T_INT, F(batch_size), "256", 1, 10000, "Events taken from Kafka per loop turn."},
    {"consume.max.pending", T_INT, F(consume_max_pending), "100000", 100, 10000000,
     "Messages per consumer taken but not yet done, or done but behind an earlier one of their partition that is "
     "not (about 64 bytes each); consumption pauses at this limit, so memory does not grow with a backlog."},
    {"results.max.outstanding.kbytes", T_INT, F(results_max_outstanding_kbytes), "4096", 256, 1048576,
     "Memory that records (results, retries, dead letters) not yet acknowledged by Kafka may hold per worker; "
     "consumption pauses at this limit, so a slow or unreachable broker bounds memory instead of queueing "
     "deliveries' results."},
    {"shutdown.grace.ms", T_INT, F(shutdown_grace_ms), "10000", 0, 600000,
     "On SIGTERM, how long stopping may take in all: in-flight deliveries may finish until a reserve of a third of "
     "it (at most 3 s) is left, the rest is parked in the retry tiers; then the outcome records are awaited and the "
     "group is left, each within what remains, even when the broker is away."},
    {"master.key", T_STR, F(master_key), "", 0, 0,
     "Base64 of 32 random bytes: encrypts subscription secrets at rest and keys the API-key hashes. Required by "
     "`hookd api` and `hookd apikey`, and by `hookd dispatch` when the store holds encrypted secrets."},
    {"secret.rotation.grace.ms", T_INT, F(rotation_grace_ms), "86400000", 0, 2592000000,
     "After rotate-secret, how long the previous secret still signs deliveries (both signatures are sent)."},
    {"api.bind", T_STR, F(api_bind), "127.0.0.1", 0, 0, "Address `hookd api` listens on."},
    {"api.port", T_INT, F(api_port), "8080", 1, 65535, "Port `hookd api` listens on."},
    {"api.threads", T_INT, F(api_threads), "16", 1, 1024,
     "Threads serving API requests (each runs an event loop over many connections)."},
    {"api.max.connections", T_INT, F(api_max_connections), "1024", 1, 100000,
     "Most API connections open at once; more are refused at accept."},
    {"api.max.connections.per.ip", T_INT, F(api_max_connections_per_ip), "32", 0, 100000,
     "Most API connections open at once from one client address; 0: no limit."},
    {"api.request.timeout.ms", T_INT, F(api_request_timeout_ms), "10000", 100, 600000,
     "Time a client has to send a whole request (headers and body), from connecting or from the previous reply; "
     "the connection is closed past it."},
    {"api.max.body.bytes", T_INT, F(api_max_body_bytes), "65536", 1024, 16777216,
     "Largest API request body; larger ones are answered 413."},
    {"api.dialects", T_STR, F(api_dialects), "native", 0, 0,
     "The management APIs `hookd api` serves and where: a comma-separated list of dialect names, each optionally "
     "followed by =/prefix (default: the dialect's own prefix), e.g. native=/hookd/v1,management=/v1/webhooks. "
     "Dialects: native (/v1/webhooks); docs/dialects.md lists the others. Two dialects on the same or nested "
     "prefixes are an error."},
    {"api.recorder", T_INT, F(api_recorder), "1", 0, 1,
     "1: `hookd api` also runs the delivery-log writer (results topic -> deliveries); 0: run `hookd recorder`."},
    {"recorder.group.id", T_STR, F(recorder_group_id), "hookd-recorder", 0, 0,
     "Consumer group of the delivery-log writer."},
    {"metrics.listen", T_STR, F(metrics_listen), "", 0, 0,
     "host:port of the status server (/metrics, /healthz, /readyz), e.g. 0.0.0.0:9090; port 0 picks a free one; "
     "empty: no server. The container image sets 0.0.0.0:9090."},
    {"log.level", T_LEVEL, F(log_level), "info", 0, 0, "debug, info, warn, error or off."},
};

#define TABLE_CNT (sizeof(table) / sizeof(table[0]))

static const conf_entry_t *find(const char *name) {
    for (size_t i = 0; i < TABLE_CNT; i++)
        if (!strcmp(table[i].name, name)) return &table[i];
    return NULL;
}

static int set_entry(hd_conf_t *conf, const conf_entry_t *e, const char *value, char *errstr, size_t errstr_size) {
    char *base = (char *)conf;
    switch (e->type) {
    case T_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(errstr, errstr_size, "%s: \"%s\" is not an integer", e->name, value);
            return -1;
        }
        if (v < e->min || v > e->max) {
            snprintf(errstr, errstr_size, "%s: %lld is outside %lld..%lld", e->name, v, (long long)e->min,
                     (long long)e->max);
            return -1;
        }
        *(int64_t *)(base + e->offset) = v;
        return 0;
    }
    case T_LEVEL:
        if (hd_log_level_parse(value) < 0) {
            snprintf(errstr, errstr_size, "%s: \"%s\" is not one of debug, info, warn, error, off", e->name, value);
            return -1;
        }
        /* fall through */
    case T_STR: {
        char **slot = (char **)(base + e->offset);
        free(*slot);
        *slot = hd_xstrdup(value);
        return 0;
    }
    }
    return 0;
}

int hd_conf_set(hd_conf_t *conf, const char *name, const char *value, char *errstr, size_t errstr_size) {
    const conf_entry_t *e = find(name);
    if (e) return set_entry(conf, e, value, errstr, errstr_size);
    if (!strncmp(name, "kafka.", 6) && name[6]) {
        conf->kafka = hd_xrealloc(conf->kafka, sizeof(*conf->kafka) * (size_t)(conf->kafka_cnt + 1));
        conf->kafka[conf->kafka_cnt].name = hd_xstrdup(name + 6);
        conf->kafka[conf->kafka_cnt].value = hd_xstrdup(value);
        conf->kafka_cnt++;
        return 0;
    }
    snprintf(errstr, errstr_size, "unknown setting \"%s\" (see hookd --help)", name);
    return -1;
}

hd_conf_t *hd_conf_new(void) {
    hd_conf_t *conf = hd_xcalloc(1, sizeof(*conf));
    char err[256];
    for (size_t i = 0; i < TABLE_CNT; i++)
        if (set_entry(conf, &table[i], table[i].def, err, sizeof(err))) abort(); /* a broken default is a bug */
    return conf;
}

void hd_conf_destroy(hd_conf_t *conf) {
    if (!conf) return;
    for (size_t i = 0; i < TABLE_CNT; i++)
        if (table[i].type != T_INT) free(*(char **)((char *)conf + table[i].offset));
    for (int i = 0; i < conf->kafka_cnt; i++) {
        free(conf->kafka[i].name);
        free(conf->kafka[i].value);
    }
    free(conf->kafka);
    free(conf);
}

/* "group.id" -> "HOOKD_GROUP_ID" */
static void env_name(const char *name, char *out, size_t out_size) {
    size_t n = (size_t)snprintf(out, out_size, "HOOKD_");
    for (; *name && n + 1 < out_size; name++)
        out[n++] = *name == '.' ? '_' : (char)toupper((unsigned char)*name);
    out[n] = '\0';
}

/* HOOKD_KAFKA_<PROPERTY> reaches librdkafka only when librdkafka has that property: shells, scripts and
 * orchestrators export other variables with this prefix (Kubernetes adds HOOKD_KAFKA_PORT for a Service named
 * hookd-kafka), so an unknown property is skipped with a warning that names the variable, while a known one with a
 * bad value stops hookd. scratch (created on first use) checks the property without touching a real client. */
static int kafka_env(hd_conf_t *conf, rd_kafka_conf_t **scratch, const char *var, int var_len, const char *name,
                     const char *value, char *errstr, size_t errstr_size) {
    const char *prop = name + 6;
    if (!strncmp(prop, "consumer.", 9) || !strncmp(prop, "producer.", 9)) prop += 9;
    char err[256];
    if (!*scratch) *scratch = rd_kafka_conf_new();
    rd_kafka_conf_res_t res = rd_kafka_conf_set(*scratch, prop, value, err, sizeof(err));
    if (res == RD_KAFKA_CONF_UNKNOWN) {
        HD_LOG(HD_LOG_WARN, "config", NULL,
               "environment variable %.*s ignored: %s is not a librdkafka property (HOOKD_KAFKA_* variables pass "
               "through only when they name one)",
               var_len, var, name);
        return 0;
    }
    if (res != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "environment variable %.*s (%s): %s", var_len, var, name, err);
        return -1;
    }
    return hd_conf_set(conf, name, value, errstr, errstr_size);
}

int hd_conf_load_env(hd_conf_t *conf, char **envp, char *errstr, size_t errstr_size) {
    char want[128];
    rd_kafka_conf_t *scratch = NULL;
    int rc = 0;
    for (char **ep = envp; ep && *ep && !rc; ep++) {
        const char *eq = strchr(*ep, '=');
        if (!eq || strncmp(*ep, "HOOKD_", 6)) continue;
        size_t klen = (size_t)(eq - *ep);
        const char *value = eq + 1;
        const conf_entry_t *hit = NULL;
        for (size_t i = 0; i < TABLE_CNT && !hit; i++) {
            env_name(table[i].name, want, sizeof(want));
            if (strlen(want) == klen && !strncmp(want, *ep, klen)) hit = &table[i];
        }
        if (hit) {
            rc = set_entry(conf, hit, value, errstr, errstr_size);
        } else if (klen > 12 && !strncmp(*ep, "HOOKD_KAFKA_", 12)) {
            /* librdkafka property names use dots only, so the mapping back is unambiguous. */
            char name[128];
            size_t n = (size_t)snprintf(name, sizeof(name), "kafka.");
            for (const char *p = *ep + 12; p < eq && n + 1 < sizeof(name); p++)
                name[n++] = *p == '_' ? '.' : (char)tolower((unsigned char)*p);
            name[n] = '\0';
            rc = kafka_env(conf, &scratch, *ep, (int)klen, name, value, errstr, errstr_size);
        }
        /* Other HOOKD_* variables (HOOKD_CONFIG, test knobs) are not settings. */
    }
    if (scratch) rd_kafka_conf_destroy(scratch);
    return rc;
}

int hd_conf_load_file(hd_conf_t *conf, const char *path, char *errstr, size_t errstr_size) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096], err[256];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = hd_trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(errstr, errstr_size, "%s:%d: expected name = value", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (hd_conf_set(conf, hd_trim(s), hd_trim(eq + 1), err, sizeof(err))) {
            snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, err);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int hd_conf_apply_kafka(const hd_conf_t *conf, const char *role, rd_kafka_conf_t *rkconf, char *errstr,
                        size_t errstr_size) {
    size_t rlen = strlen(role);
    for (int i = 0; i < conf->kafka_cnt; i++) {
        const char *name = conf->kafka[i].name;
        if (!strncmp(name, "consumer.", 9) || !strncmp(name, "producer.", 9)) {
            if (strncmp(name, role, rlen) || name[rlen] != '.') continue;
            name += rlen + 1;
        }
        char err[256];
        if (rd_kafka_conf_set(rkconf, name, conf->kafka[i].value, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "kafka.%s: %s", conf->kafka[i].name, err);
            return -1;
        }
    }
    return 0;
}

/* The CPU quota of one cgroup directory in CPUs, rounded up; 0 when it sets none. */
static int cgroup_quota(const char *dir) {
    char path[1300], max[32] = "";
    long long quota = -1, period = 0;
    snprintf(path, sizeof(path), "%s/cpu.max", dir); /* v2: "max 100000" or "150000 100000" */
    FILE *f = fopen(path, "r");
    if (f) {
        if (fscanf(f, "%31s %lld", max, &period) == 2 && strcmp(max, "max")) quota = strtoll(max, NULL, 10);
        fclose(f);
    } else { /* v1: cpu.cfs_quota_us is -1 without a limit */
        snprintf(path, sizeof(path), "%s/cpu.cfs_quota_us", dir);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%lld", &quota) != 1) quota = -1;
            fclose(f);
        }
        snprintf(path, sizeof(path), "%s/cpu.cfs_period_us", dir);
        if ((f = fopen(path, "r"))) {
            if (fscanf(f, "%lld", &period) != 1) period = 0;
            fclose(f);
        }
    }
    return quota > 0 && period > 0 ? (int)((quota + period - 1) / period) : 0;
}

int hd_conf_cpus(const char *proc_cgroup, const char *cgroup_root) {
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
    FILE *f = fopen(proc_cgroup, "r");
    char line[1024], dir[1200];
    while (f && fgets(line, sizeof(line), f)) {
        /* "0::/path" (v2), "4:cpu,cpuacct:/path" (v1): the quota of the cgroup and of each of its ancestors */
        char *controllers = strchr(line, ':'), *rel = controllers ? strchr(controllers + 1, ':') : NULL;
        if (!rel) continue;
        *rel++ = '\0';
        rel[strcspn(rel, "\n")] = '\0';
        controllers++;
        const char *mount;
        if (!*controllers)
            mount = ""; /* v2: one hierarchy */
        else if (strstr(controllers, "cpu,cpuacct"))
            mount = "/cpu,cpuacct";
        else if (!strcmp(controllers, "cpu") || !strncmp(controllers, "cpu,", 4))
            mount = "/cpu";
        else
            continue;
        for (;;) {
            snprintf(dir, sizeof(dir), "%s%s%s", cgroup_root, mount, rel);
            int q = cgroup_quota(dir);
            if (q && q < cpus) cpus = q;
            char *slash = strrchr(rel, '/');
            if (!slash) break;
            *slash = '\0';
        }
    }
    if (f) fclose(f);
    return cpus > 0 ? cpus : 1;
}

int hd_conf_workers(const hd_conf_t *conf) {
    if (conf->workers) return (int)conf->workers;
    const conf_entry_t *e = find("workers");
    int cpus = hd_conf_cpus("/proc/self/cgroup", "/sys/fs/cgroup");
    return cpus < e->max ? cpus : (int)e->max; /* no more than a setting may ask for */
}

static void range_text(const conf_entry_t *e, char *out, size_t out_size) {
    if (e->type == T_INT)
        snprintf(out, out_size, "%lld..%lld", (long long)e->min, (long long)e->max);
    else if (e->type == T_LEVEL)
        snprintf(out, out_size, "debug|info|warn|error|off");
    else
        snprintf(out, out_size, "string");
}

void hd_conf_print_help(FILE *out) {
    char env[128], range[64];
    fprintf(out, "Settings (config file `name = value`, environment HOOKD_NAME, or --set name=value):\n\n");
    for (size_t i = 0; i < TABLE_CNT; i++) {
        env_name(table[i].name, env, sizeof(env));
        range_text(&table[i], range, sizeof(range));
        fprintf(out, "  %-26s %s\n  %-26s default %s; %s; env %s\n\n", table[i].name, table[i].doc, "", table[i].def,
                range, env);
    }
    fprintf(out, "  kafka.<property>           any librdkafka property, for consumer and producer\n"
                 "                             (kafka.consumer.<p>, kafka.producer.<p> for one of them);\n"
                 "                             env HOOKD_KAFKA_<PROPERTY>, e.g. HOOKD_KAFKA_SASL_USERNAME\n");
}

/* Keys, passwords and the like: master.key, kafka.ssl.key.password, kafka.sasl.password, kafka.ssl.key.pem, ... */
static int secret_name(const char *name) {
    return strstr(name, "password") || strstr(name, "secret") || strstr(name, ".key") ||
           strstr(name, "oauthbearer.config");
}

/* value with the password of a URL's userinfo (scheme://user:password@host) replaced. */
static void print_value(FILE *out, const char *name, const char *value) {
    if (*value && secret_name(name)) {
        fputs("(redacted)", out);
        return;
    }
    const char *scheme = strstr(value, "://"), *at = scheme ? strchr(scheme + 3, '@') : NULL;
    const char *colon = at ? memchr(scheme + 3, ':', (size_t)(at - scheme - 3)) : NULL;
    if (!colon || memchr(scheme + 3, '/', (size_t)(at - scheme - 3))) {
        fputs(value, out);
        return;
    }
    fprintf(out, "%.*s(redacted)%s", (int)(colon + 1 - value), value, at);
}

void hd_conf_print(const hd_conf_t *conf, FILE *out) {
    fprintf(out, "# The effective configuration: defaults, then the config file, the environment and --set.\n"
                 "# Secrets are redacted; the rest can serve as a config file.\n");
    for (size_t i = 0; i < TABLE_CNT; i++) {
        const char *base = (const char *)conf;
        fprintf(out, "%s = ", table[i].name);
        if (table[i].type == T_INT)
            fprintf(out, "%lld", (long long)*(const int64_t *)(base + table[i].offset));
        else
            print_value(out, table[i].name, *(char *const *)(base + table[i].offset));
        fputc('\n', out);
    }
    for (int i = 0; i < conf->kafka_cnt; i++) {
        fprintf(out, "kafka.%s = ", conf->kafka[i].name);
        print_value(out, conf->kafka[i].name, conf->kafka[i].value);
        fputc('\n', out);
    }
}

void hd_conf_print_markdown(FILE *out) {
    char env[128], range[64];
    fprintf(out, "# Configuration\n\n"
                 "Generated by `hookd config --markdown` from the configuration table in `src/config.c`;\n"
                 "a test keeps this file in sync.\n\n"
                 "Every setting can be given, later sources winning: in the file named by `HOOKD_CONFIG` or\n"
                 "`--config FILE` (`name = value` lines, `#` comments), as an environment variable, or with\n"
                 "`--set name=value` on the command line.\n\n"
                 "| name | environment | default | range | description |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < TABLE_CNT; i++) {
        env_name(table[i].name, env, sizeof(env));
        range_text(&table[i], range, sizeof(range));
        fprintf(out, "| `%s` | `%s` | `%s` | %s | %s |\n", table[i].name, env, table[i].def, range, table[i].doc);
    }
    fprintf(out, "\n## Kafka pass-through\n\n"
                 "Settings named `kafka.<property>` go straight to librdkafka, for both the consumer and the\n"
                 "producer; `kafka.consumer.<property>` and `kafka.producer.<property>` reach only one. In the\n"
                 "environment, `HOOKD_KAFKA_SASL_USERNAME=u` is `kafka.sasl.username=u`; a `HOOKD_KAFKA_*`\n"
                 "variable that names no librdkafka property (such as the `HOOKD_KAFKA_PORT` Kubernetes adds for a\n"
                 "Service named `hookd-kafka`) is ignored with a warning naming it, while `kafka.*` in the file or\n"
                 "`--set` must name one. hookd keeps `enable.auto.offset.store=false` on its consumers (offsets are\n"
                 "stored only after the outcome is durable), `enable.idempotence=true` and `acks=all` on its\n"
                 "producers, and refuses to start with a pass-through that changes them. Each consumer\n"
                 "pre-fetches at most 2 MB (`queued.max.messages.kbytes=2048` with `fetch.queue.backoff.ms=10`;\n"
                 "librdkafka's default is 64 MB): raise it for events of hundreds of kilobytes or a distant broker\n"
                 "(docs/benchmarks.md).\n");
}
