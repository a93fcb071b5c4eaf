/*  store_commit.c — group commit: the batches the store gathers, sends to PostgreSQL (up to
 *  two in its pipeline, the second held by the batch gate) and tells the server of when they
 *  commit; and the request ids the batches carry.  The store's states, its lock, migrations and
 *  reads are in store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_priv.h"
#include "store_sql.h"

/* ------------------------------------------------------------------ batches */

static void s_batch_add_request(store_batch_t *b, reqcache_entry_t *e)
{
    if (b->n_requests == b->cap_requests) {
        b->cap_requests = b->cap_requests ? b->cap_requests * 2 : 64;
        b->requests = cd_xrealloc(b->requests, b->cap_requests * sizeof *b->requests);
    }
    b->requests[b->n_requests++] = e;
}

void store__batch_clear(store_batch_t *b)
{
    cd_event_log_clear(&b->events);
    b->n_requests = 0;
    b->last_seq = 0;
}

void store__batch_release(store_batch_t *b)
{
    cd_event_log_release(&b->events);
    free(b->requests);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ group commit */

/* pgc completes jobs in the order they were sent, so a batch's result is always for the
 * oldest batch in flight.  After a loss the ring is empty and late results are ignored. */
static void s_on_batch_done(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_t *self = arg;
    if (self->n_flight == 0)
        return; /* already discarded by a loss */
    if (ok) {
        store_batch_t *b = &self->flight[self->flight_head];
        self->committed_seq = b->last_seq;
        /* Stamped now, before the next batch is built and sent: the commit latency and the
         * stream's lag are measured from here. */
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        self->commit_wall_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000;
        self->commit_mono_ns = uv_hrtime();
        /* Out of the ring, and the next batch (held for this commit, or gathered meanwhile)
         * sent, before the server is told: answering the batch's consoles and publishing its
         * changes takes long enough that PostgreSQL, with nothing else to run, would idle
         * through it.  A loss meanwhile waits until the server has been told (s_on_pg_state):
         * this batch committed whatever happens next. */
        cd_event_log_t spare = self->told; /* a swap: both logs keep their room */
        self->told = b->events;
        b->events = spare;
        store__batch_clear(b);
        self->flight_head = (self->flight_head + 1) % STORE_MAX_FLIGHT;
        self->n_flight--;
        /* No commit can be read while telling: results come only from pgc's read callback. */
        self->telling = true;
        store_flush(self);
        if (self->cb.on_committed)
            self->cb.on_committed(self->arg, self->committed_seq, &self->told);
        self->telling = false;
        cd_event_log_clear(&self->told);
        if (self->loss_deferred) {
            self->loss_deferred = false;
            store__discard_uncommitted(self, self->last_error);
            return;
        }
        store_flush(self); /* what the server did when told goes now */
        return;
    }
    if (lost)
        return; /* the state callback handles a lost connection */
    /* PostgreSQL refused the batch (a constraint, say): nothing of it committed, and the batch
     * behind it, if any, will be refused by its guard.  Reload.  The likeliest constraint is
     * events.request_id: a retry of a command older than the reply cache's window, which the
     * cache took for new.  The load looks every request id of these batches up, so such a
     * retry is answered from the log next time instead of refusing a batch again. */
    for (size_t i = 0; i < self->n_flight; i++)
        store__recheck_batch(self, &self->flight[(self->flight_head + i) % STORE_MAX_FLIGHT]);
    char why[600];
    snprintf(why, sizeof why, "the database refused a batch: %s", error);
    fprintf(stderr, "codispatchd: %s; reloading state\n", why);
    store__note_error(self, why);
    self->state = STORE_LOADING;
    store__discard_uncommitted(self, why);
    store__load(self);
}

/* Adds a statement taking n binary arrays (their buffers go to the job), or frees them when
 * there are no rows.  With one row and a one-row statement (sql_one, NULL if none), the
 * arrays' elements go to that statement instead. */
static void s_add_arrays(pgc_job_t *job, size_t rows, const char *sql, const char *sql_one, int n,
                         store_sql_array_t *arrays)
{
    char *params[n];
    int lengths[n];
    bool one = rows == 1 && sql_one;
    for (int i = 0; i < n; i++) {
        if (one)
            store_sql_array_to_scalar(&arrays[i]);
        params[i] = arrays[i].data;
        lengths[i] = arrays[i].len;
        if (!rows)
            free(arrays[i].data);
    }
    if (rows)
        pgc_job_add_binary(job, one ? sql_one : sql, n, params, lengths);
}

/* The seq of the last event of the newest batch in flight, or 0 when none is in flight; -1
 * when that batch has no event, so that nothing can prove it committed (rare: replies only). */
static int64_t s_newest_flight_event(const store_t *self)
{
    if (self->n_flight == 0)
        return 0;
    const store_batch_t *b =
        &self->flight[(self->flight_head + self->n_flight - 1) % STORE_MAX_FLIGHT];
    return b->events.len ? b->events.items[b->events.len - 1].seq : -1;
}

void store_flush(store_t *self)
{
    if (self->state != STORE_READY || self->n_flight == STORE_MAX_FLIGHT)
        return;
    int64_t after = s_newest_flight_event(self);
    if (after < 0)
        return; /* sent when that batch has committed */
    cd_engine_take_events(self->engine, &self->open.events);
    if (self->open.events.len == 0 && self->open.n_requests == 0)
        return;
    /* A second batch waits for company (cd_batch_gate.h), at most until the first commits; a
     * full one (--max-batch, past which new commands are answered BUSY) goes at once. */
    size_t waiting = self->open.n_requests;
    for (size_t i = 0; i < self->n_flight; i++)
        waiting += self->flight[(self->flight_head + i) % STORE_MAX_FLIGHT].n_requests;
    cd_batch_gate_note(&self->gate, (int64_t)uv_now(self->loop), waiting);
    if (!cd_batch_gate_send(&self->gate, self->n_flight, self->open.n_requests) &&
        self->open.n_requests < self->opt.max_batch_commands) {
        self->open_held = true;
        return;
    }
    self->batches_held += self->open_held;
    self->open_held = false;
    /* The open batch takes the next free slot of the ring (swap, so buffers are reused). */
    store_batch_t *b = &self->flight[(self->flight_head + self->n_flight) % STORE_MAX_FLIGHT];
    store_batch_t tmp = *b;
    *b = self->open;
    self->open = tmp;
    /* Without events of its own, a batch (replies only) is as far as what is ahead of it. */
    int64_t ahead = after > self->committed_seq ? after : self->committed_seq;
    b->last_seq = b->events.len ? b->events.items[b->events.len - 1].seq : ahead;
    for (size_t i = 0; i < b->n_requests; i++)
        if (b->requests[i]->seq > b->last_seq)
            b->last_seq = b->requests[i]->seq;

    if (self->cb.on_flush && b->events.len)
        self->cb.on_flush(self->arg, &b->events);
    pgc_job_t *job = pgc_job_new(s_on_batch_done, self);
    pgc_job_prepare(job); /* the same few statements every batch: parse and plan them once */
    if (after > 0) {
        /* PostgreSQL runs this transaction after the one before it ends, committed or not:
         * refuse to commit anything built on events that were not. */
        char seq[24];
        snprintf(seq, sizeof seq, "%lld", (long long)after);
        const char *params[] = {seq};
        pgc_job_add(job, STORE_SQL_BATCH_GUARD, 1, params);
    }
    if (b->events.len) {
        store_sql_array_t events[STORE_SQL_EVENT_PARAMS];
        store_sql_calls_t calls;
        store_sql_events_params(&b->events, self->requests, events);
        store_sql_calls_params(self->engine, &b->events, &calls);
        s_add_arrays(job, b->events.len, STORE_SQL_INSERT_EVENTS, STORE_SQL_INSERT_EVENT_ONE,
                     STORE_SQL_EVENT_PARAMS, events);
        /* New calls by plain INSERT: ON CONFLICT's speculative insertion costs PostgreSQL an
         * extra index probe and WAL record per row, for a conflict that cannot happen. */
        s_add_arrays(job, calls.n_fresh, STORE_SQL_INSERT_CALLS, STORE_SQL_INSERT_CALL_ONE,
                     STORE_SQL_CALL_PARAMS, calls.fresh);
        s_add_arrays(job, calls.n_known, STORE_SQL_UPSERT_CALLS, NULL, STORE_SQL_CALL_PARAMS,
                     calls.known);
        /* Units and calls before the assignments that refer to them. */
        store_sql_rows_t rows;
        store_sql_dispatch_rows(self->engine, &b->events, &rows);
        const struct {
            const char *sql;
            char **json;
        } steps[] = {
            {STORE_SQL_UPSERT_PLANS, &rows.plans},
            {STORE_SQL_UPSERT_UNITS, &rows.units},
            {STORE_SQL_UPSERT_ASSIGNMENTS, &rows.assignments},
            {STORE_SQL_INSERT_ALERTS, &rows.alerts_raised},
            {STORE_SQL_CLEAR_ALERTS, &rows.alerts_cleared},
        };
        for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
            if (*steps[i].json)
                pgc_job_add_owned(job, steps[i].sql, 1, steps[i].json);
    }
    store_sql_array_t reqs[STORE_SQL_REQUEST_PARAMS];
    size_t nreq = b->n_requests ? store_sql_requests_params(b->requests, b->n_requests, reqs) : 0;
    if (nreq)
        s_add_arrays(job, nreq, STORE_SQL_INSERT_REQUESTS, NULL, STORE_SQL_REQUEST_PARAMS, reqs);
    self->batches_sent++;
    self->batches_behind += after > 0;
    self->n_flight++;
    if (pgc_submit(self->pg, job) != 0)
        self->n_flight--; /* not READY: the state callback discards everything */
}

bool store_can_accept(const store_t *self)
{
    return self->state == STORE_READY && self->open.n_requests < self->opt.max_batch_commands;
}

reqcache_entry_t *store_record_request(store_t *self, const char *request_id, const char *kind,
                                       int64_t seq, int64_t at_ms, const uint8_t *reply, size_t len)
{
    reqcache_entry_t *e = reqcache_add(self->requests, request_id, kind, seq, at_ms, reply, len);
    if (e)
        s_batch_add_request(&self->open, e);
    return e;
}

const reqcache_entry_t *store_find_request(const store_t *self, const char *request_id)
{
    return reqcache_find(self->requests, request_id);
}

bool store_demographics_id_used(const store_t *self, const char *request_id)
{
    return reqcache_find(self->demographics_ids, request_id) != NULL;
}

bool store_note_demographics_id(store_t *self, const char *request_id, int64_t at_ms)
{
    return reqcache_add(self->demographics_ids, request_id, "set_demographics", 0, at_ms, NULL,
                        0) != NULL;
}

void store_forget_demographics_id(store_t *self, const char *request_id)
{
    reqcache_remove(self->demographics_ids, request_id);
}
