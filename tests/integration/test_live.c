/* Integration: live status.  The XPUB stream publishes each committed change with its seq
 * and no caller PII; a snapshot plus the stream (Clone pattern) reproduces the state;
 * `codispatch tail` follows it; HTTP serves /healthz, /readyz (503 without the database),
 * /metrics, /api/snapshot and the dashboard from the server's own loop. */
#include <arpa/inet.h>
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "bench_ws.h"
#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new();
    harness_add_server_arg(h, "--max-ws");
    harness_add_server_arg(h, "3"); /* dashboards_capped_and_snapshots_limited */
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    harness_ensure_up(h);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

/* A SUB socket on the stream for topics starting with prefix (receives time out in 5 s). */
static void *s_subscribe(void **ctx, const char *prefix)
{
    *ctx = zmq_ctx_new();
    void *sub = zmq_socket(*ctx, ZMQ_SUB);
    int linger = 0, timeo = 5000;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &timeo, sizeof timeo);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
    zmq_connect(sub, harness_stream(h));
    return sub;
}

/* A change's committed_us: the server's clock when the batch committed, after the command was
 * applied (at_ms, whole milliseconds) and before the change reached us. */
static void s_check_commit_time(long long at_ms, long long committed_us)
{
    ck_assert_msg(committed_us > 0, "the change carries no committed_us");
    ck_assert_int_ge(committed_us / 1000, at_ms);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* the server's clock, on this machine */
    ck_assert_int_le(committed_us, (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
}

START_TEST(stream_publishes_committed_changes_without_pii)
{
    void *ctx, *sub = s_subscribe(&ctx, "call.");
    usleep(300 * 1000); /* let the subscription reach the server */

    Codispatch__V1__Envelope snap_req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SnapshotRequest sr = CODISPATCH__V1__SNAPSHOT_REQUEST__INIT;
    snap_req.has_version = true;
    snap_req.version = 1;
    snap_req.request_id = "live-snap-1";
    snap_req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT;
    snap_req.snapshot = &sr;
    Codispatch__V1__Envelope *snap = harness_call(h, &snap_req, 10000);
    ck_assert_int_eq(snap->body_case, CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY);
    uint64_t snap_seq = snap->snapshot_reply->seq;
    cdc_envelope_free(snap);

    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    cc.type = "welfare_check";
    cc.has_priority = cc.has_lat = cc.has_lon = true;
    cc.priority = 3;
    cc.lat = 34.05;
    cc.lon = -118.25;
    cc.caller_name = "Private Person";
    cc.callback = "213-555-0199";
    env.has_version = true;
    env.version = 1;
    env.request_id = "live-create-1";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    env.create_call = &cc;
    Codispatch__V1__Envelope *r = harness_call(h, &env, 10000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char call_id[32];
    snprintf(call_id, sizeof call_id, "%s", r->call->call_id);
    uint64_t call_seq = r->seq;
    cdc_envelope_free(r);

    /* Three frames: the topic, the seq as text, the change (which carries the same seq), and
     * nothing more. */
    char topic[128] = "", seq_text[32] = "";
    uint8_t body[65536];
    int tl = zmq_recv(sub, topic, sizeof topic - 1, 0);
    ck_assert_int_gt(tl, 0);
    topic[tl] = '\0';
    int more = 0;
    size_t more_len = sizeof more;
    ck_assert_int_eq(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len), 0);
    ck_assert_int_eq(more, 1);
    int sl = zmq_recv(sub, seq_text, sizeof seq_text - 1, 0);
    ck_assert_int_gt(sl, 0);
    seq_text[sl] = '\0';
    ck_assert_int_eq(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len), 0);
    ck_assert_int_eq(more, 1);
    int bl = zmq_recv(sub, body, sizeof body, 0);
    ck_assert_int_gt(bl, 0);
    ck_assert_int_eq(zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &more_len), 0);
    ck_assert_int_eq(more, 0);
    char want[64];
    snprintf(want, sizeof want, "call.%s", call_id);
    ck_assert_str_eq(topic, want);
    Codispatch__V1__StreamChange *c = codispatch__v1__stream_change__unpack(NULL, (size_t)bl, body);
    ck_assert_ptr_nonnull(c);
    ck_assert(c->has_seq);
    uint64_t seq = c->seq;
    char seq_want[32];
    snprintf(seq_want, sizeof seq_want, "%llu", (unsigned long long)seq);
    ck_assert_str_eq(seq_text, seq_want); /* the text frame and the change agree */
    ck_assert_uint_gt(seq, snap_seq);     /* newer than the snapshot: a board applies it */
    ck_assert_uint_le(seq, call_seq);
    ck_assert_str_eq(c->kind, "call.created");
    ck_assert_str_eq(c->call->call_id, call_id);
    ck_assert(!c->call->caller_name || !*c->call->caller_name);
    ck_assert(!c->call->callback || !*c->call->callback);
    ck_assert_ptr_null(memmem(body, (size_t)bl, "213-555-0199", 12));
    s_check_commit_time(c->at_ms, c->has_committed_us ? c->committed_us : 0);
    codispatch__v1__stream_change__free_unpacked(c, NULL);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(stats_topic_carries_headline_figures)
{
    void *ctx, *sub = s_subscribe(&ctx, "stats");
    usleep(1200 * 1000); /* the subscription arrives; a second passes since the last stats */
    Codispatch__V1__Envelope *r = harness_create_call(h, "live-stats-1", "other", 4, 34, -118);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    char topic[16] = "", seq_text[32] = "";
    uint8_t body[4096];
    ck_assert_int_eq(zmq_recv(sub, topic, sizeof topic - 1, 0), 5);
    ck_assert_str_eq(topic, "stats");
    ck_assert_int_gt(zmq_recv(sub, seq_text, sizeof seq_text - 1, 0), 0);
    int bl = zmq_recv(sub, body, sizeof body, 0);
    ck_assert_int_gt(bl, 0);
    Codispatch__V1__StreamChange *c = codispatch__v1__stream_change__unpack(NULL, (size_t)bl, body);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(c->stats);
    ck_assert_uint_ge(c->stats->open_calls, 1);
    ck_assert_uint_eq(c->stats->n_pending_by_priority, 4);
    s_check_commit_time(c->at_ms, c->has_committed_us ? c->committed_us : 0);
    codispatch__v1__stream_change__free_unpacked(c, NULL);
    zmq_close(sub);
    zmq_ctx_term(ctx);
}
END_TEST

START_TEST(tail_prints_the_snapshot_then_changes)
{
    char cmd[512], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "(%s --server %s --json tail --max 1 --topic call. & sleep 1; "
             "%s --server %s call create --type other --priority 4 --lat 34 --lon -118 "
             ">/dev/null; wait)",
             harness_bin("codispatch"), harness_control(h), harness_bin("codispatch"),
             harness_control(h));
    ck_assert_int_eq(harness_sh(cmd, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"type\":\"snapshot\""));
    ck_assert_ptr_nonnull(strstr(out, "\"kind\":\"call.created\""));
    ck_assert_ptr_nonnull(strstr(out, "\"committed_us\":"));
    free(out);
}
END_TEST

