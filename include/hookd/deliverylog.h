/* The delivery-log writer: consumes the results topic (one record per delivery attempt, see record.h) in its
 * own consumer group and upserts the `deliveries` collection, one row per delivery id holding its latest attempt.
 * An attempt older than (or equal to) the row's is ignored, so re-consuming the topic never duplicates or
 * regresses a row. Status: success -> succeeded; not final with a next_retry_at -> retrying; otherwise failed
 * (rows created by the API before any attempt are pending). A new row gets a numeric alias (alias.h), reserved in
 * blocks. Runs as `hookd recorder` or as a thread of `hookd api` (api.recorder = 1). */
#ifndef HOOKD_DELIVERYLOG_H
#define HOOKD_DELIVERYLOG_H

#include <json-c/json.h>
#include <mongoc/mongoc.h>
#include <stdatomic.h>

#include "hookd/config.h"
#include "hookd/mongo.h"

typedef struct hd_deliverylog_s hd_deliverylog_t;

/* Does not take conf or mongo; both must outlive the writer. NULL with errstr on failure (also when mongo is NULL:
 * a file store has no delivery log). */
hd_deliverylog_t *hd_deliverylog_new(const hd_conf_t *conf, hd_mongo_t *mongo, char *errstr, size_t errstr_size);

/* Consumes until *stop is non-zero. An offset is stored only after its record is in MongoDB. */
void hd_deliverylog_run(hd_deliverylog_t *rec, const atomic_int *stop);

/* NULL is a no-op. */
void hd_deliverylog_destroy(hd_deliverylog_t *rec);

/* Upserts one results record (a parsed JSON object) into `deliveries`. Returns 1 when written, 0 when skipped
 * (older than the stored attempt, or not a results record: reason in errstr), -1 on a database error. */
int hd_deliverylog_apply(mongoc_client_t *client, const char *database, json_object *record, char *errstr,
                         size_t errstr_size);

/* Marks the delivery of event_id to subscription_id as pending (inserting the row when absent), for test events
 * and retries before their attempt is recorded. Returns 0, or -1 with errstr filled. */
int hd_deliverylog_pending(mongoc_client_t *client, const char *database, const char *tenant,
                           const char *subscription_id, const char *event_id, const char *event_type, char *errstr,
                           size_t errstr_size);

#endif
