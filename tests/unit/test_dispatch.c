/* Unit tests: roster, plans, recommendation, dispatch, unit lifecycle and timers of the pure
 * engine (src/core/cd_engine*.c) under a fake clock. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_engine.h"

static cd_engine_t *E;
static cd_event_log_t LOG; /* events taken so far, for the replay checks */
static cd_recommendation_t REC;
static cd_error_t err;                   /* the last refusal */
static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */
static const double LAT0 = 34.0522, LON0 = -118.2437;
/* Degrees of latitude per km on a 6371 km sphere.  At 40 km/h one km is 90 s. */
#define DEG_PER_KM (180.0 / (3.14159265358979323846 * 6371.0))
#define S          1000 /* ms */
#define ST(unit)   (U(unit)->status)

static const char *CALL_TYPES[] = {"mental_health", "suicide_risk",      "substance",
                                   "welfare_check", "homeless_outreach", "medical",
                                   "fire",          "violent_crisis",    "other"};
static const char *UNIT_TYPES[] = {"mh_team",         "apru",  "sober",
                                   "therapeutic_van", "smart", "rescue_ambulance",
                                   "fire_engine",     "patrol"};

static void s_reference(cd_engine_t *e)
{
    for (size_t i = 0; i < sizeof CALL_TYPES / sizeof *CALL_TYPES; i++)
        ck_assert_int_eq(cd_engine_add_call_type(e, CALL_TYPES[i]), CD_OK);
    for (size_t i = 0; i < sizeof UNIT_TYPES / sizeof *UNIT_TYPES; i++)
        ck_assert_int_eq(cd_engine_add_unit_type(e, UNIT_TYPES[i]), CD_OK);
}

static cd_ctx_t s_ctx(int64_t t, const char *actor)
{
    return (cd_ctx_t){.now_ms = t, .actor = actor, .request_id = NULL};
}

/* The context of a unit's tablet: actor "unit:<id>". */
static cd_ctx_t s_uctx(int64_t t, const char *unit)
{
    static char actor[48];
    snprintf(actor, sizeof actor, "unit:%s", unit);
    return s_ctx(t, actor);
}

static cd_plan_t s_plan(const char *key, cd_plan_mode_t mode, const char *groups,
                        const char *forbidden)
{
    cd_plan_t p;
    cd_plan_init(&p, key, mode);
    ck_assert_msg(cd_plan_parse_groups(&p, groups, &err) == CD_OK, "%s: %s", groups, err.message);
    if (forbidden)
        cd_copy(p.forbidden[p.n_forbidden++], sizeof p.forbidden[0], forbidden);
    return p;
}

static void s_set_plan(cd_plan_t p)
{
    cd_ctx_t c = s_ctx(T0 - 60 * S, "supervisor");
    ck_assert_msg(cd_engine_set_plan(E, &c, &p, NULL, &err) == CD_OK, "%s: %s", p.key, err.message);
}

