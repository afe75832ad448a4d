/* Log lines: JSON, hence valid UTF-8, whatever the message and the values quote; repeated errors counted, not
 * written again. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hookd/log.h"
#include "hookd/utf8.h"
#include "unit.h"

/* Runs fn with stderr going to a temporary file; returns what it wrote (the caller frees it). */
static char *captured(void (*fn)(void)) {
    char path[] = "/tmp/hookd-test-log-XXXXXX";
    int fd = mkstemp(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    char *out = calloc(1, 65536);
    size_t n = f ? fread(out, 1, 65535, f) : 0;
    out[n] = '\0';
    if (f) fclose(f);
    close(fd);
    unlink(path);
    return out;
}

static int count(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void repeat_outage(void) {
    /* The same error with changing figures, as librdkafka repeats it while a broker is away. */
    for (int i = 0; i < 50; i++)
        HD_LOG_LIMITED(HD_LOG_ERROR, "kafka", NULL, "Connect to 127.0.0.1:9092 failed (after %dms in state CONNECT)",
                       i);
    HD_LOG_LIMITED(HD_LOG_ERROR, "kafka", NULL, "another error");
    HD_LOG_LIMITED(HD_LOG_ERROR, "consume", NULL, "Connect to 127.0.0.1:9092 failed (after 1ms in state CONNECT)");
    for (int i = 0; i < 3; i++)
        HD_LOG(HD_LOG_ERROR, "kafka", NULL, "unlimited %d", i);
}

static void test_repeated_errors_are_counted_not_written(void) {
    char *out = captured(repeat_outage);
    CHECK(count(out, "Connect to 127.0.0.1:9092 failed") == 2); /* once per component */
    CHECK(count(out, "another error") == 1);
    CHECK(count(out, "unlimited") == 3);      /* HD_LOG itself never drops a line */
    CHECK(count(out, "\"suppressed\"") == 0); /* the count comes with the first line after the window */
    free(out);
}

static const char *log_msg, *log_value;

static void log_one(void) {
    hd_log_write(HD_LOG_WARN, "test", HD_KV("value", log_value), "%s", log_msg);
}

static void test_lines_stay_utf8(void) {
    char long_msg[2100] = "xy";
    for (int i = 0; i < 1000; i++)
        strcat(long_msg, "\xc3\xa9"); /* cut at 1024 bytes, inside a character */
    const char *msgs[] = {long_msg, "bad \xff\xfe bytes", "fine"};
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        log_msg = msgs[i];
        log_value = "v\xed\xa0\x80"; /* a surrogate */
        char *line = captured(log_one);
        CHECK(hd_utf8_valid(line, strlen(line)));
        json_object *o = json_tokener_parse(line), *v;
        CHECK(o && json_object_object_get_ex(o, "msg", &v) && json_object_object_get_ex(o, "value", &v));
        if (o) CHECK_STR(json_object_get_string(v), "v???");
        json_object_put(o);
        free(line);
    }
}

int main(void) {
    RUN(test_repeated_errors_are_counted_not_written);
    RUN(test_lines_stay_utf8);
    return UNIT_REPORT();
}
