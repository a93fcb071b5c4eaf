/*  reports.h — programme reports, the calls export and caller demographics, on a second
 *  PostgreSQL connection of their own.
 *
 *  The store's connection carries the group commit; an analytical query there would hold up
 *  every command behind it.  So reports own a separate pgc (same conninfo), with a bounded
 *  queue: past REPORTS_MAX_PENDING jobs the answer is BUSY, and while that connection is down,
 *  UNAVAILABLE.  Every job runs asynchronously on the loop; nothing here blocks it.
 *
 *  The figures themselves are SQL functions made by migration 0003 (report_response, ...),
 *  which also do the small-cell suppression: this module only checks the parameters, calls
 *  them, and turns the rows into a report_table_t.
 */
#ifndef REPORTS_H
#define REPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "cd_error.h"

#define REPORTS_MAX_PENDING 8     /* reports and demographics queued or running */
#define REPORTS_MIN_CELL    11    /* the suppression threshold the SQL applies */
#define REPORTS_TIMEOUT_MS  60000 /* statement_timeout of one report */
#define REPORTS_EXPORT_MAX  2000  /* rows per export page */

typedef struct reports reports_t;

/* A validated report request (report_query_check fills it). */
typedef struct report_query {
    char kind[16];
    char by[16];
    char from[40];
    char to[40];
} report_query_t;

typedef enum report_coltype { REPORT_TEXT = 0, REPORT_NUMBER, REPORT_BOOL } report_coltype_t;

/* A finished report (or export page); owned by the module, valid during the callback only. */
typedef struct report_table {
    const char *kind, *by, *from, *to; /* from/to: the bounds as applied, ISO 8601 */
    int ncols;
    char **columns;
    report_coltype_t *types;
    int nrows;
    char **cells;       /* [row * ncols + col]; NULL: no value */
    bool *suppressed;   /* [row * ncols + col] */
    int64_t next_after; /* export: cursor of the next page; -1 on the last */
} report_table_t;

/* Exactly one call per accepted job: t on success, else err (never both). */
typedef void report_done_fn(void *arg, const report_table_t *t, const cd_error_t *err);

typedef struct report_demographics {
    char call_id[32];
    char race_ethnicity[48], age_band[48], gender[48];
} report_demographics_t;
typedef void demographics_done_fn(void *arg, const report_demographics_t *d, const cd_error_t *err);

/* conninfo is copied; the loop is borrowed.  Connects at once and reconnects by itself. */
reports_t *reports_new(uv_loop_t *loop, const char *conninfo);
/* Fails what is queued (callbacks run with UNAVAILABLE) and closes.  Nulls *self_p. */
void reports_destroy(reports_t **self_p);

/* Checks kind, from, to, by (NULL or "" for the default) and fills *out; else fills *err
 * naming the field and returns CD_EINVAL. */
int report_query_check(const char *kind, const char *from, const char *to, const char *by,
                       report_query_t *out, cd_error_t *err);
/* Checks an export's or a report's from and to (required; dates or timestamps; to after from;
 * at most 400 days apart); else fills *err naming the field and returns CD_EINVAL. */
int report_range_check(const char *from, const char *to, cd_error_t *err);
/* A code of the demographic dimension ("race_ethnicity", "age_band", "gender")? */
bool report_category_ok(const char *dimension, const char *code);

/* Each returns 0 having queued the job (cb runs later), or CD_EUNAVAIL / CD_EBUSY / CD_EINVAL
 * with *err filled (cb never runs). */
int reports_run(reports_t *self, const report_query_t *q, report_done_fn *cb, void *arg,
                cd_error_t *err);
int reports_export(reports_t *self, const char *from, const char *to, bool with_locations,
                   uint64_t after, uint32_t limit, report_done_fn *cb, void *arg, cd_error_t *err);
/* Values must have passed report_category_ok ("" is not_asked). */
int reports_set_demographics(reports_t *self, const char *request_id,
                             const report_demographics_t *d, const char *actor,
                             demographics_done_fn *cb, void *arg, cd_error_t *err);

/* The table as CSV (header, then rows; a suppressed cell is the word "suppressed") and as
 * JSON ({kind, by, from, to, min_cell, columns, types, rows: [[...]], suppressed: [[...]]}).
 * malloc'd. */
char *report_table_csv(const report_table_t *t);
char *report_table_json(const report_table_t *t);

#endif
