/*  bench_intake.c — `codispatch bench intake --clients C --calls N` and `bench rtt`.
 *
 *  C DEALER sockets, each with one CreateCall outstanding (a fresh request id every time): a
 *  closed loop, so the figures are what C dispatchers typing as fast as the server answers
 *  would see.  Latency is from just before the send to the reply's arrival.  An Error reply
 *  (BUSY and UNAVAILABLE included) or no reply within --timeout counts as an error, and the
 *  client goes on with its next call.
 *
 *  `bench rtt [--count N]` is the same loop with one client sending StatusRequest, which the
 *  server answers from memory: a ZeroMQ round trip through the server's loop, the network
 *  half of the floor that intake latency is compared with.  Same JSON fields.
 *
 *  The clients speak ZMTP themselves (bench_zmtp.c: a send and a read on the connection, no
 *  threads), or with --libzmq are libzmq DEALER sockets, whose I/O thread and mailbox hop cost
 *  this process CPU that the server it measures shares on a small machine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <zmq.h>

#include "bench.h"
#include "bench_zmtp.h"

static const char *const USAGE = "codispatch bench intake --clients C --calls N [--libzmq]";
static const char *const RTT_USAGE = "codispatch bench rtt [--count N] [--libzmq]";

typedef struct s_client {
    void *sock;         /* libzmq DEALER (--libzmq), or NULL */
    bench_zmtp_t *zmtp; /* ZMTP DEALER, or NULL */
    char rid[33];
    double sent_ms;
    bool busy;
} s_client_t;

static int s_send_next(s_client_t *c, uint64_t n, bool rtt)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    cdc_request_id(c->rid);
    env.request_id = c->rid;
    if (rtt) {
        env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
        env.status = &st;
    } else {
        bench_fill_call(&cc, n);
        env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
        env.create_call = &cc;
    }
    c->sent_ms = bench_mono_ms();
    c->busy = bench_send(c->sock, c->zmtp, &env) == 0;
    return c->busy ? 0 : -1;
}

/* What a run has counted so far. */
typedef struct s_tally {
    bench_lat_t lat;
    Codispatch__V1__Envelope__BodyCase want;
    long done, errors, timeouts;
} s_tally_t;

/* c's request is over (answered or timed out): the next one, while some are left. */
static void s_finished(s_client_t *c, s_tally_t *t, long *sent, long ncalls, bool rtt)
{
    c->busy = false;
    t->done++;
    if (*sent < ncalls && s_send_next(c, (uint64_t)(*sent)++, rtt) != 0)
        t->errors++, t->done++;
}

/* Where a run is, for the reply handlers. */
typedef struct s_ctx {
    s_client_t *c;
    s_tally_t *t;
    long *sent, ncalls;
    bool rtt;
    double now;
} s_ctx_t;

/* A reply reached x->c: counted when it answers the request outstanding, which makes room for
 * the next one. */
static void s_reply(s_ctx_t *x, Codispatch__V1__Envelope *r)
{
    s_client_t *c = x->c;
    bool mine = c->busy && r->request_id && strcmp(r->request_id, c->rid) == 0;
    if (mine) {
        bench_lat_add(&x->t->lat, x->now - c->sent_ms);
        if (r->body_case != x->t->want)
            x->t->errors++;
    } /* else: the late reply of a request that timed out */
    cdc_envelope_free(r);
    if (mine)
        s_finished(c, x->t, x->sent, x->ncalls, x->rtt);
}

/* A ZMTP message: the envelope is its last frame (after an empty delimiter, if any). */
static void s_on_zmtp_msg(void *arg, const bench_zmtp_frame_t *f, size_t n)
{
    if (n == 0)
        return;
    Codispatch__V1__Envelope *r =
        codispatch__v1__envelope__unpack(NULL, f[n - 1].size, f[n - 1].data);
    if (r)
        s_reply(arg, r);
}

/* Reads c's replies until none is left, sending the next request after each.  With libzmq, a
 * send can take the edge of a reply that is already there, hence the check after it too. */
static void s_serve(s_client_t *c, s_tally_t *t, long *sent, long ncalls, bool rtt, double now)
{
    s_ctx_t x = {.c = c, .t = t, .sent = sent, .ncalls = ncalls, .rtt = rtt, .now = now};
    if (c->zmtp) {
        if (bench_zmtp_read(c->zmtp, s_on_zmtp_msg, &x) < 0) {
            fprintf(stderr, "bench: the server closed a client's connection\n");
            bench_zmtp_destroy(&c->zmtp); /* and so leaves the epoll set */
            if (c->busy)
                t->errors++, t->done++;
            c->busy = false;
        }
        return;
    }
    if (!c->sock)
        return; /* its connection is gone */
    do {
        Codispatch__V1__Envelope *r;
        while ((r = bench_recv(c->sock)))
            s_reply(&x, r);
    } while (bench_readable(c->sock));
}

/* C clients, N requests in all: CreateCall, or (rtt) StatusRequest, which the server
 * answers from memory: the ZeroMQ round trip through its loop without PostgreSQL. */
