/*  bench_zmtp.c — the smallest ZeroMQ peer the bench needs (ZMTP 3.0, RFC 23, NULL mechanism,
 *  over TCP), so that the load generator costs the shared machine as little as possible.
 *
 *  Why not libzmq here: `bench stream` runs 1,000 subscribers in one process on the same two
 *  cores as the server it measures.  Through libzmq each received message crosses a thread
 *  (the I/O thread decodes it into a pipe and wakes the application thread through a mailbox),
 *  and that per-socket machinery cost the bench about as much CPU as the server itself; the
 *  lag it measured was largely the two fighting over the cores.  This peer reads its TCP
 *  connection straight into a buffer and splits frames in place: one read gives every message
 *  waiting.  The server cannot tell it from a libzmq SUB or DEALER — it runs exactly the same
 *  code for it — and `bench stream --libzmq` still measures with libzmq's sockets.
 *
 *  Not a general ZeroMQ implementation: no CURVE (the bench needs a server with security
 *  off, as its libzmq sockets always did), no reconnection, and the handshake blocks (loopback,
 *  at set-up).  It answers PING so that a server with heartbeats keeps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench_zmtp.h"

#define S_GREETING  64
#define S_FLAG_MORE 0x01
#define S_FLAG_LONG 0x02
#define S_FLAG_CMD  0x04
#define S_BUF_START (64 * 1024)
#define S_BUF_MAX   (64 * 1024 * 1024) /* a frame over half of it is a protocol error here */

struct bench_zmtp {
    int fd;
    uint8_t *buf; /* bytes received and not yet consumed: buf[0..len) */
    size_t len, cap;
};

static uint64_t s_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Writes all of data (blocking for at most timeout_ms per wait); 0 or -1. */
static int s_write_all(int fd, const void *data, size_t len, int timeout_ms)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n, len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, timeout_ms) == 1)
                continue;
        }
        return -1;
    }
    return 0;
}

/* Reads exactly len bytes, each wait bounded by timeout_ms; 0 or -1. */
static int s_read_exact(int fd, uint8_t *out, size_t len, int timeout_ms)
{
    while (len > 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) != 1)
            return -1;
        ssize_t n = recv(fd, out, len, 0);
        if (n <= 0 && !(n < 0 && errno == EINTR))
            return -1;
        if (n > 0)
            out += n, len -= (size_t)n;
    }
    return 0;
}

/* Writes a frame's header (flags and a 1- or 8-byte size) into hdr; its length. */
static size_t s_header(uint8_t *hdr, uint8_t flags, size_t size)
{
    if (size <= 255) {
        hdr[0] = flags;
        hdr[1] = (uint8_t)size;
        return 2;
    }
    hdr[0] = flags | S_FLAG_LONG;
    for (int i = 0; i < 8; i++)
        hdr[1 + i] = (uint8_t)((uint64_t)size >> (56 - 8 * i));
    return 9;
}

/* Reads one whole frame during the handshake (small: commands); its body length or -1. */
static long s_read_frame(int fd, uint8_t *flags, uint8_t *body, size_t cap, int timeout_ms)
{
    uint8_t hdr[9];
    if (s_read_exact(fd, hdr, 2, timeout_ms) != 0)
        return -1;
    uint64_t size = hdr[1];
    if (hdr[0] & S_FLAG_LONG) {
        if (s_read_exact(fd, hdr + 2, 7, timeout_ms) != 0)
            return -1;
        size = s_be64(hdr + 1);
    }
    if (size > cap || s_read_exact(fd, body, (size_t)size, timeout_ms) != 0)
        return -1;
    *flags = hdr[0];
    return (long)size;
}

int bench_tcp_connect(const char *hp, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof host) {
        snprintf(err, errlen, "'%s' is not HOST:PORT", hp);
        return -1;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* tcp://[::1]:PORT */
        memmove(host, host + 1, strlen(host) - 2);
        host[strlen(host) - 2] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &ai);
    if (gai != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0)
        snprintf(err, errlen, "cannot connect to %s: %s", hp, strerror(errno));
    return fd;
}

