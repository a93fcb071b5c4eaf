/*  bench_stream.c — `codispatch bench stream --subscribers S --rate R --seconds T [--ws N]
 *  [--ramp W]`.
 *
 *  S subscribers follow every topic of the live stream: S - N ZeroMQ subscribers and N
 *  WebSocket clients of /ws (default N = S / 10).  The ZeroMQ subscribers speak ZMTP
 *  themselves (bench_zmtp.c: one read per ready connection, no threads), or with --libzmq are
 *  libzmq SUB sockets, whose per-socket work in this process competes with the server for the
 *  machine's cores.  Meanwhile CreateCall requests are sent at
 *  R per second (open loop, on four DEALER sockets): each commits one event, so R changes a
 *  second.  Every subscriber checks that seqs arrive one by one; a jump (or, on /ws, a fresh
 *  snapshot sent because the client fell behind) is a gap, and what never arrived is missed.
 *
 *  The rate starts after a warm-up (a change every 100 ms until every subscriber has seen
 *  one; then none until every reply is in), and its first W seconds (--ramp, default 1) are
 *  a ramp: its changes count for deliveries, gaps and misses like the rest, but what is read
 *  during those W seconds has its lag in ramp_lag_* instead of lag_* and event_lag_*.  A step
 *  from idle to R changes a second is a transient: with every connection idle, the server's
 *  fan-out first sends each change on its own to every subscriber, and the lag grows until
 *  enough changes travel together (in one send per connection) for the fan-out to keep up;
 *  lag_* describes the rate R held, ramp_lag_* the step into it.  The split is by the time
 *  of reading, so what the ramp left queued and is read after it counts in lag_* (the
 *  cautious side).  "seconds" is T; "changes", "expected" and "delivered" cover W + T.
 *
 *  Lag is measured, on the same machine's clock, to the moment a subscriber reads the
 *  message, from two points: lag_* from the commit (StreamChange.committed_us, and
 *  "committed_us" on /ws: the server's wall clock when it learned that the change's batch had
 *  committed, just before publishing), the stream's own delay; event_lag_* from the event's
 *  time (at_ms: when the command was applied, before its batch was sent to PostgreSQL), which
 *  adds the wait for the commit and is whole milliseconds (truncated, up to 1 ms more).  From
 *  a server that does not send committed_us, lag_* is measured from at_ms too, and
 *  "lag_from" says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <zmq.h>

#include "bench.h"
#include "bench_ws.h"
#include "bench_zmtp.h"

static const char *const USAGE =
    "codispatch bench stream --subscribers S --rate R --seconds T [--ramp W] [--ws N] [--libzmq]\n"
    "                        [--stream-endpoint EP] [--http HOST:PORT]";

#define S_PRODUCERS 4
#define S_RING      (1u << 16) /* times by seq, decoded once per change */
#define S_BINS      200000     /* lag histogram: 0.05 ms bins up to 10 s */
#define S_BIN_MS    0.05

/* A distribution of lags, in milliseconds. */
typedef struct s_hist {
    uint32_t *bins;
    uint64_t n, over;
    double max;
} s_hist_t;

/* When a change happened and when it committed (0: the server did not say), in ms. */
typedef struct s_times {
    double at_ms, committed_ms;
} s_times_t;

typedef struct s_sub {
    void *sock;         /* libzmq SUB (--libzmq), or NULL */
    bench_zmtp_t *zmtp; /* ZMTP subscriber, or NULL */
    bench_ws_t *ws;     /* /ws client, or NULL */
    uint64_t last;      /* highest seq seen */
    bool warm;          /* saw a change during the warm-up */
    bool snapshot;      /* /ws: the first snapshot arrived */
    bool dead;          /* the connection ended (/ws, ZMTP) */
    struct s_run *run;
} s_sub_t;

