/*  print.c — how calls, their assignments and units look on a dispatcher's terminal, and as
 *  JSON.  Absent values are null in JSON (the keys calls always had keep their old form). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char *const UNIT_STATUS[] = {
    [CODISPATCH__V1__UNIT_STATUS__UNIT_OFF_DUTY] = "off_duty",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE] = "available",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_ASSIGNED] = "assigned",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE] = "en_route",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE] = "on_scene",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_TRANSPORTING] = "transporting",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_AT_FACILITY] = "at_facility",
    [CODISPATCH__V1__UNIT_STATUS__UNIT_OUT_OF_SERVICE] = "out_of_service",
};

const char *cli_unit_status_name(Codispatch__V1__UnitStatus s)
{
    if ((size_t)s < CLI_N(UNIT_STATUS) && UNIT_STATUS[s])
        return UNIT_STATUS[s];
    return "unknown";
}

Codispatch__V1__UnitStatus cli_unit_status_parse(const char *word)
{
    for (size_t i = 0; i < CLI_N(UNIT_STATUS); i++)
        if (UNIT_STATUS[i] && strcmp(UNIT_STATUS[i], word) == 0)
            return (Codispatch__V1__UnitStatus)i;
    return CODISPATCH__V1__UNIT_STATUS__UNIT_STATUS_UNSPECIFIED;
}

void cli_json_add_strings(cJSON *obj, const char *key, char *const *items, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(items[i] ? items[i] : ""));
}

void cli_json_add_uints(cJSON *obj, const char *key, const uint32_t *items, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(items[i]));
}

void cli_json_add_string_or_null(cJSON *obj, const char *key, const char *s)
{
    if (s && *s)
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

/* A time in ms, or null when it has not happened (absent or 0). */
static void s_json_ms(cJSON *obj, const char *key, bool has, int64_t ms)
{
    if (has && ms)
        cJSON_AddNumberToObject(obj, key, (double)ms);
    else
        cJSON_AddNullToObject(obj, key);
}

cJSON *cli_assignment_json(const Codispatch__V1__Assignment *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "assignment_id", a->assignment_id ? a->assignment_id : "");
    cJSON_AddStringToObject(o, "unit_id", a->unit_id ? a->unit_id : "");
    cJSON_AddStringToObject(o, "unit_type", a->unit_type ? a->unit_type : "");
    cJSON_AddStringToObject(o, "status", a->status ? a->status : "");
    s_json_ms(o, "offered_ms", a->has_offered_ms, a->offered_ms);
    s_json_ms(o, "ack_deadline_ms", a->has_ack_deadline_ms, a->ack_deadline_ms);
    s_json_ms(o, "acked_ms", a->has_acked_ms, a->acked_ms);
    s_json_ms(o, "en_route_ms", a->has_en_route_ms, a->en_route_ms);
    s_json_ms(o, "on_scene_ms", a->has_on_scene_ms, a->on_scene_ms);
    s_json_ms(o, "cleared_ms", a->has_cleared_ms, a->cleared_ms);
    cli_json_add_string_or_null(o, "end_reason", a->end_reason);
    cJSON_AddNumberToObject(o, "eta_s", a->eta_s);
    if (a->has_plan_group)
        cJSON_AddNumberToObject(o, "plan_group", a->plan_group);
    else
        cJSON_AddNullToObject(o, "plan_group");
    return o;
}