static int s_connect_tcp(const char *endpoint, char *err, size_t errlen)
{
    if (strncmp(endpoint, "tcp://", 6) != 0 || !strchr(endpoint + 6, ':')) {
        snprintf(err, errlen, "'%s' is not a tcp://HOST:PORT endpoint", endpoint);
        return -1;
    }
    return bench_tcp_connect(endpoint + 6, err, errlen);
}

/* Greeting, READY both ways, and a SUB's subscription to everything. */
static int s_handshake(int fd, const char *socket_type, int timeout_ms, char *err, size_t errlen)
{
    uint8_t greeting[S_GREETING] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0, 'N', 'U', 'L', 'L'};
    uint8_t peer[S_GREETING];
    if (s_write_all(fd, greeting, sizeof greeting, timeout_ms) != 0 ||
        s_read_exact(fd, peer, sizeof peer, timeout_ms) != 0) {
        /* libzmq hangs up at once on a mechanism it was not set up for. */
        snprintf(err, errlen,
                 "the server ended (or did not answer) the ZMTP greeting: the bench needs a "
                 "server with security off (the NULL mechanism)");
        return -1;
    }
    if (peer[0] != 0xFF || peer[9] != 0x7F || peer[10] < 3 || memcmp(peer + 12, "NULL", 5) != 0) {
        snprintf(err, errlen,
                 "the server does not offer ZMTP 3 with the NULL mechanism: the bench needs a "
                 "server with security off");
        return -1;
    }
    /* READY: the command name, then one property, Socket-Type. */
    size_t tlen = strlen(socket_type);
    uint8_t body[64], frame[80];
    if (tlen > 16) { /* "SUB", "DEALER": the READY command fits body with room to spare */
        snprintf(err, errlen, "'%.32s' is not a ZeroMQ socket type", socket_type);
        return -1;
    }
    size_t n = 0;
    body[n++] = 5;
    memcpy(body + n, "READY", 5), n += 5;
    body[n++] = 11;
    memcpy(body + n, "Socket-Type", 11), n += 11;
    body[n++] = 0, body[n++] = 0, body[n++] = 0, body[n++] = (uint8_t)tlen;
    memcpy(body + n, socket_type, tlen), n += tlen;
    size_t h = s_header(frame, S_FLAG_CMD, n);
    memcpy(frame + h, body, n);
    if (s_write_all(fd, frame, h + n, timeout_ms) != 0) {
        snprintf(err, errlen, "the server closed the connection during the handshake");
        return -1;
    }
    uint8_t flags, reply[512];
    long rn = s_read_frame(fd, &flags, reply, sizeof reply, timeout_ms);
    if (rn < 6 || !(flags & S_FLAG_CMD) || memcmp(reply, "\x05READY", 6) != 0) {
        snprintf(err, errlen, "the server refused the ZMTP handshake");
        return -1;
    }
    /* A subscription is a message: 1, then the topic prefix (empty: every topic). */
    if (strcmp(socket_type, "SUB") == 0) {
        static const uint8_t sub[3] = {0, 1, 1};
        if (s_write_all(fd, sub, sizeof sub, timeout_ms) != 0) {
            snprintf(err, errlen, "the server closed the connection after the handshake");
            return -1;
        }
    }
    return 0;
}

