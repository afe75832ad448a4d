/* Payload filters: a MongoDB-style query over an event (the decoded event object: id, type, source, tenant,
 * time, data), compiled once when a subscription is loaded and evaluated per candidate event.
 *
 * Supported: implicit AND of fields, {"path": literal} equality, the field operators $eq $ne $gt $gte $lt $lte
 * $in $nin $exists $not (whose operand is an operator object), and the top-level $and / $or (non-empty arrays of
 * queries). Paths are dotted (jpath.h); a numeric segment indexes an array, any other segment applied to an array is
 * applied to each element (as in MongoDB), and a condition on an array field holds when it holds for the array
 * itself or for any element. $gt/$gte/$lt/$lte compare numbers with numbers and strings with strings (bytewise);
 * other pairs never match. {"path": null} also matches a missing path. See docs/events.md. */
#ifndef HOOKD_FILTER_H
#define HOOKD_FILTER_H

#include <json-c/json.h>
#include <stddef.h>

typedef struct hd_filter_s hd_filter_t;

/* Compiles query (a JSON object). Does not take query. NULL with errstr naming the offending path or operator
 * when the query is invalid (also when it nests deeper than HD_FILTER_MAX_DEPTH). */
#define HD_FILTER_MAX_DEPTH 32
hd_filter_t *hd_filter_new(json_object *query, char *errstr, size_t errstr_size);

/* NULL is a no-op. */
void hd_filter_destroy(hd_filter_t *f);

/* 1 when doc satisfies the filter, else 0. Does not take doc. */
int hd_filter_match(const hd_filter_t *f, json_object *doc);

/* 0 when query compiles, else -1 with errstr (for the management API's 422 answers). Does not take query. */
int hd_filter_validate(json_object *query, char *errstr, size_t errstr_size);

#endif
