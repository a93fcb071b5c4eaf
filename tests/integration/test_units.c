/* Integration: the units socket with real tablets (the library's tablet client and the
 * `codispatch unit connect` terminal tablet).  An assignment reaches a connected tablet; a
 * tablet that was away gets it on reconnect exactly once; illegal moves and other units'
 * calls are refused; a tablet that stops answering heartbeats makes its unit unreachable. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    /* Fast heartbeats so a lost tablet is noticed within a second or two. */
    setenv("CODISPATCH_HEARTBEAT_MS", "200", 1);
    setenv("CODISPATCH_UNREACHABLE_AFTER_S", "1", 1);
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ a test tablet */

typedef struct t_tab {
    cdc_tablet_t *t;
    int pushes;
    char status[32], call_id[32], assignment_id[32];
    bool has_callback, has_deadline;
    int results, errors;
    int last_code;
    Codispatch__V1__UnitStatus last_unit_status;
    int welcomes;
} t_tab_t;

static void t_on_welcome(void *arg, const Codispatch__V1__Welcome *w)
{
    (void)w;
    ((t_tab_t *)arg)->welcomes++;
}

static void t_on_assignment(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *a)
{
    (void)seq;
    t_tab_t *tab = arg;
    tab->pushes++;
    snprintf(tab->status, sizeof tab->status, "%s", a->status);
    snprintf(tab->call_id, sizeof tab->call_id, "%s", a->call_id);
    snprintf(tab->assignment_id, sizeof tab->assignment_id, "%s", a->assignment_id);
    tab->has_callback = a->callback && *a->callback;
    tab->has_deadline = a->has_ack_deadline_ms && a->ack_deadline_ms > 0;
}

static void t_on_result(void *arg, const char *rid, const Codispatch__V1__Envelope *r)
{
    (void)rid;
    t_tab_t *tab = arg;
    tab->results++;
    tab->last_code = 0;
    if (!r)
        return;
    if (r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR) {
        tab->errors++;
        tab->last_code = r->error->code;
    } else if (r->body_case == CODISPATCH__V1__ENVELOPE__BODY_UNIT) {
        tab->last_unit_status = r->unit->status;
    }
}

static void t_open(t_tab_t *tab, const char *unit, uint64_t last_seq)
{
    memset(tab, 0, sizeof *tab);
    cdc_tablet_callbacks_t cb = {.on_assignment = t_on_assignment,
                                 .on_result = t_on_result,
                                 .on_welcome = t_on_welcome,
                                 .arg = tab};
    tab->t = cdc_tablet_new(harness_units(h), unit, last_seq, &cb);
    ck_assert_ptr_nonnull(tab->t);
}

/* Drives the tablet until cond(tab) or timeout; returns cond's last value. */
static bool t_pump(t_tab_t *tab, bool (*cond)(const t_tab_t *), int timeout_ms)
{
    int64_t end = s_now_ms() + timeout_ms;
    do {
        int wait = cdc_tablet_process(tab->t, s_now_ms());
        if (cond && cond(tab))
            return true;
        zmq_pollitem_t it = {.fd = cdc_tablet_fd(tab->t), .events = ZMQ_POLLIN};
        zmq_poll(&it, 1, wait > 20 ? 20 : wait);
    } while (s_now_ms() < end);
    return cond ? cond(tab) : true;
}

static bool t_welcomed(const t_tab_t *tab)
{
    return cdc_tablet_welcomed(tab->t);
}

static bool t_got_push(const t_tab_t *tab)
{
    return tab->pushes > 0;
}

static int s_want_results;
static bool t_got_results(const t_tab_t *tab)
{
    return tab->results >= s_want_results;
}

/* Sends one status and waits for its result; returns the error code (0: ok). */
static int t_status(t_tab_t *tab, Codispatch__V1__UnitStatus st)
{
    s_want_results = tab->results + 1;
    ck_assert_int_eq(cdc_tablet_status(tab->t, st, NULL), CDC_OK);
    ck_assert(t_pump(tab, t_got_results, 10000));
    return tab->last_code;
}

