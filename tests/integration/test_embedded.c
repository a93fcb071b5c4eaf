/* Integration: the embedded default database.  codispatchd without --db creates a private
 * PostgreSQL cluster in DATA_DIR/pg on first start, stops it on a clean exit, adopts it when a
 * crashed server left it running, and starts it again over a stale postmaster.pid; its
 * backends keep the heap they free, unless the operator set malloc thresholds of their own. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new_embedded();
}

static void suite_teardown(void)
{
    harness_destroy(&h);
}

/* Waits (bounded) until pid is gone. */
static bool s_wait_gone(long pid, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (!harness_pid_alive(pid))
            return true;
        harness_sleep_ms(20);
    }
    return !harness_pid_alive(pid);
}

static char *s_create(const char *rid)
{
    Codispatch__V1__Envelope *r = harness_create_call(h, rid, "welfare_check", 3, 34.05, -118.25);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char *id = strdup(r->call->call_id);
    cdc_envelope_free(r);
    return id;
}

static void s_assert_call_exists(const char *id)
{
    Codispatch__V1__Envelope *r = harness_get_call(h, id);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(r->call->call_id, id);
    cdc_envelope_free(r);
}

START_TEST(first_start_creates_the_cluster_and_clean_exit_stops_it)
{
    char path[256];
    snprintf(path, sizeof path, "%s/PG_VERSION", harness_pgdir(h));
    ck_assert_int_ne(access(path, F_OK), 0); /* nothing there before the first start */

    ck_assert_int_eq(harness_start_server(h), 0);
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert(harness_embedded_db_running(h));

    Codispatch__V1__Envelope *st = harness_status(h);
    ck_assert_ptr_nonnull(st);
    ck_assert(st->status_reply->has_embedded_database);
    ck_assert(st->status_reply->embedded_database);
    cdc_envelope_free(st);

    /* Unix socket only: the socket lives in the cluster directory, TCP is off. */
    char conf[256], *out = NULL;
    snprintf(conf, sizeof conf, "grep -h \"^listen_addresses = ''\" %s/postgresql*.conf",
             harness_pgdir(h));
    ck_assert_int_eq(harness_sh(conf, &out), 0);
    free(out);

    char *id = s_create("embedded-1");
    long pm = harness_postmaster_pid(h);
    ck_assert_int_gt(pm, 0);

    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert(s_wait_gone(pm, 10000)); /* the server stopped its cluster */
    ck_assert(!harness_embedded_db_running(h));

    /* The next start reuses the cluster and its data. */
    ck_assert_int_eq(harness_start_server(h), 0);
    s_assert_call_exists(id);
    free(id);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
}
END_TEST

START_TEST(a_crashed_server_leaves_the_cluster_running_and_the_next_adopts_it)
{
    ck_assert_int_eq(harness_start_server(h), 0);
    char *id = s_create("embedded-2");
    long pm = harness_postmaster_pid(h);

    ck_assert_int_eq(harness_stop_server(h, SIGKILL), 128 + SIGKILL);
    ck_assert(harness_pid_alive(pm)); /* PostgreSQL outlives the crash */

    ck_assert_int_eq(harness_start_server(h), 0);
    ck_assert_int_eq(harness_postmaster_pid(h), pm); /* adopted, not restarted */
    s_assert_call_exists(id);
    free(id);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert(s_wait_gone(pm, 10000));
}
END_TEST

START_TEST(a_stale_postmaster_pid_does_not_stop_the_start)
{
    ck_assert_int_eq(harness_start_server(h), 0);
    char *id = s_create("embedded-3");
    long pm = harness_postmaster_pid(h);

    /* Server and database both die hard (a power cut, say); wait until the postmaster's
     * children have noticed and gone too. */
    char cmd[64], *children = NULL;
    snprintf(cmd, sizeof cmd, "pgrep -P %ld", pm);
    ck_assert_int_eq(harness_sh(cmd, &children), 0);
    ck_assert_int_eq(harness_stop_server(h, SIGKILL), 128 + SIGKILL);
    kill((pid_t)pm, SIGKILL);
    ck_assert(s_wait_gone(pm, 10000));
    for (char *tok = strtok(children, "\n"); tok; tok = strtok(NULL, "\n"))
        ck_assert(s_wait_gone(strtol(tok, NULL, 10), 10000));
    free(children);

    /* ... and the PID in the leftover postmaster.pid now belongs to another live process. */
    char path[256];
    snprintf(path, sizeof path, "%s/postmaster.pid", harness_pgdir(h));
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%ld\n%s\n", (long)getpid(), harness_pgdir(h));
    fclose(f);

    ck_assert_int_eq(harness_start_server(h), 0);
    ck_assert_int_ne(harness_postmaster_pid(h), (long)getpid());
    s_assert_call_exists(id); /* committed work survived the crash */
    free(id);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
}
END_TEST

