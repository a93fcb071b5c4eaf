/*  outbox.h — messages held until the transaction they depend on has committed.
 *
 *  Every reply computed from the engine's state names the seq it reflects.  It leaves only
 *  when PostgreSQL has committed through that seq (durable before visible); if the batch is
 *  lost instead, it is replaced by an UNAVAILABLE error so the client retries with the same
 *  request_id.  Release is in arrival order.
 */
#ifndef OUTBOX_H
#define OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cd_error.h"
#include "route.h"

typedef struct outbox outbox_t;

outbox_t *outbox_new(void);
/* Drops whatever is still held.  Nulls *self_p. */
void outbox_destroy(outbox_t **self_p);

/* Queues payload (ownership taken) for `to`, to leave once seq `required` is committed.
 * request_id is copied (for the error that replaces it if the batch is lost). */
void outbox_hold(outbox_t *self, const route_t *to, const char *request_id, int64_t required,
                 uint8_t *payload, size_t len);

/* Sends, in order, everything that waited for seq <= committed. */
void outbox_release(outbox_t *self, int64_t committed);

/* The batch after `committed` is lost: send what is durable, and answer the rest with err. */
void outbox_fail(outbox_t *self, int64_t committed, const cd_error_t *err);

size_t outbox_len(const outbox_t *self);

#endif
