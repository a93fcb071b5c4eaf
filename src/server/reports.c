/*  reports.c — programme reports, the export and caller demographics on their own
 *  PostgreSQL connection (so a long report never delays a command's commit); the checking of
 *  their parameters is in report_query.c.
 */
#include "reports.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cd_text.h"
#include "pgc.h"

struct reports {
    pgc_t *pg;
};

/* ------------------------------------------------------------------ the connection */

static void s_on_state(pgc_t *conn, pgc_state_t state, const char *why, void *arg)
{
    (void)conn;
    (void)arg;
    if (state == PGC_BACKOFF)
        fprintf(stderr, "codispatchd: reports connection: %s\n", why);
}

reports_t *reports_new(uv_loop_t *loop, const char *conninfo)
{
    reports_t *self = cd_xcalloc(1, sizeof *self);
    self->pg = pgc_new(loop, conninfo, s_on_state, self);
    /* A report may run long; its statement_timeout stops it first. */
    pgc_set_job_timeout(self->pg, REPORTS_TIMEOUT_MS + 15000);
    pgc_start(self->pg);
    return self;
}

void reports_destroy(reports_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    reports_t *self = *self_p;
    *self_p = NULL;
    pgc_destroy(&self->pg); /* fails the queued jobs: their callbacks answer UNAVAILABLE */
    free(self);
}

static int s_can_submit(reports_t *self, cd_error_t *err)
{
    if (pgc_state(self->pg) != PGC_READY)
        return cd_error_set(err, CD_EUNAVAIL, "",
                            "the reports connection to the database is down; retry shortly");
    if (pgc_pending(self->pg) >= REPORTS_MAX_PENDING)
        return cd_error_set(err, CD_EBUSY, "",
                            "%d reports are already running or waiting; retry shortly",
                            REPORTS_MAX_PENDING);
    return CD_OK;
}

/* Maps a failed job to an error: the SQLSTATE says which. */
static void s_job_error(pgc_job_t *job, bool lost, const char *error, cd_error_t *err)
{
    const char *state = NULL, *column = NULL, *primary = NULL;
    for (int i = 0; i < pgc_job_count(job) && !state; i++) {
        PGresult *r = pgc_job_result(job, i);
        if (r && PQresultStatus(r) == PGRES_FATAL_ERROR) {
            state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            column = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
            primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        }
    }
    if (lost || !state) {
        cd_error_set(err, CD_EUNAVAIL, "", "the database did not answer; retry shortly (%.150s)",
                     error ? error : "connection lost");
    } else if (strcmp(state, "23514") == 0) {
        cd_error_set(err, CD_EINVAL, column ? column : "", "%.200s", primary);
    } else if (strcmp(state, "23505") == 0) {
        cd_error_set(err, CD_ECONFLICT, "request_id", "%.200s", primary);
    } else if (strcmp(state, "P0002") == 0) {
        cd_error_set(err, CD_ENOTFOUND, "call_id", "%.200s", primary);
    } else if (strcmp(state, "22023") == 0 || strncmp(state, "22", 2) == 0) {
        cd_error_set(err, CD_EINVAL, "", "%.200s", primary);
    } else if (strcmp(state, "57014") == 0) {
        cd_error_set(err, CD_EBUSY, "", "the report took longer than %d s and was stopped",
                     REPORTS_TIMEOUT_MS / 1000);
    } else {
        cd_error_set(err, CD_EINTERNAL, "", "the report failed: %.200s", primary ? primary : error);
    }
}

/* ------------------------------------------------------------------ reports and export */

typedef struct s_run {
    report_done_fn *cb;
    void *arg;
    char kind[16], by[16];
    bool is_export;
    int limit;
} s_run_t;

static report_coltype_t s_coltype(Oid oid)
{
    switch (oid) {
    case 20:   /* int8 */
    case 21:   /* int2 */
    case 23:   /* int4 */
    case 700:  /* float4 */
    case 701:  /* float8 */
    case 1700: /* numeric */
        return REPORT_NUMBER;
    case 16: /* bool */
        return REPORT_BOOL;
    default:
        return REPORT_TEXT;
    }
}

