/* A small webhook receiver (libmicrohttpd) that verifies Standard Webhooks signatures: the demo's endpoint and a
 * tool for trying hookd locally. Each route is a path with the status it answers and the secret it verifies. */
#ifndef HOOKD_RECEIVER_H
#define HOOKD_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

typedef struct hd_receiver_route_s {
    const char *path;
    int status; /* answered once the first fail_first requests got 503 */
    int fail_first;
    const char *secret; /* whsec_... */
} hd_receiver_route_t;

typedef struct hd_receiver_s hd_receiver_t;

/* Listens on 127.0.0.1:port (0 picks a free port) in its own thread. Copies routes. NULL with errstr. */
hd_receiver_t *hd_receiver_new(uint16_t port, const hd_receiver_route_t *routes, int cnt, char *errstr,
                               size_t errstr_size);
void hd_receiver_destroy(hd_receiver_t *r);

uint16_t hd_receiver_port(const hd_receiver_t *r);

/* Requests received, and how many of them carried a valid signature (unknown paths count as received). */
void hd_receiver_counts(hd_receiver_t *r, int *received, int *verified);

#endif
