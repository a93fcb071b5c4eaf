/* Unit tests: unit lifecycle, declines, ack timers, alerts, notes and closing of the pure
 * engine (src/core/cd_engine*.c) under a fake clock. */
#include "dispatch_fixture.h"

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

START_TEST(notes_are_bounded_per_call)
{
    const char *call = s_call("welfare_check", 4, 0);
    cd_ctx_t c = s_ctx(T0 + S, "console");
    for (int i = 0; i < CD_NOTES_MAX; i++)
        ck_assert_int_eq(cd_engine_add_note(E, &c, call, "still there", NULL, &err), CD_OK);
    size_t before = cd_engine_events(E)->len;
    ck_assert_int_eq(cd_engine_add_note(E, &c, call, "one too many", NULL, &err), CD_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "notes"));
    ck_assert_int_eq(cd_engine_events(E)->len, before);
}
END_TEST

START_TEST(auto_dispatch_alerts_when_a_group_stays_empty)
{
    cd_plan_t p = s_plan("violent_crisis", CD_PLAN_BASE, "smart;mh_team", NULL);
    p.auto_dispatch_max_priority = 4;
    s_set_plan(p);
    s_unit("S1", "smart", 1);
    const char *call = s_call("violent_crisis", 1, 0);
    ck_assert_int_eq(U("S1")->status, CD_UNIT_ASSIGNED); /* the group that could be filled */
    ck_assert_uint_eq(s_alerts(CD_ALERT_NO_ELIGIBLE_UNIT, call, NULL), 1);
    s_check_replay();
}
END_TEST

int main(void)
{
    const TTest *tests[] = {lifecycle_from_offer_to_clear,
                            illegal_transition_is_explained,
                            decline_and_out_of_service_reoffer,
                            ack_timeout_reoffers_never_the_same_unit,
                            consecutive_missed_acks_take_unit_out_of_service,
                            pending_too_long_alerts_once,
                            on_scene_too_long_alerts_once,
                            note_close_and_cancel_free_units,
                            notes_are_bounded_per_call,
                            auto_dispatch_alerts_when_a_group_stays_empty};
    return s_run("lifecycle", tests, sizeof tests / sizeof *tests);
}
