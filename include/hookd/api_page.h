/* Pagination of the management API's lists over the store: cursor pages (opaque cursors of the ordering field,
 * limit, after, before), offset pages (limit, offset, with the total), and the skip/take slices of dialects with
 * their own orders. Replies go through the request helpers (api_req.h). */
#ifndef HOOKD_API_PAGE_H
#define HOOKD_API_PAGE_H

#include "hookd/api_req.h"

/* The query parameters of hd_api_page_list, for hd_api_req_params lists. */
#define HD_API_PAGE_PARAMS "limit", "after", "before", "offset"

/* Replies with one page of coll's documents matching filter (borrowed), ordered by field (a string field, unique
 * per document), ascending or descending, honouring the limit, after and before query parameters, or limit and
 * offset (offset pagination: the pagination object then has offset and total). Each document is converted with
 * conv (which returns a new object). */
void hd_api_page_list(hd_api_req_t *r, const char *coll, const bson_t *filter, const char *field, int desc,
                      json_object *(*conv)(const bson_t *doc));

/* One page of coll's documents matching filter (borrowed) in the order of sort (borrowed; _id breaks ties),
 * skipping skip and taking at most take (0: none, only the total), each converted with conv. 0 with *items (a new
 * array) and *total (every match) set, or -1 with a 500 reply. For dialects with offset pagination and their own
 * sort orders. */
int hd_api_page_slice(hd_api_req_t *r, const char *coll, const bson_t *filter, const bson_t *sort, int64_t skip,
                      int64_t take, json_object *(*conv)(const bson_t *doc), json_object **items, int64_t *total);

#endif
