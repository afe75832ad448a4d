/* Log lines are JSON, hence valid UTF-8, whatever the message and the values quote. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hookd/log.h"
#include "hookd/utf8.h"
#include "unit.h"

/* The line hd_log_write writes for msg and value, read back from stderr (caller frees). */
static char *logged(const char *msg, const char *value) {
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    fflush(stderr);
    dup2(fileno(tmp), STDERR_FILENO);
    hd_log_write(HD_LOG_WARN, "test", HD_KV("value", value), "%s", msg);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    long n = ftell(tmp);
    char *line = calloc(1, (size_t)n + 1);
    rewind(tmp);
    if (fread(line, 1, (size_t)n, tmp) != (size_t)n) line[0] = '\0';
    fclose(tmp);
    return line;
}

static void test_lines_stay_utf8(void) {
    char long_msg[2100] = "xy";
    for (int i = 0; i < 1000; i++)
        strcat(long_msg, "\xc3\xa9"); /* cut at 1024 bytes, inside a character */
    const char *msgs[] = {long_msg, "bad \xff\xfe bytes", "fine"};
    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        char *line = logged(msgs[i], "v\xed\xa0\x80" /* a surrogate */);
        CHECK(hd_utf8_valid(line, strlen(line)));
        json_object *o = json_tokener_parse(line), *v;
        CHECK(o && json_object_object_get_ex(o, "msg", &v) && json_object_object_get_ex(o, "value", &v));
        if (o) CHECK_STR(json_object_get_string(v), "v???");
        json_object_put(o);
        free(line);
    }
}

int main(void) {
    RUN(test_lines_stay_utf8);
    return UNIT_REPORT();
}
