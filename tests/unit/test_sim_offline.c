/*  test_sim_offline.c — `codispatch sim generate | offline`, through the built binary.
 *
 *  The simulator is a CLI command, so it is tested as users run it: the real `codispatch`
 *  on the committed demo scenario (tools/demo/) and on files written here.  No server and
 *  no database are involved.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define BIN  CODISPATCH_BIN_DIR "/codispatch"
#define DEMO CODISPATCH_SOURCE_DIR "/tools/demo"

static char s_dir[] = "/tmp/cd-sim-XXXXXX";

static void setup(void)
{
    strcpy(s_dir, "/tmp/cd-sim-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(s_dir));
}

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs a shell command line; returns its exit status and what it printed (stdout, and
 * stderr too when the line redirects it), which the caller frees. */
static int s_run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (size_t got; (got = fread(buf + len, 1, cap - len - 1, p)) > 0;) {
        len += got;
        if (len + 1 == cap)
            buf = realloc(buf, cap *= 2);
    }
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `sim offline --json` on roster and calls: the result object without wall_s (the only
 * figure that may differ between runs). */
static cJSON *s_offline(const char *roster, const char *calls, const char *policy, int seed)
{
    char cmd[1024], *out;
    snprintf(cmd, sizeof cmd,
             "%s --json sim offline --roster '%s' --calls '%s' --policy %s --seed %d", BIN, roster,
             calls, policy, seed);
    int rc = s_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s: exit %d", cmd, rc);
    cJSON *o = cJSON_Parse(out);
    ck_assert_msg(o != NULL, "not JSON: %s", out);
    free(out);
    ck_assert_msg(cJSON_HasObjectItem(o, "wall_s"), "no wall_s");
    cJSON_DeleteItemFromObject(o, "wall_s");
    return o;
}

static double s_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    ck_assert_msg(cJSON_IsNumber(v), "%s is missing or not a number", key);
    return v->valuedouble;
}

static void s_assert_same(cJSON *a, cJSON *b)
{
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
}

START_TEST(same_inputs_same_results)
{
    static const char *const policies[] = {"plan", "closest", "police_default"};
    for (int i = 0; i < 3; i++) {
        cJSON *a = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", policies[i], 7);
        cJSON *b = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", policies[i], 7);
        s_assert_same(a, b);
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    /* ...and the seed matters: crews answer and drive differently. */
    cJSON *a = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", "plan", 1);
    cJSON *b = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", "plan", 2);
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    ck_assert_str_ne(ta, tb);
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
}
END_TEST

START_TEST(policies_differ_sensibly)
{
    cJSON *plan = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", "plan", 1);
    cJSON *closest = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", "closest", 1);
    cJSON *police = s_offline(DEMO "/roster.csv", DEMO "/calls.csv", "police_default", 1);
    cJSON *all[] = {plan, closest, police};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq((int)s_num(all[i], "calls"), 300);
        ck_assert_int_eq((int)(s_num(all[i], "dispatched") + s_num(all[i], "never_dispatched")),
                         300);
        ck_assert(s_num(all[i], "language_matched") <= s_num(all[i], "language_calls"));
        ck_assert(s_num(all[i], "response_p50_s") <= s_num(all[i], "response_p90_s"));
    }
    /* The default plans never send what they forbid, and send only what they list. */
    ck_assert_int_eq((int)s_num(plan, "forbidden_assignments"), 0);
    ck_assert(s_num(plan, "type_match_rate") == 1.0);
    ck_assert_int_eq((int)s_num(plan, "never_dispatched"), 0);
    ck_assert(s_num(plan, "ack_timeouts") > 0); /* the timeout path ran */
    /* Police for everything: every dispatched call has police, most of them forbidden. */
    ck_assert(s_num(police, "police_involved") == s_num(police, "dispatched"));
    ck_assert(s_num(police, "forbidden_assignments") > 0);
    ck_assert(s_num(police, "type_match_rate") < s_num(plan, "type_match_rate"));
    ck_assert(s_num(police, "police_involved") > s_num(plan, "police_involved"));
    /* The nearest unit of any type arrives soonest, but is often not the right one. */
    ck_assert(s_num(closest, "response_p50_s") < s_num(plan, "response_p50_s"));
    ck_assert(s_num(closest, "type_match_rate") < 1.0);
    ck_assert(s_num(closest, "forbidden_assignments") > 0);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(all[i]);
}
END_TEST