/* Rows to a table: the `suppressed` column becomes the flag of the row's empty cells. */
static void s_table_from(const PGresult *res, const PGresult *bounds, const s_run_t *run,
                         report_table_t *t)
{
    memset(t, 0, sizeof *t);
    t->kind = run->kind;
    t->by = run->by;
    t->from = PQgetvalue(bounds, 0, 0);
    t->to = PQgetvalue(bounds, 0, 1);
    t->next_after = -1;
    int nf = PQnfields(res), sup_col = PQfnumber(res, "suppressed");
    t->columns = cd_xcalloc((size_t)nf, sizeof *t->columns);
    t->types = cd_xcalloc((size_t)nf, sizeof *t->types);
    int *src = cd_xcalloc((size_t)nf, sizeof *src);
    for (int f = 0; f < nf; f++) {
        if (f == sup_col)
            continue;
        src[t->ncols] = f;
        t->types[t->ncols] = s_coltype(PQftype(res, f));
        t->columns[t->ncols++] = PQfname(res, f);
    }
    t->nrows = PQntuples(res);
    size_t cells = (size_t)t->nrows * (size_t)t->ncols;
    t->cells = cd_xcalloc(cells ? cells : 1, sizeof *t->cells);
    t->suppressed = cd_xcalloc(cells ? cells : 1, sizeof *t->suppressed);
    /* In a suppressed row the call figures, from the `calls` column on, are hidden (the SQL
     * returns them as NULL); what comes before (the label, staffing's unit-hours) is not. */
    int calls_col = t->ncols;
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->columns[c], "calls") == 0) {
            calls_col = c;
            break;
        }
    for (int r = 0; r < t->nrows; r++) {
        bool row_sup = sup_col >= 0 && strcmp(PQgetvalue(res, r, sup_col), "t") == 0;
        for (int c = 0; c < t->ncols; c++) {
            size_t i = (size_t)r * (size_t)t->ncols + (size_t)c;
            bool null = PQgetisnull(res, r, src[c]);
            t->cells[i] = null ? NULL : PQgetvalue(res, r, src[c]);
            t->suppressed[i] = row_sup && c >= calls_col;
        }
    }
    if (run->is_export && t->nrows == run->limit && t->nrows > 0)
        t->next_after = strtoll(PQgetvalue(res, t->nrows - 1, 0), NULL, 10);
    free(src);
}

static void s_table_free(report_table_t *t)
{
    free(t->columns);
    free(t->types);
    free(t->cells);
    free(t->suppressed);
}

static void s_on_report(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    s_run_t *run = arg;
    /* Statement 0 sets the timeout, 1 reads the bounds as applied, 2 is the report. */
    PGresult *bounds = pgc_job_result(job, 1), *res = pgc_job_result(job, 2);
    if (!ok || !res || PQresultStatus(res) != PGRES_TUPLES_OK || !bounds ||
        PQntuples(bounds) != 1) {
        cd_error_t err;
        s_job_error(job, lost, error, &err);
        run->cb(run->arg, NULL, &err);
    } else {
        report_table_t t;
        s_table_from(res, bounds, run, &t);
        run->cb(run->arg, &t, NULL);
        s_table_free(&t);
    }
    free(run);
}

static const char *const SQL_TIMEOUT = "SELECT set_config('statement_timeout', $1, true)";
static const char *const SQL_BOUNDS =
    "SELECT to_char(report_ts($1, false), 'YYYY-MM-DD\"T\"HH24:MI:SSOF'), "
    "       to_char(report_ts($2, true), 'YYYY-MM-DD\"T\"HH24:MI:SSOF')";

static pgc_job_t *s_job(s_run_t *run, const char *from, const char *to)
{
    pgc_job_t *job = pgc_job_new(s_on_report, run);
    char ms[24];
    snprintf(ms, sizeof ms, "%d", REPORTS_TIMEOUT_MS);
    const char *p0[] = {ms};
    pgc_job_add(job, SQL_TIMEOUT, 1, p0);
    const char *p1[] = {from, to};
    pgc_job_add(job, SQL_BOUNDS, 2, p1);
    return job;
}

