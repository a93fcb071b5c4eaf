/*  pgc_job.c — building pgc jobs (statements, parameters, scripts), their results, and the
 *  queues pgc.c runs them from.
 */
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"
#include "pgc_priv.h"

pgc_job_t *pgc_job_new(pgc_job_fn *on_done, void *arg)
{
    pgc_job_t *job = cd_xcalloc(1, sizeof *job);
    job->on_done = on_done;
    job->arg = arg;
    return job;
}

void pgc_job_add_owned(pgc_job_t *job, const char *sql, int nparams, char **params)
{
    if (job->n == job->cap) {
        job->cap = job->cap ? job->cap * 2 : 4;
        job->stmts = cd_xrealloc(job->stmts, (size_t)job->cap * sizeof *job->stmts);
    }
    pgc_stmt_t *st = &job->stmts[job->n++];
    st->sql = sql;
    st->nparams = nparams;
    st->params = NULL;
    st->lengths = NULL;
    if (nparams > 0) {
        st->params = cd_xcalloc((size_t)nparams, sizeof *st->params);
        memcpy(st->params, params, (size_t)nparams * sizeof *params);
    }
}

void pgc_job_add_binary(pgc_job_t *job, const char *sql, int nparams, char **params,
                        const int *lengths)
{
    pgc_job_add_owned(job, sql, nparams, params);
    pgc_stmt_t *st = &job->stmts[job->n - 1];
    st->lengths = cd_xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof *st->lengths);
    memcpy(st->lengths, lengths, (size_t)nparams * sizeof *lengths);
}

void pgc_job_add(pgc_job_t *job, const char *sql, int nparams, const char *const *params)
{
    char *copies[nparams > 0 ? nparams : 1];
    for (int i = 0; i < nparams; i++)
        copies[i] = cd_strdup(params[i]);
    pgc_job_add_owned(job, sql, nparams, copies);
}

void pgc_job_prepare(pgc_job_t *job)
{
    job->prepared = true;
}

void pgc_job_set_script(pgc_job_t *job, const char *sql)
{
    free(job->script);
    job->script = cd_strdup(sql);
}

PGresult *pgc_job_result(const pgc_job_t *job, int i)
{
    if (!job->results || i < 0 || i >= pgc_job_count(job))
        return NULL;
    return job->results[i];
}

int pgc_job_count(const pgc_job_t *job)
{
    return job->script ? 1 : job->n;
}

void pgc_job_destroy(pgc_job_t **job_p)
{
    if (!job_p || !*job_p)
        return;
    pgc_job_t *job = *job_p;
    int slots = pgc_job_count(job);
    for (int i = 0; job->results && i < slots; i++)
        PQclear(job->results[i]);
    free(job->results);
    for (int i = 0; i < job->n; i++) {
        for (int p = 0; p < job->stmts[i].nparams; p++)
            free(job->stmts[i].params[p]);
        free(job->stmts[i].params);
        free(job->stmts[i].lengths);
    }
    free(job->stmts);
    free(job->script);
    free(job->error);
    free(job);
    *job_p = NULL;
}

void pgc__queue_push(pgc_queue_t *q, pgc_job_t *job)
{
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->len++;
}

pgc_job_t *pgc__queue_pop(pgc_queue_t *q)
{
    pgc_job_t *job = q->head;
    if (job) {
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        q->len--;
        job->next = NULL;
    }
    return job;
}

void pgc__job_note_error(pgc_job_t *job, const char *msg)
{
    if (!job->error)
        job->error = cd_strdup(msg && *msg ? msg : "unknown database error");
}

/* Runs the callback and frees the job. */
void pgc__job_finish(pgc_job_t *job, bool lost, const char *why)
{
    if (why)
        pgc__job_note_error(job, why);
    if (job->on_done)
        job->on_done(job, job->error == NULL, lost, job->error, job->arg);
    pgc_job_destroy(&job);
}