START_TEST(http_health_metrics_snapshot_and_dashboard)
{
    char *body;
    ck_assert_int_eq(harness_http_get(h, "/healthz", &body), 200);
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/readyz", &body), 200);
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/metrics", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "codispatch_database_up 1"));
    ck_assert_ptr_nonnull(strstr(body, "codispatch_open_calls"));
    ck_assert_ptr_nonnull(strstr(body, "codispatch_commit_seconds_bucket"));
    ck_assert_ptr_nonnull(
        strstr(body, "codispatch_commands_total{kind=\"create_call\",result=\"ok\"}"));
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/api/snapshot", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"type\":\"snapshot\""));
    ck_assert_ptr_nonnull(strstr(body, "\"calls\":[{"));
    ck_assert_ptr_null(strstr(body, "213-555-0199")); /* no PII for command staff */
    ck_assert_ptr_null(strstr(body, "Private Person"));
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "<html"));
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/no-such-page", &body), 404);
    free(body);

    /* Without the database the process is alive but not ready. */
    ck_assert_int_eq(harness_stop_db(h), 0);
    int status = 0;
    for (int i = 0; i < 100 && status != 503; i++) {
        status = harness_http_get(h, "/readyz", &body);
        free(body);
        if (status != 503)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(status, 503);
    ck_assert_int_eq(harness_http_get(h, "/healthz", &body), 200);
    free(body);
    ck_assert_int_eq(harness_start_db(h), 0);
}
END_TEST

/* A second server told to serve HTTP on a port that is taken (ours) says so and exits 1
 * instead of crashing (libwebsockets would make a half-made listener that libuv aborts on). */