cJSON *cli_unit_json(const Codispatch__V1__Unit *u)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "unit_id", u->unit_id ? u->unit_id : "");
    cJSON_AddStringToObject(o, "type", u->type ? u->type : "");
    cJSON_AddStringToObject(o, "name", u->name ? u->name : "");
    cJSON_AddStringToObject(o, "status", cli_unit_status_name(u->status));
    cli_json_add_strings(o, "languages", u->languages, u->n_languages);
    cli_json_add_strings(o, "capabilities", u->capabilities, u->n_capabilities);
    cJSON_AddStringToObject(o, "area", u->area ? u->area : "");
    if (u->has_lat && u->has_lon) {
        cJSON_AddNumberToObject(o, "lat", u->lat);
        cJSON_AddNumberToObject(o, "lon", u->lon);
    } else {
        cJSON_AddNullToObject(o, "lat");
        cJSON_AddNullToObject(o, "lon");
    }
    cli_json_add_string_or_null(o, "call_id", u->call_id);
    cli_json_add_string_or_null(o, "assignment_id", u->assignment_id);
    cJSON_AddNumberToObject(o, "status_ms", (double)u->status_ms);
    cJSON_AddNumberToObject(o, "last_dispatch_ms", (double)u->last_dispatch_ms);
    cJSON_AddNumberToObject(o, "missed_acks", u->missed_acks);
    return o;
}

cJSON *cli_call_json(const Codispatch__V1__Call *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "call_id", c->call_id ? c->call_id : "");
    cJSON_AddStringToObject(o, "type", c->type ? c->type : "");
    cJSON_AddNumberToObject(o, "priority", c->priority);
    cJSON_AddStringToObject(o, "status", cdc_call_status_name(c->status));
    cJSON_AddNumberToObject(o, "lat", c->lat);
    cJSON_AddNumberToObject(o, "lon", c->lon);
    cJSON_AddStringToObject(o, "address", c->address ? c->address : "");
    cJSON_AddStringToObject(o, "area", c->area ? c->area : "");
    cJSON_AddStringToObject(o, "language", c->language ? c->language : "");
    cJSON *risks = cJSON_AddArrayToObject(o, "risk_flags");
    if (c->weapon)
        cJSON_AddItemToArray(risks, cJSON_CreateString("weapon"));
    if (c->violence)
        cJSON_AddItemToArray(risks, cJSON_CreateString("violence"));
    if (c->medical)
        cJSON_AddItemToArray(risks, cJSON_CreateString("medical"));
    cJSON_AddStringToObject(o, "summary", c->summary ? c->summary : "");
    if (c->caller_name)
        cJSON_AddStringToObject(o, "caller_name", c->caller_name);
    if (c->callback)
        cJSON_AddStringToObject(o, "callback", c->callback);
    cJSON_AddNumberToObject(o, "created_ms", (double)c->created_ms);
    cJSON_AddNumberToObject(o, "updated_ms", (double)c->updated_ms);
    if (c->cancel_reason)
        cJSON_AddStringToObject(o, "cancel_reason", c->cancel_reason);
    cJSON *asg = cJSON_AddArrayToObject(o, "assignments");
    for (size_t i = 0; i < c->n_assignments; i++)
        cJSON_AddItemToArray(asg, cli_assignment_json(c->assignments[i]));
    cJSON *notes = cJSON_AddArrayToObject(o, "notes");
    for (size_t i = 0; i < c->n_notes; i++) {
        const Codispatch__V1__Note *n = c->notes[i];
        cJSON *no = cJSON_CreateObject();
        cJSON_AddNumberToObject(no, "at_ms", (double)n->at_ms);
        cJSON_AddStringToObject(no, "actor", n->actor ? n->actor : "");
        cJSON_AddStringToObject(no, "text", n->text ? n->text : "");
        cJSON_AddItemToArray(notes, no);
    }
    cli_json_add_string_or_null(o, "disposition", c->disposition);
    s_json_ms(o, "closed_ms", c->has_closed_ms, c->closed_ms);
    s_json_ms(o, "pending_since_ms", c->has_pending_since_ms, c->pending_since_ms);
    return o;
}

int cli_show_call(const cli_t *cli, Codispatch__V1__Envelope *reply, bool id_only)
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

static void s_risks(const Codispatch__V1__Call *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", c->weapon ? "weapon " : "", c->violence ? "violence " : "",
             c->medical ? "medical " : "");
    size_t n = strlen(out);
    if (n)
        out[n - 1] = '\0';
    else
        snprintf(out, cap, "none");
}

