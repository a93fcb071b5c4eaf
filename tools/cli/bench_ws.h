/*  bench_ws.h — a minimal WebSocket client for `bench stream` (see bench_ws.c). */
#ifndef BENCH_WS_H
#define BENCH_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_ws bench_ws_t;

/* One complete text message (NUL-terminated; valid during the call). */
typedef void bench_ws_text_fn(void *arg, const char *text, size_t len);

/* Connects to "HOST:PORT" (bench_tcp_connect) and sends the upgrade request for path;
 * blocking, for loopback.  NULL on failure. */
bench_ws_t *bench_ws_connect(const char *hostport, const char *path);
int bench_ws_fd(const bench_ws_t *ws);
/* Reads what is there (non-blocking) and calls cb per message.  1 when something was read,
 * 0 when nothing was there, -1 when the connection ended or the server broke the protocol. */
int bench_ws_read(bench_ws_t *ws, bench_ws_text_fn *cb, void *arg);
void bench_ws_destroy(bench_ws_t **ws_p);

#endif
