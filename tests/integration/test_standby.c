/* Integration: a hot standby.  A second codispatchd on the same database waits on the
 * advisory lock without binding its sockets (/healthz up, /readyz not ready); when the primary
 * is killed with SIGKILL it takes over with the full state; clients and tablets given both
 * endpoints find it.  A primary that lost its connection, and with it the lock, to a standby
 * stops instead of serving beside it (split brain). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "harness.h"

#define TAKEOVER_BOUND_MS 30000 /* generous: the goal is 5 s; the measured time is printed */

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    if (harness_standby_running(h))
        ck_assert_int_eq(harness_stop_standby(h, SIGTERM), 0);
    harness_ensure_up(h);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

/* /readyz of an HTTP address: its status code. */
static int s_readyz(const char *http, char **body)
{
    return harness_http_get_at(http, "/readyz", body);
}

/* Waits until /readyz of http says 200; returns the milliseconds it took, or -1. */
static long long s_wait_ready(const char *http, int bound_ms)
{
    long long t0 = harness_now_ms();
    while (harness_now_ms() - t0 < bound_ms) {
        char *body = NULL;
        int st = s_readyz(http, &body);
        free(body);
        if (st == 200)
            return harness_now_ms() - t0;
        harness_sleep_ms(20);
    }
    return -1;
}

static void s_assert_standby_waiting(void)
{
    char *body = NULL;
    ck_assert_int_eq(harness_http_get_at(harness_standby_http(h), "/healthz", &body), 200);
    free(body);
    ck_assert_int_eq(s_readyz(harness_standby_http(h), &body), 503);
    ck_assert_msg(strstr(body, "standby") != NULL, "readyz said: %s", body);
    free(body);
    /* Its control endpoint is not bound: nothing answers there. */
    cdc_control_t *ctl = cdc_control_new(harness_standby_control(h));
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest m = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &m;
    Codispatch__V1__Envelope *reply = NULL;
    ck_assert_int_eq(cdc_control_call(ctl, &req, 700, &reply), CDC_ETIMEOUT);
    cdc_control_destroy(&ctl);
}

/* ------------------------------------------------------------------ a tablet */

typedef struct tab {
    cdc_tablet_t *t;
    char call_id[32], status[32];
    int results, last_body;
} tab_t;

static void t_on_assignment(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *a)
{
    (void)seq;
    tab_t *t = arg;
    snprintf(t->call_id, sizeof t->call_id, "%s", a->call_id);
    snprintf(t->status, sizeof t->status, "%s", a->status);
}

static void t_on_result(void *arg, const char *rid, const Codispatch__V1__Envelope *r)
{
    (void)rid;
    tab_t *t = arg;
    t->results++;
    t->last_body = r ? (int)r->body_case : -1;
}

static void t_open(tab_t *t, const char *endpoints, const char *unit)
{
    memset(t, 0, sizeof *t);
    cdc_tablet_callbacks_t cb = {
        .on_assignment = t_on_assignment, .on_result = t_on_result, .arg = t};
    t->t = cdc_tablet_new(endpoints, unit, 0, &cb);
    ck_assert_ptr_nonnull(t->t);
}

/* Drives the tablet until *flag becomes true or the bound passes. */
static bool t_pump_until(tab_t *t, bool (*cond)(const tab_t *), int bound_ms)
{
    long long end = harness_now_ms() + bound_ms;
    do {
        int wait = cdc_tablet_process(t->t, harness_now_ms());
        if (cond(t))
            return true;
        zmq_pollitem_t it = {.fd = cdc_tablet_fd(t->t), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, wait > 20 ? 20 : wait);
    } while (harness_now_ms() < end);
    return cond(t);
}

static bool t_has_assignment(const tab_t *t)
{
    return t->call_id[0] != '\0';
}

static bool t_has_result(const tab_t *t)
{
    return t->results > 0;
}

/* ------------------------------------------------------------------ tests */

/* Split brain: the primary is frozen (SIGSTOP) and its database session terminated, so the
 * lock frees and the standby takes over.  When the old primary wakes up it finds its
 * connection gone, cannot win the lock back, and stops with exit status 3. */
START_TEST(primary_that_lost_the_lock_stops)
{
    ck_assert_int_eq(harness_start_standby(h), 0);
    harness_sleep_ms(600); /* at least one lock attempt */
    s_assert_standby_waiting();

    long pid = harness_server_pid(h);
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill((pid_t)pid, SIGSTOP), 0);
    ck_assert_int_eq(harness_sql_exec(h, "SELECT pg_terminate_backend(pid) FROM pg_locks "
                                         "WHERE locktype = 'advisory' AND classid = 7401 AND "
                                         "objid = 1 AND objsubid = 2 AND granted"),
                     0);
    long long took = s_wait_ready(harness_standby_http(h), TAKEOVER_BOUND_MS);
    fprintf(stderr, "test_standby: standby ready %lld ms after the primary's session ended\n",
            took);
    ck_assert_msg(took >= 0, "the standby did not take over");
    ck_assert_int_eq(kill((pid_t)pid, SIGCONT), 0);
    /* It exits by itself; the harness reaps it (a SIGTERM to a finished process is moot). */
    long long t0 = harness_now_ms();
    while (harness_pid_alive(pid) && harness_now_ms() - t0 < 20000)
        harness_sleep_ms(50);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 3);
    char *log = harness_server_log(h);
    ck_assert_msg(strstr(log, "another codispatchd took the database lock") != NULL, "log: %s",
                  log);
    free(log);
    /* The new primary serves on its own endpoints. */
    ck_assert_int_eq(harness_stop_standby(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);
}
END_TEST

