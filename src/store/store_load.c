/* Loading the engine's state from PostgreSQL: reference data, the projections, the counters
 * and the recent idempotency records, as one pipelined job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_priv.h"
#include "store_sql.h"

static void s_on_loaded(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg);

void store__load(store_t *self)
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
    pgc_job_add(job, STORE_SQL_LOAD_KEYS, 0, NULL);
    pgc_job_add(job, STORE_SQL_LOAD_DEMOGRAPHICS_IDS, 1, p_ret);
    if (self->recheck_n) { /* only after a refused batch: start-up asks nothing more */
        const char *p_recheck[] = {self->recheck};
        pgc_job_add(job, STORE_SQL_LOAD_USED_REQUESTS, 1, p_recheck);
    }
    pgc_submit(self->pg, job);
}

void store__recheck_add(store_t *self, const char *request_id)
{
    if (self->recheck_n >= STORE_RECHECK_MAX)
        return;
    size_t n = strlen(request_id);
    self->recheck = cd_xrealloc(self->recheck, self->recheck_len + n + 2);
    if (self->recheck_len)
        self->recheck[self->recheck_len++] = '\n';
    memcpy(self->recheck + self->recheck_len, request_id, n + 1);
    self->recheck_len += n;
    self->recheck_n++;
}

void store__recheck_batch(store_t *self, const store_batch_t *b)
{
    /* Its requests only: an event's request id is its command's, whose reply was recorded in
     * the same batch (control.c records it as the command is applied, before any flush), and
     * adding both used STORE_RECHECK_MAX up twice as fast. */
    for (size_t k = 0; k < b->n_requests && self->recheck_n < STORE_RECHECK_MAX; k++)
        store__recheck_add(self, b->requests[k]->id);
}

/* Adds the replies of rows (request_id, kind, seq, at_ms, reply) to the cache.  With recheck,
 * a row whose reply is no longer kept is added without one, which the server answers with
 * CONFLICT, and the ids found become the new recheck list. */
static void s_cache_replies(store_t *self, PGresult *rows, bool recheck)
{
    if (recheck) {
        free(self->recheck);
        self->recheck = NULL;
        self->recheck_len = self->recheck_n = 0;
    }
    for (int i = 0; i < PQntuples(rows); i++) {
        size_t len = 0;
        unsigned char *bytes = NULL;
        if (!PQgetisnull(rows, i, 4)) {
            bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(rows, i, 4), &len);
            if (!bytes)
                continue;
        } else if (!recheck) {
            continue;
        }
        reqcache_add(self->requests, PQgetvalue(rows, i, 0), PQgetvalue(rows, i, 1),
                     strtoll(PQgetvalue(rows, i, 2), NULL, 10),
                     strtoll(PQgetvalue(rows, i, 3), NULL, 10), bytes, len);
        PQfreemem(bytes);
        if (recheck)
            store__recheck_add(self, PQgetvalue(rows, i, 0));
    }
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

static void s_restore_key(store_t *self, const cJSON *doc)
{
    cd_key_t k;
    cd_error_t err;
    if (cd_key_from_json(doc, &k, &err) != CD_OK) {
        fprintf(stderr, "codispatchd: skipping a key: %s\n", err.message);
        return;
    }
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(doc, "last_seq");
    k.last_seq = cJSON_IsNumber(seq) ? (int64_t)seq->valuedouble : 0;
    cd_engine_restore_key(self->engine, &k);
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
        store__retry_later(self, error);
        return;
    }
    cd_engine_reset(self->engine);
    reqcache_clear(self->requests);
    /* The demographics ids are not cleared: they never came from a batch, and the list holds
     * those still running on the reports connection, which a reload must not forget. */

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
    s_each_doc(self, pgc_job_result(job, 10), s_restore_key);
    s_cache_replies(self, reqs, false);
    PGresult *demo_ids = pgc_job_result(job, 11);
    for (int i = 0; i < PQntuples(demo_ids); i++)
        store_note_demographics_id(self, PQgetvalue(demo_ids, i, 0),
                                   strtoll(PQgetvalue(demo_ids, i, 1), NULL, 10));
    /* After the window's replies, so that the cache stays in time order (their time is now). */
    if (pgc_job_count(job) > 12)
        s_cache_replies(self, pgc_job_result(job, 12), true);
    self->state = STORE_READY;
    self->was_ready = true;
    self->last_error[0] = '\0';
    fprintf(stderr,
            "codispatchd: state loaded: %zu open calls, last seq %lld, %zu recent "
            "requests\n",
            cd_engine_open_calls(self->engine), (long long)last_seq,
            reqcache_count(self->requests));
    if (self->cb.on_ready)
        self->cb.on_ready(self->arg);
}
