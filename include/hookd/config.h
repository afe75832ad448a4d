/* The configuration table: one entry per setting (name, type, default, range, doc). It drives parsing of the
 * environment (HOOKD_<NAME>, dots as underscores), the optional config file (name = value lines), command-line
 * `--set name=value`, validation, `hookd --help` and docs/configuration.md (`hookd config --markdown`).
 * Settings named `kafka.<property>` are passed straight through to librdkafka (consumer and producer);
 * `kafka.consumer.<p>` and `kafka.producer.<p>` reach only one of them. */
#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef struct hd_conf_s {
    char *brokers;
    char *group_id;
    char *group_instance_id; /* static membership; empty: dynamic */
    char *topics;            /* comma-separated source topics */
    char *results_topic;
    char *deadletter_topic;
    char *store; /* mongodb://... or file:/path/subscriptions.json */
    char *mongo_database;
    char *log_level;
    int64_t refresh_ms;
    int64_t full_reload_ms;
    int64_t http_timeout_ms;
    int64_t http_connect_timeout_ms;
    int64_t http_max_inflight;
    int64_t http_max_response_bytes;
    int64_t event_max_bytes;
    char *event_tenant_attribute;
    char *event_tenant_header;
    char *match_status_field;
    int64_t render_max_bytes;
    int64_t shutdown_grace_ms;
    int64_t batch_size;
    int64_t results_max_outstanding_kbytes;
    char *user_agent;
    char *master_key; /* base64; see secret.h */
    int64_t rotation_grace_ms;
    char *api_bind;
    int64_t api_port;
    int64_t api_threads;
    int64_t api_max_connections;
    int64_t api_max_connections_per_ip;
    int64_t api_request_timeout_ms;
    int64_t api_max_body_bytes;
    int64_t api_recorder;
    char *api_dialects; /* name[=/prefix],... (dialect.h) */
    char *recorder_group_id;
    char *http_allow_cidrs;
    char *http_proxy;
    int64_t http_max_inflight_per_host;
    int64_t http_endpoint_idle_ms;
    int64_t http_queue_max_ms;
    int64_t consume_max_pending;
    int64_t workers;
    char *retry_topic_prefix;
    char *retry_schedule;
    int64_t retry_jitter_pct;
    int64_t retry_after_max_s;
    int64_t breaker_failures;
    int64_t breaker_open_ms;
    int64_t disable_after_ms;
    char *ops_topic;
    char *smtp_url;
    char *smtp_from;
    char *metrics_listen; /* status server host:port; empty: off */

    /* kafka.* pass-through, in the order given: names without the "kafka." prefix. */
    struct hd_conf_kv {
        char *name;
        char *value;
    } * kafka;
    int kafka_cnt;
} hd_conf_t;

/* Returns a configuration holding every default; never NULL (aborts on OOM). Free with hd_conf_destroy(). */
hd_conf_t *hd_conf_new(void);
void hd_conf_destroy(hd_conf_t *conf);

/* Sets one setting by name, validating type and range. Returns 0, or -1 with errstr filled. Copies value. */
int hd_conf_set(hd_conf_t *conf, const char *name, const char *value, char *errstr, size_t errstr_size);

/* Applies HOOKD_* variables from envp (NULL-terminated "K=V" strings). HOOKD_CONFIG (a file) is read first by
 * hd_conf_load_file() when the caller asks; HOOKD_KAFKA_SASL_USERNAME maps to kafka.sasl.username, and a
 * HOOKD_KAFKA_* naming no librdkafka property is skipped with a warning. Errors name the variable's setting. */
int hd_conf_load_env(hd_conf_t *conf, char **envp, char *errstr, size_t errstr_size);

/* Reads `name = value` lines; '#' starts a comment. */
int hd_conf_load_file(hd_conf_t *conf, const char *path, char *errstr, size_t errstr_size);

/* Copies the kafka.* pass-through onto a librdkafka configuration. role is "consumer" or "producer". */
struct rd_kafka_conf_s;
int hd_conf_apply_kafka(const hd_conf_t *conf, const char *role, struct rd_kafka_conf_s *rkconf, char *errstr,
                        size_t errstr_size);

/* Usage text for every setting, or the Markdown reference (docs/configuration.md). */
void hd_conf_print_help(FILE *out);
/* Every setting's value in conf as `name = value` lines, kafka.* included, keys and passwords (and the password of
 * a URL) redacted. */
void hd_conf_print(const hd_conf_t *conf, FILE *out);
void hd_conf_print_markdown(FILE *out);

/* The dispatch workers to run: the workers setting, or when it is 0 the CPUs available to the process (at most
 * the setting's maximum, 64). */
int hd_conf_workers(const hd_conf_t *conf);

/* The CPUs this process may use: its affinity mask, capped by the CPU quota (cgroup v2 cpu.max, v1
 * cpu.cfs_quota_us / cpu.cfs_period_us, rounded up) of its cgroups and their ancestors, found through proc_cgroup
 * (/proc/self/cgroup) under cgroup_root (/sys/fs/cgroup). At least 1. */
int hd_conf_cpus(const char *proc_cgroup, const char *cgroup_root);

#endif
