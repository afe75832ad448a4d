#include "hookd/evtype.h"

#include <string.h>

#define MAX_BYTES 128

int hd_evtype_name_valid(const char *name) {
    return !strchr(name, '*') && hd_evtype_pattern_valid(name);
}

int hd_evtype_pattern_valid(const char *pattern) {
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.*";
    size_t n = strlen(pattern);
    if (n > MAX_BYTES || strspn(pattern, chars) != n) return 0;
    if (hd_evtype_any(pattern)) return 1;
    for (const char *p = pattern;;) {
        size_t len = strcspn(p, ".");
        if (!len) return 0;
        int star = memchr(p, '*', len) != NULL;
        if (star && !(len == 1 || (len == 2 && p[1] == '*'))) return 0;
        if (len == 2 && star && p[len]) return 0; /* "**" only last */
        if (!p[len]) return 1;
        p += len + 1;
    }
}

int hd_evtype_any(const char *pattern) {
    return !strcmp(pattern, "*") || !strcmp(pattern, "**");
}

int hd_evtype_match(const char *pattern, const char *type) {
    if (hd_evtype_any(pattern)) return 1;
    for (const char *p = pattern, *t = type;;) {
        size_t pl = strcspn(p, "."), tl = strcspn(t, ".");
        if (pl == 2 && p[0] == '*' && p[1] == '*') return *t != '\0';
        if (pl == 1 && p[0] == '*') {
            if (!tl) return 0;
        } else if (pl != tl || memcmp(p, t, pl)) {
            return 0;
        }
        p += pl;
        t += tl;
        if (!*p || !*t) return !*p && !*t;
        p++;
        t++;
    }
}
