/*  dispatch_fixture.h — the engine under a fake clock, for the dispatch unit suites
 *  (test_dispatch.c: roster, plans, recommendation, dispatch; test_lifecycle.c: unit
 *  lifecycle, declines, timers, closing).  Header-only on purpose: each suite is one program
 *  and the fixture's state is per program. */
#ifndef DISPATCH_FIXTURE_H
#define DISPATCH_FIXTURE_H

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

static inline void s_reference(cd_engine_t *e)
{
    for (size_t i = 0; i < sizeof CALL_TYPES / sizeof *CALL_TYPES; i++)
        ck_assert_int_eq(cd_engine_add_call_type(e, CALL_TYPES[i]), CD_OK);
    for (size_t i = 0; i < sizeof UNIT_TYPES / sizeof *UNIT_TYPES; i++)
        ck_assert_int_eq(cd_engine_add_unit_type(e, UNIT_TYPES[i]), CD_OK);
}

static inline cd_ctx_t s_ctx(int64_t t, const char *actor)
{
    return (cd_ctx_t){.now_ms = t, .actor = actor, .request_id = NULL};
}

/* The context of a unit's tablet: actor "unit:<id>". */
static inline cd_ctx_t s_uctx(int64_t t, const char *unit)
{
    static char actor[48];
    snprintf(actor, sizeof actor, "unit:%s", unit);
    return s_ctx(t, actor);
}

static inline cd_plan_t s_plan(const char *key, cd_plan_mode_t mode, const char *groups,
                               const char *forbidden)
{
    cd_plan_t p;
    cd_plan_init(&p, key, mode);
    ck_assert_msg(cd_plan_parse_groups(&p, groups, &err) == CD_OK, "%s: %s", groups, err.message);
    if (forbidden)
        cd_copy(p.forbidden[p.n_forbidden++], sizeof p.forbidden[0], forbidden);
    return p;
}

static inline void s_set_plan(cd_plan_t p)
{
    cd_ctx_t c = s_ctx(T0 - 60 * S, "supervisor");
    ck_assert_msg(cd_engine_set_plan(E, &c, &p, NULL, &err) == CD_OK, "%s: %s", p.key, err.message);
}

static inline void setup(void)
{
    E = cd_engine_new();
    s_reference(E);
    s_set_plan(s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol"));
    s_set_plan(s_plan("substance", CD_PLAN_BASE, "sober>apru,rescue_ambulance", NULL));
    s_set_plan(s_plan("flag:weapon", CD_PLAN_REPLACE, "smart;patrol", NULL));
    s_set_plan(s_plan("flag:medical", CD_PLAN_ADD, "rescue_ambulance", NULL));
}

static inline void teardown(void)
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
static inline void s_unit_opt(const char *id, const char *type, double km, s_opt_t o)
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
static inline const char *s_call_at(int64_t t, const char *type, int prio, unsigned risk,
                                    const char *lang)
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

static inline const cd_unit_t *U(const char *id)
{
    const cd_unit_t *u = cd_engine_find_unit(E, id);
    ck_assert_msg(u != NULL, "no unit %s", id);
    return u;
}

static inline const cd_call_t *C(const char *id)
{
    const cd_call_t *c = cd_engine_find_call(E, id);
    ck_assert_msg(c != NULL, "no call %s", id);
    return c;
}

/* The unit's active assignment. */
static inline const cd_assignment_t *A(const char *unit)
{
    const cd_assignment_t *a = cd_engine_find_assignment(E, U(unit)->assignment_id);
    ck_assert_msg(a && !strcmp(a->unit_id, unit), "unit %s has no assignment", unit);
    return a;
}

static inline int s_dispatch(int64_t t, const char *call, const char *const *ids, int n,
                             cd_error_t *e)
{
    cd_ctx_t c = s_ctx(t, "console");
    return cd_engine_dispatch(E, &c, call, ids, n, NULL, e);
}

static inline void s_offer(int64_t t, const char *call, const char *unit)
{
    ck_assert_msg(s_dispatch(t, call, &unit, 1, &err) == CD_OK, "%s", err.message);
}

static inline int s_status(int64_t t, const char *unit, cd_unit_status_t st, cd_error_t *e)
{
    cd_ctx_t c = s_uctx(t, unit);
    return cd_engine_unit_status(E, &c, unit, st, e);
}

static inline void s_ok_status(int64_t t, const char *unit, cd_unit_status_t st)
{
    ck_assert_msg(s_status(t, unit, st, &err) == CD_OK, "%s", err.message);
}

static inline int s_ack(int64_t t, const char *unit, const char *call)
{
    cd_ctx_t c = s_uctx(t, unit);
    return cd_engine_unit_ack(E, &c, unit, call, NULL);
}

static inline int s_tick(int64_t t)
{
    cd_ctx_t c = s_ctx(t, "system");
    return cd_engine_tick(E, &c);
}

static inline const cd_recommendation_t *s_rec(int64_t t, const char *call)
{
    size_t before = cd_engine_events(E)->len;
    ck_assert_msg(cd_engine_recommend(E, t, call, &REC, &err) == CD_OK, "%s", err.message);
    ck_assert_int_eq(cd_engine_events(E)->len, before); /* a query records nothing */
    for (int i = 0; i < REC.n; i++)
        ck_assert_msg(REC.items[i].n_reasons > 0 && REC.items[i].reasons[0][0],
                      "candidate %s has no reasons", REC.items[i].unit->id);
    return &REC;
}

static inline size_t s_alerts(cd_alert_kind_t kind, const char *call, const char *unit)
{
    const cd_alert_t *out[64];
    size_t n = cd_engine_list_alerts(E, out, 64), k = 0;
    for (size_t i = 0; i < n; i++)
        k += out[i]->kind == kind && !strcmp(out[i]->call_id, call) &&
             (!unit || !strcmp(out[i]->unit_id, unit));
    return k;
}

static inline size_t s_active(const char *call)
{
    const cd_assignment_t *out[32];
    size_t n = cd_engine_call_assignments(E, call, 32, out), k = 0;
    for (size_t i = 0; i < n; i++)
        k += cd_assign_is_active(out[i]);
    return k;
}

static inline const cd_event_t *s_last_event(void)
{
    const cd_event_log_t *log = cd_engine_events(E);
    ck_assert_int_gt(log->len, 0);
    return &log->items[log->len - 1];
}

/* Replays every event recorded so far into a fresh engine with the same reference data
 * (through text, as PostgreSQL stores them) and compares the canonical state. */
static inline void s_check_replay(void)
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

/* Runs tests[] with the fixture; returns main's exit status. */
static inline int s_run(const char *name, const TTest *const *tests, size_t n)
{
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    for (size_t i = 0; i < n; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