bench_zmtp_t *bench_zmtp_connect(const char *endpoint, const char *socket_type, int timeout_ms,
                                 char *err, size_t errlen)
{
    int fd = s_connect_tcp(endpoint, err, errlen);
    if (fd < 0)
        return NULL;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (s_handshake(fd, socket_type, timeout_ms, err, errlen) != 0) {
        close(fd);
        return NULL;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    bench_zmtp_t *z = calloc(1, sizeof *z);
    uint8_t *buf = malloc(S_BUF_START);
    if (!z || !buf) {
        free(buf);
        free(z);
        close(fd);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    z->fd = fd;
    z->buf = buf;
    z->cap = S_BUF_START;
    return z;
}

int bench_zmtp_fd(const bench_zmtp_t *z)
{
    return z->fd;
}

/* A command between messages: PING gets its PONG (same context), the rest is ignored. */
static int s_command(bench_zmtp_t *z, const uint8_t *body, size_t size)
{
    if (size < 7 || memcmp(body, "\x04PING", 5) != 0)
        return 0;
    size_t ctx = size - 7 > 16 ? 16 : size - 7; /* after the 2-byte TTL */
    uint8_t frame[2 + 5 + 16];
    size_t h = s_header(frame, S_FLAG_CMD, 5 + ctx);
    memcpy(frame + h, "\x04PONG", 5);
    memcpy(frame + h + 5, body + 7, ctx);
    return s_write_all(z->fd, frame, h + 5 + ctx, 1000);
}

/* Splits buf[0..len) into messages; returns how many were handed to cb and leaves an
 * incomplete one at the front of the buffer, or -1 on a protocol error. */
static long s_split(bench_zmtp_t *z, bench_zmtp_msg_fn *cb, void *arg)
{
    size_t pos = 0;
    long msgs = 0;
    for (;;) {
        bench_zmtp_frame_t frames[BENCH_ZMTP_MAX_FRAMES];
        size_t nf = 0, at = pos;
        bool complete = false, cmd = false;
        while (!complete) {
            if (z->len - at < 2)
                break;
            uint8_t flags = z->buf[at];
            size_t hdr = flags & S_FLAG_LONG ? 9 : 2;
            if (z->len - at < hdr)
                break;
            uint64_t size = flags & S_FLAG_LONG ? s_be64(z->buf + at + 1) : z->buf[at + 1];
            if (size > S_BUF_MAX / 2)
                return -1;
            if (z->len - at - hdr < size)
                break; /* the rest is still on its way (bench_zmtp_read makes room) */
            if (flags & S_FLAG_CMD) {
                cmd = true;
            } else {
                if (nf == BENCH_ZMTP_MAX_FRAMES)
                    return -1;
                frames[nf].data = z->buf + at + hdr;
                frames[nf++].size = (size_t)size;
            }
            if (cmd && s_command(z, z->buf + at + hdr, (size_t)size) != 0)
                return -1;
            at += hdr + (size_t)size;
            complete = cmd || !(flags & S_FLAG_MORE);
        }
        if (!complete)
            break;
        if (!cmd) {
            cb(arg, frames, nf);
            msgs++;
        }
        pos = at;
    }
    if (pos > 0) {
        memmove(z->buf, z->buf + pos, z->len - pos);
        z->len -= pos;
    }
    return msgs;
}

long bench_zmtp_read(bench_zmtp_t *z, bench_zmtp_msg_fn *cb, void *arg)
{
    long msgs = 0;
    for (;;) {
        if (z->cap - z->len < 4096) { /* a message bigger than what is left: room for it */
            uint8_t *nb = z->cap < S_BUF_MAX ? realloc(z->buf, z->cap * 2) : NULL;
            if (!nb)
                return -1;
            z->buf = nb, z->cap *= 2;
        }
        size_t room = z->cap - z->len;
        ssize_t n = recv(z->fd, z->buf + z->len, room, 0);
        if (n == 0)
            return -1;
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? msgs : -1;
        z->len += (size_t)n;
        long m = s_split(z, cb, arg);
        if (m < 0)
            return -1;
        msgs += m;
        /* A read that did not fill the room took everything there was: no second recv just
         * to be told EAGAIN (level-triggered epoll reports anything newer). */
        if ((size_t)n < room)
            return msgs;
    }
}

int bench_zmtp_send(bench_zmtp_t *z, const void *data, size_t len)
{
    uint8_t stackbuf[2048];
    uint8_t *frame = len + 9 <= sizeof stackbuf ? stackbuf : malloc(len + 9);
    if (!frame)
        return -1;
    size_t h = s_header(frame, 0, len);
    memcpy(frame + h, data, len);
    int rc = s_write_all(z->fd, frame, h + len, 1000);
    if (frame != stackbuf)
        free(frame);
    return rc;
}

void bench_zmtp_destroy(bench_zmtp_t **z_p)
{
    if (!z_p || !*z_p)
        return;
    bench_zmtp_t *z = *z_p;
    close(z->fd);
    free(z->buf);
    free(z);
    *z_p = NULL;
}
