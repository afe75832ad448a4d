/* The dialects hookd has and where `hookd api` mounts them: api.dialects parsed into path prefixes, and each
 * request's path routed to the dialect mounted at a prefix of it (the server, api.h, asks). */
#ifndef HOOKD_DIALECTS_H
#define HOOKD_DIALECTS_H

#include "hookd/dialect.h"

/* Every dialect hookd has, NULL-terminated. */
extern const hd_dialect_t *const hd_dialects_all[];

/* The dialect called name, or NULL. */
const hd_dialect_t *hd_dialects_lookup(const char *name);

typedef struct hd_dialects_s hd_dialects_t;

/* Parses api.dialects: a comma-separated list of "name" (at the dialect's own prefix) or "name=/prefix". A prefix is
 * "/" followed by segments of letters, digits and "-._~" (a trailing "/" is dropped). Unknown names, malformed
 * prefixes, an empty list and two mounts on the same or nested prefixes are errors: NULL with errstr filled. */
hd_dialects_t *hd_dialects_new(const char *spec, char *errstr, size_t errstr_size);

/* NULL is a no-op. */
void hd_dialects_destroy(hd_dialects_t *m);

/* The dialect mounted at a prefix of the path segments seg (there is at most one), with *prefix_len set to the
 * prefix's number of segments; NULL when none. */
const hd_dialect_t *hd_dialects_find(const hd_dialects_t *m, const char *const *seg, int nseg, int *prefix_len);

/* The number of mounts and the i-th mount's dialect and prefix (borrowed from m). */
int hd_dialects_count(const hd_dialects_t *m);
const hd_dialect_t *hd_dialects_get(const hd_dialects_t *m, int i, const char **prefix);

/* Seeds the event catalogue of every mounted dialect. 0, or -1 with errstr filled. */
int hd_dialects_seed(const hd_dialects_t *m, mongoc_client_t *client, const char *database, char *errstr,
                     size_t errstr_size);

#endif
