/*  cmd_dispatch.c — codispatch recommend | dispatch | alerts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_unit.h"
#include "cli.h"

#define N(a) CLI_N(a)

#define DISPATCH_UNITS_MAX 16

static const char *const USAGE_RECOMMEND = "codispatch recommend CALL_ID";
static const char *const USAGE_DISPATCH =
    "codispatch dispatch CALL_ID [UNIT_ID...] [--request-id ID]\n"
    "       no UNIT_ID: the top recommendation for every group of the plan not yet filled";
static const char *const USAGE_ALERTS = "codispatch alerts";

/* ------------------------------------------------------------------ recommend */

static cJSON *s_candidate_json(const Codispatch__V1__Candidate *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "unit_id", c->unit_id ? c->unit_id : "");
    cJSON_AddStringToObject(o, "type", c->type ? c->type : "");
    cJSON_AddNumberToObject(o, "eta_s", c->eta_s);
    cJSON_AddBoolToObject(o, "eta_known", c->eta_known);
    cJSON_AddNumberToObject(o, "tier", c->tier);
    cJSON_AddNumberToObject(o, "plan_group", c->plan_group);
    cJSON_AddBoolToObject(o, "language_match", c->language_match);
    cli_json_add_strings(o, "reasons", c->reasons, c->n_reasons);
    return o;
}

/* The text of group g (0-based) of the plan "a,b>c;d", or "" when the plan has no such group. */
static void s_group_text(const char *plan, int g, char *out, size_t cap)
{
    const char *p = plan ? plan : "";
    for (int i = 0; i < g && p; i++) {
        p = strchr(p, ';');
        p = p ? p + 1 : NULL;
    }
    const char *end = p ? strchr(p, ';') : NULL;
    size_t n = !p ? 0 : end ? (size_t)(end - p) : strlen(p);
    snprintf(out, cap, "%.*s", (int)n, p ? p : "");
}

static void s_print_recommendation(const Codispatch__V1__Recommendation *r)
{
    bool several = r->plan && strchr(r->plan, ';');
    int group = -2, rank = 0;
    for (size_t i = 0; i < r->n_candidates; i++) {
        const Codispatch__V1__Candidate *c = r->candidates[i];
        if (c->plan_group != group) {
            group = c->plan_group;
            rank = 0;
            char text[256];
            s_group_text(r->plan, group, text, sizeof text);
            if (several && group >= 0)
                printf("%sgroup %lld: %s\n", i ? "\n" : "", (long long)group + 1, text);
            else if (several)
                printf("%sextra units\n", i ? "\n" : "");
            if (several || i == 0)
                printf("%4s %-12s %-16s %4s %6s %-4s %s\n", "RANK", "UNIT", "TYPE", "TIER", "ETA",
                       "LANG", "REASONS");
        }
        char eta[16] = "?", reasons[512];
        if (c->eta_known)
            cli_format_duration(c->eta_s, eta, sizeof eta);
        cli_join(c->reasons, c->n_reasons, "; ", reasons, sizeof reasons);
        printf("%4d %-12s %-16s %4u %6s %-4s %s\n", ++rank, c->unit_id, c->type, c->tier, eta,
               c->language_match ? "yes" : "-", *reasons ? reasons : "-");
    }
    if (r->n_candidates == 0 && !(r->why_none && *r->why_none))
        printf("no eligible unit\n");
    if (r->why_none && *r->why_none)
        printf("%s%s\n", r->n_candidates ? "\n" : "", r->why_none);
    printf("%splan  %s\n", r->n_candidates || (r->why_none && *r->why_none) ? "\n" : "",
           r->plan && *r->plan ? r->plan : "(none)");
}

static int s_check_call_id(size_t npos, char **pos, const char *usage)
{
    if (npos < 1)
        return cli_usage_error(usage, "which call? give its id, e.g. C-000123");
    if (!cd_text_is_token(pos[0], CD_CALL_ID_MAX))
        return cli_usage_error(usage, "'%s' is not a call id; they look like C-000123", pos[0]);
    return 0;
}

