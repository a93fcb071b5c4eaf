/* Integration: slow and dead peers.  A dashboard that never reads, a subscriber that never
 * reads, tablets that vanish without closing and clients that send half a multipart message:
 * none stops the server from answering everyone else, and none grows its memory without
 * bound.
 *
 * "Answered" means a StatusRequest from another client gets its reply within 5 s (a generous
 * bound on a shared machine; nothing here measures speed).  Memory is the server's VmRSS
 * from /proc, compared before and after a burst with a generous bound, and the queue gauges
 * in /metrics.  The server runs with a small AddressSanitizer quarantine so that freed memory
 * is reused and RSS means something. */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bench_zmtp.h"
#include "harness.h"

static harness_t *h;
static int s_burst_no;

static void suite_setup(void)
{
    /* Keep what the caller set (leak checks) and add a small quarantine for the server. */
    const char *asan = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=8", asan ? asan : "",
             asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

/* The server's resident memory in KiB. */
static long s_rss_kb(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", harness_server_pid(h));
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    ck_assert_int_gt(kb, 0);
    return kb;
}

/* Another client is answered: a StatusRequest gets its reply within 5 s. */
static void s_answered(const char *when)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest m = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &m;
    Codispatch__V1__Envelope *r = harness_call(h, &req, 5000);
    ck_assert_msg(r && r->body_case == CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY,
                  "another client was not answered within 5 s %s", when);
    cdc_envelope_free(r);
}

/* Creates n calls at once on one DEALER (the server commits them in a few batches) and waits
 * for every reply (bounded).  Each call has a long summary, so every change the stream and
 * the WebSocket carry is about 1.5 KB. */
static void s_burst(int n)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(s, harness_control(h));
    char summary[1001];
    memset(summary, 's', sizeof summary - 1);
    summary[sizeof summary - 1] = '\0';
    int burst = ++s_burst_no;
    for (int i = 0; i < n; i++) {
        char rid[64];
        snprintf(rid, sizeof rid, "peers-%d-%d", burst, i);
        Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
        cc.type = "other";
        cc.has_priority = cc.has_lat = cc.has_lon = true;
        cc.priority = 4;
        cc.lat = 34 + (i % 100) * 0.001;
        cc.lon = -118;
        cc.summary = summary;
        env.has_version = true;
        env.version = 1;
        env.request_id = rid;
        env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
        env.create_call = &cc;
        size_t len = codispatch__v1__envelope__get_packed_size(&env);
        uint8_t *buf = malloc(len);
        codispatch__v1__envelope__pack(&env, buf);
        ck_assert_int_eq(zmq_send(s, buf, len, 0), (int)len);
        free(buf);
    }
    int calls = 0, others = 0;
    long long deadline = harness_now_ms() + 180000;
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    while (calls + others < n && harness_now_ms() < deadline && zmq_poll(&it, 1, 5000) >= 0) {
        if (!(it.revents & ZMQ_POLLIN))
            continue;
        Codispatch__V1__Envelope *r = harness_recv_reply(s, 0); /* NULL: it did not decode */
        if (r && r->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL)
            calls++;
        else
            others++;
        cdc_envelope_free(r);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    ck_assert_msg(calls == n, "burst: %d of %d calls created (%d other replies)", calls, n, others);
}

static double s_metric(const char *series)
{
    double v = harness_scrape(h, series);
    ck_assert_msg(v >= 0, "/metrics did not answer");
    return v;
}

/* Waits (bounded) until series reaches want; returns its last value. */
static double s_wait_metric(const char *series, double want, int timeout_ms)
{
    long long deadline = harness_now_ms() + timeout_ms;
    double v;
    while ((v = s_metric(series)) != want && harness_now_ms() < deadline)
        usleep(100 * 1000);
    return v;
}

/* ------------------------------------------------------------------ dashboards */

/* A WebSocket client that upgrades and then never reads a byte; its receive buffer is made
 * small so that the server's queue, not the kernel, holds what it does not read. */
