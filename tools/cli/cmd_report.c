/*  cmd_report.c — codispatch report | export calls | demographics
 *
 *  The server computes everything (SQL functions of migration 0003, on its reports
 *  connection); this file only asks and prints: a table, CSV or JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define N(a) CLI_N(a)

static const char *const USAGE_REPORT =
    "codispatch report response|diversion|language|equity|staffing --from DATE --to DATE\n"
    "           [--by area|type|priority|language|race_ethnicity|hour] [--format table|csv|json]\n"
    "       DATE: YYYY-MM-DD (--to: through the end of that day) or a timestamp with a zone,\n"
    "       e.g. 2026-10-05T08:00:00Z.  staffing: --by type|area|hour (type: the unit type)";
static const char *const USAGE_EXPORT =
    "codispatch export calls --from DATE --to DATE [--format csv|jsonl] [--with-locations]";
static const char *const USAGE_DEMO =
    "codispatch demographics CALL_ID [--race-ethnicity R] [--age-band A] [--gender G]\n"
    "           [--request-id ID]\n"
    "       R: hispanic_latino, white, black, asian, native_hawaiian_pacific_islander,\n"
    "          american_indian_alaska_native, multiracial, other\n"
    "       A: under_18, 18_24, 25_34, 35_44, 45_54, 55_64, 65_plus\n"
    "       G: female, male, transgender, nonbinary, another\n"
    "       each also unknown, declined or not_asked (the default)";

#define EXPORT_PAGE 500

static bool s_is(const Codispatch__V1__ReportReply *r, size_t c, const char *type)
{
    return c < r->n_types && strcmp(r->types[c], type) == 0;
}

/* A cell as JSON: null when absent (or suppressed), a number or bool by the column's type. */
static cJSON *s_cell_json(const Codispatch__V1__ReportReply *r, size_t c,
                          const Codispatch__V1__ReportCell *cell)
{
    if (!cell->value)
        return cJSON_CreateNull();
    if (s_is(r, c, "number"))
        return cJSON_CreateNumber(strtod(cell->value, NULL));
    if (s_is(r, c, "bool"))
        return cJSON_CreateBool(strcmp(cell->value, "t") == 0);
    return cJSON_CreateString(cell->value);
}

/* The text of a cell for a table or CSV. */
static const char *s_cell_text(const Codispatch__V1__ReportReply *r, size_t c,
                               const Codispatch__V1__ReportCell *cell, const char *suppressed,
                               const char *none)
{
    if (cell->has_suppressed && cell->suppressed)
        return suppressed;
    if (!cell->value)
        return none;
    if (s_is(r, c, "bool"))
        return strcmp(cell->value, "t") == 0 ? "true" : "false";
    return cell->value;
}

static void s_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* skip: a column left out (export without locations), or NULL. */
static void s_print_csv(const Codispatch__V1__ReportReply *r, bool header, const bool *skip)
{
    if (header) {
        bool first = true;
        for (size_t c = 0; c < r->n_columns; c++) {
            if (skip && skip[c])
                continue;
            if (!first)
                putchar(',');
            first = false;
            s_csv_field(stdout, r->columns[c]);
        }
        putchar('\n');
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        const Codispatch__V1__ReportRow *row = r->rows[i];
        bool first = true;
        for (size_t c = 0; c < r->n_columns && c < row->n_cells; c++) {
            if (skip && skip[c])
                continue;
            if (!first)
                putchar(',');
            first = false;
            s_csv_field(stdout, s_cell_text(r, c, row->cells[c], "suppressed", ""));
        }
        putchar('\n');
    }
}

