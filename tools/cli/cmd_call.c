/*  cmd_call.c — codispatch call create | get | list | cancel | note | close */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_call.h"
#include "cli.h"

#define N(a) CLI_N(a)

static const char *const USAGE_CREATE =
    "codispatch call create --type T --priority P --lat X --lon Y [--address A] [--area A]\n"
    "           [--language L] [--weapon] [--violence] [--medical] [--summary S]\n"
    "           [--caller-name N] [--callback PHONE] [--request-id ID]";
static const char *const USAGE_GET = "codispatch call get CALL_ID";
static const char *const USAGE_LIST = "codispatch call list [--open] [--pending] [--limit N]";
static const char *const USAGE_CANCEL =
    "codispatch call cancel CALL_ID --reason R [--request-id ID]";
static const char *const USAGE_NOTE = "codispatch call note CALL_ID TEXT... [--request-id ID]";
static const char *const USAGE_CLOSE =
    "codispatch call close CALL_ID --disposition D [--request-id ID]\n"
    "       D: resolved_on_scene, transported_voluntary, transported_involuntary, referred,\n"
    "          police_requested, no_contact, duplicate";

static int s_create(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {
        CLI_OPT("type"),      CLI_OPT("priority"),   CLI_OPT("lat"),      CLI_OPT("lon"),
        CLI_OPT("address"),   CLI_OPT("area"),       CLI_OPT("language"), CLI_FLAG("weapon"),
        CLI_FLAG("violence"), CLI_FLAG("medical"),   CLI_OPT("summary"),  CLI_OPT("caller-name"),
        CLI_OPT("callback"),  CLI_OPT("request-id"),
    };
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_CREATE);
    if (rc)
        return rc;

    cd_call_input_t in = {0};
    in.type = cli_val(o, N(o), "type");
    const char *p = cli_val(o, N(o), "priority"), *lat = cli_val(o, N(o), "lat"),
               *lon = cli_val(o, N(o), "lon");
    long prio = 0;
    if (p && !cli_parse_long(p, &prio))
        return cli_usage_error(USAGE_CREATE, "--priority must be a number from 1 to 4; got '%s'",
                               p);
    if (lat && !cli_parse_double(lat, &in.lat))
        return cli_usage_error(USAGE_CREATE, "--lat must be a number (degrees); got '%s'", lat);
    if (lon && !cli_parse_double(lon, &in.lon))
        return cli_usage_error(USAGE_CREATE, "--lon must be a number (degrees); got '%s'", lon);
    in.has_priority = p != NULL;
    in.priority = prio;
    in.has_lat = lat != NULL;
    in.has_lon = lon != NULL;
    in.address = cli_val(o, N(o), "address");
    in.area = cli_val(o, N(o), "area");
    in.language = cli_val(o, N(o), "language");
    in.summary = cli_val(o, N(o), "summary");
    in.caller_name = cli_val(o, N(o), "caller-name");
    in.callback = cli_val(o, N(o), "callback");
    in.risk = (cli_flag(o, N(o), "weapon") ? CD_RISK_WEAPON : 0) |
              (cli_flag(o, N(o), "violence") ? CD_RISK_VIOLENCE : 0) |
              (cli_flag(o, N(o), "medical") ? CD_RISK_MEDICAL : 0);
    /* The same checks the server makes, so a typo is caught before it travels. */
    cd_error_t err;
    if (cd_call_validate(&in, &err) != CD_OK)
        return cli_usage_error(USAGE_CREATE, "%s", err.message);
    const char *rid = cli_val(o, N(o), "request-id");
    if ((rc = cli_check_request_id(rid, USAGE_CREATE)))
        return rc;

    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
    m.type = (char *)in.type;
    m.has_priority = true;
    m.priority = (uint32_t)prio;
    m.has_lat = m.has_lon = true;
    m.lat = in.lat;
    m.lon = in.lon;
    m.address = (char *)in.address;
    m.area = (char *)in.area;
    m.language = (char *)in.language;
    m.summary = (char *)in.summary;
    m.caller_name = (char *)in.caller_name;
    m.callback = (char *)in.callback;
    m.has_weapon = m.has_violence = m.has_medical = true;
    m.weapon = (in.risk & CD_RISK_WEAPON) != 0;
    m.violence = (in.risk & CD_RISK_VIOLENCE) != 0;
    m.medical = (in.risk & CD_RISK_MEDICAL) != 0;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    req.create_call = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    return cli_show_call(cli, reply, true);
}

static int s_get(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 1, &npos, USAGE_GET);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE_GET, "which call? give its id, e.g. C-000123");
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__GetCall m = CODISPATCH__V1__GET_CALL__INIT;
    m.call_id = pos[0];
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
    req.get_call = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    return cli_show_call(cli, reply, false);
}