START_TEST(busy_http_port_is_a_clear_error)
{
    char cmd[2048], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "timeout 30 %s --db '%s' --data-dir '%s/busy' --control 'tcp://127.0.0.1:*' "
             "--units 'tcp://127.0.0.1:*' --stream 'tcp://127.0.0.1:*' --http %s 2>&1",
             harness_bin("codispatchd"), harness_conninfo(h), harness_dir(h), harness_http(h));
    int rc = harness_sh(cmd, &out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out ? out : "");
    ck_assert_msg(out && strstr(out, "cannot serve HTTP"), "no sentence: %s", out ? out : "");
    free(out);
}
END_TEST

/* ------------------------------------------------------------------ snapshots under load */

#define LOAD_SOCKETS 16

static atomic_bool s_load_stop;
static atomic_long s_load_replies;

/* One CreateCall with a fresh request id on sock. */
static void s_load_send(void *sock, long *sent)
{
    char rid[48];
    snprintf(rid, sizeof rid, "snapload-%ld", (*sent)++);
    harness_send_create(sock, rid, "other", 4);
}

/* 16 consoles in a closed loop of CreateCalls, so that a batch is nearly always in flight. */
static void *s_load(void *arg)
{
    (void)arg;
    void *ctx = zmq_ctx_new();
    void *socks[LOAD_SOCKETS];
    zmq_pollitem_t items[LOAD_SOCKETS];
    long sent = 0;
    for (int i = 0; i < LOAD_SOCKETS; i++) {
        socks[i] = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(socks[i], harness_control(h));
        items[i] = (zmq_pollitem_t){.socket = socks[i], .events = ZMQ_POLLIN};
        s_load_send(socks[i], &sent);
    }
    while (!atomic_load(&s_load_stop)) {
        if (zmq_poll(items, LOAD_SOCKETS, 100) <= 0)
            continue;
        for (int i = 0; i < LOAD_SOCKETS; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            zmq_msg_t m;
            zmq_msg_init(&m);
            zmq_msg_recv(&m, socks[i], ZMQ_DONTWAIT);
            zmq_msg_close(&m);
            atomic_fetch_add(&s_load_replies, 1);
            s_load_send(socks[i], &sent);
        }
    }
    for (int i = 0; i < LOAD_SOCKETS; i++)
        zmq_close(socks[i]);
    zmq_ctx_term(ctx);
    return NULL;
}

/* A board must get its snapshot while commands keep coming: two batches are then nearly
 * always in flight, and the engine never holds only committed state at a commit.  The
 * snapshot is rendered when asked for and handed over when its seq has committed. */
START_TEST(snapshots_are_served_under_sustained_load)
{
    harness_ensure_up(h); /* an earlier test stopped PostgreSQL */
    bool ready = false;
    for (int i = 0; i < 100 && !ready; i++) {
        Codispatch__V1__Envelope *st = harness_status(h);
        ready = st && st->status_reply->database == CODISPATCH__V1__DATABASE_STATE__DATABASE_OK;
        cdc_envelope_free(st);
        if (!ready)
            harness_sleep_ms(100);
    }
    ck_assert(ready);
    atomic_store(&s_load_stop, false);
    atomic_store(&s_load_replies, 0);
    pthread_t load;
    ck_assert_int_eq(pthread_create(&load, NULL, s_load, NULL), 0);
    while (atomic_load(&s_load_replies) < 200)
        harness_sleep_ms(10);
    /* Each answered within 10 s while the consoles go on (they stop only below). */
    int served = 0;
    for (int i = 0; i < 5; i++) {
        char *resp = NULL;
        int status =
            harness_http_raw(h, "GET /api/snapshot HTTP/1.0\r\nHost: localhost\r\n\r\n", 10, &resp);
        if (status == 200 && resp && strstr(resp, "\"seq\":"))
            served++;
        free(resp);
    }
    long replies = atomic_load(&s_load_replies);
    harness_sleep_ms(200);
    ck_assert_msg(atomic_load(&s_load_replies) > replies, "the load had stopped");
    atomic_store(&s_load_stop, true);
    pthread_join(load, NULL);
    ck_assert_msg(served == 5, "%d of 5 snapshots were served while the load went on", served);
}
END_TEST

static const char s_upgrade[] = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                                "Connection: Upgrade\r\nSec-WebSocket-Key: "
                                "dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* Opens a WebSocket to /ws: the socket, open, and the HTTP status of the answer. */
