/*  bench_ws.c — the smallest WebSocket client that `bench stream` needs: connect, upgrade,
 *  read text messages.  libwebsockets' client wants its own event loop and a context per
 *  process; `bench stream` keeps hundreds of these in the same epoll set as its ZeroMQ
 *  subscribers, so this reads the frames itself (RFC 6455: a server's frames are not masked;
 *  this client sends nothing after the upgrade but a masked pong to a ping).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_ws.h"
#include "bench_zmtp.h" /* bench_tcp_connect */

struct bench_ws {
    int fd;
    bool upgraded;
    char *buf; /* bytes received and not yet consumed */
    size_t len, cap;
    char *msg; /* a fragmented message being put together */
    size_t msg_len;
};

bench_ws_t *bench_ws_connect(const char *hostport, const char *path)
{
    char err[256];
    int fd = bench_tcp_connect(hostport, err, sizeof err);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     path, hostport);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    bench_ws_t *ws = calloc(1, sizeof *ws);
    ws->fd = fd;
    return ws;
}

int bench_ws_fd(const bench_ws_t *ws)
{
    return ws->fd;
}

void bench_ws_destroy(bench_ws_t **ws_p)
{
    if (!ws_p || !*ws_p)
        return;
    bench_ws_t *ws = *ws_p;
    close(ws->fd);
    free(ws->buf);
    free(ws->msg);
    free(ws);
    *ws_p = NULL;
}

static void s_pong(bench_ws_t *ws, const uint8_t *payload, size_t n)
{
    uint8_t f[2 + 4 + 125];
    if (n > 125)
        n = 125;
    f[0] = 0x8A; /* FIN, pong */
    f[1] = (uint8_t)(0x80 | n);
    memset(f + 2, 0, 4); /* a zero mask: the payload goes as it is */
    memcpy(f + 6, payload, n);
    if (write(ws->fd, f, 6 + n) < 0) { /* nothing to do: the next read sees the error */
    }
}

/* Consumes complete frames from buf; returns -1 on a close frame or a protocol error. */
static int s_frames(bench_ws_t *ws, bench_ws_text_fn *cb, void *arg)
{
    size_t off = 0;
    int rc = 0;
    while (ws->len - off >= 2) {
        const uint8_t *p = (const uint8_t *)ws->buf + off;
        size_t avail = ws->len - off, hdr = 2;
        uint64_t plen = p[1] & 0x7f;
        if (p[1] & 0x80) {
            rc = -1; /* a server must not mask */
            break;
        }
        if (plen == 126) {
            if (avail < 4)
                break;
            plen = (uint64_t)p[2] << 8 | p[3];
            hdr = 4;
        } else if (plen == 127) {
            if (avail < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | p[2 + i];
            hdr = 10;
        }
        if (plen > (64u << 20)) {
            rc = -1;
            break;
        }
        if (avail < hdr + plen)
            break;
        int opcode = p[0] & 0x0f;
        bool fin = p[0] & 0x80;
        const uint8_t *payload = p + hdr;
        off += hdr + (size_t)plen;
        if (opcode == 0x8) {
            rc = -1;
            break;
        } else if (opcode == 0x9) {
            s_pong(ws, payload, (size_t)plen);
        } else if (opcode == 0x1 || opcode == 0x0) {
            if (fin && opcode == 0x1 && !ws->msg) {
                /* the usual case: one frame, handed over in place, NUL-terminated for the
                 * call (buf always has a byte to spare past len) */
                char *text = (char *)payload, saved = text[plen];
                text[plen] = '\0';
                cb(arg, text, (size_t)plen);
                text[plen] = saved;
            } else {
                ws->msg = realloc(ws->msg, ws->msg_len + (size_t)plen + 1);
                memcpy(ws->msg + ws->msg_len, payload, (size_t)plen);
                ws->msg_len += (size_t)plen;
                ws->msg[ws->msg_len] = '\0';
                if (fin) {
                    cb(arg, ws->msg, ws->msg_len);
                    free(ws->msg);
                    ws->msg = NULL;
                    ws->msg_len = 0;
                }
            }
        }
    }
    memmove(ws->buf, ws->buf + off, ws->len - off);
    ws->len -= off;
    return rc;
}

int bench_ws_read(bench_ws_t *ws, bench_ws_text_fn *cb, void *arg)
{
    int got = 0;
    for (;;) {
        if (ws->cap - ws->len < 65536) {
            ws->cap = ws->cap ? ws->cap * 2 : 131072;
            ws->buf = realloc(ws->buf, ws->cap);
        }
        ssize_t n = read(ws->fd, ws->buf + ws->len, ws->cap - ws->len - 1);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK ? got : -1;
        got = 1;
        ws->len += (size_t)n;
        if (!ws->upgraded) {
            ws->buf[ws->len] = '\0';
            char *end = strstr(ws->buf, "\r\n\r\n");
            if (!end)
                continue;
            if (strncmp(ws->buf, "HTTP/1.1 101", 12) != 0) {
                /* Say why once per client: "HTTP/1.0 503 ..." is the server's --max-ws. */
                size_t line = strcspn(ws->buf, "\r\n");
                fprintf(stderr, "bench: WebSocket refused: %.*s%s\n", (int)(line < 80 ? line : 80),
                        ws->buf,
                        strstr(ws->buf, " 503") == ws->buf + 8
                            ? " (more WebSocket clients than the server's --max-ws)"
                            : "");
                return -1;
            }
            size_t hl = (size_t)(end + 4 - ws->buf);
            memmove(ws->buf, ws->buf + hl, ws->len - hl);
            ws->len -= hl;
            ws->upgraded = true;
        }
        if (s_frames(ws, cb, arg) != 0)
            return -1;
    }
}