static void s_print_table(const Codispatch__V1__ReportReply *r)
{
    size_t nc = r->n_columns;
    size_t *w = calloc(nc ? nc : 1, sizeof *w);
    bool any_sup = false;
    for (size_t c = 0; c < nc; c++)
        w[c] = strlen(r->columns[c]);
    for (size_t i = 0; i < r->n_rows; i++)
        for (size_t c = 0; c < nc && c < r->rows[i]->n_cells; c++) {
            size_t l = strlen(s_cell_text(r, c, r->rows[i]->cells[c], "supp", "-"));
            if (l > w[c])
                w[c] = l;
            if (r->rows[i]->cells[c]->has_suppressed && r->rows[i]->cells[c]->suppressed)
                any_sup = true;
        }
    printf("%s by %s, %s to %s\n", r->kind, r->by, r->from, r->to);
    for (size_t c = 0; c < nc; c++)
        printf(c ? " %*s" : "%-*s", (int)w[c], r->columns[c]);
    putchar('\n');
    for (size_t i = 0; i < r->n_rows; i++) {
        for (size_t c = 0; c < nc && c < r->rows[i]->n_cells; c++)
            printf(c ? " %*s" : "%-*s", (int)w[c],
                   s_cell_text(r, c, r->rows[i]->cells[c], "supp", "-"));
        putchar('\n');
    }
    if (any_sup)
        printf("supp: suppressed — fewer than %u calls, or hidden so that such a group cannot be "
               "found from the total by subtraction\n",
               r->min_cell);
    free(w);
}

static cJSON *s_row_object(const Codispatch__V1__ReportReply *r,
                           const Codispatch__V1__ReportRow *row, const bool *skip)
{
    cJSON *o = cJSON_CreateObject();
    bool sup = false;
    for (size_t c = 0; c < r->n_columns && c < row->n_cells; c++) {
        if (skip && skip[c])
            continue;
        cJSON_AddItemToObject(o, r->columns[c], s_cell_json(r, c, row->cells[c]));
        if (row->cells[c]->has_suppressed && row->cells[c]->suppressed)
            sup = true;
    }
    if (!skip)
        cJSON_AddBoolToObject(o, "suppressed", sup);
    return o;
}

int cmd_report(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("from"), CLI_OPT("to"), CLI_OPT("by"), CLI_OPT("format")};
    char *pos[2];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 1, &npos, USAGE_REPORT);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE_REPORT, "which report? response, diversion, language, "
                                             "equity or staffing");
    const char *format = cli_val(o, N(o), "format");
    if (!format)
        format = cli->json ? "json" : "table";
    if (strcmp(format, "table") != 0 && strcmp(format, "csv") != 0 && strcmp(format, "json") != 0)
        return cli_usage_error(USAGE_REPORT, "--format must be table, csv or json; got '%s'",
                               format);
    if (!cli_val(o, N(o), "from"))
        return cli_usage_error(USAGE_REPORT, "--from is required (a date such as 2026-10-05)");
    if (!cli_val(o, N(o), "to"))
        return cli_usage_error(USAGE_REPORT, "--to is required (a date such as 2026-10-05)");
    /* Kind, dates and --by are checked by the server, which names the field. */
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ReportRequest m = CODISPATCH__V1__REPORT_REQUEST__INIT;
    m.kind = pos[0];
    m.from = (char *)cli_val(o, N(o), "from");
    m.to = (char *)cli_val(o, N(o), "to");
    m.by = (char *)cli_val(o, N(o), "by");
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REPORT;
    req.report = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_long(cli, &req, &reply)) != CLI_OK)
        return rc;
    if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY) {
        fprintf(stderr, "codispatch: unexpected reply to report\n");
        cdc_envelope_free(reply);
        return CLI_UNREACHABLE;
    }
    const Codispatch__V1__ReportReply *r = reply->report_reply;
    if (strcmp(format, "csv") == 0) {
        s_print_csv(r, true, NULL);
    } else if (strcmp(format, "json") == 0) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "kind", r->kind ? r->kind : "");
        cJSON_AddStringToObject(j, "by", r->by ? r->by : "");
        cJSON_AddStringToObject(j, "from", r->from ? r->from : "");
        cJSON_AddStringToObject(j, "to", r->to ? r->to : "");
        cJSON_AddNumberToObject(j, "min_cell", r->min_cell);
        cJSON *rows = cJSON_AddArrayToObject(j, "rows");
        for (size_t i = 0; i < r->n_rows; i++)
            cJSON_AddItemToArray(rows, s_row_object(r, r->rows[i], NULL));
        cli_print_json(j);
    } else {
        s_print_table(r);
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

/* ------------------------------------------------------------------ export */

int cmd_export(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("from"), CLI_OPT("to"), CLI_OPT("format"), CLI_FLAG("with-locations")};
    char *pos[2];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 1, &npos, USAGE_EXPORT);
    if (rc)
        return rc;
    if (npos != 1 || strcmp(pos[0], "calls") != 0)
        return cli_usage_error(USAGE_EXPORT, "what to export? only 'calls' can be exported");
    const char *format = cli_val(o, N(o), "format");
    if (!format)
        format = "csv";
    bool csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "jsonl") != 0)
        return cli_usage_error(USAGE_EXPORT, "--format must be csv or jsonl; got '%s'", format);
    if (!cli_val(o, N(o), "from"))
        return cli_usage_error(USAGE_EXPORT, "--from is required (a date such as 2026-10-05)");
    if (!cli_val(o, N(o), "to"))
        return cli_usage_error(USAGE_EXPORT, "--to is required (a date such as 2026-10-05)");
    /* --with-locations will need the admin role once roles exist (security issue); today
     * every control client may ask, as every control client may read a call in full. */
    bool locations = cli_flag(o, N(o), "with-locations");
    uint64_t after = 0;
    bool header = true;
    for (;;) {
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__ExportCalls m = CODISPATCH__V1__EXPORT_CALLS__INIT;
        m.from = (char *)cli_val(o, N(o), "from");
        m.to = (char *)cli_val(o, N(o), "to");
        m.has_with_locations = true;
        m.with_locations = locations;
        m.has_after = true;
        m.after = after;
        m.has_limit = true;
        m.limit = EXPORT_PAGE;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS;
        req.export_calls = &m;
        Codispatch__V1__Envelope *reply;
        if ((rc = cli_request_long(cli, &req, &reply)) != CLI_OK)
            return rc;
        if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY) {
            fprintf(stderr, "codispatch: unexpected reply to export\n");
            cdc_envelope_free(reply);
            return CLI_UNREACHABLE;
        }
        const Codispatch__V1__ReportReply *r = reply->report_reply;
        /* The paging cursor (call_no) and, without --with-locations, lat/lon stay out. */
        bool *skip = calloc(r->n_columns + 1, sizeof *skip);
        for (size_t c = 0; c < r->n_columns; c++)
            skip[c] = strcmp(r->columns[c], "call_no") == 0 ||
                      (!locations &&
                       (strcmp(r->columns[c], "lat") == 0 || strcmp(r->columns[c], "lon") == 0));
        if (csv) {
            s_print_csv(r, header, skip);
        } else {
            for (size_t i = 0; i < r->n_rows; i++)
                cli_print_json(s_row_object(r, r->rows[i], skip));
        }
        header = false;
        free(skip);
        bool more = r->has_next_after;
        after = r->next_after;
        cdc_envelope_free(reply);
        if (!more)
            break;
    }
    fflush(stdout);
    return CLI_OK;
}

