/* A process-wide pool of immutable strings and string lists shared by whoever holds the same bytes: a million
 * subscriptions repeat a few thousand tenants, URLs, names and event type lists (docs/capacity.md). Reference
 * counted and thread-safe: snapshots are built on the cache's thread and released on whichever thread drops
 * them last. */
#ifndef HOOKD_INTERN_H
#define HOOKD_INTERN_H

#include <stddef.h>

/* The shared copy of the len bytes at s, NUL-terminated, with one more reference. */
const char *hd_intern_str(const char *s, size_t len);

/* Like hd_intern_str when another holder shares s already or s was seen lately (by an earlier call that returned
 * NULL); else NULL, and the caller keeps a copy of its own: a string only one holder has then costs nothing more
 * than that copy, and its second holder makes it shared. */
const char *hd_intern_repeated(const char *s, size_t len);

/* The shared copy of the list of cnt strings (cnt > 0): an array of cnt pointers to NUL-terminated strings, all in
 * the one shared block, with one more reference. */
const char **hd_intern_list(const char *const *strs, int cnt);

/* Drops a reference taken by hd_intern_str or hd_intern_list (p is what they returned); the last one frees the
 * block. NULL is a no-op. */
void hd_intern_release(const void *p);

/* Distinct blocks held: for tests and the capacity figures. */
size_t hd_intern_count(void);

#endif
