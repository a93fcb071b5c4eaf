#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cd_embedded.h"
#include "store_priv.h"
#include "store_sql.h"

extern const struct cd_embedded_file cd_migrations[];
extern const size_t cd_migrations_count;

static void s_migrate(store_t *self);

const char *store_state_name(store_state_t state)
{
    switch (state) {
    case STORE_DOWN:
        return "down";
    case STORE_STANDBY:
        return "standby";
    case STORE_MIGRATING:
        return "migrating";
    case STORE_LOADING:
        return "loading";
    case STORE_READY:
        return "ready";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ batches */

static void s_batch_add_request(store_batch_t *b, reqcache_entry_t *e)
{
    if (b->n_requests == b->cap_requests) {
        b->cap_requests = b->cap_requests ? b->cap_requests * 2 : 64;
        b->requests = cd_xrealloc(b->requests, b->cap_requests * sizeof *b->requests);
    }
    b->requests[b->n_requests++] = e;
}

static void s_batch_clear(store_batch_t *b)
{
    cd_event_log_clear(&b->events);
    b->n_requests = 0;
    b->last_seq = 0;
}

static void s_batch_release(store_batch_t *b)
{
    cd_event_log_release(&b->events);
    free(b->requests);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------ losing state */

static void s_note_error(store_t *self, const char *why)
{
    /* Truncation is fine: this is a sentence for status and logs. */
    size_t n = why ? strnlen(why, sizeof self->last_error - 1) : 0;
    memcpy(self->last_error, why ? why : "", n);
    self->last_error[n] = '\0';
}

/* Everything not committed is gone: the engine goes back to what PostgreSQL holds. */
static void s_discard_uncommitted(store_t *self, const char *why)
{
    s_batch_clear(&self->open);
    self->open_held = false; /* that batch is gone: it must not count as held when sent */
    for (size_t i = 0; i < STORE_MAX_FLIGHT; i++)
        s_batch_clear(&self->flight[i]);
    self->flight_head = self->n_flight = 0;
    reqcache_forget_after(self->requests, self->committed_seq);
    cd_engine_reset(self->engine);
    if (self->cb.on_lost)
        self->cb.on_lost(self->arg, self->committed_seq, why);
}

static void s_try_lock(store_t *self);

static void s_on_retry(uv_timer_t *t)
{
    store_t *self = t->data;
    if (self->state == STORE_STANDBY)
        s_try_lock(self);
    else if (self->state == STORE_MIGRATING)
        s_migrate(self);
    else if (self->state == STORE_LOADING)
        store__load(self);
}

void store__retry_later(store_t *self, const char *why)
{
    s_note_error(self, why);
    fprintf(stderr, "codispatchd: database: %s; retrying\n", why);
    uv_timer_start(&self->retry, s_on_retry, STORE_RETRY_MS, 0);
}

/* ------------------------------------------------------------------ connection state */

static void s_on_pg_state(pgc_t *pg, pgc_state_t state, const char *why, void *arg)
{
    store_t *self = arg;
    if (state == PGC_READY) {
        self->state = STORE_STANDBY;
        s_try_lock(self);
        return;
    }
    /* Lost.  Report once per outage, not once per reconnection attempt. */
    bool was_up = self->state != STORE_DOWN || self->last_error[0] == '\0';
    self->state = STORE_DOWN;
    uv_timer_stop(&self->retry);
    s_note_error(self, why);
    if (was_up)
        fprintf(stderr, "codispatchd: database unavailable: %s; reconnecting\n", why);
    if (self->telling) {
        /* The server is being told of a commit made before this loss (a batch sent meanwhile
         * failed): it hears of that first, then of the loss. */
        self->loss_deferred = true;
        return;
    }
    s_discard_uncommitted(self, why);
}

/* ------------------------------------------------------------------ the writer's lock */

static void s_on_lock(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_t *self = arg;
    if (lost || self->state != STORE_STANDBY)
        return;
    PGresult *r = ok ? pgc_job_result(job, 0) : NULL;
    if (r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        /* This connection is now the only one that may write: migrate, load, serve. */
        s_note_error(self, "");
        self->state = STORE_MIGRATING;
        self->next_migration = 0;
        s_migrate(self);
        return;
    }
    if (!ok) {
        s_note_error(self, error);
        fprintf(stderr, "codispatchd: database: cannot ask for the lock: %s; retrying\n", error);
    } else {
        s_note_error(self, "another codispatchd holds the database lock (standby)");
    }
    if (self->cb.on_standby)
        self->cb.on_standby(self->arg, self->was_ready);
    if (self->state == STORE_STANDBY)
        uv_timer_start(&self->retry, s_on_retry, STORE_STANDBY_POLL_MS, 0);
}

static void s_try_lock(store_t *self)
{
    pgc_job_t *job = pgc_job_new(s_on_lock, self);
    pgc_job_add(job, STORE_LOCK_SQL, 0, NULL);
    pgc_submit(self->pg, job); /* on failure the state callback reports the loss */
}

/* ------------------------------------------------------------------ migrations */

static int s_migration_version(const char *name)
{
    return atoi(name); /* "0001_init.sql" -> 1 */
}

static void s_on_migration_done(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg);

/* Applies embedded migrations in order, each in its own transaction (a simple-protocol script
 * is one implicit transaction), recording each in schema_migrations. */
static void s_migrate(store_t *self)
{
    pgc_job_t *job = pgc_job_new(s_on_migration_done, self);
    if (self->next_migration == 0) {
        /* Step 0: make sure the bookkeeping table exists, then learn what is applied. */
        pgc_job_set_script(job, STORE_SQL_MIGRATIONS_TABLE);
    } else {
        size_t i = self->next_migration - 1;
        const struct cd_embedded_file *m = &cd_migrations[i];
        size_t n = m->size + 256;
        char *script = cd_xmalloc(n);
        snprintf(script, n,
                 "SELECT pg_advisory_xact_lock(7401);\n%s\n;"
                 "INSERT INTO schema_migrations (version, name) VALUES (%d, '%s');",
                 (const char *)m->data, s_migration_version(m->name), m->name);
        pgc_job_set_script(job, script);
        free(script);
    }
    pgc_submit(self->pg, job); /* on failure the state callback reports the loss */
}

static void s_on_applied_list(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg);

static void s_on_migration_done(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_t *self = arg;
    if (lost || self->state != STORE_MIGRATING)
        return;
    if (!ok) {
        char why[600];
        snprintf(why, sizeof why, "migration %s failed: %s",
                 self->next_migration ? cd_migrations[self->next_migration - 1].name
                                      : "bookkeeping",
                 error);
        self->next_migration = 0;
        store__retry_later(self, why);
        return;
    }
    if (self->next_migration == 0) {
        pgc_job_t *list = pgc_job_new(s_on_applied_list, self);
        pgc_job_add(list, STORE_SQL_APPLIED_MIGRATIONS, 0, NULL);
        pgc_submit(self->pg, list);
        return;
    }
    fprintf(stderr, "codispatchd: applied migration %s\n",
            cd_migrations[self->next_migration - 1].name);
    s_on_applied_list(NULL, true, false, NULL, self);
}

/* Finds the first embedded migration not yet applied and runs it, or moves on to loading.
 * job is NULL when called after applying one (the list is then re-derived by re-checking). */
static void s_on_applied_list(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_t *self = arg;
    if (lost || self->state != STORE_MIGRATING)
        return;
    if (!ok) {
        store__retry_later(self, error);
        return;
    }
    size_t start = self->next_migration; /* index of the next candidate (0-based) */
    if (job) {
        PGresult *r = pgc_job_result(job, 0);
        start = 0;
        /* Applied versions come sorted; skip embedded ones that are among them. */
        for (size_t i = 0; i < cd_migrations_count; i++) {
            int v = s_migration_version(cd_migrations[i].name);
            bool applied = false;
            for (int row = 0; r && row < PQntuples(r) && !applied; row++)
                applied = atoi(PQgetvalue(r, row, 0)) == v;
            if (!applied)
                break;
            start = i + 1;
        }
    }
    if (start < cd_migrations_count) {
        self->next_migration = start + 1;
        s_migrate(self);
        return;
    }
    self->state = STORE_LOADING;
    store__load(self);
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
        cd_event_log_t told = b->events;
        b->events = self->told; /* an empty log with room, reused from batch to batch */
        memset(&self->told, 0, sizeof self->told);
        s_batch_clear(b);
        self->flight_head = (self->flight_head + 1) % STORE_MAX_FLIGHT;
        self->n_flight--;
        bool nested = self->telling; /* never expected: results come from the loop, not here */
        self->telling = true;
        store_flush(self);
        if (self->cb.on_committed)
            self->cb.on_committed(self->arg, self->committed_seq, &told);
        self->telling = nested;
        cd_event_log_clear(&told);
        if (self->told.cap == 0)
            self->told = told;
        else
            cd_event_log_release(&told);
        if (!nested && self->loss_deferred) {
            self->loss_deferred = false;
            s_discard_uncommitted(self, self->last_error);
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
    s_note_error(self, why);
    self->state = STORE_LOADING;
    s_discard_uncommitted(self, why);
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

/* ------------------------------------------------------------------ reads */

typedef struct store_read {
    store_t *store;
    store_calls_fn *cb;
    void *arg;
} store_read_t;

static void s_on_read(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_read_t *rd = arg;
    PGresult *r = ok ? pgc_job_result(job, 0) : NULL;
    int n = r ? PQntuples(r) : 0;
    cd_call_t **calls = cd_xcalloc((size_t)(n ? n : 1), sizeof *calls);
    size_t got = 0;
    for (int i = 0; i < n; i++)
        if ((calls[got] = store_sql_call_from_row(r, i)))
            got++;
    rd->cb(rd->arg, ok, calls, got, error);
    for (size_t i = 0; i < got; i++)
        cd_call_destroy(&calls[i]);
    free(calls);
    free(rd);
}

static int s_read(store_t *self, const char *sql, const char *param, store_calls_fn *cb, void *arg)
{
    if (self->state != STORE_READY)
        return CD_EUNAVAIL;
    store_read_t *rd = cd_xcalloc(1, sizeof *rd);
    rd->store = self;
    rd->cb = cb;
    rd->arg = arg;
    pgc_job_t *job = pgc_job_new(s_on_read, rd);
    const char *params[] = {param};
    pgc_job_add(job, sql, 1, params);
    if (pgc_submit(self->pg, job) != 0) {
        free(rd);
        return CD_EUNAVAIL;
    }
    return CD_OK;
}

int store_get_call(store_t *self, const char *call_id, store_calls_fn *cb, void *arg)
{
    return s_read(self, STORE_SQL_GET_CALL, call_id, cb, arg);
}

int store_list_calls(store_t *self, size_t limit, store_calls_fn *cb, void *arg)
{
    char n[32];
    snprintf(n, sizeof n, "%zu", limit);
    return s_read(self, STORE_SQL_LIST_CALLS, n, cb, arg);
}

/* ------------------------------------------------------------------ housekeeping */

static void s_on_pruned(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    if (!ok && !lost)
        fprintf(stderr, "codispatchd: pruning old requests failed: %s\n", error);
}

void store_housekeeping(store_t *self, int64_t now_ms)
{
    if (self->state != STORE_READY)
        return;
    cd_engine_evict_closed(self->engine, now_ms - self->opt.closed_keep_ms);
    /* Only committed entries are old enough to be pruned. */
    reqcache_prune(self->requests, now_ms - self->opt.request_retention_ms);
    reqcache_prune(self->demographics_ids, now_ms - self->opt.request_retention_ms);
    char retention[64];
    store_sql_interval(retention, sizeof retention, self->opt.request_retention_ms);
    const char *params[] = {retention};
    pgc_job_t *job = pgc_job_new(s_on_pruned, self);
    pgc_job_add(job, STORE_SQL_PRUNE_REQUESTS, 1, params);
    pgc_submit(self->pg, job);
}

/* ------------------------------------------------------------------ lifecycle */

store_t *store_new(uv_loop_t *loop, const store_options_t *opt, cd_engine_t *engine,
                   const store_callbacks_t *cb, void *arg)
{
    store_t *self = cd_xcalloc(1, sizeof *self);
    self->loop = loop;
    self->opt = *opt;
    self->conninfo = cd_strdup(opt->conninfo ? opt->conninfo : "");
    self->opt.conninfo = self->conninfo;
    if (self->opt.request_retention_ms <= 0)
        self->opt.request_retention_ms = 72LL * 3600 * 1000;
    if (self->opt.closed_keep_ms <= 0)
        self->opt.closed_keep_ms = 3600LL * 1000;
    if (self->opt.max_batch_commands == 0)
        self->opt.max_batch_commands = 10000;
    self->engine = engine;
    self->cb = *cb;
    self->arg = arg;
    self->requests = reqcache_new();
    self->demographics_ids = reqcache_new();
    self->pg = pgc_new(loop, self->conninfo, s_on_pg_state, self);
    if (self->opt.query_timeout_ms)
        pgc_set_job_timeout(self->pg, self->opt.query_timeout_ms);
    uv_timer_init(loop, &self->retry);
    self->retry.data = self;
    return self;
}

int store_start(store_t *self)
{
    return pgc_start(self->pg);
}

store_state_t store_state(const store_t *self)
{
    return self->state;
}

const char *store_last_error(const store_t *self)
{
    return self->last_error;
}

void store_batch_counts(const store_t *self, unsigned long *sent, unsigned long *behind,
                        unsigned long *held)
{
    *sent = self->batches_sent;
    *behind = self->batches_behind;
    *held = self->batches_held;
}

int64_t store_committed_seq(const store_t *self)
{
    return self->committed_seq;
}

int64_t store_commit_wall_us(const store_t *self)
{
    return self->commit_wall_us;
}

uint64_t store_commit_mono_ns(const store_t *self)
{
    return self->commit_mono_ns;
}

static void s_on_retry_closed(uv_handle_t *h)
{
    store_t *self = h->data;
    reqcache_destroy(&self->requests);
    reqcache_destroy(&self->demographics_ids);
    s_batch_release(&self->open);
    for (size_t i = 0; i < STORE_MAX_FLIGHT; i++)
        s_batch_release(&self->flight[i]);
    cd_event_log_release(&self->told);
    free(self->conninfo);
    free(self->recheck);
    free(self);
}

void store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    *self_p = NULL;
    /* Callbacks of jobs failed by pgc_destroy must not act on the store any more. */
    self->state = STORE_DOWN;
    self->n_flight = 0;
    self->cb.on_lost = NULL;
    self->cb.on_committed = NULL;
    pgc_destroy(&self->pg);
    uv_timer_stop(&self->retry);
    uv_close((uv_handle_t *)&self->retry, s_on_retry_closed);
}
