#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_embedded.h"
#include "pgc.h"
#include "store_sql.h"

extern const struct cd_embedded_file cd_migrations[];
extern const size_t cd_migrations_count;

#define STORE_RETRY_MS 1000 /* after a failed migration or load, on a live connection */

/* A batch: what one transaction carries. */
typedef struct store_batch {
    cd_event_log_t events;
    reqcache_entry_t **requests; /* borrowed from the cache */
    size_t n_requests, cap_requests;
    int64_t last_seq;
} store_batch_t;

struct store {
    uv_loop_t *loop;
    store_options_t opt;
    char *conninfo;
    cd_engine_t *engine; /* borrowed */
    store_callbacks_t cb;
    void *arg;
    pgc_t *pg;
    store_state_t state;
    reqcache_t *requests;
    int64_t committed_seq;
    store_batch_t open;   /* collecting */
    store_batch_t flight; /* sent, awaiting commit */
    bool in_flight;
    uint64_t generation; /* bumped on every loss, so late callbacks can tell they are stale */
    uv_timer_t retry;
    char last_error[512];
    size_t next_migration;
};

static void s_migrate(store_t *self);
static void s_load(store_t *self);

const char *store_state_name(store_state_t state)
{
    switch (state) {
    case STORE_DOWN:
        return "down";
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
    self->generation++;
    s_batch_clear(&self->open);
    s_batch_clear(&self->flight);
    self->in_flight = false;
    reqcache_forget_after(self->requests, self->committed_seq);
    cd_engine_reset(self->engine);
    if (self->cb.on_lost)
        self->cb.on_lost(self->arg, self->committed_seq, why);
}

static void s_on_retry(uv_timer_t *t)
{
    store_t *self = t->data;
    if (self->state == STORE_MIGRATING)
        s_migrate(self);
    else if (self->state == STORE_LOADING)
        s_load(self);
}

static void s_retry_later(store_t *self, const char *why)
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
        self->state = STORE_MIGRATING;
        self->next_migration = 0;
        s_migrate(self);
        return;
    }
    /* Lost.  Report once per outage, not once per reconnection attempt. */
    bool was_up = self->state != STORE_DOWN || self->last_error[0] == '\0';
    self->state = STORE_DOWN;
    uv_timer_stop(&self->retry);
    s_note_error(self, why);
    if (was_up)
        fprintf(stderr, "codispatchd: database unavailable: %s; reconnecting\n", why);
    s_discard_uncommitted(self, why);
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
        s_retry_later(self, why);
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
        s_retry_later(self, error);
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
    s_load(self);
}

/* ------------------------------------------------------------------ loading */

static void s_on_loaded(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg);

static void s_load(store_t *self)
{
    char closed_keep[64], retention[64];
    store_sql_interval(closed_keep, sizeof closed_keep, self->opt.closed_keep_ms);
    store_sql_interval(retention, sizeof retention, self->opt.request_retention_ms);
    const char *p_closed[] = {closed_keep}, *p_ret[] = {retention};
    pgc_job_t *job = pgc_job_new(s_on_loaded, self);
    pgc_job_add(job, STORE_SQL_LOAD_CALL_TYPES, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_COUNTERS, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_CALLS, 1, p_closed);
    pgc_job_add(job, STORE_SQL_LOAD_REQUESTS, 1, p_ret);
    pgc_job_add(job, STORE_SQL_LOAD_UNIT_TYPES, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_PLANS, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_UNITS, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_ASSIGNMENTS, 1, p_closed);
    pgc_job_add(job, STORE_SQL_LOAD_ALERTS, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_NUMBERS, 0, NULL);
    pgc_submit(self->pg, job);
}

/* Each row's first column is a JSON document; calls fn with it parsed. */
static void s_each_doc(store_t *self, PGresult *res, void (*fn)(store_t *, const cJSON *))
{
    for (int i = 0; i < PQntuples(res); i++) {
        cJSON *doc = cJSON_Parse(PQgetvalue(res, i, 0));
        if (doc)
            fn(self, doc);
        else
            fprintf(stderr, "codispatchd: skipping an unreadable row while loading\n");
        cJSON_Delete(doc);
    }
}

