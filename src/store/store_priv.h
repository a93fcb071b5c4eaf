/*  store_priv.h — the store's state, shared by its own files only:
 *    store.c         connection, the writer's lock, migrations, reads, housekeeping
 *    store_commit.c  group commit: batches, the pipeline, telling the server of commits
 *    store_load.c  loading the engine's state from the projections
 */
#ifndef STORE_PRIV_H
#define STORE_PRIV_H

#include "cd_batch_gate.h"
#include "pgc.h"
#include "store.h"

#define STORE_RETRY_MS    1000 /* after a failed migration or load, on a live connection */
#define STORE_RECHECK_MAX 4096 /* request ids asked about at a load (store__load) */

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
    reqcache_t *demographics_ids; /* store_note_demographics_id; no replies, seq 0 */
    int64_t committed_seq;
    store_batch_t open;                     /* collecting */
    store_batch_t flight[STORE_MAX_FLIGHT]; /* sent, awaiting commit: a ring, oldest first */
    size_t flight_head, n_flight;
    unsigned long batches_sent, batches_behind; /* behind: sent while another was in flight */
    unsigned long batches_held; /* sent after the gate held them for company (cd_batch_gate.h) */
    cd_batch_gate_t gate;
    bool open_held; /* the open batch was held at least once */
    /* While the server is told of a commit (s_on_batch_done): that batch's events, out of the
     * ring (empty otherwise, its room kept); and a loss of the connection meanwhile, handled
     * once the server has been told. */
    cd_event_log_t told;
    bool telling, loss_deferred;
    int64_t commit_wall_us; /* when the last commit was read (store_commit_wall_us) */
    uint64_t commit_mono_ns;
    uv_timer_t retry;
    char last_error[512];
    size_t next_migration;
    /* Request ids to look up in PostgreSQL at the next load, whatever their age, newline-
     * separated: those of a refused batch (one may be a retry from beyond the retention window,
     * which the UNIQUE key refused) and those found so (kept, so that they stay answered). */
    char *recheck;
    size_t recheck_len, recheck_n;
    bool was_ready; /* READY at least once: a failed lock then means another took over */
};

/* Loads the engine's state from PostgreSQL (state LOADING); on success the store is READY
 * and on_ready is called (store_load.c). */
void store__load(store_t *self);
/* A failed migration or load on a live connection: note why and try again shortly. */
void store__retry_later(store_t *self, const char *why);
/* Adds a request id to self->recheck (ignored beyond STORE_RECHECK_MAX). */
void store__recheck_add(store_t *self, const char *request_id);
/* The request ids of a refused batch's commands, each once. */
void store__recheck_batch(store_t *self, const store_batch_t *b);
/* Notes why the database is unavailable, for status and logs (store.c). */
void store__note_error(store_t *self, const char *why);
/* Everything not committed is gone: the engine goes back to what PostgreSQL holds (store.c). */
void store__discard_uncommitted(store_t *self, const char *why);
/* Empties a batch, keeping its room; frees it (store_commit.c). */
void store__batch_clear(store_batch_t *b);
void store__batch_release(store_batch_t *b);

#endif
