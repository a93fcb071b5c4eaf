/* Recommendation, dispatch, re-offers and alerts (the timers are in cd_engine_timers.c). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_engine_int.h"
#include "cd_json.h"

/* ------------------------------------------------------------------ distances */

static double s_km(double lat1, double lon1, double lat2, double lon2)
{
    const double r = 6371.0, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * atan2(sqrt(a), sqrt(1 - a));
}

/* ------------------------------------------------------------------ candidates */

/* True when the unit ended an assignment on this call by declining or timing out: it is not
 * offered the same call again (a dispatcher may still name it). */
static bool s_refused_before(const cd_call_t *c, const cd_unit_t *u)
{
    for (int i = 0; i < c->n_asg; i++)
        if (strcmp(c->asg[i]->unit_id, u->id) == 0 &&
            (c->asg[i]->status == CD_ASG_DECLINED || c->asg[i]->status == CD_ASG_TIMED_OUT))
            return true;
    return false;
}

static bool s_group_filled(const cd_call_t *c, int g)
{
    for (int i = 0; i < c->n_asg; i++)
        if (c->asg[i]->group == g && cd_assign_is_active(c->asg[i]))
            return true;
    return false;
}

static bool s_meets_requirements(const cd_plan_t *plan, const cd_unit_t *u)
{
    for (int i = 0; i < plan->n_requires; i++)
        if (!cd_unit_has_capability(u, plan->requires[i]))
            return false;
    return true;
}

static void s_reason(cd_candidate_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_reason(cd_candidate_t *c, const char *fmt, ...)
{
    if (c->n_reasons == 4)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->reasons[c->n_reasons++], sizeof c->reasons[0], fmt, ap);
    va_end(ap);
}

static void s_describe(const cd_engine_t *self, const cd_call_t *call, cd_candidate_t *c,
                       int64_t now_ms, double km)
{
    const cd_unit_t *u = c->unit;
    if (c->tier == 1)
        s_reason(c, "first choice (%s)", u->type);
    else
        s_reason(c, "fallback, tier %d (%s)", c->tier, u->type);
    if (c->eta_known)
        s_reason(c, "%.1f km, about %d min", km, (c->eta_s + 59) / 60);
    else
        s_reason(c, "position unknown");
    if (call->language[0])
        s_reason(c, c->language_match ? "speaks %s (counts as %d min closer)" : "does not speak %s",
                 call->language, self->cfg.language_bonus_s / 60);
    if (u->last_dispatch_ms)
        s_reason(c, "last dispatched %lld min ago",
                 (long long)((now_ms - u->last_dispatch_ms) / 60000));
    else
        s_reason(c, "not dispatched yet");
}

/* Ranking: tier, then known position, then ETA less the language bonus, then the least
 * recently dispatched, then id (so equal units rank the same way every time). */
static int s_rank(const void *pa, const void *pb)
{
    const cd_candidate_t *a = pa, *b = pb;
    if (a->tier != b->tier)
        return a->tier - b->tier;
    if (a->eta_known != b->eta_known)
        return a->eta_known ? -1 : 1;
    /* The bonus was folded into eff (stored in group's sort key below). */
    return 0;
}

typedef struct s_scored {
    cd_candidate_t c;
    int64_t eff_s; /* ETA less the language bonus */
} s_scored_t;

static int s_rank_scored(const void *pa, const void *pb)
{
    const s_scored_t *a = pa, *b = pb;
    int r = s_rank(&a->c, &b->c);
    if (r)
        return r;
    if (a->eff_s != b->eff_s)
        return a->eff_s < b->eff_s ? -1 : 1;
    if (a->c.unit->last_dispatch_ms != b->c.unit->last_dispatch_ms)
        return a->c.unit->last_dispatch_ms < b->c.unit->last_dispatch_ms ? -1 : 1;
    return strcmp(a->c.unit->id, b->c.unit->id);
}

/* Fills out[] with the eligible units for group g, best first; returns how many (at most
 * max). */