/* ------------------------------------------------------------------ control helpers */

static int s_rid;

static void s_add_unit(const char *id, double lat)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddUnit m = CODISPATCH__V1__ADD_UNIT__INIT;
    m.unit_id = (char *)id;
    m.type = "mh_team";
    m.has_lat = m.has_lon = m.has_status = true;
    m.lat = lat;
    m.lon = -118.25;
    m.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    env.add_unit = &m;
    Codispatch__V1__Envelope *r = harness_send(h, &env);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_UNIT);
    cdc_envelope_free(r);
}

/* A priority-3 welfare check (the seeded plan does not auto-dispatch it) with a callback. */
static char *s_call(void)
{
    char rid[32];
    snprintf(rid, sizeof rid, "units-call-%d", ++s_rid);
    Codispatch__V1__Envelope *r = harness_create_call(h, rid, "welfare_check", 3, 34.05, -118.25);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char *id = strdup(r->call->call_id);
    cdc_envelope_free(r);
    return id;
}

static void s_dispatch(const char *call, const char *unit)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Dispatch m = CODISPATCH__V1__DISPATCH__INIT;
    char *units[] = {(char *)unit};
    m.call_id = (char *)call;
    m.unit_ids = units;
    m.n_unit_ids = 1;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
    env.dispatch = &m;
    Codispatch__V1__Envelope *r = harness_send(h, &env);
    ck_assert_msg(r->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL, "dispatch refused: %s",
                  r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR ? r->error->message : "?");
    cdc_envelope_free(r);
}

/* The unit as the server lists it (caller frees with cdc_envelope_free on the list). */
static Codispatch__V1__Envelope *s_units(void)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListUnits m = CODISPATCH__V1__LIST_UNITS__INIT;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS;
    env.list_units = &m;
    return harness_send(h, &env);
}

static const Codispatch__V1__Unit *s_find(const Codispatch__V1__Envelope *list, const char *id)
{
    for (size_t i = 0; i < list->unit_list->n_units; i++)
        if (strcmp(list->unit_list->units[i]->unit_id, id) == 0)
            return list->unit_list->units[i];
    return NULL;
}

/* ------------------------------------------------------------------ tests */

