/*  sim_actors.c — the people in the offline simulation: callers (a call comes in), the
 *  dispatcher (offers what the plan did not offer by itself, retries while nobody is free,
 *  closes calls), unit crews (acknowledge — or not —, drive, work the scene, clear) and
 *  supervisors (put a unit back in service).  Every delay is drawn from the sim's seeded
 *  generator, in the order events happen, so a run is reproducible.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_offline.h"

#define S_SEC       1000LL
#define S_MIN       (60 * S_SEC)
#define S_RETRY     (1 * S_MIN)   /* a dispatcher looks again at a call nobody could take */
#define S_GIVE_UP   (240 * S_MIN) /* ... and cancels it after four hours without a unit */
#define S_NEVER     0.03          /* chance a crew never acknowledges an offer */
#define S_ASG_MAX   1024          /* assignments of one call we look at */
#define S_SPEED_KMH 40.0          /* the engine's ETA speed */

/* Minutes on scene, by call type (the order of sim_call_types). */
static const double S_SCENE_MIN[SIM_CALL_TYPES][2] = {
    {30, 90}, {45, 120}, {20, 60}, {15, 45}, {20, 60}, {20, 50}, {30, 90}, {30, 90}, {15, 45}};

#define S_DISPOSITIONS 6
static const char *const S_DISPOSITION[S_DISPOSITIONS] = {
    "resolved_on_scene", "transported_voluntary", "transported_involuntary",
    "referred",          "police_requested",      "no_contact"};
/* How calls of each type end, relative weights (the order of sim_call_types). */
static const double S_DISPOSITION_W[SIM_CALL_TYPES][S_DISPOSITIONS] = {
    {50, 15, 8, 20, 3, 4}, {30, 25, 30, 10, 3, 2}, {35, 35, 3, 20, 2, 5},
    {55, 5, 2, 25, 1, 12}, {40, 15, 0, 40, 0, 5},  {30, 60, 0, 5, 0, 5},
    {80, 15, 0, 0, 0, 5},  {30, 5, 20, 5, 35, 5},  {50, 5, 0, 35, 2, 8}};

/* A delay of whole seconds between lo and hi. */
static int64_t s_delay(sim_state_t *s, double lo_s, double hi_s)
{
    return (int64_t)sim_rng_between(&s->rng, lo_s, hi_s) * S_SEC;
}

static double s_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * atan2(sqrt(a), sqrt(1 - a));
}

static cd_ctx_t s_ctx(const sim_state_t *s, const char *actor)
{
    return (cd_ctx_t){.now_ms = s->now, .actor = actor, .request_id = NULL};
}

/* The call's assignments, oldest first; returns how many. */
static size_t s_assignments(sim_state_t *s, const char *call_id, const cd_assignment_t **out)
{
    return cd_engine_call_assignments(s->e, call_id, S_ASG_MAX, out);
}

static bool s_any_active(sim_state_t *s, const char *call_id)
{
    const cd_assignment_t *a[S_ASG_MAX];
    size_t n = s_assignments(s, call_id, a);
    for (size_t i = 0; i < n; i++)
        if (cd_assign_is_active(a[i]))
            return true;
    return false;
}

/* True when a group of the call's plan has no unit (under closest: the call has none). */
static bool s_unfilled(sim_state_t *s, const cd_call_t *call)
{
    if (s->st.policy == SIM_POLICY_CLOSEST)
        return !s_any_active(s, call->id);
    const cd_assignment_t *a[S_ASG_MAX];
    size_t n = s_assignments(s, call->id, a);
    cd_plan_t plan;
    cd_engine_effective_plan(s->e, call, &plan);
    for (int g = 0; g < plan.n_groups; g++) {
        bool filled = false;
        for (size_t i = 0; i < n && !filled; i++)
            filled = a[i]->group == g && cd_assign_is_active(a[i]);
        if (!filled)
            return true;
    }
    return false;
}