static int s_candidates(const cd_engine_t *self, const cd_call_t *call, const cd_plan_t *plan,
                        int g, int64_t now_ms, cd_candidate_t *out, int max)
{
    size_t cap = HASH_COUNT(self->units);
    s_scored_t *all = cd_xcalloc(cap ? cap : 1, sizeof *all);
    int n = 0;
    for (const cd_unit_t *u = self->units; u; u = u->hh.next) {
        if (u->removed || u->status != CD_UNIT_AVAILABLE || cd_plan_forbids(plan, u->type))
            continue;
        int tier = cd_plan_tier_of(plan, g, u->type);
        if (!tier || !s_meets_requirements(plan, u) || s_refused_before(call, u) ||
            !cd_engine_unit_reachable(self, u, now_ms))
            continue;
        s_scored_t *s = &all[n++];
        s->c.unit = u;
        s->c.group = g;
        s->c.tier = tier;
        double km = 0;
        if (u->has_position) {
            km = s_km(u->lat, u->lon, call->lat, call->lon);
            s->c.eta_known = true;
            s->c.eta_s = (int)lround(km / self->cfg.speed_kmh * 3600.0);
        }
        s->c.language_match = cd_unit_speaks(u, call->language);
        s->eff_s = s->c.eta_s - (s->c.language_match ? self->cfg.language_bonus_s : 0);
        s_describe(self, call, &s->c, now_ms, km);
    }
    qsort(all, (size_t)n, sizeof *all, s_rank_scored);
    if (n > max)
        n = max;
    for (int i = 0; i < n; i++)
        out[i] = all[i].c;
    free(all);
    return n;
}

/* "no available unit for sober>apru (2 off_duty, 1 en_route)" */
static void s_why_none(const cd_engine_t *self, const cd_plan_t *plan, int g, char *out, size_t cap)
{
    int count[CD_UNIT_STATUS_COUNT] = {0}, total = 0, forbidden = 0;
    for (const cd_unit_t *u = self->units; u; u = u->hh.next) {
        if (u->removed || !cd_plan_tier_of(plan, g, u->type))
            continue;
        if (cd_plan_forbids(plan, u->type)) {
            forbidden++;
            continue;
        }
        count[u->status]++;
        total++;
    }
    char types[CD_PLAN_TEXT_MAX + 1];
    cd_plan_format_groups(&plan->groups[g], 1, types, sizeof types);
    if (total == 0 && forbidden > 0) {
        /* A flag plan asked for a type the base plan forbids: say so, not "none exist". */
        snprintf(out, cap, "the plan asks for %.200s but also forbids it", types);
        return;
    }
    if (total == 0) {
        snprintf(out, cap, "no %.200s unit on the roster", types);
        return;
    }
    size_t used = (size_t)snprintf(out, cap, "no available %.200s unit (", types);
    bool first = true;
    for (int s = 1; s < CD_UNIT_STATUS_COUNT && used < cap; s++) {
        if (!count[s])
            continue;
        used += (size_t)snprintf(out + used, cap - used, "%s%d %s", first ? "" : ", ", count[s],
                                 s == CD_UNIT_AVAILABLE ? "available but not eligible"
                                                        : cd_unit_status_name(s));
        first = false;
    }
    if (used < cap)
        snprintf(out + used, cap - used, ")");
}

static void s_append_why(char *why, size_t cap, const char *part)
{
    size_t used = strlen(why);
    if (used && used + 2 < cap) {
        memcpy(why + used, "; ", 3);
        used += 2;
    }
    if (used < cap)
        snprintf(why + used, cap - used, "%s", part);
}