static void setup(void)
{
    E = cd_engine_new();
    s_reference(E);
    s_set_plan(s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol"));
    s_set_plan(s_plan("substance", CD_PLAN_BASE, "sober>apru,rescue_ambulance", NULL));
    s_set_plan(s_plan("flag:weapon", CD_PLAN_REPLACE, "smart;patrol", NULL));
    s_set_plan(s_plan("flag:medical", CD_PLAN_ADD, "rescue_ambulance", NULL));
}

static void teardown(void)
{
    cd_event_log_release(&LOG);
    cd_engine_destroy(&E);
}

typedef struct {
    const char *lang, *cap;
    bool nopos;
    cd_unit_status_t status; /* 0: available */
} s_opt_t;

/* A unit km kilometres north of where the calls are. */
static void s_unit_opt(const char *id, const char *type, double km, s_opt_t o)
{
    cd_unit_input_t in = {.id = id, .type = type, .name = id, .lon = LON0};
    in.has_lat = in.has_lon = !o.nopos;
    in.lat = LAT0 + km * DEG_PER_KM;
    in.status = o.status ? o.status : CD_UNIT_AVAILABLE;
    in.n_languages = in.set_languages = o.lang != NULL;
    in.languages = &o.lang;
    in.n_capabilities = in.set_capabilities = o.cap != NULL;
    in.capabilities = &o.cap;
    cd_ctx_t c = s_ctx(T0 - 30 * S, "supervisor");
    ck_assert_msg(cd_engine_add_unit(E, &c, &in, NULL, &err) == CD_OK, "%s: %s", id, err.message);
}
#define s_unit(id, type, km) s_unit_opt(id, type, km, (s_opt_t){0})

/* Creates a call where the units are measured from; returns its id (rotating buffers). */
static const char *s_call_at(int64_t t, const char *type, int prio, unsigned risk, const char *lang)
{
    static char ids[8][CD_CALL_ID_MAX + 1];
    static int next;
    cd_call_input_t in = {.type = type, .has_priority = true, .priority = prio, .risk = risk};
    in.has_lat = in.has_lon = true;
    in.lat = LAT0;
    in.lon = LON0;
    in.language = lang;
    in.summary = "test call";
    cd_ctx_t c = s_ctx(t, "console");
    const cd_call_t *call = NULL;
    ck_assert_msg(cd_engine_create_call(E, &c, &in, &call, &err) == CD_OK, "%s", err.message);
    return strcpy(ids[next++ % 8], call->id);
}
#define s_call(type, prio, risk) s_call_at(T0, type, prio, risk, NULL)

static const cd_unit_t *U(const char *id)
{
    const cd_unit_t *u = cd_engine_find_unit(E, id);
    ck_assert_msg(u != NULL, "no unit %s", id);
    return u;
}

static const cd_call_t *C(const char *id)
{
    const cd_call_t *c = cd_engine_find_call(E, id);
    ck_assert_msg(c != NULL, "no call %s", id);
    return c;
}

/* The unit's active assignment. */
static const cd_assignment_t *A(const char *unit)
{
    const cd_assignment_t *a = cd_engine_find_assignment(E, U(unit)->assignment_id);
    ck_assert_msg(a && !strcmp(a->unit_id, unit), "unit %s has no assignment", unit);
    return a;
}

static int s_dispatch(int64_t t, const char *call, const char *const *ids, int n, cd_error_t *e)
{
    cd_ctx_t c = s_ctx(t, "console");
    return cd_engine_dispatch(E, &c, call, ids, n, NULL, e);
}

static void s_offer(int64_t t, const char *call, const char *unit)
{
    ck_assert_msg(s_dispatch(t, call, &unit, 1, &err) == CD_OK, "%s", err.message);
}

static int s_status(int64_t t, const char *unit, cd_unit_status_t st, cd_error_t *e)
{
    cd_ctx_t c = s_uctx(t, unit);
    return cd_engine_unit_status(E, &c, unit, st, e);
}

static void s_ok_status(int64_t t, const char *unit, cd_unit_status_t st)
{
    ck_assert_msg(s_status(t, unit, st, &err) == CD_OK, "%s", err.message);
}

static int s_ack(int64_t t, const char *unit, const char *call)
{
    cd_ctx_t c = s_uctx(t, unit);
    return cd_engine_unit_ack(E, &c, unit, call, NULL);
}

static int s_tick(int64_t t)
{
    cd_ctx_t c = s_ctx(t, "system");
    return cd_engine_tick(E, &c);
}

static const cd_recommendation_t *s_rec(int64_t t, const char *call)
{
    size_t before = cd_engine_events(E)->len;
    ck_assert_msg(cd_engine_recommend(E, t, call, &REC, &err) == CD_OK, "%s", err.message);
    ck_assert_int_eq(cd_engine_events(E)->len, before); /* a query records nothing */
    for (int i = 0; i < REC.n; i++)
        ck_assert_msg(REC.items[i].n_reasons > 0 && REC.items[i].reasons[0][0],
                      "candidate %s has no reasons", REC.items[i].unit->id);
    return &REC;
}

static size_t s_alerts(cd_alert_kind_t kind, const char *call, const char *unit)
{
    const cd_alert_t *out[64];
    size_t n = cd_engine_list_alerts(E, out, 64), k = 0;
    for (size_t i = 0; i < n; i++)
        k += out[i]->kind == kind && !strcmp(out[i]->call_id, call) &&
             (!unit || !strcmp(out[i]->unit_id, unit));
    return k;
}

static size_t s_active(const char *call)
{
    const cd_assignment_t *out[32];
    size_t n = cd_engine_call_assignments(E, call, 32, out), k = 0;
    for (size_t i = 0; i < n; i++)
        k += cd_assign_is_active(out[i]);
    return k;
}

static const cd_event_t *s_last_event(void)
{
    const cd_event_log_t *log = cd_engine_events(E);
    ck_assert_int_gt(log->len, 0);
    return &log->items[log->len - 1];
}

/* Replays every event recorded so far into a fresh engine with the same reference data
 * (through text, as PostgreSQL stores them) and compares the canonical state. */
static void s_check_replay(void)
{
    cd_event_log_t tmp = {0};
    cd_engine_take_events(E, &tmp);
    cd_event_log_move(&LOG, &tmp);
    cd_event_log_release(&tmp);
    cd_engine_t *fresh = cd_engine_new();
    s_reference(fresh);
    cd_engine_set_config(fresh, cd_engine_config(E));
    for (size_t i = 0; i < LOG.len; i++) {
        char *text = cJSON_PrintUnformatted(LOG.items[i].payload);
        cd_event_t ev = LOG.items[i];
        ev.payload = cJSON_Parse(text);
        free(text);
        ck_assert_msg(cd_engine_apply(fresh, &ev, &err) == CD_OK, "event %lld: %s",
                      (long long)ev.seq, err.message);
        cJSON_Delete(ev.payload);
    }
    cJSON *a = cd_engine_state_json(E), *b = cd_engine_state_json(fresh);
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    ck_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cd_engine_destroy(&fresh);
}

/* ------------------------------------------------------------------ roster and plans */

START_TEST(roster_add_update_remove)
{
    cd_ctx_t c = s_ctx(T0, "supervisor");
    cd_unit_input_t heli = {.id = "H1", .type = "helicopter", .status = CD_UNIT_AVAILABLE};
    ck_assert_int_eq(cd_engine_add_unit(E, &c, &heli, NULL, &err), CD_EINVAL);
    ck_assert_str_eq(err.field, "type");
    ck_assert(!cd_engine_unit_type_known(E, "helicopter"));
    ck_assert(cd_engine_unit_type_known(E, "therapeutic_van"));
    size_t before = cd_engine_events(E)->len;
    cd_unit_input_t in = {.id = "M12", .type = "mh_team"}; /* no status: off duty */
    ck_assert_int_eq(cd_engine_add_unit(E, &c, &in, NULL, &err), CD_OK);
    ck_assert_int_eq(cd_engine_events(E)->len, before + 1);
    ck_assert_int_eq(ST("M12"), CD_UNIT_OFF_DUTY);

    cd_unit_input_t up = {.id = "M12", .name = "Team 12", .status = CD_UNIT_AVAILABLE};
    up.has_lat = up.has_lon = true;
    up.lat = LAT0;
    up.lon = LON0;
    c.now_ms = T0 + 5 * S;
    const cd_unit_t *out = NULL;
    ck_assert_int_eq(cd_engine_update_unit(E, &c, &up, &out, &err), CD_OK);
    ck_assert_str_eq(out->name, "Team 12");
    ck_assert_int_eq(out->status, CD_UNIT_AVAILABLE);
    ck_assert_int_eq(out->status_ms, T0 + 5 * S);
    ck_assert(out->has_position);
    before = cd_engine_events(E)->len;
    cd_unit_input_t bad = {.id = "M12", .status = CD_UNIT_EN_ROUTE}; /* not a supervisor's */
    ck_assert_int_ne(cd_engine_update_unit(E, &c, &bad, NULL, &err), CD_OK);
    ck_assert_int_eq(cd_engine_events(E)->len, before);
    ck_assert_int_eq(ST("M12"), CD_UNIT_AVAILABLE);

    const char *call = s_call("mental_health", 2, 0);
    s_offer(T0 + 6 * S, call, "M12");
    ck_assert_int_eq(cd_engine_remove_unit(E, &c, "M12", &err), CD_ECONFLICT); /* on a call */
    ck_assert(!U("M12")->removed);
    ck_assert_int_eq(s_ack(T0 + 7 * S, "M12", call), CD_OK);
    s_ok_status(T0 + 8 * S, "M12", CD_UNIT_AVAILABLE);
    ck_assert_int_eq(cd_engine_remove_unit(E, &c, "M12", &err), CD_OK);
    const cd_unit_t *gone = cd_engine_find_unit(E, "M12"), *list[8];
    ck_assert(gone == NULL || gone->removed);
    ck_assert_int_eq(cd_engine_list_units(E, 0, 8, list), 0);
    s_check_replay();
}
END_TEST

START_TEST(plan_group_syntax)
{
    cd_plan_t p = s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", NULL);
    ck_assert_int_eq(p.n_groups, 1);
    ck_assert_int_eq(p.groups[0].n_tiers, 2);
    ck_assert_int_eq(p.groups[0].tiers[0].n_types, 2);
    ck_assert_str_eq(p.groups[0].tiers[1].types[0], "apru");
    ck_assert_int_eq(cd_plan_tier_of(&p, 0, "therapeutic_van"), 1);
    ck_assert_int_eq(cd_plan_tier_of(&p, 0, "apru"), 2);
    ck_assert_int_eq(cd_plan_tier_of(&p, 0, "patrol"), 0);
    char text[CD_PLAN_TEXT_MAX + 1];
    cd_plan_format_groups(p.groups, p.n_groups, text, sizeof text);
    ck_assert_str_eq(text, "mh_team,therapeutic_van>apru");
    p = s_plan("flag:weapon", CD_PLAN_REPLACE, "smart;patrol", NULL);
    ck_assert_int_eq(p.n_groups, 2);
    ck_assert_str_eq(p.groups[1].tiers[0].types[0], "patrol");
    ck_assert_int_eq(cd_plan_parse_groups(&p, "mh_team>>apru", &err), CD_EINVAL);
    ck_assert_str_eq(err.field, "groups");
    /* Types the engine does not know are refused when the plan is set. */
    p = s_plan("suicide_risk", CD_PLAN_BASE, "mh_team>hovercraft", NULL);
    cd_ctx_t c = s_ctx(T0, "supervisor");
    size_t before = cd_engine_events(E)->len;
    ck_assert_int_eq(cd_engine_set_plan(E, &c, &p, NULL, &err), CD_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.message, "hovercraft"));
    ck_assert_int_eq(cd_engine_events(E)->len, before);
    ck_assert_ptr_null(cd_engine_find_plan(E, "suicide_risk"));
}
END_TEST

