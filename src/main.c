/* hookd: one binary, subcommands. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/api.h"
#include "hookd/apikey.h"
#include "hookd/config.h"
#include "hookd/deliverylog.h"
#include "hookd/demo.h"
#include "hookd/dispatch.h"
#include "hookd/log.h"
#include "hookd/mongo.h"
#include "hookd/replay.h"
#include "hookd/rfc3339.h"
#include "hookd/secret.h"
#include "hookd/sign.h"
#include "hookd/store.h"
#include "hookd/util.h"
#include "hookd/workers.h"

extern char **environ;

static atomic_int stop_flag;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&stop_flag, 1);
}

static void install_signals(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *out) {
    fprintf(out,
            "hookd %s — webhook dispatcher: Kafka events in, signed webhooks out.\n\n"
            "Usage: hookd COMMAND [--config FILE] [--set name=value]...\n\n"
            "Commands:\n"
            "  dispatch   consume events, deliver webhooks, record outcomes (the service)\n"
            "  replay     re-dispatch events of a topic by offset or time range (docs/operations.md)\n"
            "  demo       run the whole path in-process: mock Kafka, file store, local receiver\n"
            "  api        serve the management API (docs/api.md)\n"
            "  apikey     apikey create --tenant T [--admin] [--client-credentials]: print a new API key (shown\n"
            "             once; as an OAuth2 client_id and client_secret with --client-credentials);\n"
            "             apikey list [--tenant T]; apikey revoke ID|KEY (effective at the next request)\n"
            "  recorder   record the results topic into the delivery log (also inside api)\n"
            "  sign       print the webhook-signature for --secret (whsec_: v1, whsk_: v1a), --id, --timestamp\n"
            "             and a body on stdin\n"
            "  verify     check a webhook's --signature for --id, --timestamp, a body on stdin and --secret\n"
            "             (v1) or --public-key (v1a)\n"
            "  config     print the configuration in force, secrets redacted (--markdown: the reference)\n"
            "  version    print the version\n\n",
            HD_VERSION);
    hd_conf_print_help(out);
}

/* Configuration sources, later winning: HOOKD_CONFIG / --config file, environment, --set. Returns the
 * configuration or NULL after printing the reason. Remaining (non-option) args are left in *argc/argv. */