/* The nearest available unit of any type (ties: the lower id), or NULL. */
static const char *s_nearest(sim_state_t *s, const cd_call_t *call, char *out, size_t cap)
{
    const cd_unit_t **units = cd_xmalloc((s->n_units ? s->n_units : 1) * sizeof *units);
    size_t n = cd_engine_list_units(s->e, CD_UNIT_AVAILABLE, s->n_units, units);
    const cd_unit_t *best = NULL;
    double best_km = 0;
    for (size_t i = 0; i < n; i++) {
        /* A unit with no known position comes after every unit with one. */
        double km =
            units[i]->has_position ? s_km(units[i]->lat, units[i]->lon, call->lat, call->lon) : 1e9;
        if (!best || km < best_km) {
            best = units[i];
            best_km = km;
        }
    }
    if (best)
        cd_copy(out, cap, best->id);
    free(units);
    return best ? out : NULL;
}

/* ------------------------------------------------------------------ calls */

static void s_call_in(sim_state_t *s, int c)
{
    const sim_call_t *k = &s->calls[c];
    sim_call_state_t *cs = &s->cs[c];
    cd_call_input_t in = {.type = k->type,
                          .has_priority = true,
                          .priority = k->priority,
                          .has_lat = true,
                          .has_lon = true,
                          .lat = k->lat,
                          .lon = k->lon,
                          .area = k->area,
                          .language = k->language[0] ? k->language : NULL,
                          .risk = k->risk,
                          .summary = k->summary};
    cd_ctx_t ctx = s_ctx(s, "console");
    const cd_call_t *call = NULL;
    cd_error_t err;
    if (cd_engine_create_call(s->e, &ctx, &in, &call, &err) != CD_OK) {
        sim_fail(s, "creating a call", &err);
        return;
    }
    cd_copy(cs->id, sizeof cs->id, call->id);
    cs->created_ms = s->now;
    if (sim_call_ref(s, cs->id) != c) {
        sim_fail(s, "the engine numbered a call out of order", NULL);
        return;
    }
    /* The plan may have offered the call already (auto-dispatch); the dispatcher first looks
     * at the others after reading the call, and at those to retry what was left open. */
    cd_plan_t plan;
    if (s->st.policy == SIM_POLICY_CLOSEST)
        sim_default_plan(k->type, k->risk, &plan); /* its timing, our choice of unit */
    else
        cd_engine_effective_plan(s->e, call, &plan);
    bool automatic = plan.auto_dispatch_max_priority >= k->priority;
    int64_t look = !automatic                           ? s_delay(s, 30, 120)
                   : s->st.policy == SIM_POLICY_CLOSEST ? 0
                                                        : S_RETRY;
    sim_push(s, s->now + look, SIM_EV_DISPATCH, c, 0);
}

static void s_dispatcher(sim_state_t *s, int c)
{
    sim_call_state_t *cs = &s->cs[c];
    if (cs->done || cs->n_cleared > 0)
        return; /* closed, or winding down: its units are finishing */
    const cd_call_t *call = cd_engine_find_call(s->e, cs->id);
    if (!call || !cd_call_is_open(call))
        return;
    cd_ctx_t ctx = s_ctx(s, "dispatcher");
    cd_error_t err;
    if (!cs->first_scene_ms && s->now - cs->created_ms >= S_GIVE_UP && !s_any_active(s, cs->id)) {
        if (cd_engine_cancel_call(s->e, &ctx, cs->id, "no unit became available", NULL, &err))
            sim_fail(s, "cancelling a call", &err);
        cs->done = true;
        cs->done_ms = s->now;
        s->st.cancelled++;
        return;
    }
    if (s_unfilled(s, call)) {
        int rc;
        if (s->st.policy == SIM_POLICY_CLOSEST) {
            char unit[CD_UNIT_ID_MAX + 1];
            const char *ids[1] = {s_nearest(s, call, unit, sizeof unit)};
            rc = ids[0] ? cd_engine_dispatch(s->e, &ctx, cs->id, ids, 1, NULL, &err) : CD_OK;
        } else {
            rc = cd_engine_dispatch(s->e, &ctx, cs->id, NULL, 0, NULL, &err);
        }
        /* A conflict is "nobody eligible is free": the call waits for the next look. */
        if (rc != CD_OK && rc != CD_ECONFLICT) {
            sim_fail(s, "dispatching", &err);
            return;
        }
    }
    sim_push(s, s->now + S_RETRY, SIM_EV_DISPATCH, c, 0);
}

