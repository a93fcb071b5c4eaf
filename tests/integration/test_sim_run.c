/* Integration: `codispatch sim run` replays a small scenario against the real server — units
 * added, one simulated tablet per unit on the units socket, calls created, acked, worked and
 * closed — and every call ends closed within a bounded time. */
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

/* Six units and eight calls within a few kilometres of downtown Los Angeles, so that at
 * speed 600 the whole scenario (half an hour of calls, scenes of 15-45 minutes) takes
 * seconds.  Every call type here has a unit its plan asks for; a P1 call is auto-dispatched,
 * the others wait for the simulated dispatcher; one call has a medical flag (two units). */
static const char *const ROSTER =
    "unit_id,type,name,languages,capabilities,area,lat,lon\n"
    "MH-T1,mh_team,Clinicians,en;es,,SPA 4,34.052,-118.243\n"
    "VAN-T1,therapeutic_van,Van,en,transport,SPA 4,34.060,-118.250\n"
    "APRU-T1,apru,APRU,en;ko,naloxone,SPA 4,34.045,-118.260\n"
    "SOBER-T1,sober,Sober,en,naloxone,SPA 4,34.040,-118.240\n"
    "RA-T1,rescue_ambulance,Ambulance,en;es,transport,SPA 4,34.050,-118.270\n"
    "SMART-T1,smart,SMART,en,,SPA 4,34.070,-118.240\n";

static const char *const CALLS =
    "t_offset_s,type,priority,lat,lon,area,language,flags,summary\n"
    "0,suicide_risk,1,34.055,-118.245,SPA 4,es,,man on a bridge\n"
    "120,substance,3,34.048,-118.252,SPA 4,,,slumped at a bus stop\n"
    "300,mental_health,3,34.062,-118.238,SPA 4,ko,,family worried\n"
    "480,welfare_check,3,34.044,-118.262,SPA 4,en,,neighbour not seen\n"
    "700,medical,2,34.058,-118.255,SPA 4,es,,diabetic and confused\n"
    "900,homeless_outreach,4,34.041,-118.247,SPA 4,,,outreach requested\n"
    "1200,mental_health,3,34.050,-118.249,SPA 4,,medical,agitated and injured\n"
    "1500,other,4,34.066,-118.244,SPA 4,,,asks about services\n";

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
}

START_TEST(replays_a_scenario_and_closes_every_call)
{
    char roster[512], calls[512], cmd[2048], *out = NULL;
    snprintf(roster, sizeof roster, "%s/sim_roster.csv", harness_dir(h));
    snprintf(calls, sizeof calls, "%s/sim_calls.csv", harness_dir(h));
    s_write(roster, ROSTER);
    s_write(calls, CALLS);

    /* Bounded: the sim gives up by itself (30 s after the last call at this speed), and
     * timeout(1) stops it if it hangs. */
    snprintf(cmd, sizeof cmd,
             "timeout 180 %s --server %s --json sim run --roster %s --calls %s --speed 600 "
             "--seed 3 2>%s/sim_run.err",
             harness_bin("codispatch"), harness_control(h), roster, calls, harness_dir(h));
    int rc = harness_sh(cmd, &out);
    cJSON *o = out ? cJSON_Parse(out) : NULL;
    if (rc != 0 || !o) {
        char *log = harness_server_log(h);
        ck_abort_msg("sim run exited %d with '%s'; server log:\n%s", rc, out ? out : "", log);
    }
    ck_assert_int_eq(cJSON_GetObjectItem(o, "calls")->valueint, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "created")->valueint, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "closed")->valueint, 8);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "never_dispatched")->valueint, 0);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "left_open")), 0);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "forbidden_assignments")->valueint, 0);
    ck_assert_int_eq(cJSON_GetObjectItem(o, "language_calls")->valueint, 3);
    ck_assert(cJSON_GetObjectItem(o, "response_p50_s")->valuedouble > 0);
    ck_assert(cJSON_GetObjectItem(o, "response_p90_s")->valuedouble >=
              cJSON_GetObjectItem(o, "response_p50_s")->valuedouble);
    ck_assert(cJSON_GetObjectItem(o, "wall_s")->valuedouble < 180);
    cJSON_Delete(o);
    free(out);

    /* The server's own record agrees: every call closed with a disposition (the list view
     * leaves assignments out; never_dispatched above covers them), every unit back in
     * service. */
    snprintf(cmd, sizeof cmd, "%s --server %s --json call list --limit 100",
             harness_bin("codispatch"), harness_control(h));
    ck_assert_int_eq(harness_sh(cmd, &out), 0);
    int n = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), n++) {
        cJSON *c = cJSON_Parse(line);
        ck_assert_ptr_nonnull(c);
        ck_assert_str_eq(cJSON_GetObjectItem(c, "status")->valuestring, "closed");
        ck_assert_str_ne(cJSON_GetObjectItem(c, "disposition")->valuestring, "");
        cJSON_Delete(c);
    }
    ck_assert_int_eq(n, 8);
    free(out);
    snprintf(cmd, sizeof cmd, "%s --server %s --json unit list", harness_bin("codispatch"),
             harness_control(h));
    ck_assert_int_eq(harness_sh(cmd, &out), 0);
    cJSON *list = cJSON_Parse(out), *units = cJSON_GetObjectItem(list, "units"), *u;
    ck_assert_int_eq(cJSON_GetArraySize(units), 6);
    cJSON_ArrayForEach(u, units)
    {
        ck_assert_str_eq(cJSON_GetObjectItem(u, "status")->valuestring, "available");
    }
    cJSON_Delete(list);
    free(out);
}
END_TEST

/* A second run on the same server reuses the units (none added twice) and closes its calls
 * too; a unit a supervisor took off duty is put back. */
START_TEST(a_second_run_reuses_the_roster)
{
    char roster[512], calls[512], cmd[2048], *out = NULL;
    snprintf(roster, sizeof roster, "%s/sim_roster.csv", harness_dir(h));
    snprintf(calls, sizeof calls, "%s/sim_calls.csv", harness_dir(h));
    s_write(roster, ROSTER);
    s_write(calls, CALLS);
    snprintf(cmd, sizeof cmd, "%s --server %s unit update --id VAN-T1 --status off_duty",
             harness_bin("codispatch"), harness_control(h));
    ck_assert_int_eq(harness_sh(cmd, NULL), 0);
    snprintf(cmd, sizeof cmd,
             "timeout 180 %s --server %s sim run --roster %s --calls %s --speed 600 --seed 4 "
             "2>&1",
             harness_bin("codispatch"), harness_control(h), roster, calls);
    int rc = harness_sh(cmd, &out);
    ck_assert_msg(rc == 0, "sim run exited %d: %s", rc, out ? out : "");
    ck_assert_ptr_nonnull(strstr(out, "0 added, 1 put back on duty"));
    ck_assert_ptr_nonnull(strstr(out, "8 closed, 0 left open"));
    free(out);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("sim_run");
    TCase *tc = tcase_create("sim_run");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, replays_a_scenario_and_closes_every_call);
    tcase_add_test(tc, a_second_run_reuses_the_roster);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run_suite(s_suite());
}
