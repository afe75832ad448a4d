/* A bound on the time a client of a libmicrohttpd daemon has to send each request, headers and body, counted
 * from its connection or from the end of its previous reply. libmicrohttpd's own timeout counts only silence, so
 * a client trickling a header line every few seconds would hold its connection for ever, and enough of them
 * starve every other client. Past the bound the connection is shut down; libmicrohttpd then sees the end of the
 * stream and closes it. Used by the API and the status server. */
#ifndef HOOKD_HTTPWATCH_H
#define HOOKD_HTTPWATCH_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hd_httpwatch_s hd_httpwatch_t;

/* Starts the thread that shuts down late connections (it looks every 100 ms). NULL with errstr filled when it
 * cannot start. */
hd_httpwatch_t *hd_httpwatch_new(int64_t timeout_ms, char *errstr, size_t errstr_size);

/* Stops the thread. Call it after MHD_stop_daemon, when no connection is left. NULL is a no-op. */
void hd_httpwatch_destroy(hd_httpwatch_t *w);

/* The daemon's MHD_OPTION_NOTIFY_CONNECTION callback, with the watch as cls: starts a new connection's clock and
 * forgets a closed connection (before libmicrohttpd closes its descriptor). */
void hd_httpwatch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                         enum MHD_ConnectionNotificationCode code);

/* The request is in (the access handler's last call for it): handling it is not the client's time. */
void hd_httpwatch_received(struct MHD_Connection *c);

/* The reply is sent (call it from MHD_OPTION_NOTIFY_COMPLETED): the clock restarts for the next request. */
void hd_httpwatch_completed(hd_httpwatch_t *w, struct MHD_Connection *c);

#endif
