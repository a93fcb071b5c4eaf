/*  sim_run_report.c — the summary of `codispatch sim run`.
 *
 *  Read back from the server (GetCall for every call the run made), so it reports what the
 *  server did and recorded, whatever the tablets believed.  Times are in simulated seconds:
 *  the server's real milliseconds times the speed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_run.h"

static const sim_unit_t *s_roster_unit(const sr_run_t *r, const char *id)
{
    for (size_t i = 0; i < r->n_units; i++)
        if (strcmp(r->roster[i].id, id) == 0)
            return &r->roster[i];
    return NULL;
}

static const cd_plan_t *s_plan(const sr_run_t *r, const char *key)
{
    for (size_t i = 0; i < r->n_plans; i++)
        if (strcmp(r->plans[i].key, key) == 0)
            return &r->plans[i];
    return NULL;
}

void sr_effective_plan(const sr_run_t *r, const char *type, bool weapon, bool violence,
                       bool medical, cd_plan_t *out)
{
    const cd_plan_t *flags[3] = {
        weapon ? s_plan(r, "flag:weapon") : NULL,
        violence ? s_plan(r, "flag:violence") : NULL,
        medical ? s_plan(r, "flag:medical") : NULL,
    };
    const cd_plan_t *base = s_plan(r, type);
    cd_plan_resolve(base ? base : s_plan(r, "other"), flags, 3, out);
}

/* The primary language subtags match: a caller speaking zh-Hant is served in zh. */
static bool s_speaks(const sim_unit_t *u, const char *lang)
{
    size_t n = strcspn(lang, "-");
    for (int i = 0; u && i < u->n_languages; i++)
        if (strcspn(u->languages[i], "-") == n && strncasecmp(u->languages[i], lang, n) == 0)
            return true;
    return false;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double s_pct(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)ceil(p * (double)n);
    return v[k ? k - 1 : 0];
}

