/*  server.h — codispatchd: one libuv loop holding the engine, the store and the sockets.
 *
 *  Data moves one way: receive -> decode/validate -> engine decides -> store commits ->
 *  held replies are released (see outbox.h).
 */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stdio.h>

#include <uv.h>

#include "config.h"

typedef struct server server_t;

/* conninfo: the database to use (the embedded cluster's, or --db).  db_label says where it
 * is, for the banner and `status`.  cfg and the strings are copied or used only during the
 * call.  Returns NULL with err on failure (e.g. an endpoint cannot be bound). */
server_t *server_new(uv_loop_t *loop, const config_t *cfg, const char *conninfo, bool embedded,
                     const char *db_label, char *err, size_t errlen);

/* Prints where each endpoint listens. */
void server_banner(const server_t *self, FILE *out);

/* Begins an orderly stop: unanswered requests get UNAVAILABLE, sockets and the database
 * connection close; uv_run returns once every handle is closed.  Safe to call twice. */
void server_shutdown(server_t *self);
/* What the process should exit with once the loop ended: 0, 1 (a socket could not be bound)
 * or 3 (another server took the database lock from this one). */
int server_exit_status(const server_t *self);

/* Frees what is left after the loop ended.  Nulls *self_p. */
void server_destroy(server_t **self_p);

#endif