static void s_restore_plan(store_t *self, const cJSON *doc)
{
    cd_plan_t plan;
    cd_error_t err;
    if (cd_plan_from_json(doc, &plan, &err) == CD_OK)
        cd_engine_restore_plan(self->engine, &plan);
    else
        fprintf(stderr, "codispatchd: skipping a plan: %s\n", err.message);
}

static void s_restore_unit(store_t *self, const cJSON *doc)
{
    cd_error_t err;
    cd_unit_t *u = cd_unit_from_json(doc, &err);
    if (u)
        cd_engine_restore_unit(self->engine, u);
}

static void s_restore_assignment(store_t *self, const cJSON *doc)
{
    cd_error_t err;
    cd_assignment_t *a = cd_assign_from_json(doc, &err);
    if (a)
        cd_engine_restore_assignment(self->engine, a);
}

static void s_restore_alert(store_t *self, const cJSON *doc)
{
    cd_alert_t al;
    cd_error_t err;
    if (cd_alert_from_json(doc, &al, &err) == CD_OK)
        cd_engine_restore_alert(self->engine, &al);
}

/* Unit types, plans and the roster: before the calls. */
static void s_load_dispatch_reference(store_t *self, PGresult *unit_types, PGresult *plans,
                                      PGresult *units)
{
    for (int i = 0; i < PQntuples(unit_types); i++)
        cd_engine_add_unit_type(self->engine, PQgetvalue(unit_types, i, 0));
    s_each_doc(self, plans, s_restore_plan);
    s_each_doc(self, units, s_restore_unit);
}

/* Assignments and alerts: after the calls they belong to. */
static void s_load_dispatch_state(store_t *self, PGresult *assignments, PGresult *alerts,
                                  PGresult *numbers)
{
    s_each_doc(self, assignments, s_restore_assignment);
    s_each_doc(self, alerts, s_restore_alert);
    cd_engine_restore_numbers(self->engine, strtoll(PQgetvalue(numbers, 0, 0), NULL, 10),
                              strtoll(PQgetvalue(numbers, 0, 1), NULL, 10));
}

static void s_on_loaded(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_t *self = arg;
    if (lost || self->state != STORE_LOADING)
        return;
    if (!ok) {
        s_retry_later(self, error);
        return;
    }
    cd_engine_reset(self->engine);
    reqcache_clear(self->requests);

    PGresult *types = pgc_job_result(job, 0), *counters = pgc_job_result(job, 1),
             *calls = pgc_job_result(job, 2), *reqs = pgc_job_result(job, 3);
    cd_engine_clear_call_types(self->engine);
    for (int i = 0; i < PQntuples(types); i++)
        cd_engine_add_call_type(self->engine, PQgetvalue(types, i, 0));

    int64_t last_seq = strtoll(PQgetvalue(counters, 0, 0), NULL, 10);
    int64_t last_no = strtoll(PQgetvalue(counters, 0, 1), NULL, 10);
    cd_engine_restore_counters(self->engine, last_seq, last_no);
    self->committed_seq = last_seq;

    s_load_dispatch_reference(self, pgc_job_result(job, 4), pgc_job_result(job, 5),
                              pgc_job_result(job, 6));
    for (int i = 0; i < PQntuples(calls); i++) {
        cd_call_t *c = store_sql_call_from_row(calls, i);
        if (c)
            cd_engine_restore_call(self->engine, c);
    }
    s_load_dispatch_state(self, pgc_job_result(job, 7), pgc_job_result(job, 8),
                          pgc_job_result(job, 9));
    for (int i = 0; i < PQntuples(reqs); i++) {
        size_t len = 0;
        unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(reqs, i, 4), &len);
        if (!bytes)
            continue;
        reqcache_add(self->requests, PQgetvalue(reqs, i, 0), PQgetvalue(reqs, i, 1),
                     strtoll(PQgetvalue(reqs, i, 2), NULL, 10),
                     strtoll(PQgetvalue(reqs, i, 3), NULL, 10), bytes, len);
        PQfreemem(bytes);
    }
    self->state = STORE_READY;
    self->last_error[0] = '\0';
    fprintf(stderr,
            "codispatchd: state loaded: %zu open calls, last seq %lld, %zu recent "
            "requests\n",
            cd_engine_open_calls(self->engine), (long long)last_seq,
            reqcache_count(self->requests));
    if (self->cb.on_ready)
        self->cb.on_ready(self->arg);
}