static int s_ws_never_reads(void)
{
    const char *addr = harness_http(h), *colon = strrchr(addr, ':');
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    const char req[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n";
    ck_assert_int_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    return fd;
}

START_TEST(dashboard_that_never_reads)
{
    enum { SLOW = 4, BURST = 1500, ROUNDS = 3 };
    s_burst(300); /* warm up: the heap, the caches, the first snapshots */
    double clients0 = s_metric("codispatch_websocket_clients");
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++)
        fds[i] = s_ws_never_reads();
    ck_assert_double_eq(s_wait_metric("codispatch_websocket_clients", clients0 + SLOW, 10000),
                        clients0 + SLOW);
    double resyncs0 = s_metric("codispatch_websocket_resyncs_total");
    long rss0 = s_rss_kb();
    for (int r = 0; r < ROUNDS; r++) {
        s_burst(BURST);
        s_answered("while dashboards do not read");
        char *body;
        ck_assert_int_eq(harness_http_get(h, "/healthz", &body), 200);
        free(body);
        double queue = s_metric("codispatch_websocket_queue_max");
        double bytes = s_metric("codispatch_websocket_queued_bytes");
        /* 2000 messages, plus the snapshot of a client that was reset. */
        fprintf(stderr, "peers: dashboards: round %d: longest queue %.0f, %.0f bytes queued\n", r,
                queue, bytes);
        ck_assert_msg(queue <= 2001, "a WebSocket queue holds %.0f messages", queue);
        ck_assert_msg(bytes <= SLOW * 20.0 * 1024 * 1024, "WebSocket queues hold %.0f bytes",
                      bytes);
    }
    /* 4500 changes for clients that read none: each was reset to a snapshot at least once. */
    ck_assert_msg(s_metric("codispatch_websocket_resyncs_total") >= resyncs0 + SLOW,
                  "no slow client was ever reset (queue cap not reached?)");
    long grown_mb = (s_rss_kb() - rss0) / 1024;
    fprintf(stderr, "peers: dashboards: %.0f resets, server grew %ld MB\n",
            s_metric("codispatch_websocket_resyncs_total") - resyncs0, grown_mb);
    /* 4500 calls in the engine, 4 queues of at most 2000 messages: tens of MB, not hundreds. */
    ck_assert_msg(grown_mb < 200, "the server grew by %ld MB", grown_mb);

    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    ck_assert_double_eq(s_wait_metric("codispatch_websocket_clients", clients0, 10000), clients0);
    ck_assert_double_eq(s_wait_metric("codispatch_websocket_queued_bytes", 0, 10000), 0);
    s_answered("after the dashboards left");
}
END_TEST

/* HTTP clients that send half a request and wait: the rest are still served. */
START_TEST(http_clients_that_stall)
{
    enum { STALLED = 100 };
    int fds[STALLED];
    for (int i = 0; i < STALLED; i++) {
        fds[i] = harness_http_send(h, "GET /api/snapshot HTTP/1.1\r\nHost: localhost\r\n", 10);
        ck_assert_int_ge(fds[i], 0);
    }
    for (int i = 0; i < 3; i++) {
        char *body;
        ck_assert_int_eq(harness_http_get(h, "/healthz", &body), 200);
        free(body);
        ck_assert_int_eq(harness_http_get(h, "/metrics", &body), 200);
        free(body);
        s_answered("while HTTP clients stall");
    }
    for (int i = 0; i < STALLED; i++)
        close(fds[i]);
}
END_TEST

/* ------------------------------------------------------------------ stream subscribers */

/* A subscription is a topic prefix of a few dozen bytes; a peer that sends megabytes as one
 * is cut off (ZMQ_MAXMSGSIZE on the stream socket) instead of kept as a subscription. */