static hd_conf_t *load_conf(int *argc, char **argv) {
    hd_conf_t *conf = hd_conf_new();
    char err[512];
    const char *file = getenv("HOOKD_CONFIG");
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < *argc)
            file = argv[++i];
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    if (file && hd_conf_load_file(conf, file, err, sizeof(err))) goto fail;
    if (hd_conf_load_env(conf, environ, err, sizeof(err))) goto fail;
    out = 0;
    for (int i = 0; i < *argc; i++) {
        if (!strcmp(argv[i], "--set") && i + 1 < *argc) {
            char *kv = argv[++i], *eq = strchr(kv, '=');
            if (!eq) {
                snprintf(err, sizeof(err), "--set %s: expected name=value", kv);
                goto fail;
            }
            *eq = '\0';
            int rc = hd_conf_set(conf, kv, eq + 1, err, sizeof(err));
            *eq = '=';
            if (rc) goto fail;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    hd_log_min_level = (hd_log_level_t)hd_log_level_parse(conf->log_level);
    return conf;

fail:
    fprintf(stderr, "hookd: configuration error: %s\n", err);
    hd_conf_destroy(conf);
    return NULL;
}

/* N independent workers, each its own consumer in the group, sharing one subscription cache. */
static int cmd_dispatch(hd_conf_t *conf, int argc, char **argv) {
    char err[512] = "";
    int rc = 1;
    install_signals(); /* a stop asked for while starting is a stop, once the workers run */
    hd_workers_t *ws = hd_workers_new(conf, NULL, err, sizeof(err));
    if (!ws) goto out;
    HD_LOG(HD_LOG_INFO, "dispatch", NULL, "hookd %s dispatching %s from %s with %d worker(s)", HD_VERSION, conf->topics,
           conf->brokers, hd_workers_count(ws));
    int started = hd_workers_start(ws, &stop_flag, err, sizeof(err)) == 0;
    rc = hd_workers_join(ws) || !started ? 1 : 0;
    hd_dispatch_stats_t total;
    hd_workers_stats(ws, &total);
    HD_LOG(HD_LOG_INFO, "dispatch", NULL,
           "stopped: %" PRIu64 " messages, %" PRIu64 " dead-lettered, %" PRIu64 " deliveries (%" PRIu64
           " succeeded, %" PRIu64 " failed, %" PRIu64 " retries scheduled, %" PRIu64 " parked, %" PRIu64
           " left to the new owner of a revoked partition)",
           total.consumed, total.deadlettered, total.deliveries, total.succeeded, total.failed, total.retries,
           total.parked, total.dropped_revoked);
out:
    if (rc && err[0]) HD_LOG(HD_LOG_ERROR, "dispatch", NULL, "%s", err);
    hd_workers_destroy(ws);
    return rc;
}

static int cmd_api(hd_conf_t *conf, int argc, char **argv) {
    char err[512];
    hd_api_t *api = hd_api_new(conf, err, sizeof(err));
    if (!api) {
        HD_LOG(HD_LOG_ERROR, "api", NULL, "%s", err);
        return 1;
    }
    install_signals();
    int rc = hd_api_run(api, &stop_flag) ? 1 : 0;
    hd_api_destroy(api);
    return rc;
}

static int cmd_recorder(hd_conf_t *conf, int argc, char **argv) {
    char err[512];
    hd_deliverylog_t *rec = NULL;
    hd_store_t *store = hd_store_new(conf->store, conf->mongo_database, err, sizeof(err));
    if (store) rec = hd_deliverylog_new(conf, hd_store_mongo(store), err, sizeof(err));
    if (!rec) {
        HD_LOG(HD_LOG_ERROR, "deliverylog", NULL, "%s", err);
        hd_store_destroy(store);
        return 1;
    }
    install_signals();
    hd_deliverylog_run(rec, &stop_flag);
    hd_deliverylog_destroy(rec);
    hd_store_destroy(store);
    return 0;
}

static void print_apikey(void *arg, const char *id, const char *tenant, int admin, int64_t created_at_ms) {
    char at[HD_RFC3339_SIZE];
    hd_rfc3339_format(created_at_ms, at);
    printf("%s\t%s\t%s\t%s\n", id, tenant, admin ? "admin" : "-", at);
}

/* create prints a new key once (with --client-credentials as the OAuth2 client_id and client_secret); list prints id,
 * tenant, admin and creation time of each key (never a key); revoke takes an id or a whole key, and the key stops
 * working at its next request. */
static int cmd_apikey(hd_conf_t *conf, int argc, char **argv) {
    const char *tenant = NULL, *cmd = argc > 0 ? argv[0] : "", *target = NULL;
    int admin = 0, oauth = 0, rc = 1, bad = strcmp(cmd, "create") && strcmp(cmd, "list") && strcmp(cmd, "revoke");
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "--tenant") && i + 1 < argc)
            tenant = argv[++i];
        else if (!strcmp(argv[i], "--admin") && !strcmp(cmd, "create"))
            admin = 1;
        else if (!strcmp(argv[i], "--client-credentials") && !strcmp(cmd, "create"))
            oauth = 1;
        else if (!strcmp(cmd, "revoke") && !target)
            target = argv[i];
        else
            bad = 1;
    }
    if (bad || (!strcmp(cmd, "create") && !tenant) || (!strcmp(cmd, "revoke") && (!target || tenant))) {
        fprintf(stderr, "usage: hookd apikey create --tenant TENANT [--admin] [--client-credentials]\n"
                        "       hookd apikey list [--tenant TENANT]\n"
                        "       hookd apikey revoke ID|KEY\n");
        return 2;
    }
    char err[512], key[HD_APIKEY_SIZE];
    hd_secret_key_t master;
    hd_store_t *store = NULL;
    hd_mongo_t *mongo = NULL;
    mongoc_client_t *client = NULL;
    if (!(store = hd_store_new(conf->store, conf->mongo_database, err, sizeof(err)))) goto out;
    if (!(mongo = hd_store_mongo(store))) {
        snprintf(err, sizeof(err), "API keys live in MongoDB: set store = mongodb://...");
        goto out;
    }
    client = hd_mongo_pop(mongo);
    const char *db = hd_mongo_database(mongo);
    if (!strcmp(cmd, "list")) {
        rc = hd_apikey_list(client, db, tenant, print_apikey, NULL, err, sizeof(err)) ? 1 : 0;
    } else if (!strcmp(cmd, "revoke")) {
        int revoked = hd_apikey_revoke(client, db, target, err, sizeof(err));
        if (revoked == 0)
            snprintf(err, sizeof(err), "no API key %.16s", strncmp(target, "hk_", 3) ? target : target + 3);
        rc = revoked == 1 ? 0 : 1;
    } else {
        if (hd_secret_key_parse(&master, conf->master_key, err, sizeof(err))) goto out;
        rc = hd_apikey_create(client, db, &master, tenant, admin, key, err, sizeof(err)) ? 1 : 0;
        sodium_memzero(&master, sizeof(master));
        /* The OAuth2 client of the partner dialect is the key itself: its id names it, the whole key proves it. */
        if (!rc && oauth)
            printf("client_id=%.16s\nclient_secret=%s\n", key + 3, key);
        else if (!rc)
            printf("%s\n", key);
        sodium_memzero(key, sizeof(key));
    }
