#include "server.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reports.h"
#include "server_priv.h"

#define HOUSEKEEPING_MS  60000
#define SHUTDOWN_WAIT_MS 3000 /* how long a stop waits for the batch in flight */
#define CONTROL_HWM      10000
#define MAX_FRAME        (1024 * 1024) /* larger frames make ZeroMQ drop the peer */

int64_t server_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t server_now_ms(void)
{
    return server_now_us() / 1000;
}

/* ------------------------------------------------------------------ replies */

void server_reply(server_t *self, const route_t *to, const char *request_id, int64_t required,
                  uint8_t *payload, size_t len)
{
    if (required <= store_committed_seq(self->store) && outbox_len(self->outbox) == 0) {
        route_send(to, payload, len);
        free(payload);
        return;
    }
    outbox_hold(self->outbox, to, request_id, required, payload, len);
}

void server_reply_error(server_t *self, const route_t *to, const char *request_id, int64_t required,
                        const cd_error_t *err)
{
    size_t len;
    self->errors_out++;
    /* The only two ROUTER sockets that answer with Envelopes. */
    metrics_count_refusal(self, to->sock == self->control ? "control" : "units", err->code,
                          err->field);
    uint8_t *buf =
        wire_pack_error(request_id, (uint64_t)store_committed_seq(self->store), err, &len);
    if (required <= store_committed_seq(self->store)) {
        /* Depends on nothing uncommitted: no need to queue behind held replies. */
        route_send(to, buf, len);
        free(buf);
        return;
    }
    outbox_hold(self->outbox, to, request_id, required, buf, len);
}

/* ------------------------------------------------------------------ store callbacks */

/* ------------------------------------------------------------------ engine timers */

static void s_arm_deadline(server_t *self);

/* The engine's clocks ran out: ack timeouts re-offer, late calls raise alerts.  Their events
 * join the next batch like any command's. */
static void s_on_deadline(uv_timer_t *t)
{
    server_t *self = t->data;
    self->armed_for = INT64_MAX;
    if (self->stopping || store_state(self->store) != STORE_READY)
        return; /* re-armed when the state is loaded again */
    cd_ctx_t ctx = {.now_ms = server_now_ms(), .actor = "system", .request_id = NULL};
    cd_engine_tick(self->engine, &ctx);
    store_flush(self->store);
    s_arm_deadline(self);
}

/* One uv_timer, set to the earliest deadline in the engine's state.  Deadlines are absolute
 * wall-clock times held in the state (and PostgreSQL), so they survive a restart. */
static void s_arm_deadline(server_t *self)
{
    if (self->stopping || !self->store || store_state(self->store) != STORE_READY)
        return;
    int64_t next = cd_engine_next_deadline(self->engine);
    if (next == self->armed_for)
        return;
    self->armed_for = next;
    if (next == INT64_MAX) {
        uv_timer_stop(&self->deadline);
        return;
    }
    int64_t delay = next - server_now_ms();
    if (delay < 0)
        delay = 0;
    /* Wake at least once a minute, so a wall clock that jumps is caught up with. */
    if (delay > 60000)
        delay = 60000;
    uv_timer_start(&self->deadline, s_on_deadline, (uint64_t)delay, 0);
}

static int s_open_control(server_t *self, const char *endpoint, char *err, size_t errlen);

/* The sockets clients connect to are bound only by the server that holds the database lock,
 * so clients given several endpoints are only ever connected to the primary. */
static int s_start_serving(server_t *self)
{
    char err[512];
    if (s_open_control(self, self->control_endpoint, err, sizeof err) != 0 ||
        units_open(self, self->units_endpoint, self->heartbeat_ms, err, sizeof err) != 0 ||
        live_open(self, self->stream_endpoint, err, sizeof err) != 0) {
        fprintf(stderr, "codispatchd: %s; stopping\n", err);
        self->exit_status = 1;
        server_shutdown(self);
        return -1;
    }
    self->serving = true;
    fprintf(stderr,
            "codispatchd: holding the database lock: serving control %s, units %s, "
            "stream %s\n",
            zsock_endpoint(self->control), units_endpoint(self), live_endpoint(self));
    return 0;
}

static void s_on_standby(void *arg, bool was_ready)
{
    server_t *self = arg;
    if (self->stopping)
        return;
    if (was_ready) {
        /* Another server won the lock while our connection was down: it is the primary now.
         * Serving on (even UNAVAILABLE answers) would keep clients on us; stop instead, and
         * let a supervisor start us again as a standby. */
        fprintf(stderr, "codispatchd: another codispatchd took the database lock while this "
                        "one was disconnected; stopping (exit status 3)\n");
        self->exit_status = 3;
        server_shutdown(self);
        return;
    }
    if (!self->standby_noted) {
        self->standby_noted = true;
        fprintf(stderr,
                "codispatchd: standby: another codispatchd holds the database lock; "
                "taking over when it is released (checking every %d ms)\n",
                STORE_STANDBY_POLL_MS);
    }
}