/* GLIBC_TUNABLES as the cluster's postmaster, and so every backend it forks, started with, as
 * a string (empty if unset) in out.  Read from the postmaster's first environment block,
 * where glibc, parsing the variable at start-up, ends each setting it knows with a NUL: the
 * settings are the NUL-separated pieces from "GLIBC_TUNABLES=" on that start with "glibc.". */
static void s_cluster_tunables(char *out, size_t cap)
{
    char path[64], env[65536];
    snprintf(path, sizeof path, "/proc/%ld/environ", harness_postmaster_pid(h));
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(env, 1, sizeof env - 1, f);
    fclose(f);
    env[n] = '\0';
    out[0] = '\0';
    const char *key = "GLIBC_TUNABLES=";
    for (size_t at = 0; at < n; at += strlen(env + at) + 1) {
        if (strncmp(env + at, key, strlen(key)) != 0)
            continue;
        strncat(out, env + at + strlen(key), cap - strlen(out) - 1);
        for (at += strlen(env + at) + 1; at < n && strncmp(env + at, "glibc.", 6) == 0;
             at += strlen(env + at) + 1) {
            strncat(out, ":", cap - strlen(out) - 1);
            strncat(out, env + at, cap - strlen(out) - 1);
        }
        return;
    }
}

/* Starts the server with GLIBC_TUNABLES set to own (unset if NULL) and checks what its cluster
 * got; stops it again. */
static void s_assert_cluster_tunables(const char *own, const char *expected)
{
    if (own)
        setenv("GLIBC_TUNABLES", own, 1);
    else
        unsetenv("GLIBC_TUNABLES");
    ck_assert_int_eq(harness_start_server(h), 0);
    long pm = harness_postmaster_pid(h);
    char got[512];
    s_cluster_tunables(got, sizeof got);
    ck_assert_str_eq(got, expected);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert(s_wait_gone(pm, 10000)); /* the next start is a new postmaster */
    unsetenv("GLIBC_TUNABLES");
}

/* The backends keep the heap they free (pgcluster.c, PG_MALLOC_TUNABLES), and an operator's
 * own malloc settings win. */
START_TEST(the_cluster_keeps_the_heap_it_frees_unless_told_otherwise)
{
    const char *ours = "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432";
    char line[256];
    s_assert_cluster_tunables(NULL, ours);
    /* Other settings of the operator's are kept, ours added after them. */
    snprintf(line, sizeof line, "glibc.malloc.arena_max=2:%s", ours);
    s_assert_cluster_tunables("glibc.malloc.arena_max=2", line);
    /* One that sets a threshold itself is left as it is. */
    s_assert_cluster_tunables("glibc.malloc.trim_threshold=1048576",
                              "glibc.malloc.trim_threshold=1048576");
}
END_TEST

static int s_unit_count(void)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListUnits m = CODISPATCH__V1__LIST_UNITS__INIT;
    env.has_version = true;
    env.version = 1;
    env.request_id = "count-units";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS;
    env.list_units = &m;
    Codispatch__V1__Envelope *r = harness_call(h, &env, 10000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST);
    int n = (int)r->unit_list->n_units;
    cdc_envelope_free(r);
    return n;
}

START_TEST(demo_roster_is_added_once)
{
    setenv("CODISPATCH_DEMO_ROSTER", "yes", 1); /* what tools/run.sh sets */
    ck_assert_int_eq(harness_start_server(h), 0);
    ck_assert_int_eq(s_unit_count(), 16);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);
    ck_assert_int_eq(s_unit_count(), 16); /* not added twice */
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    unsetenv("CODISPATCH_DEMO_ROSTER");
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("embedded");
    TCase *tc = tcase_create("embedded");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, first_start_creates_the_cluster_and_clean_exit_stops_it);
    tcase_add_test(tc, a_crashed_server_leaves_the_cluster_running_and_the_next_adopts_it);
    tcase_add_test(tc, a_stale_postmaster_pid_does_not_stop_the_start);
    tcase_add_test(tc, demo_roster_is_added_once);
    tcase_add_test(tc, the_cluster_keeps_the_heap_it_frees_unless_told_otherwise);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run_suite(s_suite());
}
