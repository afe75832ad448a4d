/* The request-time bound over real HTTP on loopback: a client that trickles its headers is cut at the bound; a
 * prompt one is served. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hookd/httpwatch.h"
#include "hookd/util.h"
#include "unit.h"

#define TIMEOUT_MS 300

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls) {
    hd_httpwatch_received(c);
    struct MHD_Response *r = MHD_create_response_from_buffer(3, "ok\n", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    hd_httpwatch_completed(cls, c);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Sends first, then a header line every 50 ms, until the server closes the connection or limit_ms pass; returns
 * the ms it took the server to close it, or -1. */
static int64_t closed_after(int fd, const char *first, int64_t limit_ms) {
    int64_t t0 = hd_mono_us() / 1000;
    char buf[512];
    if (send(fd, first, strlen(first), MSG_NOSIGNAL) < 0) return -1;
    while (hd_mono_us() / 1000 - t0 < limit_ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) == 1) {
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0) return hd_mono_us() / 1000 - t0;
            continue;
        }
        if (send(fd, "x-slow: 1\r\n", 11, MSG_NOSIGNAL) < 0) return hd_mono_us() / 1000 - t0;
    }
    return -1;
}

static void test_bound(void) {
    char err[128];
    hd_httpwatch_t *w = hd_httpwatch_new(TIMEOUT_MS, err, sizeof(err));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, 0, NULL, NULL, handle, NULL,
                                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_CONNECTION,
                                            hd_httpwatch_notify, w, MHD_OPTION_NOTIFY_COMPLETED, completed, w,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    CHECK(w && d);
    if (!w || !d) return;
    int port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;

    int slow = connect_to(port); /* trickles headers: libmicrohttpd alone would wait 60 s */
    int64_t ms = closed_after(slow, "GET / HTTP/1.1\r\nHost: x\r\n", 3000);
    CHECK(ms >= TIMEOUT_MS - 50 && ms < 2000);
    close(slow);

    int prompt = connect_to(port); /* a whole request at once is served */
    char reply[256] = "";
    send(prompt, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27, MSG_NOSIGNAL);
    CHECK(recv(prompt, reply, sizeof(reply) - 1, 0) > 0 && !strncmp(reply, "HTTP/1.1 200", 12));
    close(prompt);

    MHD_stop_daemon(d);
    hd_httpwatch_destroy(w);
    hd_httpwatch_destroy(NULL);
}

int main(void) {
    RUN(test_bound);
    return UNIT_REPORT();
}
