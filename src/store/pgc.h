/*  pgc.h — one PostgreSQL connection driven by the libuv loop, never blocking it.
 *
 *  A pgc connects asynchronously (PQconnectStart/PQconnectPoll), keeps libpq non-blocking and
 *  in pipeline mode, and runs jobs: a job is one or more statements followed by a Sync, so its
 *  statements form one implicit transaction that commits atomically at the Sync (or rolls
 *  back entirely on the first error).  Several jobs may be in flight; their callbacks run in
 *  submission order.  A migration script (several statements in one string) runs as a SCRIPT
 *  job outside pipeline mode.
 *
 *  When the connection breaks or a job outlives its deadline, every job in flight or queued
 *  fails, the state callback reports PGC_DOWN, and the pgc reconnects by itself with backoff
 *  (a fresh PGconn each time, so a changed socket is re-registered with the loop).
 *
 *  States (transition table in pgc.c):
 *      IDLE --start--> CONNECTING --ok--> READY --broken/timeout--> BACKOFF --timer--> CONNECTING
 *                      CONNECTING --fail--> BACKOFF
 */
#ifndef PGC_H
#define PGC_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

typedef struct pgc pgc_t;
typedef struct pgc_job pgc_job_t;

typedef enum pgc_state {
    PGC_IDLE = 0,
    PGC_CONNECTING,
    PGC_READY,
    PGC_BACKOFF,
    PGC_CLOSED,
} pgc_state_t;

/* Reports PGC_READY once connected, and PGC_BACKOFF when the connection is lost (why says
 * what happened).  Called on the loop. */
typedef void pgc_state_fn(pgc_t *conn, pgc_state_t state, const char *why, void *arg);

/* A job finished.  ok: every statement succeeded (and, for a pipeline job, the implicit
 * transaction committed).  Otherwise error holds libpq's message and lost says whether the
 * connection broke (then the outcome of a commit in flight is unknown).  Results of the
 * statements are readable with pgc_job_result() during the callback; the job is freed after
 * it returns. */
typedef void pgc_job_fn(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg);

/* conninfo is copied.  The loop is borrowed and must outlive the pgc. */
pgc_t *pgc_new(uv_loop_t *loop, const char *conninfo, pgc_state_fn *on_state, void *arg);

/* Fails all jobs (callbacks run with error "shutting down"), closes the connection, and frees
 * the pgc once its handles are closed.  Nulls *self_p. */
void pgc_destroy(pgc_t **self_p);

/* Begins connecting.  Returns 0. */
int pgc_start(pgc_t *self);

pgc_state_t pgc_state(const pgc_t *self);

/* Per-job deadline in milliseconds (default 10000): a job still unanswered after it is taken
 * as a dead connection. */
void pgc_set_job_timeout(pgc_t *self, uint64_t ms);

/* Backoff between reconnection attempts doubles from min to max (defaults 50 and 500 ms). */
void pgc_set_backoff(pgc_t *self, uint64_t min_ms, uint64_t max_ms);

/* A new, empty job.  `on_done` is called exactly once if the job is submitted. */
pgc_job_t *pgc_job_new(pgc_job_fn *on_done, void *arg);

/* Adds a statement with text parameters.  sql is borrowed (use string literals); params are
 * copied (NULL means SQL NULL). */
void pgc_job_add(pgc_job_t *job, const char *sql, int nparams, const char *const *params);

/* Like pgc_job_add but takes ownership of the parameter strings (freed with free()).  For
 * large parameters such as a batch's JSON, to avoid a copy. */
void pgc_job_add_owned(pgc_job_t *job, const char *sql, int nparams, char **params);
/* The same with parameters in PostgreSQL's binary format (format 1), of these lengths (copied);
 * takes ownership of the params. */
void pgc_job_add_binary(pgc_job_t *job, const char *sql, int nparams, char **params,
                        const int *lengths);

/* Runs the job's statements as named prepared statements: each distinct sql is parsed and
 * planned once per connection (at most 32; more go unnamed), which matters for the few
 * statements every batch runs.  Results are as without it. */
void pgc_job_prepare(pgc_job_t *job);

/* Makes the job a SCRIPT: one string of several statements, run with the simple query
 * protocol outside pipeline mode.  sql is copied.  A script job has no other statements. */
void pgc_job_set_script(pgc_job_t *job, const char *sql);

/* The result of statement i (NULL if it produced none), valid during the callback. */
PGresult *pgc_job_result(const pgc_job_t *job, int i);
int pgc_job_count(const pgc_job_t *job);

/* Frees a job that was never submitted. */
void pgc_job_destroy(pgc_job_t **job_p);

/* Queues the job.  Takes ownership.  Returns 0, or -1 when the connection is not READY (the
 * job is then freed without its callback). */
int pgc_submit(pgc_t *self, pgc_job_t *job);

/* Number of jobs queued or in flight. */
int pgc_pending(const pgc_t *self);

#endif