START_TEST(effective_plan_combines_flags)
{
    cd_plan_t p;
    cd_engine_effective_plan(E, C(s_call("mental_health", 2, 0)), &p);
    ck_assert_int_eq(p.n_groups, 1);
    ck_assert(cd_plan_forbids(&p, "patrol"));
    cd_engine_effective_plan(E, C(s_call("mental_health", 2, CD_RISK_MEDICAL)), &p);
    ck_assert_int_eq(p.n_groups, 2);
    ck_assert_int_eq(cd_plan_tier_of(&p, 0, "therapeutic_van"), 1);
    ck_assert_int_eq(cd_plan_tier_of(&p, 1, "rescue_ambulance"), 1);
    ck_assert(cd_plan_forbids(&p, "patrol"));
    const char *both = s_call("mental_health", 2, CD_RISK_WEAPON | CD_RISK_MEDICAL);
    cd_engine_effective_plan(E, C(both), &p);
    ck_assert_int_eq(p.n_groups, 3);
    ck_assert_int_eq(cd_plan_tier_of(&p, 0, "smart"), 1);
    ck_assert_int_eq(cd_plan_tier_of(&p, 0, "mh_team"), 0);
    ck_assert_int_eq(cd_plan_tier_of(&p, 1, "patrol"), 1);
    ck_assert(!cd_plan_forbids(&p, "patrol")); /* replace drops the base's forbidden types */
    ck_assert_str_eq(s_rec(T0, both)->plan, "smart;patrol;rescue_ambulance");
    /* And dispatch follows it: a SMART team and a patrol, not the nearer clinicians. */
    s_unit("SM1", "smart", 3);
    s_unit("P1", "patrol", 1);
    s_unit("M1", "mh_team", 0.5);
    const char *armed = s_call("mental_health", 1, CD_RISK_WEAPON);
    ck_assert_int_eq(s_dispatch(T0, armed, NULL, 0, NULL), CD_OK);
    ck_assert_int_eq(A("SM1")->group, 0);
    ck_assert_int_eq(A("P1")->group, 1);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(s_active(armed), 2);
}
END_TEST

/* ------------------------------------------------------------------ recommendation */

