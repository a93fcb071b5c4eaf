/* Unit tests: the dispatch engine's invariants under thousands of random commands (seeded,
 * deterministic), checked after every step, and replay = live checked along the way. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_engine.h"

#define STEPS        5000
#define REPLAY_EVERY 500
#define UNIT_POOL    28
#define MAX_CALLS    8192

static const char *CALL_TYPES[] = {"mental_health", "suicide_risk",      "substance",
                                   "welfare_check", "homeless_outreach", "medical",
                                   "fire",          "violent_crisis",    "other"};
static const char *UNIT_TYPES[] = {"mh_team",         "apru",  "sober",
                                   "therapeutic_van", "smart", "rescue_ambulance",
                                   "fire_engine",     "patrol"};
static const char *LANGS[] = {NULL, "es", "es-MX", "en", "ko", "vi"};
static const char *DISPOSITIONS[] = {"resolved_on_scene",
                                     "transported_voluntary",
                                     "transported_involuntary",
                                     "referred",
                                     "police_requested",
                                     "no_contact",
                                     "duplicate",
                                     "went_home"}; /* the last is invalid */
/* Fixed seeds; CD_INVARIANT_SEEDS=n runs n seeds (the fixed ones first) to explore further. */
static const uint64_t SEEDS[] = {0x9e3779b97f4a7c15ull, 42, 0xdeadbeefcafef00dull, 7777, 1, 0x5eed};
#define N_SEEDS ((int)(sizeof SEEDS / sizeof *SEEDS))

