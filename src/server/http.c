/*  http.c — HTTP and WebSocket for command staff, on the server's own libuv loop.
 *
 *  libwebsockets runs on our loop (LWS_SERVER_OPTION_LIBUV with a foreign loop): no second
 *  thread, no home-made HTTP parser.  It serves
 *      /               the dashboard (src/web/, embedded in the binary at build time)
 *      /api/snapshot   the live state as JSON
 *      /ws             a WebSocket: the snapshot, then every committed change as JSON
 *      /metrics        Prometheus text
 *      /reports        the reports page;  /api/reports/KIND?from=&to=&by=[&format=csv]  its data,
 *                      run on the reports connection (reports.c) and answered when it answers
 *      /healthz        the process is alive;  /readyz  the database is reachable and loaded
 *
 *  Durable before visible: a snapshot is rendered when asked for, from the engine as it is,
 *  labelled with the last event applied, and handed over only once that event has committed
 *  (at once when nothing is in flight).  Rendering it only when the engine held nothing
 *  uncommitted made boards wait for a quiet moment, which nothing guarantees while batches
 *  follow each other into PostgreSQL.
 *
 *  This file: sessions, WebSocket queues, the libwebsockets callback and the server's side;
 *  http_api.c answers the HTTP requests (routing, token, responses, reports API).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "http_priv.h"

/* A client this far behind (messages or bytes queued) gets a fresh snapshot instead. */
#define WS_QUEUE_MAX       2000
#define WS_QUEUE_MAX_BYTES (16u << 20)

server_t *http__server; /* see http_priv.h */
/* lws sets this to NULL once the context is wholly destroyed (it finishes asynchronously on
 * a foreign loop). */
static struct lws_context *s_lws_ctx;

/* ------------------------------------------------------------------ sessions */

void http__list(http_t *h, http__session_t *s)
{
    if (s->listed)
        return;
    s->next = h->sessions;
    s->prev = NULL;
    if (h->sessions)
        h->sessions->prev = s;
    h->sessions = s;
    s->listed = true;
}

static void s_unlist(http_t *h, http__session_t *s)
{
    if (!s->listed)
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        h->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->listed = false;
}

static http__frame_t *s_frame_new(const char *text, size_t len)
{
    size_t hl = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    http__frame_t *f = cd_xmalloc(sizeof *f + hl + len);
    f->refs = 0;
    f->len = hl + len;
    f->data[0] = 0x81; /* FIN, text; a server's frames are not masked */
    if (hl == 2) {
        f->data[1] = (unsigned char)len;
    } else if (hl == 4) {
        f->data[1] = 126;
        f->data[2] = (unsigned char)(len >> 8);
        f->data[3] = (unsigned char)len;
    } else {
        f->data[1] = 127;
        for (int i = 0; i < 8; i++)
            f->data[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    }
    memcpy(f->data + hl, text, len);
    return f;
}

static void s_queue_frame(http__session_t *s, http__frame_t *f, bool counted)
{
    http__msg_t *m = cd_xmalloc(sizeof *m);
    m->next = NULL;
    m->frame = f;
    m->counted = counted;
    f->refs++;
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    s->queued++;
    if (counted)
        s->queued_bytes += f->len;
}

static void s_pop(http__session_t *s)
{
    http__msg_t *m = s->head;
    s->head = m->next;
    if (!s->head)
        s->tail = NULL;
    s->queued--;
    if (m->counted)
        s->queued_bytes -= m->frame->len;
    if (--m->frame->refs == 0)
        free(m->frame);
    free(m);
}

static void s_drop_queue(http__session_t *s)
{
    while (s->head)
        s_pop(s);
}

/* Sends the queued frames, as many as fit in WS_WRITE_MAX (at least one), in one write. */
static int s_send_queued(struct lws *wsi, http__session_t *s)
{
    size_t total = 0, n = 0;
    for (http__msg_t *m = s->head; m && (n == 0 || total + m->frame->len <= WS_WRITE_MAX);
         m = m->next, n++)
        total += m->frame->len;
    unsigned char *buf = cd_xmalloc(LWS_PRE + total), *p = buf + LWS_PRE;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, s->head->frame->data, s->head->frame->len);
        p += s->head->frame->len;
        s_pop(s);
    }
    /* Raw bytes: the frames are already framed (lws buffers what the socket does not take). */
    int w = lws_write(wsi, buf + LWS_PRE, total, LWS_WRITE_RAW);
    free(buf);
    return w < (int)total ? -1 : 0;
}

