/* A string-keyed hash map (open addressing, SipHash with a per-map random key, so keys that come from outside —
 * tenants, event types, URLs — cannot degrade it). Not thread-safe. */
#ifndef HOOKD_MAP_H
#define HOOKD_MAP_H

#include <stddef.h>

typedef struct hd_map_s hd_map_t;

hd_map_t *hd_map_new(size_t expected);

/* Frees the map, calling free_value (when not NULL) on every value. NULL is a no-op. */
void hd_map_destroy(hd_map_t *m, void (*free_value)(void *value));

/* The value slot of key (len bytes, copied on insert), inserting an empty (NULL) slot when absent. The pointer is
 * valid until the next insert. */
void **hd_map_slot(hd_map_t *m, const void *key, size_t len);

/* The value of key, or NULL. */
void *hd_map_get(const hd_map_t *m, const void *key, size_t len);

size_t hd_map_count(const hd_map_t *m);

/* Calls fn for every (key, value); fn must not insert. */
void hd_map_foreach(const hd_map_t *m, void (*fn)(const void *key, size_t len, void *value, void *opaque),
                    void *opaque);

#endif
