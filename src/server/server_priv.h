/*  server_priv.h — the server's state, shared by its own source files only. */
#ifndef SERVER_PRIV_H
#define SERVER_PRIV_H

#include <stdint.h>

#include "cd_engine.h"
#include "outbox.h"
#include "route.h"
#include "server.h"
#include "store.h"
#include "wire.h"
#include "zsock.h"

struct server {
    uv_loop_t *loop;
    void *zctx;
    zsock_t *control;
    cd_engine_t *engine;
    store_t *store;
    outbox_t *outbox;
    uv_prepare_t prepare; /* flush the batch before the loop waits ... */
    uv_check_t check;     /* ... and right after a round of I/O */
    uv_timer_t housekeeping;
    bool embedded;
    bool stopping;
    uint64_t shutdown_deadline; /* loop time by which a stop stops waiting for commits */
    char *db_label;
    char *units_endpoint, *stream_endpoint, *http_address;
    unsigned long requests_in, errors_out;
};

/* Wall-clock milliseconds since the Unix epoch: the engine's notion of now. */
int64_t server_now_ms(void);

/* control.c: handles one message from the control socket. */
void control_on_message(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg);

/* Replies now, or as soon as `required` is committed (ownership of payload taken). */
void server_reply(server_t *self, const route_t *to, const char *request_id, int64_t required,
                  uint8_t *payload, size_t len);
/* Replies with an error, held like any reply that depends on state at `required`. */
void server_reply_error(server_t *self, const route_t *to, const char *request_id, int64_t required,
                        const cd_error_t *err);

#endif
