/* Small shared helpers: allocation that aborts on OOM (hookd cannot do anything useful without memory)
 * and clocks. */
#ifndef HOOKD_UTIL_H
#define HOOKD_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HD_VERSION "0.1.0"

void *hd_xmalloc(size_t n);
void *hd_xcalloc(size_t n, size_t size);
void *hd_xrealloc(void *p, size_t n);
/* NULL in, NULL out. */
char *hd_xstrdup(const char *s);
char *hd_xstrndup(const char *s, size_t n);

/* One object per thread, made on a thread's first hd_per_thread_get and destroyed when the thread ends: for
 * contexts that are dear to make and cannot be shared (a digest context, a JSON parser). Defined statically with
 * HD_PER_THREAD(make, destroy); make aborts rather than return NULL. */
typedef struct hd_per_thread_s {
    void *(*make)(void);
    void (*destroy)(void *);
    pthread_key_t key;
    atomic_int ready;
} hd_per_thread_t;
#define HD_PER_THREAD(make_fn, destroy_fn)                                                                             \
    { .make = (make_fn), .destroy = (destroy_fn) }
void *hd_per_thread_get(hd_per_thread_t *pt);

/* Writes v in decimal, as "%" PRId64 does, NUL-terminated into out (at least HD_INT64_TEXT bytes); returns its
 * length. The printf machinery costs ten times as much, and this runs several times per delivery
 * (tests/unit/test_util.c compares the two). */
#define HD_INT64_TEXT 21
size_t hd_int64_text(int64_t v, char *out);

/* Writes s (len bytes, NULs included) as a JSON string literal, the way json-c writes one without slash escaping:
 * '"', '\\' and control characters escaped, every other byte as it is. put receives the text in pieces. Hot-path
 * writers use this rather than a json-c string object per value (tests/unit/test_record.c compares the two). */
void hd_json_string(const char *s, size_t len, void (*put)(void *out, const char *p, size_t n), void *out);

/* Trims ASCII whitespace in place; returns the first non-space character. */
char *hd_trim(char *s);

/* An intrusive doubly linked list of structs with prev and next members, head a pointer to the first. */
#define HD_LIST_ADD(head, x)                                                                                           \
    do {                                                                                                               \
        (x)->prev = NULL;                                                                                              \
        (x)->next = (head);                                                                                            \
        if (head) (head)->prev = (x);                                                                                  \
        (head) = (x);                                                                                                  \
    } while (0)
#define HD_LIST_DEL(head, x)                                                                                           \
    do {                                                                                                               \
        if ((x)->prev)                                                                                                 \
            (x)->prev->next = (x)->next;                                                                               \
        else                                                                                                           \
            (head) = (x)->next;                                                                                        \
        if ((x)->next) (x)->next->prev = (x)->prev;                                                                    \
    } while (0)

int64_t hd_now_ms(void);  /* wall clock, ms since the epoch */
int64_t hd_mono_us(void); /* monotonic clock, microseconds */

/* now + ms on the clock pthread_cond_timedwait uses (CLOCK_REALTIME) */
struct timespec hd_deadline_in(int64_t ms);

/* Stops a thread that waits on cond under lock until *stop is set: sets it, wakes the thread and joins it. */
void hd_thread_stop(pthread_t thread, pthread_mutex_t *lock, pthread_cond_t *cond, int *stop);

#endif
