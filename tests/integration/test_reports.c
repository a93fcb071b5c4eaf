/* Integration: programme reports against a real PostgreSQL and the real server.
 *
 * The data is the day of tests/integration/reports_fixture.sql (loaded while the server is
 * stopped), plus caller demographics set through the control socket, so every figure below is
 * known by construction (the fixture's header says how).  Checked: every cell of every report
 * (including suppressed cells and the complementary suppression), a known disparity ratio, the
 * CLI's table/CSV/JSON, the export (no PII, paging, locations only when asked), the HTTP API,
 * bad input naming the field, SetDemographics exactly once, demographics never in the live
 * views, and that reports run on their own connection: while they are blocked in PostgreSQL,
 * commands still commit, and the bounded queue answers BUSY. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <zmq.h>

#include "harness.h"

#define DAY "2026-10-05"
#define S   "<S>" /* a suppressed cell */
#define NUL "-"   /* a cell without a value */

static harness_t *h;

static void s_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        ck_abort_msg("SQL failed: %s", PQresultErrorMessage(r));
    PQclear(r);
}

static char *s_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static Codispatch__V1__Envelope *s_demographics(const char *rid, const char *call_id,
                                                const char *race, const char *age,
                                                const char *gender)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SetDemographics m = CODISPATCH__V1__SET_DEMOGRAPHICS__INIT;
    m.call_id = (char *)call_id;
    m.race_ethnicity = (char *)race;
    m.age_band = (char *)age;
    m.gender = (char *)gender;
    req.has_version = true;
    req.version = 1;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS;
    req.set_demographics = &m;
    Codispatch__V1__Envelope *r = harness_call(h, &req, 10000);
    ck_assert_ptr_nonnull(r);
    return r;
}

static void suite_setup(void)
{
    h = harness_new();
    /* The first start applies the migrations; the fixture goes in while the server is down
     * (its units and events must be there when the server loads its state). */
    ck_assert_int_eq(harness_start_server(h), 0);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    PGconn *c = PQconnectdb(harness_conninfo(h));
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    char *sql = s_read_file(CODISPATCH_SOURCE_DIR "/tests/integration/reports_fixture.sql");
    s_exec(c, sql);
    free(sql);
    /* Dates and hours are in the database's TimeZone; the fixture's day is in UTC. */
    s_exec(c, "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', "
              "current_database(), 'UTC'); END $$");
    PQfinish(c);
    ck_assert_int_eq(harness_start_server(h), 0);

    /* Demographics through the command, as dispatchers set them: SPA 4 hispanic_latino,
     * SPA 6 black, three SPA 1 callers declined; the other 17 calls were not asked. */
    for (int i = 1; i <= 20; i++) {
        char rid[32], id[16];
        const int areas[2] = {100, 200};
        const char *race[2] = {"hispanic_latino", "black"};
        for (int a = 0; a < 2; a++) {
            snprintf(id, sizeof id, "R-%d", areas[a] + i);
            snprintf(rid, sizeof rid, "demo-%s", id);
            Codispatch__V1__Envelope *r = s_demographics(rid, id, race[a], "25_34", NULL);
            ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS);
            cdc_envelope_free(r);
        }
    }
    for (int i = 1; i <= 3; i++) {
        char rid[32], id[16];
        snprintf(id, sizeof id, "R-%d", 300 + i);
        snprintf(rid, sizeof rid, "demo-%s", id);
        Codispatch__V1__Envelope *r = s_demographics(rid, id, "declined", "declined", "declined");
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS);
        cdc_envelope_free(r);
    }
}

static void suite_teardown(void)
{
    harness_ensure_up(h);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

/* ------------------------------------------------------------------ helpers */

static Codispatch__V1__Envelope *s_report(const char *kind, const char *from, const char *to,
                                          const char *by)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ReportRequest m = CODISPATCH__V1__REPORT_REQUEST__INIT;
    m.kind = (char *)kind;
    m.from = (char *)from;
    m.to = (char *)to;
    m.by = (char *)by;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REPORT;
    req.report = &m;
    return harness_send(h, &req);
}