START_TEST(an_oversized_subscription_is_refused)
{
    double before = harness_scrape(h, "codispatch_stream_subscriptions");
    void *ctx = zmq_ctx_new();
    void *big = zmq_socket(ctx, ZMQ_XSUB);
    int linger = 0;
    zmq_setsockopt(big, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_connect(big, harness_stream(h)), 0);
    /* 4 KiB: far over the limit, yet small enough for the sender's own libzmq, which keeps
     * a subscription as one trie node per byte (at 4 MiB it overflowed its stack freeing
     * them). */
    size_t n = 4096;
    char *frame = malloc(n);
    memset(frame, 'x', n);
    frame[0] = 1; /* subscribe */
    ck_assert_int_eq(zmq_send(big, frame, n, 0), (int)n);
    free(frame);
    void *good = zmq_socket(ctx, ZMQ_SUB);
    zmq_setsockopt(good, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(good, ZMQ_SUBSCRIBE, "call.", 5);
    zmq_connect(good, harness_stream(h));
    long long deadline = harness_now_ms() + 5000;
    while (harness_scrape(h, "codispatch_stream_subscriptions") < before + 1 &&
           harness_now_ms() < deadline)
        harness_sleep_ms(50);
    harness_sleep_ms(500); /* time for the big one to arrive, had it been taken */
    ck_assert_double_eq(harness_scrape(h, "codispatch_stream_subscriptions"), before + 1);
    s_answered("after an oversized subscription");
    zmq_close(big);
    zmq_close(good);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(subscriber_that_never_reads)
{
    /* More changes than the XPUB high-water mark (10 000 per subscriber) holds. */
    enum { SLOW = 2, BURST = 3500, ROUNDS = 4 };
    void *ctx = zmq_ctx_new();
    void *subs[SLOW];
    for (int i = 0; i < SLOW; i++) {
        subs[i] = zmq_socket(ctx, ZMQ_SUB);
        int linger = 0, hwm = 1, small = 4096;
        zmq_setsockopt(subs[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_setsockopt(subs[i], ZMQ_RCVHWM, &hwm, sizeof hwm);
        zmq_setsockopt(subs[i], ZMQ_RCVBUF, &small, sizeof small);
        zmq_setsockopt(subs[i], ZMQ_SUBSCRIBE, "call.", 5);
        zmq_connect(subs[i], harness_stream(h));
    }
    usleep(300 * 1000); /* let the subscriptions reach the server */
    long rss0 = s_rss_kb();
    for (int r = 0; r < ROUNDS; r++) {
        s_burst(BURST);
        s_answered("while subscribers do not read");
    }
    long grown_mb = (s_rss_kb() - rss0) / 1024;

    /* What a slow subscriber finally reads is what the server kept for it: at most the
     * high-water mark and what the kernel buffers held; the rest was dropped, not queued. */
    int timeo = 1000, got = 0;
    zmq_setsockopt(subs[0], ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        int n = zmq_msg_recv(&part, subs[0], 0);
        bool more = n >= 0 && zmq_msg_more(&part);
        zmq_msg_close(&part);
        if (n < 0)
            break;
        while (more) { /* the rest of this message: seq and change */
            zmq_msg_init(&part);
            zmq_msg_recv(&part, subs[0], 0);
            more = zmq_msg_more(&part);
            zmq_msg_close(&part);
        }
        got++;
    }
    fprintf(stderr, "peers: subscribers: server grew %ld MB; a slow subscriber got %d of %d\n",
            grown_mb, got, BURST * ROUNDS);
    ck_assert_msg(got > 0 && got < BURST * ROUNDS,
                  "a subscriber that never read got %d of %d changes (none dropped?)", got,
                  BURST * ROUNDS);
    /* The XPUB high-water mark bounds what is held per subscriber (about 15 MB here). */
    ck_assert_msg(grown_mb < 300, "the server grew by %ld MB", grown_mb);

    /* The stream still works for a subscriber that reads. */
    void *good = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    timeo = 5000;
    zmq_setsockopt(good, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(good, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    zmq_setsockopt(good, ZMQ_SUBSCRIBE, "call.", 5);
    zmq_connect(good, harness_stream(h));
    usleep(300 * 1000);
    Codispatch__V1__Envelope *r = harness_create_call(h, NULL, "other", 4, 34, -118);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    char topic[128];
    int n = zmq_recv(good, topic, sizeof topic - 1, 0);
    ck_assert_msg(n > 0, "a reading subscriber got nothing within 5 s");
    topic[n] = '\0';
    ck_assert_msg(strncmp(topic, "call.", 5) == 0, "topic %s", topic);
    zmq_close(good);
    for (int i = 0; i < SLOW; i++)
        zmq_close(subs[i]);
    zmq_ctx_term(ctx);
    s_answered("after the subscribers left");
}
END_TEST

/* ------------------------------------------------------------------ tablets */

static Codispatch__V1__Envelope *s_add_unit(const char *id)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddUnit m = CODISPATCH__V1__ADD_UNIT__INIT;
    m.unit_id = (char *)id;
    m.type = "mh_team";
    m.has_status = true;
    m.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    env.add_unit = &m;
    return harness_send(h, &env);
}

/* In a child process: one DEALER per unit says Hello and waits for its Welcome; then the
 * child writes one byte to `ready` and sleeps until it is stopped or killed. */
static void s_tablets_child(int n, int ready)
{
    void *ctx = zmq_ctx_new();
    for (int i = 0; i < n; i++) {
        void *s = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(s, harness_units(h));
        char unit[32], rid[32];
        snprintf(unit, sizeof unit, "VAN-%02d", i);
        snprintf(rid, sizeof rid, "hello-%02d", i);
        Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__Hello m = CODISPATCH__V1__HELLO__INIT;
        m.unit_id = unit;
        env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
        env.hello = &m;
        harness_send_env(s, &env, rid);
        zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 10000) != 1)
            _exit(2);
        char reply[4096];
        zmq_recv(s, reply, sizeof reply, 0);
    }
    if (write(ready, "r", 1) != 1)
        _exit(3);
    for (;;)
        pause();
}

START_TEST(tablets_that_vanish)
{
    enum { TABLETS = 12 };
    for (int i = 0; i < TABLETS; i++) {
        char unit[32];
        snprintf(unit, sizeof unit, "VAN-%02d", i);
        Codispatch__V1__Envelope *r = s_add_unit(unit);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_UNIT);
        cdc_envelope_free(r);
    }
    double base = s_metric("codispatch_tablets_connected");
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pipefd[0]);
        s_tablets_child(TABLETS, pipefd[1]);
    }
    close(pipefd[1]);
    char c;
    struct timeval tv = {20, 0};
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(pipefd[0], &rd);
    ck_assert_msg(select(pipefd[0] + 1, &rd, NULL, NULL, &tv) == 1 && read(pipefd[0], &c, 1) == 1,
                  "the tablets were not welcomed");
    close(pipefd[0]);
    ck_assert_double_eq(s_wait_metric("codispatch_tablets_connected", base + TABLETS, 10000),
                        base + TABLETS);

    /* Vanish: the process stops, its sockets stay open, nothing answers heartbeats. */
    kill(pid, SIGSTOP);
    long long deadline = harness_now_ms() + 60000;
    double now = base + TABLETS;
    while (now != base && harness_now_ms() < deadline) {
        s_answered("while tablets are silent");
        now = s_metric("codispatch_tablets_connected");
        if (now != base)
            usleep(200 * 1000);
    }
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, NULL, 0);
    ck_assert_msg(now == base, "%.0f silent tablets still counted as connected after 60 s",
                  now - base);
    /* And the roster says so. */
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListUnits lu = CODISPATCH__V1__LIST_UNITS__INIT;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS;
    env.list_units = &lu;
    Codispatch__V1__Envelope *r = harness_send(h, &env);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST);
    int seen = 0;
    for (size_t i = 0; i < r->unit_list->n_units; i++)
        if (strncmp(r->unit_list->units[i]->unit_id, "VAN-", 4) == 0) {
            ck_assert(!r->unit_list->units[i]->tablet_connected);
            seen++;
        }
    ck_assert_int_eq(seen, TABLETS);
    cdc_envelope_free(r);
}
END_TEST

