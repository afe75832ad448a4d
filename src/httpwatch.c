#include "hookd/httpwatch.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hookd/log.h"
#include "hookd/util.h"

typedef struct watched_s {
    struct watched_s *prev, *next;
    int fd;
    _Atomic int64_t deadline_us; /* 0 while a request is handled */
} watched_t;

struct hd_httpwatch_s {
    int64_t timeout_us;
    pthread_mutex_t lock; /* list */
    watched_t *list;
    pthread_t thread;
    atomic_int stop;
};

/* Shuts down the connections past their deadline, under the lock the close notification takes too, so that each
 * descriptor is still its connection's own. */
static void expire(hd_httpwatch_t *w) {
    int64_t now = hd_mono_us();
    int cut = 0;
    pthread_mutex_lock(&w->lock);
    for (watched_t *c = w->list; c; c = c->next) {
        int64_t deadline = atomic_load(&c->deadline_us);
        if (deadline && now > deadline && c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            atomic_store(&c->deadline_us, 0);
            cut++;
        }
    }
    pthread_mutex_unlock(&w->lock);
    if (cut) HD_LOG(HD_LOG_INFO, "http", NULL, "closed %d connections that did not send a request in time", cut);
}

static void *run(void *arg) {
    hd_httpwatch_t *w = arg;
    while (!atomic_load(&w->stop)) {
        usleep(100 * 1000);
        expire(w);
    }
    return NULL;
}

hd_httpwatch_t *hd_httpwatch_new(int64_t timeout_ms, char *errstr, size_t errstr_size) {
    hd_httpwatch_t *w = hd_xcalloc(1, sizeof(*w));
    w->timeout_us = timeout_ms * 1000;
    pthread_mutex_init(&w->lock, NULL);
    if (pthread_create(&w->thread, NULL, run, w)) {
        snprintf(errstr, errstr_size, "cannot start the HTTP request-timeout thread");
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
    }
    return w;
}

void hd_httpwatch_destroy(hd_httpwatch_t *w) {
    if (!w) return;
    atomic_store(&w->stop, 1);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->lock);
    free(w);
}

void hd_httpwatch_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                         enum MHD_ConnectionNotificationCode code) {
    hd_httpwatch_t *w = cls;
    watched_t *e = *socket_context;
    pthread_mutex_lock(&w->lock);
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        e = *socket_context = hd_xcalloc(1, sizeof(*e));
        e->fd = info ? info->connect_fd : -1;
        atomic_init(&e->deadline_us, hd_mono_us() + w->timeout_us);
        e->next = w->list;
        if (e->next) e->next->prev = e;
        w->list = e;
    } else if (e) {
        if (e->prev)
            e->prev->next = e->next;
        else
            w->list = e->next;
        if (e->next) e->next->prev = e->prev;
        free(e);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&w->lock);
}

static void arm(struct MHD_Connection *c, int64_t deadline_us) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    watched_t *e = info ? info->socket_context : NULL;
    if (e) atomic_store(&e->deadline_us, deadline_us);
}

void hd_httpwatch_received(struct MHD_Connection *c) {
    arm(c, 0);
}

void hd_httpwatch_completed(hd_httpwatch_t *w, struct MHD_Connection *c) {
    arm(c, hd_mono_us() + w->timeout_us);
}
