/*  bench.c — `codispatch bench`: the subcommand table and what the three modes share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include <zmq.h>

#include "bench.h"
#include "bench_zmtp.h"

static const char *const USAGE =
    "codispatch bench intake --clients C --calls N\n"
    "       codispatch bench lifecycle --units U --calls N --clients C\n"
    "       codispatch bench stream --subscribers S --rate R --seconds T [--ramp W] [--ws N]\n"
    "       codispatch bench rtt [--count N]";

int cmd_bench(const cli_t *cli, int argc, char **argv)
{
    static const cli_subcommand_t modes[] = {{"intake", bench_intake},
                                             {"lifecycle", bench_lifecycle},
                                             {"stream", bench_stream},
                                             {"rtt", bench_rtt}};
    return cli_run_subcommand(cli, argc, argv, "bench", "mode", modes, CLI_N(modes), USAGE);
}

double bench_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bench_lat_add(bench_lat_t *l, double ms)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        double *v = realloc(l->v, l->cap * sizeof *v);
        if (!v) {
            fputs("codispatch: out of memory\n", stderr);
            exit(CLI_UNREACHABLE);
        }
        l->v = v;
    }
    l->v[l->n++] = ms;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_lat_quantile(bench_lat_t *l, double q)
{
    if (l->n == 0)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, s_cmp_double);
    size_t rank = (size_t)(q * (double)l->n + 0.999999); /* nearest rank, 1-based */
    if (rank < 1)
        rank = 1;
    if (rank > l->n)
        rank = l->n;
    return l->v[rank - 1];
}

void bench_lat_free(bench_lat_t *l)
{
    free(l->v);
    memset(l, 0, sizeof *l);
}

void *bench_zmq_ctx(int max_sockets)
{
    void *ctx = zmq_ctx_new();
    if (ctx && max_sockets > 1000)
        zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, max_sockets);
    /* Hundreds of sockets in one process: one I/O thread reading them all was the bench's
     * own bottleneck (1,000 subscribers x 1,000 changes/s: lag p99 48-63 ms with one thread,
     * 41-48 ms with two, same server), and the figure is meant to measure the server. */
    if (ctx && max_sockets > 256)
        zmq_ctx_set(ctx, ZMQ_IO_THREADS, 2);
    return ctx;
}

void *bench_dealer(void *ctx, const char *endpoint)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    if (!s) {
        fprintf(stderr, "codispatch: cannot make a socket (%s)\n", zmq_strerror(zmq_errno()));
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, endpoint) != 0) {
        fprintf(stderr, "codispatch: cannot connect to '%s' (%s)\n", endpoint,
                zmq_strerror(zmq_errno()));
        zmq_close(s);
        return NULL;
    }
    return s;
}

int bench_send(void *sock, bench_zmtp_t *zmtp, Codispatch__V1__Envelope *env)
{
    env->has_version = true;
    env->version = CDC_PROTOCOL_VERSION;
    uint8_t stackbuf[1024];
    size_t len = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = len <= sizeof stackbuf ? stackbuf : malloc(len);
    if (!buf)
        return -1;
    codispatch__v1__envelope__pack(env, buf);
    int rc = zmtp ? bench_zmtp_send(zmtp, buf, len)
                  : (zmq_send(sock, buf, len, ZMQ_DONTWAIT) == (int)len ? 0 : -1);
    if (buf != stackbuf)
        free(buf);
    return rc;
}

Codispatch__V1__Envelope *bench_recv(void *sock)
{
    Codispatch__V1__Envelope *env = NULL;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return env;
        }
        bool more = zmq_msg_more(&m);
        if (zmq_msg_size(&m) > 0) {
            if (env)
                cdc_envelope_free(env);
            env = codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        }
        zmq_msg_close(&m);
        if (!more)
            return env;
    }
}

int bench_watch(int epoll_fd, void *sock, int fd, void *ptr)
{
    size_t sz = sizeof fd;
    if (sock && zmq_getsockopt(sock, ZMQ_FD, &fd, &sz) != 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ptr};
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

bool bench_readable(void *sock)
{
    int ev = 0;
    size_t sz = sizeof ev;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN);
}

void bench_fill_call(Codispatch__V1__CreateCall *c, uint64_t n)
{
    static const char *const types[] = {"mental_health", "suicide_risk",      "substance",
                                        "welfare_check", "homeless_outreach", "medical",
                                        "other"};
    static const char *const areas[] = {"SPA 1", "SPA 2", "SPA 3", "SPA 4",
                                        "SPA 5", "SPA 6", "SPA 7", "SPA 8"};
    static const char *const langs[] = {"en", "es", "ko", "hy", "zh-Hant", "en", "en", "vi"};
    uint64_t h = n * 0x9E3779B97F4A7C15ull;
    c->type = (char *)types[n % (sizeof types / sizeof *types)];
    c->has_priority = true;
    c->priority = 3 + (uint32_t)(h >> 63);
    c->has_lat = c->has_lon = true;
    c->lat = 33.7 + (double)((h >> 8) % 10000) / 10000.0 * 0.8;
    c->lon = -118.7 + (double)((h >> 24) % 10000) / 10000.0 * 0.8;
    c->area = (char *)areas[(h >> 40) % 8];
    c->language = (char *)langs[(h >> 44) % 8];
    c->summary = "bench: caller in distress";
}

int bench_endpoints(const cli_t *cli, char *units, char *stream, char *http, size_t cap)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &st;
    Codispatch__V1__Envelope *reply;
    int rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY, &reply);
    if (rc != CLI_OK)
        return rc;
    const Codispatch__V1__StatusReply *s = reply->status_reply;
    if (units && !*units && s->units_endpoint)
        snprintf(units, cap, "%s", s->units_endpoint);
    if (stream && !*stream && s->stream_endpoint)
        snprintf(stream, cap, "%s", s->stream_endpoint);
    if (http && !*http && s->http_address)
        snprintf(http, cap, "%s", s->http_address);
    cdc_envelope_free(reply);
    return CLI_OK;
}

int bench_long_opt(const cli_opt_t *opts, size_t n, const char *name, long def, long lo, long hi,
                   long *out, const char *usage)
{
    const char *v = cli_val(opts, n, name);
    if (!v) {
        *out = def;
        return CLI_OK;
    }
    if (!cli_parse_long(v, out) || *out < lo || *out > hi)
        return cli_usage_error(usage, "--%s must be a whole number from %ld to %ld; got '%s'", name,
                               lo, hi, v);
    return CLI_OK;
}

long bench_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    return (long)rl.rlim_cur;
}
