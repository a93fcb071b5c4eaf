/*  cmd_unit.c — codispatch unit add | list | update | remove (the roster) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_unit.h"
#include "cli.h"

#define N(a) CLI_N(a)

static const char *const USAGE_ADD =
    "codispatch unit add --id ID --type T [--name N] [--languages es,en]\n"
    "           [--capabilities transport,naloxone] [--area A] [--lat X --lon Y]\n"
    "           [--status off_duty|available|out_of_service] [--request-id ID]";
static const char *const USAGE_LIST = "codispatch unit list [--status S]";
static const char *const USAGE_UPDATE =
    "codispatch unit update --id ID [--status off_duty|available|out_of_service] [--name N]\n"
    "           [--languages es,en] [--capabilities C,...] [--area A] [--lat X --lon Y]\n"
    "           [--request-id ID]   (an empty list clears: --languages '')";
static const char *const USAGE_REMOVE = "codispatch unit remove --id ID [--request-id ID]";

/* The options add and update share, checked. */
typedef struct unit_args {
    const char *id, *type, *name, *area, *request_id;
    bool set_languages, set_capabilities;
    cli_list_t languages, capabilities;
    bool has_position;
    double lat, lon;
    Codispatch__V1__UnitStatus status; /* 0: not given */
} unit_args_t;

static void s_args_free(unit_args_t *a)
{
    cli_list_free(&a->languages);
    cli_list_free(&a->capabilities);
}

static bool s_is_language(const char *s)
{
    return cd_text_is_language_tag(s);
}

static int s_check_id(const char *id, const char *usage)
{
    if (!id || !*id)
        return cli_usage_error(usage, "--id is required: the unit's id, e.g. MH-12");
    if (!cd_text_is_token(id, CD_UNIT_ID_MAX))
        return cli_usage_error(usage,
                               "--id must be 1 to %d printable ASCII characters without spaces; "
                               "got '%s'",
                               CD_UNIT_ID_MAX, id);
    return 0;
}

/* A supervisor may set only these three; the others follow the unit's calls. */
static int s_check_status(const char *word, Codispatch__V1__UnitStatus *out, const char *usage)
{
    *out = word ? cli_unit_status_parse(word) : 0;
    if (word && *out != CODISPATCH__V1__UNIT_STATUS__UNIT_OFF_DUTY &&
        *out != CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE &&
        *out != CODISPATCH__V1__UNIT_STATUS__UNIT_OUT_OF_SERVICE)
        return cli_usage_error(
            usage, "--status must be off_duty, available or out_of_service; got '%s'", word);
    return 0;
}

static int s_unit_args(const cli_opt_t *o, size_t n, bool adding, unit_args_t *a, const char *usage)
{
    *a = (unit_args_t){0};
    a->id = cli_val(o, n, "id");
    a->type = cli_val(o, n, "type");
    a->name = cli_val(o, n, "name");
    a->area = cli_val(o, n, "area");
    a->request_id = cli_val(o, n, "request-id");
    const char *langs = cli_val(o, n, "languages"), *caps = cli_val(o, n, "capabilities");
    int rc;
    if ((rc = s_check_id(a->id, usage)))
        return rc;
    if (adding && (!a->type || !*a->type))
        return cli_usage_error(usage, "--type is required: the unit type, e.g. mh_team");
    if (a->type && !cli_is_type(a->type))
        return cli_usage_error(
            usage, "--type must be a lower-case unit type such as mh_team; got '%s'", a->type);
    if ((rc = cli_check_text("name", a->name, CD_UNIT_NAME_MAX, false, usage)) ||
        (rc = cli_check_text("area", a->area, CD_AREA_MAX, false, usage)) ||
        (rc = s_check_status(cli_val(o, n, "status"), &a->status, usage)) ||
        (rc = cli_check_position(cli_val(o, n, "lat"), cli_val(o, n, "lon"), &a->has_position,
                                 &a->lat, &a->lon, usage)) ||
        (rc = cli_check_request_id(a->request_id, usage)))
        return rc;
    a->set_languages = langs != NULL;
    if (langs && (rc = cli_parse_list("languages", langs, CD_UNIT_LANGS_MAX, s_is_language,
                                      "language tags such as es or zh-Hant", &a->languages, usage)))
        return rc;
    a->set_capabilities = caps != NULL;
    if (caps && (rc = cli_parse_list("capabilities", caps, CD_UNIT_CAPS_MAX, cli_is_type,
                                     "lower-case capabilities such as naloxone", &a->capabilities,
                                     usage))) {
        s_args_free(a);
        return rc;
    }
    return 0;
}

/* Prints a Unit reply and frees it: as JSON, as "VERB ID" ("" for the id alone) or, with no
 * verb, as the short block. */
static int s_show_unit(const cli_t *cli, Codispatch__V1__Envelope *reply, const char *verb)
{
    const Codispatch__V1__Unit *u = reply->unit;
    if (cli->json)
        cli_print_json(cli_unit_json(u));
    else if (verb)
        printf("%s%s%s\n", verb, *verb ? " " : "", u->unit_id);
    else
        cli_print_unit(u);
    cdc_envelope_free(reply);
    return CLI_OK;
}

