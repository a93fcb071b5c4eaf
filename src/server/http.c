/*  http.c — HTTP and WebSocket for command staff, on the server's own libuv loop.
 *
 *  libwebsockets runs on our loop (LWS_SERVER_OPTION_LIBUV with a foreign loop): no second
 *  thread, no home-made HTTP parser.  It serves
 *      /               the dashboard (src/web/, embedded in the binary at build time)
 *      /api/snapshot   the live state as JSON
 *      /ws             a WebSocket: the snapshot, then every committed change as JSON
 *      /metrics        Prometheus text
 *      /healthz        the process is alive;  /readyz  the database is reachable and loaded
 *
 *  Durable before visible: a snapshot is rendered only when the engine holds nothing
 *  uncommitted; otherwise the request waits for the commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "cd_embedded.h"
#include "http_query.h"
#include "server_priv.h"

/* A client this far behind (messages or bytes queued) gets a fresh snapshot instead. */
#define WS_QUEUE_MAX       2000
#define WS_QUEUE_MAX_BYTES (16u << 20)

extern const struct cd_embedded_file cd_web[];
extern const size_t cd_web_count;

typedef struct s_msg {
    struct s_msg *next;
    size_t len;
    unsigned char data[]; /* LWS_PRE bytes of headroom, then the text */
} s_msg_t;

/* Per connection (libwebsockets allocates it for us). */
typedef struct s_session {
    struct lws *wsi;
    bool is_ws;
    bool want_snapshot; /* send a snapshot when the state is committed */
    /* HTTP: the response body, sent from the writeable callback. */
    char *body;
    size_t body_len;
    /* WebSocket: queued messages. */
    s_msg_t *head, *tail;
    size_t queued, queued_bytes;
    struct s_session *next, *prev; /* the server's list of waiting or live sessions */
    bool listed;
} s_session_t;

struct http {
    struct lws_context *ctx;
    s_session_t *sessions;
    size_t ws_clients;
    unsigned long ws_resyncs; /* clients sent a snapshot for being too far behind */
};

static server_t *s_server; /* libwebsockets callbacks reach the server through this */
/* lws sets this to NULL once the context is wholly destroyed (it finishes asynchronously on
 * a foreign loop). */
static struct lws_context *s_lws_ctx;

/* ------------------------------------------------------------------ sessions */

static void s_list(http_t *h, s_session_t *s)
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

static void s_unlist(http_t *h, s_session_t *s)
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

static void s_queue(s_session_t *s, const char *text, size_t len)
{
    s_msg_t *m = cd_xmalloc(sizeof *m + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->data + LWS_PRE, text, len);
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
    s->queued++;
    s->queued_bytes += len;
}

static void s_drop_queue(s_session_t *s)
{
    while (s->head) {
        s_msg_t *m = s->head;
        s->head = m->next;
        free(m);
    }
    s->tail = NULL;
    s->queued = 0;
    s->queued_bytes = 0;
}

/* True when what the engine holds is all committed, so a snapshot shows only durable state. */
static bool s_state_committed(const server_t *self)
{
    return store_state(self->store) == STORE_READY &&
           cd_engine_last_seq(self->engine) <= store_committed_seq(self->store);
}

static char *s_snapshot(const server_t *self)
{
    return wire_json_snapshot((uint64_t)store_committed_seq(self->store), self->engine,
                              server_now_ms());
}

/* ------------------------------------------------------------------ HTTP responses */