/* ------------------------------------------------------------------ demographics */

int cmd_demographics(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("race-ethnicity"), CLI_OPT("age-band"), CLI_OPT("gender"),
                     CLI_OPT("request-id")};
    char *pos[2];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 1, &npos, USAGE_DEMO);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE_DEMO, "which call? give its id, e.g. C-000123");
    const char *rid = cli_val(o, N(o), "request-id");
    if ((rc = cli_check_request_id(rid, USAGE_DEMO)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SetDemographics m = CODISPATCH__V1__SET_DEMOGRAPHICS__INIT;
    m.call_id = pos[0];
    m.race_ethnicity = (char *)cli_val(o, N(o), "race-ethnicity");
    m.age_band = (char *)cli_val(o, N(o), "age-band");
    m.gender = (char *)cli_val(o, N(o), "gender");
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS;
    req.set_demographics = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS, &reply)) !=
        CLI_OK)
        return rc;
    const Codispatch__V1__Demographics *d = reply->demographics;
    if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "call_id", d->call_id ? d->call_id : "");
        cJSON_AddStringToObject(j, "race_ethnicity", d->race_ethnicity ? d->race_ethnicity : "");
        cJSON_AddStringToObject(j, "age_band", d->age_band ? d->age_band : "");
        cJSON_AddStringToObject(j, "gender", d->gender ? d->gender : "");
        cli_print_json(j);
    } else {
        printf("%s race_ethnicity=%s age_band=%s gender=%s\n", d->call_id, d->race_ethnicity,
               d->age_band, d->gender);
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}