START_TEST(standby_takes_over_after_kill_9_with_the_full_state)
{
    enum { N = 20 };
    char ids[N][32];
    for (int i = 0; i < N; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "sb-%d", i);
        Codispatch__V1__Envelope *r =
            harness_create_call(h, rid, "welfare_check", 3, 34.05, -118.25);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        snprintf(ids[i], sizeof ids[i], "%s", r->call->call_id);
        cdc_envelope_free(r);
    }
    harness_add_unit(h, "SB-1", "mh_team", 34.06, -118.25);
    harness_dispatch(h, ids[0], "SB-1");

    ck_assert_int_eq(harness_start_standby(h), 0);
    harness_sleep_ms(600);
    s_assert_standby_waiting();

    char both[200];
    snprintf(both, sizeof both, "%s,%s", harness_control(h), harness_standby_control(h));
    char both_units[200];
    snprintf(both_units, sizeof both_units, "%s, %s", harness_units(h), harness_standby_units(h));

    /* A tablet with both endpoints gets its assignment from the primary. */
    tab_t tab;
    t_open(&tab, both_units, "SB-1");
    ck_assert(t_pump_until(&tab, t_has_assignment, 15000));
    ck_assert_str_eq(tab.call_id, ids[0]);
    ck_assert_str_eq(tab.status, "offered");

    /* A console with both endpoints is served by the primary. */
    cdc_control_t *ctl = cdc_control_new(both);
    ck_assert_ptr_nonnull(ctl);
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &st;
    Codispatch__V1__Envelope *reply = NULL;
    ck_assert_int_eq(cdc_control_call(ctl, &req, 10000, &reply), CDC_OK);
    ck_assert_str_eq(reply->status_reply->control_endpoint, harness_control(h));
    cdc_envelope_free(reply);

    /* kill -9 the primary: its session ends, the lock frees, the standby takes over. */
    long long t0 = harness_now_ms();
    ck_assert_int_eq(harness_stop_server(h, SIGKILL), 128 + SIGKILL);
    long long took = s_wait_ready(harness_standby_http(h), TAKEOVER_BOUND_MS);
    fprintf(stderr, "test_standby: standby ready %lld ms after kill -9 of the primary\n",
            took < 0 ? -1 : harness_now_ms() - t0);
    ck_assert_msg(took >= 0, "the standby did not take over");

    /* The same console (same endpoints list) is now served by the standby: a new call. */
    Codispatch__V1__Envelope create = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    cc.type = "welfare_check";
    cc.has_priority = cc.has_lat = cc.has_lon = true;
    cc.priority = 3;
    cc.lat = 34.05;
    cc.lon = -118.25;
    create.request_id = "sb-after";
    create.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    create.create_call = &cc;
    long long t1 = harness_now_ms();
    ck_assert_int_eq(cdc_control_call(ctl, &create, 20000, &reply), CDC_OK);
    ck_assert_int_eq(reply->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    fprintf(stderr, "test_standby: a console with both endpoints served after %lld ms\n",
            harness_now_ms() - t1);
    cdc_envelope_free(reply);

    /* Every call is there, with the assignment. */
    for (int i = 0; i < N; i++) {
        Codispatch__V1__Envelope get = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__GetCall gc = CODISPATCH__V1__GET_CALL__INIT;
        gc.call_id = ids[i];
        get.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
        get.get_call = &gc;
        get.request_id = NULL;
        ck_assert_int_eq(cdc_control_call(ctl, &get, 10000, &reply), CDC_OK);
        ck_assert_int_eq(reply->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        if (i == 0) {
            ck_assert_uint_eq(reply->call->n_assignments, 1);
            ck_assert_str_eq(reply->call->assignments[0]->unit_id, "SB-1");
        }
        cdc_envelope_free(reply);
    }
    cdc_control_destroy(&ctl);

    /* The tablet reconnects to the standby by itself: its ack is applied there. */
    ck_assert_int_eq(cdc_tablet_ack(tab.t, ids[0], NULL), CDC_OK);
    ck_assert(t_pump_until(&tab, t_has_result, 40000));
    ck_assert_int_eq(tab.last_body, CODISPATCH__V1__ENVELOPE__BODY_UNIT);
    cdc_tablet_destroy(&tab.t);

    /* A tablet that starts afresh (seen nothing) gets its active assignment from the standby. */
    tab_t fresh;
    t_open(&fresh, both_units, "SB-1");
    ck_assert(t_pump_until(&fresh, t_has_assignment, 15000));
    ck_assert_str_eq(fresh.call_id, ids[0]);
    ck_assert_str_eq(fresh.status, "acknowledged");
    cdc_tablet_destroy(&fresh.t);

    ck_assert_int_eq(
        harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id LIKE 'sb-%'"), N + 1);
    /* Back to the harness's own primary for the next suite steps. */
    ck_assert_int_eq(harness_stop_standby(h, SIGTERM), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("standby");
    TCase *tc = tcase_create("standby");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, primary_that_lost_the_lock_stops);
    tcase_add_test(tc, standby_takes_over_after_kill_9_with_the_full_state);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