/* A passing ck_assert writes a mark to Check's pipe; the hot checks only report failures. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

static cd_engine_t *E;
static cd_event_log_t LOG;
static cd_engine_config_t CFG;
static uint64_t rng;
static int64_t now, last_seq;
static int step;
static char what[200];      /* the current command, for failure messages */
static bool explicit_offer; /* the current command names its units */
static char (*refused)[64]; /* "call|unit" pairs that declined or timed out */
static size_t n_refused, cap_refused;
static const cd_call_t *CALLS[MAX_CALLS];

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static int rn(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

static bool chance(int percent)
{
    return rn(100) < percent;
}

static void s_reference(cd_engine_t *e)
{
    for (size_t i = 0; i < sizeof CALL_TYPES / sizeof *CALL_TYPES; i++)
        ck_assert_int_eq(cd_engine_add_call_type(e, CALL_TYPES[i]), CD_OK);
    for (size_t i = 0; i < sizeof UNIT_TYPES / sizeof *UNIT_TYPES; i++)
        ck_assert_int_eq(cd_engine_add_unit_type(e, UNIT_TYPES[i]), CD_OK);
    cd_engine_set_config(e, &CFG);
}

static void s_plan(const char *key, cd_plan_mode_t mode, const char *groups, const char *forbidden,
                   int auto_max)
{
    cd_plan_t p;
    cd_error_t err;
    cd_plan_init(&p, key, mode);
    ck_assert_msg(cd_plan_parse_groups(&p, groups, &err) == CD_OK, "%s", err.message);
    if (forbidden)
        cd_copy(p.forbidden[p.n_forbidden++], sizeof p.forbidden[0], forbidden);
    p.auto_dispatch_max_priority = auto_max;
    for (int i = 0; i < CD_PRIORITIES; i++) {
        p.ack_timeout_s[i] = 30 + 15 * i;
        p.pending_alert_s[i] = 120 * (i + 1);
    }
    p.on_scene_alert_s = 900;
    cd_ctx_t c = {.now_ms = now, .actor = "supervisor"};
    ck_assert_msg(cd_engine_set_plan(E, &c, &p, NULL, &err) == CD_OK, "%s: %s", key, err.message);
}

static void s_compare_replay(void)
{
    cd_engine_t *fresh = cd_engine_new();
    s_reference(fresh);
    for (size_t i = 0; i < LOG.len; i++) {
        char *text = cJSON_PrintUnformatted(LOG.items[i].payload);
        cd_event_t ev = LOG.items[i];
        ev.payload = cJSON_Parse(text);
        free(text);
        cd_error_t err;
        CHECK(cd_engine_apply(fresh, &ev, &err) == CD_OK, "step %d: replay of %lld (%s): %s", step,
              (long long)ev.seq, cd_event_kind_name(ev.kind), err.message);
        cJSON_Delete(ev.payload);
    }
    cJSON *a = cd_engine_state_json(E), *b = cd_engine_state_json(fresh);
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    if (strcmp(sa, sb)) {
        size_t i = 0;
        while (sa[i] == sb[i])
            i++;
        size_t from = i > 120 ? i - 120 : 0;
        ck_abort_msg("step %d: replayed state differs at byte %zu:\nlive:   %.240s\nreplay: %.240s",
                     step, i, sa + from, sb + from);
    }
    free(sa);
    free(sb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cd_engine_destroy(&fresh);
}

static bool s_was_refused(const char *call, const char *unit)
{
    char key[64];
    snprintf(key, sizeof key, "%s|%s", call, unit);
    for (size_t i = 0; i < n_refused; i++)
        if (!strcmp(refused[i], key))
            return true;
    return false;
}

static const char *s_str(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : dflt;
}

/* Takes the step's events: seqs follow on by one, every event has an actor and the step's
 * time, a refused command records nothing, and no automatic offer goes back to a unit that
 * declined or missed that call. */
static void s_take_events(int rc, const char *request_id)
{
    const cd_event_log_t *log = cd_engine_events(E);
    if (rc < 0)
        CHECK(log->len == 0, "step %d: %s refused (%d) but recorded %zu events", step, what, rc,
              log->len);
    for (size_t i = 0; i < log->len; i++) {
        const cd_event_t *ev = &log->items[i];
        CHECK(ev->seq == last_seq + 1, "step %d: %s: seq %lld after %lld", step, what,
              (long long)ev->seq, (long long)last_seq);
        last_seq = ev->seq;
        CHECK(ev->actor[0], "step %d: %s: event %lld without actor", step, what,
              (long long)ev->seq);
        CHECK(ev->at_ms == now, "step %d: %s: event at %lld, now %lld", step, what,
              (long long)ev->at_ms, (long long)now);
        const char *kind = cd_event_kind_name(ev->kind); /* what the store writes */
        CHECK(kind && cd_event_kind_parse(kind) == ev->kind, "step %d: %s: kind %d has no name",
              step, what, ev->kind);
        CHECK(ev->payload, "step %d: %s: event without payload", step, what);
        if (i == 0 && request_id)
            CHECK(!strcmp(ev->request_id, request_id), "step %d: %s: request_id '%s'", step, what,
                  ev->request_id);
        if (ev->kind == CD_EV_ASSIGN_DECLINED || ev->kind == CD_EV_ASSIGN_TIMED_OUT) {
            const cd_assignment_t *a =
                cd_engine_find_assignment(E, s_str(ev->payload, "assignment_id", ""));
            CHECK(a != NULL, "step %d: %s: unknown assignment in %s", step, what,
                  cd_event_kind_name(ev->kind));
            if (n_refused == cap_refused) {
                cap_refused = cap_refused ? 2 * cap_refused : 64;
                refused = realloc(refused, cap_refused * sizeof *refused);
            }
            snprintf(refused[n_refused++], sizeof *refused, "%s|%s", a->call_id, a->unit_id);
        } else if (ev->kind == CD_EV_ASSIGN_OFFERED && !explicit_offer) {
            const char *call = s_str(ev->payload, "call_id", ev->call_id);
            const char *unit = s_str(ev->payload, "unit_id", ev->unit_id);
            CHECK(!s_was_refused(call, unit),
                  "step %d: %s: %s offered again to %s after it declined or timed out", step, what,
                  call, unit);
        }
    }
    CHECK(cd_engine_last_seq(E) == last_seq, "step %d: last_seq %lld, events end at %lld", step,
          (long long)cd_engine_last_seq(E), (long long)last_seq);
    cd_event_log_t tmp = {0};
    cd_engine_take_events(E, &tmp);
    cd_event_log_move(&LOG, &tmp);
    cd_event_log_release(&tmp);
}

static cd_call_status_t s_call_status_for(cd_assign_status_t s)
{
    switch (s) {
    case CD_ASG_OFFERED:
    case CD_ASG_ACKNOWLEDGED:
        return CD_CALL_DISPATCHED;
    case CD_ASG_EN_ROUTE:
        return CD_CALL_EN_ROUTE;
    default:
        return CD_CALL_ON_SCENE; /* on_scene, transporting, at_facility */
    }
}

static void s_check_invariants(void)
{
    const cd_unit_t *units[64];
    size_t nu = cd_engine_list_units(E, 0, 64, units);
    for (size_t i = 0; i < nu; i++) {
        const cd_unit_t *u = units[i];
        CHECK(!u->removed, "step %d: removed unit %s listed", step, u->id);
        if (!u->assignment_id[0]) {
            CHECK(!cd_unit_status_on_call(u->status),
                  "step %d: %s: unit %s is %s without an assignment", step, what, u->id,
                  cd_unit_status_name(u->status));
            continue;
        }
        const cd_assignment_t *a = cd_engine_find_assignment(E, u->assignment_id);
        CHECK(a && cd_assign_is_active(a) && !strcmp(a->unit_id, u->id),
              "step %d: %s: unit %s points at %s which is not its active assignment", step, what,
              u->id, u->assignment_id);
        CHECK(u->status == cd_assign_unit_status(a->status),
              "step %d: %s: unit %s is %s but its assignment %s is %s", step, what, u->id,
              cd_unit_status_name(u->status), a->id, cd_assign_status_name(a->status));
    }
    const cd_alert_t *alerts[256];
    size_t nal = cd_engine_list_alerts(E, alerts, 256);
    for (size_t i = 0; i < nal; i++) {
        const cd_call_t *c =
            alerts[i]->call_id[0] ? cd_engine_find_call(E, alerts[i]->call_id) : NULL;
        CHECK(!alerts[i]->call_id[0] || (c && cd_call_is_open(c)),
              "step %d: %s: active %s alert for %s, which is not open", step, what,
              cd_alert_kind_name(alerts[i]->kind), alerts[i]->call_id);
        bool timer = alerts[i]->kind == CD_ALERT_PENDING_TOO_LONG ||
                     alerts[i]->kind == CD_ALERT_ON_SCENE_TOO_LONG;
        for (size_t j = 0; timer && j < i; j++) /* timer alerts are raised once */
            CHECK(alerts[i]->kind != alerts[j]->kind ||
                      strcmp(alerts[i]->call_id, alerts[j]->call_id) ||
                      strcmp(alerts[i]->unit_id, alerts[j]->unit_id),
                  "step %d: %s: two active %s alerts for %s", step, what,
                  cd_alert_kind_name(alerts[i]->kind), alerts[i]->call_id);
    }
    size_t nc = cd_engine_list_calls(E, false, MAX_CALLS, CALLS);
    for (size_t i = 0; i < nc; i++) {
        const cd_call_t *c = CALLS[i];
        const cd_assignment_t *as[64];
        size_t na = cd_engine_call_assignments(E, c->id, 64, as);
        cd_plan_t plan;
        cd_engine_effective_plan(E, c, &plan);
        int active = 0;
        cd_call_status_t want = CD_CALL_PENDING;
        for (size_t j = 0; j < na; j++) {
            const cd_assignment_t *a = as[j];
            CHECK(!strcmp(a->call_id, c->id), "step %d: %s listed under %s", step, a->id, c->id);
            CHECK(!cd_plan_forbids(&plan, a->unit_type), "step %d: %s: %s got forbidden %s %s",
                  step, what, c->id, a->unit_type, a->unit_id);
            if (!cd_assign_is_active(a))
                continue;
            active++;
            const cd_unit_t *u = cd_engine_find_unit(E, a->unit_id);
            CHECK(u && !strcmp(u->assignment_id, a->id),
                  "step %d: %s: active %s (%s on %s) not held by its unit (holds '%s')", step, what,
                  a->id, a->unit_id, c->id, u ? u->assignment_id : "-");
            cd_call_status_t s = s_call_status_for(a->status);
            if (s > want)
                want = s;
        }
        if (!cd_call_is_open(c)) {
            CHECK(active == 0, "step %d: %s: %s is %s with %d active assignments", step, what,
                  c->id, cd_call_status_name(c->status), active);
            CHECK(c->closed_ms > 0, "step %d: %s: closed %s without closed_ms", step, what, c->id);
            continue;
        }
        CHECK(c->status == want, "step %d: %s: %s is %s, its assignments say %s", step, what, c->id,
              cd_call_status_name(c->status), cd_call_status_name(want));
    }
}

static const char *s_pick_call(bool open_only)
{
    size_t n = cd_engine_list_calls(E, open_only, MAX_CALLS, CALLS);
    if (n == 0 || chance(3))
        return "C-999999";
    return CALLS[rn(n < 40 ? (int)n : 40)]->id; /* mostly recent ones */
}

static void s_unit_id(char *out)
{
    sprintf(out, "U%02d", rn(UNIT_POOL));
}

static void s_position(bool *has_lat, bool *has_lon, double *lat, double *lon)
{
    *has_lat = *has_lon = !chance(10);
    *lat = 34.05 + (rn(3000) - 1500) / 10000.0;
    *lon = -118.24 + (rn(3000) - 1500) / 10000.0;
}

static int s_step(void)
{
    char rid[32], unit[8], actor[16];
    snprintf(rid, sizeof rid, "r%d", step);
    cd_ctx_t ctx = {.now_ms = now, .actor = "console", .request_id = rid};
    cd_error_t err;
    const char *langs[2] = {"es", "ko"}, *caps[1] = {"als"};
    s_unit_id(unit);
    snprintf(actor, sizeof actor, "unit:%s", unit);
    explicit_offer = false;
    int r = rn(100);
    if (r < 14) {
        cd_call_input_t in = {.type = CALL_TYPES[rn(9)], .has_priority = true};
        in.priority = chance(3) ? 0 : 1 + rn(4);
        s_position(&in.has_lat, &in.has_lon, &in.lat, &in.lon);
        in.risk = chance(30) ? (unsigned)rn(8) : 0;
        in.language = LANGS[rn(6)];
        in.summary = "random call";
        snprintf(what, sizeof what, "create %s P%lld risk %u", in.type, (long long)in.priority,
                 in.risk);
        return cd_engine_create_call(E, &ctx, &in, NULL, &err);
    }
    if (r < 20 || (r < 24 && step < 200)) {
        cd_unit_input_t in = {.id = unit, .type = UNIT_TYPES[rn(8)], .name = unit};
        in.status = chance(80) ? CD_UNIT_AVAILABLE : (cd_unit_status_t)rn(CD_UNIT_STATUS_COUNT);
        s_position(&in.has_lat, &in.has_lon, &in.lat, &in.lon);
        in.set_languages = true;
        in.languages = langs;
        in.n_languages = rn(3);
        in.set_capabilities = chance(50);
        in.capabilities = caps;
        in.n_capabilities = 1;
        ctx.actor = "supervisor";
        snprintf(what, sizeof what, "add %s %s", unit, in.type);
        return cd_engine_add_unit(E, &ctx, &in, NULL, &err);
    }
    if (r < 26) {
        static const cd_unit_status_t st[] = {0,
                                              CD_UNIT_OFF_DUTY,
                                              CD_UNIT_AVAILABLE,
                                              CD_UNIT_AVAILABLE,
                                              CD_UNIT_OUT_OF_SERVICE,
                                              CD_UNIT_ON_SCENE};
        cd_unit_input_t in = {.id = unit, .status = st[rn(6)]};
        if (chance(50))
            s_position(&in.has_lat, &in.has_lon, &in.lat, &in.lon);
        ctx.actor = "supervisor";
        snprintf(what, sizeof what, "update %s status %d", unit, in.status);
        return cd_engine_update_unit(E, &ctx, &in, NULL, &err);
    }
    if (r < 27) {
        ctx.actor = "supervisor";
        snprintf(what, sizeof what, "remove %s", unit);
        return cd_engine_remove_unit(E, &ctx, unit, &err);
    }
    if (r < 37) {
        const char *call = s_pick_call(!chance(10));
        snprintf(what, sizeof what, "dispatch %s", call);
        return cd_engine_dispatch(E, &ctx, call, NULL, 0, NULL, &err);
    }
    if (r < 44) {
        char u2[8];
        s_unit_id(u2);
        const char *ids[2] = {unit, u2};
        const char *call = s_pick_call(!chance(10));
        int n = 1 + rn(2);
        explicit_offer = true;
        snprintf(what, sizeof what, "dispatch %s to %s%s%s", call, unit, n > 1 ? "," : "",
                 n > 1 ? u2 : "");
        return cd_engine_dispatch(E, &ctx, call, ids, n, NULL, &err);
    }
    /* Tablet commands: mostly from units on a call, about their own call. */
    const cd_unit_t *busy[UNIT_POOL];
    size_t nb = cd_engine_list_units(E, 0, UNIT_POOL, busy), k = 0;
    for (size_t i = 0; i < nb; i++)
        if (busy[i]->assignment_id[0])
            busy[k++] = busy[i];
    if (k && chance(80)) {
        cd_copy(unit, sizeof unit, busy[rn((int)k)]->id);
        snprintf(actor, sizeof actor, "unit:%s", unit);
    }
    const cd_unit_t *u = cd_engine_find_unit(E, unit);
    const cd_assignment_t *a =
        u && u->assignment_id[0] ? cd_engine_find_assignment(E, u->assignment_id) : NULL;
    char call[CD_CALL_ID_MAX + 1];
    cd_copy(call, sizeof call, a && chance(85) ? a->call_id : s_pick_call(false));
    ctx.actor = actor;
    if (r < 54) {
        snprintf(what, sizeof what, "ack %s %s", unit, call);
        return cd_engine_unit_ack(E, &ctx, unit, call, &err);
    }
    if (r < 58) {
        snprintf(what, sizeof what, "decline %s %s", unit, call);
        return cd_engine_unit_decline(E, &ctx, unit, call, "busy", &err);
    }
    if (r < 76) {
        cd_unit_status_t st = (cd_unit_status_t)(1 + rn(CD_UNIT_STATUS_COUNT - 1));
        if (a && chance(50)) /* the next status of its assignment, most of the time legal */
            st = cd_assign_unit_status(a->status) + 1;
        if (st >= CD_UNIT_OUT_OF_SERVICE && chance(50))
            st = CD_UNIT_AVAILABLE;
        snprintf(what, sizeof what, "status %s %s", unit, cd_unit_status_name(st));
        return cd_engine_unit_status(E, &ctx, unit, st, &err);
    }
    if (r < 78) {
        bool has_lat, has_lon;
        double lat, lon;
        s_position(&has_lat, &has_lon, &lat, &lon);
        snprintf(what, sizeof what, "position %s", unit);
        return cd_engine_unit_position(E, &ctx, unit, lat, lon, &err);
    }
    if (r < 80) { /* the server saw the unit's tablet come or go */
        bool up = chance(50);
        ctx.actor = "system";
        snprintf(what, sizeof what, "link %s %s", unit, up ? "up" : "down");
        return cd_engine_unit_link(E, &ctx, unit, up, &err);
    }
    ctx.actor = "console";
    if (r < 82) {
        const char *d = DISPOSITIONS[rn(8)];
        snprintf(what, sizeof what, "close %s %s", call, d);
        return cd_engine_close_call(E, &ctx, call, d, NULL, &err);
    }
    if (r < 85) {
        snprintf(what, sizeof what, "cancel %s", call);
        return cd_engine_cancel_call(E, &ctx, call, chance(10) ? "" : "caller hung up", NULL, &err);
    }
    if (r < 88) {
        snprintf(what, sizeof what, "note %s", call);
        return cd_engine_add_note(E, &ctx, call, "caller calmer", NULL, &err);
    }
    /* A recommendation records nothing and offers only available, allowed units. */
    snprintf(what, sizeof what, "recommend %s", call);
    static cd_recommendation_t rec;
    int rc = cd_engine_recommend(E, now, call, &rec, &err);
    if (rc == CD_OK) {
        cd_plan_t plan;
        cd_engine_effective_plan(E, cd_engine_find_call(E, call), &plan);
        for (int i = 0; i < rec.n; i++) {
            const cd_unit_t *cu = rec.items[i].unit;
            CHECK(cu->status == CD_UNIT_AVAILABLE && !cu->removed &&
                      cd_engine_unit_reachable(E, cu, now),
                  "step %d: %s: candidate %s is %s", step, what, cu->id,
                  cd_unit_status_name(cu->status));
            CHECK(!cd_plan_forbids(&plan, cu->type) && rec.items[i].tier >= 1 &&
                      cd_plan_tier_of(&plan, rec.items[i].group, cu->type) == rec.items[i].tier &&
                      rec.items[i].n_reasons > 0,
                  "step %d: %s: candidate %s (%s) tier %d group %d", step, what, cu->id, cu->type,
                  rec.items[i].tier, rec.items[i].group);
        }
    }
    CHECK(cd_engine_events(E)->len == 0, "step %d: %s recorded events", step, what);
    return CD_OK;
}

START_TEST(random_commands_keep_invariants)
{
    rng = _i < N_SEEDS ? SEEDS[_i] : 0x9e3779b97f4a7c15ull * (uint64_t)(_i + 1);
    now = 1767225600000 + _i * 86400000LL;
    last_seq = 0;
    step = 0;
    n_refused = 0;
    CFG = (cd_engine_config_t){
        .speed_kmh = 40, .language_bonus_s = 600, .max_missed_acks = _i % 2 ? 2 : 3};
    E = cd_engine_new();
    s_reference(E);
    snprintf(what, sizeof what, "plans");
    s_plan("mental_health", CD_PLAN_BASE, "mh_team,therapeutic_van>apru", "patrol", 1);
    s_plan("suicide_risk", CD_PLAN_BASE, "mh_team>apru;therapeutic_van", "patrol", 0);
    s_plan("substance", CD_PLAN_BASE, "sober>apru,rescue_ambulance", NULL, 2);
    s_plan("welfare_check", CD_PLAN_BASE, "mh_team,apru>patrol", NULL, 0);
    s_plan("medical", CD_PLAN_BASE, "rescue_ambulance>fire_engine,apru", NULL, 1);
    s_plan("fire", CD_PLAN_BASE, "fire_engine;rescue_ambulance", NULL, 4);
    s_plan("violent_crisis", CD_PLAN_BASE, "smart;patrol", "therapeutic_van", 0);
    s_plan("flag:weapon", CD_PLAN_REPLACE, "smart;patrol", NULL, 0);
    s_plan("flag:violence", CD_PLAN_REPLACE, "smart>patrol;mh_team", "therapeutic_van", 0);
    s_plan("flag:medical", CD_PLAN_ADD, "rescue_ambulance", NULL, 0);
    s_take_events(CD_OK, NULL);
    int fired = 0, refusals = 0;
    for (step = 1; step <= STEPS; step++) {
        now += chance(10) ? rn(300000) : rn(8000);
        int rc;
        int64_t due = cd_engine_next_deadline(E);
        if (due <= now || chance(8)) {
            cd_ctx_t ctx = {.now_ms = now, .actor = "system"};
            snprintf(what, sizeof what, "tick (deadline %+lld ms)", (long long)(due - now));
            explicit_offer = false;
            rc = cd_engine_tick(E, &ctx);
            CHECK(rc >= 0, "step %d: tick returned %d", step, rc);
            fired += rc;
            CHECK(cd_engine_next_deadline(E) > now,
                  "step %d: a timer due at %lld survived tick at %lld", step,
                  (long long)cd_engine_next_deadline(E), (long long)now);
            s_take_events(rc, NULL);
        } else {
            char rid[32];
            snprintf(rid, sizeof rid, "r%d", step);
            rc = s_step();
            refusals += rc < 0;
            s_take_events(rc, rid);
        }
        s_check_invariants();
        CHECK(cd_engine_next_deadline(E) == cd_engine_next_deadline_scan(E),
              "step %d: cached earliest deadline %lld, a full scan finds %lld", step,
              (long long)cd_engine_next_deadline(E), (long long)cd_engine_next_deadline_scan(E));
        if (step % REPLAY_EVERY == 0)
            s_compare_replay();
    }
    /* The run must have exercised the engine, not just been refused. */
    size_t kinds[CD_EV_KIND_COUNT] = {0};
    for (size_t i = 0; i < LOG.len; i++)
        kinds[LOG.items[i].kind]++;
    for (int k = CD_EV_CALL_CREATED; k < CD_EV_KIND_COUNT; k++)
        if (k != CD_EV_PLAN_SET && k != CD_EV_KEY_ADDED &&
            k != CD_EV_KEY_REVOKED) /* keys: test_engine */
            ck_assert_msg(kinds[k] >= 10, "seed %d: only %zu events of kind %d", _i, kinds[k], k);
    ck_assert_int_gt(kinds[CD_EV_ASSIGN_PROGRESS], 100);
    ck_assert_int_gt(fired, 10);
    ck_assert_int_gt(refusals, 100);
    ck_assert_int_lt(refusals, STEPS * 9 / 10);
    s_compare_replay();
    cd_event_log_release(&LOG);
    free(refused);
    refused = NULL;
    cap_refused = 0;
    cd_engine_destroy(&E);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("invariants");
    TCase *tc = tcase_create("random");
    tcase_set_timeout(tc, 110);
    const char *env = getenv("CD_INVARIANT_SEEDS");
    tcase_add_loop_test(tc, random_commands_keep_invariants, 0, env ? atoi(env) : N_SEEDS);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