static int s_respond(struct lws *wsi, s_session_t *s, unsigned status, const char *type, char *body,
                     size_t len)
{
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof buf - 1;
    s->body = body;
    s->body_len = len;
    if (lws_add_http_common_headers(wsi, status, type, (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int s_text(struct lws *wsi, s_session_t *s, unsigned status, const char *type,
                  const char *text)
{
    return s_respond(wsi, s, status, type, cd_strdup(text), strlen(text));
}

static const char *s_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return "application/octet-stream";
    if (strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (strcmp(dot, ".js") == 0 || strcmp(dot, ".mjs") == 0)
        return "text/javascript; charset=utf-8";
    if (strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (strcmp(dot, ".svg") == 0)
        return "image/svg+xml";
    if (strcmp(dot, ".json") == 0)
        return "application/json";
    return "application/octet-stream";
}

/* Reads and checks the query parameters (lws hands them over percent-decoded, one fragment
 * per '&').  No path takes parameters yet; a malformed query is refused on every path. */
static int s_query(struct lws *wsi, http_query_t *q, cd_error_t *err)
{
    http_query_init(q);
    char frag[HTTP_QUERY_KEY_MAX + HTTP_QUERY_VALUE_MAX + 2];
    for (int i = 0;; i++) {
        if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) >= (int)sizeof frag)
            return cd_error_set(err, CD_EINVAL, "query",
                                "a query parameter is longer than %d bytes", (int)sizeof frag - 1);
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            return CD_OK; /* no fragment i: the end */
        int rc = http_query_add(q, frag, (size_t)n, err);
        if (rc != CD_OK)
            return rc;
    }
}

static int s_http(struct lws *wsi, s_session_t *s, const char *uri)
{
    server_t *self = s_server;
    s->wsi = wsi;
    http_query_t query;
    cd_error_t qerr;
    if (s_query(wsi, &query, &qerr) != CD_OK) {
        /* The parameter's name came from the peer: the metric says only "query". */
        metrics_count_refusal(self, "http", qerr.code, "query");
        char text[CD_ERROR_MESSAGE_MAX + 2];
        snprintf(text, sizeof text, "%s\n", qerr.message);
        return s_text(wsi, s, 400, "text/plain", text);
    }
    if (strcmp(uri, "/healthz") == 0)
        return s_text(wsi, s, 200, "text/plain", "ok\n");
    if (strcmp(uri, "/readyz") == 0) {
        bool ready = store_state(self->store) == STORE_READY && !self->stopping;
        return s_text(wsi, s, ready ? 200 : 503, "text/plain",
                      ready ? "ready\n" : "not ready: the database is unavailable\n");
    }
    if (strcmp(uri, "/metrics") == 0) {
        char *text = metrics_render(self);
        return s_respond(wsi, s, 200, "text/plain; version=0.0.4", text, strlen(text));
    }
    if (strcmp(uri, "/api/snapshot") == 0) {
        if (store_state(self->store) != STORE_READY)
            return s_text(wsi, s, 503, "application/json",
                          "{\"error\":\"the database is unavailable\"}\n");
        if (!s_state_committed(self)) { /* wait for the batch in flight */
            s->want_snapshot = true;
            s_list(self->http, s);
            return 0;
        }
        char *text = s_snapshot(self);
        return s_respond(wsi, s, 200, "application/json", text, strlen(text));
    }
    const char *name = strcmp(uri, "/") == 0 ? "index.html" : uri + 1;
    for (size_t i = 0; i < cd_web_count; i++)
        if (strcmp(cd_web[i].name, name) == 0) {
            char *copy = cd_xmalloc(cd_web[i].size + 1);
            memcpy(copy, cd_web[i].data, cd_web[i].size);
            return s_respond(wsi, s, 200, s_content_type(name), copy, cd_web[i].size);
        }
    metrics_count_refusal(self, "http", CD_ENOTFOUND, "path");
    return s_text(wsi, s, 404, "text/plain", "not found\n");
}

/* ------------------------------------------------------------------ the callback */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    s_session_t *s = user;
    server_t *self = s_server;
    http_t *h = self ? self->http : NULL;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        memset(s, 0, sizeof *s);
        return s_http(wsi, s, (const char *)in);

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
        if (s && h) {
            s_unlist(h, s);
            free(s->body);
            s->body = NULL;
        }
        return 0;

    case LWS_CALLBACK_ESTABLISHED: {
        memset(s, 0, sizeof *s);
        char path[64] = "";
        lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI);
        if (strcmp(path, "/ws") != 0)
            return -1;
        s->wsi = wsi;
        s->is_ws = true;
        s->want_snapshot = true;
        s_list(h, s);
        h->ws_clients++;
        if (s_state_committed(self)) {
            char *text = s_snapshot(self);
            s_queue(s, text, strlen(text));
            free(text);
            s->want_snapshot = false;
            lws_callback_on_writable(wsi);
        }
        return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE: {
        s_msg_t *m = s->head;
        if (!m)
            return 0;
        if (lws_write(wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
            return -1;
        s->head = m->next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        s->queued_bytes -= m->len;
        free(m);
        if (s->head)
            lws_callback_on_writable(wsi);
        return 0;
    }

    case LWS_CALLBACK_RECEIVE:
        return 0; /* the board only listens */

    case LWS_CALLBACK_CLOSED:
        if (s && h && s->is_ws) {
            s_unlist(h, s);
            s_drop_queue(s);
            h->ws_clients--;
        }
        return 0;

    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_protocols[] = {
    {"codispatch-live", s_callback, sizeof(s_session_t), 64 * 1024, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ------------------------------------------------------------------ the server's side */

void http_broadcast(server_t *self, const char *json, int64_t seq)
{
    (void)seq;
    http_t *h = self->http;
    if (!h)
        return;
    size_t len = strlen(json);
    for (s_session_t *s = h->sessions; s; s = s->next) {
        if (!s->is_ws || s->want_snapshot)
            continue; /* its snapshot, still to come, will include this */
        if (s->queued >= WS_QUEUE_MAX || s->queued_bytes >= WS_QUEUE_MAX_BYTES) {
            /* Too far behind: start it over from a snapshot rather than queue without end. */
            s_drop_queue(s);
            s->want_snapshot = true;
            h->ws_resyncs++;
            continue;
        }
        s_queue(s, json, len);
        lws_callback_on_writable(s->wsi);
    }
}

void http_on_committed(server_t *self)
{
    http_t *h = self->http;
    if (!h || !s_state_committed(self))
        return;
    char *snapshot = NULL;
    for (s_session_t *s = h->sessions, *next; s; s = next) {
        next = s->next;
        if (!s->want_snapshot)
            continue;
        if (!snapshot)
            snapshot = s_snapshot(self);
        s->want_snapshot = false;
        if (s->is_ws) {
            s_queue(s, snapshot, strlen(snapshot));
            lws_callback_on_writable(s->wsi);
        } else {
            s_unlist(h, s);
            s_respond(s->wsi, s, 200, "application/json", cd_strdup(snapshot), strlen(snapshot));
        }
    }
    free(snapshot);
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

void http_ws_queues(const server_t *self, size_t *max_queued, size_t *bytes, unsigned long *resyncs)
{
    *max_queued = *bytes = 0;
    *resyncs = self->http ? self->http->ws_resyncs : 0;
    for (s_session_t *s = self->http ? self->http->sessions : NULL; s; s = s->next) {
        if (s->queued > *max_queued)
            *max_queued = s->queued;
        *bytes += s->queued_bytes;
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
    self->http = h;
    s_server = self;
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
    for (s_session_t *s = h->sessions; s; s = s->next) {
        s_drop_queue(s);
        free(s->body);
        s->body = NULL;
        s->listed = false; /* their close callbacks must not touch the list */
    }
    h->sessions = NULL;
    if (h->ctx)
        lws_context_destroy(h->ctx); /* its handles close as the loop runs on */
    free(h);
    self->http = NULL;
}