out:
    if (rc) fprintf(stderr, "hookd apikey: %s\n", err);
    if (client) hd_mongo_push(mongo, client);
    hd_store_destroy(store);
    return rc;
}

/* The options of sign and verify: --name value pairs. NULL when absent. */
static const char *opt(int argc, char **argv, const char *name) {
    for (int i = 0; i + 1 < argc; i += 2)
        if (!strcmp(argv[i], name)) return argv[i + 1];
    return NULL;
}

/* The body on stdin (caller frees), its length in *len. */
static char *read_body(size_t *len) {
    size_t cap = 4096, n;
    char *body = hd_xmalloc(cap);
    *len = 0;
    while ((n = fread(body + *len, 1, cap - *len, stdin)) > 0) {
        *len += n;
        if (*len == cap) body = hd_xrealloc(body, cap *= 2);
    }
    return body;
}

static int unix_seconds(const char *cmd, const char *ts, int64_t *out) {
    char *end;
    errno = 0;
    long long t = strtoll(ts, &end, 10);
    if (errno || *end || end == ts || t < 0) {
        fprintf(stderr, "hookd %s: --timestamp must be unix seconds\n", cmd);
        return -1;
    }
    *out = t;
    return 0;
}

/* v1 with a whsec_ secret, v1a with a whsk_ signing key. */
static int cmd_sign(hd_conf_t *conf, int argc, char **argv) {
    const char *secret = opt(argc, argv, "--secret"), *id = opt(argc, argv, "--id");
    const char *ts = opt(argc, argv, "--timestamp");
    int64_t t;
    if (!secret || !id || !ts) {
        fprintf(stderr, "usage: hookd sign --secret whsec_...|whsk_... --id MSG_ID --timestamp UNIX_SECONDS < body\n");
        return 2;
    }
    if (unix_seconds("sign", ts, &t)) return 2;
    char err[256], sig[HD_SIGN_V1A_SIZE];
    hd_sign_key_t key;
    hd_sign_ed_key_t ed;
    int v1a = !strncmp(secret, "whsk_", 5);
    if (v1a ? hd_sign_ed_key_init(&ed, secret, err, sizeof(err)) : hd_sign_key_init(&key, secret, err, sizeof(err))) {
        fprintf(stderr, "hookd sign: %s\n", err);
        return 2;
    }
    size_t len;
    char *body = read_body(&len);
    if (v1a)
        hd_sign_v1a(&ed, id, t, body, len, sig);
    else
        hd_sign_v1(&key, id, t, body, len, sig);
    printf("%s\n", sig);
    free(body);
    sodium_memzero(&key, sizeof(key));
    sodium_memzero(&ed, sizeof(ed));
    return 0;
}

/* For support staff: does this webhook (id, timestamp, body on stdin, webhook-signature header) carry a valid
 * signature for this secret or public key? Exit 0 when it does, 1 when it does not, 2 on a usage error. */