int sr_report(sr_run_t *r, int64_t wall_ms)
{
    size_t dispatched = 0, assignments = 0, matched = 0, forbidden = 0, lang_calls = 0,
           lang_matched = 0, timeouts = 0, declines = 0, police = 0, n_resp = 0, closed = 0;
    double *resp = cd_xcalloc(r->n_calls + 1, sizeof *resp), max_pending = 0;
    double k = r->speed / 1000.0; /* real ms -> simulated s */
    cJSON *open = cJSON_CreateArray();
    for (size_t i = 0; i < r->n_calls; i++) {
        sr_call_t *c = &r->calls[i];
        if (c->state == SR_NEW || !*c->id)
            continue;
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__GetCall m = CODISPATCH__V1__GET_CALL__INIT;
        m.call_id = c->id;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
        req.get_call = &m;
        int rc;
        Codispatch__V1__Envelope *reply =
            sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_CALL, false, &rc);
        if (!reply)
            continue;
        const Codispatch__V1__Call *call = reply->call;
        if (call->status == CODISPATCH__V1__CALL_STATUS__CALL_CLOSED)
            closed++;
        else
            cJSON_AddItemToArray(open, cJSON_CreateString(c->id));
        cd_plan_t plan;
        sr_effective_plan(r, call->type ? call->type : "", call->weapon, call->violence,
                          call->medical, &plan);
        const char *lang = call->language ? call->language : "";
        bool foreign = *lang && !(strcspn(lang, "-") == 2 && strncasecmp(lang, "en", 2) == 0);
        bool lang_ok = false, cop = false;
        int64_t first_offer = 0, first_scene = 0;
        for (size_t a = 0; a < call->n_assignments; a++) {
            const Codispatch__V1__Assignment *as = call->assignments[a];
            const char *type = as->unit_type ? as->unit_type : "";
            bool in_plan = false;
            for (int g = 0; g < plan.n_groups && !in_plan; g++)
                in_plan = cd_plan_tier_of(&plan, g, type) > 0;
            bool banned = cd_plan_forbids(&plan, type);
            assignments++;
            matched += in_plan && !banned;
            forbidden += banned;
            timeouts += as->status && strcmp(as->status, "timed_out") == 0;
            declines += as->status && strcmp(as->status, "declined") == 0;
            if (!first_offer || as->offered_ms < first_offer)
                first_offer = as->offered_ms;
            if (as->has_on_scene_ms && (!first_scene || as->on_scene_ms < first_scene))
                first_scene = as->on_scene_ms;
            if (as->has_acked_ms) { /* units that took the call, not ones that passed */
                lang_ok |= s_speaks(s_roster_unit(r, as->unit_id ? as->unit_id : ""), lang);
                cop |= strcmp(type, "patrol") == 0 || strcmp(type, "smart") == 0;
            }
        }
        dispatched += call->n_assignments > 0;
        lang_calls += foreign;
        lang_matched += foreign && lang_ok;
        police += cop;
        if (first_scene)
            resp[n_resp++] = (double)(first_scene - call->created_ms) * k;
        int64_t waited = (first_offer ? first_offer : cli_now_ms()) - call->created_ms;
        max_pending = fmax(max_pending, (double)waited * k);
        cdc_envelope_free(reply);
    }
    qsort(resp, n_resp, sizeof *resp, s_cmp_double);
    double p50 = round(s_pct(resp, n_resp, 0.5)), p90 = round(s_pct(resp, n_resp, 0.9));
    free(resp);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "calls", (double)r->n_calls);
    cJSON_AddNumberToObject(o, "created", (double)r->created);
    cJSON_AddNumberToObject(o, "closed", (double)closed);
    cJSON_AddNumberToObject(o, "dispatched", (double)dispatched);
    cJSON_AddNumberToObject(o, "never_dispatched", (double)(r->created - dispatched));
    cJSON_AddNumberToObject(o, "assignments", (double)assignments);
    cJSON_AddNumberToObject(o, "type_match_rate",
                            assignments ? round(1000.0 * (double)matched / assignments) / 1000 : 0);
    cJSON_AddNumberToObject(o, "forbidden_assignments", (double)forbidden);
    cJSON_AddNumberToObject(o, "language_calls", (double)lang_calls);
    cJSON_AddNumberToObject(o, "language_matched", (double)lang_matched);
    cJSON_AddNumberToObject(o, "response_p50_s", p50);
    cJSON_AddNumberToObject(o, "response_p90_s", p90);
    cJSON_AddNumberToObject(o, "ack_timeouts", (double)timeouts);
    cJSON_AddNumberToObject(o, "declines", (double)declines);
    cJSON_AddNumberToObject(o, "police_involved", (double)police);
    cJSON_AddNumberToObject(o, "max_pending_s", round(max_pending));
    cJSON_AddNumberToObject(o, "dispatch_requests", (double)r->dispatches);
    cJSON_AddNumberToObject(o, "dispatch_refused", (double)r->refusals);
    cJSON_AddNumberToObject(o, "tablet_requests_unanswered", (double)r->given_up);
    cJSON_AddNumberToObject(o, "speed", r->speed);
    cJSON_AddNumberToObject(o, "wall_s", round((double)wall_ms / 100.0) / 10);
    cJSON_AddItemToObject(o, "left_open", open);
    int left = cJSON_GetArraySize(open), rc = left || r->created < r->n_calls ? CLI_REFUSED : 0;
    if (r->cli->json) {
        cli_print_json(o);
        return rc;
    }
    printf("calls            %zu created of %zu, %zu closed, %d left open\n", r->created,
           r->n_calls, closed, left);
    printf("dispatched       %zu (never dispatched: %zu)\n", dispatched, r->created - dispatched);
    printf("assignments      %zu; %.1f%% of a type the plan asks for, %zu forbidden\n", assignments,
           assignments ? 100.0 * (double)matched / assignments : 0.0, forbidden);
    printf("languages        %zu of %zu calls in another language served in it\n", lang_matched,
           lang_calls);
    printf("response         p50 %.0f s, p90 %.0f s (simulated; creation to first on scene)\n", p50,
           p90);
    printf("acks             %zu timed out, %zu declined\n", timeouts, declines);
    printf("police           %zu calls with a patrol or SMART unit\n", police);
    printf("longest wait     %.0f s simulated before the first offer\n", max_pending);
    printf("wall time        %.1f s at speed %g\n", (double)wall_ms / 1000.0, r->speed);
    for (int i = 0; i < left; i++)
        printf("left open        %s\n", cJSON_GetArrayItem(open, i)->valuestring);
    cJSON_Delete(o);
    return rc;
}
