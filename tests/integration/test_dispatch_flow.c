/* Integration: the dispatch path through the real server and PostgreSQL.  create ->
 * recommend -> dispatch -> ack timeout -> re-offer, with a restart while the ack timer runs;
 * plans, roster and refusals of the new commands. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

static void s_ok(Codispatch__V1__Envelope *r)
{
    if (r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR)
        ck_abort_msg("unexpected error: %s", r->error->message);
    cdc_envelope_free(r);
}

static Codispatch__V1__Envelope *s_add_unit(const char *id, const char *type, double lat,
                                            double lon, const char *lang)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddUnit m = CODISPATCH__V1__ADD_UNIT__INIT;
    char *langs[] = {(char *)lang};
    m.unit_id = (char *)id;
    m.type = (char *)type;
    m.has_lat = m.has_lon = true;
    m.lat = lat;
    m.lon = lon;
    m.languages = langs;
    m.n_languages = lang ? 1 : 0;
    m.has_status = true;
    m.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    env.add_unit = &m;
    return harness_send(h, &env);
}

static Codispatch__V1__Envelope *s_set_plan(const char *key, const char *groups, uint32_t ack_s,
                                            uint32_t auto_max)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SetPlan sp = CODISPATCH__V1__SET_PLAN__INIT;
    Codispatch__V1__Plan p = CODISPATCH__V1__PLAN__INIT;
    char *forbidden[] = {"patrol"};
    p.key = (char *)key;
    p.groups = (char *)groups;
    p.forbidden = forbidden;
    p.n_forbidden = 1;
    p.ack_timeout_s = &ack_s;
    p.n_ack_timeout_s = 1;
    p.has_auto_dispatch_max_priority = true;
    p.auto_dispatch_max_priority = auto_max;
    sp.plan = &p;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN;
    env.set_plan = &sp;
    return harness_send(h, &env);
}

static Codispatch__V1__Envelope *s_recommend(const char *call_id)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Recommend m = CODISPATCH__V1__RECOMMEND__INIT;
    m.call_id = (char *)call_id;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND;
    env.recommend = &m;
    return harness_send(h, &env);
}

static Codispatch__V1__Envelope *s_dispatch(const char *call_id, const char *unit)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Dispatch m = CODISPATCH__V1__DISPATCH__INIT;
    char *units[] = {(char *)unit};
    m.call_id = (char *)call_id;
    m.unit_ids = units;
    m.n_unit_ids = unit ? 1 : 0;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
    env.dispatch = &m;
    return harness_send(h, &env);
}

static char *s_new_call(const char *rid, int priority)
{
    Codispatch__V1__Envelope *r =
        harness_create_call(h, rid, "mental_health", priority, 34.05, -118.25);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char *id = strdup(r->call->call_id);
    cdc_envelope_free(r);
    return id;
}

START_TEST(create_recommend_dispatch_timeout_reoffer_across_a_restart)
{
    s_ok(s_set_plan("mental_health", "mh_team>apru", 5, 0));
    s_ok(s_add_unit("FM1", "mh_team", 34.06, -118.25, "es")); /* ~1 km, speaks Spanish */
    s_ok(s_add_unit("FM2", "mh_team", 34.10, -118.25, NULL)); /* ~5.5 km */
    s_ok(s_add_unit("FA1", "apru", 34.051, -118.25, NULL));   /* closest, but a fallback */
    s_ok(s_add_unit("FP1", "patrol", 34.05, -118.25, NULL));  /* forbidden */
    char *call = s_new_call("flow-call-1", 2);

    Codispatch__V1__Envelope *r = s_recommend(call);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION);
    ck_assert_uint_eq(r->recommendation->n_candidates, 3);
    ck_assert_str_eq(r->recommendation->candidates[0]->unit_id, "FM1");
    ck_assert_str_eq(r->recommendation->candidates[1]->unit_id, "FM2");
    ck_assert_str_eq(r->recommendation->candidates[2]->unit_id, "FA1"); /* tier 2 last */
    ck_assert_uint_eq(r->recommendation->candidates[2]->tier, 2);
    ck_assert(r->recommendation->candidates[0]->eta_known);
    ck_assert_uint_gt(r->recommendation->candidates[0]->n_reasons, 0);
    for (size_t i = 0; i < r->recommendation->n_candidates; i++)
        ck_assert_str_ne(r->recommendation->candidates[i]->unit_id, "FP1");
    cdc_envelope_free(r);

    r = s_dispatch(call, NULL);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_int_eq(r->call->status, CODISPATCH__V1__CALL_STATUS__CALL_DISPATCHED);
    ck_assert_uint_eq(r->call->n_assignments, 1);
    ck_assert_str_eq(r->call->assignments[0]->unit_id, "FM1");
    ck_assert_str_eq(r->call->assignments[0]->status, "offered");
    int64_t deadline = r->call->assignments[0]->ack_deadline_ms;
    cdc_envelope_free(r);

    /* The offer is durable: the reply came, so PostgreSQL has it. */
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM assignments WHERE call_id = '%s' AND unit_id = 'FM1' "
             "AND status = 'offered'",
             call);
    ck_assert_int_eq(harness_sql_count(h, sql), 1);

    /* Restart while the ack timer runs: the deadline lives in the state, not in memory. */
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);

    /* Wait (bounded) for the timeout to be handled: FM1 timed out, FM2 offered. */
    Codispatch__V1__Envelope *g = NULL;
    for (int i = 0; i < 200; i++) {
        g = harness_get_call(h, call);
        if (g && g->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL && g->call->n_assignments == 2)
            break;
        cdc_envelope_free(g);
        g = NULL;
        harness_sleep_ms(100);
    }
    ck_assert_msg(g != NULL, "the ack timeout did not re-offer the call after a restart");
    ck_assert_str_eq(g->call->assignments[0]->status, "timed_out");
    ck_assert_str_eq(g->call->assignments[1]->unit_id, "FM2");
    ck_assert_str_eq(g->call->assignments[1]->status, "offered");
    ck_assert_int_ge(g->call->assignments[0]->cleared_ms, deadline);
    cdc_envelope_free(g);

    /* An alert for dispatchers, and the decision in the audit trail. */
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListAlerts la = CODISPATCH__V1__LIST_ALERTS__INIT;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS;
    env.list_alerts = &la;
    r = harness_send(h, &env);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_ALERT_LIST);
    bool found = false;
    for (size_t i = 0; i < r->alert_list->n_alerts; i++)
        found = found || (strcmp(r->alert_list->alerts[i]->kind, "ack_timeout") == 0 &&
                          strcmp(r->alert_list->alerts[i]->unit_id, "FM1") == 0);
    ck_assert(found);
    cdc_envelope_free(r);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE call_id = '%s' AND unit_id = 'FM1' "
             "AND kind = 'assignment.timed_out' AND actor = 'system'",
             call);
    ck_assert_int_eq(harness_sql_count(h, sql), 1);
    /* Each offer says why that unit: the ranking's reasons, or the dispatcher's choice. */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE call_id = '%s' AND kind = 'assignment.offered' "
             "AND ((unit_id = 'FM1' AND payload->>'reason' LIKE 'ranked first: first choice%%') "
             "  OR (unit_id = 'FM2' AND payload->>'reason' LIKE 're-offered%%'))",
             call);
    ck_assert_int_eq(harness_sql_count(h, sql), 2);
    free(call);
}
END_TEST