START_TEST(rank_tier_then_eta_then_unknown_position)
{
    s_unit("A1", "apru", 0.5);
    s_unit("M1", "mh_team", 6);
    s_unit("V1", "therapeutic_van", 2);
    s_unit_opt("M0", "mh_team", 0, (s_opt_t){.nopos = true});
    const cd_recommendation_t *r = s_rec(T0, s_call("mental_health", 2, 0));
    ck_assert_int_eq(r->n, 4);
    const char *order[] = {"V1", "M1", "M0", "A1"};
    const int tiers[] = {1, 1, 1, 2};
    for (int i = 0; i < 4; i++) {
        ck_assert_str_eq(r->items[i].unit->id, order[i]);
        ck_assert_int_eq(r->items[i].tier, tiers[i]);
        ck_assert_int_eq(r->items[i].group, 0);
    }
    ck_assert(r->items[0].eta_known && !r->items[2].eta_known);
    ck_assert_int_le(abs(r->items[0].eta_s - 180), 3); /* 2 km at 40 km/h */
    ck_assert_int_le(abs(r->items[1].eta_s - 540), 3);
    ck_assert_str_eq(r->why_none, "");
    ck_assert_str_eq(r->plan, "mh_team,therapeutic_van>apru");
    const cd_engine_config_t *cfg = cd_engine_config(E);
    ck_assert(fabs(cfg->speed_kmh - 40) < 1e-9);
    ck_assert_int_eq(cfg->language_bonus_s, 600);
    ck_assert_int_eq(cfg->max_missed_acks, 3);
    cd_engine_config_t fast = *cfg;
    fast.speed_kmh = 80;
    cd_engine_set_config(E, &fast);
    ck_assert_int_le(abs(s_rec(T0, "C-000001")->items[0].eta_s - 90), 3); /* V1: 2 km */
}
END_TEST

START_TEST(language_match_outweighs_eight_minutes)
{
    s_unit("M1", "mh_team", 1);                                           /* 90 s */
    s_unit_opt("M2", "mh_team", 1 + 480 / 90.0, (s_opt_t){.lang = "es"}); /* 570 s - 600 */
    s_unit_opt("M3", "mh_team", 1 + 720 / 90.0, (s_opt_t){.lang = "es"}); /* 810 s - 600 */
    const cd_recommendation_t *r = s_rec(T0, s_call_at(T0, "mental_health", 2, 0, "es-MX"));
    ck_assert_int_eq(r->n, 3);
    ck_assert_str_eq(r->items[0].unit->id, "M2");
    ck_assert(r->items[0].language_match);
    ck_assert_str_eq(r->items[1].unit->id, "M1");
    ck_assert(!r->items[1].language_match);
    ck_assert_str_eq(r->items[2].unit->id, "M3");
    r = s_rec(T0, s_call("mental_health", 2, 0)); /* no caller language: nearest first */
    ck_assert_str_eq(r->items[0].unit->id, "M1");
    ck_assert(!r->items[0].language_match);
}
END_TEST

/* Equal ETAs: never dispatched first, then the longest ago (not the id order). */
START_TEST(fairness_least_recently_dispatched_first)
{
    s_unit("M1", "mh_team", 2);
    s_unit("M2", "mh_team", 2);
    s_unit("M3", "mh_team", 2);
    int64_t t = T0;
    const char *order[] = {"M3", "M1"};
    for (int i = 0; i < 2; i++, t += 60 * S) {
        const char *call = s_call_at(t, "mental_health", 2, 0, NULL);
        s_offer(t, call, order[i]);
        ck_assert_int_eq(s_ack(t + S, order[i], call), CD_OK);
        s_ok_status(t + 2 * S, order[i], CD_UNIT_AVAILABLE);
    }
    ck_assert_int_eq(U("M1")->last_dispatch_ms, T0 + 60 * S);
    const cd_recommendation_t *r = s_rec(t, s_call_at(t, "mental_health", 2, 0, NULL));
    ck_assert_int_eq(r->n, 3);
    ck_assert_str_eq(r->items[0].unit->id, "M2");
    ck_assert_str_eq(r->items[1].unit->id, "M3");
    ck_assert_str_eq(r->items[2].unit->id, "M1");
}
END_TEST

START_TEST(only_available_allowed_and_capable_units)
{
    s_unit_opt("M1", "mh_team", 1, (s_opt_t){.status = CD_UNIT_OFF_DUTY});
    s_unit_opt("M2", "mh_team", 1, (s_opt_t){.status = CD_UNIT_OUT_OF_SERVICE});
    s_unit("M3", "mh_team", 1);
    s_unit("M4", "mh_team", 1);
    s_unit("P1", "patrol", 0.1);
    s_unit("M5", "mh_team", 9);
    cd_ctx_t c = s_ctx(T0, "supervisor");
    ck_assert_int_eq(cd_engine_remove_unit(E, &c, "M3", NULL), CD_OK);
    s_offer(T0, s_call("mental_health", 2, 0), "M4");
    const cd_recommendation_t *r = s_rec(T0, s_call("mental_health", 2, 0));
    ck_assert_int_eq(r->n, 1);
    ck_assert_str_eq(r->items[0].unit->id, "M5");
    /* A flag plan adding a patrol cannot override the base's forbidden patrol. */
    s_set_plan(s_plan("flag:violence", CD_PLAN_ADD, "patrol", NULL));
    const char *violent = s_call("mental_health", 2, CD_RISK_VIOLENCE);
    r = s_rec(T0, violent);
    ck_assert_int_eq(r->n, 1);
    ck_assert_str_eq(r->items[0].unit->id, "M5");
    ck_assert_ptr_nonnull(strstr(r->why_none, "patrol"));
    ck_assert_int_eq(s_dispatch(T0, violent, NULL, 0, &err), CD_OK);
    ck_assert_int_eq(ST("P1"), CD_UNIT_AVAILABLE);

    cd_plan_t p = s_plan("medical", CD_PLAN_BASE, "rescue_ambulance", NULL);
    cd_copy(p.requires[p.n_requires++], sizeof p.requires[0], "als");
    s_set_plan(p);
    s_unit("R1", "rescue_ambulance", 1);
    s_unit_opt("R2", "rescue_ambulance", 5, (s_opt_t){.cap = "als"});
    r = s_rec(T0, s_call("medical", 2, 0));
    ck_assert_int_eq(r->n, 1);
    ck_assert_str_eq(r->items[0].unit->id, "R2");
}
END_TEST

