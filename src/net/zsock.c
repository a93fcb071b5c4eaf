#include "zsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"

struct zsock {
    uv_loop_t *loop;
    void *sock;
    uv_poll_t poll;
    uv_idle_t idle; /* a drain is due on the next turn */
    bool polling;
    bool draining;
    int closing; /* handles still to close */
    zsock_msg_fn *on_msg;
    void *arg;
    char endpoint[256];
    unsigned long dropped;
    size_t max_frames;
};

static void s_drain(zsock_t *self);

static void s_on_poll(uv_poll_t *h, int status, int events)
{
    s_drain(h->data);
}

static void s_on_idle(uv_idle_t *h)
{
    s_drain(h->data);
}

/* Receives one whole message and hands it over.  Returns false when nothing was waiting. */
static bool s_recv_one(zsock_t *self)
{
    zmq_msg_t frames[ZSOCK_FRAMES_CAP];
    size_t n = 0;
    bool truncated = false;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->sock, ZMQ_DONTWAIT) < 0) {
            int err = zmq_errno();
            zmq_msg_close(&part);
            if (n == 0 && err != EAGAIN) {
                /* Refused before reading (EFSM: a REP socket owes a reply): libzmq did not look
                 * at its mailbox, so ask ZMQ_EVENTS once, which does, or the mailbox's
                 * descriptor stays readable and wakes the loop for nothing. */
                int events;
                size_t len = sizeof events;
                zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &len);
            }
            break; /* EAGAIN before the first frame; later frames of a message are atomic */
        }
        bool more = zmq_msg_more(&part);
        if (n < self->max_frames)
            frames[n++] = part;
        else {
            truncated = true;
            zmq_msg_close(&part);
        }
        if (!more)
            break;
    }
    if (n == 0)
        return false;
    self->on_msg(self, frames, n, truncated, self->arg);
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    return true;
}

/* Receives until libzmq says EAGAIN.  No ZMQ_EVENTS check per message: each costs libzmq a
 * getpid() and a poll() on its mailbox (two syscalls per message, most of the loop's own under
 * load), and a receive that finds nothing has already processed the mailbox's commands the
 * same way, so the ZMQ_FD edge is re-armed when the drain stops. */
static void s_drain(zsock_t *self)
{
    if (self->draining || !self->sock)
        return; /* the outer drain loop receives until EAGAIN before it stops */
    self->draining = true;
    bool more = false;
    for (int budget = ZSOCK_BUDGET; self->sock;) {
        if (budget-- == 0) {
            more = true;
            break;
        }
        if (!s_recv_one(self))
            break;
    }
    self->draining = false;
    if (!self->sock)
        return;
    if (more)
        uv_idle_start(&self->idle, s_on_idle);
    else
        uv_idle_stop(&self->idle);
}

zsock_t *zsock_new(uv_loop_t *loop, void *zctx, int type, zsock_msg_fn *on_msg, void *arg)
{
    void *sock = zmq_socket(zctx, type);
    if (!sock)
        return NULL;
    zsock_t *self = cd_xcalloc(1, sizeof *self);
    self->loop = loop;
    self->sock = sock;
    self->on_msg = on_msg;
    self->arg = arg;
    self->max_frames = ZSOCK_MAX_FRAMES;
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    uv_idle_init(loop, &self->idle);
    self->idle.data = self;
    return self;
}

/* Starts polling the socket's ZMQ_FD on the loop. */
static int s_attach(zsock_t *self, const char *endpoint, char *err, size_t errlen)
{
    int fd;
    size_t fdlen = sizeof fd;
    if (zmq_getsockopt(self->sock, ZMQ_FD, &fd, &fdlen) != 0 ||
        uv_poll_init(self->loop, &self->poll, fd) != 0) {
        snprintf(err, errlen, "cannot poll the socket for %s", endpoint);
        return -1;
    }
    self->poll.data = self;
    self->polling = true;
    uv_poll_start(&self->poll, UV_READABLE, s_on_poll);
    /* Messages may already be queued, and the edge for them may have passed. */
    uv_idle_start(&self->idle, s_on_idle);
    return 0;
}

int zsock_bind(zsock_t *self, const char *endpoint, char *err, size_t errlen)
{
    if (zmq_bind(self->sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot bind %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    size_t len = sizeof self->endpoint;
    if (zmq_getsockopt(self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &len) != 0)
        cd_copy(self->endpoint, sizeof self->endpoint, endpoint);
    return s_attach(self, endpoint, err, errlen);
}

int zsock_connect(zsock_t *self, const char *endpoint, char *err, size_t errlen)
{
    if (zmq_connect(self->sock, endpoint) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", endpoint, zmq_strerror(zmq_errno()));
        return -1;
    }
    cd_copy(self->endpoint, sizeof self->endpoint, endpoint);
    return s_attach(self, endpoint, err, errlen);
}

int zsock_send(zsock_t *self, const void *const *parts, const size_t *lens, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && self->sock; i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(self->sock, parts[i], lens[i], flags) < 0) {
            /* The first frame failing drops the whole message; a later one cannot fail once
             * the first went (ZeroMQ queues multipart messages atomically). */
            self->dropped++;
            rc = -1;
            break;
        }
    }
    /* Sending may have consumed the ZMQ_FD edge for waiting input: look again next turn. */
    if (self->sock)
        uv_idle_start(&self->idle, s_on_idle);
    return rc;
}

const char *zsock_endpoint(const zsock_t *self)
{
    return self->endpoint;
}

void *zsock_raw(zsock_t *self)
{
    return self->sock;
}

void zsock_set_max_frames(zsock_t *self, size_t n)
{
    self->max_frames = n < 1 ? 1 : n > ZSOCK_FRAMES_CAP ? ZSOCK_FRAMES_CAP : n;
}

unsigned long zsock_dropped(const zsock_t *self)
{
    return self->dropped;
}

static void s_on_closed(uv_handle_t *h)
{
    zsock_t *self = h->data;
    if (--self->closing == 0)
        free(self);
}

void zsock_destroy(zsock_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zsock_t *self = *self_p;
    *self_p = NULL;
    self->closing = 1;
    uv_close((uv_handle_t *)&self->idle, s_on_closed);
    if (self->polling) {
        self->closing++;
        uv_close((uv_handle_t *)&self->poll, s_on_closed); /* before the fd goes away */
    }
    zmq_close(self->sock);
    self->sock = NULL;
}