START_TEST(refusals_name_the_field)
{
    Codispatch__V1__Envelope *r = s_add_unit("BAD1", "spaceship", 34, -118, NULL);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(r->error->field, "type");
    cdc_envelope_free(r);

    r = s_set_plan("mental_health", "mh_team>>", 60, 0);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(r->error->field, "groups");
    cdc_envelope_free(r);

    r = s_dispatch("C-999999", NULL);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__NOT_FOUND);
    ck_assert_str_eq(r->error->field, "call_id");
    cdc_envelope_free(r);

    s_ok(s_set_plan("mental_health", "mh_team>apru", 60, 0));
    s_ok(s_add_unit("RP1", "patrol", 34.05, -118.25, NULL));
    char *call = s_new_call("refuse-call-1", 3);
    r = s_dispatch(call, "RP1");
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__CONFLICT);
    ck_assert_ptr_nonnull(strstr(r->error->message, "patrol"));
    cdc_envelope_free(r);
    r = s_dispatch(call, "NO-SUCH-UNIT");
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__NOT_FOUND);
    cdc_envelope_free(r);

    /* A supervisor cannot put a unit on scene. */
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__UpdateUnit up = CODISPATCH__V1__UPDATE_UNIT__INIT;
    up.unit_id = "RP1";
    up.has_status = true;
    up.status = CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT;
    env.update_unit = &up;
    r = harness_send(h, &env);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(r->error->field, "status");
    cdc_envelope_free(r);

    /* Close with a bad disposition, then a good one. */
    Codispatch__V1__CloseCall cc = CODISPATCH__V1__CLOSE_CALL__INIT;
    cc.call_id = call;
    cc.disposition = "went_home";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL;
    env.close_call = &cc;
    r = harness_send(h, &env);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(r->error->field, "disposition");
    cdc_envelope_free(r);
    cc.disposition = "resolved_on_scene";
    r = harness_send(h, &env);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_int_eq(r->call->status, CODISPATCH__V1__CALL_STATUS__CALL_CLOSED);
    ck_assert_str_eq(r->call->disposition, "resolved_on_scene");
    cdc_envelope_free(r);
    free(call);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("dispatch_flow");
    TCase *tc = tcase_create("flow");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, create_recommend_dispatch_timeout_reoffer_across_a_restart);
    tcase_add_test(tc, refusals_name_the_field);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run_suite(s_suite());
}
