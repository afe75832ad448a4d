/* HTTP delivery on libcurl's multi interface: many transfers in flight on one thread, connections kept alive and
 * reused per host, no thread per request. One hd_deliver_t belongs to one worker thread.
 *
 * A request is a caller-owned hd_deliver_req_t: fill the "in" fields, hd_deliver_submit() it, and the done
 * callback receives it back from hd_deliver_run() with the "out" fields set. Easy handles are pooled. */
#ifndef HOOKD_DELIVER_H
#define HOOKD_DELIVER_H

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#include "hookd/config.h"
#include "hookd/sub.h"

typedef struct hd_deliver_req_s {
    /* in: borrowed, must stay valid until the done callback */
    const char *url;
    const char *body;
    size_t body_len;
    const struct curl_slist *headers; /* in: borrowed, as url */
    void *opaque;

    /* out */
    long status;   /* HTTP status, 0 when none arrived */
    int curl_code; /* CURLE_OK or the transport error */
    char error[CURL_ERROR_SIZE];
    char *response; /* first http.max.response.bytes of the body, NUL-terminated when response_len is not
                     * 0 (allocated as the body arrives); freed by _clear */
    size_t response_len;
    int64_t duration_us;
    int64_t retry_after_s; /* Retry-After in seconds from now, -1 when absent */
    char refused[96];      /* non-empty when the guard refused the address: "10.0.0.7 (a private address)" */

    /* private */
    CURL *easy;
    size_t response_cap, response_alloc;
    int64_t started_us;
    const struct hd_guard_s *guard;
} hd_deliver_req_t;

/* A webhook's request headers: the subscription's own (custom, custom_cnt) first, then content-type, webhook-id,
 * webhook-timestamp, webhook-signature, and "Expect:", which tells curl to send no Expect: 100-continue (a round
 * trip for larger bodies). One allocation, nodes then lines, since curl only reads the list (curl_slist_append
 * makes two per header, a dozen per delivery): the caller frees it with free(), not curl_slist_free_all. Copies
 * the strings. */
struct curl_slist *hd_deliver_headers(const hd_sub_header_t *custom, int custom_cnt, const char *content_type,
                                      const char *webhook_id, const char *timestamp, const char *signature);

typedef struct hd_deliver_s hd_deliver_t;

typedef void(hd_deliver_done_cb)(hd_deliver_req_t *req, void *opaque);

/* Returns an engine calling done(req, opaque) for each finished request, or NULL with errstr (e.g. a bad
 * http.allow.cidrs). Keeps no pointer to conf beyond the call. Connections go only to addresses the guard
 * (guard.h) allows; a refused attempt finishes with req->refused set. */
hd_deliver_t *hd_deliver_new(const hd_conf_t *conf, hd_deliver_done_cb *done, void *opaque, char *errstr,
                             size_t errstr_size);

/* Frees the engine. The caller first hd_deliver_cancel()s whatever it still has in flight. NULL is a no-op. */
void hd_deliver_destroy(hd_deliver_t *d);

/* Starts a transfer. Returns 0, or -1 with req->error set (the request was not started; done is not called). */
int hd_deliver_submit(hd_deliver_t *d, hd_deliver_req_t *req);

/* Waits up to timeout_ms for network activity or for one of extra_fds to become readable, advances every
 * transfer and calls done for each one that finished. Returns the number finished, or -1 on a multi error. */
int hd_deliver_run(hd_deliver_t *d, struct curl_waitfd *extra_fds, unsigned extra_cnt, int timeout_ms);

/* Removes an in-flight request without calling done (used when abandoning work at shutdown). */
void hd_deliver_cancel(hd_deliver_t *d, hd_deliver_req_t *req);

size_t hd_deliver_inflight(const hd_deliver_t *d);

/* Frees what the engine attached to req (the response) so it can be reused or freed. */
void hd_deliver_req_clear(hd_deliver_req_t *req);

#endif