static int s_ws_open(int *status)
{
    int fd = harness_http_send(h, s_upgrade, 5);
    ck_assert_int_ge(fd, 0);
    char buf[64] = "";
    ssize_t n = read(fd, buf, sizeof buf - 1); /* the status line fits in the first read */
    ck_assert_int_gt(n, 12);
    buf[n] = '\0';
    *status = atoi(buf + 9);
    return fd;
}

/* --max-ws 3 (suite_setup): a fourth dashboard is refused with 503 and a reason until one
 * leaves.  /api/snapshot from one address: 20 at once, then 5 a second; past that 429
 * naming the field "snapshot" and when to ask again. */
START_TEST(dashboards_capped_and_snapshots_limited)
{
    harness_ensure_up(h);
    harness_sleep_ms(4100); /* earlier tests' snapshots: the bucket is full again */
    int fds[3], status;
    for (int i = 0; i < 3; i++) {
        fds[i] = s_ws_open(&status);
        ck_assert_int_eq(status, 101);
    }
    char *resp = NULL;
    ck_assert_int_eq(harness_http_raw(h, s_upgrade, 3, &resp), 503);
    ck_assert_ptr_nonnull(strstr(resp, "--max-ws"));
    free(resp);
    close(fds[0]);
    for (int i = 0; i < 100 && harness_scrape(h, "codispatch_websocket_clients") > 2; i++)
        harness_sleep_ms(50);
    fds[0] = s_ws_open(&status);
    ck_assert_int_eq(status, 101); /* a place was free again */

    /* 30 snapshots asked at once (every request written before any answer is read, so the
     * bucket's refill plays almost no part): 20, then 429. */
    enum { ASKED = 30 };
    int socks[ASKED];
    for (int i = 0; i < ASKED; i++) {
        socks[i] = harness_http_send(h, "GET /api/snapshot HTTP/1.0\r\nHost: localhost\r\n\r\n", 5);
        ck_assert_int_ge(socks[i], 0);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < ASKED; i++) {
        char *body;
        status = harness_http_read(socks[i], &body);
        if (status == 200) {
            ok++;
        } else {
            ck_assert_int_eq(status, 429);
            ck_assert_ptr_nonnull(strstr(body, "\"field\":\"snapshot\""));
            ck_assert_ptr_nonnull(strstr(body, "ask again in"));
            busy++;
        }
        free(body);
    }
    fprintf(stderr, "live: snapshots: %d served, %d refused\n", ok, busy);
    ck_assert_int_ge(ok, 20);
    ck_assert_int_le(ok, 22); /* and what 5 a second adds while they arrive */
    ck_assert_int_eq(ok + busy, ASKED);
    ck_assert_double_ge(harness_scrape(h, "codispatch_refusals_total{socket=\"http\","
                                          "code=\"BUSY\",field=\"snapshot\"}"),
                        busy);
    ck_assert_double_ge(
        harness_scrape(h, "codispatch_refusals_total{socket=\"http\",code=\"BUSY\",field=\"ws\"}"),
        1);
    harness_sleep_ms(600); /* 5 a second: one is there again */
    char *body = NULL;
    ck_assert_int_eq(harness_http_get(h, "/api/snapshot", &body), 200);
    ck_assert_ptr_nonnull(strstr(body, "\"type\":\"snapshot\""));
    free(body);
    for (int i = 0; i < 3; i++)
        close(fds[i]);
}
END_TEST

/* What s_ws_wait looks for among a dashboard's messages. */
typedef struct s_ws_want {
    const char *prefix;   /* the message starts with this */
    const char *contains; /* and holds this, or NULL */
    char *found;          /* a copy of the first such message (malloc'd) */
} s_ws_want_t;

static void s_ws_on_text(void *arg, const char *text, size_t len)
{
    s_ws_want_t *w = arg;
    if (!w->found && strncmp(text, w->prefix, strlen(w->prefix)) == 0 &&
        (!w->contains || strstr(text, w->contains)))
        w->found = strndup(text, len);
}

/* Reads a dashboard's messages (bench_ws: the bench's WebSocket client) until one starts with
 * prefix and holds contains; returns a copy (malloc'd), or NULL after 15 s (a snapshot may
 * wait for its turn) or if the connection ends. */