/* One step of an assignment's timeline: " acked 14:02:30". */
static size_t s_step(char *out, size_t cap, const char *what, bool has, int64_t ms)
{
    if (!has || !ms || cap == 0)
        return 0;
    char t[16];
    cli_format_clock(ms, t, sizeof t);
    int w = snprintf(out, cap, "  %s %s", what, t);
    return w < 0 ? 0 : (size_t)w < cap ? (size_t)w : cap - 1;
}

static void s_print_assignment(const Codispatch__V1__Assignment *a)
{
    char group[24] = "", eta[16] = "unknown", steps[256];
    if (a->has_plan_group && a->plan_group >= 0)
        snprintf(group, sizeof group, "group %lld, ", (long long)a->plan_group + 1);
    else if (a->has_plan_group)
        snprintf(group, sizeof group, "extra unit, ");
    if (a->eta_s)
        cli_format_duration(a->eta_s, eta, sizeof eta);
    printf("    %-10s %-12s %-16s %-13s %seta %s\n", a->assignment_id ? a->assignment_id : "",
           a->unit_id ? a->unit_id : "", a->unit_type ? a->unit_type : "",
           a->status ? a->status : "", group, eta);
    size_t n = 0;
    n += s_step(steps + n, sizeof steps - n, "offered", a->has_offered_ms, a->offered_ms);
    if (!a->has_acked_ms || !a->acked_ms)
        n += s_step(steps + n, sizeof steps - n, "ack due", a->has_ack_deadline_ms,
                    a->ack_deadline_ms);
    n += s_step(steps + n, sizeof steps - n, "acked", a->has_acked_ms, a->acked_ms);
    n += s_step(steps + n, sizeof steps - n, "en route", a->has_en_route_ms, a->en_route_ms);
    n += s_step(steps + n, sizeof steps - n, "on scene", a->has_on_scene_ms, a->on_scene_ms);
    n += s_step(steps + n, sizeof steps - n, "ended", a->has_cleared_ms, a->cleared_ms);
    if (n)
        printf("     %s%s%s\n", steps, a->end_reason && *a->end_reason ? "  -- " : "",
               a->end_reason && *a->end_reason ? a->end_reason : "");
}

void cli_print_call(const Codispatch__V1__Call *c)
{
    char created[64], risks[64];
    cli_format_time(c->created_ms, created, sizeof created);
    s_risks(c, risks, sizeof risks);
    printf("%s  %s  priority %u  %s\n", c->call_id, c->type, c->priority,
           cdc_call_status_name(c->status));
    printf("  created   %s\n", created);
    printf("  location  %.5f, %.5f", c->lat, c->lon);
    if (c->address && *c->address)
        printf("  %s", c->address);
    if (c->area && *c->area)
        printf("  (area %s)", c->area);
    printf("\n");
    printf("  language  %s\n", c->language && *c->language ? c->language : "not recorded");
    printf("  risks     %s\n", risks);
    if ((c->caller_name && *c->caller_name) || (c->callback && *c->callback))
        printf("  caller    %s%s%s%s\n", c->caller_name ? c->caller_name : "",
               c->callback && *c->callback ? " (callback " : "",
               c->callback && *c->callback ? c->callback : "",
               c->callback && *c->callback ? ")" : "");
    if (c->summary && *c->summary)
        printf("  summary   %s\n", c->summary);
    if (c->cancel_reason && *c->cancel_reason)
        printf("  cancelled %s\n", c->cancel_reason);
    if (c->disposition && *c->disposition) {
        char closed[64] = "";
        if (c->has_closed_ms && c->closed_ms)
            cli_format_time(c->closed_ms, closed, sizeof closed);
        printf("  closed    %s%s%s\n", closed, *closed ? "  " : "", c->disposition);
    }
    if (c->status == CODISPATCH__V1__CALL_STATUS__CALL_PENDING && c->has_pending_since_ms &&
        c->pending_since_ms) {
        char since[16], waited[16];
        cli_format_clock(c->pending_since_ms, since, sizeof since);
        cli_format_duration(cli_age_s(cli_now_ms(), c->pending_since_ms), waited, sizeof waited);
        printf("  waiting   since %s (%s)\n", since, waited);
    }
    if (c->n_assignments)
        printf("  units\n");
    for (size_t i = 0; i < c->n_assignments; i++)
        s_print_assignment(c->assignments[i]);
    if (c->n_notes)
        printf("  notes\n");
    for (size_t i = 0; i < c->n_notes; i++) {
        const Codispatch__V1__Note *n = c->notes[i];
        char at[16];
        cli_format_clock(n->at_ms, at, sizeof at);
        printf("    %s  %s: %s\n", at, n->actor && *n->actor ? n->actor : "?",
               n->text ? n->text : "");
    }
}