/* ------------------------------------------------------------------ snapshots without end */

/* Sends a SnapshotRequest on sock (a DEALER of the test's own); no reply is read. */
static void s_ask_snapshot(void *sock, const char *rid)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SnapshotRequest m = CODISPATCH__V1__SNAPSHOT_REQUEST__INIT;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT;
    env.snapshot = &m;
    ck_assert(harness_send_env(sock, &env, rid));
}

/* A client that asks for a snapshot again and again (each one renders every open call and
 * unit, and waits in ZeroMQ's queue for a client that need not read it): after a burst it is
 * refused BUSY, naming the field and when to ask again; another client is not held back, and
 * the first gets snapshots again at the refill rate. */
START_TEST(snapshots_asked_without_end)
{
    enum { ASKS = 30, BURST = 10 }; /* BURST = CONTROL_SNAPSHOT_BURST */
    double busy0 =
        s_metric("codispatch_refusals_total{socket=\"control\",code=\"BUSY\",field=\"snapshot\"}");
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_connect(s, harness_control(h)), 0);
    for (int i = 0; i < ASKS; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "snap-%d", i);
        s_ask_snapshot(s, rid);
    }
    /* Another client, meanwhile: its own allowance. */
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SnapshotRequest m = CODISPATCH__V1__SNAPSHOT_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT;
    req.snapshot = &m;
    Codispatch__V1__Envelope *r = harness_call(h, &req, 5000);
    ck_assert_msg(r && r->body_case == CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY,
                  "another client did not get its snapshot");
    cdc_envelope_free(r);

    int snapshots = 0, busy = 0;
    for (int i = 0; i < ASKS; i++) {
        r = harness_recv_reply(s, 5000);
        ck_assert_msg(r != NULL, "reply %d of %d did not come", i + 1, ASKS);
        if (r->body_case == CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY) {
            snapshots++;
        } else {
            ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__BUSY);
            ck_assert_str_eq(r->error->field, "snapshot");
            ck_assert_msg(strstr(r->error->message, "ask again in") != NULL, "message: %s",
                          r->error->message);
            busy++;
        }
        cdc_envelope_free(r);
    }
    /* The burst, plus what refilled (2 a second) while the 30 were being read. */
    ck_assert_msg(snapshots >= BURST && snapshots <= BURST + 2,
                  "%d snapshots and %d refusals for %d requests", snapshots, busy, ASKS);
    ck_assert_int_eq(busy, ASKS - snapshots);
    ck_assert(s_metric("codispatch_refusals_total{socket=\"control\",code=\"BUSY\","
                       "field=\"snapshot\"}") == busy0 + busy);
    /* Half a second later it has earned one more. */
    usleep(600 * 1000);
    s_ask_snapshot(s, "snap-later");
    r = harness_recv_reply(s, 5000);
    ck_assert_msg(r && r->body_case == CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY,
                  "no snapshot after the refill");
    cdc_envelope_free(r);
    zmq_close(s);
    zmq_ctx_term(ctx);
}
END_TEST