/* ------------------------------------------------------------------ snapshots */

/* The engine's state now, labelled with the last event applied; the next rendering waits
 * (HTTP_RENDER_*). */
static http__frame_t *s_render(server_t *self, int64_t *seq)
{
    http_t *h = self->http;
    uint64_t t0 = uv_hrtime();
    *seq = cd_engine_last_seq(self->engine);
    char *text = wire_json_snapshot((uint64_t)*seq, self->engine, server_now_ms());
    http__frame_t *f = s_frame_new(text, strlen(text));
    free(text);
    uint64_t took_ns = uv_hrtime() - t0;
    uint64_t wait_ms = took_ns / 1000000 * (HTTP_RENDER_LOOP_SHARE - 1);
    /* From now, not from the loop time cached when this turn began: what the turn did before
     * must not shorten the wait. */
    uv_update_time(self->loop);
    h->render_after =
        uv_now(self->loop) + (wait_ms > HTTP_RENDER_GAP_MS ? wait_ms : HTTP_RENDER_GAP_MS);
    h->renders++;
    h->last_render_s = (double)took_ns / 1e9;
    return f;
}

static void s_serve_waiting(server_t *self);

static void s_free_handle(uv_handle_t *handle)
{
    free(handle);
}

static void s_on_render_timer(uv_timer_t *t)
{
    server_t *self = t->data;
    if (self->http)
        s_serve_waiting(self);
}

/* The timer serves the sessions waiting for a snapshot as soon as one may be rendered. */
static void s_serve_soon(server_t *self)
{
    http_t *h = self->http;
    uint64_t now = uv_now(self->loop);
    if (!uv_is_active((uv_handle_t *)h->render_timer))
        uv_timer_start(h->render_timer, s_on_render_timer,
                       h->render_after > now ? h->render_after - now : 0, 0);
}

/* True if a snapshot may be rendered now; else the timer will serve the waiting sessions
 * when one may. */
static bool s_may_render(server_t *self)
{
    if (uv_now(self->loop) >= self->http->render_after)
        return true;
    s_serve_soon(self);
    return false;
}

static void s_unhold(http__session_t *s)
{
    if (s->held && --s->held->refs == 0)
        free(s->held);
    s->held = NULL;
}

/* The JSON inside a frame (after its WebSocket header). */
static const char *s_frame_text(const http__frame_t *f, size_t *len)
{
    size_t hl = (f->data[1] & 0x7f) < 126 ? 2 : (f->data[1] & 0x7f) == 126 ? 4 : 10;
    *len = f->len - hl;
    return (const char *)f->data + hl;
}

/* Hands s its held snapshot: queued first on a WebSocket, or as the answer to /api/snapshot. */
static void s_release(http_t *h, http__session_t *s)
{
    http__frame_t *f = s->held;
    s->want_snapshot = false;
    if (s->is_ws) {
        /* Not counted against the byte limit, which would otherwise send a client whose
         * snapshot alone is over it (a very large state) back for a new one at every change. */
        s_queue_frame(s, f, false);
        s->snap_seq = s->held_seq;
        lws_callback_on_writable(s->wsi);
    } else {
        s_unlist(h, s);
        size_t len;
        const char *text = s_frame_text(f, &len);
        char *body = cd_xmalloc(len + 1);
        memcpy(body, text, len);
        body[len] = '\0';
        http__respond(s->wsi, s, 200, "application/json", body, len);
    }
    s_unhold(s);
}

/* Gives s a snapshot to hold if it has none (fresh: one rendering shared by the sessions of
 * one pass, rendered on first need), and hands it over once its seq has committed. */
