#include "hookd/log.h"

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/rfc3339.h"
#include "hookd/utf8.h"
#include "hookd/util.h"

hd_log_level_t hd_log_min_level = HD_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int hd_log_level_parse(const char *name) {
    for (int i = 0; i <= HD_LOG_OFF; i++)
        if (!strcmp(name, level_names[i])) return i;
    return -1;
}

static void emit(hd_log_level_t level, const char *component, const char *const *kv, const char *msg,
                 const char *suppressed) {
    char ts[HD_RFC3339_SIZE];
    hd_rfc3339_format(hd_now_ms(), ts);

    /* json-c does the escaping: log values come from events and endpoints and may hold anything. */
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ts", json_object_new_string(ts));
    json_object_object_add(o, "level", json_object_new_string(level_names[level]));
    json_object_object_add(o, "component", json_object_new_string(component));
    json_object_object_add(o, "msg", json_object_new_string(msg));
    for (; kv && kv[0]; kv += 2) {
        if (!kv[1]) continue;
        size_t len = strlen(kv[1]);
        char *clean = hd_utf8_valid(kv[1], len) ? NULL : hd_xmalloc(len + 1);
        if (clean) hd_utf8_copy(clean, len + 1, kv[1], len);
        json_object_object_add(o, kv[0], json_object_new_string(clean ? clean : kv[1]));
        free(clean);
    }
    if (suppressed) json_object_object_add(o, "suppressed", json_object_new_string(suppressed));
    fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

void hd_log_write(hd_log_level_t level, const char *component, const char *const *kv, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap); /* a line that is not UTF-8 is not JSON */
    va_end(ap);
    emit(level, component, kv, msg, NULL);
}

/* Lines recently written by hd_log_write_limited, by a hash of component and text without its digits: librdkafka
 * repeats "Connect to ... failed (after 3ms ...)" with new numbers every second while a broker is away. */
#define REPEAT_SLOTS 64
static struct {
    uint64_t hash;
    int64_t first_ms;
    unsigned long count;
} repeats[REPEAT_SLOTS];
static pthread_mutex_t repeats_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t line_hash(const char *component, const char *msg) {
    uint64_t h = 1469598103934665603ull;
    for (const char *s = component; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    for (const char *s = msg; *s; s++)
        if (*s < '0' || *s > '9') h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

void hd_log_write_limited(hd_log_level_t level, const char *component, const char *const *kv, const char *fmt, ...) {
    char msg[1024], count[24];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    uint64_t h = line_hash(component, msg);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    unsigned long suppressed = 0;
    pthread_mutex_lock(&repeats_lock);
    size_t slot = (size_t)(h % REPEAT_SLOTS);
    if (repeats[slot].hash == h && now_ms - repeats[slot].first_ms < HD_LOG_REPEAT_MS) {
        repeats[slot].count++;
        pthread_mutex_unlock(&repeats_lock);
        return;
    }
    if (repeats[slot].hash == h) suppressed = repeats[slot].count;
    repeats[slot].hash = h;
    repeats[slot].first_ms = now_ms;
    repeats[slot].count = 0;
    pthread_mutex_unlock(&repeats_lock);
    snprintf(count, sizeof(count), "%lu", suppressed);
    emit(level, component, kv, msg, suppressed ? count : NULL);
}

static hd_log_level_t from_syslog(int level) {
    return level <= 3 ? HD_LOG_ERROR : level == 4 ? HD_LOG_WARN : level <= 6 ? HD_LOG_INFO : HD_LOG_DEBUG;
}

void hd_log_rdkafka(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    hd_log_level_t l = from_syslog(level);
    if (l >= HD_LOG_WARN)
        HD_LOG_LIMITED(l, "kafka", HD_KV("client", rd_kafka_name(rk), "facility", fac), "%s", buf);
    else
        HD_LOG(l, "kafka", HD_KV("client", rd_kafka_name(rk), "facility", fac), "%s", buf);
}

static void mongoc_handler(mongoc_log_level_t level, const char *domain, const char *message, void *data) {
    hd_log_level_t l = level <= MONGOC_LOG_LEVEL_CRITICAL  ? HD_LOG_ERROR
                       : level == MONGOC_LOG_LEVEL_WARNING ? HD_LOG_WARN
                       : level <= MONGOC_LOG_LEVEL_INFO    ? HD_LOG_INFO
                                                           : HD_LOG_DEBUG;
    /* FerretDB lacks endSessions; the driver's complaint about it at shutdown is noise. */
    if (strstr(message, "endSessions")) l = HD_LOG_DEBUG;
    if (l >= HD_LOG_WARN)
        HD_LOG_LIMITED(l, "mongo", HD_KV("domain", domain), "%s", message);
    else
        HD_LOG(l, "mongo", HD_KV("domain", domain), "%s", message);
}

void hd_log_mongoc_install(void) {
    mongoc_log_trace_disable();
    mongoc_log_set_handler(mongoc_handler, NULL);
}