/* Checks a report cell by cell: columns, then rows of cells ("<S>" suppressed, "-" none). */
static void s_expect(const char *kind, const char *by, const char *const *columns, int ncols,
                     const char *const *cells, int nrows)
{
    Codispatch__V1__Envelope *r = s_report(kind, DAY, DAY, by);
    ck_assert_msg(r->body_case == CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY, "%s by %s: %s", kind,
                  by,
                  r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR ? r->error->message : "?");
    const Codispatch__V1__ReportReply *rep = r->report_reply;
    ck_assert_str_eq(rep->kind, kind);
    ck_assert_str_eq(rep->by, by);
    ck_assert_str_eq(rep->from, DAY "T00:00:00+00");
    ck_assert_str_eq(rep->to, "2026-10-06T00:00:00+00");
    ck_assert_uint_eq(rep->min_cell, 11);
    ck_assert_uint_eq(rep->n_columns, (size_t)ncols);
    for (int c = 0; c < ncols; c++)
        ck_assert_str_eq(rep->columns[c], columns[c]);
    ck_assert_msg(rep->n_rows == (size_t)nrows, "%s by %s: %zu rows, expected %d", kind, by,
                  rep->n_rows, nrows);
    for (int i = 0; i < nrows; i++) {
        ck_assert_uint_eq(rep->rows[i]->n_cells, (size_t)ncols);
        for (int c = 0; c < ncols; c++) {
            const Codispatch__V1__ReportCell *cell = rep->rows[i]->cells[c];
            const char *want = cells[i * ncols + c];
            const char *got = cell->has_suppressed && cell->suppressed ? S
                              : cell->value                            ? cell->value
                                                                       : NUL;
            ck_assert_msg(strcmp(got, want) == 0, "%s by %s, row %d (%s), %s: got %s, want %s",
                          kind, by, i, cells[i * ncols], columns[c], got, want);
        }
    }
    cdc_envelope_free(r);
}

static int s_cli(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --server %s %s 2>&1", harness_bin("codispatch"),
             harness_control(h), args);
    return harness_sh(cmd, out);
}

/* ------------------------------------------------------------------ every figure */

START_TEST(response_by_area_and_priority)
{
    const char *cols[] = {
        "grp",       "calls",     "dispatched",     "on_scene",       "queue_p50_s",  "queue_p90_s",
        "ack_p50_s", "ack_p90_s", "response_p50_s", "response_p90_s", "within_target"};
    /* SPA 8 has 8 calls (primary suppression); SPA 1, the smallest other group, is hidden
     * with it so that neither can be had from the total by subtraction. */
    const char *area[] = {
        "SPA 1", S,    S,    S,    S,     S,     S,    S,    S,      S,      S,
        "SPA 4", "20", "20", "20", "60",  "60",  "30", "30", "600",  "840",  "1",
        "SPA 6", "20", "20", "20", "120", "120", "60", "60", "1200", "1200", "1",
        "SPA 8", S,    S,    S,    S,     S,     S,    S,    S,      S,      S,
        "(all)", "60", "52", "52", "120", "300", "60", "60", "1200", "3000", "0.7692",
    };
    s_expect("response", "area", cols, 11, area, 5);
    const char *prio[] = {
        "P2",    "40", "40", "40", "60",  "120", "30", "60", "900",  "1200", "1",
        "P3",    "20", "12", "12", "300", "300", "60", "60", "3000", "3000", "0",
        "(all)", "60", "52", "52", "120", "300", "60", "60", "1200", "3000", "0.7692",
    };
    s_expect("response", "priority", cols, 11, prio, 3);
}
END_TEST

START_TEST(diversion_by_area)
{
    const char *cols[] = {"grp",
                          "calls",
                          "no_police",
                          "closed",
                          "resolved_on_scene",
                          "transported_voluntary",
                          "transported_involuntary",
                          "referred",
                          "police_requested",
                          "no_contact",
                          "duplicate"};
    const char *rows[] = {
        "SPA 1", S,    S,        S,    S,        S,   S,        S,     S,        S,        S,
        "SPA 4", "20", "0.9",    "20", "0.95",   "0", "0.05",   "0",   "0",      "0",      "0",
        "SPA 6", "20", "0.6",    "20", "0.8",    "0", "0.15",   "0",   "0.05",   "0",      "0",
        "SPA 8", S,    S,        S,    S,        S,   S,        S,     S,        S,        S,
        "(all)", "60", "0.8333", "60", "0.5833", "0", "0.0667", "0.2", "0.0167", "0.1333", "0",
    };
    s_expect("diversion", "area", cols, 11, rows, 5);
}
END_TEST

START_TEST(language_by_language)
{
    const char *cols[] = {
        "grp",      "calls", "served_in_language", "response_served_p50_s", "response_other_p50_s",
        "extra_min"};
    /* es: 18 calls, 8 served by MH-1 (speaks es) at 390..600 s (mean 495), 2 by a patrol at
     * 330 and 360 (mean 345): the match cost 150 s = 2.5 min.  ko: nobody speaks it. */
    // clang-format off
    const char *rows[] = {
        "es",    "18", "0.4444", "480", "330",  "2.5",
        "ko",    "12", "0",      NUL,   "1200", NUL,
        "(all)", "30", "0.2667", "480", "1200", "-9.71",
    };
    // clang-format on
    s_expect("language", "language", cols, 6, rows, 3);
}
END_TEST