static void s_serve(server_t *self, http__session_t *s, http__frame_t **fresh, int64_t *fresh_seq)
{
    /* Not while the store is down or reloading: the engine may still hold a lost batch's
     * state.  The server's ready callback serves the sessions then. */
    if (store_state(self->store) != STORE_READY)
        return;
    if (!s->held) {
        if (!*fresh) {
            if (!s_may_render(self))
                return; /* it stays listed, wanting one */
            *fresh = s_render(self, fresh_seq);
            (*fresh)->refs++; /* the pass's own, dropped by s_pass_end */
        }
        s->held = *fresh;
        s->held_seq = *fresh_seq;
        (*fresh)->refs++;
    }
    if (s->held_seq <= store_committed_seq(self->store))
        s_release(self->http, s);
}

static void s_pass_end(http__frame_t *fresh)
{
    if (fresh && --fresh->refs == 0)
        free(fresh);
}

void http__want_snapshot(server_t *self, http__session_t *s)
{
    s->want_snapshot = true;
    http__list(self->http, s);
    http__frame_t *fresh = NULL;
    int64_t seq = 0;
    s_serve(self, s, &fresh, &seq);
    s_pass_end(fresh);
}

/* An /api/reports request waiting for PostgreSQL.  The session may close first: it then
 * clears `session`, and the answer is dropped. */
