/*  test_bench_zmtp.c — the bench's own ZeroMQ peer (tools/cli/bench_zmtp.c) against real
 *  libzmq sockets on loopback: what libzmq sends arrives frame for frame, whatever the sizes and
 *  however the bytes are split; a DEALER is answered by a ROUTER; heartbeats are answered; a
 *  server that wants CURVE is refused with a reason.  No database.
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bench_zmtp.h"

static void *s_ctx;

static void s_setup(void)
{
    s_ctx = zmq_ctx_new();
}

static void s_teardown(void)
{
    zmq_ctx_term(s_ctx);
}

static double s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A libzmq socket of type with linger 0; options that must precede the bind go in next. */
static void *s_socket(int type)
{
    void *s = zmq_socket(s_ctx, type);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    return s;
}

/* Binds s to an ephemeral loopback port; its endpoint in ep. */
static void s_bind(void *s, char *ep, size_t cap)
{
    ck_assert_int_eq(zmq_bind(s, "tcp://127.0.0.1:*"), 0);
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &cap);
}

/* What the callback collected: every frame of every message, in order. */
typedef struct s_got {
    size_t msgs, frames;
    size_t nframes[512];
    uint8_t *data[1536];
    size_t size[1536];
} s_got_t;

static void s_collect(void *arg, const bench_zmtp_frame_t *f, size_t n)
{
    s_got_t *g = arg;
    ck_assert_uint_lt(g->msgs, 512);
    g->nframes[g->msgs++] = n;
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_lt(g->frames, 1536);
        g->data[g->frames] = malloc(f[i].size + 1);
        memcpy(g->data[g->frames], f[i].data, f[i].size);
        g->size[g->frames++] = f[i].size;
    }
}

static void s_got_free(s_got_t *g)
{
    for (size_t i = 0; i < g->frames; i++)
        free(g->data[i]);
}

/* Reads z until want messages arrived (bounded: 5 s). */
static void s_read_until(bench_zmtp_t *z, s_got_t *g, size_t want)
{
    double end = s_now_ms() + 5000;
    while (g->msgs < want && s_now_ms() < end) {
        struct pollfd pfd = {.fd = bench_zmtp_fd(z), .events = POLLIN};
        poll(&pfd, 1, 50);
        ck_assert_int_ge(bench_zmtp_read(z, s_collect, g), 0);
    }
    ck_assert_uint_eq(g->msgs, want);
}

