/*  store_sql.h — the SQL the store runs, and the conversions between rows and the engine.
 *  Private to src/store. */
#ifndef STORE_SQL_H
#define STORE_SQL_H

#include <libpq-fe.h>

#include "cd_engine.h"
#include "reqcache.h"

/* Batch statements.  Events, calls and requests take one binary array per column (see
 * store_sql_*_params); the others a JSON array of rows as $1 (store_sql_dispatch_rows). */
extern const char *const STORE_SQL_INSERT_EVENTS;
extern const char *const STORE_SQL_INSERT_CALLS; /* a plain INSERT: no conflict is possible */
/* The same two for a batch of one row, with the same parameters as scalars: PostgreSQL runs a
 * one-row VALUES 35-55 µs sooner than the unnest of one-element arrays (a lone call's
 * transaction, measured here), and a lone call is the common case of a quiet hour. */
extern const char *const STORE_SQL_INSERT_EVENT_ONE;
extern const char *const STORE_SQL_INSERT_CALL_ONE;
extern const char *const STORE_SQL_UPSERT_CALLS;
extern const char *const STORE_SQL_INSERT_REQUESTS;
extern const char *const STORE_SQL_UPSERT_UNITS;
extern const char *const STORE_SQL_UPSERT_PLANS;
extern const char *const STORE_SQL_UPSERT_ASSIGNMENTS;
extern const char *const STORE_SQL_INSERT_ALERTS;
extern const char *const STORE_SQL_CLEAR_ALERTS;
/* $1: the last event of the batch ahead in the pipeline; fails unless it committed. */
extern const char *const STORE_SQL_BATCH_GUARD;

/* Snapshot load, in this order, as one job. */
extern const char *const STORE_SQL_LOAD_CALL_TYPES;
extern const char *const STORE_SQL_LOAD_COUNTERS;
extern const char *const STORE_SQL_LOAD_CALLS;    /* $1: closed calls kept (interval text) */
extern const char *const STORE_SQL_LOAD_REQUESTS; /* $1: request retention (interval text) */
/* $1: request retention (interval text); request_id, at_ms. */
extern const char *const STORE_SQL_LOAD_DEMOGRAPHICS_IDS;
/* $1: request ids, newline-separated; the same columns, at_ms being now and reply NULL where it
 * is no longer kept (an event row from before migration 0005 whose `requests` row was pruned). */
extern const char *const STORE_SQL_LOAD_USED_REQUESTS;
extern const char *const STORE_SQL_LOAD_UNIT_TYPES;
extern const char *const STORE_SQL_LOAD_PLANS;
extern const char *const STORE_SQL_LOAD_UNITS;
extern const char *const STORE_SQL_LOAD_ASSIGNMENTS; /* $1: closed calls kept */
extern const char *const STORE_SQL_LOAD_ALERTS;
extern const char *const STORE_SQL_LOAD_NUMBERS; /* last assignment and alert numbers */
extern const char *const STORE_SQL_LOAD_KEYS;    /* client keys, one JSON document a row */

extern const char *const STORE_SQL_GET_CALL;       /* $1 call_id */
extern const char *const STORE_SQL_LIST_CALLS;     /* $1 limit */
extern const char *const STORE_SQL_PRUNE_REQUESTS; /* $1 retention (interval text) */

extern const char *const STORE_SQL_MIGRATIONS_TABLE;
extern const char *const STORE_SQL_APPLIED_MIGRATIONS;

/* store_rows.c: the parameters of STORE_SQL_INSERT_EVENTS, of STORE_SQL_INSERT_CALLS and
 * _UPSERT_CALLS (the current row of every call the events touched) and of
 * STORE_SQL_INSERT_REQUESTS: one array per column in PostgreSQL's binary format (sent with
 * format 1), each malloc'd. */
typedef struct store_sql_array {
    char *data;
    int len;
} store_sql_array_t;
#define STORE_SQL_EVENT_PARAMS   10
#define STORE_SQL_CALL_PARAMS    23
#define STORE_SQL_REQUEST_PARAMS 5
/* An event that carries a request id whose reply is in `requests` (the cache) gets that reply
 * in its row, and the entry is marked in_event. */
void store_sql_events_params(const cd_event_log_t *events, const reqcache_t *requests,
                             store_sql_array_t out[STORE_SQL_EVENT_PARAMS]);
typedef struct store_sql_calls {
    store_sql_array_t fresh[STORE_SQL_CALL_PARAMS]; /* created in the batch: _INSERT_CALLS */
    store_sql_array_t known[STORE_SQL_CALL_PARAMS]; /* have a row already: _UPSERT_CALLS */
    size_t n_fresh, n_known; /* rows in each (a set with none holds empty arrays) */
} store_sql_calls_t;
void store_sql_calls_params(const cd_engine_t *engine, const cd_event_log_t *events,
                            store_sql_calls_t *out);
/* Turns a one-element array into its element, in place (the binary format of a scalar is the
 * element's bytes): the parameter of STORE_SQL_INSERT_EVENT_ONE or _INSERT_CALL_ONE.  A NULL
 * element becomes a NULL parameter (data NULL, len 0). */
void store_sql_array_to_scalar(store_sql_array_t *a);
/* Only the entries not written with their event; returns how many rows (0: nothing to insert,
 * and out is left untouched). */
size_t store_sql_requests_params(reqcache_entry_t *const *entries, size_t n,
                                 store_sql_array_t out[STORE_SQL_REQUEST_PARAMS]);
/* The projections of units, plans and assignments the events touched, and the alerts they
 * raised and cleared: JSON array texts (malloc'd), or NULL when there is nothing to write. */
typedef struct store_sql_rows {
    char *units, *plans, *assignments, *alerts_raised, *alerts_cleared;
} store_sql_rows_t;
void store_sql_dispatch_rows(const cd_engine_t *engine, const cd_event_log_t *events,
                             store_sql_rows_t *out);

/* A call from a row selected with the store's call column list; NULL if malformed. */
cd_call_t *store_sql_call_from_row(const PGresult *res, int row);

/* "3600000 milliseconds", for interval parameters. */
void store_sql_interval(char *out, size_t cap, int64_t ms);

#endif