typedef struct s_run {
    bool measuring;
    uint64_t start_seq;
    long delivered, gaps;
    struct {
        uint64_t seq;
        s_times_t t;
    } ring[S_RING];
    s_hist_t lag;       /* from the commit (committed_us), else from at_ms */
    s_hist_t event_lag; /* from at_ms */
    bool ramp;          /* the ramp (--ramp): the lag goes to ramp_lag */
    s_hist_t ramp_lag;  /* as lag, during the ramp */
    s_hist_t second;    /* as lag, over the second the progress line reports (then emptied) */
    long unstamped;     /* deliveries without committed_us */
    double now_ms;      /* the wall clock read once per drained socket (0: read it per message) */
} s_run_t;

static void s_hist_add(s_hist_t *h, double lag)
{
    if (lag < 0)
        lag = 0;
    if (lag > h->max)
        h->max = lag;
    size_t bin = (size_t)(lag / S_BIN_MS);
    if (bin >= S_BINS)
        h->over++;
    else
        h->bins[bin]++;
    h->n++;
}

static double s_quantile(const s_hist_t *h, double q)
{
    if (!h->n)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
    for (size_t b = 0; b < S_BINS; b++) {
        seen += h->bins[b];
        if (seen >= rank)
            return (double)(b + 1) * S_BIN_MS; /* the bin's upper edge */
    }
    return h->max;
}

static void s_lag(s_run_t *r, const s_times_t *t)
{
    double now = r->now_ms ? r->now_ms : bench_wall_ms();
    if (!t->committed_ms)
        r->unstamped++;
    double lag = now - (t->committed_ms ? t->committed_ms : t->at_ms);
    s_hist_add(&r->second, lag);
    if (r->ramp) {
        s_hist_add(&r->ramp_lag, lag);
        return;
    }
    s_hist_add(&r->event_lag, now - t->at_ms);
    s_hist_add(&r->lag, lag);
}

/* The lag of the last second's deliveries, for the progress line; then forgets them.  Where a
 * run's tail comes from — spread over the run, or from a few bad seconds — shows there. */
static void s_second_lag(s_run_t *r, double *p99, double *max)
{
    *p99 = s_quantile(&r->second, 0.99);
    *max = r->second.max;
    memset(r->second.bins, 0, S_BINS * sizeof *r->second.bins);
    r->second.n = r->second.over = 0;
    r->second.max = 0;
}

/* A change with this seq reached subscriber s. */
static void s_change(s_sub_t *s, uint64_t seq, const s_times_t *t)
{
    s_run_t *r = s->run;
    if (!r->measuring) {
        s->warm = true;
        if (seq > s->last)
            s->last = seq;
        return;
    }
    if (seq <= r->start_seq || seq <= s->last)
        return;
    if (seq > s->last + 1)
        r->gaps++;
    s->last = seq;
    r->delivered++;
    s_lag(r, t);
}

/* One stream message reached s: three frames, the topic, the seq as text and the
 * StreamChange. */
static void s_message(s_sub_t *s, const void *topic, size_t tn, const void *seqtext, size_t sn,
                      const void *body, size_t bn)
{
    s_run_t *r = s->run;
    if (tn == 5 && memcmp(topic, "stats", 5) == 0)
        return; /* not an event: takes no part in the gap check */
    char text[32];
    if (sn >= sizeof text)
        sn = 0;
    memcpy(text, seqtext, sn);
    text[sn] = '\0';
    uint64_t seq = strtoull(text, NULL, 10);
    /* Decoded once per change (for its times), not once per subscriber. */
    unsigned slot = (unsigned)(seq & (S_RING - 1));
    if (r->ring[slot].seq != seq) {
        Codispatch__V1__StreamChange *m = codispatch__v1__stream_change__unpack(NULL, bn, body);
        r->ring[slot].seq = seq;
        r->ring[slot].t.at_ms = m ? (double)m->at_ms : 0;
        r->ring[slot].t.committed_ms =
            m && m->has_committed_us ? (double)m->committed_us / 1000.0 : 0;
        if (m)
            codispatch__v1__stream_change__free_unpacked(m, NULL);
    }
    s_change(s, seq, &r->ring[slot].t);
}

