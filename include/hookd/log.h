/* JSON-lines logging to stderr. The level is checked before any formatting happens (the HD_LOG macro), so a
 * disabled debug line costs one comparison. */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

typedef enum { HD_LOG_DEBUG = 0, HD_LOG_INFO, HD_LOG_WARN, HD_LOG_ERROR, HD_LOG_OFF } hd_log_level_t;

extern hd_log_level_t hd_log_min_level;

/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int hd_log_level_parse(const char *name);

/* Writes one line: {"ts":..., "level":..., "component":..., "msg":..., <kv pairs>}.
 * kv is a NULL-terminated list of key, value C strings (values JSON-escaped here); NULL values are skipped. */
void hd_log_write(hd_log_level_t level, const char *component, const char *const *kv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* hd_log_write for errors that repeat while a dependency is away (a broker, the database): a line whose text,
 * digits aside, was written less than HD_LOG_REPEAT_MS ago is only counted; the first one written after that carries
 * the count in "suppressed". */
#define HD_LOG_REPEAT_MS 10000
void hd_log_write_limited(hd_log_level_t level, const char *component, const char *const *kv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* librdkafka's log_cb (syslog levels), so that its lines are JSON too. Set it on every rd_kafka_conf_t. */
struct rd_kafka_s;
void hd_log_rdkafka(const struct rd_kafka_s *rk, int level, const char *fac, const char *buf);

/* Routes libmongoc's log through hd_log; called once before the first MongoDB client. */
void hd_log_mongoc_install(void);

#define HD_LOG(level, component, kv, ...)                                                                              \
    do {                                                                                                               \
        if ((level) >= hd_log_min_level) hd_log_write((level), (component), (kv), __VA_ARGS__);                        \
    } while (0)

#define HD_LOG_LIMITED(level, component, kv, ...)                                                                      \
    do {                                                                                                               \
        if ((level) >= hd_log_min_level) hd_log_write_limited((level), (component), (kv), __VA_ARGS__);                \
    } while (0)

#define HD_KV(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif
