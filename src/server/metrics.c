/*  metrics.c — Prometheus text for /metrics.
 *
 *  Counters live in server_t and are bumped where things happen (commands in control.c,
 *  batches in server.c); gauges are read from the engine when scraped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "server_priv.h"

/* Histogram bucket bounds: events per batch, and commit latency in milliseconds. */
static const double s_size_le[METRIC_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};
static const double s_ms_le[METRIC_BUCKETS] = {0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000};

static void s_bucket(unsigned long *counts, const double *le, double v)
{
    int i = 0;
    while (i < METRIC_BUCKETS && v > le[i])
        i++;
    counts[i]++; /* counts[METRIC_BUCKETS] is +Inf */
}

void metrics_observe_flush(server_t *self, const cd_event_log_t *events)
{
    if (self->n_flushed == STORE_MAX_FLIGHT + 1) /* cannot happen: the store sends no more */
        return;
    self->flushed[self->n_flushed].last_seq = events->items[events->len - 1].seq;
    self->flushed[self->n_flushed].ns = uv_hrtime();
    self->flushed[self->n_flushed].events = events->len;
    self->n_flushed++;
}

/* Batches of replies only are not flushed through here, so a commit is matched by seq. */
void metrics_observe_commit(server_t *self, int64_t seq, uint64_t committed_ns)
{
    while (self->n_flushed && self->flushed[0].last_seq <= seq) {
        double ms = (double)(committed_ns - self->flushed[0].ns) / 1e6;
        /* Counted at commit, with the latency: a batch that never commits is in neither. */
        self->batch_events_sum += (double)self->flushed[0].events;
        s_bucket(self->batch_size, s_size_le, (double)self->flushed[0].events);
        self->n_flushed--;
        memmove(self->flushed, self->flushed + 1, self->n_flushed * sizeof self->flushed[0]);
        self->batches++;
        self->commit_seconds_sum += ms / 1000.0;
        s_bucket(self->commit_ms, s_ms_le, ms);
    }
}

void metrics_forget_flushed(server_t *self)
{
    self->n_flushed = 0;
}

void metrics_count_command(server_t *self, int body_case, int rc)
{
    int result = rc >= 0 ? 0 : -rc;
    if (body_case >= 0 && body_case < METRIC_KINDS && result < METRIC_RESULTS)
        self->commands[body_case][result]++;
}

static metric_refusal_t *s_refusal(server_t *self, const char *socket, int code, const char *field)
{
    for (size_t i = 0; i < self->n_refusals; i++)
        if (self->refusals[i].code == code && strcmp(self->refusals[i].socket, socket) == 0 &&
            strcmp(self->refusals[i].field, field) == 0)
            return &self->refusals[i];
    return NULL;
}

void metrics_count_refusal(server_t *self, const char *socket, int code, const char *field)
{
    field = field ? field : "";
    metric_refusal_t *r = s_refusal(self, socket, code, field);
    if (!r && self->n_refusals >= METRIC_REFUSALS - 1) {
        field = "other"; /* keep the table bounded: new fields share one row */
        r = s_refusal(self, socket, code, field);
    }
    if (!r && self->n_refusals < METRIC_REFUSALS) {
        r = &self->refusals[self->n_refusals++];
        r->socket = socket;
        r->code = code;
        cd_copy(r->field, sizeof r->field, field);
    }
    if (!r)
        r = &self->refusals[METRIC_REFUSALS - 1];
    r->n++;
}

typedef struct s_buf {
    char *p;
    size_t len, cap;
} s_buf_t;

static void s_add(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_add(s_buf_t *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 64);
        b->p = cd_xrealloc(b->p, b->cap);
    }
}