static void s_on_ready(void *arg)
{
    server_t *self = arg;
    if (self->stopping || (!self->serving && s_start_serving(self) != 0))
        return;
    units_on_ready(self);
    security_on_ready(self); /* may register the first admin key */
    store_flush(self->store);
    if (self->demo_roster) {
        self->demo_roster = false; /* once: a roster emptied on purpose stays empty */
        demo_seed_roster(self);
        store_flush(self->store);
    }
    self->armed_for = INT64_MIN; /* force */
    s_arm_deadline(self);
    http_on_committed(self); /* boards and /api/snapshot waiting through an outage */
}

static void s_on_committed(void *arg, int64_t seq, const cd_event_log_t *events)
{
    server_t *self = arg;
    /* Read when the store learnt of the commit, before it sent the next batch: the stream's
     * lag and the commit latency start there. */
    int64_t committed_us = store_commit_wall_us(self->store);
    metrics_observe_commit(self, seq, store_commit_mono_ns(self->store));
    security_on_committed(self, events);
    outbox_release(self->outbox, seq);
    units_on_committed(self, seq);
    http_on_committed(self); /* snapshots first: the changes after them queue behind */
    live_on_committed(self, seq, committed_us);
}

static void s_on_flush(void *arg, const cd_event_log_t *events)
{
    server_t *self = arg;
    metrics_observe_flush(self, events);
    units_on_flush(self, events);
    live_on_flush(self, events);
}

static void s_on_lost(void *arg, int64_t committed, const char *why)
{
    server_t *self = arg;
    metrics_forget_flushed(self);
    live_on_lost(self);
    http_on_lost(self);
    units_on_lost(self);
    if (outbox_len(self->outbox) == 0)
        return;
    cd_error_t err;
    cd_error_set(&err, CD_EUNAVAIL, "",
                 "the database became unavailable before this was saved; retry with the same "
                 "request_id (%.120s)",
                 why);
    outbox_fail(self->outbox, committed, &err);
}

/* ------------------------------------------------------------------ the loop's turn */

/* Seal and send the batch once per turn: after the I/O callbacks (check) and after timers
 * (prepare), so commands applied anywhere go out before the loop sleeps. */
static void s_on_check(uv_check_t *h)
{
    server_t *self = h->data;
    if (!self->store)
        return;
    /* New events may have started or ended a timer. */
    bool changed = cd_engine_events(self->engine)->len > 0;
    store_flush(self->store);
    if (changed)
        s_arm_deadline(self);
}

static void s_on_prepare(uv_prepare_t *h)
{
    server_t *self = h->data;
    if (self->store)
        store_flush(self->store);
}

static void s_on_housekeeping(uv_timer_t *t)
{
    server_t *self = t->data;
    if (self->store)
        store_housekeeping(self->store, server_now_ms());
}

/* ------------------------------------------------------------------ lifecycle */