int cd_engine_recommend(const cd_engine_t *self, int64_t now_ms, const char *call_id,
                        cd_recommendation_t *out, cd_error_t *err)
{
    memset(out, 0, sizeof *out);
    const cd_call_t *call = cd__call(self, call_id);
    if (!call_id || !*call_id)
        return cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
    if (!call)
        return cd_error_set(err, CD_ENOTFOUND, "call_id", "call %.20s does not exist", call_id);
    if (!cd_call_is_open(call))
        return cd_error_set(err, CD_ECONFLICT, "call_id", "call %s is %s", call->id,
                            cd_call_status_name(call->status));
    cd_plan_t plan;
    cd_engine_effective_plan(self, call, &plan);
    cd_plan_format_groups(plan.groups, plan.n_groups, out->plan, sizeof out->plan);
    if (plan.n_groups == 0)
        snprintf(out->why_none, sizeof out->why_none, "no response plan for call type %s",
                 call->type);
    bool any_open = false;
    for (int g = 0; g < plan.n_groups; g++) {
        if (s_group_filled(call, g))
            continue;
        any_open = true;
        if (out->n == CD_RECOMMEND_MAX)
            break; /* the list is full; later groups are not "empty" */
        int n = s_candidates(self, call, &plan, g, now_ms, out->items + out->n,
                             CD_RECOMMEND_MAX - out->n);
        out->n += n;
        if (n == 0) {
            char why[CD_ERROR_MESSAGE_MAX];
            s_why_none(self, &plan, g, why, sizeof why);
            s_append_why(out->why_none, sizeof out->why_none, why);
        }
    }
    if (plan.n_groups && !any_open)
        snprintf(out->why_none, sizeof out->why_none,
                 "call %s has a unit for every group of its plan", call->id);
    return CD_OK;
}

/* ------------------------------------------------------------------ offers */

/* The words behind an automatic choice, for the audit trail: "ranked first: ...". */
static void s_why_chosen(const cd_candidate_t *c, const char *how, char *out, size_t cap)
{
    size_t used = (size_t)snprintf(out, cap, "%s", how);
    for (int i = 0; i < c->n_reasons && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? "; " : ": ", c->reasons[i]);
    cd_text_utf8_trim(out);
}

/* Offers the call to u for plan group g.  why goes into the event (the audit trail). */
static void s_offer(cd_engine_t *self, const cd_ctx_t *ctx, cd_call_t *call, const cd_plan_t *plan,
                    cd_unit_t *u, int g, int eta_s, const char *why)
{
    cd_assignment_t a = {0};
    a.no = self->last_asg_no + 1;
    cd_assign_format_id(a.id, a.no);
    cd_copy(a.call_id, sizeof a.call_id, call->id);
    cd_copy(a.unit_id, sizeof a.unit_id, u->id);
    cd_copy(a.unit_type, sizeof a.unit_type, u->type);
    a.group = g;
    a.status = CD_ASG_OFFERED;
    a.offered_ms = ctx->now_ms;
    a.ack_deadline_ms = ctx->now_ms + (int64_t)plan->ack_timeout_s[call->priority - 1] * 1000;
    a.eta_s = eta_s;
    a.last_seq = self->last_seq + 1;
    cJSON *payload = cd_assign_to_json(&a);
    cJSON_AddStringToObject(payload, "reason", why);
    cd__emit(self, ctx, CD_EV_ASSIGN_OFFERED, call->id, u->id, payload);
    cd__clear_alerts(self, ctx, call->id, NULL,
                     CD_ALERT_BIT(CD_ALERT_PENDING_TOO_LONG) |
                         CD_ALERT_BIT(CD_ALERT_NO_ELIGIBLE_UNIT));
}

int cd__dispatch_auto(cd_engine_t *self, const cd_ctx_t *ctx, cd_call_t *call, char *why_none,
                      size_t cap)
{
    cd_plan_t plan;
    cd_engine_effective_plan(self, call, &plan);
    why_none[0] = '\0';
    int offered = 0;
    if (plan.n_groups == 0)
        snprintf(why_none, cap, "no response plan for call type %s", call->type);
    for (int g = 0; g < plan.n_groups; g++) {
        if (s_group_filled(call, g))
            continue;
        cd_candidate_t best;
        /* Offering makes the unit assigned, so a later group cannot pick it again. */
        if (s_candidates(self, call, &plan, g, ctx->now_ms, &best, 1) == 1) {
            char why[512];
            s_why_chosen(&best, "ranked first", why, sizeof why);
            s_offer(self, ctx, call, &plan, (cd_unit_t *)best.unit, g,
                    best.eta_known ? best.eta_s : -1, why);
            offered++;
        } else {
            char why[CD_ERROR_MESSAGE_MAX];
            s_why_none(self, &plan, g, why, sizeof why);
            s_append_why(why_none, cap, why);
        }
    }
    return offered;
}

