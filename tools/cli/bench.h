/*  bench.h — `codispatch bench intake | lifecycle | stream`: load generators that measure a
 *  running server.  Results are one JSON object on stdout; progress goes to stderr.
 *
 *  Every client is the bench's own ZMTP peer (bench_zmtp.c; a libzmq DEALER or SUB with
 *  --libzmq), a cdc_tablet for the units socket, or a minimal WebSocket client, driven from one
 *  loop on one thread (epoll or zmq_poll), in a closed loop with one request outstanding per
 *  client unless a mode says otherwise.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

int bench_intake(const cli_t *cli, int argc, char **argv);
int bench_lifecycle(const cli_t *cli, int argc, char **argv);
int bench_stream(const cli_t *cli, int argc, char **argv);
int bench_rtt(const cli_t *cli, int argc, char **argv);

/* Clocks: monotonic for durations, realtime (the server's event clock) for stream lag. */
double bench_mono_ms(void);
double bench_wall_ms(void);

/* A growing list of latencies in milliseconds. */
typedef struct bench_lat {
    double *v;
    size_t n, cap;
} bench_lat_t;

void bench_lat_add(bench_lat_t *l, double ms);
/* The q-quantile (0..1) by the nearest-rank method; sorts l.  0 when empty. */
double bench_lat_quantile(bench_lat_t *l, double q);
void bench_lat_free(bench_lat_t *l);

/* A ZeroMQ context that allows many sockets (1000 subscribers need more than the default
 * 1023 once tablets and producers join). */
void *bench_zmq_ctx(int max_sockets);

/* A DEALER connected to endpoint, with linger 0.  NULL (having printed why) on failure. */
void *bench_dealer(void *ctx, const char *endpoint);

typedef struct bench_zmtp bench_zmtp_t;

/* Packs env (version 1, request_id as given) and sends it as one frame, on the libzmq socket
 * sock or (when non-NULL) the ZMTP connection zmtp.  0 or -1. */
int bench_send(void *sock, bench_zmtp_t *zmtp, Codispatch__V1__Envelope *env);
/* Receives one envelope (the last frame of a message, skipping an empty delimiter); NULL when
 * nothing is there (non-blocking) or it does not decode. */
Codispatch__V1__Envelope *bench_recv(void *sock);

/* Watching many sockets with one epoll set (instead of a zmq_poll over all of them each
 * pass, whose cost grows with their number and is taken from the server on a small machine):
 * bench_watch adds a ZeroMQ socket's ZMQ_FD (sock non-NULL) or a plain fd, with ptr as the
 * event's data.ptr; 0 or -1.  ZMQ_FD only signals that something may have changed: read the
 * socket until bench_readable (ZMQ_EVENTS, which also runs ZeroMQ's pending commands) says it
 * is empty, also after sending on it; and look once before the first wait, since the fd
 * signals a new message only after a read found the socket empty. */
int bench_watch(int epoll_fd, void *sock, int fd, void *ptr);
bool bench_readable(void *sock);

/* Fills a CreateCall spread over call types, areas and positions (priorities 3 and 4, which
 * the seeded plans do not auto-dispatch).  n: any counter, picks the variety. */
void bench_fill_call(Codispatch__V1__CreateCall *c, uint64_t n);

/* The server's endpoints from a StatusRequest.  Each is copied into the given buffer when the
 * server names one (and the buffer is empty).  Returns CLI_OK or a CLI_ error code. */
int bench_endpoints(const cli_t *cli, char *units, char *stream, char *http, size_t cap);

/* Parses --name as a whole number in [lo, hi] (def when absent). */
int bench_long_opt(const cli_opt_t *opts, size_t n, const char *name, long def, long lo, long hi,
                   long *out, const char *usage);

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the new soft limit. */
long bench_raise_nofile(void);

#endif
