/* UTF-8 text: validation, character counts and cuts on character boundaries. Output that quotes input (API error
 * bodies, log lines, dead-letter headers, receivers' responses) goes through these, so a byte limit never splits a
 * character and a malformed byte never reaches JSON. "Well-formed" is RFC 3629: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF. */
#ifndef HOOKD_UTF8_H
#define HOOKD_UTF8_H

#include <stdarg.h>
#include <stddef.h>

/* 1 when the len bytes at s are well-formed UTF-8 (U+0000 included), else 0. */
int hd_utf8_valid(const char *s, size_t len);

/* The number of characters in the len bytes at s; a byte that starts no well-formed sequence counts as one. */
size_t hd_utf8_count(const char *s, size_t len);

/* The length of the longest prefix of the len bytes at s that has at most max bytes and ends on a character
 * boundary: use it as a precision, "%.*s", (int)hd_utf8_prefix(s, strlen(s), 64), s. */
size_t hd_utf8_prefix(const char *s, size_t len, size_t max);

/* Copies the len bytes at in into out (out_size > 0 bytes, NUL-terminated), cut on a character boundary, with
 * every byte that starts no well-formed sequence, and NUL, replaced by '?'. Returns the bytes written. */
size_t hd_utf8_copy(char *out, size_t out_size, const char *in, size_t len);

/* vsnprintf into out (out_size > 0 bytes) whose result is well-formed UTF-8: a text that does not fit is cut on a
 * character boundary, and malformed bytes become '?'. Returns the bytes written. */
size_t hd_utf8_vformat(char *out, size_t out_size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
size_t hd_utf8_format(char *out, size_t out_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