START_TEST(equity_known_disparity)
{
    const char *cols[] = {"grp",          "calls",        "response_p90_s",    "response_p90_ratio",
                          "police_share", "police_ratio", "involuntary_share", "involuntary_ratio"};
    /* Overall: p90 3000 s, police 10/60, involuntary 4/60.  SPA 6: police 8/20 = 0.4, so its
     * police ratio is 0.4 / (1/6) = 2.4 — the known disparity. */
    // clang-format off
    const char *area[] = {
        "SPA 1", S,    S,      S,      S,        S,     S,        S,
        "SPA 4", "20", "840",  "0.28", "0.1",    "0.6", "0.05",   "0.75",
        "SPA 6", "20", "1200", "0.4",  "0.4",    "2.4", "0.15",   "2.25",
        "SPA 8", S,    S,      S,      S,        S,     S,        S,
        "(all)", "60", "3000", "1",    "0.1667", "1",   "0.0667", "1",
    };
    // clang-format on
    s_expect("equity", "area", cols, 8, area, 5);
    /* By race/ethnicity, from the demographics set by command: declined (3) is suppressed,
     * and not_asked (17) with it. */
    const char *race[] = {
        "black",           "20", "1200", "0.4",  "0.4",    "2.4", "0.15",   "2.25",
        "declined",        S,    S,      S,      S,        S,     S,        S,
        "hispanic_latino", "20", "840",  "0.28", "0.1",    "0.6", "0.05",   "0.75",
        "not_asked",       S,    S,      S,      S,        S,     S,        S,
        "(all)",           "60", "3000", "1",    "0.1667", "1",   "0.0667", "1",
    };
    s_expect("equity", "race_ethnicity", cols, 8, race, 5);
}
END_TEST

START_TEST(staffing_by_type_and_area)
{
    const char *cols[] = {"grp",   "units",  "available_h", "busy_h",        "busy_share",
                          "calls", "waited", "waited_min",  "waited_p90_min"};
    /* Unit-hours are never suppressed (they count no callers); patrol (10 calls) and sober
     * (8, the calls that waited for a sober unit) are. */
    /* busy_share comes before calls: sober's is no value (no unit-hours), not suppressed. */
    const char *type[] = {
        "mh_team",         "1", "18", "2", "0.1",    "30", "0", NUL,   NUL,
        "patrol",          "1", "11", "1", "0.0833", S,    S,   S,     S,
        "sober",           "0", "0",  "0", NUL,      S,    S,   S,     S,
        "therapeutic_van", "1", "8",  "0", "0",      "12", "0", NUL,   NUL,
        "(all)",           "3", "37", "3", "0.075",  "60", "8", "120", "15",
    };
    s_expect("staffing", "type", cols, 9, type, 5);
    // clang-format off
    const char *area[] = {
        "SPA 1", "1", "8",  "0", "0",      S,    S,   S,     S,
        "SPA 4", "1", "18", "2", "0.1",    "20", "0", NUL,   NUL,
        "SPA 6", "1", "11", "1", "0.0833", "20", "0", NUL,   NUL,
        "SPA 8", "0", "0",  "0", NUL,      S,    S,   S,     S,
        "(all)", "3", "37", "3", "0.075",  "60", "8", "120", "15",
    };
    // clang-format on
    s_expect("staffing", "area", cols, 9, area, 5);

    /* By hour of the day: each interval is cut at the hour.  No hour has 11 calls, so every
     * hour's call figures are suppressed; the unit-hours follow the fixture's timeline. */
    static const int units[24] = {2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3,
                                  3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    static const int avail[24] = {1, 1, 1, 1, 1, 1, 2, 2, 1, 1, 2, 2,
                                  1, 2, 2, 2, 3, 3, 2, 2, 1, 1, 1, 1};
    static const int busy[24] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0,
                                 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static char text[24][4][8];
    const char *hour[25 * 9];
    for (int i = 0; i < 24; i++) {
        snprintf(text[i][0], sizeof text[i][0], "%02d", i);
        snprintf(text[i][1], sizeof text[i][1], "%d", units[i]);
        snprintf(text[i][2], sizeof text[i][2], "%d", avail[i]);
        snprintf(text[i][3], sizeof text[i][3], "%d", busy[i]);
        const char *row[9] = {text[i][0], text[i][1], text[i][2], text[i][3], busy[i] ? "0.5" : "0",
                              S,          S,          S,          S};
        memcpy(&hour[i * 9], row, sizeof row);
    }
    const char *total[9] = {"(all)", "3", "37", "3", "0.075", "60", "8", "120", "15"};
    memcpy(&hour[24 * 9], total, sizeof total);
    s_expect("staffing", "hour", cols, 9, hour, 25);
}
END_TEST

/* A timestamp range: 08:00 to 12:00 UTC holds exactly the 20 calls of SPA 4. */
START_TEST(timestamp_bounds)
{
    Codispatch__V1__Envelope *r =
        s_report("response", DAY "T08:00:00Z", DAY "T12:00:00+00:00", "area");
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY);
    const Codispatch__V1__ReportReply *rep = r->report_reply;
    ck_assert_uint_eq(rep->n_rows, 2);
    ck_assert_str_eq(rep->rows[0]->cells[0]->value, "SPA 4");
    ck_assert_str_eq(rep->rows[0]->cells[1]->value, "20");
    ck_assert_str_eq(rep->rows[1]->cells[0]->value, "(all)");
    ck_assert_str_eq(rep->rows[1]->cells[1]->value, "20");
    ck_assert_str_eq(rep->from, DAY "T08:00:00+00");
    ck_assert_str_eq(rep->to, DAY "T12:00:00+00");
    cdc_envelope_free(r);
}
END_TEST