START_TEST(assignment_reaches_a_connected_tablet_and_its_lifecycle_works)
{
    s_add_unit("TU1", 34.06);
    t_tab_t tab;
    t_open(&tab, "TU1", 0);
    ck_assert(t_pump(&tab, t_welcomed, 10000));
    char *call = s_call();
    s_dispatch(call, "TU1");
    ck_assert_msg(t_pump(&tab, t_got_push, 10000), "the offer did not reach the tablet");
    ck_assert_str_eq(tab.call_id, call);
    ck_assert_str_eq(tab.status, "offered");
    ck_assert(tab.has_deadline);

    s_want_results = 1;
    ck_assert_int_eq(cdc_tablet_ack(tab.t, call, NULL), CDC_OK);
    ck_assert(t_pump(&tab, t_got_results, 10000));
    ck_assert_int_eq(tab.last_code, 0);
    ck_assert_int_eq(t_status(&tab, CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE), 0);
    ck_assert_int_eq(tab.last_unit_status, CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE);
    ck_assert_int_eq(t_status(&tab, CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE), 0);
    ck_assert_int_eq(t_status(&tab, CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE), 0);

    /* The call's record shows the whole path, each step by the unit itself. */
    Codispatch__V1__Envelope *g = harness_get_call(h, call);
    ck_assert_int_eq(g->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_uint_eq(g->call->n_assignments, 1);
    ck_assert_str_eq(g->call->assignments[0]->status, "cleared");
    ck_assert(g->call->assignments[0]->has_acked_ms && g->call->assignments[0]->has_on_scene_ms);
    cdc_envelope_free(g);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE call_id = '%s' AND actor = 'unit:TU1'", call);
    ck_assert_int_ge(harness_sql_count(h, sql), 4); /* ack, en_route, on_scene, cleared */
    cdc_tablet_destroy(&tab.t);
    free(call);
}
END_TEST

START_TEST(a_tablet_that_was_away_gets_the_assignment_once_on_reconnect)
{
    s_add_unit("TU2", 34.07);
    t_tab_t tab;
    t_open(&tab, "TU2", 0);
    ck_assert(t_pump(&tab, t_welcomed, 10000));
    uint64_t seen = cdc_tablet_last_seq(tab.t);
    cdc_tablet_destroy(&tab.t); /* the tablet goes away */

    char *call = s_call();
    s_dispatch(call, "TU2"); /* offered while nobody listens */

    t_open(&tab, "TU2", seen);
    ck_assert_msg(t_pump(&tab, t_got_push, 10000), "the missed offer was not re-sent");
    ck_assert_str_eq(tab.call_id, call);
    ck_assert_str_eq(tab.status, "offered");
    ck_assert(tab.has_callback);
    /* Several more Hellos (keepalives, a reconnect) must not deliver it twice. */
    t_pump(&tab, NULL, 1500);
    ck_assert_int_eq(tab.pushes, 1);
    uint64_t now_seen = cdc_tablet_last_seq(tab.t);
    cdc_tablet_destroy(&tab.t);

    t_open(&tab, "TU2", now_seen); /* a tablet that remembers what it saw */
    ck_assert(t_pump(&tab, t_welcomed, 10000));
    t_pump(&tab, NULL, 500);
    ck_assert_int_eq(tab.pushes, 0);
    cdc_tablet_destroy(&tab.t);

    /* Away again while the call is cancelled: back, it learns the offer is over. */
    Codispatch__V1__Envelope *c = harness_cancel_call(h, "units-cancel-tu2", call, "resolved");
    ck_assert_int_eq(c->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(c);
    t_open(&tab, "TU2", now_seen);
    ck_assert_msg(t_pump(&tab, t_got_push, 10000), "the end of the offer was not re-sent");
    ck_assert_str_eq(tab.status, "cleared");
    ck_assert_str_eq(tab.call_id, call);
    cdc_tablet_destroy(&tab.t);
    free(call);
}
END_TEST

START_TEST(illegal_moves_and_other_units_calls_are_refused)
{
    s_add_unit("TU3", 34.08);
    s_add_unit("TU4", 34.09);
    t_tab_t tab;
    t_open(&tab, "TU3", 0);
    ck_assert(t_pump(&tab, t_welcomed, 10000));
    /* Not on a call: on_scene is not a legal move from available. */
    ck_assert_int_eq(t_status(&tab, CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE),
                     CODISPATCH__V1__CODE__CONFLICT);
    /* Another unit's call. */
    char *call = s_call();
    s_dispatch(call, "TU4");
    s_want_results = tab.results + 1;
    ck_assert_int_eq(cdc_tablet_ack(tab.t, call, NULL), CDC_OK);
    ck_assert(t_pump(&tab, t_got_results, 10000));
    ck_assert_int_eq(tab.last_code, CODISPATCH__V1__CODE__CONFLICT);
    cdc_tablet_destroy(&tab.t);
    free(call);

    /* No Hello: refused.  Hello for a unit not on the roster: refused. */
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, rcvtimeo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    zmq_connect(s, harness_units(h));
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusUpdate su = CODISPATCH__V1__STATUS_UPDATE__INIT;
    su.has_status = true;
    su.status = CODISPATCH__V1__UNIT_STATUS__UNIT_OFF_DUTY;
    env.has_version = true;
    env.version = 1;
    env.request_id = "no-hello";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE;
    env.status_update = &su;
    uint8_t buf[256];
    size_t len = codispatch__v1__envelope__pack(&env, buf);
    zmq_send(s, buf, len, 0);
    uint8_t in[4096];
    int n = zmq_recv(s, in, sizeof in, 0);
    ck_assert_int_gt(n, 0);
    Codispatch__V1__Envelope *r = codispatch__v1__envelope__unpack(NULL, (size_t)n, in);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__UNAUTHENTICATED);
    cdc_envelope_free(r);
    Codispatch__V1__Hello hello = CODISPATCH__V1__HELLO__INIT;
    hello.unit_id = "NOBODY";
    env.request_id = "hello-nobody";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    len = codispatch__v1__envelope__pack(&env, buf);
    zmq_send(s, buf, len, 0);
    n = zmq_recv(s, in, sizeof in, 0);
    ck_assert_int_gt(n, 0);
    r = codispatch__v1__envelope__unpack(NULL, (size_t)n, in);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(r->error->message, "NOBODY"));
    cdc_envelope_free(r);
    zmq_close(s);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(heartbeat_loss_marks_the_unit_unreachable)
{
    s_add_unit("TU5", 34.10);
    /* The terminal tablet as a separate process, its stdin held open so it stays. */
    int in[2];
    ck_assert_int_eq(pipe(in), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in[0], STDIN_FILENO);
        close(in[1]);
        int devnull = open("/dev/null", 1);
        dup2(devnull, STDOUT_FILENO);
        dup2(devnull, STDERR_FILENO);
        execl(harness_bin("codispatch"), "codispatch", "--server", harness_control(h), "unit",
              "connect", "TU5", "--units-endpoint", harness_units(h), (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    bool connected = false, unreachable = false;
    for (int i = 0; i < 100 && !connected; i++) {
        Codispatch__V1__Envelope *l = s_units();
        const Codispatch__V1__Unit *u = s_find(l, "TU5");
        connected = u && u->tablet_connected;
        cdc_envelope_free(l);
        if (!connected)
            usleep(100 * 1000);
    }
    ck_assert_msg(connected, "the terminal tablet did not connect");

    kill(pid, SIGSTOP); /* alive but silent: no heartbeat answers */
    for (int i = 0; i < 150 && !unreachable; i++) {
        Codispatch__V1__Envelope *l = s_units();
        const Codispatch__V1__Unit *u = s_find(l, "TU5");
        unreachable = u && !u->tablet_connected && u->has_reachable && !u->reachable;
        cdc_envelope_free(l);
        if (!unreachable)
            usleep(100 * 1000);
    }
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, NULL, 0);
    close(in[1]);
    ck_assert_msg(unreachable, "a silent tablet did not make its unit unreachable");

    /* And an unreachable unit is not recommended. */
    char *call = s_call();
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Recommend m = CODISPATCH__V1__RECOMMEND__INIT;
    m.call_id = call;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND;
    env.recommend = &m;
    Codispatch__V1__Envelope *r = harness_send(h, &env);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION);
    for (size_t i = 0; i < r->recommendation->n_candidates; i++)
        ck_assert_str_ne(r->recommendation->candidates[i]->unit_id, "TU5");
    cdc_envelope_free(r);
    free(call);
}
END_TEST

static bool t_welcomed_twice(const t_tab_t *tab)
{
    return tab->welcomes >= 2;
}

START_TEST(a_tablet_finds_a_restarted_server_by_itself)
{
    s_add_unit("TU6", 34.11);
    t_tab_t tab;
    t_open(&tab, "TU6", 0);
    ck_assert(t_pump(&tab, t_welcomed, 10000));
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);
    /* No help from the test: the library reconnects and says Hello again on its own. */
    ck_assert_msg(t_pump(&tab, t_welcomed_twice, 20000), "the tablet did not come back");
    char *call = s_call();
    s_dispatch(call, "TU6");
    ck_assert_msg(t_pump(&tab, t_got_push, 10000), "no push after the server restarted");
    ck_assert_str_eq(tab.call_id, call);
    cdc_tablet_destroy(&tab.t);
    free(call);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("units");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, assignment_reaches_a_connected_tablet_and_its_lifecycle_works);
    tcase_add_test(tc, a_tablet_that_was_away_gets_the_assignment_once_on_reconnect);
    tcase_add_test(tc, illegal_moves_and_other_units_calls_are_refused);
    tcase_add_test(tc, heartbeat_loss_marks_the_unit_unreachable);
    tcase_add_test(tc, a_tablet_finds_a_restarted_server_by_itself);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run_suite(s_suite());
}
