/*  cd_batch_gate.h — when the next batch should go to PostgreSQL while another is in flight.
 *
 *  The store keeps up to two batches in PostgreSQL's pipeline, so that PostgreSQL need not wait
 *  while the server answers one batch and sends the next.  But PostgreSQL runs them one after
 *  another on one connection, and each transaction costs it a fixed ~0.45 ms of CPU (measured
 *  here: 36 µs a call plus ~430 µs a batch), so sending the second batch the moment a slot is
 *  free, with whatever one loop turn gathered (a few commands), spends that fixed cost many
 *  times over.  The gate holds the second batch until it carries half of the demand, the most
 *  requests seen waiting (in flight and gathering) over the last window: with C consoles in a
 *  closed loop the two batches settle at about C/2 each instead of splitting into crumbs.
 *
 *  A held batch waits at most for the batch in flight to commit (the store then sends it
 *  whatever its size), which it would have waited for anyway behind it in PostgreSQL, so
 *  nothing waits longer than one commit and the sole batch in flight is never held back.
 *  Pure: the caller passes the time (a monotonic clock in milliseconds) and the counts.
 */
#ifndef CD_BATCH_GATE_H
#define CD_BATCH_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CD_BATCH_GATE_WINDOW_MS 100 /* the demand is the peak of this window and the last */

typedef struct cd_batch_gate {
    int64_t window_start_ms;
    size_t peak;      /* most requests waiting seen in the current window */
    size_t last_peak; /* the same in the window before (0 if that one saw nothing) */
} cd_batch_gate_t;

/* Records that `waiting` requests (in flight and gathering) wait at now_ms. */
void cd_batch_gate_note(cd_batch_gate_t *self, int64_t now_ms, size_t waiting);

/* The demand: the most requests seen waiting in the current window and the one before it
 * (windows on fixed boundaries: the last 100 to 200 ms). */
size_t cd_batch_gate_demand(const cd_batch_gate_t *self);

/* Whether a batch of `gathered` requests should be sent now, with `in_flight` batches already
 * in PostgreSQL's pipeline: always when none is; otherwise once it holds half the demand. */
bool cd_batch_gate_send(const cd_batch_gate_t *self, size_t in_flight, size_t gathered);

#endif