START_TEST(generate_is_reproducible)
{
    char cmd[1024], *out;
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "%s sim generate --calls 300 --hours 24 --seed 1 --out %s/calls%d.csv "
                 "--roster-out %s/roster%d.csv --units 60 2>&1",
                 BIN, s_dir, i, s_dir, i);
        ck_assert_int_eq(s_run(cmd, &out), 0);
        free(out);
    }
    /* Twice the same, and the same as the committed demo files (tools/demo/README.md gives
     * this command). */
    snprintf(cmd, sizeof cmd,
             "(cmp %s/calls0.csv %s/calls1.csv && cmp %s/roster0.csv %s/roster1.csv && "
             "cmp %s/calls0.csv " DEMO "/calls.csv && cmp %s/roster0.csv " DEMO "/roster.csv) 2>&1",
             s_dir, s_dir, s_dir, s_dir, s_dir, s_dir);
    int rc = s_run(cmd, &out);
    ck_assert_msg(rc == 0, "%s", out);
    free(out);
    /* A small scenario of its own runs too, sorted by offset and closed out. */
    snprintf(cmd, sizeof cmd,
             "%s sim generate --calls 40 --hours 2 --seed 9 --out %s/small.csv "
             "--roster-out %s/small_roster.csv --units 12 2>&1",
             BIN, s_dir, s_dir);
    ck_assert_int_eq(s_run(cmd, &out), 0);
    free(out);
    char roster[256], calls[256];
    snprintf(roster, sizeof roster, "%s/small_roster.csv", s_dir);
    snprintf(calls, sizeof calls, "%s/small.csv", s_dir);
    cJSON *a = s_offline(roster, calls, "closest", 3), *b = s_offline(roster, calls, "closest", 3);
    s_assert_same(a, b);
    ck_assert_int_eq((int)s_num(a, "calls"), 40);
    ck_assert_int_eq((int)(s_num(a, "closed") + s_num(a, "cancelled")), 40);
    cJSON_Delete(a);
    cJSON_Delete(b);
}
END_TEST

/* Writes text to DIR/name and runs offline on it (as calls, or as the roster); returns the
 * exit status and stderr. */
static int s_offline_bad(const char *name, const char *text, bool as_roster, char **err)
{
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/%s", s_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s sim offline --roster '%s' --calls '%s' 2>&1 >/dev/null", BIN,
             as_roster ? path : DEMO "/roster.csv", as_roster ? DEMO "/calls.csv" : path);
    return s_run(cmd, err);
}

#define CALLS_HEADER "t_offset_s,type,priority,lat,lon,area,language,flags,summary\n"

START_TEST(bad_files_name_line_and_column)
{
    char *err;
    /* A bad priority on the third line, after a quoted summary with a comma and a quote. */
    int rc =
        s_offline_bad("prio.csv",
                      CALLS_HEADER "0,mental_health,2,34.05,-118.25,SPA 4,es,,\"a, \"\"b\"\"\"\n"
                                   "60,substance,9,34.05,-118.25,SPA 4,,,x\n",
                      false, &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "prio.csv:3: column 3 (priority)") && strstr(err, "'9'"), "%s", err);
    free(err);

    rc = s_offline_bad("quote.csv",
                       CALLS_HEADER "0,medical,1,34.05,-118.25,SPA 4,,,\"never closed\n", false,
                       &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "quote.csv:2: column 9") && strstr(err, "never closed"), "%s", err);
    free(err);

    rc = s_offline_bad("flags.csv", CALLS_HEADER "0,medical,1,34.05,-118.25,SPA 4,,knife,x\n",
                       false, &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "flags.csv:2: column 8 (flags)"), "%s", err);
    free(err);

    rc = s_offline_bad("header.csv", "when,type\n0,medical\n", false, &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "header.csv:1: expected the header"), "%s", err);
    free(err);

    rc = s_offline_bad("roster.csv",
                       "unit_id,type,name,languages,capabilities,area,lat,lon\n"
                       "MH-1,mh_team,\"Team, Metro\",en;es,naloxone,SPA 4,34.05,-118.25\n"
                       "X-1,submarine,X,en,,SPA 4,34.05,-118.25\n",
                       true, &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_msg(strstr(err, "roster.csv:3: column 2 (type)"), "%s", err);
    free(err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_offline");
    TCase *tc = tcase_create("sim");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, same_inputs_same_results);
    tcase_add_test(tc, policies_differ_sensibly);
    tcase_add_test(tc, generate_is_reproducible);
    tcase_add_test(tc, bad_files_name_line_and_column);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
