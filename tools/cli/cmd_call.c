/*  cmd_call.c — codispatch call create | get | list | cancel */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_call.h"
#include "cli.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const USAGE_CREATE =
    "codispatch call create --type T --priority P --lat X --lon Y [--address A] [--area A]\n"
    "           [--language L] [--weapon] [--violence] [--medical] [--summary S]\n"
    "           [--caller-name N] [--callback PHONE] [--request-id ID]";
static const char *const USAGE_GET = "codispatch call get CALL_ID";
static const char *const USAGE_LIST = "codispatch call list [--open] [--limit N]";
static const char *const USAGE_CANCEL =
    "codispatch call cancel CALL_ID --reason R [--request-id ID]";

static const char *s_val(const cli_opt_t *opts, size_t n, const char *name)
{
    const cli_opt_t *o = cli_opt(opts, n, name);
    return o && o->set ? o->value : NULL;
}

static bool s_flag(const cli_opt_t *opts, size_t n, const char *name)
{
    const cli_opt_t *o = cli_opt(opts, n, name);
    return o && o->set;
}

/* Whole-string number parsing: "12abc" is not 12. */
static bool s_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*out);
}

static bool s_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return *s && !*end && errno == 0;
}

/* Prints a call reply as the subcommand should. */
static int s_show_call(const cli_t *cli, Codispatch__V1__Envelope *reply, bool id_only)
{
    if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_CALL) {
        fprintf(stderr, "codispatch: unexpected reply from the server\n");
        cdc_envelope_free(reply);
        return CLI_UNREACHABLE;
    }
    if (cli->json)
        cli_print_json(cli_call_json(reply->call));
    else if (id_only)
        printf("%s\n", reply->call->call_id);
    else
        cli_print_call(reply->call);
    cdc_envelope_free(reply);
    return CLI_OK;
}

static int s_check_request_id(const char *rid, const char *usage)
{
    if (rid && (strlen(rid) < 1 || strlen(rid) > CD_REQUEST_ID_MAX ||
                !cd_text_is_token(rid, CD_REQUEST_ID_MAX)))
        return cli_usage_error(usage,
                               "--request-id must be 1 to %d printable ASCII characters without "
                               "spaces",
                               CD_REQUEST_ID_MAX);
    return 0;
}

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
    in.type = s_val(o, N(o), "type");
    const char *p = s_val(o, N(o), "priority"), *lat = s_val(o, N(o), "lat"),
               *lon = s_val(o, N(o), "lon");
    long prio = 0;
    if (p && !s_parse_long(p, &prio))
        return cli_usage_error(USAGE_CREATE, "--priority must be a number from 1 to 4; got '%s'",
                               p);
    if (lat && !s_parse_double(lat, &in.lat))
        return cli_usage_error(USAGE_CREATE, "--lat must be a number (degrees); got '%s'", lat);
    if (lon && !s_parse_double(lon, &in.lon))
        return cli_usage_error(USAGE_CREATE, "--lon must be a number (degrees); got '%s'", lon);
    in.has_priority = p != NULL;
    in.priority = prio;
    in.has_lat = lat != NULL;
    in.has_lon = lon != NULL;
    in.address = s_val(o, N(o), "address");
    in.area = s_val(o, N(o), "area");
    in.language = s_val(o, N(o), "language");
    in.summary = s_val(o, N(o), "summary");
    in.caller_name = s_val(o, N(o), "caller-name");
    in.callback = s_val(o, N(o), "callback");
    in.risk = (s_flag(o, N(o), "weapon") ? CD_RISK_WEAPON : 0) |
              (s_flag(o, N(o), "violence") ? CD_RISK_VIOLENCE : 0) |
              (s_flag(o, N(o), "medical") ? CD_RISK_MEDICAL : 0);
    /* The same checks the server makes, so a typo is caught before it travels. */
    cd_error_t err;
    if (cd_call_validate(&in, &err) != CD_OK)
        return cli_usage_error(USAGE_CREATE, "%s", err.message);
    const char *rid = s_val(o, N(o), "request-id");
    if ((rc = s_check_request_id(rid, USAGE_CREATE)))
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
    return s_show_call(cli, reply, true);
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
    return s_show_call(cli, reply, false);
}

static int s_list(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_FLAG("open"), CLI_OPT("limit")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_LIST);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListCalls m = CODISPATCH__V1__LIST_CALLS__INIT;
    const char *limit = s_val(o, N(o), "limit");
    if (limit) {
        long v;
        if (!s_parse_long(limit, &v) || v < 1 || v > 1000)
            return cli_usage_error(USAGE_LIST, "--limit must be a number from 1 to 1000; got '%s'",
                                   limit);
        m.has_limit = true;
        m.limit = (uint32_t)v;
    }
    m.has_open_only = true;
    m.open_only = s_flag(o, N(o), "open");
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS;
    req.list_calls = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_CALL_LIST) {
        fprintf(stderr, "codispatch: unexpected reply from the server\n");
        cdc_envelope_free(reply);
        return CLI_UNREACHABLE;
    }
    const Codispatch__V1__CallList *l = reply->call_list;
    long long now = cli_now_ms();
    if (!cli->json) {
        if (l->n_calls == 0)
            printf("no %scalls\n", m.open_only ? "open " : "");
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
    const char *reason = s_val(o, N(o), "reason");
    if (!reason || !*reason)
        return cli_usage_error(USAGE_CANCEL, "--reason is required: say why the call is cancelled");
    const char *rid = s_val(o, N(o), "request-id");
    if ((rc = s_check_request_id(rid, USAGE_CANCEL)))
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
    return s_show_call(cli, reply, false);
}

int cmd_call(const cli_t *cli, int argc, char **argv)
{
    static const char *const usage = "codispatch call create|get|list|cancel ... (--help for more)";
    if (argc < 1)
        return cli_usage_error(usage, "call needs a subcommand");
    const char *sub = argv[0];
    if (strcmp(sub, "create") == 0)
        return s_create(cli, argc - 1, argv + 1);
    if (strcmp(sub, "get") == 0)
        return s_get(cli, argc - 1, argv + 1);
    if (strcmp(sub, "list") == 0)
        return s_list(cli, argc - 1, argv + 1);
    if (strcmp(sub, "cancel") == 0)
        return s_cancel(cli, argc - 1, argv + 1);
    return cli_usage_error(usage, "unknown call subcommand '%s'", sub);
}
