#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* ------------------------------------------------------------------ losing state */

void store__note_error(store_t *self, const char *why)
{
    /* Truncation is fine: this is a sentence for status and logs. */
    size_t n = why ? strnlen(why, sizeof self->last_error - 1) : 0;
    memcpy(self->last_error, why ? why : "", n);
    self->last_error[n] = '\0';
}

/* Everything not committed is gone: the engine goes back to what PostgreSQL holds. */
void store__discard_uncommitted(store_t *self, const char *why)
{
    store__batch_clear(&self->open);
    self->open_held = false; /* that batch is gone: it must not count as held when sent */
    for (size_t i = 0; i < STORE_MAX_FLIGHT; i++)
        store__batch_clear(&self->flight[i]);
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
    store__note_error(self, why);
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
    store__note_error(self, why);
    if (was_up)
        fprintf(stderr, "codispatchd: database unavailable: %s; reconnecting\n", why);
    if (self->telling) {
        /* The server is being told of a commit made before this loss (a batch sent meanwhile
         * failed): it hears of that first, then of the loss. */
        self->loss_deferred = true;
        return;
    }
    store__discard_uncommitted(self, why);
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
        store__note_error(self, "");
        self->state = STORE_MIGRATING;
        self->next_migration = 0;
        s_migrate(self);
        return;
    }
    if (!ok) {
        store__note_error(self, error);
        fprintf(stderr, "codispatchd: database: cannot ask for the lock: %s; retrying\n", error);
    } else {
        store__note_error(self, "another codispatchd holds the database lock (standby)");
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
    store__batch_release(&self->open);
    for (size_t i = 0; i < STORE_MAX_FLIGHT; i++)
        store__batch_release(&self->flight[i]);
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