/* ------------------------------------------------------------------ group commit */

static void s_on_batch_done(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    store_t *self = arg;
    if (!self->in_flight)
        return; /* already discarded by a loss */
    self->in_flight = false;
    if (ok) {
        self->committed_seq = self->flight.last_seq;
        if (self->cb.on_committed)
            self->cb.on_committed(self->arg, self->committed_seq, &self->flight.events);
        s_batch_clear(&self->flight);
        store_flush(self); /* what gathered meanwhile goes now */
        return;
    }
    if (lost)
        return; /* the state callback handles a lost connection */
    /* PostgreSQL refused the batch (a constraint, say): nothing of it committed.  Reload. */
    char why[600];
    snprintf(why, sizeof why, "the database refused a batch: %s", error);
    fprintf(stderr, "codispatchd: %s; reloading state\n", why);
    s_note_error(self, why);
    self->state = STORE_LOADING;
    s_discard_uncommitted(self, why);
    s_load(self);
}

void store_flush(store_t *self)
{
    if (self->state != STORE_READY || self->in_flight)
        return;
    cd_engine_take_events(self->engine, &self->open.events);
    if (self->open.events.len == 0 && self->open.n_requests == 0)
        return;
    /* The open batch becomes the flight batch (swap, so buffers are reused). */
    store_batch_t tmp = self->flight;
    self->flight = self->open;
    self->open = tmp;
    store_batch_t *b = &self->flight;
    b->last_seq = b->events.len ? b->events.items[b->events.len - 1].seq : self->committed_seq;
    for (size_t i = 0; i < b->n_requests; i++)
        if (b->requests[i]->seq > b->last_seq)
            b->last_seq = b->requests[i]->seq;

    if (self->cb.on_flush && b->events.len)
        self->cb.on_flush(self->arg, &b->events);
    pgc_job_t *job = pgc_job_new(s_on_batch_done, self);
    if (b->events.len) {
        char *events = store_sql_events_json(&b->events);
        char *calls = store_sql_calls_json(self->engine, &b->events);
        pgc_job_add_owned(job, STORE_SQL_INSERT_EVENTS, 1, &events);
        pgc_job_add_owned(job, STORE_SQL_UPSERT_CALLS, 1, &calls);
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
    if (b->n_requests) {
        char *reqs = store_sql_requests_json(b->requests, b->n_requests);
        pgc_job_add_owned(job, STORE_SQL_INSERT_REQUESTS, 1, &reqs);
    }
    self->in_flight = true;
    if (pgc_submit(self->pg, job) != 0)
        self->in_flight = false; /* not READY: the state callback discards everything */
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

int64_t store_committed_seq(const store_t *self)
{
    return self->committed_seq;
}

static void s_on_retry_closed(uv_handle_t *h)
{
    store_t *self = h->data;
    reqcache_destroy(&self->requests);
    s_batch_release(&self->open);
    s_batch_release(&self->flight);
    free(self->conninfo);
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
    self->in_flight = false;
    self->cb.on_lost = NULL;
    self->cb.on_committed = NULL;
    pgc_destroy(&self->pg);
    uv_timer_stop(&self->retry);
    uv_close((uv_handle_t *)&self->retry, s_on_retry_closed);
}