/* Closes a winding-down call once its last unit has gone, as a dispatcher would. */
static void s_maybe_close(sim_state_t *s, int c)
{
    sim_call_state_t *cs = &s->cs[c];
    if (cs->done || cs->n_cleared == 0)
        return;
    const cd_call_t *call = cd_engine_find_call(s->e, cs->id);
    if (!call || !cd_call_is_open(call) || s_any_active(s, cs->id))
        return;
    int t = sim_call_type_index(s->calls[c].type);
    const char *d = S_DISPOSITION[sim_rng_pick(&s->rng, S_DISPOSITION_W[t], S_DISPOSITIONS)];
    cd_ctx_t ctx = s_ctx(s, "dispatcher");
    cd_error_t err;
    if (cd_engine_close_call(s->e, &ctx, cs->id, d, NULL, &err) != CD_OK) {
        sim_fail(s, "closing a call", &err);
        return;
    }
    cs->done = true;
    cs->done_ms = s->now;
    s->st.closed++;
}

/* ------------------------------------------------------------------ units */

void sim_offered(sim_state_t *s, int c, int u, int64_t asg)
{
    sim_call_state_t *cs = &s->cs[c];
    const sim_call_t *k = &s->calls[c];
    const char *type = s->by_id[u]->type;
    s->st.assignments++;
    if (!cs->first_offer_ms)
        cs->first_offer_ms = s->now;
    /* Judged against the default plan whatever the policy, so policies compare. */
    cd_plan_t def;
    sim_default_plan(k->type, k->risk, &def);
    if (cd_plan_forbids(&def, type))
        s->st.forbidden_assignments++;
    else if (sim_plan_lists(&def, type))
        s->st.type_matched++;
    if (strcmp(type, "patrol") == 0 || strcmp(type, "smart") == 0)
        cs->police = true;
    if (sim_rng_chance(&s->rng, S_NEVER))
        return; /* the crew never answers: the engine's ack timer takes over */
    /* Most crews answer within 20 s; a few take nearly a minute, past a P1 call's 45 s. */
    double x = sim_rng_unit(&s->rng);
    sim_push(s, s->now + (int64_t)(10 + 50 * x * x) * S_SEC, SIM_EV_ACK, u, asg);
}

/* The unit's assignment if it is still number asg in status want (the crew's plan is stale
 * otherwise: the offer timed out, the call was closed). */
static const cd_assignment_t *s_current(sim_state_t *s, int u, int64_t asg, cd_assign_status_t want)
{
    const cd_unit_t *eu = cd_engine_find_unit(s->e, s->by_id[u]->id);
    if (!eu || !eu->assignment_id[0])
        return NULL;
    const cd_assignment_t *a = cd_engine_find_assignment(s->e, eu->assignment_id);
    return a && a->no == asg && a->status == want ? a : NULL;
}

