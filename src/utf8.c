#include "hookd/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hookd/util.h"

/* The length of the well-formed sequence at s (at most len bytes available), or 0. */
static size_t seq(const unsigned char *s, size_t len) {
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!n || n > len) return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xc0) != 0x80) return 0;
    /* The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF. */
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return n;
}

int hd_utf8_valid(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0, n; i < len; i += n)
        if (!(n = seq(p + i, len - i))) return 0;
    return 1;
}

size_t hd_utf8_count(const char *s, size_t len) {
    const unsigned char *p = (const unsigned char *)s;
    size_t count = 0;
    for (size_t i = 0, n; i < len; i += n ? n : 1) {
        n = seq(p + i, len - i);
        count++;
    }
    return count;
}

size_t hd_utf8_prefix(const char *s, size_t len, size_t max) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t n = seq(p + i, len - i);
        if (!n) n = 1;
        if (i + n > max) break;
        i += n;
    }
    return i;
}

size_t hd_utf8_copy(char *out, size_t out_size, const char *in, size_t len) {
    const unsigned char *p = (const unsigned char *)in;
    size_t i = 0, o = 0;
    while (i < len) {
        size_t n = seq(p + i, len - i);
        if (o + (n ? n : 1) >= out_size) break;
        if (n && p[i]) {
            memmove(out + o, p + i, n); /* out may be in: hd_utf8_vformat cleans in place */
            o += n;
            i += n;
        } else {
            out[o++] = '?';
            i++;
        }
    }
    out[o] = '\0';
    return o;
}

size_t hd_utf8_vformat(char *out, size_t out_size, const char *fmt, va_list ap) {
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(out, out_size, fmt, ap);
    size_t written = 0;
    if (n < 0) {
        out[0] = '\0';
    } else if ((size_t)n < out_size) {
        written = hd_utf8_valid(out, (size_t)n) ? (size_t)n : hd_utf8_copy(out, out_size, out, (size_t)n);
    } else {
        /* Cut where the whole text says a character ends, not where the buffer happened to. */
        char *full = hd_xmalloc((size_t)n + 1);
        vsnprintf(full, (size_t)n + 1, fmt, again);
        written = hd_utf8_copy(out, out_size, full, hd_utf8_prefix(full, (size_t)n, out_size - 1));
        free(full);
    }
    va_end(again);
    return written;
}

size_t hd_utf8_format(char *out, size_t out_size, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = hd_utf8_vformat(out, out_size, fmt, ap);
    va_end(ap);
    return n;
}
