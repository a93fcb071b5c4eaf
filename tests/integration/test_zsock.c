/*  test_zsock.c — src/net/zsock.c, the server's ZeroMQ sockets on the libuv loop, with real
 *  libzmq sockets (inproc and loopback TCP) and a real uv loop.  No database.
 *
 *  A zsock receives until libzmq says EAGAIN and does not ask ZMQ_EVENTS per message; these
 *  tests hold it to what that must still give: every message read whatever the replies sent
 *  in between (a send can consume the ZMQ_FD edge), at most a budget per loop turn, the rest on
 *  the following turns, and nothing read twice.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <uv.h>
#include <zmq.h>

#include "zsock.h"

static void *s_ctx;
static uv_loop_t s_loop;

static void s_setup(void)
{
    s_ctx = zmq_ctx_new();
    ck_assert_int_eq(uv_loop_init(&s_loop), 0);
}

static void s_teardown(void)
{
    uv_run(&s_loop, UV_RUN_DEFAULT); /* the zsocks' close callbacks free them */
    ck_assert_int_eq(uv_loop_close(&s_loop), 0);
    zmq_ctx_term(s_ctx);
}

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* What the server side saw: the sequence numbers in order, and whether it echoes them. */
typedef struct s_seen {
    zsock_t *sock;
    unsigned next;  /* the number expected next */
    unsigned count; /* messages handed over */
    bool in_order;
    bool echo;
} s_seen_t;

/* A ROUTER's message: [routing id, 4-byte number]. */
static void s_on_msg(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg)
{
    s_seen_t *seen = arg;
    ck_assert(!truncated);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(zmq_msg_size(&frames[1]), sizeof(unsigned));
    unsigned no;
    memcpy(&no, zmq_msg_data(&frames[1]), sizeof no);
    if (no != seen->next)
        seen->in_order = false;
    seen->next = no + 1;
    seen->count++;
    if (seen->echo) {
        const void *parts[] = {zmq_msg_data(&frames[0]), &no};
        size_t lens[] = {zmq_msg_size(&frames[0]), sizeof no};
        ck_assert_int_eq(zsock_send(sock, parts, lens, 2), 0);
    }
}

