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
 *  Durable before visible: a snapshot is rendered only when the engine holds nothing
 *  uncommitted; otherwise the request waits for the commit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "cd_embedded.h"
#include "reports.h"
#include "http_query.h"
#include "server_priv.h"

/* A client this far behind (messages or bytes queued) gets a fresh snapshot instead. */
#define WS_QUEUE_MAX       2000
#define WS_QUEUE_MAX_BYTES (16u << 20)

extern const struct cd_embedded_file cd_web[];
extern const size_t cd_web_count;

#define WS_WRITE_MAX (64 * 1024) /* bytes of queued frames sent with one write */

/* One WebSocket text frame, header included, made once per change and shared by every
 * session it is queued on.  A writeable session sends all its queued frames (up to
 * WS_WRITE_MAX) in one write of raw bytes: one send() per batch rather than one per message
 * per client, which is what 100 dashboards at 1,000 changes a second cost before. */
typedef struct s_frame {
    int refs;
    size_t len;
    unsigned char data[];
} s_frame_t;

typedef struct s_msg {
    struct s_msg *next;
    s_frame_t *frame;
    bool counted; /* in queued_bytes: changes are, a snapshot is not */
} s_msg_t;

/* Per connection (libwebsockets allocates it for us). */
typedef struct s_report_wait s_report_wait_t;

typedef struct s_session {
    struct lws *wsi;
    s_report_wait_t *report; /* a report this request waits for */
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
    char *set_cookie; /* a token that came in the URL: remembered by the browser (malloc'd) */
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

static s_frame_t *s_frame_new(const char *text, size_t len)
{
    size_t hl = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
    s_frame_t *f = cd_xmalloc(sizeof *f + hl + len);
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

static void s_queue_frame(s_session_t *s, s_frame_t *f, bool counted)
{
    s_msg_t *m = cd_xmalloc(sizeof *m);
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

/* A snapshot: not counted against the byte limit, which would otherwise send a client whose
 * snapshot alone is over it (a very large state) back for a new one at every change. */
static void s_queue_snapshot(s_session_t *s, const char *text, size_t len)
{
    s_queue_frame(s, s_frame_new(text, len), false);
}

static void s_pop(s_session_t *s)
{
    s_msg_t *m = s->head;
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

static void s_drop_queue(s_session_t *s)
{
    while (s->head)
        s_pop(s);
}

/* Sends the queued frames, as many as fit in WS_WRITE_MAX (at least one), in one write. */
static int s_send_queued(struct lws *wsi, s_session_t *s)
{
    size_t total = 0, n = 0;
    for (s_msg_t *m = s->head; m && (n == 0 || total + m->frame->len <= WS_WRITE_MAX);
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

/* An /api/reports request waiting for PostgreSQL.  The session may close first: it then
 * clears `session`, and the answer is dropped. */
struct s_report_wait {
    s_session_t *session;
    bool csv;
};

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
                                     (const unsigned char *)"no-store", 8, &p, end))
        return 1;
    if (s->set_cookie) {
        char cookie[400];
        int n = snprintf(cookie, sizeof cookie,
                         "codispatch_token=%s; HttpOnly; SameSite=Strict; Path=/", s->set_cookie);
        free(s->set_cookie);
        s->set_cookie = NULL;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)"set-cookie:",
                                        (const unsigned char *)cookie, n, &p, end))
            return 1;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end))
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

/* With security on, everything but the health checks needs the viewer token: in an
 * "Authorization: Bearer TOKEN" header, a codispatch_token cookie, or (for a browser's first
 * visit) ?token=TOKEN, which is then set as an HttpOnly cookie for /ws and /api. */
static bool s_token_ok(struct lws *wsi, s_session_t *s)
{
    server_t *self = s_server;
    if (!security_http_required(self))
        return true;
    char buf[512];
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
        strncmp(buf, "Bearer ", 7) == 0)
        return security_http_token_ok(self, buf + 7);
    if (lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_COOKIE) > 0) {
        for (char *c = buf, *next; c; c = next) {
            next = strchr(c, ';');
            if (next)
                *next++ = '\0';
            while (*c == ' ')
                c++;
            if (strncmp(c, "codispatch_token=", 17) == 0)
                return security_http_token_ok(self, c + 17);
        }
    }
    const char *arg = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf);
    if (arg && security_http_token_ok(self, arg)) {
        if (s) {
            free(s->set_cookie);
            s->set_cookie = cd_strdup(arg);
        }
        return true;
    }
    if (!arg)
        security_http_token_ok(self, ""); /* counted as a refusal */
    return false;
}