void cd__reoffer(cd_engine_t *self, const cd_ctx_t *ctx, cd_call_t *call, int g)
{
    cd_plan_t plan;
    cd_engine_effective_plan(self, call, &plan);
    if (g < 0 || g >= plan.n_groups || s_group_filled(call, g))
        return; /* an extra unit is not replaced automatically */
    cd_candidate_t best;
    if (s_candidates(self, call, &plan, g, ctx->now_ms, &best, 1) == 1) {
        char why[512];
        s_why_chosen(&best, "re-offered to the next ranked unit", why, sizeof why);
        s_offer(self, ctx, call, &plan, (cd_unit_t *)best.unit, g, best.eta_known ? best.eta_s : -1,
                why);
        return;
    }
    char why[CD_ERROR_MESSAGE_MAX];
    s_why_none(self, &plan, g, why, sizeof why);
    cd__raise_alert(self, ctx, CD_ALERT_NO_ELIGIBLE_UNIT, call->id, NULL, "call %s: %s", call->id,
                    why);
}

void cd__end_assignment(cd_engine_t *self, const cd_ctx_t *ctx, cd_assignment_t *a,
                        cd_event_kind_t how, const char *reason, cd_unit_status_t unit_after,
                        bool reoffer)
{
    cd_unit_t *u = cd__unit(self, a->unit_id);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "assignment_id", a->id);
    cJSON_AddStringToObject(p, "reason", reason ? reason : "");
    if (how == CD_EV_ASSIGN_TIMED_OUT && u) {
        int missed = u->missed_acks + 1;
        if (missed >= self->cfg.max_missed_acks)
            unit_after = CD_UNIT_OUT_OF_SERVICE;
        cJSON_AddNumberToObject(p, "missed_acks", missed);
    }
    cJSON_AddStringToObject(p, "unit_status", cd_unit_status_name(unit_after));
    char call_id[CD_CALL_ID_MAX + 1];
    cd_copy(call_id, sizeof call_id, a->call_id);
    int g = a->group;
    cd__emit(self, ctx, how, a->call_id, a->unit_id, p);
    cd_call_t *call = cd__call(self, call_id);
    if (reoffer && call && cd_call_is_open(call))
        cd__reoffer(self, ctx, call, g);
}