/* ------------------------------------------------------------------ half a message */

/* A raw ZMTP peer (the bench's: tools/cli/bench_zmtp.c) as a DEALER: libzmq itself never
 * sends part of a multipart message, so the parts are written by hand on its connection, which
 * is made blocking again (5 s at most per write). */
static bench_zmtp_t *s_zmtp_connect(const char *endpoint)
{
    char err[256];
    bench_zmtp_t *z = bench_zmtp_connect(endpoint, "DEALER", 5000, err, sizeof err);
    ck_assert_msg(z != NULL, "ZMTP peer: %s", err);
    int fd = bench_zmtp_fd(z);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return z;
}

/* Sends one message frame of n bytes with the MORE flag: the first part of a message whose
 * rest never comes. */
static void s_zmtp_more(bench_zmtp_t *z, size_t n)
{
    int fd = bench_zmtp_fd(z);
    uint8_t head[9] = {0x03}; /* more, long */
    for (int i = 0; i < 8; i++)
        head[1 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
    uint8_t *body = calloc(1, n);
    ck_assert_int_eq(write(fd, head, sizeof head), (ssize_t)sizeof head);
    size_t sent = 0;
    while (sent < n) {
        ssize_t w = write(fd, body + sent, n - sent);
        ck_assert_int_gt(w, 0);
        sent += (size_t)w;
    }
    free(body);
}

START_TEST(half_a_multipart_message)
{
    enum { STALLED = 20, GONE = 20, PART = 60 * 1024 };
    s_answered("before");
    long rss0 = s_rss_kb();
    /* Peers that send the first part of a message and then stall, on both ROUTER sockets. */
    bench_zmtp_t *stalled[STALLED];
    for (int i = 0; i < STALLED; i++) {
        stalled[i] = s_zmtp_connect(i % 2 ? harness_units(h) : harness_control(h));
        s_zmtp_more(stalled[i], PART);
    }
    for (int i = 0; i < 3; i++)
        s_answered("while peers hold half a message");
    /* Peers that send the first part and disconnect. */
    for (int i = 0; i < GONE; i++) {
        bench_zmtp_t *z = s_zmtp_connect(harness_control(h));
        s_zmtp_more(z, PART);
        bench_zmtp_destroy(&z);
    }
    s_answered("after peers left with half a message");
    /* A full request from a stalled connection's neighbour still works end to end. */
    Codispatch__V1__Envelope *r = harness_create_call(h, NULL, "other", 4, 34, -118);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    long grown_mb = (s_rss_kb() - rss0) / 1024;
    fprintf(stderr, "peers: half messages: server grew %ld MB\n", grown_mb);
    /* 40 partial messages of 60 KiB are held by libzmq until their peers go: a few MB. */
    ck_assert_msg(grown_mb < 100, "the server grew by %ld MB", grown_mb);
    for (int i = 0; i < STALLED; i++)
        bench_zmtp_destroy(&stalled[i]);
    s_answered("after the stalled peers left");

    /* A peer that keeps sending parts of one message that never ends: libzmq holds every
     * part (its high-water mark counts whole messages) until the peer goes, then frees them.
     * The growth while it is connected is a known limit (README); what is checked here is
     * that later such peers, after the first left, reuse that memory (the first rounds fill
     * AddressSanitizer's 8 MB quarantine of freed memory; by the third it is reused). */
    long grew[3];
    for (int round = 0; round < 3; round++) {
        long before = s_rss_kb();
        bench_zmtp_t *z = s_zmtp_connect(harness_control(h));
        for (int i = 0; i < 160; i++)
            s_zmtp_more(z, 64 * 1024);
        s_answered("while a peer sends an endless message");
        grew[round] = (s_rss_kb() - before) / 1024;
        bench_zmtp_destroy(&z);
        s_answered("after the endless message's peer left");
        usleep(500 * 1000);
    }
    fprintf(stderr, "peers: endless message (10 MB of parts): grew %ld, %ld, %ld MB\n", grew[0],
            grew[1], grew[2]);
    ck_assert_msg(grew[2] <= grew[0] / 2 + 2,
                  "the parts of gone peers were not freed (grew %ld, %ld, %ld MB)", grew[0],
                  grew[1], grew[2]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("peers");
    TCase *tc = tcase_create("peers");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, half_a_multipart_message);
    tcase_add_test(tc, snapshots_asked_without_end);
    tcase_add_test(tc, tablets_that_vanish);
    tcase_add_test(tc, dashboard_that_never_reads);
    tcase_add_test(tc, http_clients_that_stall);
    tcase_add_test(tc, subscriber_that_never_reads);
    tcase_add_test(tc, an_oversized_subscription_is_refused);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