int reports_run(reports_t *self, const report_query_t *q, report_done_fn *cb, void *arg,
                cd_error_t *err)
{
    /* Names from a fixed list only: never text from the request in the SQL. */
    static const struct {
        const char *kind, *sql;
    } s_sql[] = {
        {"response",
         "SELECT * FROM report_response(report_ts($1, false), report_ts($2, true), $3)"},
        {"diversion",
         "SELECT * FROM report_diversion(report_ts($1, false), report_ts($2, true), $3)"},
        {"language",
         "SELECT * FROM report_language(report_ts($1, false), report_ts($2, true), $3)"},
        {"equity", "SELECT * FROM report_equity(report_ts($1, false), report_ts($2, true), $3)"},
        {"staffing",
         "SELECT * FROM report_staffing(report_ts($1, false), report_ts($2, true), $3)"},
    };
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof s_sql / sizeof s_sql[0]; i++)
        if (strcmp(q->kind, s_sql[i].kind) == 0)
            sql = s_sql[i].sql;
    if (!sql)
        return cd_error_set(err, CD_EINVAL, "kind", "unknown report %.32s", q->kind);
    int rc = s_can_submit(self, err);
    if (rc)
        return rc;
    s_run_t *run = cd_xcalloc(1, sizeof *run);
    run->cb = cb;
    run->arg = arg;
    cd_copy(run->kind, sizeof run->kind, q->kind);
    cd_copy(run->by, sizeof run->by, q->by);
    pgc_job_t *job = s_job(run, q->from, q->to);
    const char *params[] = {q->from, q->to, q->by};
    pgc_job_add(job, sql, 3, params);
    if (pgc_submit(self->pg, job) != 0) {
        free(run);
        return cd_error_set(err, CD_EUNAVAIL, "", "the reports connection is down; retry shortly");
    }
    return CD_OK;
}

int reports_export(reports_t *self, const char *from, const char *to, bool with_locations,
                   uint64_t after, uint32_t limit, report_done_fn *cb, void *arg, cd_error_t *err)
{
    int rc = report_range_check(from, to, err);
    if (rc)
        return rc;
    if (limit == 0)
        limit = 500;
    if (limit > REPORTS_EXPORT_MAX)
        return cd_error_set(err, CD_EINVAL, "limit", "limit must be between 1 and %d; got %u",
                            REPORTS_EXPORT_MAX, limit);
    rc = s_can_submit(self, err);
    if (rc)
        return rc;
    s_run_t *run = cd_xcalloc(1, sizeof *run);
    run->cb = cb;
    run->arg = arg;
    run->is_export = true;
    run->limit = (int)limit;
    cd_copy(run->kind, sizeof run->kind, "export");
    pgc_job_t *job = s_job(run, from, to);
    char a[24], l[16];
    snprintf(a, sizeof a, "%llu", (unsigned long long)after);
    snprintf(l, sizeof l, "%u", limit);
    const char *params[] = {from, to, with_locations ? "true" : "false", a, l};
    pgc_job_add(job,
                "SELECT * FROM report_export_calls(report_ts($1, false), report_ts($2, true), "
                "$3::boolean, $4::bigint, $5::integer)",
                5, params);
    if (pgc_submit(self->pg, job) != 0) {
        free(run);
        return cd_error_set(err, CD_EUNAVAIL, "", "the reports connection is down; retry shortly");
    }
    return CD_OK;
}

/* ------------------------------------------------------------------ demographics */

typedef struct s_demo {
    demographics_done_fn *cb;
    void *arg;
} s_demo_t;

static void s_on_demographics(pgc_job_t *job, bool ok, bool lost, const char *error, void *arg)
{
    s_demo_t *dm = arg;
    PGresult *res = pgc_job_result(job, 0);
    if (!ok || !res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        cd_error_t err;
        s_job_error(job, lost, error, &err);
        dm->cb(dm->arg, NULL, &err);
    } else {
        /* The answer recorded for this request id, committed (the Sync ended the job). */
        report_demographics_t d;
        cd_copy(d.call_id, sizeof d.call_id, PQgetvalue(res, 0, 0));
        cd_copy(d.race_ethnicity, sizeof d.race_ethnicity, PQgetvalue(res, 0, 1));
        cd_copy(d.age_band, sizeof d.age_band, PQgetvalue(res, 0, 2));
        cd_copy(d.gender, sizeof d.gender, PQgetvalue(res, 0, 3));
        dm->cb(dm->arg, &d, NULL);
    }
    free(dm);
}

int reports_set_demographics(reports_t *self, const char *request_id,
                             const report_demographics_t *d, const char *actor,
                             demographics_done_fn *cb, void *arg, cd_error_t *err)
{
    int rc = s_can_submit(self, err);
    if (rc)
        return rc;
    s_demo_t *dm = cd_xcalloc(1, sizeof *dm);
    dm->cb = cb;
    dm->arg = arg;
    pgc_job_t *job = pgc_job_new(s_on_demographics, dm);
    const char *params[] = {request_id,
                            d->call_id,
                            *d->race_ethnicity ? d->race_ethnicity : "not_asked",
                            *d->age_band ? d->age_band : "not_asked",
                            *d->gender ? d->gender : "not_asked",
                            actor};
    pgc_job_add(job, "SELECT * FROM set_call_demographics($1, $2, $3, $4, $5, $6)", 6, params);
    if (pgc_submit(self->pg, job) != 0) {
        free(dm);
        return cd_error_set(err, CD_EUNAVAIL, "", "the reports connection is down; retry shortly");
    }
    return CD_OK;
}