static void s_histogram(s_buf_t *b, const char *name, const char *help, const unsigned long *c,
                        const double *le, double scale, double sum, unsigned long count)
{
    s_add(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    unsigned long cum = 0;
    for (int i = 0; i < METRIC_BUCKETS; i++) {
        cum += c[i];
        s_add(b, "%s_bucket{le=\"%g\"} %lu\n", name, le[i] * scale, cum);
    }
    cum += c[METRIC_BUCKETS];
    s_add(b, "%s_bucket{le=\"+Inf\"} %lu\n%s_sum %g\n%s_count %lu\n", name, cum, name, sum, name,
          count);
}

char *metrics_render(const server_t *self)
{
    s_buf_t b = {.cap = 8192};
    b.p = cd_xmalloc(b.cap);
    b.p[0] = '\0';
    bool up = store_state(self->store) == STORE_READY;
    s_add(&b,
          "# HELP codispatch_database_up 1 when PostgreSQL is reachable and state loaded.\n"
          "# TYPE codispatch_database_up gauge\ncodispatch_database_up %d\n",
          up ? 1 : 0);
    s_add(&b, "# HELP codispatch_commands_total Commands by kind and result.\n"
              "# TYPE codispatch_commands_total counter\n");
    Codispatch__V1__Envelope probe = CODISPATCH__V1__ENVELOPE__INIT;
    for (int k = 0; k < METRIC_KINDS; k++)
        for (int r = 0; r < METRIC_RESULTS; r++) {
            if (!self->commands[k][r])
                continue;
            probe.body_case = (Codispatch__V1__Envelope__BodyCase)k;
            s_add(&b, "codispatch_commands_total{kind=\"%s\",result=\"%s\"} %lu\n",
                  wire_body_name(&probe), r == 0 ? "ok" : cd_code_name(-r), self->commands[k][r]);
        }
    s_add(&b, "# HELP codispatch_refusals_total Requests refused (Error replies, HTTP 4xx) by "
              "socket, code and field.\n# TYPE codispatch_refusals_total counter\n");
    for (size_t i = 0; i < self->n_refusals; i++)
        s_add(&b, "codispatch_refusals_total{socket=\"%s\",code=\"%s\",field=\"%s\"} %lu\n",
              self->refusals[i].socket, cd_code_name(self->refusals[i].code),
              self->refusals[i].field, self->refusals[i].n);
    s_histogram(&b, "codispatch_batch_events", "Events per committed batch (group commit).",
                self->batch_size, s_size_le, 1, self->batch_events_sum, self->batches);
    s_histogram(&b, "codispatch_commit_seconds", "Time from sending a batch to its COMMIT.",
                self->commit_ms, s_ms_le, 0.001, self->commit_seconds_sum, self->batches);
    unsigned long sent, behind, held;
    store_batch_counts(self->store, &sent, &behind, &held);
    s_add(&b,
          "# HELP codispatch_batches_sent_total Group-commit batches sent to PostgreSQL.\n"
          "# TYPE codispatch_batches_sent_total counter\ncodispatch_batches_sent_total %lu\n"
          "# HELP codispatch_batches_pipelined_total Batches sent while the one before was still "
          "in flight.\n# TYPE codispatch_batches_pipelined_total counter\n"
          "codispatch_batches_pipelined_total %lu\n"
          "# HELP codispatch_batches_held_total Batches held back while another was in flight, "
          "until they carried half the recent demand or that one committed.\n"
          "# TYPE codispatch_batches_held_total counter\ncodispatch_batches_held_total %lu\n",
          sent, behind, held);
    s_add(&b,
          "# HELP codispatch_requests_total Messages received on the sockets.\n"
          "# TYPE codispatch_requests_total counter\ncodispatch_requests_total %lu\n",
          self->requests_in);
    s_add(&b,
          "# HELP codispatch_stream_subscriptions Topic subscriptions on the stream.\n"
          "# TYPE codispatch_stream_subscriptions gauge\ncodispatch_stream_subscriptions %ld\n",
          live_subscriptions(self));
    s_add(&b,
          "# HELP codispatch_websocket_clients Dashboards connected over WebSocket.\n"
          "# TYPE codispatch_websocket_clients gauge\ncodispatch_websocket_clients %zu\n",
          http_ws_clients(self));
    http_stats_t hs;
    http_stats(self, &hs);
    s_add(&b,
          "# HELP codispatch_websocket_queue_max The longest WebSocket send queue (messages).\n"
          "# TYPE codispatch_websocket_queue_max gauge\ncodispatch_websocket_queue_max %zu\n"
          "# HELP codispatch_websocket_queued_bytes Bytes waiting in all WebSocket queues.\n"
          "# TYPE codispatch_websocket_queued_bytes gauge\n"
          "codispatch_websocket_queued_bytes %zu\n"
          "# HELP codispatch_websocket_resyncs_total Clients too far behind, sent a snapshot "
          "instead.\n# TYPE codispatch_websocket_resyncs_total counter\n"
          "codispatch_websocket_resyncs_total %lu\n"
          "# HELP codispatch_http_snapshots_rendered_total Snapshots rendered for /ws and "
          "/api/snapshot (each shared by the sessions waiting for it).\n"
          "# TYPE codispatch_http_snapshots_rendered_total counter\n"
          "codispatch_http_snapshots_rendered_total %lu\n"
          "# HELP codispatch_http_snapshot_render_seconds How long the last one took.\n"
          "# TYPE codispatch_http_snapshot_render_seconds gauge\n"
          "codispatch_http_snapshot_render_seconds %.6f\n",
          hs.ws_queue_max, hs.ws_queued_bytes, hs.ws_resyncs, hs.snapshots_rendered,
          hs.last_render_s);
    s_add(&b,
          "# HELP codispatch_tablets_connected Tablets connected on the units socket.\n"
          "# TYPE codispatch_tablets_connected gauge\ncodispatch_tablets_connected %zu\n",
          units_connected(self));
    if (!up)
        return b.p;

    s_add(&b,
          "# HELP codispatch_open_calls Calls not closed or cancelled.\n"
          "# TYPE codispatch_open_calls gauge\ncodispatch_open_calls %zu\n",
          cd_engine_open_calls(self->engine));
    uint32_t pending[4];
    unsigned long by_prio[5] = {0};
    int64_t oldest = 0, now = server_now_ms();
    cd_engine_pending_summary(self->engine, pending, &oldest);
    for (int p = 1; p <= 4; p++)
        by_prio[p] = pending[p - 1];
    s_add(&b, "# HELP codispatch_pending_calls Calls waiting for a unit, by priority.\n"
              "# TYPE codispatch_pending_calls gauge\n");
    for (int p = 1; p <= 4; p++)
        s_add(&b, "codispatch_pending_calls{priority=\"%d\"} %lu\n", p, by_prio[p]);
    s_add(&b,
          "# HELP codispatch_oldest_pending_seconds How long the longest-waiting call has "
          "waited.\n# TYPE codispatch_oldest_pending_seconds gauge\n"
          "codispatch_oldest_pending_seconds %.3f\n",
          oldest ? (double)(now - oldest) / 1000.0 : 0.0);

    s_add(&b, "# HELP codispatch_units Units on the roster by type and status.\n"
              "# TYPE codispatch_units gauge\n");
    size_t nu = cd_engine_unit_count(self->engine);
    const cd_unit_t **units = cd_xcalloc(nu ? nu : 1, sizeof *units);
    nu = cd_engine_list_units(self->engine, 0, nu, units);
    /* The list is by id; count type/status pairs with a small scan (rosters are hundreds). */
    for (size_t i = 0; i < nu; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen =
                strcmp(units[j]->type, units[i]->type) == 0 && units[j]->status == units[i]->status;
        if (seen)
            continue;
        unsigned long n = 0;
        for (size_t j = i; j < nu; j++)
            n +=
                strcmp(units[j]->type, units[i]->type) == 0 && units[j]->status == units[i]->status;
        s_add(&b, "codispatch_units{type=\"%s\",status=\"%s\"} %lu\n", units[i]->type,
              cd_unit_status_name(units[i]->status), n);
    }
    free(units);
    char *sec = security_metrics(self);
    s_add(&b, "%s", sec);
    free(sec);
    return b.p;
}