/* ------------------------------------------------------------------ CLI */

START_TEST(cli_formats)
{
    char *out;
    ck_assert_int_eq(s_cli("report equity --from " DAY " --to " DAY " --format csv", &out), 0);
    ck_assert_str_eq(out, "grp,calls,response_p90_s,response_p90_ratio,police_share,police_ratio,"
                          "involuntary_share,involuntary_ratio\n"
                          "SPA 1,suppressed,suppressed,suppressed,suppressed,suppressed,suppressed,"
                          "suppressed\n"
                          "SPA 4,20,840,0.28,0.1,0.6,0.05,0.75\n"
                          "SPA 6,20,1200,0.4,0.4,2.4,0.15,2.25\n"
                          "SPA 8,suppressed,suppressed,suppressed,suppressed,suppressed,suppressed,"
                          "suppressed\n"
                          "(all),60,3000,1,0.1667,1,0.0667,1\n");
    free(out);

    ck_assert_int_eq(s_cli("report response --from " DAY " --to " DAY, &out), 0);
    ck_assert_ptr_nonnull(
        strstr(out, "response by area, " DAY "T00:00:00+00 to 2026-10-06T00:00:00+00\n"));
    ck_assert_ptr_nonnull(strstr(out, "grp   calls dispatched on_scene"));
    ck_assert_ptr_nonnull(strstr(out, "SPA 1  supp"));
    ck_assert_ptr_nonnull(strstr(out, "supp: suppressed"));
    free(out);

    ck_assert_int_eq(
        s_cli("report staffing --from " DAY " --to " DAY " --by type --format json", &out), 0);
    cJSON *j = cJSON_Parse(out);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "staffing");
    const cJSON *rows = cJSON_GetObjectItem(j, "rows");
    ck_assert_int_eq(cJSON_GetArraySize(rows), 5);
    const cJSON *patrol = cJSON_GetArrayItem(rows, 1);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(patrol, "grp")), "patrol");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(patrol, "suppressed")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(patrol, "calls")));
    ck_assert_double_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(patrol, "available_h")), 11);
    const cJSON *all = cJSON_GetArrayItem(rows, 4);
    ck_assert_double_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(all, "waited_min")), 120);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(all, "suppressed")));
    cJSON_Delete(j);
    free(out);

    /* --json is the same as --format json. */
    ck_assert_int_eq(s_cli("--json report language --from " DAY " --to " DAY, &out), 0);
    j = cJSON_Parse(out);
    ck_assert_ptr_nonnull(j);
    ck_assert_double_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(
                            cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0), "extra_min")),
                        2.5);
    cJSON_Delete(j);
    free(out);
}
END_TEST