static int cmd_verify(hd_conf_t *conf, int argc, char **argv) {
    const char *secret = opt(argc, argv, "--secret"), *pk = opt(argc, argv, "--public-key");
    const char *id = opt(argc, argv, "--id"), *ts = opt(argc, argv, "--timestamp");
    const char *header = opt(argc, argv, "--signature");
    int64_t t;
    if (!id || !ts || !header || !secret == !pk) {
        fprintf(stderr, "usage: hookd verify --id MSG_ID --timestamp UNIX_SECONDS --signature 'v1,... v1a,...'\n"
                        "                    (--secret whsec_... | --public-key whpk_...) < body\n");
        return 2;
    }
    if (unix_seconds("verify", ts, &t)) return 2;
    char err[256];
    hd_sign_key_t key;
    if (secret && hd_sign_key_init(&key, secret, err, sizeof(err))) {
        fprintf(stderr, "hookd verify: %s\n", err);
        return 2;
    }
    size_t len;
    char *body = read_body(&len);
    int ok = secret ? hd_sign_verify(&key, id, t, body, len, header) : hd_sign_verify_v1a(pk, id, t, body, len, header);
    free(body);
    sodium_memzero(&key, sizeof(key));
    /* Receivers refuse timestamps more than 5 minutes away (Standard Webhooks): worth saying when it explains a
     * rejection the signature does not. */
    long long age = (long long)(hd_now_ms() / 1000 - t);
    printf("%s: %s %s entry of the signature matches the id, timestamp and body%s\n", ok ? "valid" : "invalid",
           ok ? "a" : "no", secret ? "v1" : "v1a",
           age > 300 || age < -300 ? " (the timestamp is more than 5 minutes away from now: receivers that check "
                                     "it refuse the message)"
                                   : "");
    return ok ? 0 : 1;
}

static int cmd_config(hd_conf_t *conf, int argc, char **argv) {
    if (argc > 0 && !strcmp(argv[0], "--markdown"))
        hd_conf_print_markdown(stdout);
    else
        hd_conf_print(conf, stdout);
    return 0;
}

static int cmd_version(hd_conf_t *conf, int argc, char **argv) {
    printf("hookd %s (librdkafka %s, libcurl %s, libsodium %s)\n", HD_VERSION, rd_kafka_version_str(),
           curl_version_info(CURLVERSION_NOW)->version, sodium_version_string());
    return 0;
}

static int cmd_demo(hd_conf_t *conf, int argc, char **argv) {
    install_signals();
    return hd_demo_run(conf, &stop_flag);
}

static int cmd_replay(hd_conf_t *conf, int argc, char **argv) {
    install_signals();
    return hd_replay_main(conf, argc, argv, &stop_flag);
}

static const struct {
    const char *name;
    int (*fn)(hd_conf_t *conf, int argc, char **argv);
} commands[] = {
    {"dispatch", cmd_dispatch}, {"replay", cmd_replay},     {"demo", cmd_demo}, {"api", cmd_api},
    {"apikey", cmd_apikey},     {"recorder", cmd_recorder}, {"sign", cmd_sign}, {"verify", cmd_verify},
    {"config", cmd_config},     {"version", cmd_version},
};

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "hookd: libsodium failed to initialise\n");
        return 1;
    }
    /* glibc raises its mmap threshold to the largest block freed, so librdkafka's fetch and request buffers (up
     * to 1 MB) stay in the heap once freed and a burst leaves RSS at its peak. A fixed threshold returns them:
     * under a 20,000-event backlog the peak went from 70 to 64-68 MB (docs/benchmarks.md). The environment's
     * MALLOC_MMAP_THRESHOLD_ still wins. */
    if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        int rest = argc - 2;
        hd_conf_t *conf = load_conf(&rest, argv + 2);
        if (!conf) return 2;
        int rc = commands[i].fn(conf, rest, argv + 2);
        hd_conf_destroy(conf);
        return rc;
    }
    fprintf(stderr, "hookd: unknown command \"%s\" (hookd --help lists them)\n", argv[1]);
    return 2;
}
