/*  store.h — PostgreSQL as the source of truth, on the loop.
 *
 *  The store owns one pgc connection and moves through these states:
 *
 *      DOWN --connected--> STANDBY --lock held--> MIGRATING --done--> LOADING --done--> READY
 *        ^                  |  ^ poll                   |                  |              |
 *        |                  +--+ (lock held elsewhere)  |                  |              |
 *        +------ connection lost (from any state) ------------------------------------------+
 *      READY --batch refused by PostgreSQL--> LOADING (state reloaded from the database)
 *
 *  Only one server may write a database: before migrating, the store takes a session-level
 *  advisory lock (STORE_LOCK_SQL) on its one connection, the connection every write goes
 *  through.  While another server holds it the store stays in STANDBY and tries again every
 *  STORE_STANDBY_POLL_MS (an asynchronous pg_try_advisory_lock, never blocking the loop).  The
 *  lock ends with the session, so a primary that dies or loses its connection frees it, and
 *  a store whose connection broke must win the lock again before it writes anything.
 *
 *  In READY it group-commits: every event the engine recorded since the last flush, the
 *  projection rows they touched and the replies to record for idempotency go to PostgreSQL as
 *  one pipelined transaction.  Up to two batches are in flight at a time (PostgreSQL runs them
 *  one after the other; the second starts with a guard that refuses to commit unless the
 *  first did); whatever arrives meanwhile forms the next.  When a batch commits the server is told
 * the committed seq and only then releases the replies and pushes that waited for it (durable
 * before visible).
 *
 *  If a batch fails, or the connection drops, nothing uncommitted survives: the store tells
 *  the server (which answers UNAVAILABLE to everything waiting), resets the engine, and
 *  reloads it from PostgreSQL before serving again.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cd_engine.h"
#include "reqcache.h"

typedef struct store store_t;

/* Batches in PostgreSQL's pipeline at once.  With two, PostgreSQL starts on the next batch as
 * soon as one commits instead of idling while the server answers the committed one's clients
 * and gathers the next; a later batch commits only if the one before it did (the guard of
 * migration 0006). */
#define STORE_MAX_FLIGHT 2

typedef enum store_state {
    STORE_DOWN = 0,
    STORE_STANDBY, /* connected; another server holds the lock (or it is being asked for) */
    STORE_MIGRATING,
    STORE_LOADING,
    STORE_READY,
} store_state_t;

typedef struct store_callbacks {
    /* State loaded; commands may be served. */
    void (*on_ready)(void *arg);
    /* Everything after committed_seq is lost (batch refused, connection lost, shutdown):
     * answer what waited for it with UNAVAILABLE.  why is one sentence. */
    void (*on_lost)(void *arg, int64_t committed_seq, const char *why);
    /* Everything up to seq is durable; events are the ones that just committed (borrowed,
     * valid during the call): what may now be pushed to tablets and streams.  The next batch
     * may already be on its way (its on_flush called) when this is called. */
    void (*on_committed)(void *arg, int64_t seq, const cd_event_log_t *events);
    /* A batch is about to be sent: the engine's state is exactly the state after these
     * events, so this is when to render what may be shown once they commit. */
    void (*on_flush)(void *arg, const cd_event_log_t *events);
    /* The lock is held by another server (called after every failed attempt).  was_ready: this
     * store had been READY before, so another server took over meanwhile.  May be NULL. */
    void (*on_standby)(void *arg, bool was_ready);
} store_callbacks_t;

#define STORE_STANDBY_POLL_MS 500
/* Two int4 keys: a different key space from the bigint key migrations lock with. */
#define STORE_LOCK_SQL "SELECT pg_try_advisory_lock(7401, 1)"

typedef struct store_options {
    const char *conninfo;         /* libpq conninfo or URI; "" means PG* variables */
    int64_t request_retention_ms; /* how long replies are kept for retries (default 72 h) */
    int64_t closed_keep_ms;       /* closed calls stay in memory this long (default 1 h) */
    size_t max_batch_commands;    /* bound of the next batch; past it: BUSY (default 10000) */
    uint64_t query_timeout_ms;    /* a query unanswered this long means a dead link (10 s) */
} store_options_t;

/* engine is borrowed and must outlive the store.  cb is copied. */
store_t *store_new(uv_loop_t *loop, const store_options_t *opt, cd_engine_t *engine,
                   const store_callbacks_t *cb, void *arg);

/* Fails what is pending (on_lost), closes the connection.  Nulls *self_p. */
void store_destroy(store_t **self_p);

int store_start(store_t *self);
store_state_t store_state(const store_t *self);
const char *store_state_name(store_state_t state);
/* The last reason the database was unavailable ("" if none). */
const char *store_last_error(const store_t *self);

/* The seq of the last committed event. */
int64_t store_committed_seq(const store_t *self);
/* When the store read the last commit, before it sent the next batch or told the server:
 * the wall clock in microseconds and a monotonic uv_hrtime() in nanoseconds. */
int64_t store_commit_wall_us(const store_t *self);
uint64_t store_commit_mono_ns(const store_t *self);

/* --- Group commit --- */

/* True if the next batch has room for another command. */
bool store_can_accept(const store_t *self);

/* Records the reply of a state-changing command (copied) so retries get it back; it goes to
 * PostgreSQL in the same batch as the command's events. */
reqcache_entry_t *store_record_request(store_t *self, const char *request_id, const char *kind,
                                       int64_t seq, int64_t at_ms, const uint8_t *reply,
                                       size_t len);

/* The recorded reply for request_id, committed or still in a batch, or NULL. */
const reqcache_entry_t *store_find_request(const store_t *self, const char *request_id);

/* Request ids of SetDemographics commands (reports.c's connection, not a batch), so that no
 * other command takes one: those applied within the request retention window (loaded with the
 * state), and those in flight.  note returns true if it added request_id (it was not known);
 * forget removes it again, for a SetDemographics that was refused. */
bool store_demographics_id_used(const store_t *self, const char *request_id);
bool store_note_demographics_id(store_t *self, const char *request_id, int64_t at_ms);
void store_forget_demographics_id(store_t *self, const char *request_id);

/* Sends the next batch if there is something to send and fewer than STORE_MAX_FLIGHT (2)
 * batches in flight; with one in flight, only once the gate lets it (cd_batch_gate.h: half
 * the recent demand; it is sent anyway when the one in flight commits).  Call once per loop
 * turn, after the turn's commands were applied. */
void store_flush(store_t *self);

/* Batches sent since start, how many of them went while another was still in flight, and how
 * many the gate held before sending. */
void store_batch_counts(const store_t *self, unsigned long *sent, unsigned long *behind,
                        unsigned long *held);

/* Drops closed calls and old idempotency records from memory (and old records from
 * PostgreSQL).  now_ms is wall-clock time. */
void store_housekeeping(store_t *self, int64_t now_ms);

/* --- Reads that go to PostgreSQL (calls no longer in memory) --- */

/* calls[] and the calls are owned by the store and freed after the callback returns. */
typedef void store_calls_fn(void *arg, bool ok, cd_call_t **calls, size_t n, const char *error);

int store_get_call(store_t *self, const char *call_id, store_calls_fn *cb, void *arg);
/* Newest first. */
int store_list_calls(store_t *self, size_t limit, store_calls_fn *cb, void *arg);

#endif