START_TEST(cli_bad_input)
{
    char *out;
    ck_assert_int_eq(s_cli("report equity --to " DAY, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--from is required"));
    free(out);
    ck_assert_int_eq(s_cli("report equity --from " DAY " --to " DAY " --format xml", &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--format must be table, csv or json"));
    free(out);
    ck_assert_int_eq(s_cli("report", &out), 2);
    free(out);
    ck_assert_int_eq(s_cli("report bogus --from " DAY " --to " DAY, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "kind must be one of"));
    free(out);
    ck_assert_int_eq(s_cli("report equity --from 05/10/2026 --to " DAY, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "from must be a date"));
    free(out);
    ck_assert_int_eq(s_cli("report staffing --from " DAY " --to " DAY " --by race_ethnicity", &out),
                     1);
    ck_assert_ptr_nonnull(strstr(out, "by must be one of type, area, hour"));
    free(out);
    ck_assert_int_eq(s_cli("export calls --from " DAY, &out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--to is required"));
    free(out);
    ck_assert_int_eq(s_cli("export units --from " DAY " --to " DAY, &out), 2);
    free(out);
    ck_assert_int_eq(s_cli("export calls --from " DAY " --to " DAY " --format xml", &out), 2);
    free(out);
    ck_assert_int_eq(s_cli("demographics R-101 --race-ethnicity purple", &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "race_ethnicity 'purple' is not one of"));
    free(out);
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "%s --server tcp://127.0.0.1:1 --timeout 300 report equity --from " DAY " --to " DAY
             " 2>&1",
             harness_bin("codispatch"));
    ck_assert_int_eq(harness_sh(cmd, &out), 3);
    free(out);
}
END_TEST

/* ------------------------------------------------------------------ export */

static int s_count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

START_TEST(export_calls)
{
    char *out;
    ck_assert_int_eq(s_cli("export calls --from " DAY " --to " DAY, &out), 0);
    ck_assert_int_eq(s_count_lines(out), 61);
    ck_assert_int_eq(strncmp(out,
                             "call_id,created_at,type,priority,area,language,risk_flags,status,"
                             "disposition,closed_at,queue_wait_s,ack_s,response_s,target_s,"
                             "unit_types,police,served_in_language\n",
                             strlen("call_id,created_at,")),
                     0);
    ck_assert_ptr_nonnull(strstr(out, "R-101,2026-10-05T08:10:00Z,mental_health,2,SPA 4,es,,"
                                      "closed,transported_involuntary,2026-10-05T09:10:00Z,60,30,"
                                      "330,1200,patrol,true,false\n"));
    /* No caller name, callback, position or demographics. */
    ck_assert_ptr_null(strstr(out, "Caller"));
    ck_assert_ptr_null(strstr(out, "555-01"));
    ck_assert_ptr_null(strstr(out, "lat"));
    ck_assert_ptr_null(strstr(out, "34.01"));
    ck_assert_ptr_null(strstr(out, "hispanic"));
    free(out);

    ck_assert_int_eq(
        s_cli("export calls --from " DAY " --to " DAY " --format jsonl --with-locations", &out), 0);
    ck_assert_int_eq(s_count_lines(out), 60);
    cJSON *first = cJSON_ParseWithLength(out, strcspn(out, "\n"));
    ck_assert_ptr_nonnull(first);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(first, "call_id")), "R-101");
    ck_assert_double_eq_tol(cJSON_GetNumberValue(cJSON_GetObjectItem(first, "lat")), 34.01, 1e-9);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(first, "police")));
    ck_assert_ptr_null(cJSON_GetObjectItem(first, "caller_name"));
    cJSON_Delete(first);
    ck_assert_ptr_null(strstr(out, "Caller"));
    free(out);

    /* Paging through the protocol: 25 + 25 + 10, each call once. */
    uint64_t after = 0;
    int total = 0, pages = 0;
    for (;;) {
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__ExportCalls m = CODISPATCH__V1__EXPORT_CALLS__INIT;
        m.from = DAY;
        m.to = DAY;
        m.has_after = m.has_limit = true;
        m.after = after;
        m.limit = 25;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS;
        req.export_calls = &m;
        Codispatch__V1__Envelope *r = harness_send(h, &req);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY);
        total += (int)r->report_reply->n_rows;
        pages++;
        bool more = r->report_reply->has_next_after;
        after = r->report_reply->next_after;
        cdc_envelope_free(r);
        if (!more)
            break;
        ck_assert_int_lt(pages, 5);
    }
    ck_assert_int_eq(pages, 3);
    ck_assert_int_eq(total, 60);
}
END_TEST

/* ------------------------------------------------------------------ protocol refusals */

static void s_refused(Codispatch__V1__Envelope *r, int code, const char *field)
{
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_ERROR);
    ck_assert_int_eq(r->error->code, code);
    ck_assert_str_eq(r->error->field ? r->error->field : "", field);
    ck_assert(r->error->message && strlen(r->error->message) > 10);
    cdc_envelope_free(r);
}