/* The subscription the XPUB receives once the SUB's handshake is through. */
static void s_expect_subscription(void *xpub)
{
    uint8_t sub[8];
    int rcvtimeo = 5000;
    zmq_setsockopt(xpub, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    ck_assert_int_eq(zmq_recv(xpub, sub, sizeof sub, 0), 1);
    ck_assert_int_eq(sub[0], 1); /* subscribe, to the empty prefix: every topic */
}

static uint8_t s_byte(size_t msg, size_t frame, size_t i)
{
    return (uint8_t)(msg * 31 + frame * 7 + i);
}

START_TEST(a_subscriber_gets_every_frame_libzmq_sent)
{
    char ep[256], err[256] = "";
    void *xpub = s_socket(ZMQ_XPUB);
    s_bind(xpub, ep, sizeof ep);
    bench_zmtp_t *z = bench_zmtp_connect(ep, "SUB", 5000, err, sizeof err);
    ck_assert_msg(z != NULL, "connect: %s", err);
    s_expect_subscription(xpub);

    /* Empty, short, the largest short (255) and the smallest long (256) frame, one bigger than
     * the connection's first buffer, and a run of small messages that arrive in one read. */
    static const size_t sizes[][3] = {{0, 255, 256}, {5, 70000, 1}, {300, 300, 300}};
    const size_t nmsgs = 3 + 200;
    uint8_t *buf = malloc(70000);
    for (size_t m = 0; m < nmsgs; m++) {
        const size_t *sz = sizes[m < 3 ? m : 2];
        for (size_t f = 0; f < 3; f++) {
            for (size_t i = 0; i < sz[f]; i++)
                buf[i] = s_byte(m, f, i);
            ck_assert_int_eq(zmq_send(xpub, buf, sz[f], f < 2 ? ZMQ_SNDMORE : 0), (int)sz[f]);
        }
    }
    free(buf);

    s_got_t *g = calloc(1, sizeof *g);
    s_read_until(z, g, nmsgs);
    for (size_t m = 0, k = 0; m < nmsgs; m++) {
        ck_assert_uint_eq(g->nframes[m], 3);
        const size_t *sz = sizes[m < 3 ? m : 2];
        for (size_t f = 0; f < 3; f++, k++) {
            ck_assert_uint_eq(g->size[k], sz[f]);
            size_t i = 0; /* one assertion per frame: each costs Check a write */
            while (i < sz[f] && g->data[k][i] == s_byte(m, f, i))
                i++;
            ck_assert_msg(i == sz[f], "message %zu frame %zu byte %zu differs", m, f, i);
        }
    }
    s_got_free(g);
    free(g);
    bench_zmtp_destroy(&z);
    ck_assert_ptr_null(z);
    zmq_close(xpub);
}
END_TEST

START_TEST(a_dealer_is_answered_by_a_router)
{
    char ep[256], err[256] = "";
    void *router = s_socket(ZMQ_ROUTER);
    s_bind(router, ep, sizeof ep);
    bench_zmtp_t *z = bench_zmtp_connect(ep, "DEALER", 5000, err, sizeof err);
    ck_assert_msg(z != NULL, "connect: %s", err);
    char req[400];
    memset(req, 'q', sizeof req);
    ck_assert_int_eq(bench_zmtp_send(z, req, sizeof req), 0);

    int rcvtimeo = 5000;
    zmq_setsockopt(router, ZMQ_RCVTIMEO, &rcvtimeo, sizeof rcvtimeo);
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    ck_assert_int_ge(zmq_msg_recv(&id, router, 0), 1);
    ck_assert(zmq_msg_more(&id));
    ck_assert_int_eq(zmq_msg_recv(&body, router, 0), (int)sizeof req);
    ck_assert(memcmp(zmq_msg_data(&body), req, sizeof req) == 0);
    ck_assert(!zmq_msg_more(&body));
    /* Replies with and without an empty delimiter, as ROUTER peers send them. */
    zmq_send(router, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    zmq_send(router, "first", 5, 0);
    zmq_send(router, zmq_msg_data(&id), zmq_msg_size(&id), ZMQ_SNDMORE);
    zmq_send(router, "second", 6, 0);
    zmq_msg_close(&id);
    zmq_msg_close(&body);

    s_got_t *g = calloc(1, sizeof *g);
    s_read_until(z, g, 2);
    ck_assert_uint_eq(g->nframes[0], 2);
    ck_assert_uint_eq(g->size[0], 0);
    ck_assert(g->size[1] == 5 && memcmp(g->data[1], "first", 5) == 0);
    ck_assert_uint_eq(g->nframes[1], 1);
    ck_assert(g->size[2] == 6 && memcmp(g->data[2], "second", 6) == 0);
    s_got_free(g);
    free(g);
    bench_zmtp_destroy(&z);
    zmq_close(router);
}
END_TEST

/* libzmq drops a peer that does not answer its PINGs within the timeout; this one answers. */
START_TEST(heartbeats_are_answered)
{
    char ep[256], err[256] = "";
    void *xpub = s_socket(ZMQ_XPUB);
    int ivl = 30, timeout = 100;
    zmq_setsockopt(xpub, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(xpub, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    s_bind(xpub, ep, sizeof ep);
    bench_zmtp_t *z = bench_zmtp_connect(ep, "SUB", 5000, err, sizeof err);
    ck_assert_msg(z != NULL, "connect: %s", err);
    s_expect_subscription(xpub);

    /* Ten heartbeat intervals with nothing but PINGs on the wire. */
    s_got_t *g = calloc(1, sizeof *g);
    double end = s_now_ms() + 10 * ivl + timeout;
    while (s_now_ms() < end) {
        struct pollfd pfd = {.fd = bench_zmtp_fd(z), .events = POLLIN};
        poll(&pfd, 1, 10);
        ck_assert_msg(bench_zmtp_read(z, s_collect, g) >= 0,
                      "the server closed the connection: heartbeats went unanswered");
    }
    ck_assert_uint_eq(g->msgs, 0); /* commands are not messages */
    zmq_send(xpub, "still", 5, 0);
    s_read_until(z, g, 1);
    ck_assert(g->size[0] == 5 && memcmp(g->data[0], "still", 5) == 0);
    s_got_free(g);
    free(g);
    bench_zmtp_destroy(&z);
    zmq_close(xpub);
}
END_TEST

START_TEST(a_server_that_wants_curve_is_refused_with_a_reason)
{
    char ep[256], err[256] = "", pub[41], sec[41];
    ck_assert_int_eq(zmq_curve_keypair(pub, sec), 0);
    void *xpub = s_socket(ZMQ_XPUB);
    int one = 1;
    zmq_setsockopt(xpub, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(xpub, ZMQ_CURVE_SECRETKEY, sec, 40);
    s_bind(xpub, ep, sizeof ep);
    ck_assert_ptr_null(bench_zmtp_connect(ep, "SUB", 2000, err, sizeof err));
    ck_assert_msg(strstr(err, "security off") != NULL, "reason: %s", err);
    zmq_close(xpub);

    /* Nothing listening (a port bound but not listening refuses), and an endpoint that is not
     * TCP. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", ntohs(sa.sin_port));
    ck_assert_ptr_null(bench_zmtp_connect(ep, "SUB", 2000, err, sizeof err));
    ck_assert_msg(strstr(err, "cannot connect") != NULL, "reason: %s", err);
    close(fd);
    ck_assert_ptr_null(bench_zmtp_connect("ipc:///tmp/x", "SUB", 2000, err, sizeof err));
    ck_assert_msg(strstr(err, "tcp://HOST:PORT") != NULL, "reason: %s", err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench_zmtp");
    TCase *tc = tcase_create("bench_zmtp");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, s_setup, s_teardown);
    tcase_add_test(tc, a_subscriber_gets_every_frame_libzmq_sent);
    tcase_add_test(tc, a_dealer_is_answered_by_a_router);
    tcase_add_test(tc, heartbeats_are_answered);
    tcase_add_test(tc, a_server_that_wants_curve_is_refused_with_a_reason);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