static char *s_ws_wait(bench_ws_t *ws, const char *prefix, const char *contains)
{
    s_ws_want_t w = {prefix, contains, NULL};
    long long deadline = harness_now_ms() + 15000;
    while (!w.found && harness_now_ms() < deadline) {
        struct pollfd p = {.fd = bench_ws_fd(ws), .events = POLLIN};
        poll(&p, 1, 100);
        if (bench_ws_read(ws, s_ws_on_text, &w) < 0)
            break;
    }
    return w.found;
}

/* The suite's server takes 3 dashboards (--max-ws 3): the earlier tests' have gone. */
static void s_dashboards_gone(void)
{
    for (int i = 0; i < 200 && harness_scrape(h, "codispatch_websocket_clients") > 0; i++)
        harness_sleep_ms(50);
}

/* A dashboard's change carries the same commit time as the stream's. */
START_TEST(ws_changes_carry_the_commit_time)
{
    harness_ensure_up(h);
    s_dashboards_gone();
    bench_ws_t *ws = bench_ws_connect(harness_http(h), "/ws");
    ck_assert_ptr_nonnull(ws);
    /* The snapshot first: a call committed before it is in it, and no change follows. */
    char *snapshot = s_ws_wait(ws, "{\"type\":\"snapshot\"", NULL);
    ck_assert_ptr_nonnull(snapshot);
    free(snapshot);
    Codispatch__V1__Envelope *r = harness_create_call(h, "live-ws-stamp-1", "other", 4, 34, -118);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char want[64];
    snprintf(want, sizeof want, "\"call_id\":\"%s\"", r->call->call_id);
    cdc_envelope_free(r);
    char *change = s_ws_wait(ws, "{\"type\":\"change\"", want);
    ck_assert_msg(change, "no change for the new call on /ws");
    const char *stamp = strstr(change, "\"committed_us\":");
    ck_assert_msg(stamp, "the change carries no committed_us: %s", change);
    s_check_commit_time(atoll(strstr(change, "\"at_ms\":") + 8), atoll(stamp + 15));
    free(change);
    bench_ws_destroy(&ws);
}
END_TEST

/* Dashboards that reconnect as fast as they can (each waits for its snapshot, closes and
 * comes back) get their snapshots, but renderings are spaced HTTP_RENDER_GAP_MS (100 ms)
 * apart however fast they come back: the loop is not kept rendering. */
START_TEST(snapshot_renderings_are_spaced)
{
    harness_ensure_up(h);
    s_dashboards_gone();
    double before = harness_scrape(h, "codispatch_http_snapshots_rendered_total");
    long long t0 = harness_now_ms();
    enum { CONNECTS = 4 };
    for (int i = 0; i < CONNECTS; i++) {
        bench_ws_t *ws = bench_ws_connect(harness_http(h), "/ws");
        ck_assert_ptr_nonnull(ws);
        char *snapshot = s_ws_wait(ws, "{\"type\":\"snapshot\"", NULL);
        ck_assert_ptr_nonnull(snapshot);
        free(snapshot);
        bench_ws_destroy(&ws);
    }
    long long elapsed = harness_now_ms() - t0;
    double renders = harness_scrape(h, "codispatch_http_snapshots_rendered_total") - before;
    fprintf(stderr, "live: %d reconnects in %lld ms, %.0f renderings\n", CONNECTS, elapsed,
            renders);
    ck_assert_double_ge(renders, 1);
    /* 90, not 100: the loop's clock is whole milliseconds, so a gap may look 1 ms short. */
    ck_assert_msg(renders <= 1 + (double)elapsed / 90, "%.0f renderings in %lld ms", renders,
                  elapsed);
    fprintf(stderr, "live: last rendering took %.3f s\n",
            harness_scrape(h, "codispatch_http_snapshot_render_seconds"));
    ck_assert_double_ge(harness_scrape(h, "codispatch_http_snapshot_render_seconds"), 0);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("live");
    TCase *tc = tcase_create("live");
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, stream_publishes_committed_changes_without_pii);
    tcase_add_test(tc, stats_topic_carries_headline_figures);
    tcase_add_test(tc, tail_prints_the_snapshot_then_changes);
    tcase_add_test(tc, http_health_metrics_snapshot_and_dashboard);
    tcase_add_test(tc, busy_http_port_is_a_clear_error);
    tcase_add_test(tc, snapshots_are_served_under_sustained_load);
    tcase_add_test(tc, dashboards_capped_and_snapshots_limited);
    tcase_add_test(tc, ws_changes_carry_the_commit_time);
    tcase_add_test(tc, snapshot_renderings_are_spaced);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run_suite(s_suite());
}