START_TEST(bad_report_requests_name_the_field)
{
    s_refused(s_report("bogus", DAY, DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "kind");
    s_refused(s_report(NULL, DAY, DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "kind");
    s_refused(s_report("equity", DAY, DAY, "zzz"), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "by");
    s_refused(s_report("staffing", DAY, DAY, "race_ethnicity"),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "by");
    /* Demographics over whole days only (no isolating one caller by narrowing the range); the
     * timestamp and the truncated time are refused too, without reading past the text. */
    s_refused(s_report("equity", DAY "T08:00:00Z", DAY, "race_ethnicity"),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "from");
    s_refused(s_report("equity", DAY, DAY "T08:00:01Z", "race_ethnicity"),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "to");
    s_refused(s_report("equity", DAY "T08:00:", DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT,
              "from");
    s_refused(s_report("equity", DAY "T08:00:5", DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT,
              "from");
    s_refused(s_report("equity", NULL, DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "from");
    s_refused(s_report("equity", "2026-13-01", DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT,
              "from");
    s_refused(s_report("equity", "2026-02-30", DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT,
              "from");
    s_refused(s_report("equity", DAY "T08:00:00", DAY, NULL),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "from"); /* no zone */
    s_refused(s_report("equity", DAY, NULL, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "to");
    s_refused(s_report("equity", DAY, "2026-10-04", NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT,
              "to");
    s_refused(s_report("equity", "2020-01-01", DAY, NULL), CODISPATCH__V1__CODE__INVALID_ARGUMENT,
              "to"); /* too long a range */
    s_refused(s_report("equity", "'; DROP TABLE calls; --", DAY, NULL),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "from");

    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ExportCalls m = CODISPATCH__V1__EXPORT_CALLS__INIT;
    m.from = DAY;
    m.to = DAY;
    m.has_limit = true;
    m.limit = 5000;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS;
    req.export_calls = &m;
    s_refused(harness_send(h, &req), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "limit");
}
END_TEST

/* ------------------------------------------------------------------ demographics */

START_TEST(demographics_exactly_once_and_refusals)
{
    /* A retry with the same request id: the same answer, one row. */
    for (int i = 0; i < 2; i++) {
        Codispatch__V1__Envelope *r =
            s_demographics("demo-once", "R-401", "asian", "65_plus", "female");
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS);
        ck_assert_str_eq(r->request_id, "demo-once");
        ck_assert_str_eq(r->demographics->call_id, "R-401");
        ck_assert_str_eq(r->demographics->race_ethnicity, "asian");
        ck_assert_str_eq(r->demographics->age_band, "65_plus");
        ck_assert_str_eq(r->demographics->gender, "female");
        cdc_envelope_free(r);
    }
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM demographics_requests "
                                          "WHERE request_id = 'demo-once'"),
                     1);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM call_demographics "
                                          "WHERE call_id = 'R-401' AND race_ethnicity = 'asian'"),
                     1);
    /* Durable when answered: the row is there for any other connection to read. */
    /* Absent fields are not_asked; declined and unknown are answers of their own. */
    Codispatch__V1__Envelope *r = s_demographics("demo-unknown", "R-402", "unknown", NULL, NULL);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS);
    ck_assert_str_eq(r->demographics->race_ethnicity, "unknown");
    ck_assert_str_eq(r->demographics->age_band, "not_asked");
    cdc_envelope_free(r);

    /* The same request id for other content, or one a command already used: CONFLICT. */
    s_refused(s_demographics("demo-once", "R-401", "white", NULL, NULL),
              CODISPATCH__V1__CODE__CONFLICT, "request_id");
    Codispatch__V1__Envelope *cc =
        harness_create_call(h, "demo-used-by-create", "other", 4, 34, -118);
    ck_assert_int_eq(cc->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(cc);
    s_refused(s_demographics("demo-used-by-create", "R-401", "white", NULL, NULL),
              CODISPATCH__V1__CODE__CONFLICT, "request_id");

    s_refused(s_demographics("demo-nf", "R-999", "white", NULL, NULL),
              CODISPATCH__V1__CODE__NOT_FOUND, "call_id");
    s_refused(s_demographics("demo-b1", "R-401", "purple", NULL, NULL),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "race_ethnicity");
    s_refused(s_demographics("demo-b2", "R-401", NULL, "old", NULL),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "age_band");
    s_refused(s_demographics("demo-b3", "R-401", NULL, NULL, "x"),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "gender");
    s_refused(s_demographics("demo-b4", NULL, "white", NULL, NULL),
              CODISPATCH__V1__CODE__INVALID_ARGUMENT, "call_id");
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM demographics_requests "
                                          "WHERE request_id LIKE 'demo-b%' OR request_id = "
                                          "'demo-nf'"),
                     0);

    /* The other way round: a command may not take a SetDemographics request id, before or
     * after a restart (the ids are loaded with the state), while a refused SetDemographics
     * leaves its id free. */
    cc = harness_create_call(h, "demo-nf", "other", 4, 34, -118);
    ck_assert_int_eq(cc->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(cc);
    for (int round = 0; round < 2; round++) {
        cc = harness_create_call(h, "demo-once", "other", 4, 34, -118);
        ck_assert_int_eq(cc->body_case, CODISPATCH__V1__ENVELOPE__BODY_ERROR);
        ck_assert_int_eq(cc->error->code, CODISPATCH__V1__CODE__CONFLICT);
        ck_assert_str_eq(cc->error->field, "request_id");
        ck_assert_ptr_nonnull(strstr(cc->error->message, "set_demographics"));
        cdc_envelope_free(cc);
        if (round == 0) {
            ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
            ck_assert_int_eq(harness_start_server(h), 0);
        }
    }
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events "
                                          "WHERE request_id = 'demo-once'"),
                     0);

    /* Tablets cannot set them: the units socket refuses dispatcher requests. */
    {
        void *ctx = zmq_ctx_new();
        void *sock = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
        ck_assert_int_eq(zmq_connect(sock, harness_units(h)), 0);
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__SetDemographics m = CODISPATCH__V1__SET_DEMOGRAPHICS__INIT;
        m.call_id = "R-404";
        m.race_ethnicity = "white";
        req.has_version = true;
        req.version = 1;
        req.request_id = "demo-from-tablet";
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS;
        req.set_demographics = &m;
        uint8_t buf[256];
        size_t len = codispatch__v1__envelope__pack(&req, buf);
        ck_assert_int_ge(zmq_send(sock, buf, len, 0), 0);
        zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
        ck_assert_int_eq(zmq_poll(&it, 1, 10000), 1);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        ck_assert_int_ge(zmq_msg_recv(&msg, sock, 0), 0);
        Codispatch__V1__Envelope *t =
            codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->body_case, CODISPATCH__V1__ENVELOPE__BODY_ERROR);
        codispatch__v1__envelope__free_unpacked(t, NULL);
        zmq_close(sock);
        zmq_ctx_term(ctx);
        ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM call_demographics "
                                              "WHERE call_id = 'R-404'"),
                         0);
    }

    /* The CLI sets them too. */
    char *out;
    ck_assert_int_eq(s_cli("demographics R-403 --race-ethnicity declined --gender nonbinary", &out),
                     0);
    ck_assert_str_eq(out, "R-403 race_ethnicity=declined age_band=not_asked gender=nonbinary\n");
    free(out);
}
END_TEST

