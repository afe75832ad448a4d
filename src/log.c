#include "hookd/log.h"

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/rfc3339.h"
#include "hookd/util.h"

#include "hookd/utf8.h"
#include "hookd/util.h"

hd_log_level_t hd_log_min_level = HD_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int hd_log_level_parse(const char *name) {
    for (int i = 0; i <= HD_LOG_OFF; i++)
        if (!strcmp(name, level_names[i])) return i;
    return -1;
}

void hd_log_write(hd_log_level_t level, const char *component, const char *const *kv, const char *fmt, ...) {
    char msg[1024], ts[HD_RFC3339_SIZE];
    va_list ap;
    va_start(ap, fmt);
    hd_utf8_vformat(msg, sizeof(msg), fmt, ap); /* a line that is not UTF-8 is not JSON */
    va_end(ap);

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
    fprintf(stderr, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(o);
}

static hd_log_level_t from_syslog(int level) {
    return level <= 3 ? HD_LOG_ERROR : level == 4 ? HD_LOG_WARN : level <= 6 ? HD_LOG_INFO : HD_LOG_DEBUG;
}

void hd_log_rdkafka(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    HD_LOG(from_syslog(level), "kafka", HD_KV("client", rd_kafka_name(rk), "facility", fac), "%s", buf);
}

static void mongoc_handler(mongoc_log_level_t level, const char *domain, const char *message, void *data) {
    hd_log_level_t l = level <= MONGOC_LOG_LEVEL_CRITICAL ? HD_LOG_ERROR
                       : level == MONGOC_LOG_LEVEL_WARNING ? HD_LOG_WARN
                       : level <= MONGOC_LOG_LEVEL_INFO    ? HD_LOG_INFO
                                                           : HD_LOG_DEBUG;
    /* FerretDB lacks endSessions; the driver's complaint about it at shutdown is noise. */
    if (strstr(message, "endSessions")) l = HD_LOG_DEBUG;
    HD_LOG(l, "mongo", HD_KV("domain", domain), "%s", message);
}

void hd_log_mongoc_install(void) {
    mongoc_log_trace_disable();
    mongoc_log_set_handler(mongoc_handler, NULL);
}
