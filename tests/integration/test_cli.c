/* Integration: the codispatch command-line tool against a real server — output, JSON, exit
 * codes (0 ok, 1 refused, 2 usage, 3 unreachable) and the sentences that name bad fields. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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

/* Runs `codispatch --server <ours> ARGS 2>&1`; returns the exit code, output in *out. */
static int s_cli(const char *args, char **out)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s --server %s %s 2>&1", harness_bin("codispatch"),
             harness_control(h), args);
    return harness_sh(cmd, out);
}

START_TEST(create_get_list_cancel)
{
    char *out;
    ck_assert_int_eq(s_cli("call create --type mental_health --priority 2 --lat 34.05 "
                           "--lon -118.25 --address '200 N Spring St' --area 'SPA 4' "
                           "--language es --weapon --summary 'Man shouting' "
                           "--caller-name Rosa --callback '213-555-0100'",
                           &out),
                     0);
    char id[32];
    ck_assert_int_eq(strncmp(out, "C-", 2), 0);
    snprintf(id, sizeof id, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);

    char args[128];
    snprintf(args, sizeof args, "call get %s", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "mental_health"));
    ck_assert_ptr_nonnull(strstr(out, "200 N Spring St"));
    ck_assert_ptr_nonnull(strstr(out, "weapon"));
    ck_assert_ptr_nonnull(strstr(out, "Rosa"));
    free(out);

    snprintf(args, sizeof args, "--json call get %s", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    cJSON *o = cJSON_Parse(out);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "call_id")->valuestring, id);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "pending");
    ck_assert_int_eq(cJSON_GetObjectItem(o, "priority")->valueint, 2);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "language")->valuestring, "es");
    cJSON_Delete(o);
    free(out);

    ck_assert_int_eq(s_cli("call list --open", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, id));
    ck_assert_ptr_nonnull(strstr(out, "STATUS"));
    free(out);

    snprintf(args, sizeof args, "call cancel %s --reason 'handled by phone'", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "cancelled"));
    free(out);
    /* A second cancel is refused by the server: exit 1 and the reason. */
    snprintf(args, sizeof args, "call cancel %s --reason again", id);
    ck_assert_int_eq(s_cli(args, &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "CONFLICT"));
    ck_assert_ptr_nonnull(strstr(out, "already cancelled"));
    free(out);
}
END_TEST

START_TEST(json_output_of_create_and_status)
{
    char *out;
    ck_assert_int_eq(s_cli("--json call create --type substance --priority 1 --lat 34 --lon "
                           "-118.3 --medical",
                           &out),
                     0);
    cJSON *o = cJSON_Parse(out);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(strncmp(cJSON_GetObjectItem(o, "call_id")->valuestring, "C-", 2), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "status")->valuestring, "pending");
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "risk_flags"), 0)->valuestring,
                     "medical");
    cJSON_Delete(o);
    free(out);

    ck_assert_int_eq(s_cli("--json status", &out), 0);
    o = cJSON_Parse(out);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "database")->valuestring, "ok");
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "embedded_database")));
    ck_assert_int_ge(cJSON_GetObjectItem(o, "open_calls")->valueint, 1);
    ck_assert_int_ge(cJSON_GetObjectItem(o, "last_seq")->valueint, 1);
    cJSON_Delete(o);
    free(out);
}
END_TEST