static int s_run(const cli_t *cli, long nclients, long ncalls, bool rtt, bool libzmq)
{
    const char *what = rtt ? "bench rtt" : "bench intake";
    Codispatch__V1__Envelope__BodyCase want =
        rtt ? CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY : CODISPATCH__V1__ENVELOPE__BODY_CALL;
    int rc = CLI_OK;
    if (nclients > ncalls)
        nclients = ncalls;
    bench_raise_nofile();

    void *ctx = bench_zmq_ctx((int)nclients + 64);
    s_client_t *cl = calloc((size_t)nclients, sizeof *cl);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (long i = 0; i < nclients; i++) {
        char err[256];
        if (!libzmq &&
            !(cl[i].zmtp = bench_zmtp_connect(cli->server, "DEALER", 5000, err, sizeof err))) {
            fprintf(stderr, "codispatch: %s\n", err);
            rc = CLI_UNREACHABLE;
            goto done;
        }
        if ((libzmq && !(cl[i].sock = bench_dealer(ctx, cli->server))) ||
            bench_watch(ep, cl[i].sock, cl[i].zmtp ? bench_zmtp_fd(cl[i].zmtp) : -1, &cl[i]) != 0) {
            rc = CLI_USAGE;
            goto done;
        }
    }

    s_tally_t t = {.lat = {0}, .want = want};
    long sent = 0;
    double start = bench_mono_ms(), last_progress = start, last_timeouts = start;
    for (long i = 0; i < nclients; i++, sent++)
        if (s_send_next(&cl[i], (uint64_t)sent, rtt) != 0)
            t.errors++, t.done++;
    /* A socket's ZMQ_FD signals a reply only once a read has found its pipe empty: look once. */
    for (long i = 0; i < nclients; i++)
        s_serve(&cl[i], &t, &sent, ncalls, rtt, bench_mono_ms());
    while (t.done < ncalls) {
        long live = 0;
        for (long i = 0; i < nclients && !live; i++)
            live += cl[i].busy;
        if (!live) { /* every connection is gone (or no request could be sent) */
            t.errors += ncalls - t.done;
            break;
        }
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0 && errno != EINTR)
            break;
        double now = bench_mono_ms();
        for (int i = 0; i < n; i++)
            s_serve(evs[i].data.ptr, &t, &sent, ncalls, rtt, now);
        /* A client whose reply is overdue counts as an error and goes on (checked ten times a
         * second, not per reply). */
        if (now - last_timeouts >= 100) {
            last_timeouts = now;
            for (long i = 0; i < nclients; i++)
                if (cl[i].busy && now - cl[i].sent_ms > cli->timeout_ms) {
                    t.errors++, t.timeouts++;
                    s_finished(&cl[i], &t, &sent, ncalls, rtt);
                    s_serve(&cl[i], &t, &sent, ncalls, rtt, now);
                }
        }
        if (now - last_progress >= 1000) {
            last_progress = now;
            fprintf(stderr, "%s: %ld/%ld requests, %.0f/s, %ld errors\n", what, t.done, ncalls,
                    (double)t.done * 1000.0 / (now - start), t.errors);
        }
    }
    double seconds = (bench_mono_ms() - start) / 1000.0;

    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "clients", (double)nclients);
    cJSON_AddNumberToObject(out, "calls", (double)t.done);
    cJSON_AddNumberToObject(out, "seconds", seconds);
    cJSON_AddNumberToObject(out, "throughput_per_s", seconds > 0 ? (double)t.done / seconds : 0);
    cJSON_AddNumberToObject(out, "p50_ms", bench_lat_quantile(&t.lat, 0.50));
    cJSON_AddNumberToObject(out, "p99_ms", bench_lat_quantile(&t.lat, 0.99));
    cJSON_AddNumberToObject(out, "p999_ms", bench_lat_quantile(&t.lat, 0.999));
    cJSON_AddNumberToObject(out, "errors", (double)t.errors);
    cli_print_json(out);
    if (t.timeouts)
        fprintf(stderr, "%s: %ld requests had no reply within %d ms\n", what, t.timeouts,
                cli->timeout_ms);
    bench_lat_free(&t.lat);
    rc = t.errors ? CLI_REFUSED : CLI_OK;
done:
    for (long i = 0; i < nclients; i++) {
        if (cl[i].sock)
            zmq_close(cl[i].sock);
        bench_zmtp_destroy(&cl[i].zmtp);
    }
    free(cl);
    zmq_ctx_term(ctx);
    if (ep >= 0)
        close(ep);
    return rc;
}

int bench_intake(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("clients"), CLI_OPT("calls"), CLI_FLAG("libzmq")};
    size_t npos = 0;
    int rc = cli_parse(argc, argv, o, CLI_N(o), NULL, 0, &npos, USAGE);
    long nclients, ncalls;
    if (rc != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "clients", 1, 1, 4096, &nclients, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "calls", 1000, 1, 100000000, &ncalls, USAGE)) != CLI_OK)
        return rc;
    return s_run(cli, nclients, ncalls, false, cli_flag(o, CLI_N(o), "libzmq"));
}

int bench_rtt(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("count"), CLI_FLAG("libzmq")};
    size_t npos = 0;
    int rc = cli_parse(argc, argv, o, CLI_N(o), NULL, 0, &npos, RTT_USAGE);
    long count;
    if (rc != CLI_OK || (rc = bench_long_opt(o, CLI_N(o), "count", 2000, 1, 100000000, &count,
                                             RTT_USAGE)) != CLI_OK)
        return rc;
    return s_run(cli, 1, count, true, cli_flag(o, CLI_N(o), "libzmq"));
}