static int s_open_control(server_t *self, const char *endpoint, char *err, size_t errlen)
{
    self->control = zsock_new(self->loop, self->zctx, ZMQ_ROUTER, control_on_message, self);
    if (!self->control) {
        snprintf(err, errlen, "cannot create the control socket");
        return -1;
    }
    void *raw = zsock_raw(self->control);
    int hwm = CONTROL_HWM;
    int64_t maxmsg = MAX_FRAME;
    zmq_setsockopt(raw, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(raw, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(raw, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    security_apply(self, raw, SEC_CONTROL);
    return zsock_bind(self->control, endpoint, err, errlen);
}

server_t *server_new(uv_loop_t *loop, const config_t *cfg, const char *conninfo, bool embedded,
                     const char *db_label, char *err, size_t errlen)
{
    server_t *self = cd_xcalloc(1, sizeof *self);
    self->loop = loop;
    self->embedded = embedded;
    self->demo_roster = cfg->demo_roster;
    self->db_label = cd_strdup(db_label);
    self->control_endpoint = cd_strdup(cfg->control);
    self->heartbeat_ms = (int)cfg->heartbeat_ms;
    self->units_endpoint = cd_strdup(cfg->units);
    self->stream_endpoint = cd_strdup(cfg->stream);
    self->http_address = cd_strdup(cfg->http);
    self->max_ws = (size_t)cfg->max_ws;
    self->zctx = zmq_ctx_new();
    self->engine = cd_engine_new();
    cd_engine_config_t ecfg = {.speed_kmh = (double)cfg->speed_kmh,
                               .language_bonus_s = (int)cfg->language_bonus_min * 60,
                               .max_missed_acks = (int)cfg->max_missed_acks,
                               .unreachable_after_s = (int)cfg->unreachable_after_s};
    cd_engine_set_config(self->engine, &ecfg);
    self->outbox = outbox_new();
    self->snapshots = cd_throttle_new(CONTROL_SNAPSHOT_BURST, CONTROL_SNAPSHOT_PER_S, 4096);

    store_options_t opt = {
        .conninfo = conninfo,
        .request_retention_ms = cfg->request_retention_h * 3600LL * 1000,
        .max_batch_commands = (size_t)cfg->max_batch,
    };
    store_callbacks_t cb = {.on_ready = s_on_ready,
                            .on_lost = s_on_lost,
                            .on_committed = s_on_committed,
                            .on_flush = s_on_flush,
                            .on_standby = s_on_standby};
    self->store = store_new(loop, &opt, self->engine, &cb, self);
    /* Reports never share the group-commit connection (a long query would stall commits). */
    self->reports = reports_new(loop, conninfo);

    uv_prepare_init(loop, &self->prepare);
    uv_check_init(loop, &self->check);
    uv_timer_init(loop, &self->housekeeping);
    uv_timer_init(loop, &self->deadline);
    self->armed_for = INT64_MAX;
    self->prepare.data = self->check.data = self->housekeeping.data = self->deadline.data = self;

    /* Keys and HTTP now (/healthz answers on a standby too); the rest once the lock is held. */
    if (security_open(self, cfg, err, errlen) != 0 ||
        http_open(self, cfg->http, err, errlen) != 0) {
        server_shutdown(self);
        uv_run(loop, UV_RUN_DEFAULT); /* let the handles close */
        server_destroy(&self);
        return NULL;
    }
    uv_prepare_start(&self->prepare, s_on_prepare);
    uv_check_start(&self->check, s_on_check);
    uv_timer_start(&self->housekeeping, s_on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
    store_start(self->store);
    return self;
}

void server_banner(const server_t *self, FILE *out)
{
    fprintf(out,
            "codispatchd %s\n"
            "  control   %-28s dispatcher consoles and the codispatch tool\n"
            "  units     %-28s unit tablets\n"
            "  stream    %-28s live status stream (XPUB)\n"
            "  http      http://%-21s dashboard, /reports, /metrics, /healthz, /readyz\n"
            "  database  %s\n"
            "Press Ctrl-C to stop.\n",
            CODISPATCH_VERSION,
            self->control ? zsock_endpoint(self->control) : self->control_endpoint,
            self->units ? units_endpoint(self) : self->units_endpoint,
            self->live ? live_endpoint(self) : self->stream_endpoint, self->http_address,
            self->db_label);
    if (!self->serving)
        fprintf(out, "(control, units and stream are bound once this server holds the "
                     "database lock; a second server on the same database waits as a "
                     "standby)\n");
    fflush(out);
}

/* The last step of a stop: close everything so that uv_run returns. */
static void s_teardown(server_t *self)
{
    int64_t committed = store_committed_seq(self->store);
    /* Reports first: the answers of those it fails (UNAVAILABLE) still read the store. */
    reports_destroy(&self->reports);
    store_destroy(&self->store); /* fails reads in flight: they answer UNAVAILABLE */
    cd_error_t err;
    cd_error_set(&err, CD_EUNAVAIL, "",
                 "the server stopped before this was saved; retry with the same request_id");
    outbox_fail(self->outbox, committed, &err);
    zsock_destroy(&self->control);
    units_close(self);
    live_close(self);
    http_close(self);
    security_close(self);
    uv_close((uv_handle_t *)&self->prepare, NULL);
    uv_close((uv_handle_t *)&self->check, NULL);
    uv_close((uv_handle_t *)&self->housekeeping, NULL);
    uv_close((uv_handle_t *)&self->deadline, NULL);
}

static void s_on_shutdown_tick(uv_timer_t *t)
{
    server_t *self = t->data;
    if (outbox_len(self->outbox) == 0 || store_state(self->store) != STORE_READY ||
        uv_now(self->loop) >= self->shutdown_deadline) {
        uv_timer_stop(t);
        s_teardown(self);
    }
}

void server_shutdown(server_t *self)
{
    if (self->stopping)
        return;
    self->stopping = true;
    if (!self->store) {
        s_teardown(self);
        return;
    }
    /* Let the batch in flight commit, so its clients get their real answer. */
    store_flush(self->store);
    self->shutdown_deadline = uv_now(self->loop) + SHUTDOWN_WAIT_MS;
    uv_timer_stop(&self->housekeeping);
    uv_timer_stop(&self->deadline);
    uv_timer_start(&self->housekeeping, s_on_shutdown_tick, 0, 10);
}

int server_exit_status(const server_t *self)
{
    return self->exit_status;
}

void server_destroy(server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    server_t *self = *self_p;
    *self_p = NULL;
    http_finish();
    cd_engine_destroy(&self->engine);
    outbox_destroy(&self->outbox);
    cd_throttle_destroy(&self->snapshots);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    free(self->db_label);
    free(self->control_endpoint);
    free(self->units_endpoint);
    free(self->stream_endpoint);
    free(self->http_address);
    free(self);
}