START_TEST(bad_arguments_name_the_field)
{
    struct {
        const char *args;
        int rc;
        const char *needle;
    } cases[] = {
        {"call create --type mental_health --priority 9 --lat 34 --lon -118", 2,
         "priority must be between 1 (highest) and 4; got 9"},
        {"call create --type mental_health --priority 2 --lat 200 --lon -118", 2,
         "lat must be between -90 and 90; got 200"},
        {"call create --type '' --priority 2 --lat 34 --lon -118", 2, "type is required"},
        {"call create --type mental_health --priority two --lat 34 --lon -118", 2,
         "--priority must be a number"},
        {"call create --type unicorn --priority 2 --lat 34 --lon -118", 1,
         "type 'unicorn' is not a known call type"},
        {"call create --priority 2 --lat 34 --lon -118", 2, "type is required"},
        {"call get", 2, "which call?"},
        {"call fly", 2, "unknown call subcommand"},
        {"warp", 2, "unknown command"},
        {"call list --limit 5000", 2, "--limit must be a number from 1 to 1000"},
        {"call cancel C-000001", 2, "--reason is required"},
        {"call get C-424242", 1, "NOT_FOUND"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *out;
        int rc = s_cli(cases[i].args, &out);
        ck_assert_msg(rc == cases[i].rc, "'%s' exited %d, not %d: %s", cases[i].args, rc,
                      cases[i].rc, out);
        ck_assert_msg(strstr(out, cases[i].needle), "'%s' said '%s', not '%s'", cases[i].args, out,
                      cases[i].needle);
        free(out);
    }
}
END_TEST

START_TEST(request_id_makes_retries_safe)
{
    char *a, *b;
    const char *args = "call create --type other --priority 4 --lat 34 --lon -118 "
                       "--request-id cli-fixed-1";
    ck_assert_int_eq(s_cli(args, &a), 0);
    ck_assert_int_eq(s_cli(args, &b), 0);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
}
END_TEST

START_TEST(unreachable_server_exits_3)
{
    char cmd[512], *out;
    snprintf(cmd, sizeof cmd, "%s --server tcp://127.0.0.1:1 --timeout 300 status 2>&1",
             harness_bin("codispatch"));
    ck_assert_int_eq(harness_sh(cmd, &out), 3);
    ck_assert_ptr_nonnull(strstr(out, "cannot reach the server"));
    free(out);
}
END_TEST

START_TEST(roster_plan_recommend_dispatch_close)
{
    char *out;
    ck_assert_int_eq(s_cli("plan set --key substance --groups 'sober>apru' --forbid patrol "
                           "--auto-dispatch 0 --ack-timeout 30,60,90,120",
                           &out),
                     0);
    free(out);
    ck_assert_int_eq(s_cli("--json plan list", &out), 0);
    cJSON *plans = cJSON_Parse(out);
    ck_assert_ptr_nonnull(plans);
    bool seen = false;
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(plans, "plans"))
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "key")), "substance") == 0) {
            ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(p, "groups")), "sober>apru");
            seen = true;
        }
    }
    ck_assert(seen);
    cJSON_Delete(plans);
    free(out);

    ck_assert_int_eq(s_cli("unit add --id CS1 --type sober --languages es,en --lat 34.06 "
                           "--lon -118.25 --status available",
                           &out),
                     0);
    free(out);
    ck_assert_int_eq(s_cli("unit add --id CA1 --type apru --lat 34.05 --lon -118.25 "
                           "--status available",
                           &out),
                     0);
    free(out);
    ck_assert_int_eq(s_cli("unit add --id CX1 --type hovercraft", &out), 1);
    ck_assert_ptr_nonnull(strstr(out, "hovercraft"));
    free(out);
    ck_assert_int_eq(s_cli("unit update --id CS1 --status on_scene", &out), 2);
    free(out);

    ck_assert_int_eq(s_cli("call create --type substance --priority 3 --lat 34.05 --lon -118.25 "
                           "--language es",
                           &out),
                     0);
    char id[32], args[160];
    snprintf(id, sizeof id, "%.*s", (int)strcspn(out, "\n"), out);
    free(out);

    /* The first-choice sober unit ranks above the closer fallback APRU. */
    snprintf(args, sizeof args, "--json recommend %s", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    cJSON *rec = cJSON_Parse(out);
    ck_assert_ptr_nonnull(rec);
    const cJSON *cands = cJSON_GetObjectItem(rec, "candidates");
    ck_assert_int_eq(cJSON_GetArraySize(cands), 2);
    ck_assert_str_eq(
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(cands, 0), "unit_id")), "CS1");
    cJSON_Delete(rec);
    free(out);

    snprintf(args, sizeof args, "dispatch %s", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "CS1"));
    ck_assert_ptr_nonnull(strstr(out, "offered"));
    free(out);
    ck_assert_int_eq(s_cli("--json unit list --status assigned", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"CS1\""));
    ck_assert_ptr_null(strstr(out, "\"CA1\""));
    free(out);
    ck_assert_int_eq(s_cli("unit remove --id CS1", &out), 1); /* still assigned */
    free(out);

    snprintf(args, sizeof args, "call note %s caller says he took pills an hour ago", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "call close %s --disposition maybe", id);
    ck_assert_int_eq(s_cli(args, &out), 2);
    free(out);
    snprintf(args, sizeof args, "--json call close %s --disposition referred", id);
    ck_assert_int_eq(s_cli(args, &out), 0);
    cJSON *call = cJSON_Parse(out);
    ck_assert_ptr_nonnull(call);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(call, "status")), "closed");
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(call, "disposition")), "referred");
    const cJSON *asg = cJSON_GetArrayItem(cJSON_GetObjectItem(call, "assignments"), 0);
    ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(asg, "status")), "cleared");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(call, "notes")), 1);
    cJSON_Delete(call);
    free(out);
    ck_assert_int_eq(s_cli("unit remove --id CS1", &out), 0); /* free again */
    free(out);
}
END_TEST

/* `codispatch bench` against the harness server: small runs, so the tools cannot rot.  Only
 * what they report is checked (fields present, nothing lost, no errors), never how fast. */
static cJSON *s_bench(const char *args, int want_rc)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd, "%s --server %s --timeout 20000 bench %s 2>/dev/null",
             harness_bin("codispatch"), harness_control(h), args);
    int rc = harness_sh(cmd, &out);
    ck_assert_msg(rc == want_rc, "bench %s: exit %d, wanted %d; stdout: %s", args, rc, want_rc,
                  out ? out : "");
    cJSON *o = out ? cJSON_Parse(out) : NULL;
    if (want_rc == 0)
        ck_assert_msg(o != NULL, "bench %s: stdout is not one JSON object: %s", args,
                      out ? out : "");
    free(out);
    return o;
}

static double s_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "no number '%s' in the bench result", key);
    return v->valuedouble;
}

/* A `bench stream` result in which each of its subscribers got every change, in order. */
static void s_every_change_delivered(const cJSON *o, int subscribers)
{
    ck_assert_int_eq((int)s_num(o, "gaps"), 0);
    ck_assert_int_eq((int)s_num(o, "missed"), 0);
    ck_assert(s_num(o, "changes") > 0);
    ck_assert_int_eq((int)s_num(o, "delivered"), (int)s_num(o, "changes") * subscribers);
}

START_TEST(bench_tools_report_what_they_measured)
{
    cJSON *o = s_bench("intake --clients 2 --calls 20", 0);
    ck_assert_int_eq((int)s_num(o, "clients"), 2);
    ck_assert_int_eq((int)s_num(o, "calls"), 20);
    ck_assert_int_eq((int)s_num(o, "errors"), 0);
    ck_assert(s_num(o, "seconds") > 0 && s_num(o, "throughput_per_s") > 0);
    ck_assert(s_num(o, "p50_ms") > 0);
    ck_assert(s_num(o, "p99_ms") >= s_num(o, "p50_ms"));
    ck_assert(s_num(o, "p999_ms") >= s_num(o, "p99_ms"));
    cJSON_Delete(o);

    /* The same through libzmq's sockets instead of the bench's own ZMTP peer. */
    o = s_bench("intake --clients 2 --calls 20 --libzmq", 0);
    ck_assert_int_eq((int)s_num(o, "calls"), 20);
    ck_assert_int_eq((int)s_num(o, "errors"), 0);
    cJSON_Delete(o);

    o = s_bench("rtt --count 10", 0);
    ck_assert_int_eq((int)s_num(o, "calls"), 10);
    ck_assert_int_eq((int)s_num(o, "errors"), 0);
    cJSON_Delete(o);

    o = s_bench("lifecycle --units 2 --calls 4 --clients 2", 0);
    ck_assert_int_eq((int)s_num(o, "calls"), 4);
    ck_assert_int_eq((int)s_num(o, "errors"), 0);
    ck_assert(s_num(o, "calls_per_s") > 0);
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(o, "steps");
    static const char *const names[] = {"create",   "dispatch", "push",  "ack",
                                        "en_route", "on_scene", "clear", "close"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(steps, names[i]);
        ck_assert_msg(st != NULL, "lifecycle step %s missing", names[i]);
        ck_assert_msg(s_num(st, "p50_ms") > 0, "lifecycle step %s was not timed", names[i]);
    }
    cJSON_Delete(o);

    o = s_bench("stream --subscribers 3 --ws 1 --rate 20 --seconds 1", 0);
    ck_assert_int_eq((int)s_num(o, "ws_subscribers"), 1);
    ck_assert_int_eq((int)s_num(o, "errors"), 0);
    s_every_change_delivered(o, 3);
    ck_assert(s_num(o, "lag_p99_ms") >= s_num(o, "lag_p50_ms"));
    /* Measured from the commit, which the server stamps on every change (ZeroMQ and /ws);
     * the event's time is earlier, so its lag cannot be shorter. */
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(o, "lag_from");
    ck_assert(cJSON_IsString(from) && strcmp(from->valuestring, "committed_us") == 0);
    ck_assert(s_num(o, "event_lag_p99_ms") >= s_num(o, "event_lag_p50_ms"));
    ck_assert(s_num(o, "event_lag_max_ms") >= s_num(o, "lag_max_ms"));
    /* The first second at the rate is the ramp (--ramp, default 1): its changes count as
     * delivered above (1 s of ramp and 1 s measured: about 40 changes at 20 a second), their
     * lag apart from lag_*. */
    ck_assert_int_eq((int)s_num(o, "ramp_seconds"), 1);
    ck_assert(s_num(o, "changes") >= 30);
    ck_assert(s_num(o, "ramp_lag_p99_ms") > 0);
    ck_assert(s_num(o, "ramp_lag_p99_ms") >= s_num(o, "ramp_lag_p50_ms"));
    cJSON_Delete(o);
    o = s_bench("stream --subscribers 3 --ws 0 --rate 20 --seconds 1 --ramp 0 --libzmq", 0);
    ck_assert_int_eq((int)s_num(o, "zmq_subscribers"), 3);
    s_every_change_delivered(o, 3);
    ck_assert(s_num(o, "changes") < 30); /* no ramp: 1 s at 20 a second */
    ck_assert(s_num(o, "ramp_lag_p99_ms") == 0 && s_num(o, "ramp_lag_max_ms") == 0);
    cJSON_Delete(o);

    /* Usage errors exit 2 before any load. */
    cJSON_Delete(s_bench("intake --clients 0", 2));
    cJSON_Delete(s_bench("lifecycle --units 2 --clients 3", 2));
    cJSON_Delete(s_bench("stream --subscribers 3 --rate 20 --seconds 1 --ramp -1", 2));
    cJSON_Delete(s_bench("warp-speed", 2));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, create_get_list_cancel);
    tcase_add_test(tc, json_output_of_create_and_status);
    tcase_add_test(tc, bad_arguments_name_the_field);
    tcase_add_test(tc, request_id_makes_retries_safe);
    tcase_add_test(tc, unreachable_server_exits_3);
    tcase_add_test(tc, roster_plan_recommend_dispatch_close);
    tcase_add_test(tc, bench_tools_report_what_they_measured); /* last: it adds units */
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
