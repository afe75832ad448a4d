/* Small shared helpers: allocation that aborts on OOM (hookd cannot do anything useful without memory)
 * and clocks. */
#ifndef HOOKD_UTIL_H
#define HOOKD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define HD_VERSION "0.1.0"

void *hd_xmalloc(size_t n);
void *hd_xcalloc(size_t n, size_t size);
void *hd_xrealloc(void *p, size_t n);
/* NULL in, NULL out. */
char *hd_xstrdup(const char *s);
char *hd_xstrndup(const char *s, size_t n);

/* Trims ASCII whitespace in place; returns the first non-space character. */
char *hd_trim(char *s);

int64_t hd_now_ms(void);       /* wall clock, ms since the epoch */
int64_t hd_mono_us(void);      /* monotonic clock, microseconds */

#endif
