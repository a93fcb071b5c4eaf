/*  server_priv.h — the server's state, shared by its own source files only. */
#ifndef SERVER_PRIV_H
#define SERVER_PRIV_H

#include <stdint.h>

#include "cd_engine.h"
#include "cd_throttle.h"
#include "outbox.h"
#include "route.h"
#include "security.h"
#include "server.h"
#include "store.h"
#include "wire.h"
#include "zsock.h"

typedef struct units units_t;     /* units.c */
typedef struct live live_t;       /* live.c */
typedef struct http http_t;       /* http.c */
typedef struct reports reports_t; /* reports.c */

#define LIST_MAX 1000 /* most calls or alerts in one list reply */

/* SnapshotRequests one client may make: a burst, then so many a second.  Each renders every
 * open call and unit and may be queued (up to the socket's high-water mark) for a client that
 * never reads, so a client that asks without end is refused BUSY instead (control.c). */
#define CONTROL_SNAPSHOT_BURST 10
#define CONTROL_SNAPSHOT_PER_S 2
/* The same for /api/snapshot, by the peer's address: more, as the browsers behind one proxy
 * or NAT share it (http_api.c). */
#define HTTP_SNAPSHOT_BURST 20
#define HTTP_SNAPSHOT_PER_S 5
/* And whoever asks (any address, /ws and /api/snapshot together), a new snapshot is rendered
 * at most every HTTP_RENDER_GAP_MS, and never more than 1/HTTP_RENDER_LOOP_SHARE of the loop's
 * time (the wait after a rendering is (HTTP_RENDER_LOOP_SHARE - 1) times as long as it took):
 * with a large state, dashboards in a connect loop must not keep the loop from the consoles.
 * The sessions asking meanwhile wait and share the next one (http.c). */
#define HTTP_RENDER_GAP_MS     100
#define HTTP_RENDER_LOOP_SHARE 10

#define METRIC_KINDS    128 /* Envelope body cases */
#define METRIC_RESULTS  10  /* 0 ok, then -cd_code_t */
#define METRIC_BUCKETS  12
#define METRIC_REFUSALS 96 /* distinct (socket, code, field) rows; past that: field "other" */

/* Refusals (Error replies, HTTP 4xx) by where, code and field: metrics.c counts them. */
typedef struct metric_refusal {
    const char *socket; /* "control", "units", "http" (static strings) */
    int code;           /* a cd_code_t */
    char field[CD_ERROR_FIELD_MAX];
    unsigned long n;
} metric_refusal_t;

struct server {
    uv_loop_t *loop;
    void *zctx;
    zsock_t *control;
    units_t *units;
    live_t *live;
    http_t *http;
    security_t *security; /* security.c: keys, roles, ZAP, the HTTP token */
    reports_t *reports;   /* a second connection for reports, export and demographics */
    /* Metrics (metrics.c renders them). */
    unsigned long commands[METRIC_KINDS][METRIC_RESULTS];
    metric_refusal_t refusals[METRIC_REFUSALS];
    size_t n_refusals;
    unsigned long batch_size[METRIC_BUCKETS + 1], commit_ms[METRIC_BUCKETS + 1];
    unsigned long batches;
    double batch_events_sum, commit_seconds_sum;
    struct {
        int64_t last_seq;
        uint64_t ns;
        size_t events;
    } flushed[STORE_MAX_FLIGHT + 1]; /* when each batch in flight was sent, oldest first; one
                                      * more than the ring: the store sends the next batch
                                      * before it tells of the last commit */
    size_t n_flushed;
    cd_engine_t *engine;
    store_t *store;
    outbox_t *outbox;
    cd_throttle_t *snapshots; /* SnapshotRequests by client (control.c) */
    size_t max_ws;            /* --max-ws (http.c) */
    uv_prepare_t prepare;     /* flush the batch before the loop waits ... */
    uv_check_t check;         /* ... and right after a round of I/O */
    uv_timer_t housekeeping;
    uv_timer_t deadline; /* the engine's earliest timer (ack timeouts, alerts) */
    int64_t armed_for;   /* the deadline it is set for (INT64_MAX: none) */
    bool embedded;
    bool demo_roster; /* seed an empty roster once the state is loaded */
    bool stopping;
    uint64_t shutdown_deadline; /* loop time by which a stop stops waiting for commits */
    char *db_label;
    char *control_endpoint, *units_endpoint, *stream_endpoint, *http_address; /* configured */
    int heartbeat_ms;
    bool serving;       /* control, units and stream bound: this server holds the lock */
    bool standby_noted; /* "standby" said once in the log */
    int exit_status;    /* what main returns: 1 bind failure, 3 lock lost to another */
    unsigned long requests_in, errors_out;
};

/* Wall-clock milliseconds since the Unix epoch: the engine's notion of now. */
int64_t server_now_ms(void);
int64_t server_now_us(void); /* the same clock in microseconds */

/* control.c: handles one message from the control socket. */
void control_on_message(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg);

/* control_exec.c: runs one state-changing request on the engine and packs its reply into
 * *buf (malloc'd) — or refuses it with *err and records nothing. */
int control_execute(server_t *self, const wire_env_t *env, const cd_ctx_t *ctx, const char *unit_id,
                    uint8_t **buf, size_t *len, cd_error_t *err);

