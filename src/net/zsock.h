/*  zsock.h — a ZeroMQ socket served by the libuv loop.
 *
 *  ZMQ_FD is edge-triggered: it signals only when ZMQ_EVENTS changes, and sending can consume
 *  the edge.  So a zsock drains (receives until libzmq says EAGAIN; that receive has read the
 *  commands behind the edge, so the next one fires again) on every poll wake-up and again,
 *  from an idle handle, after every send.  A drain takes at most a budget of messages per loop
 *  turn, so one flooding peer cannot starve the database and the other sockets; the rest is
 *  read on the next turn.
 *
 *  Messages are handed over whole (all frames of a multipart message), at most
 *  ZSOCK_MAX_FRAMES frames; a message with more frames is reported with `truncated` set (its
 *  extra frames are read and dropped) so the handler can answer it with an error.
 */
#ifndef ZSOCK_H
#define ZSOCK_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>
#include <zmq.h>

#define ZSOCK_MAX_FRAMES 4   /* default; zsock_set_max_frames raises it up to ZSOCK_FRAMES_CAP */
#define ZSOCK_FRAMES_CAP 8   /* a ZAP request has 7 */
#define ZSOCK_BUDGET     512 /* messages per loop turn */

typedef struct zsock zsock_t;

/* frames[0..n) are valid during the call only; the zsock closes them afterwards. */
typedef void zsock_msg_fn(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg);

/* Creates a socket of `type` on the ZeroMQ context and binds it to endpoint.  Options are set
 * by the caller through zsock_raw() before zsock_bind().  Returns NULL with err on failure. */
zsock_t *zsock_new(uv_loop_t *loop, void *zctx, int type, zsock_msg_fn *on_msg, void *arg);

/* Binds and starts polling.  Returns 0 or -1 with err. */
int zsock_bind(zsock_t *self, const char *endpoint, char *err, size_t errlen);

/* Connects instead (a socket monitor's PAIR, say) and starts polling. */
int zsock_connect(zsock_t *self, const char *endpoint, char *err, size_t errlen);

/* Sends n frames as one message without ever blocking.  Returns 0, or -1 if ZeroMQ refused
 * it (peer gone, high-water mark reached): the message is then dropped. */
int zsock_send(zsock_t *self, const void *const *parts, const size_t *lens, size_t n);

/* The endpoint actually bound (resolves "tcp://127.0.0.1:*"). */
const char *zsock_endpoint(const zsock_t *self);

void *zsock_raw(zsock_t *self);

/* Frames handed over per message (default ZSOCK_MAX_FRAMES, at most ZSOCK_FRAMES_CAP). */
void zsock_set_max_frames(zsock_t *self, size_t n);

/* Messages dropped on send since creation. */
unsigned long zsock_dropped(const zsock_t *self);

/* Stops polling and closes the ZeroMQ socket now; the memory goes when libuv has closed the
 * handles.  Nulls *self_p. */
void zsock_destroy(zsock_t **self_p);

#endif
