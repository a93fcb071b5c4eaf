/*  http_priv.h — what http.c (sessions, WebSocket queues, the libwebsockets callback) and
 *  http_api.c (HTTP requests: routing, the token, responses, the reports API) share.
 *  Private to src/server/http*.c.
 */
#ifndef HTTP_PRIV_H
#define HTTP_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include <libwebsockets.h>

#include "server_priv.h"

#define WS_WRITE_MAX (64 * 1024) /* bytes of queued frames sent with one write */

/* One WebSocket text frame, header included, made once per change and shared by every
 * session it is queued on.  A writeable session sends all its queued frames (up to
 * WS_WRITE_MAX) in one write of raw bytes: one send() per batch rather than one per message
 * per client, which is what 100 dashboards at 1,000 changes a second cost before. */
typedef struct http__frame {
    int refs;
    size_t len;
    unsigned char data[];
} http__frame_t;

typedef struct http__msg {
    struct http__msg *next;
    http__frame_t *frame;
    bool counted; /* in queued_bytes: changes are, a snapshot is not */
} http__msg_t;

typedef struct http__report_wait http__report_wait_t; /* http_api.c */

/* Per connection (libwebsockets allocates it for us). */

typedef struct http__session {
    struct lws *wsi;
    http__report_wait_t *report; /* a report this request waits for */
    bool is_ws;
    bool want_snapshot;       /* a snapshot is due: held until its seq commits */
    struct http__frame *held; /* that snapshot, rendered (a reference); NULL: not yet */
    int64_t held_seq;         /* the last event it shows */
    int64_t snap_seq;         /* WebSocket: the seq of the snapshot it was sent last */
    /* HTTP: the response body, sent from the writeable callback. */
    char *body;
    size_t body_len;
    /* WebSocket: queued messages. */
    http__msg_t *head, *tail;
    size_t queued, queued_bytes;
    struct http__session *next, *prev; /* the server's list of waiting or live sessions */
    bool listed;
    char *set_cookie; /* a token that came in the URL: remembered by the browser (malloc'd) */
} http__session_t;

struct http {
    struct lws_context *ctx;
    http__session_t *sessions;
    size_t ws_clients;
    unsigned long ws_resyncs; /* clients sent a snapshot for being too far behind */
    cd_throttle_t *snapshots; /* by peer address: HTTP_SNAPSHOT_* (http_api.c) */
    uint64_t render_after;    /* loop time before which no snapshot is rendered (HTTP_RENDER_*) */
    uv_timer_t *render_timer; /* serves the sessions waiting for it; owned, freed on close */
    unsigned long renders;
    double last_render_s;
};

/* libwebsockets callbacks reach the server through this (http.c; NULL once closed). */
extern server_t *http__server;

/* http.c */
void http__list(http_t *h, http__session_t *s); /* waits for a commit, or is a live client */
/* s wants a snapshot: rendered now from the engine and handed over (queued, or answered)
 * once everything it shows has committed — at once when nothing is in flight. */
void http__want_snapshot(server_t *self, http__session_t *s);

/* http_api.c */
int http__route(struct lws *wsi, http__session_t *s, const char *uri); /* LWS_CALLBACK_HTTP */
/* Sends headers now and body (malloc'd, taken) when writeable. */
int http__respond(struct lws *wsi, http__session_t *s, unsigned status, const char *type,
                  char *body, size_t len);
bool http__token_ok(struct lws *wsi, http__session_t *s); /* s NULL: a WebSocket upgrade */
/* A WebSocket upgrade, its token checked: false (refused with 503 and why) when --max-ws
 * clients are connected.  Not limited by address: a room of screens (or the bench's hundred)
 * may connect at once, and the sessions waiting for a snapshot share one rendering. */
bool http__ws_admit(struct lws *wsi);
void http__forget_report(http__session_t *s); /* the session closes: drop the answer */

#endif
