/*  sim_plans.c — the response plans the offline simulation compares.
 *
 *  plan            the product's defaults: the plans migration 0002 seeds (kept in step with
 *                  src/store/migrations/0002_dispatch.sql by hand; a test of the engine's
 *                  behaviour under them is the point of the simulator)
 *  closest         any unit type, nearest first (the simulated dispatcher picks the unit)
 *  police_default  a patrol for everything: the status quo the programme replaces
 *
 *  Metrics judge every policy against the default plans, so the policies are comparable.
 */
#include <string.h>

#include "cli_sim.h"

typedef struct s_default {
    const char *key;
    cd_plan_mode_t mode;
    const char *groups;
    const char *forbidden; /* one type or NULL */
    int auto_max;
    const char *description;
} s_default_t;

/* As seeded by 0002_dispatch.sql. */
static const s_default_t S_DEFAULTS[] = {
    {"mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol", 2,
     "A clinician team or a van; an APRU when none is free"},
    {"suicide_risk", CD_PLAN_BASE, "mh_team>apru,therapeutic_van", "patrol", 2,
     "A mental-health team first"},
    {"substance", CD_PLAN_BASE, "sober>apru,rescue_ambulance", "patrol", 2,
     "A SOBER unit; an APRU or ambulance when none is free"},
    {"welfare_check", CD_PLAN_BASE, "therapeutic_van,mh_team>apru", "patrol", 0,
     "Non-urgent: a dispatcher decides"},
    {"homeless_outreach", CD_PLAN_BASE, "therapeutic_van>mh_team", "patrol", 0,
     "Outreach by van or team"},
    {"medical", CD_PLAN_BASE, "rescue_ambulance,apru>fire_engine", "patrol", 2, "Fire/EMS"},
    {"fire", CD_PLAN_BASE, "fire_engine;rescue_ambulance", "patrol", 4,
     "An engine and an ambulance"},
    {"violent_crisis", CD_PLAN_BASE, "smart;patrol", NULL, 4, "Co-response with police"},
    {"other", CD_PLAN_BASE, "mh_team,therapeutic_van,apru", "patrol", 0, "A dispatcher decides"},
    {"flag:weapon", CD_PLAN_REPLACE, "smart;patrol", NULL, 4,
     "A weapon: SMART co-response and a patrol, whatever the call type"},
    {"flag:violence", CD_PLAN_REPLACE, "smart>patrol", NULL, 0,
     "Violence: SMART co-response, a patrol when none is free"},
    {"flag:medical", CD_PLAN_ADD, "rescue_ambulance", NULL, 0, "A medical need adds an ambulance"},
};
#define S_NDEFAULTS (sizeof S_DEFAULTS / sizeof S_DEFAULTS[0])
#define S_NBASE     SIM_CALL_TYPES /* the first rows are the base plans */

/* A tier holds at most CD_PLAN_TYPES_MAX (6) types, so "any type, nearest first" cannot be
 * one tier of all eight: the sim's dispatcher names the nearest unit itself, and this plan
 * only has to list every type (for the engine's own re-offer after a missed ack). */
static const char *const S_ANY_TYPE = "mh_team,apru,sober,therapeutic_van,smart,rescue_ambulance>"
                                      "fire_engine,patrol";

static cd_plan_t s_plans[S_NDEFAULTS];
static bool s_ready;

static void s_build(cd_plan_t *p, const s_default_t *d)
{
    static const int ack[CD_PRIORITIES] = {45, 60, 90, 120};
    cd_plan_init(p, d->key, d->mode);
    cd_error_t err;
    if (cd_plan_parse_groups(p, d->groups, &err) != CD_OK) /* a typo in the table above */
        fprintf(stderr, "codispatch: default plan %s: %s\n", d->key, err.message);
    if (d->forbidden)
        cd_copy(p->forbidden[p->n_forbidden++], sizeof p->forbidden[0], d->forbidden);
    p->auto_dispatch_max_priority = d->auto_max;
    memcpy(p->ack_timeout_s, ack, sizeof ack); /* pending alert, target: the init defaults */
    p->on_scene_alert_s = 5400;
    cd_copy(p->description, sizeof p->description, d->description);
}

static void s_init(void)
{
    if (s_ready)
        return;
    for (size_t i = 0; i < S_NDEFAULTS; i++)
        s_build(&s_plans[i], &S_DEFAULTS[i]);
    s_ready = true;
}

static const cd_plan_t *s_find(const char *key)
{
    s_init();
    for (size_t i = 0; i < S_NDEFAULTS; i++)
        if (strcmp(s_plans[i].key, key) == 0)
            return &s_plans[i];
    return NULL;
}

int sim_policy_parse(const char *s, sim_policy_t *out)
{
    static const char *const names[] = {"plan", "closest", "police_default"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (sim_policy_t)i;
            return 0;
        }
    return -1;
}

const char *sim_policy_name(sim_policy_t p)
{
    return p == SIM_POLICY_CLOSEST ? "closest" : p == SIM_POLICY_POLICE ? "police_default" : "plan";
}

int sim_set_plans(cd_engine_t *e, sim_policy_t policy, int64_t now_ms, cd_error_t *err)
{
    s_init();
    cd_ctx_t ctx = {.now_ms = now_ms, .actor = "supervisor"};
    /* Flag plans only under the default policy: the others send what they send whatever
     * the risk. */
    size_t n = policy == SIM_POLICY_PLAN ? S_NDEFAULTS : S_NBASE;
    for (size_t i = 0; i < n; i++) {
        cd_plan_t p = s_plans[i];
        if (policy != SIM_POLICY_PLAN) {
            const char *groups = policy == SIM_POLICY_POLICE ? "patrol" : S_ANY_TYPE;
            if (cd_plan_parse_groups(&p, groups, err) != CD_OK)
                return err->code;
            p.n_forbidden = 0;
            /* closest: the sim's dispatcher offers every call itself (see sim_offline.c),
             * with the same timing the default plan's auto-dispatch would have. */
            if (policy == SIM_POLICY_CLOSEST)
                p.auto_dispatch_max_priority = 0;
        }
        int rc = cd_engine_set_plan(e, &ctx, &p, NULL, err);
        if (rc)
            return rc;
    }
    return CD_OK;
}

void sim_default_plan(const char *type, unsigned risk, cd_plan_t *out)
{
    const cd_plan_t *flags[3] = {
        risk & CD_RISK_WEAPON ? s_find("flag:weapon") : NULL,
        risk & CD_RISK_VIOLENCE ? s_find("flag:violence") : NULL,
        risk & CD_RISK_MEDICAL ? s_find("flag:medical") : NULL,
    };
    cd_plan_resolve(s_find(type), flags, 3, out);
}

bool sim_plan_lists(const cd_plan_t *p, const char *unit_type)
{
    for (int g = 0; g < p->n_groups; g++)
        if (cd_plan_tier_of(p, g, unit_type))
            return true;
    return false;
}