void cli_print_call_row_header(void)
{
    printf("%-10s %-18s %1s %-10s %6s %-10s %-6s %s\n", "CALL", "TYPE", "P", "STATUS", "AGE",
           "AREA", "LANG", "ADDRESS");
}

void cli_print_call_row(const Codispatch__V1__Call *c, long long now_ms)
{
    char age[16];
    cli_format_duration(cli_age_s(now_ms, c->created_ms), age, sizeof age);
    printf("%-10s %-18s %1u %-10s %6s %-10.10s %-6.6s %s\n", c->call_id, c->type, c->priority,
           cdc_call_status_name(c->status), age, c->area ? c->area : "",
           c->language ? c->language : "", c->address ? c->address : "");
}

static void s_position(const Codispatch__V1__Unit *u, char *out, size_t cap)
{
    if (u->has_lat && u->has_lon)
        snprintf(out, cap, "%.5f, %.5f", u->lat, u->lon);
    else
        snprintf(out, cap, "unknown");
}

void cli_print_unit(const Codispatch__V1__Unit *u)
{
    char since[64], langs[320], caps[320], pos[64];
    cli_format_time(u->status_ms, since, sizeof since);
    cli_join(u->languages, u->n_languages, ", ", langs, sizeof langs);
    cli_join(u->capabilities, u->n_capabilities, ", ", caps, sizeof caps);
    s_position(u, pos, sizeof pos);
    printf("%s  %s  %s\n", u->unit_id, u->type, cli_unit_status_name(u->status));
    if (u->name && *u->name)
        printf("  name          %s\n", u->name);
    if (u->has_status_ms && u->status_ms)
        printf("  since         %s\n", since);
    printf("  languages     %s\n", *langs ? langs : "none recorded");
    printf("  capabilities  %s\n", *caps ? caps : "none");
    printf("  area          %s\n", u->area && *u->area ? u->area : "none");
    printf("  position      %s\n", pos);
    if (u->call_id && *u->call_id)
        printf("  call          %s (%s)\n", u->call_id, u->assignment_id ? u->assignment_id : "");
    if (u->missed_acks)
        printf("  missed acks   %u in a row\n", u->missed_acks);
}

void cli_print_unit_row_header(void)
{
    printf("%-12s %-16s %-14s %6s %-10s %-10s %-10s %s\n", "UNIT", "TYPE", "STATUS", "SINCE",
           "LANGS", "AREA", "CALL", "POSITION");
}

void cli_print_unit_row(const Codispatch__V1__Unit *u, long long now_ms)
{
    char since[16] = "-", langs[320], pos[64];
    if (u->has_status_ms && u->status_ms)
        cli_format_duration(cli_age_s(now_ms, u->status_ms), since, sizeof since);
    cli_join(u->languages, u->n_languages, ",", langs, sizeof langs);
    s_position(u, pos, sizeof pos);
    printf("%-12s %-16s %-14s %6s %-10.10s %-10.10s %-10s %s\n", u->unit_id, u->type,
           cli_unit_status_name(u->status), since, *langs ? langs : "-",
           u->area && *u->area ? u->area : "-", u->call_id && *u->call_id ? u->call_id : "-", pos);
}