/* Demographics are read by the aggregate reports only: not in a call, the snapshot, the
 * dashboard's API or the export. */
START_TEST(demographics_never_in_live_views)
{
    char *body;
    ck_assert_int_eq(harness_http_get(h, "/api/snapshot", &body), 200);
    ck_assert_ptr_null(strstr(body, "race"));
    ck_assert_ptr_null(strstr(body, "hispanic"));
    ck_assert_ptr_null(strstr(body, "25_34"));
    free(body);
    char *out;
    ck_assert_int_eq(s_cli("--json call get R-201", &out), 0);
    ck_assert_ptr_null(strstr(out, "black"));
    ck_assert_ptr_null(strstr(out, "race"));
    free(out);
    ck_assert_int_eq(s_cli("--json call list --limit 100", &out), 0);
    ck_assert_ptr_null(strstr(out, "hispanic"));
    free(out);
}
END_TEST

/* ------------------------------------------------------------------ HTTP */

START_TEST(http_api_and_page)
{
    char *body;
    ck_assert_int_eq(
        harness_http_get(h, "/api/reports/equity?from=" DAY "&to=" DAY "&by=area", &body), 200);
    cJSON *j = cJSON_Parse(body);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "equity");
    ck_assert_int_eq(cJSON_GetNumberValue(cJSON_GetObjectItem(j, "min_cell")), 11);
    const cJSON *rows = cJSON_GetObjectItem(j, "rows"), *sup = cJSON_GetObjectItem(j, "suppressed");
    ck_assert_int_eq(cJSON_GetArraySize(rows), 5);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 2), 0)),
                     "SPA 6");
    ck_assert_double_eq(cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 2), 5)),
                        2.4);
    ck_assert(cJSON_IsTrue(cJSON_GetArrayItem(cJSON_GetArrayItem(sup, 0), 1)));
    ck_assert(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(rows, 0), 1)));
    ck_assert(cJSON_IsFalse(cJSON_GetArrayItem(cJSON_GetArrayItem(sup, 0), 0)));
    cJSON_Delete(j);
    free(body);

    /* The CSV download is the CLI's CSV. */
    ck_assert_int_eq(
        harness_http_get(h, "/api/reports/equity?from=" DAY "&to=" DAY "&format=csv", &body), 200);
    char *out;
    ck_assert_int_eq(s_cli("report equity --from " DAY " --to " DAY " --format csv", &out), 0);
    ck_assert_str_eq(body, out);
    free(out);
    free(body);

    ck_assert_int_eq(
        harness_http_get(h, "/api/reports/equity?from=" DAY "&to=" DAY "&by=zzz", &body), 400);
    j = cJSON_Parse(body);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(j, "field")), "by");
    cJSON_Delete(j);
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/api/reports/equity?to=" DAY, &body), 400);
    ck_assert_ptr_nonnull(strstr(body, "\"field\":\"from\""));
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/api/reports/nope?from=" DAY "&to=" DAY, &body), 400);
    ck_assert_ptr_nonnull(strstr(body, "\"field\":\"kind\""));
    free(body);
    ck_assert_int_eq(
        harness_http_get(h, "/api/reports/equity?from=" DAY "&to=" DAY "&format=xml", &body), 400);
    ck_assert_ptr_nonnull(strstr(body, "\"field\":\"format\""));
    free(body);
    /* A parameter the API does not take is refused, not ignored (a typo must not look like
     * a report of everything); counted in /metrics without the peer's name. */
    double before = harness_scrape(
        h, "codispatch_refusals_total{socket=\"http\",code=\"INVALID_ARGUMENT\",field=\"query\"}");
    ck_assert_int_eq(
        harness_http_get(h, "/api/reports/equity?from=" DAY "&to=" DAY "&bye=area", &body), 400);
    ck_assert_ptr_nonnull(strstr(body, "\"field\":\"bye\""));
    free(body);
    ck_assert(harness_scrape(h, "codispatch_refusals_total{socket=\"http\",code=\"INVALID_"
                                "ARGUMENT\",field=\"query\"}") == before + 1);

    ck_assert_int_eq(harness_http_get(h, "/reports", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "reports.js"));
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/reports.js", &body), 200);
    free(body);
}
END_TEST

/* ------------------------------------------------------------------ the second connection */

static void s_send_raw(void *sock, const char *rid, const char *kind)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ReportRequest m = CODISPATCH__V1__REPORT_REQUEST__INIT;
    m.kind = (char *)kind;
    m.from = DAY;
    m.to = DAY;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REPORT;
    req.report = &m;
    ck_assert(harness_send_env(sock, &req, rid));
}