/* Drains a libzmq SUB socket; returns the number of messages read. */
static long s_read_sub(s_sub_t *s)
{
    s_run_t *r = s->run;
    long n = 0;
    for (;;) {
        char topic[128], seqtext[32];
        int tn = zmq_recv(s->sock, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (tn < 0) {
            r->now_ms = 0;
            return n;
        }
        /* One clock read per drain (which takes microseconds) rather than per message: the
         * clock was a few per cent of this loop, which shares the cores with the server. */
        if (n++ == 0)
            r->now_ms = bench_wall_ms();
        int sn = zmq_recv(s->sock, seqtext, sizeof seqtext - 1, 0);
        zmq_msg_t body;
        zmq_msg_init(&body);
        zmq_msg_recv(&body, s->sock, 0);
        s_message(s, topic, tn > (int)sizeof topic - 1 ? sizeof topic - 1 : (size_t)tn, seqtext,
                  sn < 0 ? 0 : (size_t)sn, zmq_msg_data(&body), zmq_msg_size(&body));
        zmq_msg_close(&body);
    }
}

static void s_on_zmtp_msg(void *arg, const bench_zmtp_frame_t *f, size_t n)
{
    if (n == 3)
        s_message(arg, f[0].data, f[0].size, f[1].data, f[1].size, f[2].data, f[2].size);
}

/* Reads what a ZMTP subscriber's connection holds (one read, usually). */
static long s_read_zmtp(s_sub_t *s)
{
    if (s->dead)
        return 0;
    s->run->now_ms = bench_wall_ms();
    long n = bench_zmtp_read(s->zmtp, s_on_zmtp_msg, s);
    s->run->now_ms = 0;
    if (n < 0) {
        s->dead = true;
        fprintf(stderr, "bench stream: a ZeroMQ subscriber was disconnected\n");
        return 0;
    }
    return n;
}

static uint64_t s_json_u64(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static void s_on_ws_text(void *arg, const char *text, size_t len)
{
    (void)len;
    s_sub_t *s = arg;
    s_run_t *r = s->run;
    if (strncmp(text, "{\"type\":\"snapshot\"", 18) == 0) {
        uint64_t seq = s_json_u64(text, "\"seq\":");
        if (r->measuring && s->snapshot)
            r->gaps++; /* the server gave up queueing for it and started it over */
        s->snapshot = true;
        if (seq > s->last)
            s->last = seq;
    } else if (strncmp(text, "{\"type\":\"change\"", 16) == 0) {
        s_times_t t = {(double)s_json_u64(text, "\"at_ms\":"),
                       (double)s_json_u64(text, "\"committed_us\":") / 1000.0};
        s_change(s, s_json_u64(text, "\"seq\":"), &t);
    }
}

static long s_read_ws(s_sub_t *s)
{
    if (s->dead)
        return 0;
    int rc = bench_ws_read(s->ws, s_on_ws_text, s);
    if (rc < 0) {
        s->dead = true;
        fprintf(stderr, "bench stream: a WebSocket client was disconnected\n");
        return 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ producers */

typedef struct s_prod {
    void *sock[S_PRODUCERS];
    long sent, replies, errors;
    uint64_t max_seq;
} s_prod_t;

static void s_produce(s_prod_t *p)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    char rid[33];
    bench_fill_call(&cc, (uint64_t)p->sent);
    cdc_request_id(rid);
    env.request_id = rid;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    env.create_call = &cc;
    if (bench_send(p->sock[p->sent % S_PRODUCERS], NULL, &env) != 0)
        p->errors++, p->replies++;
    p->sent++;
}

static void s_read_replies(s_prod_t *p)
{
    for (int i = 0; i < S_PRODUCERS; i++) {
        Codispatch__V1__Envelope *rep;
        while ((rep = bench_recv(p->sock[i]))) {
            p->replies++;
            if (rep->body_case != CODISPATCH__V1__ENVELOPE__BODY_CALL)
                p->errors++;
            else if (rep->seq > p->max_seq)
                p->max_seq = rep->seq;
            cdc_envelope_free(rep);
        }
    }
}

/* ------------------------------------------------------------------ the run */

/* Reads every subscriber once: at the start, when what arrived before the sockets were
 * watched must not wait for an edge that already passed. */
static long s_pass(s_sub_t *subs, long n, s_prod_t *p)
{
    long got = 0;
    for (long i = 0; i < n; i++)
        got += subs[i].sock   ? s_read_sub(&subs[i])
               : subs[i].zmtp ? s_read_zmtp(&subs[i])
                              : s_read_ws(&subs[i]);
    s_read_replies(p);
    return got;
}

/* Drains a SUB socket until ZeroMQ says nothing is left: ZMQ_FD only signals a change, and
 * ZMQ_EVENTS (which processes ZeroMQ's pending commands) is the word on whether to go on. */
static long s_drain_sub(s_sub_t *s)
{
    long n = 0;
    for (;;) {
        n += s_read_sub(s);
        if (!bench_readable(s->sock))
            return n;
    }
}

/* Waits (up to timeout_ms) for subscribers with something to read and reads only those, then
 * the producers' replies.  One epoll set instead of a zmq_poll over every socket per pass:
 * with 1,000 subscribers that scan, and a read of every idle WebSocket, were the largest part
 * of this tool's own CPU, taken from the server it measures on a small machine. */
static long s_wait(int ep, s_prod_t *p, int timeout_ms)
{
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    long got = 0;
    for (int i = 0; i < n; i++) {
        s_sub_t *s = evs[i].data.ptr;
        if (s->sock) {
            got += s_drain_sub(s);
        } else if (s->zmtp) {
            got += s_read_zmtp(s);
            if (s->dead)
                epoll_ctl(ep, EPOLL_CTL_DEL, bench_zmtp_fd(s->zmtp), NULL);
        } else {
            got += s_read_ws(s);
            if (s->dead)
                epoll_ctl(ep, EPOLL_CTL_DEL, bench_ws_fd(s->ws), NULL);
        }
    }
    s_read_replies(p);
    return got;
}

int bench_stream(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {
        CLI_OPT("subscribers"),     CLI_OPT("rate"), CLI_OPT("seconds"), CLI_OPT("ws"),
        CLI_OPT("stream-endpoint"), CLI_OPT("http"), CLI_FLAG("libzmq"), CLI_OPT("ramp")};
    size_t npos = 0;
    long nsubs, rate, seconds, nws, ramp;
    int rc = cli_parse(argc, argv, o, CLI_N(o), NULL, 0, &npos, USAGE);
    if (rc != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "subscribers", 100, 1, 10000, &nsubs, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "rate", 100, 1, 100000, &rate, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "seconds", 10, 1, 3600, &seconds, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "ramp", 1, 0, 600, &ramp, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "ws", nsubs / 10, 0, nsubs, &nws, USAGE)) != CLI_OK)
        return rc;
    char stream_ep[256] = "", http[256] = "";
    if (cli_val(o, CLI_N(o), "stream-endpoint"))
        snprintf(stream_ep, sizeof stream_ep, "%s", cli_val(o, CLI_N(o), "stream-endpoint"));
    if (cli_val(o, CLI_N(o), "http"))
        snprintf(http, sizeof http, "%s", cli_val(o, CLI_N(o), "http"));
    if ((rc = bench_endpoints(cli, NULL, stream_ep, http, sizeof stream_ep)) != CLI_OK)
        return rc;
    long nofile = bench_raise_nofile();
    if (nofile > 0 && nofile < nsubs + 64) {
        fprintf(stderr,
                "codispatch: %ld subscribers need more open files than the limit "
                "(%ld); raise it (ulimit -n)\n",
                nsubs, nofile);
        return CLI_USAGE;
    }

    s_run_t *r = calloc(1, sizeof *r);
    s_hist_t *hists[] = {&r->lag, &r->event_lag, &r->ramp_lag, &r->second};
    for (size_t i = 0; i < sizeof hists / sizeof *hists; i++)
        hists[i]->bins = calloc(S_BINS, sizeof *hists[i]->bins);
    s_sub_t *subs = calloc((size_t)nsubs, sizeof *subs);
    s_prod_t prod = {0};
    void *ctx = bench_zmq_ctx((int)nsubs + 64);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    long nzmq = nsubs - nws;
    bool libzmq = cli_flag(o, CLI_N(o), "libzmq");
    fprintf(stderr, "bench stream: %ld ZeroMQ subscribers (%s) on %s, %ld WebSocket on %s\n", nzmq,
            libzmq ? "libzmq" : "ZMTP", stream_ep, nws, http);
    for (long i = 0; i < nsubs; i++) {
        s_sub_t *s = &subs[i];
        s->run = r;
        char err[256];
        if (i < nzmq && !libzmq) {
            if (!(s->zmtp = bench_zmtp_connect(stream_ep, "SUB", 5000, err, sizeof err))) {
                fprintf(stderr, "codispatch: subscriber %ld: %s\n", i, err);
                rc = CLI_UNREACHABLE;
                goto done;
            }
        } else if (i < nzmq) {
            int hwm = 100000, linger = 0;
            s->sock = zmq_socket(ctx, ZMQ_SUB);
            zmq_setsockopt(s->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
            zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof linger);
            zmq_setsockopt(s->sock, ZMQ_SUBSCRIBE, "", 0);
            if (zmq_connect(s->sock, stream_ep) != 0) {
                fprintf(stderr, "codispatch: cannot connect to %s (%s)\n", stream_ep,
                        zmq_strerror(zmq_errno()));
                rc = CLI_USAGE;
                goto done;
            }
        } else {
            if (!(s->ws = bench_ws_connect(http, "/ws"))) {
                fprintf(stderr, "codispatch: cannot open a WebSocket to %s/ws\n", http);
                rc = CLI_UNREACHABLE;
                goto done;
            }
        }
        int fd = s->sock ? -1 : s->zmtp ? bench_zmtp_fd(s->zmtp) : bench_ws_fd(s->ws);
        if (bench_watch(ep, s->sock, fd, s) != 0) {
            fprintf(stderr, "codispatch: cannot watch subscriber %ld (%s)\n", i, strerror(errno));
            rc = CLI_USAGE;
            goto done;
        }
    }
    for (int i = 0; i < S_PRODUCERS; i++) {
        if (!(prod.sock[i] = bench_dealer(ctx, cli->server))) {
            rc = CLI_USAGE;
            goto done;
        }
    }
    s_pass(subs, nsubs, &prod);

    /* Warm-up: a change every 100 ms until every subscriber has seen one (subscriptions
     * travel to the server asynchronously). */
    double t0 = bench_mono_ms(), last_send = 0, last_progress = t0;
    for (;;) {
        double now = bench_mono_ms();
        long warm = 0;
        for (long i = 0; i < nsubs; i++)
            warm += subs[i].warm;
        if (warm == nsubs && prod.replies == prod.sent)
            break;
        if (now - t0 > 30000 + cli->timeout_ms) {
            fprintf(stderr,
                    "codispatch: only %ld of %ld subscribers received anything within "
                    "30 s\n",
                    warm, nsubs);
            rc = CLI_UNREACHABLE;
            goto done;
        }
        if (now - last_send >= 100 && warm < nsubs) {
            s_produce(&prod);
            last_send = now;
        }
        if (now - last_progress >= 1000) {
            last_progress = now;
            fprintf(stderr, "bench stream: warming up, %ld/%ld subscribers live\n", warm, nsubs);
        }
        s_wait(ep, &prod, 5);
    }
    if (prod.errors) {
        fprintf(stderr, "codispatch: the server refused the warm-up calls\n");
        rc = CLI_REFUSED;
        goto done;
    }
    r->start_seq = prod.max_seq;
    for (long i = 0; i < nsubs; i++)
        if (subs[i].last < r->start_seq)
            subs[i].last = r->start_seq;
    r->measuring = true;
    r->ramp = ramp > 0;
    long warm_sent = prod.sent;
    prod.errors = 0;

    /* R changes a second for W + T seconds, the lag of the first W apart; then wait (up to
     * 10 s) for every subscriber to have everything that was committed. */
    double start = bench_mono_ms(), ramp_end = start + (double)ramp * 1000.0;
    double produce_end = ramp_end + (double)seconds * 1000.0;
    last_progress = start;
    uint64_t end_seq = 0;
    for (;;) {
        double now = bench_mono_ms();
        if (r->ramp && now >= ramp_end)
            r->ramp = false;
        if (now < produce_end) {
            long due = warm_sent + (long)((now - start) * (double)rate / 1000.0);
            while (prod.sent < due)
                s_produce(&prod);
        } else if (prod.replies == prod.sent) {
            if (!end_seq)
                end_seq = prod.max_seq;
            bool all = true;
            for (long i = 0; i < nsubs && all; i++)
                all = subs[i].dead || subs[i].last >= end_seq;
            if (all || now - produce_end > 10000)
                break;
        } else if (now - produce_end > cli->timeout_ms + 10000.0) {
            break;
        }
        if (now - last_progress >= 1000) {
            last_progress = now;
            double p99, max;
            s_second_lag(r, &p99, &max);
            fprintf(stderr,
                    "bench stream: %ld changes sent, %ld deliveries, %ld gaps; lag in the last "
                    "second p99 %.2f ms, max %.2f ms\n",
                    prod.sent - warm_sent, r->delivered, r->gaps, p99, max);
        }
        s_wait(ep, &prod, 1);
    }
    if (!end_seq)
        end_seq = prod.max_seq;
    long changes = (long)(end_seq - r->start_seq);
    long expected = changes * nsubs;

    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "subscribers", (double)nsubs);
    cJSON_AddNumberToObject(out, "zmq_subscribers", (double)nzmq);
    cJSON_AddNumberToObject(out, "ws_subscribers", (double)nws);
    cJSON_AddNumberToObject(out, "rate", (double)rate);
    cJSON_AddNumberToObject(out, "seconds", (double)seconds);
    cJSON_AddNumberToObject(out, "ramp_seconds", (double)ramp);
    cJSON_AddNumberToObject(out, "changes", (double)changes);
    cJSON_AddNumberToObject(out, "expected", (double)expected);
    cJSON_AddNumberToObject(out, "delivered", (double)r->delivered);
    cJSON_AddNumberToObject(out, "missed", (double)(expected - r->delivered));
    cJSON_AddNumberToObject(out, "gaps", (double)r->gaps);
    if (r->lag.n)
        cJSON_AddStringToObject(out, "lag_from", r->unstamped ? "at_ms" : "committed_us");
    else
        cJSON_AddNullToObject(out, "lag_from"); /* nothing was delivered */
    cJSON_AddNumberToObject(out, "lag_p50_ms", s_quantile(&r->lag, 0.50));
    cJSON_AddNumberToObject(out, "lag_p99_ms", s_quantile(&r->lag, 0.99));
    cJSON_AddNumberToObject(out, "lag_max_ms", r->lag.max);
    cJSON_AddNumberToObject(out, "event_lag_p50_ms", s_quantile(&r->event_lag, 0.50));
    cJSON_AddNumberToObject(out, "event_lag_p99_ms", s_quantile(&r->event_lag, 0.99));
    cJSON_AddNumberToObject(out, "event_lag_max_ms", r->event_lag.max);
    cJSON_AddNumberToObject(out, "ramp_lag_p50_ms", s_quantile(&r->ramp_lag, 0.50));
    cJSON_AddNumberToObject(out, "ramp_lag_p99_ms", s_quantile(&r->ramp_lag, 0.99));
    cJSON_AddNumberToObject(out, "ramp_lag_max_ms", r->ramp_lag.max);
    cJSON_AddNumberToObject(out, "errors", (double)prod.errors);
    cli_print_json(out);
    rc = prod.errors ? CLI_REFUSED : CLI_OK;
done:
    for (long i = 0; i < nsubs; i++) {
        if (subs[i].sock)
            zmq_close(subs[i].sock);
        bench_zmtp_destroy(&subs[i].zmtp);
        bench_ws_destroy(&subs[i].ws);
    }
    for (int i = 0; i < S_PRODUCERS; i++)
        if (prod.sock[i])
            zmq_close(prod.sock[i]);
    zmq_ctx_term(ctx);
    if (ep >= 0)
        close(ep);
    free(subs);
    for (size_t i = 0; i < sizeof hists / sizeof *hists; i++)
        free(hists[i]->bins);
    free(r);
    return rc;
}