static int s_add(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {
        CLI_OPT("id"),           CLI_OPT("type"),       CLI_OPT("name"), CLI_OPT("languages"),
        CLI_OPT("capabilities"), CLI_OPT("area"),       CLI_OPT("lat"),  CLI_OPT("lon"),
        CLI_OPT("status"),       CLI_OPT("request-id"),
    };
    char *pos[1];
    size_t npos;
    unit_args_t a;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_ADD);
    if (rc || (rc = s_unit_args(o, N(o), true, &a, USAGE_ADD)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddUnit m = CODISPATCH__V1__ADD_UNIT__INIT;
    m.unit_id = (char *)a.id;
    m.type = (char *)a.type;
    m.name = (char *)a.name;
    m.n_languages = a.languages.n;
    m.languages = a.languages.items;
    m.n_capabilities = a.capabilities.n;
    m.capabilities = a.capabilities.items;
    m.area = (char *)a.area;
    m.has_lat = m.has_lon = a.has_position;
    m.lat = a.lat;
    m.lon = a.lon;
    m.has_status = a.status != 0;
    m.status = a.status;
    req.request_id = (char *)a.request_id;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    req.add_unit = &m;
    Codispatch__V1__Envelope *reply;
    rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_UNIT, &reply);
    s_args_free(&a);
    return rc != CLI_OK ? rc : s_show_unit(cli, reply, "");
}

static int s_update(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {
        CLI_OPT("id"),        CLI_OPT("status"),       CLI_OPT("name"),
        CLI_OPT("languages"), CLI_OPT("capabilities"), CLI_OPT("area"),
        CLI_OPT("lat"),       CLI_OPT("lon"),          CLI_OPT("request-id"),
    };
    char *pos[1];
    size_t npos;
    unit_args_t a;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_UPDATE);
    if (rc || (rc = s_unit_args(o, N(o), false, &a, USAGE_UPDATE)))
        return rc;
    if (!a.status && !a.name && !a.area && !a.has_position && !a.set_languages &&
        !a.set_capabilities)
        return cli_usage_error(USAGE_UPDATE,
                               "nothing to change: give --status, --name, --languages, "
                               "--capabilities, --area or --lat/--lon");
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__UpdateUnit m = CODISPATCH__V1__UPDATE_UNIT__INIT;
    m.unit_id = (char *)a.id;
    m.has_status = a.status != 0;
    m.status = a.status;
    m.name = (char *)a.name;
    m.has_set_languages = m.set_languages = a.set_languages;
    m.n_languages = a.languages.n;
    m.languages = a.languages.items;
    m.has_set_capabilities = m.set_capabilities = a.set_capabilities;
    m.n_capabilities = a.capabilities.n;
    m.capabilities = a.capabilities.items;
    m.area = (char *)a.area;
    m.has_lat = m.has_lon = a.has_position;
    m.lat = a.lat;
    m.lon = a.lon;
    req.request_id = (char *)a.request_id;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT;
    req.update_unit = &m;
    Codispatch__V1__Envelope *reply;
    rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_UNIT, &reply);
    s_args_free(&a);
    return rc != CLI_OK ? rc : s_show_unit(cli, reply, NULL);
}

static int s_remove(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("id"), CLI_OPT("request-id")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_REMOVE);
    const char *id = cli_val(o, N(o), "id"), *rid = cli_val(o, N(o), "request-id");
    if (rc || (rc = s_check_id(id, USAGE_REMOVE)) || (rc = cli_check_request_id(rid, USAGE_REMOVE)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__RemoveUnit m = CODISPATCH__V1__REMOVE_UNIT__INIT;
    m.unit_id = (char *)id;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT;
    req.remove_unit = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_UNIT, &reply)))
        return rc;
    return s_show_unit(cli, reply, "removed");
}

static int s_list(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("status")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_LIST);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListUnits m = CODISPATCH__V1__LIST_UNITS__INIT;
    const char *status = cli_val(o, N(o), "status");
    if (status) {
        m.status = cli_unit_status_parse(status);
        if (!m.status)
            return cli_usage_error(USAGE_LIST,
                                   "--status must be a unit status (off_duty, available, "
                                   "assigned, en_route, on_scene, transporting, at_facility, "
                                   "out_of_service); got '%s'",
                                   status);
        m.has_status = true;
    }
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS;
    req.list_units = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST, &reply)))
        return rc;
    const Codispatch__V1__UnitList *l = reply->unit_list;
    if (cli->json) {
        cJSON *obj = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(obj, "units");
        for (size_t i = 0; i < l->n_units; i++)
            cJSON_AddItemToArray(arr, cli_unit_json(l->units[i]));
        cli_print_json(obj);
    } else if (l->n_units == 0) {
        printf("no %s%sunits\n", status ? status : "", status ? " " : "");
    } else {
        long long now = cli_now_ms();
        cli_print_unit_row_header();
        for (size_t i = 0; i < l->n_units; i++)
            cli_print_unit_row(l->units[i], now);
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

int cmd_unit(const cli_t *cli, int argc, char **argv)
{
    static const cli_subcommand_t subs[] = {
        {"add", s_add},
        {"list", s_list},
        {"update", s_update},
        {"remove", s_remove},
        {"connect", cmd_unit_connect},
    };
    return cli_run_subcommand(cli, argc, argv, "unit", "subcommand", subs, CLI_N(subs),
                              "codispatch unit add|list|update|remove|connect ... "
                              "(--help for more)");
}