START_TEST(why_none_names_type_and_statuses)
{
    s_unit_opt("S1", "sober", 1, (s_opt_t){.status = CD_UNIT_OFF_DUTY});
    s_unit_opt("S2", "sober", 2, (s_opt_t){.status = CD_UNIT_OFF_DUTY});
    const char *call = s_call("substance", 2, 0);
    const cd_recommendation_t *r = s_rec(T0, call);
    ck_assert_int_eq(r->n, 0);
    ck_assert_msg(strstr(r->why_none, "sober") && strstr(r->why_none, "off_duty"), "why_none: %s",
                  r->why_none);
    size_t before = cd_engine_events(E)->len;
    ck_assert_int_ne(s_dispatch(T0 + S, call, NULL, 0, &err), CD_OK); /* nothing to offer */
    ck_assert_ptr_nonnull(strstr(err.message, "sober"));
    ck_assert_int_eq(cd_engine_events(E)->len, before);
    ck_assert_int_eq(C(call)->status, CD_CALL_PENDING);
    ck_assert_int_eq(s_active(call), 0);
    ck_assert_int_eq(ST("S1"), CD_UNIT_OFF_DUTY);
}
END_TEST

/* ------------------------------------------------------------------ dispatch */

START_TEST(dispatch_offers_top_of_every_group)
{
    s_unit("M1", "mh_team", 2);
    s_unit("V1", "therapeutic_van", 8);
    s_unit("R1", "rescue_ambulance", 3);
    const char *call = s_call("mental_health", 2, CD_RISK_MEDICAL);
    const cd_call_t *out = NULL;
    cd_ctx_t c = s_ctx(T0 + S, "console");
    ck_assert_int_eq(cd_engine_dispatch(E, &c, call, NULL, 0, &out, &err), CD_OK);
    ck_assert_int_eq(out->status, CD_CALL_DISPATCHED);
    const cd_assignment_t *m = A("M1"), *r = A("R1");
    ck_assert_int_eq(m->status, CD_ASG_OFFERED);
    ck_assert_int_eq(m->group, 0);
    ck_assert_int_eq(r->group, 1);
    ck_assert_str_eq(r->call_id, call);
    ck_assert_str_eq(r->unit_type, "rescue_ambulance");
    ck_assert_int_eq(m->offered_ms, T0 + S);
    ck_assert_int_eq(m->ack_deadline_ms, T0 + 61 * S); /* default 60 s */
    ck_assert_int_eq(ST("M1"), CD_UNIT_ASSIGNED);
    ck_assert_int_eq(U("M1")->last_dispatch_ms, T0 + S);
    ck_assert_int_eq(ST("V1"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(cd_engine_next_deadline(E), T0 + 61 * S);
    ck_assert_int_ne(s_dispatch(T0 + 2 * S, call, NULL, 0, &err), CD_OK); /* all filled */
    ck_assert_int_eq(s_active(call), 2);
    ck_assert_int_eq(ST("V1"), CD_UNIT_AVAILABLE);
    s_check_replay();
}
END_TEST

START_TEST(explicit_units_must_be_available_and_allowed)
{
    s_unit("P1", "patrol", 0.2);
    s_unit_opt("M1", "mh_team", 1, (s_opt_t){.status = CD_UNIT_OFF_DUTY});
    s_unit("M2", "mh_team", 2);
    const char *call = s_call("mental_health", 2, 0);
    size_t before = cd_engine_events(E)->len;
    const char *patrol[] = {"P1"}, *mixed[] = {"M2", "M1"};
    ck_assert_int_eq(s_dispatch(T0, call, patrol, 1, &err), CD_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "patrol"));
    ck_assert_int_eq(s_dispatch(T0, call, mixed, 2, &err), CD_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "M1"));
    ck_assert_int_eq(cd_engine_events(E)->len, before); /* all or nothing */
    ck_assert_int_eq(ST("M2"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(C(call)->status, CD_CALL_PENDING);
    ck_assert_int_eq(s_dispatch(T0, "C-999999", mixed, 1, &err), CD_ENOTFOUND);
    s_offer(T0, call, "M2");
    ck_assert_int_eq(C(call)->status, CD_CALL_DISPATCHED);
    ck_assert_int_eq(s_dispatch(T0, call, mixed, 1, &err), CD_ECONFLICT); /* M2 is busy */
}
END_TEST

/* A plan may dispatch on creation, and sets the acknowledgement clock per priority. */
START_TEST(auto_dispatch_and_ack_deadline_from_plan)
{
    cd_plan_t p = s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol");
    p.auto_dispatch_max_priority = 2;
    memcpy(p.ack_timeout_s, (int[CD_PRIORITIES]){20, 30, 45, 90}, sizeof p.ack_timeout_s);
    s_set_plan(p);
    s_unit("M1", "mh_team", 1);
    s_unit("M2", "mh_team", 2);
    const char *hot = s_call_at(T0 + S, "mental_health", 1, 0, NULL);
    ck_assert_int_eq(C(hot)->status, CD_CALL_DISPATCHED);
    ck_assert_str_eq(A("M1")->call_id, hot);
    ck_assert_int_eq(A("M1")->ack_deadline_ms, T0 + 21 * S);
    const char *cold = s_call_at(T0 + 2 * S, "mental_health", 3, 0, NULL);
    ck_assert_int_eq(C(cold)->status, CD_CALL_PENDING);
    ck_assert_int_eq(s_active(cold), 0);
    ck_assert_int_eq(ST("M2"), CD_UNIT_AVAILABLE);
    s_offer(T0 + 10 * S, cold, "M2");
    ck_assert_int_eq(A("M2")->ack_deadline_ms, T0 + 55 * S);
    s_check_replay();
}
END_TEST

/* ------------------------------------------------------------------ unit lifecycle */

START_TEST(lifecycle_from_offer_to_clear)
{
    s_unit("M1", "mh_team", 1);
    const char *call = s_call("mental_health", 2, 0);
    s_offer(T0, call, "M1");
    char aid[CD_ASSIGNMENT_ID_MAX + 1];
    strcpy(aid, A("M1")->id);
    ck_assert_int_eq(s_ack(T0 + 10 * S, "M1", call), CD_OK);
    ck_assert_int_eq(s_last_event()->kind, CD_EV_ASSIGN_ACKED);
    ck_assert_str_eq(s_last_event()->actor, "unit:M1");
    ck_assert_int_eq(A("M1")->status, CD_ASG_ACKNOWLEDGED);
    ck_assert_int_eq(A("M1")->acked_ms, T0 + 10 * S);
    ck_assert_int_eq(C(call)->status, CD_CALL_DISPATCHED);
    const cd_unit_status_t st[] = {CD_UNIT_EN_ROUTE, CD_UNIT_ON_SCENE, CD_UNIT_TRANSPORTING,
                                   CD_UNIT_AT_FACILITY};
    const cd_assign_status_t asg[] = {CD_ASG_EN_ROUTE, CD_ASG_ON_SCENE, CD_ASG_TRANSPORTING,
                                      CD_ASG_AT_FACILITY};
    const cd_call_status_t cs[] = {CD_CALL_EN_ROUTE, CD_CALL_ON_SCENE, CD_CALL_ON_SCENE,
                                   CD_CALL_ON_SCENE};
    for (int i = 0; i < 4; i++) {
        s_ok_status(T0 + (20 + i) * 60 * S, "M1", st[i]);
        ck_assert_int_eq(ST("M1"), st[i]);
        ck_assert_int_eq(A("M1")->status, asg[i]);
        ck_assert_str_eq(A("M1")->id, aid);
        ck_assert_msg(C(call)->status == cs[i], "step %d: call %s", i,
                      cd_call_status_name(C(call)->status));
    }
    ck_assert_int_eq(A("M1")->on_scene_ms, T0 + 21 * 60 * S);
    s_ok_status(T0 + 30 * 60 * S, "M1", CD_UNIT_AVAILABLE);
    const cd_assignment_t *a = cd_engine_find_assignment(E, aid);
    ck_assert_int_eq(a->status, CD_ASG_CLEARED);
    ck_assert_int_eq(a->ended_ms, T0 + 30 * 60 * S);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    ck_assert_str_eq(U("M1")->assignment_id, "");
    ck_assert_int_eq(C(call)->status, CD_CALL_PENDING);
    s_check_replay();
}
END_TEST

START_TEST(illegal_transition_is_explained)
{
    s_unit_opt("M12", "mh_team", 1, (s_opt_t){.status = CD_UNIT_OFF_DUTY});
    s_unit("M13", "mh_team", 1);
    const char *call = s_call("mental_health", 2, 0);
    size_t before = cd_engine_events(E)->len;
    ck_assert_int_eq(s_status(T0, "M12", CD_UNIT_ON_SCENE, &err), CD_ECONFLICT);
    ck_assert_msg(strstr(err.message, "M12") && strstr(err.message, "off_duty") &&
                      strstr(err.message, "on_scene"),
                  "message: %s", err.message);
    ck_assert_int_eq(s_status(T0, "M13", CD_UNIT_TRANSPORTING, &err), CD_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "transporting"));
    ck_assert_int_ne(s_ack(T0, "M13", call), CD_OK); /* nothing was offered */
    ck_assert_int_eq(cd_engine_events(E)->len, before);
    ck_assert_int_eq(ST("M12"), CD_UNIT_OFF_DUTY);
    ck_assert_int_eq(ST("M13"), CD_UNIT_AVAILABLE);
}
END_TEST

/* ------------------------------------------------------------------ declines and timers */

/* A decline and a supervisor taking the unit out of service both re-offer the call. */
START_TEST(decline_and_out_of_service_reoffer)
{
    s_unit("M1", "mh_team", 1);
    s_unit("M2", "mh_team", 2);
    s_unit("M3", "mh_team", 3);
    const char *call = s_call("mental_health", 2, 0);
    ck_assert_int_eq(s_dispatch(T0, call, NULL, 0, NULL), CD_OK);
    char aid[CD_ASSIGNMENT_ID_MAX + 1];
    strcpy(aid, A("M1")->id);
    cd_ctx_t c = s_uctx(T0 + 5 * S, "M1");
    ck_assert_int_eq(cd_engine_unit_decline(E, &c, "M1", call, "flat tyre", NULL), CD_OK);
    ck_assert_int_eq(cd_engine_find_assignment(E, aid)->status, CD_ASG_DECLINED);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(s_alerts(CD_ALERT_DECLINED, call, "M1"), 1);
    strcpy(aid, A("M2")->id);
    ck_assert_str_eq(A("M2")->call_id, call);
    ck_assert_int_eq(C(call)->status, CD_CALL_DISPATCHED);
    c = s_ctx(T0 + 6 * S, "supervisor");
    cd_unit_input_t up = {.id = "M2", .status = CD_UNIT_AVAILABLE}; /* only out_of_service */
    ck_assert_int_eq(cd_engine_update_unit(E, &c, &up, NULL, &err), CD_ECONFLICT);
    ck_assert_int_eq(ST("M2"), CD_UNIT_ASSIGNED);
    up.status = CD_UNIT_OUT_OF_SERVICE;
    ck_assert_msg(cd_engine_update_unit(E, &c, &up, NULL, &err) == CD_OK, "%s", err.message);
    ck_assert_int_eq(ST("M2"), CD_UNIT_OUT_OF_SERVICE);
    ck_assert_str_eq(U("M2")->assignment_id, "");
    ck_assert(!cd_assign_is_active(cd_engine_find_assignment(E, aid)));
    ck_assert_str_eq(A("M3")->call_id, call); /* not M1: it already said no */
    c = s_uctx(T0 + 9 * S, "M3");
    ck_assert_int_eq(cd_engine_unit_decline(E, &c, "M3", call, "busy", NULL), CD_OK);
    ck_assert_int_eq(C(call)->status, CD_CALL_PENDING);
    ck_assert_int_eq(s_active(call), 0);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    s_check_replay();
}
END_TEST

START_TEST(ack_timeout_reoffers_never_the_same_unit)
{
    s_unit("M1", "mh_team", 1);
    s_unit("M2", "mh_team", 2);
    const char *call = s_call("mental_health", 2, 0);
    ck_assert_int_eq(s_dispatch(T0, call, NULL, 0, NULL), CD_OK);
    char aid[CD_ASSIGNMENT_ID_MAX + 1];
    strcpy(aid, A("M1")->id);
    ck_assert_int_eq(cd_engine_next_deadline(E), T0 + 60 * S);
    size_t before = cd_engine_events(E)->len;
    ck_assert_int_eq(s_tick(T0 + 60 * S - 1), 0);
    ck_assert_int_eq(cd_engine_events(E)->len, before);
    ck_assert_int_ge(s_tick(T0 + 60 * S), 1);
    ck_assert_str_eq(s_last_event()->actor, "system");
    ck_assert_int_eq(cd_engine_find_assignment(E, aid)->status, CD_ASG_TIMED_OUT);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(U("M1")->missed_acks, 1);
    ck_assert_int_eq(s_alerts(CD_ALERT_ACK_TIMEOUT, call, "M1"), 1);
    ck_assert_str_eq(A("M2")->call_id, call);
    ck_assert_int_eq(A("M2")->ack_deadline_ms, T0 + 120 * S);
    ck_assert_int_eq(cd_engine_next_deadline(E), T0 + 120 * S);
    ck_assert_int_ge(s_tick(T0 + 120 * S), 1);
    ck_assert_int_eq(s_active(call), 0); /* M1 is not asked again */
    ck_assert_int_eq(C(call)->status, CD_CALL_PENDING);
    ck_assert_int_eq(U("M2")->missed_acks, 1);
    s_check_replay();
}
END_TEST

START_TEST(consecutive_missed_acks_take_unit_out_of_service)
{
    s_unit("M1", "mh_team", 1);
    int64_t t = T0;
    for (int i = 1; i <= 3; i++, t += 120 * S) {
        const char *call = s_call_at(t, "mental_health", 2, 0, NULL);
        s_offer(t, call, "M1");
        ck_assert_int_ge(s_tick(t + 60 * S), 1);
        ck_assert_int_eq(U("M1")->missed_acks, i);
        ck_assert_int_eq(ST("M1"), i < 3 ? CD_UNIT_AVAILABLE : CD_UNIT_OUT_OF_SERVICE);
    }
    s_unit("M2", "mh_team", 1); /* an acknowledgement resets the count */
    const char *c1 = s_call_at(t, "mental_health", 2, 0, NULL);
    s_offer(t, c1, "M2");
    ck_assert_int_ge(s_tick(t + 60 * S), 1);
    ck_assert_int_eq(U("M2")->missed_acks, 1);
    const char *c2 = s_call_at(t + 70 * S, "mental_health", 2, 0, NULL);
    s_offer(t + 70 * S, c2, "M2");
    ck_assert_int_eq(s_ack(t + 80 * S, "M2", c2), CD_OK);
    ck_assert_int_eq(U("M2")->missed_acks, 0);
    s_check_replay();
}
END_TEST

START_TEST(pending_too_long_alerts_once)
{
    cd_plan_t p = s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol");
    memcpy(p.pending_alert_s, (int[CD_PRIORITIES]){60, 120, 300, 600}, sizeof p.pending_alert_s);
    s_set_plan(p);
    const char *call = s_call("mental_health", 2, 0);
    ck_assert_int_eq(cd_engine_next_deadline(E), T0 + 120 * S);
    ck_assert_int_eq(s_tick(T0 + 120 * S - 1), 0);
    ck_assert_int_eq(s_alerts(CD_ALERT_PENDING_TOO_LONG, call, NULL), 0);
    ck_assert_int_ge(s_tick(T0 + 120 * S), 1);
    ck_assert_int_eq(s_alerts(CD_ALERT_PENDING_TOO_LONG, call, NULL), 1);
    ck_assert_int_gt(cd_engine_next_deadline(E), T0 + 120 * S);
    s_tick(T0 + 900 * S);
    ck_assert_int_eq(s_alerts(CD_ALERT_PENDING_TOO_LONG, call, NULL), 1);
    ck_assert_int_eq(C(call)->status, CD_CALL_PENDING);
    s_check_replay();
}
END_TEST

START_TEST(on_scene_too_long_alerts_once)
{
    cd_plan_t p = s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol");
    p.on_scene_alert_s = 600;
    s_set_plan(p);
    s_unit("M1", "mh_team", 1);
    const char *call = s_call("mental_health", 2, 0);
    s_offer(T0, call, "M1");
    s_ok_status(T0 + 10 * S, "M1", CD_UNIT_ON_SCENE);
    ck_assert_int_eq(A("M1")->acked_ms, T0 + 10 * S); /* on scene from offered acknowledges */
    const int64_t due = T0 + 610 * S;
    ck_assert_int_eq(cd_engine_next_deadline(E), due);
    ck_assert_int_eq(s_tick(due - 1), 0); /* so no ack timeout fired at T0 + 60 s */
    ck_assert_int_eq(s_alerts(CD_ALERT_ON_SCENE_TOO_LONG, call, "M1"), 0);
    ck_assert_int_ge(s_tick(due), 1);
    ck_assert_int_eq(s_alerts(CD_ALERT_ON_SCENE_TOO_LONG, call, "M1"), 1);
    ck_assert(A("M1")->on_scene_alerted);
    ck_assert_int_eq(A("M1")->status, CD_ASG_ON_SCENE);
    s_tick(due + 3600 * S);
    ck_assert_int_eq(s_alerts(CD_ALERT_ON_SCENE_TOO_LONG, call, "M1"), 1);
    s_check_replay();
}
END_TEST

/* ------------------------------------------------------------------ notes, close, cancel */

START_TEST(note_close_and_cancel_free_units)
{
    s_unit("M1", "mh_team", 1);
    s_unit("R1", "rescue_ambulance", 1);
    const char *call = s_call("mental_health", 2, CD_RISK_MEDICAL);
    ck_assert_int_eq(s_dispatch(T0, call, NULL, 0, NULL), CD_OK);
    s_ok_status(T0 + S, "M1", CD_UNIT_ON_SCENE);
    cd_ctx_t c = s_ctx(T0 + 2 * S, "console");
    ck_assert_int_eq(cd_engine_add_note(E, &c, call, "calmer now", NULL, &err), CD_OK);
    ck_assert_int_eq(s_last_event()->kind, CD_EV_CALL_NOTED);
    ck_assert_str_eq(cJSON_GetObjectItem(s_last_event()->payload, "text")->valuestring,
                     "calmer now");
    size_t before = cd_engine_events(E)->len;
    ck_assert_int_eq(cd_engine_close_call(E, &c, call, "went_home", NULL, &err), CD_EINVAL);
    ck_assert_str_eq(err.field, "disposition");
    ck_assert_int_eq(cd_engine_events(E)->len, before);
    const cd_call_t *out = NULL;
    ck_assert_int_eq(cd_engine_close_call(E, &c, call, "resolved_on_scene", &out, &err), CD_OK);
    ck_assert_int_eq(out->status, CD_CALL_CLOSED);
    ck_assert_int_eq(out->closed_ms, T0 + 2 * S);
    ck_assert_int_eq(s_active(call), 0);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(ST("R1"), CD_UNIT_AVAILABLE);
    ck_assert_str_eq(U("R1")->assignment_id, "");
    ck_assert_int_eq(cd_engine_close_call(E, &c, call, "referred", NULL, &err), CD_ECONFLICT);
    const char *dispositions[] = {"transported_voluntary",
                                  "transported_involuntary",
                                  "referred",
                                  "police_requested",
                                  "no_contact",
                                  "duplicate"};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(cd_engine_close_call(E, &c, s_call("other", 3, 0), dispositions[i], NULL,
                                           &err) == CD_OK,
                      "%s: %s", dispositions[i], err.message);
    /* Cancelling a call with a unit en route frees the unit too. */
    const char *gone = s_call("mental_health", 2, 0);
    s_offer(T0 + 3 * S, gone, "M1");
    s_ok_status(T0 + 4 * S, "M1", CD_UNIT_EN_ROUTE);
    char aid[CD_ASSIGNMENT_ID_MAX + 1];
    strcpy(aid, A("M1")->id);
    c.now_ms = T0 + 5 * S;
    ck_assert_int_eq(cd_engine_cancel_call(E, &c, gone, "caller hung up", NULL, NULL), CD_OK);
    ck_assert_int_eq(C(gone)->status, CD_CALL_CANCELLED);
    ck_assert_int_eq(cd_engine_find_assignment(E, aid)->status, CD_ASG_CLEARED);
    ck_assert_int_eq(ST("M1"), CD_UNIT_AVAILABLE);
    ck_assert_int_eq(cd_engine_open_calls(E), 0);
    ck_assert_int_eq(cd_engine_next_deadline(E), INT64_MAX);
    s_check_replay();
}
END_TEST

int main(void)
{
    const TTest *tests[] = {roster_add_update_remove,
                            plan_group_syntax,
                            effective_plan_combines_flags,
                            rank_tier_then_eta_then_unknown_position,
                            language_match_outweighs_eight_minutes,
                            fairness_least_recently_dispatched_first,
                            only_available_allowed_and_capable_units,
                            why_none_names_type_and_statuses,
                            dispatch_offers_top_of_every_group,
                            explicit_units_must_be_available_and_allowed,
                            auto_dispatch_and_ack_deadline_from_plan,
                            lifecycle_from_offer_to_clear,
                            illegal_transition_is_explained,
                            decline_and_out_of_service_reoffer,
                            ack_timeout_reoffers_never_the_same_unit,
                            consecutive_missed_acks_take_unit_out_of_service,
                            pending_too_long_alerts_once,
                            on_scene_too_long_alerts_once,
                            note_close_and_cancel_free_units};
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_add_checked_fixture(tc, setup, teardown);
    for (size_t i = 0; i < sizeof tests / sizeof *tests; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