int cd_engine_dispatch(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                       const char *const *unit_ids, int n, const cd_call_t **out, cd_error_t *err)
{
    cd__begin(self);
    if (!call_id || !*call_id)
        return cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
    cd_call_t *call = cd__call(self, call_id);
    if (!call)
        return cd_error_set(err, CD_ENOTFOUND, "call_id", "call %.20s does not exist", call_id);
    if (!cd_call_is_open(call))
        return cd_error_set(err, CD_ECONFLICT, "call_id", "call %s is %s", call->id,
                            cd_call_status_name(call->status));
    if (n < 0 || n > CD_PLAN_GROUPS_MAX * 2)
        return cd_error_set(err, CD_EINVAL, "unit_ids", "at most %d units per dispatch",
                            CD_PLAN_GROUPS_MAX * 2);
    cd_plan_t plan;
    cd_engine_effective_plan(self, call, &plan);
    if (n == 0) {
        char why[CD_ERROR_MESSAGE_MAX];
        bool any_open = false;
        for (int g = 0; g < plan.n_groups; g++)
            any_open = any_open || !s_group_filled(call, g);
        if (plan.n_groups && !any_open)
            return cd_error_set(err, CD_ECONFLICT, "unit_ids",
                                "call %s has a unit for every group of its plan; name units to "
                                "send more",
                                call->id);
        if (cd__dispatch_auto(self, ctx, call, why, sizeof why) == 0)
            return cd_error_set(err, CD_ECONFLICT, "unit_ids", "%s", why);
        if (why[0])
            cd__raise_alert(self, ctx, CD_ALERT_NO_ELIGIBLE_UNIT, call->id, NULL, "call %s: %s",
                            call->id, why);
        if (out)
            *out = call;
        return CD_OK;
    }
    /* Check every named unit before offering any: all or nothing. */
    cd_unit_t *units[CD_PLAN_GROUPS_MAX * 2];
    for (int i = 0; i < n; i++) {
        cd_unit_t *u = cd__unit(self, unit_ids[i]);
        if (!unit_ids[i] || !u || u->removed)
            return cd_error_set(err, CD_ENOTFOUND, "unit_ids", "unit %.32s is not on the roster",
                                unit_ids[i] ? unit_ids[i] : "");
        for (int k = 0; k < i; k++)
            if (units[k] == u)
                return cd_error_set(err, CD_EINVAL, "unit_ids", "unit %s is named twice", u->id);
        if (u->status != CD_UNIT_AVAILABLE)
            return cd_error_set(err, CD_ECONFLICT, "unit_ids",
                                "unit %s is %s; only an available unit can be dispatched", u->id,
                                cd_unit_status_name(u->status));
        if (cd_plan_forbids(&plan, u->type))
            return cd_error_set(err, CD_ECONFLICT, "unit_ids",
                                "the plan for call %s never sends a %s unit (%s)", call->id,
                                u->type, u->id);
        units[i] = u;
    }
    bool taken[CD_PLAN_GROUPS_MAX] = {false};
    for (int i = 0; i < n; i++) {
        int group = -1;
        for (int g = 0; g < plan.n_groups && group < 0; g++)
            if (!taken[g] && !s_group_filled(call, g) && cd_plan_tier_of(&plan, g, units[i]->type))
                group = g;
        if (group >= 0)
            taken[group] = true;
        int eta = -1;
        if (units[i]->has_position)
            eta = (int)lround(s_km(units[i]->lat, units[i]->lon, call->lat, call->lon) /
                              self->cfg.speed_kmh * 3600.0);
        s_offer(self, ctx, call, &plan, units[i], group, eta, "named by the dispatcher");
    }
    if (out)
        *out = call;
    return CD_OK;
}

/* ------------------------------------------------------------------ alerts */

void cd__raise_alert(cd_engine_t *self, const cd_ctx_t *ctx, cd_alert_kind_t kind,
                     const char *call_id, const char *unit_id, const char *fmt, ...)
{
    /* Timer alerts fire once per wait (flags in the call and assignment see to that); the
     * others are not repeated while one of the same kind is active. */
    bool timer = kind == CD_ALERT_PENDING_TOO_LONG || kind == CD_ALERT_ON_SCENE_TOO_LONG;
    for (size_t i = 0; !timer && i < self->n_alerts; i++) {
        const cd_alert_t *a = &self->alerts[i];
        if (a->kind == kind && strcmp(a->call_id, call_id ? call_id : "") == 0 &&
            strcmp(a->unit_id, unit_id ? unit_id : "") == 0)
            return; /* already raised and not cleared */
    }
    cd_alert_t al = {0};
    al.no = self->last_alert_no + 1;
    al.kind = kind;
    cd_copy(al.call_id, sizeof al.call_id, call_id);
    cd_copy(al.unit_id, sizeof al.unit_id, unit_id);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(al.message, sizeof al.message, fmt, ap);
    va_end(ap);
    cd_text_utf8_trim(al.message); /* free text may have been cut mid-character */
    al.raised_ms = ctx->now_ms;
    al.last_seq = self->last_seq + 1;
    cd__emit(self, ctx, CD_EV_ALERT_RAISED, call_id, unit_id, cd_alert_to_json(&al));
}

void cd__clear_alerts(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                      const char *unit_id, unsigned kinds)
{
    for (size_t i = 0; i < self->n_alerts;) {
        const cd_alert_t *a = &self->alerts[i];
        bool match = (kinds & CD_ALERT_BIT(a->kind)) && strcmp(a->call_id, call_id) == 0 &&
                     (!unit_id || strcmp(a->unit_id, unit_id) == 0);
        if (!match) {
            i++;
            continue;
        }
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "alert_no", (double)a->no);
        char unit[CD_UNIT_ID_MAX + 1];
        cd_copy(unit, sizeof unit, a->unit_id);
        cd__emit(self, ctx, CD_EV_ALERT_CLEARED, call_id, unit, p); /* removes alerts[i] */
    }
}