static void s_unit_step(sim_state_t *s, const sim_ev_t *ev)
{
    static const cd_assign_status_t want[] = {
        [SIM_EV_ACK] = CD_ASG_OFFERED,
        [SIM_EV_EN_ROUTE] = CD_ASG_ACKNOWLEDGED,
        [SIM_EV_ON_SCENE] = CD_ASG_EN_ROUTE,
        [SIM_EV_CLEAR] = CD_ASG_ON_SCENE,
    };
    const cd_assignment_t *a = s_current(s, ev->ref, ev->asg, want[ev->kind]);
    if (!a)
        return;
    const char *unit = s->by_id[ev->ref]->id;
    char call_id[CD_CALL_ID_MAX + 1], actor[CD_UNIT_ID_MAX + 8];
    cd_copy(call_id, sizeof call_id, a->call_id); /* a is the engine's: copy before commands */
    snprintf(actor, sizeof actor, "unit:%s", unit);
    cd_ctx_t ctx = s_ctx(s, actor);
    int c = sim_call_ref(s, call_id);
    const cd_call_t *call = cd_engine_find_call(s->e, call_id);
    const cd_unit_t *eu = cd_engine_find_unit(s->e, unit);
    if (c < 0 || !call || !eu) {
        sim_fail(s, "a unit's call is unknown", NULL);
        return;
    }
    double lat = call->lat, lon = call->lon;
    cd_error_t err;
    int rc = CD_OK;
    switch (ev->kind) {
    case SIM_EV_ACK:
        rc = cd_engine_unit_ack(s->e, &ctx, unit, call_id, &err);
        sim_push(s, s->now + s_delay(s, 5, 45), SIM_EV_EN_ROUTE, ev->ref, ev->asg);
        break;
    case SIM_EV_EN_ROUTE: {
        /* Great-circle at the ETA speed, a little slower in traffic, a minute to park. */
        double km = eu->has_position ? s_km(eu->lat, eu->lon, lat, lon) : 10.0;
        double drive_s = km / S_SPEED_KMH * 3600.0 * sim_rng_between(&s->rng, 1.0, 1.3) + 60;
        rc = cd_engine_unit_status(s->e, &ctx, unit, CD_UNIT_EN_ROUTE, &err);
        sim_push(s, s->now + (int64_t)drive_s * S_SEC, SIM_EV_ON_SCENE, ev->ref, ev->asg);
        break;
    }
    case SIM_EV_ON_SCENE: {
        rc = cd_engine_unit_position(s->e, &ctx, unit, lat, lon, &err);
        if (rc == CD_OK)
            rc = cd_engine_unit_status(s->e, &ctx, unit, CD_UNIT_ON_SCENE, &err);
        sim_call_state_t *cs = &s->cs[c];
        if (!cs->first_scene_ms)
            cs->first_scene_ms = s->now;
        eu = cd_engine_find_unit(s->e, unit);
        if (eu && cd_unit_speaks(eu, s->calls[c].language))
            cs->lang_matched = true;
        const double *m = S_SCENE_MIN[sim_call_type_index(s->calls[c].type)];
        sim_push(s, s->now + s_delay(s, m[0] * 60, m[1] * 60), SIM_EV_CLEAR, ev->ref, ev->asg);
        break;
    }
    default: /* SIM_EV_CLEAR */
        rc = cd_engine_unit_status(s->e, &ctx, unit, CD_UNIT_AVAILABLE, &err);
        s->cs[c].n_cleared++;
        if (rc == CD_OK)
            s_maybe_close(s, c);
        break;
    }
    if (rc != CD_OK)
        sim_fail(s, unit, &err);
}

static void s_restore(sim_state_t *s, int u)
{
    const cd_unit_t *eu = cd_engine_find_unit(s->e, s->by_id[u]->id);
    if (!eu || eu->status != CD_UNIT_OUT_OF_SERVICE)
        return;
    cd_unit_input_t in = {.id = s->by_id[u]->id, .status = CD_UNIT_AVAILABLE};
    cd_ctx_t ctx = s_ctx(s, "supervisor");
    cd_error_t err;
    if (cd_engine_update_unit(s->e, &ctx, &in, NULL, &err) != CD_OK)
        sim_fail(s, in.id, &err);
}

void sim_handle(sim_state_t *s, const sim_ev_t *ev)
{
    switch (ev->kind) {
    case SIM_EV_CALL:
        s_call_in(s, ev->ref);
        break;
    case SIM_EV_DISPATCH:
        s_dispatcher(s, ev->ref);
        break;
    case SIM_EV_ACK:
    case SIM_EV_EN_ROUTE:
    case SIM_EV_ON_SCENE:
    case SIM_EV_CLEAR:
        s_unit_step(s, ev);
        break;
    case SIM_EV_RESTORE:
        s_restore(s, ev->ref);
        break;
    case SIM_EV_CHECK_CLOSE:
        s_maybe_close(s, ev->ref);
        break;
    }
}
