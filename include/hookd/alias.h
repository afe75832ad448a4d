/* Numeric aliases: a stable integer per subscription and per delivery-log row, beside their string ids, for the
 * dialects whose platforms use integer ids. Stored as the document's `alias` field; numbers come from the
 * `counters` collection ({_id: counter name, seq}), one findAndModify $inc per reservation. They increase but may
 * have gaps (a reserved block dies with its process). */
#ifndef HOOKD_ALIAS_H
#define HOOKD_ALIAS_H

#include <mongoc/mongoc.h>
#include <stdint.h>

/* The next number of counter in database into *out. block > 1 reserves that many at once and hands them out from
 * memory (shared by the process's threads), for writers that need many, such as the delivery-log recorder.
 * 0, or -1 with errstr filled. */
int hd_alias_next(mongoc_client_t *client, const char *database, const char *counter, int block, int64_t *out,
                  char *errstr, size_t errstr_size);

/* Gives every document of collection that has no alias one from counter (documents written before aliases
 * existed). Returns how many were given one, or -1 with errstr filled. */
int64_t hd_alias_backfill(mongoc_client_t *client, const char *database, const char *collection, const char *counter,
                          char *errstr, size_t errstr_size);

#endif
