/*  fuzz_seeds.c — writes the seed corpus of fuzz_envelope: one valid envelope per request
 *  body (and a few near-valid ones: wrong version, no request id, a reply body, bad fields),
 *  packed by protobuf-c.  The output is committed under tests/fuzz/corpus/fuzz_envelope/;
 *  run again after a change to proto/codispatch.proto:
 *      build-fuzz/fuzz/fuzz_seeds tests/fuzz/corpus/fuzz_envelope
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codispatch.pb-c.h"

typedef Codispatch__V1__Envelope env_t;

static const char *s_dir;

/* Every seed written, kept for the sessions of fuzz_session. */
#define MAX_SEEDS 64
static struct {
    const char *name;
    unsigned char *buf;
    size_t len;
} s_seeds[MAX_SEEDS];
static int s_n;

static int s_prefix = -1; /* a leading byte for fuzz_cli_reply's seeds; -1 none */

static void s_file(const char *dir, const char *name, const unsigned char *buf, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f && s_prefix >= 0)
        fputc(s_prefix, f);
    if (!f || fwrite(buf, 1, len, f) != len) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static void s_write(const char *name, env_t *env)
{
    size_t len = codispatch__v1__envelope__get_packed_size(env);
    unsigned char *buf = malloc(len ? len : 1);
    codispatch__v1__envelope__pack(env, buf);
    s_file(s_dir, name, buf, len);
    if (s_n == MAX_SEEDS)
        exit(1);
    s_seeds[s_n].name = name;
    s_seeds[s_n].buf = buf;
    s_seeds[s_n++].len = len;
}

/* A session for fuzz_session: records "who:name" where who is c (console), m (MH-1), v
 * (VAN-1) or s (SOB-1), optionally followed by a digit: that many minutes pass first. */
static void s_session(const char *dir, const char *file, const char *const *steps, int n)
{
    unsigned char out[8192];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        const char *colon = strchr(steps[i], ':');
        unsigned who = steps[i][0] == 'm' ? 1 : steps[i][0] == 'v' ? 2 : steps[i][0] == 's' ? 3 : 0;
        if (steps[i][1] >= '0' && steps[i][1] <= '9')
            who |= (unsigned)((steps[i][1] - '0') * 4) << 2; /* 4 x 15 s per minute */
        int k = 0;
        while (k < s_n && strcmp(s_seeds[k].name, colon + 1) != 0)
            k++;
        if (k == s_n) {
            fprintf(stderr, "no seed %s\n", colon + 1);
            exit(1);
        }
        out[len++] = (unsigned char)who;
        out[len++] = (unsigned char)(s_seeds[k].len & 0xff);
        out[len++] = (unsigned char)(s_seeds[k].len >> 8);
        memcpy(out + len, s_seeds[k].buf, s_seeds[k].len);
        len += s_seeds[k].len;
    }
    s_file(dir, file, out, len);
}

