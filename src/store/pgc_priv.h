/*  pgc_priv.h — a pgc job's insides, shared by pgc.c (running jobs) and pgc_job.c (building
 *  them).  Private to src/store/pgc*.c.
 */
#ifndef PGC_PRIV_H
#define PGC_PRIV_H

#include <stdbool.h>
#include <stdint.h>

#include "pgc.h"

typedef struct pgc_stmt {
    const char *sql; /* borrowed */
    int nparams;
    char **params; /* owned */
    int *lengths;  /* owned; set when the parameters are binary (format 1) */
} pgc_stmt_t;

struct pgc_job {
    pgc_job_t *next;
    pgc_job_fn *on_done;
    void *arg;
    pgc_stmt_t *stmts;
    int n, cap;
    char *script;       /* owned; set for SCRIPT jobs */
    PGresult **results; /* one slot per statement (one for a script) */
    int cur;            /* statement whose results are being read (< 0: its prepares') */
    bool prepared;      /* run its statements as named prepared statements */
    int n_prep;         /* statements prepared ahead of it in its pipeline sync group */
    bool cur_has_result;
    char *error; /* first error seen */
    uint64_t deadline;
};

typedef struct pgc_queue {
    pgc_job_t *head, *tail;
    int len;
} pgc_queue_t;

/* FIFO of jobs (not owned by the queue: a popped job belongs to the caller). */
void pgc__queue_push(pgc_queue_t *q, pgc_job_t *job);
pgc_job_t *pgc__queue_pop(pgc_queue_t *q);
/* Keeps the first error only. */
void pgc__job_note_error(pgc_job_t *job, const char *msg);
/* Runs the job's callback (why: an error to note first, or NULL) and destroys the job. */
void pgc__job_finish(pgc_job_t *job, bool lost, const char *why);

#endif