static int s_list(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_FLAG("open"), CLI_FLAG("pending"), CLI_OPT("limit")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_LIST);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListCalls m = CODISPATCH__V1__LIST_CALLS__INIT;
    const char *limit = cli_val(o, N(o), "limit");
    if (limit) {
        long v;
        if (!cli_parse_long(limit, &v) || v < 1 || v > 1000)
            return cli_usage_error(USAGE_LIST, "--limit must be a number from 1 to 1000; got '%s'",
                                   limit);
        m.has_limit = true;
        m.limit = (uint32_t)v;
    }
    m.has_open_only = true;
    m.open_only = cli_flag(o, N(o), "open");
    m.has_pending_queue = true;
    m.pending_queue = cli_flag(o, N(o), "pending");
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS;
    req.list_calls = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_CALL_LIST, &reply)) !=
        CLI_OK)
        return rc;
    const Codispatch__V1__CallList *l = reply->call_list;
    long long now = cli_now_ms();
    if (!cli->json) {
        if (l->n_calls == 0)
            printf("no %scalls\n", m.pending_queue ? "pending " : m.open_only ? "open " : "");
        else
            cli_print_call_row_header();
    }
    for (size_t i = 0; i < l->n_calls; i++) {
        if (cli->json)
            cli_print_json(cli_call_json(l->calls[i]));
        else
            cli_print_call_row(l->calls[i], now);
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

static int s_cancel(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("reason"), CLI_OPT("request-id")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 1, &npos, USAGE_CANCEL);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE_CANCEL, "which call? give its id, e.g. C-000123");
    const char *reason = cli_val(o, N(o), "reason");
    if (!reason || !*reason)
        return cli_usage_error(USAGE_CANCEL, "--reason is required: say why the call is cancelled");
    const char *rid = cli_val(o, N(o), "request-id");
    if ((rc = cli_check_request_id(rid, USAGE_CANCEL)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CancelCall m = CODISPATCH__V1__CANCEL_CALL__INIT;
    m.call_id = pos[0];
    m.reason = (char *)reason;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL;
    req.cancel_call = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    return cli_show_call(cli, reply, false);
}

static int s_note(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("request-id")};
    char **pos = calloc((size_t)argc + 1, sizeof *pos);
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, (size_t)argc, &npos, USAGE_NOTE);
    if (!rc && npos < 1)
        rc = cli_usage_error(USAGE_NOTE, "which call? give its id, e.g. C-000123");
    if (!rc && npos < 2)
        rc = cli_usage_error(USAGE_NOTE, "what is the note? give its text after the call id");
    if (!rc)
        rc = cli_check_request_id(cli_val(o, N(o), "request-id"), USAGE_NOTE);
    if (rc) {
        free(pos);
        return rc;
    }
    /* The words after the id, joined by spaces. */
    size_t len = 1;
    for (size_t i = 1; i < npos; i++)
        len += strlen(pos[i]) + 1;
    char *text = calloc(len, 1);
    cli_join(pos + 1, npos - 1, " ", text, len);
    if (!*text)
        rc = cli_usage_error(USAGE_NOTE, "the note is empty: give its text after the call id");
    else if (!cd_text_is_clean(text, true))
        rc = cli_usage_error(USAGE_NOTE, "the note must be UTF-8 text without control characters");
    if (!rc) {
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__AddNote m = CODISPATCH__V1__ADD_NOTE__INIT;
        m.call_id = pos[0];
        m.text = text;
        req.request_id = (char *)cli_val(o, N(o), "request-id");
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_NOTE;
        req.add_note = &m;
        Codispatch__V1__Envelope *reply;
        if ((rc = cli_request(cli, &req, &reply)) == CLI_OK)
            rc = cli_show_call(cli, reply, false);
    }
    free(text);
    free(pos);
    return rc;
}

static int s_close(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("disposition"), CLI_OPT("request-id")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 1, &npos, USAGE_CLOSE);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE_CLOSE, "which call? give its id, e.g. C-000123");
    const char *disp = cli_val(o, N(o), "disposition");
    if (!disp || !*disp)
        return cli_usage_error(USAGE_CLOSE, "--disposition is required: say how the call ended");
    if (!cd_call_disposition_valid(disp))
        return cli_usage_error(USAGE_CLOSE, "--disposition must be one of %s; got '%s'",
                               cd_call_dispositions(), disp);
    const char *rid = cli_val(o, N(o), "request-id");
    if ((rc = cli_check_request_id(rid, USAGE_CLOSE)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CloseCall m = CODISPATCH__V1__CLOSE_CALL__INIT;
    m.call_id = pos[0];
    m.disposition = (char *)disp;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL;
    req.close_call = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    return cli_show_call(cli, reply, false);
}

int cmd_call(const cli_t *cli, int argc, char **argv)
{
    static const cli_subcommand_t subs[] = {
        {"create", s_create}, {"get", s_get},   {"list", s_list},
        {"cancel", s_cancel}, {"note", s_note}, {"close", s_close},
    };
    return cli_run_subcommand(cli, argc, argv, "call", "subcommand", subs, CLI_N(subs),
                              "codispatch call create|get|list|cancel|note|close ... "
                              "(--help for more)");
}
