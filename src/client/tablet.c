/*  tablet.c — the tablet client of libcodispatch (see codispatch.h, "Tablet client").
 *
 *  One DEALER socket with a stable routing id (so the server keeps the binding across a
 *  reconnection), a Hello loop until the server welcomes us and then a Hello every
 *  HELLO_KEEPALIVE_MS (a restarted server learns who we are and resends what we missed),
 *  and a list of requests awaiting replies, resent with the same request id.
 */
#include <codispatch/codispatch.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "client_priv.h"

#define HELLO_RETRY_MS     1000
#define HELLO_KEEPALIVE_MS 10000
#define RESEND_MS          1000
#define GIVE_UP_MS         30000
#define HEARTBEAT_MS       2000
#define MAX_PENDING        64
#define CDC_CLIENT_VERSION "0.1.0"

typedef struct s_request {
    char rid[33];
    uint8_t *bytes;
    size_t len;
    int64_t first_ms, next_ms; /* next_ms 0: send at the next process() */
} s_request_t;

struct cdc_tablet {
    void *zctx;
    void *sock;
    char unit_id[65];
    cdc_tablet_callbacks_t cb;
    uint64_t last_seq;
    bool welcomed;
    int64_t next_hello_ms;
    char hello_rid[33];
    s_request_t pending[MAX_PENDING];
    size_t n_pending;
};

/* ------------------------------------------------------------------ lifecycle */

cdc_tablet_t *cdc_tablet_new(const char *endpoint, const char *unit_id, uint64_t last_seq,
                             const cdc_tablet_callbacks_t *cb)
{
    return cdc_tablet_new_secure(endpoint, unit_id, last_seq, cb, NULL);
}

cdc_tablet_t *cdc_tablet_new_secure(const char *endpoint, const char *unit_id, uint64_t last_seq,
                                    const cdc_tablet_callbacks_t *cb, const cdc_keys_t *keys)
{
    if (!endpoint || !*endpoint || !unit_id || !*unit_id || strlen(unit_id) > 64 || !cb)
        return NULL;
    cdc_tablet_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->unit_id, sizeof self->unit_id, "%s", unit_id);
    self->cb = *cb;
    self->last_seq = last_seq;
    self->zctx = zmq_ctx_new();
    self->sock = self->zctx ? zmq_socket(self->zctx, ZMQ_DEALER) : NULL;
    if (!self->sock) {
        cdc_tablet_destroy(&self);
        return NULL;
    }
    /* A routing id of our own: the server's binding survives a reconnection. */
    char rid[33], routing[128];
    cdc_request_id(rid);
    snprintf(routing, sizeof routing, "tablet:%s:%.12s", unit_id, rid);
    int linger = 0, reconnect = 100, reconnect_max = 2000, ivl = HEARTBEAT_MS,
        timeout = HEARTBEAT_MS * 3;
    zmq_setsockopt(self->sock, ZMQ_ROUTING_ID, routing, strlen(routing));
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(self->sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    /* With several endpoints (a primary and its standbys), queue only on live connections:
     * otherwise a Hello could wait in the pipe of a server that is not there. */
    if (strchr(endpoint, ',')) {
        int immediate = 1;
        zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    }
    if ((keys && cdc_keys_apply(self->sock, keys) != CDC_OK) ||
        cdc__connect_endpoints(self->sock, endpoint) < 0) {
        cdc_tablet_destroy(&self);
        return NULL;
    }
    return self;
}

void cdc_tablet_destroy(cdc_tablet_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cdc_tablet_t *self = *self_p;
    for (size_t i = 0; i < self->n_pending; i++)
        free(self->pending[i].bytes);
    if (self->sock)
        zmq_close(self->sock);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    free(self);
    *self_p = NULL;
}

int cdc_tablet_fd(const cdc_tablet_t *self)
{
    int fd = -1;
    size_t len = sizeof fd;
    zmq_getsockopt(self->sock, ZMQ_FD, &fd, &len);
    return fd;
}