int cmd_recommend(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 1, &npos, USAGE_RECOMMEND);
    if (rc || (rc = s_check_call_id(npos, pos, USAGE_RECOMMEND)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Recommend m = CODISPATCH__V1__RECOMMEND__INIT;
    m.call_id = pos[0];
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND;
    req.recommend = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION, &reply)))
        return rc;
    const Codispatch__V1__Recommendation *r = reply->recommendation;
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "call_id", r->call_id ? r->call_id : pos[0]);
        cJSON_AddStringToObject(o, "plan", r->plan ? r->plan : "");
        cli_json_add_string_or_null(o, "why_none", r->why_none);
        cJSON *arr = cJSON_AddArrayToObject(o, "candidates");
        for (size_t i = 0; i < r->n_candidates; i++)
            cJSON_AddItemToArray(arr, s_candidate_json(r->candidates[i]));
        cli_print_json(o);
    } else {
        s_print_recommendation(r);
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

/* ------------------------------------------------------------------ dispatch */

int cmd_dispatch(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("request-id")};
    char *pos[1 + DISPATCH_UNITS_MAX];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, N(pos), &npos, USAGE_DISPATCH);
    if (rc || (rc = s_check_call_id(npos, pos, USAGE_DISPATCH)))
        return rc;
    for (size_t i = 1; i < npos; i++)
        if (!cd_text_is_token(pos[i], CD_UNIT_ID_MAX))
            return cli_usage_error(USAGE_DISPATCH,
                                   "'%s' is not a unit id (1 to %d printable characters without "
                                   "spaces)",
                                   pos[i], CD_UNIT_ID_MAX);
    const char *rid = cli_val(o, N(o), "request-id");
    if ((rc = cli_check_request_id(rid, USAGE_DISPATCH)))
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Dispatch m = CODISPATCH__V1__DISPATCH__INIT;
    m.call_id = pos[0];
    m.n_unit_ids = npos - 1;
    m.unit_ids = pos + 1;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
    req.dispatch = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    return cli_show_call(cli, reply, false);
}

/* ------------------------------------------------------------------ alerts */

int cmd_alerts(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 0, &npos, USAGE_ALERTS);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListAlerts m = CODISPATCH__V1__LIST_ALERTS__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS;
    req.list_alerts = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_ALERT_LIST, &reply)))
        return rc;
    const Codispatch__V1__AlertList *l = reply->alert_list;
    long long now = cli_now_ms();
    if (cli->json) {
        cJSON *obj = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(obj, "alerts");
        for (size_t i = 0; i < l->n_alerts; i++) {
            const Codispatch__V1__Alert *a = l->alerts[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "alert_no", (double)a->alert_no);
            cJSON_AddStringToObject(o, "kind", a->kind ? a->kind : "");
            cli_json_add_string_or_null(o, "call_id", a->call_id);
            cli_json_add_string_or_null(o, "unit_id", a->unit_id);
            cJSON_AddStringToObject(o, "message", a->message ? a->message : "");
            cJSON_AddNumberToObject(o, "raised_ms", (double)a->raised_ms);
            cJSON_AddItemToArray(arr, o);
        }
        cli_print_json(obj);
    } else if (l->n_alerts == 0) {
        printf("no active alerts\n");
    } else {
        printf("%-5s %-18s %-10s %-12s %6s %s\n", "NO", "KIND", "CALL", "UNIT", "AGE", "MESSAGE");
    }
    for (size_t i = 0; !cli->json && i < l->n_alerts; i++) {
        const Codispatch__V1__Alert *a = l->alerts[i];
        char age[16];
        cli_format_duration(cli_age_s(now, a->raised_ms), age, sizeof age);
        printf("%-5llu %-18s %-10s %-12s %6s %s\n", (unsigned long long)a->alert_no,
               a->kind ? a->kind : "", a->call_id && *a->call_id ? a->call_id : "-",
               a->unit_id && *a->unit_id ? a->unit_id : "-", age, a->message ? a->message : "");
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}