/* ------------------------------------------------------------------ the callback */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    http__session_t *s = user;
    server_t *self = http__server;
    http_t *h = self ? self->http : NULL;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        memset(s, 0, sizeof *s);
        return http__route(wsi, s, (const char *)in);

    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!s->body)
            return 0;
        unsigned char *buf = cd_xmalloc(LWS_PRE + s->body_len + 1);
        memcpy(buf + LWS_PRE, s->body, s->body_len);
        int n = lws_write(wsi, buf + LWS_PRE, s->body_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        free(s->body);
        s->body = NULL;
        if (n < 0)
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    }

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (s) { /* also after http_close (h gone): the session still owns its buffers */
            if (h)
                s_unlist(h, s);
            free(s->body);
            s->body = NULL;
            free(s->set_cookie);
            s->set_cookie = NULL;
            s_unhold(s);
        }
        if (s)
            http__forget_report(s);
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: /* a WebSocket upgrade: same token rule */
        return http__token_ok(wsi, NULL) && http__ws_admit(wsi) ? 0 : 1;

    case LWS_CALLBACK_ESTABLISHED: {
        memset(s, 0, sizeof *s);
        char path[64] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        if (strcmp(path, "/ws") != 0)
            return -1;
        s->wsi = wsi;
        s->is_ws = true;
        h->ws_clients++;
        http__want_snapshot(self, s);
        return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!s->head)
            return 0;
        if (s_send_queued(wsi, s) != 0)
            return -1;
        if (s->head)
            lws_callback_on_writable(wsi);
        return 0;

    case LWS_CALLBACK_RECEIVE:
        return 0; /* the board only listens */

    case LWS_CALLBACK_CLOSED:
        if (s && s->is_ws) {
            if (h) {
                s_unlist(h, s);
                h->ws_clients--;
            }
            s_drop_queue(s);
            s_unhold(s);
        }
        return 0;

    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_protocols[] = {
    {"codispatch-live", s_callback, sizeof(http__session_t), 64 * 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ------------------------------------------------------------------ the server's side */

void http_broadcast(server_t *self, const char *json, int64_t seq)
{
    http_t *h = self->http;
    if (!h)
        return;
    http__frame_t *f = s_frame_new(json, strlen(json));
    f->refs++; /* ours, while the loop runs */
    for (http__session_t *s = h->sessions; s; s = s->next) {
        if (!s->is_ws || s->want_snapshot || seq <= s->snap_seq)
            continue; /* its snapshot (still to come, or sent) includes this */
        if (s->queued >= WS_QUEUE_MAX || s->queued_bytes >= WS_QUEUE_MAX_BYTES) {
            /* Too far behind: start it over from a snapshot rather than queue without end. */
            s_drop_queue(s);
            s->want_snapshot = true;
            h->ws_resyncs++;
            s_serve_soon(self); /* not at the next commit, which may be long in coming */
            continue;
        }
        /* A session with frames queued already asked to be told when it is writable, and
         * sends them all then: asking again per change cost a poll change each. */
        bool idle = s->head == NULL;
        s_queue_frame(s, f, true);
        if (idle)
            lws_callback_on_writable(s->wsi);
    }
    if (--f->refs == 0)
        free(f);
}

void http_on_committed(server_t *self)
{
    if (self->http)
        s_serve_waiting(self);
}

/* One pass over the sessions that want a snapshot: one rendering shared by all of them. */
static void s_serve_waiting(server_t *self)
{
    http_t *h = self->http;
    http__frame_t *fresh = NULL;
    int64_t seq = 0;
    for (http__session_t *s = h->sessions, *next; s; s = next) {
        next = s->next; /* s_release unlists an HTTP session */
        if (s->want_snapshot)
            s_serve(self, s, &fresh, &seq);
    }
    s_pass_end(fresh);
}

void http_on_lost(server_t *self)
{
    http_t *h = self->http;
    if (!h)
        return;
    /* A held snapshot shows more than is committed (one that did not was handed over at the
     * commit), and that will not be: render them again once the server has reloaded
     * (http_on_committed from its ready callback). */
    for (http__session_t *s = h->sessions; s; s = s->next)
        s_unhold(s);
}

void http_finish(void)
{
    /* After the loop ended: complete a destruction that could not finish on it. */
    if (s_lws_ctx)
        lws_context_destroy(s_lws_ctx);
    s_lws_ctx = NULL;
}

size_t http_ws_clients(const server_t *self)
{
    return self->http ? self->http->ws_clients : 0;
}

void http_stats(const server_t *self, http_stats_t *out)
{
    memset(out, 0, sizeof *out);
    const http_t *h = self->http;
    if (!h)
        return;
    out->ws_resyncs = h->ws_resyncs;
    out->snapshots_rendered = h->renders;
    out->last_render_s = h->last_render_s;
    for (http__session_t *s = h->sessions; s; s = s->next) {
        if (s->queued > out->ws_queue_max)
            out->ws_queue_max = s->queued;
        out->ws_queued_bytes += s->queued_bytes;
    }
}

int http_open(server_t *self, const char *address, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(address, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port <= 0 || port > 65535 || (size_t)(colon - address) >= sizeof host) {
        snprintf(err, errlen, "--http must be HOST:PORT; got '%s'", address);
        return -1;
    }
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    http_t *h = cd_xcalloc(1, sizeof *h);
    h->snapshots = cd_throttle_new(HTTP_SNAPSHOT_BURST, HTTP_SNAPSHOT_PER_S, 4096);
    h->render_timer = cd_xmalloc(sizeof *h->render_timer);
    uv_timer_init(self->loop, h->render_timer);
    h->render_timer->data = self;
    self->http = h;
    http__server = self;
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[1] = {self->loop};
    info.port = (int)port;
    info.iface = host[0] && strcmp(host, "0.0.0.0") != 0 ? host : NULL;
    info.protocols = s_protocols;
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.pcontext = &s_lws_ctx;
    /* With a foreign loop, lws makes the context even when it cannot bind the port (only
     * its vhost fails), and libuv later aborts on the half-made listener: try the bind
     * first, the way lws will do it, and say why it fails. */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, info.iface ? host : "0.0.0.0", &sa.sin_addr) == 1) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1, rc = -1;
        if (fd >= 0) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
            if (rc != 0)
                snprintf(err, errlen, "cannot serve HTTP on %s: %s", address, strerror(errno));
            close(fd);
        }
        if (rc != 0) {
            if (fd < 0)
                snprintf(err, errlen, "cannot serve HTTP on %s: %s", address, strerror(errno));
            return -1;
        }
    }
    h->ctx = s_lws_ctx = lws_create_context(&info);
    if (!h->ctx) {
        snprintf(err, errlen,
                 "cannot serve HTTP on %s (address in use, or libwebsockets "
                 "without libuv support)",
                 address);
        return -1;
    }
    return 0;
}

void http_close(server_t *self)
{
    http_t *h = self->http;
    if (!h)
        return;
    for (http__session_t *s = h->sessions; s; s = s->next) {
        s_drop_queue(s);
        free(s->body);
        s->body = NULL;
        s->listed = false; /* their close callbacks must not touch the list */
    }
    h->sessions = NULL;
    if (h->ctx)
        lws_context_destroy(h->ctx); /* its handles close as the loop runs on */
    cd_throttle_destroy(&h->snapshots);
    uv_close((uv_handle_t *)h->render_timer, s_free_handle);
    free(h);
    self->http = NULL;
}