bool cdc_tablet_welcomed(const cdc_tablet_t *self)
{
    return self->welcomed;
}

uint64_t cdc_tablet_last_seq(const cdc_tablet_t *self)
{
    return self->last_seq;
}

size_t cdc_tablet_pending(const cdc_tablet_t *self)
{
    return self->n_pending;
}

/* ------------------------------------------------------------------ sending */

static uint8_t *s_pack(Codispatch__V1__Envelope *env, const char *rid, size_t *len)
{
    env->has_version = true;
    env->version = CDC_PROTOCOL_VERSION;
    env->request_id = (char *)rid;
    *len = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf)
        codispatch__v1__envelope__pack(env, buf);
    return buf;
}

static void s_send_hello(cdc_tablet_t *self, int64_t now)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Hello m = CODISPATCH__V1__HELLO__INIT;
    m.unit_id = self->unit_id;
    m.has_last_seq = true;
    m.last_seq = self->last_seq;
    m.client_version = "libcodispatch/" CDC_CLIENT_VERSION;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    env.hello = &m;
    cdc_request_id(self->hello_rid);
    size_t len;
    uint8_t *buf = s_pack(&env, self->hello_rid, &len);
    bool sent = buf && zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) >= 0;
    free(buf);
    /* Not sent (no live connection: a server between primaries): try again soon. */
    self->next_hello_ms = now + (self->welcomed && sent ? HELLO_KEEPALIVE_MS : HELLO_RETRY_MS);
}

/* Queues a request; process() sends it (now) and resends it until it is answered. */
static int s_request(cdc_tablet_t *self, Codispatch__V1__Envelope *env, char rid_out[33])
{
    if (self->n_pending == MAX_PENDING)
        return CDC_EINVAL;
    s_request_t *r = &self->pending[self->n_pending];
    cdc_request_id(r->rid);
    r->bytes = s_pack(env, r->rid, &r->len);
    if (!r->bytes)
        return CDC_ESYS;
    r->first_ms = r->next_ms = 0;
    self->n_pending++;
    if (rid_out)
        memcpy(rid_out, r->rid, 33);
    return CDC_OK;
}

int cdc_tablet_ack(cdc_tablet_t *self, const char *call_id, char rid[33])
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Ack m = CODISPATCH__V1__ACK__INIT;
    m.call_id = (char *)(call_id ? call_id : "");
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ACK;
    env.ack = &m;
    return s_request(self, &env, rid);
}

int cdc_tablet_decline(cdc_tablet_t *self, const char *call_id, const char *reason, char rid[33])
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Decline m = CODISPATCH__V1__DECLINE__INIT;
    m.call_id = (char *)(call_id ? call_id : "");
    m.reason = (char *)reason;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_DECLINE;
    env.decline = &m;
    return s_request(self, &env, rid);
}

int cdc_tablet_status(cdc_tablet_t *self, Codispatch__V1__UnitStatus status, char rid[33])
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusUpdate m = CODISPATCH__V1__STATUS_UPDATE__INIT;
    m.has_status = true;
    m.status = status;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE;
    env.status_update = &m;
    return s_request(self, &env, rid);
}

int cdc_tablet_position(cdc_tablet_t *self, double lat, double lon, int64_t at_ms, char rid[33])
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Position m = CODISPATCH__V1__POSITION__INIT;
    m.has_lat = m.has_lon = m.has_at_ms = true;
    m.lat = lat;
    m.lon = lon;
    m.at_ms = at_ms;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_POSITION;
    env.position = &m;
    return s_request(self, &env, rid);
}

/* ------------------------------------------------------------------ receiving */

static void s_finish(cdc_tablet_t *self, size_t i, const Codispatch__V1__Envelope *reply)
{
    s_request_t r = self->pending[i];
    memmove(&self->pending[i], &self->pending[i + 1],
            (self->n_pending - i - 1) * sizeof self->pending[0]);
    self->n_pending--;
    if (self->cb.on_result)
        self->cb.on_result(self->cb.arg, r.rid, reply);
    free(r.bytes);
}

