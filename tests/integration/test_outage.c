/* Integration: PostgreSQL goes away and comes back.  The server stays up, answers
 * UNAVAILABLE meanwhile, reconnects by itself, and retries stay exactly-once. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

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

static void each_setup(void)
{
    harness_ensure_up(h);
}

static long long s_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Retries the same request id until it is accepted (bounded). */
static Codispatch__V1__Envelope *s_create_until_ok(const char *rid, int within_ms)
{
    long long deadline = s_ms() + within_ms;
    while (s_ms() < deadline) {
        Codispatch__V1__Envelope *r = harness_create_call(h, rid, "suicide_risk", 1, 34, -118);
        if (r && r->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL)
            return r;
        if (r)
            ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__UNAVAILABLE);
        cdc_envelope_free(r);
        struct timespec ts = {0, 100 * 1000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

START_TEST(unavailable_while_down_then_recovers)
{
    ck_assert_int_eq(harness_stop_db(h), 0);

    /* The server answers at once, saying why, and has saved nothing. */
    long long t0 = s_ms();
    Codispatch__V1__Envelope *r = harness_create_call(h, "out-1", "suicide_risk", 1, 34, -118);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(r->error->message, "retry with the same request_id"));
    ck_assert_int_lt(s_ms() - t0, 2000);
    cdc_envelope_free(r);

    Codispatch__V1__Envelope *st = harness_status(h);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(st->status_reply->database,
                     CODISPATCH__V1__DATABASE_STATE__DATABASE_UNAVAILABLE);
    cdc_envelope_free(st);

    ck_assert_int_eq(harness_start_db(h), 0);
    r = s_create_until_ok("out-1", 15000);
    ck_assert_msg(r != NULL, "the server did not recover after the database came back");
    cdc_envelope_free(r);
    ck_assert(harness_server_running(h)); /* never restarted */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id = 'out-1'"),
                     1);
}
END_TEST

static void *s_stop_db_soon(void *arg)
{
    struct timespec ts = {0, 150 * 1000000};
    nanosleep(&ts, NULL);
    ck_assert_int_eq(harness_stop_db(h), 0);
    return NULL;
}

/* Requests in flight when the database stops: each gets either its call or UNAVAILABLE.
 * Retrying every UNAVAILABLE one with its request id afterwards gives exactly one call per
 * request id, whether or not its first attempt had in fact committed. */
START_TEST(batch_lost_mid_flight_is_exactly_once_on_retry)
{
    enum { N = 600 };
    long long before = harness_sql_count(h, "SELECT count(*) FROM calls");
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, harness_control(h));
    /* A steady stream (one request a millisecond) while another thread stops PostgreSQL. */
    pthread_t stopper;
    pthread_create(&stopper, NULL, s_stop_db_soon, NULL);
    for (int i = 0; i < N; i++) {
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
        char rid[32];
        snprintf(rid, sizeof rid, "mid-%d", i);
        m.type = "substance";
        m.has_priority = m.has_lat = m.has_lon = true;
        m.priority = 2;
        m.lat = 34;
        m.lon = -118;
        req.has_version = true;
        req.version = 1;
        req.request_id = rid;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
        req.create_call = &m;
        uint8_t buf[256];
        size_t len = codispatch__v1__envelope__pack(&req, buf);
        zmq_send(s, buf, len, 0);
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    pthread_join(stopper, NULL);
    int ok = 0, unavailable = 0;
    for (int i = 0; i < N; i++) {
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        ck_assert_int_eq(zmq_poll(&it, 1, 15000), 1);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        zmq_msg_recv(&msg, s, 0);
        Codispatch__V1__Envelope *r =
            codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        ck_assert_ptr_nonnull(r);
        if (r->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL)
            ok++;
        else if (harness_error_code(r) == CODISPATCH__V1__CODE__UNAVAILABLE)
            unavailable++;
        cdc_envelope_free(r);
    }
    ck_assert_int_eq(ok + unavailable, N);
    /* Both outcomes happened: the stop really fell in the middle of the stream. */
    ck_assert_int_gt(ok, 0);
    ck_assert_int_gt(unavailable, 0);
    zmq_close(s);
    zmq_ctx_term(ctx);

    ck_assert_int_eq(harness_start_db(h), 0);
    for (int i = 0; i < N; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "mid-%d", i);
        Codispatch__V1__Envelope *r = s_create_until_ok(rid, 15000);
        ck_assert_msg(r != NULL, "retry of %s never succeeded", rid);
        cdc_envelope_free(r);
    }
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls"), before + N);
    ck_assert_int_eq(
        harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id LIKE 'mid-%'"), N);
    ck_assert_int_eq(harness_sql_count(h, "SELECT max(seq) - count(*) FROM events"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outage");
    TCase *tc = tcase_create("outage");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, each_setup, NULL);
    tcase_add_test(tc, unavailable_while_down_then_recovers);
    tcase_add_test(tc, batch_lost_mid_flight_is_exactly_once_on_retry);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