static zsock_t *s_router(const char *endpoint, s_seen_t *seen)
{
    zsock_t *z = zsock_new(&s_loop, s_ctx, ZMQ_ROUTER, s_on_msg, seen);
    ck_assert_ptr_nonnull(z);
    int hwm = 0; /* unlimited: the flood below must all be queued */
    zmq_setsockopt(zsock_raw(z), ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(zsock_raw(z), ZMQ_SNDHWM, &hwm, sizeof hwm);
    char err[256];
    ck_assert_msg(zsock_bind(z, endpoint, err, sizeof err) == 0, "%s", err);
    seen->sock = z;
    seen->in_order = true;
    return z;
}

static void *s_dealer(const char *endpoint)
{
    void *d = zmq_socket(s_ctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(d, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(d, ZMQ_RCVHWM, &hwm, sizeof hwm);
    ck_assert_int_eq(zmq_connect(d, endpoint), 0);
    return d;
}

/* A flood already queued is read ZSOCK_BUDGET messages per loop turn, in order, each once. */
START_TEST(a_flood_is_read_a_budget_per_turn)
{
    s_seen_t seen = {0};
    zsock_t *z = s_router("inproc://zsock-flood", &seen);
    void *d = s_dealer("inproc://zsock-flood");
    const unsigned total = 3 * ZSOCK_BUDGET + 7;
    for (unsigned i = 0; i < total; i++)
        ck_assert_int_eq(zmq_send(d, &i, sizeof i, 0), (int)sizeof i);
    /* inproc: every message is in the ROUTER's pipe once zmq_send has returned. */
    unsigned turns = 0, before = 0;
    double deadline = s_now_ms() + 5000;
    while (seen.count < total && s_now_ms() < deadline) {
        uv_run(&s_loop, UV_RUN_NOWAIT);
        unsigned got = seen.count - before;
        before = seen.count;
        ck_assert_uint_le(got, ZSOCK_BUDGET);
        if (got)
            turns++;
    }
    ck_assert_uint_eq(seen.count, total);
    ck_assert(seen.in_order);
    ck_assert_uint_eq(turns, 4); /* 512, 512, 512, 7 */
    /* Nothing more comes: each message was handed over once. */
    for (int i = 0; i < 5; i++)
        uv_run(&s_loop, UV_RUN_NOWAIT);
    ck_assert_uint_eq(seen.count, total);
    zmq_close(d);
    zsock_destroy(&z);
    ck_assert_ptr_null(z);
}
END_TEST

static void s_on_client_poll(uv_poll_t *h, int status, int events)
{
    (void)h, (void)status, (void)events; /* only to wake the loop */
}

/* Over loopback TCP, with a reply sent for every request and 32 requests outstanding: every
 * request is read and answered, in order.  Each send may consume the edge that announced the
 * next request, which is why a zsock drains again after sending; this test runs that
 * interleaving 20,000 times but cannot force the rare case (with the drain after a send
 * removed it still passed), so it guards the ordinary path: a drain that stopped early or read
 * one message per wake-up fails it. */
START_TEST(requests_keep_coming_while_replies_are_sent)
{
    s_seen_t seen = {.echo = true};
    zsock_t *z = s_router("tcp://127.0.0.1:*", &seen);
    void *d = s_dealer(zsock_endpoint(z));
    /* The loop also wakes when replies reach the client (it reads them all below, which
     * re-arms its ZMQ_FD edge), so the exchange never waits for the safety tick. */
    int dfd;
    size_t dfd_len = sizeof dfd;
    ck_assert_int_eq(zmq_getsockopt(d, ZMQ_FD, &dfd, &dfd_len), 0);
    uv_poll_t client_poll;
    ck_assert_int_eq(uv_poll_init(&s_loop, &client_poll, dfd), 0);
    ck_assert_int_eq(uv_poll_start(&client_poll, UV_READABLE, s_on_client_poll), 0);
    const unsigned total = 20000, window = 32;
    unsigned sent = 0, answered = 0;
    bool replies_in_order = true;
    double deadline = s_now_ms() + 20000;
    while (answered < total && s_now_ms() < deadline) {
        while (sent < total && sent - answered < window) {
            ck_assert_int_eq(zmq_send(d, &sent, sizeof sent, 0), (int)sizeof sent);
            sent++;
        }
        /* The server's turn, blocking until either socket wakes it or 50 ms pass. */
        uv_run(&s_loop, UV_RUN_ONCE);
        unsigned no;
        while (zmq_recv(d, &no, sizeof no, ZMQ_DONTWAIT) == (int)sizeof no) {
            if (no != answered)
                replies_in_order = false;
            answered++;
        }
    }
    ck_assert_uint_eq(answered, total);
    ck_assert_uint_eq(seen.count, total);
    ck_assert(seen.in_order);
    ck_assert(replies_in_order);
    uv_close((uv_handle_t *)&client_poll, NULL);
    uv_run(&s_loop, UV_RUN_NOWAIT); /* closed before its socket is */
    zmq_close(d);
    zsock_destroy(&z);
}
END_TEST

/* A safety net: the loop's UV_RUN_ONCE above must not wait for ever if an edge is missed while
 * a message is on its way, so a timer wakes it at least every 50 ms. */
static uv_timer_t s_tick;
static void s_on_tick(uv_timer_t *t)
{
    (void)t;
}

static void s_tick_start(void)
{
    s_setup();
    uv_timer_init(&s_loop, &s_tick);
    uv_timer_start(&s_tick, s_on_tick, 50, 50);
}

static void s_tick_stop(void)
{
    uv_close((uv_handle_t *)&s_tick, NULL);
    s_teardown();
}

static Suite *s_suite(void)
{
    Suite *s = suite_create("zsock");
    TCase *flood = tcase_create("flood");
    tcase_add_checked_fixture(flood, s_setup, s_teardown);
    tcase_set_timeout(flood, 30);
    tcase_add_test(flood, a_flood_is_read_a_budget_per_turn);
    suite_add_tcase(s, flood);
    TCase *tcp = tcase_create("tcp");
    tcase_add_checked_fixture(tcp, s_tick_start, s_tick_stop);
    tcase_set_timeout(tcp, 60);
    tcase_add_test(tcp, requests_keep_coming_while_replies_are_sent);
    suite_add_tcase(s, tcp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