static env_t s_env(const char *rid)
{
    env_t e = CODISPATCH__V1__ENVELOPE__INIT;
    e.has_version = true;
    e.version = 1;
    e.request_id = (char *)rid;
    return e;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: fuzz_seeds ENVELOPE_DIR [SESSION_DIR [CLI_REPLY_DIR]]\n");
        return 2;
    }
    s_dir = argv[1];
    env_t e;

    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    cc.type = "mental_health";
    cc.has_priority = cc.has_lat = cc.has_lon = cc.has_weapon = true;
    cc.priority = 2;
    cc.lat = 34.05;
    cc.lon = -118.25;
    cc.weapon = true;
    cc.address = "100 Main St";
    cc.area = "SPA 4";
    cc.language = "zh-Hant";
    cc.summary = "man on bridge";
    cc.caller_name = "Ana";
    cc.callback = "+1 (213) 555-0100";
    e = s_env("seed-create");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    e.create_call = &cc;
    s_write("create_call", &e);
    cc.has_priority = false; /* near-valid: a field missing */
    cc.lat = 91;
    s_write("create_call_bad", &e);

    Codispatch__V1__GetCall gc = CODISPATCH__V1__GET_CALL__INIT;
    gc.call_id = "C-000001";
    e = s_env("seed-get");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
    e.get_call = &gc;
    s_write("get_call", &e);

    Codispatch__V1__ListCalls lc = CODISPATCH__V1__LIST_CALLS__INIT;
    lc.has_limit = lc.has_pending_queue = true;
    lc.limit = 10;
    lc.pending_queue = true;
    e = s_env("seed-list");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS;
    e.list_calls = &lc;
    s_write("list_calls", &e);

    Codispatch__V1__CancelCall cx = CODISPATCH__V1__CANCEL_CALL__INIT;
    cx.call_id = "C-000001";
    cx.reason = "duplicate of an earlier call";
    e = s_env("seed-cancel");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL;
    e.cancel_call = &cx;
    s_write("cancel_call", &e);

    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    e = s_env("seed-status");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    e.status = &st;
    s_write("status", &e);
    e.version = 2;
    s_write("status_version2", &e);
    e.version = 1;
    e.request_id = NULL;
    s_write("status_no_request_id", &e);
    e.request_id = "bad id with spaces";
    s_write("status_bad_request_id", &e);

    /* Keys (security) and the programme reports' requests. */
    Codispatch__V1__AddKey addk = CODISPATCH__V1__ADD_KEY__INIT;
    addk.name = "alice";
    addk.role = "dispatcher";
    addk.public_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    e = s_env("seed-add-key");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY;
    e.add_key = &addk;
    s_write("add_key", &e);
    addk.role = "root"; /* near-valid: no such role */
    s_write("add_key_bad_role", &e);
    Codispatch__V1__RevokeKey rk = CODISPATCH__V1__REVOKE_KEY__INIT;
    rk.name = "alice";
    e = s_env("seed-revoke-key");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_REVOKE_KEY;
    e.revoke_key = &rk;
    s_write("revoke_key", &e);
    Codispatch__V1__SetDemographics sd = CODISPATCH__V1__SET_DEMOGRAPHICS__INIT;
    sd.call_id = "C-000001";
    sd.race_ethnicity = "declined";
    sd.age_band = "25_34";
    e = s_env("seed-demographics");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS;
    e.set_demographics = &sd;
    s_write("set_demographics", &e);
    Codispatch__V1__ReportRequest rr = CODISPATCH__V1__REPORT_REQUEST__INIT;
    rr.kind = "equity";
    rr.from = "2026-10-01";
    rr.to = "2026-10-31";
    rr.by = "race_ethnicity";
    e = s_env("seed-report");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_REPORT;
    e.report = &rr;
    s_write("report", &e);
    Codispatch__V1__ExportCalls ex = CODISPATCH__V1__EXPORT_CALLS__INIT;
    ex.from = "2026-10-01";
    ex.to = "2026-10-31";
    ex.has_with_locations = ex.with_locations = true;
    e = s_env("seed-export");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS;
    e.export_calls = &ex;
    s_write("export_calls", &e);

    char *langs[] = {"es", "en", "hy"}, *caps[] = {"naloxone", "wheelchair"};
    Codispatch__V1__AddUnit au = CODISPATCH__V1__ADD_UNIT__INIT;
    au.unit_id = "MH-9";
    au.type = "mh_team";
    au.name = "Clinician team 9";
    au.n_languages = 3;
    au.languages = langs;
    au.n_capabilities = 2;
    au.capabilities = caps;
    au.area = "SPA 4";
    au.has_lat = au.has_lon = au.has_status = true;
    au.lat = 34.06;
    au.lon = -118.24;
    au.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    e = s_env("seed-add-unit");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    e.add_unit = &au;
    s_write("add_unit", &e);

    Codispatch__V1__UpdateUnit uu = CODISPATCH__V1__UPDATE_UNIT__INIT;
    uu.unit_id = "VAN-1";
    uu.has_status = uu.has_set_languages = true;
    uu.status = CODISPATCH__V1__UNIT_STATUS__UNIT_OFF_DUTY;
    uu.set_languages = true;
    uu.n_languages = 1;
    uu.languages = langs;
    e = s_env("seed-update-unit");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT;
    e.update_unit = &uu;
    s_write("update_unit", &e);

    Codispatch__V1__RemoveUnit ru = CODISPATCH__V1__REMOVE_UNIT__INIT;
    ru.unit_id = "SOB-1";
    e = s_env("seed-remove-unit");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT;
    e.remove_unit = &ru;
    s_write("remove_unit", &e);

    Codispatch__V1__ListUnits lu = CODISPATCH__V1__LIST_UNITS__INIT;
    lu.has_status = true;
    lu.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    e = s_env("seed-list-units");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS;
    e.list_units = &lu;
    s_write("list_units", &e);

    Codispatch__V1__ListPlans lp = CODISPATCH__V1__LIST_PLANS__INIT;
    e = s_env("seed-list-plans");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS;
    e.list_plans = &lp;
    s_write("list_plans", &e);

    char *forbidden[] = {"patrol"}, *requires[] = {"naloxone"};
    uint32_t ack[] = {30, 60, 90, 120}, target[] = {600, 900, 1200, 1800},
             pending[] = {60, 300, 600, 1200};
    Codispatch__V1__Plan plan = CODISPATCH__V1__PLAN__INIT;
    plan.key = "substance";
    plan.mode = "base";
    plan.groups = "sober>apru,mh_team;therapeutic_van";
    plan.n_forbidden = 1;
    plan.forbidden = forbidden;
    plan.n_requires = 1;
    plan.requires = requires;
    plan.has_auto_dispatch_max_priority = plan.has_on_scene_alert_s = true;
    plan.auto_dispatch_max_priority = 2;
    plan.n_ack_timeout_s = plan.n_target_response_s = plan.n_pending_alert_s = 4;
    plan.ack_timeout_s = ack;
    plan.target_response_s = target;
    plan.pending_alert_s = pending;
    plan.on_scene_alert_s = 5400;
    plan.description = "SOBER first";
    Codispatch__V1__SetPlan sp = CODISPATCH__V1__SET_PLAN__INIT;
    sp.plan = &plan;
    e = s_env("seed-set-plan");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN;
    e.set_plan = &sp;
    s_write("set_plan", &e);
    plan.key = "flag:medical";
    plan.mode = "add";
    plan.groups = "rescue_ambulance";
    s_write("set_plan_flag", &e);

    Codispatch__V1__Recommend rc = CODISPATCH__V1__RECOMMEND__INIT;
    rc.call_id = "C-000001";
    e = s_env("seed-recommend");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND;
    e.recommend = &rc;
    s_write("recommend", &e);

    char *ids[] = {"VAN-1"};
    Codispatch__V1__Dispatch dp = CODISPATCH__V1__DISPATCH__INIT;
    dp.call_id = "C-000001";
    dp.n_unit_ids = 1;
    dp.unit_ids = ids;
    e = s_env("seed-dispatch");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
    e.dispatch = &dp;
    s_write("dispatch", &e);
    dp.n_unit_ids = 0;
    s_write("dispatch_auto", &e);

    Codispatch__V1__AddNote an = CODISPATCH__V1__ADD_NOTE__INIT;
    an.call_id = "C-000001";
    an.text = "caller calmer now\nstill on the line";
    e = s_env("seed-note");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_NOTE;
    e.add_note = &an;
    s_write("add_note", &e);

    Codispatch__V1__CloseCall cl = CODISPATCH__V1__CLOSE_CALL__INIT;
    cl.call_id = "C-000001";
    cl.disposition = "resolved_on_scene";
    e = s_env("seed-close");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL;
    e.close_call = &cl;
    s_write("close_call", &e);

    Codispatch__V1__ListAlerts la = CODISPATCH__V1__LIST_ALERTS__INIT;
    e = s_env("seed-alerts");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS;
    e.list_alerts = &la;
    s_write("list_alerts", &e);

    Codispatch__V1__SnapshotRequest sr = CODISPATCH__V1__SNAPSHOT_REQUEST__INIT;
    e = s_env("seed-snapshot");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT;
    e.snapshot = &sr;
    s_write("snapshot", &e);

    Codispatch__V1__Hello he = CODISPATCH__V1__HELLO__INIT;
    he.unit_id = "MH-1";
    he.has_last_seq = true;
    he.last_seq = 3;
    he.client_version = "0.1.0";
    e = s_env("seed-hello");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    e.hello = &he;
    s_write("hello", &e);

    Codispatch__V1__Ack ak = CODISPATCH__V1__ACK__INIT;
    ak.call_id = "C-000001";
    e = s_env("seed-ack");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_ACK;
    e.ack = &ak;
    s_write("ack", &e);

    Codispatch__V1__Decline dc = CODISPATCH__V1__DECLINE__INIT;
    dc.call_id = "C-000001";
    dc.reason = "flat tyre";
    e = s_env("seed-decline");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_DECLINE;
    e.decline = &dc;
    s_write("decline", &e);

    Codispatch__V1__StatusUpdate su = CODISPATCH__V1__STATUS_UPDATE__INIT;
    su.has_status = true;
    su.status = CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE;
    e = s_env("seed-status-update");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE;
    e.status_update = &su;
    s_write("status_update", &e);

    Codispatch__V1__Position po = CODISPATCH__V1__POSITION__INIT;
    po.has_lat = po.has_lon = true;
    po.lat = 34.0522;
    po.lon = -118.2437;
    e = s_env("seed-position");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_POSITION;
    e.position = &po;
    s_write("position", &e);

    /* A reply body sent as a request. */
    Codispatch__V1__Error er = CODISPATCH__V1__ERROR__INIT;
    er.has_code = true;
    er.code = CODISPATCH__V1__CODE__INTERNAL;
    er.message = "not a request";
    e = s_env("seed-reply");
    e.body_case = CODISPATCH__V1__ENVELOPE__BODY_ERROR;
    e.error = &er;
    s_write("reply_body", &e);

    /* No body at all. */
    e = s_env("seed-empty");
    s_write("no_body", &e);

    if (argc == 3) {
        const char *lifecycle[] = {"m:ack",      "m:status_update", "m1:position",
                                   "c:add_note", "c:recommend",     "c:close_call"};
        s_session(argv[2], "lifecycle", lifecycle, 6);
        const char *decline[] = {"m:decline", "c:dispatch_auto", "c:dispatch",
                                 "v:ack",     "c:list_alerts",   "c:cancel_call"};
        s_session(argv[2], "decline_reoffer", decline, 6);
        const char *timeout[] = {"c2:status", "c9:list_alerts", "c9:recommend", "c:dispatch",
                                 "c9:snapshot"};
        s_session(argv[2], "ack_timeout", timeout, 5);
        const char *roster[] = {"c:add_unit",   "c:update_unit",   "c:remove_unit",
                                "c:set_plan",   "c:set_plan_flag", "c:create_call",
                                "c:list_units", "c:list_plans"};
        s_session(argv[2], "roster_plans", roster, 8);
        const char *hello[] = {"s:hello",           "s:ack",          "m:hello", "m:ack",
                               "c:create_call_bad", "c:garbage_never"};
        s_session(argv[2], "tablets", hello, 5);
    }
    if (argc == 4) {
        /* Replies with extreme numbers, for the CLI's printers (fuzz_cli_reply). */
        s_dir = argv[3];
        s_prefix = 0;
        Codispatch__V1__Assignment as = CODISPATCH__V1__ASSIGNMENT__INIT;
        as.assignment_id = "A-000001";
        as.unit_id = "MH-1";
        as.has_plan_group = as.has_offered_ms = as.has_acked_ms = as.has_eta_s = true;
        as.plan_group = -2147483647 - 1;
        as.offered_ms = INT64_MIN;
        as.acked_ms = INT64_MAX;
        as.eta_s = UINT32_MAX;
        Codispatch__V1__Assignment as2 = as;
        as2.plan_group = 2147483647;
        Codispatch__V1__Assignment *asp[] = {&as, &as2};
        Codispatch__V1__Call call = CODISPATCH__V1__CALL__INIT;
        call.call_id = "C-000001";
        call.type = "other";
        call.has_created_ms = call.has_pending_since_ms = call.has_status = true;
        call.created_ms = INT64_MIN;
        call.pending_since_ms = INT64_MIN;
        call.status = CODISPATCH__V1__CALL_STATUS__CALL_PENDING;
        call.n_assignments = 2;
        call.assignments = asp;
        e = s_env("seed-extreme-call");
        e.body_case = CODISPATCH__V1__ENVELOPE__BODY_CALL;
        e.call = &call;
        s_write("extreme_call", &e);
        Codispatch__V1__Unit unit = CODISPATCH__V1__UNIT__INIT;
        unit.unit_id = "MH-1";
        unit.has_status_ms = true;
        unit.status_ms = INT64_MIN;
        e = s_env("seed-extreme-unit");
        e.body_case = CODISPATCH__V1__ENVELOPE__BODY_UNIT;
        e.unit = &unit;
        s_write("extreme_unit", &e);
        Codispatch__V1__Candidate cand = CODISPATCH__V1__CANDIDATE__INIT;
        cand.unit_id = "MH-1";
        cand.has_plan_group = true;
        cand.plan_group = 2147483647;
        Codispatch__V1__Candidate *candp[] = {&cand};
        Codispatch__V1__Recommendation rec = CODISPATCH__V1__RECOMMENDATION__INIT;
        rec.plan = "mh_team;apru";
        rec.n_candidates = 1;
        rec.candidates = candp;
        e = s_env("seed-extreme-rec");
        e.body_case = CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION;
        e.recommendation = &rec;
        s_write("extreme_recommendation", &e);
    }
    return 0;
}
