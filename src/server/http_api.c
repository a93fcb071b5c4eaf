/*  http_api.c — the HTTP requests of http.c: routing, the viewer token, responses, and the
 *  reports API (answered when the reports connection answers).  WebSocket sessions and the
 *  libwebsockets callback are in http.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cd_embedded.h"
#include "http_priv.h"
#include "http_query.h"
#include "reports.h"

extern const struct cd_embedded_file cd_web[];
extern const size_t cd_web_count;

struct http__report_wait {
    http__session_t *session; /* NULL once the session closed */
    bool csv;
};

void http__forget_report(http__session_t *s)
{
    if (s->report) {
        s->report->session = NULL; /* its answer, when it comes, is dropped */
        s->report = NULL;
    }
}

/* ------------------------------------------------------------------ HTTP responses */

int http__respond(struct lws *wsi, http__session_t *s, unsigned status, const char *type,
                  char *body, size_t len)
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

static int http__text(struct lws *wsi, http__session_t *s, unsigned status, const char *type,
                      const char *text)
{
    return http__respond(wsi, s, status, type, cd_strdup(text), strlen(text));
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
bool http__token_ok(struct lws *wsi, http__session_t *s)
{
    server_t *self = http__server;
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

static int s_error(struct lws *wsi, http__session_t *s, unsigned status, const cd_error_t *err)
{
    /* Counted under the report parameters' own names only: any other name came from the peer. */
    static const char *const known[] = {"from", "to", "by", "format", "kind", "snapshot", ""};
    const char *field = "query";
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(err->field, known[i]) == 0)
            field = known[i];
    metrics_count_refusal(http__server, "http", err->code, field);
    char *text = s_json_error(err->field, err->message);
    return http__respond(wsi, s, status, "application/json", text, strlen(text));
}

/* 0 when the peer of wsi may have another snapshot now (HTTP_SNAPSHOT_*), else the
 * milliseconds until it may, with *err saying so. */
static int64_t s_snapshot_wait(struct lws *wsi, cd_error_t *err)
{
    server_t *self = http__server;
    char addr[64] = "";
    lws_get_peer_simple(wsi, addr, sizeof addr);
    int64_t wait =
        cd_throttle_take(self->http->snapshots, addr, strlen(addr), (int64_t)uv_now(self->loop));
    if (wait)
        cd_error_set(err, CD_EBUSY, "snapshot",
                     "too many snapshots asked for from %s (%d at once, then %d a second); ask "
                     "again in %lld ms",
                     addr, HTTP_SNAPSHOT_BURST, HTTP_SNAPSHOT_PER_S, (long long)wait);
    return wait;
}

bool http__ws_admit(struct lws *wsi)
{
    server_t *self = http__server;
    if (self->http->ws_clients < self->max_ws)
        return true;
    metrics_count_refusal(self, "http", CD_EBUSY, "ws");
    char text[CD_ERROR_MESSAGE_MAX];
    snprintf(text, sizeof text,
             "%zu dashboards are connected, the most this server takes (--max-ws); try again "
             "later\n",
             self->http->ws_clients);
    lws_return_http_status(wsi, 503, text);
    return false;
}

static void s_on_report(void *arg, const report_table_t *t, const cd_error_t *err)
{
    http__report_wait_t *w = arg;
    http__session_t *s = w->session;
    bool csv = w->csv;
    free(w);
    if (!s)
        return; /* the browser went away */
    s->report = NULL;
    if (!http__server || http__server->stopping)
        return; /* the server is stopping: the connection closes with the context */
    if (!t) {
        s_error(s->wsi, s, err->code == CD_EINVAL ? 400 : err->code == CD_EBUSY ? 429 : 503, err);
        return;
    }
    char *body = csv ? report_table_csv(t) : report_table_json(t);
    http__respond(s->wsi, s, 200, csv ? "text/csv; charset=utf-8" : "application/json", body,
                  strlen(body));
}

/* /api/reports/KIND?from=&to=&by=&format=json|csv (query already checked by http_query) */
static int s_api_report(struct lws *wsi, http__session_t *s, const char *kind,
                        const http_query_t *query)
{
    server_t *self = http__server;
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
    http__report_wait_t *w = cd_xcalloc(1, sizeof *w);
    w->session = s;
    w->csv = strcmp(v[3], "csv") == 0;
    /* Linked before running: a connection that breaks while the job is submitted answers it
     * (s_on_report frees w and unlinks it) before reports_run returns. */
    s->report = w;
    if (reports_run(self->reports, &q, s_on_report, w, &err) != CD_OK) {
        s->report = NULL; /* not submitted: s_on_report will not run */
        free(w);
        return s_error(wsi, s, err.code == CD_EBUSY ? 429 : 503, &err);
    }
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

int http__route(struct lws *wsi, http__session_t *s, const char *uri)
{
    server_t *self = http__server;
    s->wsi = wsi;
    http_query_t query;
    cd_error_t qerr;
    if (s_query(wsi, &query, &qerr) != CD_OK) {
        /* The parameter's name came from the peer: the metric says only "query". */
        metrics_count_refusal(self, "http", qerr.code, "query");
        char text[CD_ERROR_MESSAGE_MAX + 2];
        snprintf(text, sizeof text, "%s\n", qerr.message);
        return http__text(wsi, s, 400, "text/plain", text);
    }
    if (strcmp(uri, "/healthz") == 0)
        return http__text(wsi, s, 200, "text/plain", "ok\n");
    if (strcmp(uri, "/readyz") == 0) {
        bool ready = store_state(self->store) == STORE_READY && !self->stopping;
        bool standby = store_state(self->store) == STORE_STANDBY;
        return http__text(wsi, s, ready ? 200 : 503, "text/plain",
                          ready     ? "ready\n"
                          : standby ? "not ready: standby (another codispatchd holds the database "
                                      "lock)\n"
                                    : "not ready: the database is unavailable\n");
    }
    if (!http__token_ok(wsi, s))
        return http__text(
            wsi, s, 401, "text/plain",
            "security is on: this page needs the viewer token (open /?token=TOKEN once, "
            "or send Authorization: Bearer TOKEN)\n");
    if (strcmp(uri, "/metrics") == 0) {
        char *text = metrics_render(self);
        return http__respond(wsi, s, 200, "text/plain; version=0.0.4", text, strlen(text));
    }
    if (strcmp(uri, "/api/snapshot") == 0) {
        if (store_state(self->store) != STORE_READY)
            return http__text(wsi, s, 503, "application/json",
                              "{\"error\":\"the database is unavailable\"}\n");
        cd_error_t err;
        if (s_snapshot_wait(wsi, &err))
            return s_error(wsi, s, 429, &err);
        http__want_snapshot(self, s); /* answered when what it shows has committed */
        return 0;
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
            return http__respond(wsi, s, 200, s_content_type(name), copy, cd_web[i].size);
        }
    metrics_count_refusal(self, "http", CD_ENOTFOUND, "path");
    return http__text(wsi, s, 404, "text/plain", "not found\n");
}