/* A state-changing request from the control socket (unit_id NULL, actor "console") or from a
 * tablet bound to unit_id (actor "unit:<id>"): idempotent by request_id, applied to the
 * engine, answered after commit. */
void server_command(server_t *self, const route_t *to, const wire_env_t *env, const char *unit_id);
/* The same for an identified sender (security on): the actor is the key's identity and the
 * request id is scoped to it (another key reusing it gets CONFLICT, never this reply). */
void server_command_as(server_t *self, const route_t *to, const wire_env_t *env,
                       const char *unit_id, const sec_peer_t *peer);
/* Fails a request now with code and a sentence. */
void server_refuse(server_t *self, const route_t *to, const char *rid, cd_code_t code,
                   const char *field, const char *msg);
/* Reads the routing id (and a REQ peer's delimiter) of a ROUTER message; returns its body
 * frame, or NULL (having answered) when the framing is wrong. */
zmq_msg_t *server_route_message(server_t *self, zsock_t *sock, zmq_msg_t *frames, size_t n,
                                bool truncated, route_t *to);

/* units.c: the units socket (tablets). */
int units_open(server_t *self, const char *endpoint, int heartbeat_ms, char *err, size_t errlen);
void units_close(server_t *self);
/* The endpoint the units socket is bound to ("" if none). */
const char *units_endpoint(const server_t *self);
/* Tablets connected now (links up). */
size_t units_connected(const server_t *self);
/* live.c: the XPUB stream; changes rendered at flush, published at commit. */
int live_open(server_t *self, const char *endpoint, char *err, size_t errlen);
void live_close(server_t *self);
const char *live_endpoint(const server_t *self);
long live_subscriptions(const server_t *self);
/* Disconnects every stream subscriber (they reconnect through ZAP again): how a revoked key
 * loses a subscription it opened before, since XPUB cannot drop one peer. */
void live_drop_subscribers(server_t *self);
void live_on_flush(server_t *self, const cd_event_log_t *events);
void live_on_committed(server_t *self, int64_t seq, int64_t committed_us);
void live_on_lost(server_t *self);

/* http.c: dashboard, /api/snapshot, /ws, /metrics, /healthz, /readyz (libwebsockets). */
int http_open(server_t *self, const char *address, char *err, size_t errlen);
void http_close(server_t *self);
/* Once the loop has stopped: finishes tearing libwebsockets down. */
void http_finish(void);
void http_broadcast(server_t *self, const char *json, int64_t seq);
/* Hands out the snapshots whose state has committed (call before the changes are broadcast,
 * so that a board gets its snapshot first); also after a reload. */
void http_on_committed(server_t *self);
/* A batch was lost: snapshots showing its state are rendered again after the reload. */
void http_on_lost(server_t *self);
size_t http_ws_clients(const server_t *self);
typedef struct http_stats {
    size_t ws_queue_max;      /* the longest WebSocket queue (messages) */
    size_t ws_queued_bytes;   /* in all of them */
    unsigned long ws_resyncs; /* clients too far behind, started over from a snapshot */
    unsigned long snapshots_rendered;
    double last_render_s; /* how long the last rendering took */
} http_stats_t;
void http_stats(const server_t *self, http_stats_t *out);

/* metrics.c: Prometheus text (malloc'd); the bucket bounds the histograms use. */
char *metrics_render(const server_t *self);
void metrics_observe_flush(server_t *self, const cd_event_log_t *events);
void metrics_observe_commit(server_t *self, int64_t seq, uint64_t committed_ns);
void metrics_forget_flushed(server_t *self); /* the batches in flight were lost */
void metrics_count_command(server_t *self, int body_case, int rc);
/* Every refusal: socket "control" | "units" | "http", code a cd_code_t, field as in the
 * Error ("" when none).  Fields are names from the code, never from the peer, so the label
 * set stays small. */
void metrics_count_refusal(server_t *self, const char *socket, int code, const char *field);

/* Assignment changes for the units' tablets: rendered at flush, sent at commit. */
void units_on_flush(server_t *self, const cd_event_log_t *events);
void units_on_committed(server_t *self, int64_t seq);
void units_on_lost(server_t *self);
/* After (re)loading: the units' link state made to match the live connections. */
void units_on_ready(server_t *self);
/* A key was revoked: tablets that said Hello with it are unbound (no more pushes). */
void units_on_key_revoked(server_t *self, const char *key_name);
/* Reads answered from the engine's memory (units, plans, recommendations, alerts). */
bool control_is_query(const wire_env_t *env);
int control_query(server_t *self, const wire_env_t *env, const char *rid, uint8_t **buf,
                  size_t *len, cd_error_t *err);

/* control_reports.c: ReportRequest, ExportCalls, SetDemographics (on the reports connection). */
bool control_reports_handles(const wire_env_t *env);
void control_reports(server_t *self, const route_t *to, const wire_env_t *env,
                     const sec_peer_t *peer);

/* demo.c: adds the demo roster when the roster is empty. */
void demo_seed_roster(server_t *self);

/* Replies now, or as soon as `required` is committed (ownership of payload taken). */
void server_reply(server_t *self, const route_t *to, const char *request_id, int64_t required,
                  uint8_t *payload, size_t len);
/* Replies with an error, held like any reply that depends on state at `required`. */
void server_reply_error(server_t *self, const route_t *to, const char *request_id, int64_t required,
                        const cd_error_t *err);

#endif