static Codispatch__V1__Envelope *s_recv_raw(void *sock, int timeout_ms)
{
    zmq_pollitem_t it = {.socket = sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&it, 1, timeout_ms) != 1)
        return NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    ck_assert_int_ge(zmq_msg_recv(&msg, sock, 0), 0);
    Codispatch__V1__Envelope *r =
        codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    ck_assert_ptr_nonnull(r);
    return r;
}

/* Reports blocked inside PostgreSQL (a test transaction locks call_demographics) do not hold
 * up commands, which commit on the store's own connection; past 8 waiting reports the answer
 * is BUSY at once; when the lock goes, every waiting report is answered, and one whose browser
 * left is dropped safely. */
START_TEST(reports_do_not_stall_commits_and_queue_is_bounded)
{
    PGconn *lock = PQconnectdb(harness_conninfo(h));
    ck_assert_int_eq(PQstatus(lock), CONNECTION_OK);
    s_exec(lock, "BEGIN");
    s_exec(lock, "LOCK TABLE call_demographics IN ACCESS EXCLUSIVE MODE");

    /* A browser asks for a report and goes away before it is answered: the answer, when it
     * comes, must find no session (AddressSanitizer would catch a use after free). */
    {
        int fd = harness_http_send(h,
                                   "GET /api/reports/equity?from=" DAY "&to=" DAY
                                   " HTTP/1.1\r\nHost: localhost\r\n\r\n",
                                   10);
        ck_assert_int_ge(fd, 0);
        usleep(300 * 1000); /* let the server read it and queue the report */
        close(fd);
    }

    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_connect(sock, harness_control(h)), 0);
    /* With the abandoned one, 8 reports wait: the queue is full. */
    for (int i = 0; i < 7; i++) {
        char rid[16];
        snprintf(rid, sizeof rid, "blocked-%d", i);
        s_send_raw(sock, rid, "equity");
    }
    s_send_raw(sock, "one-too-many", "response");
    Codispatch__V1__Envelope *busy = s_recv_raw(sock, 10000);
    ck_assert_ptr_nonnull(busy);
    ck_assert_str_eq(busy->request_id, "one-too-many");
    ck_assert_int_eq(busy->body_case, CODISPATCH__V1__ENVELOPE__BODY_ERROR);
    ck_assert_int_eq(busy->error->code, CODISPATCH__V1__CODE__BUSY);
    cdc_envelope_free(busy);

    /* Meanwhile commands commit. */
    for (int i = 0; i < 3; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "while-blocked-%d", i);
        Codispatch__V1__Envelope *c = harness_create_call(h, rid, "other", 4, 34, -118);
        ck_assert_int_eq(c->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        cdc_envelope_free(c);
    }
    /* ... and the reports are still waiting. */
    ck_assert_ptr_null(s_recv_raw(sock, 200));

    s_exec(lock, "ROLLBACK");
    PQfinish(lock);
    for (int i = 0; i < 7; i++) {
        Codispatch__V1__Envelope *r = s_recv_raw(sock, 30000);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY);
        ck_assert_uint_eq(r->report_reply->n_rows, 5);
        cdc_envelope_free(r);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    char *body;
    ck_assert_int_eq(harness_http_get(h, "/healthz", &body), 200);
    free(body);
    ck_assert(harness_server_running(h));
}
END_TEST

START_TEST(database_down_is_unavailable)
{
    ck_assert_int_eq(harness_stop_db(h), 0);
    Codispatch__V1__Envelope *r = s_report("equity", DAY, DAY, NULL);
    s_refused(r, CODISPATCH__V1__CODE__UNAVAILABLE, "");
    char *body;
    ck_assert_int_eq(harness_http_get(h, "/api/reports/equity?from=" DAY "&to=" DAY, &body), 503);
    free(body);
    ck_assert_int_eq(harness_start_db(h), 0);
    /* Both connections come back by themselves (bounded wait). */
    bool ok = false;
    for (int i = 0; i < 100 && !ok; i++) {
        r = s_report("equity", DAY, DAY, NULL);
        ok = r->body_case == CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY;
        cdc_envelope_free(r);
        if (!ok)
            usleep(200 * 1000);
    }
    ck_assert(ok);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reports");
    TCase *tc = tcase_create("reports");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, response_by_area_and_priority);
    tcase_add_test(tc, diversion_by_area);
    tcase_add_test(tc, language_by_language);
    tcase_add_test(tc, equity_known_disparity);
    tcase_add_test(tc, staffing_by_type_and_area);
    tcase_add_test(tc, timestamp_bounds);
    tcase_add_test(tc, cli_formats);
    tcase_add_test(tc, cli_bad_input);
    tcase_add_test(tc, export_calls);
    tcase_add_test(tc, bad_report_requests_name_the_field);
    tcase_add_test(tc, demographics_exactly_once_and_refusals);
    tcase_add_test(tc, demographics_never_in_live_views);
    tcase_add_test(tc, http_api_and_page);
    tcase_add_test(tc, reports_do_not_stall_commits_and_queue_is_bounded);
    tcase_add_test(tc, database_down_is_unavailable);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