static bool s_transient(const Codispatch__V1__Envelope *env)
{
    return env->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR && env->error->has_code &&
           (env->error->code == CODISPATCH__V1__CODE__UNAVAILABLE ||
            env->error->code == CODISPATCH__V1__CODE__BUSY ||
            env->error->code == CODISPATCH__V1__CODE__UNAUTHENTICATED);
}

static void s_dispatch(cdc_tablet_t *self, const Codispatch__V1__Envelope *env, int64_t now)
{
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_WELCOME:
        self->welcomed = true;
        self->next_hello_ms = now + HELLO_KEEPALIVE_MS;
        if (self->cb.on_welcome)
            self->cb.on_welcome(self->cb.arg, env->welcome);
        return;
    case CODISPATCH__V1__ENVELOPE__BODY_ASSIGNMENT:
        /* Each change once, however often the server resends it. */
        if (env->has_seq && env->seq <= self->last_seq)
            return;
        if (env->has_seq)
            self->last_seq = env->seq;
        if (self->cb.on_assignment)
            self->cb.on_assignment(self->cb.arg, env->seq, env->assignment);
        return;
    default:
        break;
    }
    const char *rid = env->request_id ? env->request_id : "";
    if (strcmp(rid, self->hello_rid) == 0) {
        /* A passing refusal (the server's database is away): just say Hello again later.  A
         * lasting one (a unit not on the roster) goes to the application. */
        if (s_transient(env)) {
            self->next_hello_ms = now + HELLO_RETRY_MS;
            return;
        }
        if (self->cb.on_result)
            self->cb.on_result(self->cb.arg, rid, env);
        return;
    }
    for (size_t i = 0; i < self->n_pending; i++) {
        if (strcmp(self->pending[i].rid, rid) != 0)
            continue;
        if (s_transient(env)) {
            /* The server lost our binding (restart) or its database: Hello again, resend. */
            if (env->error->code == CODISPATCH__V1__CODE__UNAUTHENTICATED) {
                self->welcomed = false;
                self->next_hello_ms = now;
            }
            self->pending[i].next_ms = now + RESEND_MS;
            return;
        }
        s_finish(self, i, env);
        return;
    }
}

int cdc_tablet_process(cdc_tablet_t *self, int64_t now_ms)
{
    for (int budget = 0; budget < 1000; budget++) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        bool more = zmq_msg_more(&msg);
        Codispatch__V1__Envelope *env =
            more ? NULL
                 : codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
        zmq_msg_close(&msg);
        while (more) { /* we never expect multipart: drain and ignore */
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        if (env) {
            s_dispatch(self, env, now_ms);
            codispatch__v1__envelope__free_unpacked(env, NULL);
        }
    }
    if (now_ms >= self->next_hello_ms)
        s_send_hello(self, now_ms);
    int64_t next = self->next_hello_ms;
    for (size_t i = 0; i < self->n_pending;) {
        s_request_t *r = &self->pending[i];
        if (!r->first_ms)
            r->first_ms = now_ms;
        if (now_ms - r->first_ms >= GIVE_UP_MS) {
            s_finish(self, i, NULL);
            continue;
        }
        /* Requests wait for the Welcome: the server would refuse them before it. */
        if (self->welcomed && now_ms >= r->next_ms) {
            zmq_send(self->sock, r->bytes, r->len, ZMQ_DONTWAIT);
            r->next_ms = now_ms + RESEND_MS;
        }
        if (self->welcomed && r->next_ms < next)
            next = r->next_ms;
        i++;
    }
    /* A send may have consumed the ZMQ_FD edge: look again before the caller sleeps. */
    int events = 0;
    size_t elen = sizeof events;
    zmq_getsockopt(self->sock, ZMQ_EVENTS, &events, &elen);
    if (events & ZMQ_POLLIN)
        return 0;
    int64_t wait = next - now_ms;
    return wait < 0 ? 0 : wait > RESEND_MS ? RESEND_MS : (int)wait;
}