/* ------------------------------------------------------------------ output */

static void s_csv_field(char **buf, size_t *len, size_t *cap, const char *s)
{
    bool quote = strpbrk(s, ",\"\n\r") != NULL;
    size_t need = strlen(s) * 2 + 4;
    if (*len + need >= *cap) {
        *cap = (*cap + need) * 2;
        *buf = cd_xrealloc(*buf, *cap);
    }
    char *p = *buf + *len;
    if (quote)
        *p++ = '"';
    for (; *s; s++) {
        if (*s == '"')
            *p++ = '"';
        *p++ = *s;
    }
    if (quote)
        *p++ = '"';
    *len = (size_t)(p - *buf);
    (*buf)[*len] = '\0';
}

static void s_csv_char(char **buf, size_t *len, size_t *cap, char c)
{
    if (*len + 2 >= *cap) {
        *cap = *cap * 2 + 16;
        *buf = cd_xrealloc(*buf, *cap);
    }
    (*buf)[(*len)++] = c;
    (*buf)[*len] = '\0';
}

char *report_table_csv(const report_table_t *t)
{
    size_t cap = 256, len = 0;
    char *buf = cd_xmalloc(cap);
    buf[0] = '\0';
    for (int c = 0; c < t->ncols; c++) {
        if (c)
            s_csv_char(&buf, &len, &cap, ',');
        s_csv_field(&buf, &len, &cap, t->columns[c]);
    }
    s_csv_char(&buf, &len, &cap, '\n');
    for (int r = 0; r < t->nrows; r++) {
        for (int c = 0; c < t->ncols; c++) {
            size_t i = (size_t)r * (size_t)t->ncols + (size_t)c;
            if (c)
                s_csv_char(&buf, &len, &cap, ',');
            const char *v = t->suppressed[i] ? "suppressed" : t->cells[i] ? t->cells[i] : "";
            if (t->cells[i] && t->types[c] == REPORT_BOOL)
                v = strcmp(t->cells[i], "t") == 0 ? "true" : "false";
            s_csv_field(&buf, &len, &cap, v);
        }
        s_csv_char(&buf, &len, &cap, '\n');
    }
    return buf;
}

char *report_table_json(const report_table_t *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", t->kind);
    cJSON_AddStringToObject(o, "by", t->by);
    cJSON_AddStringToObject(o, "from", t->from);
    cJSON_AddStringToObject(o, "to", t->to);
    cJSON_AddNumberToObject(o, "min_cell", REPORTS_MIN_CELL);
    cJSON *cols = cJSON_AddArrayToObject(o, "columns");
    cJSON *types = cJSON_AddArrayToObject(o, "types");
    for (int c = 0; c < t->ncols; c++) {
        cJSON_AddItemToArray(cols, cJSON_CreateString(t->columns[c]));
        cJSON_AddItemToArray(types, cJSON_CreateString(t->types[c] == REPORT_NUMBER ? "number"
                                                       : t->types[c] == REPORT_BOOL ? "bool"
                                                                                    : "text"));
    }
    cJSON *rows = cJSON_AddArrayToObject(o, "rows");
    cJSON *sup = cJSON_AddArrayToObject(o, "suppressed");
    for (int r = 0; r < t->nrows; r++) {
        cJSON *row = cJSON_CreateArray(), *srow = cJSON_CreateArray();
        for (int c = 0; c < t->ncols; c++) {
            size_t i = (size_t)r * (size_t)t->ncols + (size_t)c;
            const char *v = t->cells[i];
            cJSON *cell;
            if (!v)
                cell = cJSON_CreateNull();
            else if (t->types[c] == REPORT_NUMBER)
                cell = cJSON_CreateNumber(strtod(v, NULL));
            else if (t->types[c] == REPORT_BOOL)
                cell = cJSON_CreateBool(strcmp(v, "t") == 0);
            else
                cell = cJSON_CreateString(v);
            cJSON_AddItemToArray(row, cell);
            cJSON_AddItemToArray(srow, cJSON_CreateBool(t->suppressed[i]));
        }
        cJSON_AddItemToArray(rows, row);
        cJSON_AddItemToArray(sup, srow);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!text)
        abort();
    return text;
}
