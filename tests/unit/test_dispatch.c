/* Unit tests: roster, plans, recommendation and dispatch of the pure engine
 * (src/core/cd_engine*.c) under a fake clock. */
#include "dispatch_fixture.h"

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
                            auto_dispatch_and_ack_deadline_from_plan};
    return s_run("dispatch", tests, sizeof tests / sizeof *tests);
}
