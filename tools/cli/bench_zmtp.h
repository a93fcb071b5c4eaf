/*  bench_zmtp.h — a minimal ZeroMQ peer for the bench (see bench_zmtp.c): ZMTP 3.0 over TCP
 *  with the NULL mechanism, as a SUB (subscribed to every topic) or a DEALER.
 */
#ifndef BENCH_ZMTP_H
#define BENCH_ZMTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_zmtp bench_zmtp_t;

/* One frame of a received message; data points into the connection's buffer. */
typedef struct bench_zmtp_frame {
    const uint8_t *data;
    size_t size;
} bench_zmtp_frame_t;

/* The most frames a message may have; a message with more is a protocol error here. */
#define BENCH_ZMTP_MAX_FRAMES 4

/* A blocking TCP connection to "HOST:PORT" (a name, or an IPv4 or [IPv6] literal): the socket,
 * or -1 with err filled.  The WebSocket clients (bench_ws.c) dial with it too. */
int bench_tcp_connect(const char *hostport, char *err, size_t errlen);

/* Connects to endpoint ("tcp://HOST:PORT") and completes the handshake as socket_type ("SUB"
 * or "DEALER"); a SUB then subscribes to every topic.  Blocking, each step bounded by
 * timeout_ms (meant for loopback, at set-up).  NULL, having written why into err, when the
 * server cannot be reached or refuses (for example because it requires CURVE). */
bench_zmtp_t *bench_zmtp_connect(const char *endpoint, const char *socket_type, int timeout_ms,
                                 char *err, size_t errlen);
int bench_zmtp_fd(const bench_zmtp_t *z);

/* Called once per complete message with its frames (valid during the call only). */
typedef void bench_zmtp_msg_fn(void *arg, const bench_zmtp_frame_t *frames, size_t n);

/* Reads what is there (non-blocking) and calls cb per complete message.  The number of
 * messages, 0 when none was complete, -1 when the connection ended or broke the protocol. */
long bench_zmtp_read(bench_zmtp_t *z, bench_zmtp_msg_fn *cb, void *arg);

/* Sends one single-frame message; 0 or -1 (the connection is then unusable). */
int bench_zmtp_send(bench_zmtp_t *z, const void *data, size_t len);

void bench_zmtp_destroy(bench_zmtp_t **z_p);

#endif