static char *s_json_error(const char *field, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", message);
    cJSON_AddStringToObject(o, "field", field);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int s_error(struct lws *wsi, s_session_t *s, unsigned status, const cd_error_t *err)
{
    /* Counted under the report parameters' own names only: any other name came from the peer. */
    static const char *const known[] = {"from", "to", "by", "format", "kind", ""};
    const char *field = "query";
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(err->field, known[i]) == 0)
            field = known[i];
    metrics_count_refusal(s_server, "http", err->code, field);
    char *text = s_json_error(err->field, err->message);
    return s_respond(wsi, s, status, "application/json", text, strlen(text));
}

static void s_on_report(void *arg, const report_table_t *t, const cd_error_t *err)
{
    s_report_wait_t *w = arg;
    s_session_t *s = w->session;
    bool csv = w->csv;
    free(w);
    if (!s)
        return; /* the browser went away */
    s->report = NULL;
    if (!s_server || s_server->stopping)
        return; /* the server is stopping: the connection closes with the context */
    if (!t) {
        s_error(s->wsi, s, err->code == CD_EINVAL ? 400 : err->code == CD_EBUSY ? 429 : 503, err);
        return;
    }
    char *body = csv ? report_table_csv(t) : report_table_json(t);
    s_respond(s->wsi, s, 200, csv ? "text/csv; charset=utf-8" : "application/json", body,
              strlen(body));
}

/* /api/reports/KIND?from=&to=&by=&format=json|csv (query already checked by http_query) */
static int s_api_report(struct lws *wsi, s_session_t *s, const char *kind,
                        const http_query_t *query)
{
    server_t *self = s_server;
    static const char *const allowed[] = {"from", "to", "by", "format", "token", NULL};
    static const char *const names[] = {"from", "to", "by", "format"};
    const char *v[4];
    for (int i = 0; i < 4; i++) {
        v[i] = http_query_get(query, names[i]);
        if (!v[i])
            v[i] = "";
    }
    cd_error_t err;
    if (http_query_only(query, allowed, &err) != CD_OK)
        return s_error(wsi, s, 400, &err);
    report_query_t q;
    if (report_query_check(kind, v[0], v[1], v[2], &q, &err) != CD_OK)
        return s_error(wsi, s, 400, &err);
    if (*v[3] && strcmp(v[3], "json") != 0 && strcmp(v[3], "csv") != 0) {
        cd_error_set(&err, CD_EINVAL, "format", "format must be json or csv; got '%.32s'", v[3]);
        return s_error(wsi, s, 400, &err);
    }
    if (store_state(self->store) != STORE_READY || self->stopping) {
        cd_error_set(&err, CD_EUNAVAIL, "", "the database is unavailable; retry shortly");
        return s_error(wsi, s, 503, &err);
    }
    s_report_wait_t *w = cd_xcalloc(1, sizeof *w);
    w->session = s;
    w->csv = strcmp(v[3], "csv") == 0;
    if (reports_run(self->reports, &q, s_on_report, w, &err) != CD_OK) {
        free(w);
        return s_error(wsi, s, err.code == CD_EBUSY ? 429 : 503, &err);
    }
    s->report = w;
    return 0; /* answered when PostgreSQL answers */
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
        bool standby = store_state(self->store) == STORE_STANDBY;
        return s_text(wsi, s, ready ? 200 : 503, "text/plain",
                      ready     ? "ready\n"
                      : standby ? "not ready: standby (another codispatchd holds the database "
                                  "lock)\n"
                                : "not ready: the database is unavailable\n");
    }
    if (!s_token_ok(wsi, s))
        return s_text(wsi, s, 401, "text/plain",
                      "security is on: this page needs the viewer token (open /?token=TOKEN once, "
                      "or send Authorization: Bearer TOKEN)\n");
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
    if (strncmp(uri, "/api/reports/", 13) == 0)
        return s_api_report(wsi, s, uri + 13, &query);
    const char *name = strcmp(uri, "/") == 0          ? "index.html"
                       : strcmp(uri, "/reports") == 0 ? "reports.html"
                                                      : uri + 1;
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
        if (s) { /* also after http_close (h gone): the session still owns its buffers */
            if (h)
                s_unlist(h, s);
            free(s->body);
            s->body = NULL;
            free(s->set_cookie);
            s->set_cookie = NULL;
        }
        if (s && s->report) {
            s->report->session = NULL; /* its answer, when it comes, is dropped */
            s->report = NULL;
        }
        return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: /* a WebSocket upgrade: same token rule */
        return s_token_ok(wsi, NULL) ? 0 : 1;

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
            s_queue_snapshot(s, text, strlen(text));
            free(text);
            s->want_snapshot = false;
            lws_callback_on_writable(wsi);
        }
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
    s_frame_t *f = s_frame_new(json, strlen(json));
    f->refs++; /* ours, while the loop runs */
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
        s_queue_frame(s, f, true);
        lws_callback_on_writable(s->wsi);
    }
    if (--f->refs == 0)
        free(f);
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
            s_queue_snapshot(s, snapshot, strlen(snapshot));
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
