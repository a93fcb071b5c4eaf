/*  units.c — the units socket: tablets of responding units.
 *
 *  A tablet (DEALER) says Hello with its unit id; that binds its connection (ZeroMQ routing
 *  id) to the unit until another connection says Hello for the same unit.  Bound tablets may
 *  ack, decline, report status and position — for their own unit only.
 *
 *  Pushes: every committed change of an assignment goes to its unit's tablet, with the
 *  change's event seq; after Hello the unit's active assignment is sent again if the tablet
 *  has not seen its latest seq.  Nothing is pushed before it is committed.
 *
 *  Liveness: ZMTP heartbeats on the socket make libzmq drop a silent peer; a socket monitor
 *  reports the drop with the connection's file descriptor, which we learned from the
 *  tablet's messages (ZMQ_SRCFD), and the unit's link goes down (an event: the engine stops
 *  recommending the unit once it has been gone --unreachable-after-s).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "server_priv.h"

#define UNITS_HWM       10000
#define MONITOR_ADDRESS "inproc://codispatch-units-monitor"

typedef struct unit_link {
    char unit_id[CD_UNIT_ID_MAX + 1];
    char key[CD_KEY_NAME_MAX + 1]; /* the key its tablet said Hello with ("" security off) */
    route_t route;
    int fd; /* the connection's file descriptor as libzmq reports it; -1 unknown */
    bool connected;
    UT_hash_handle hh;       /* by unit id */
    UT_hash_handle hh_route; /* by routing id */
} unit_link_t;

/* A push rendered at flush, sent when its batch commits. */
typedef struct unit_push {
    int64_t seq;
    char unit_id[CD_UNIT_ID_MAX + 1];
    uint8_t *buf;
    size_t len;
} unit_push_t;

struct units {
    zsock_t *sock;
    unit_push_t *pending;
    size_t n_pending, cap_pending;
    zsock_t *monitor;
    int heartbeat_ms;
    unit_link_t *by_unit;
    unit_link_t *by_route;
};

static unit_link_t *s_by_route(units_t *u, const route_t *to)
{
    unit_link_t *l = NULL;
    HASH_FIND(hh_route, u->by_route, to->id, to->id_len, l);
    return l;
}

static void s_unbind_route(units_t *u, unit_link_t *l)
{
    if (l->route.id_len)
        HASH_DELETE(hh_route, u->by_route, l);
    l->route.id_len = 0;
}

/* The link went down or up: tell the engine (an event, so recommendations follow). */
static void s_link_changed(server_t *self, unit_link_t *l, bool up)
{
    l->connected = up;
    if (store_state(self->store) != STORE_READY)
        return; /* the next Hello after the database returns sets it again */
    cd_ctx_t ctx = {.now_ms = server_now_ms(), .actor = "system", .request_id = NULL};
    cd_error_t err;
    cd_engine_unit_link(self->engine, &ctx, l->unit_id, up, &err);
}

/* Sends the unit's latest assignment — active, or ended while the tablet was away (so it
 * learns that an offer timed out or a call was cancelled) — if the tablet has not seen its
 * latest change. */
static void s_resync(server_t *self, unit_link_t *l, uint64_t last_seq)
{
    const cd_assignment_t *a = cd_engine_unit_latest_assignment(self->engine, l->unit_id);
    if (!a || (uint64_t)a->last_seq <= last_seq)
        return;
    size_t len;
    uint8_t *buf = wire_pack_assignment((uint64_t)a->last_seq, a, cd_assign_status_name(a->status),
                                        cd_engine_find_call(self->engine, a->call_id), &len);
    /* Held like a reply until that change is committed (and sent after the Welcome). */
    server_reply(self, &l->route, "", a->last_seq, buf, len);
}

static void s_hello(server_t *self, const route_t *to, const char *rid,
                    const Codispatch__V1__Hello *m, int fd, const sec_peer_t *peer)
{
    units_t *units = self->units;
    if (store_state(self->store) != STORE_READY) {
        server_refuse(self, to, rid, CD_EUNAVAIL, "",
                      "the database is unavailable; say Hello again shortly");
        return;
    }
    const cd_unit_t *u = m->unit_id ? cd_engine_find_unit(self->engine, m->unit_id) : NULL;
    if (!u) {
        char msg[128];
        snprintf(msg, sizeof msg, "unit %.32s is not on the roster", m->unit_id ? m->unit_id : "");
        server_refuse(self, to, rid, m->unit_id && *m->unit_id ? CD_ENOTFOUND : CD_EINVAL,
                      "unit_id", msg);
        return;
    }
    /* This connection may have spoken for another unit before: it speaks for this one now. */
    unit_link_t *prev = s_by_route(units, to);
    if (prev && strcmp(prev->unit_id, u->id) != 0)
        s_unbind_route(units, prev);
    unit_link_t *l = NULL;
    HASH_FIND_STR(units->by_unit, u->id, l);
    if (!l) {
        l = cd_xcalloc(1, sizeof *l);
        cd_copy(l->unit_id, sizeof l->unit_id, u->id);
        l->fd = -1;
        HASH_ADD_STR(units->by_unit, unit_id, l);
    }
    if (l->route.id_len &&
        (l->route.id_len != to->id_len || memcmp(l->route.id, to->id, to->id_len) != 0))
        s_unbind_route(units, l); /* the newest connection for a unit wins */
    if (!l->route.id_len) {
        l->route = *to;
        HASH_ADD(hh_route, units->by_route, route.id, l->route.id_len, l);
    }
    l->fd = fd;
    cd_copy(l->key, sizeof l->key, peer->name);
    if (!u->link_up)
        s_link_changed(self, l, true);
    l->connected = true;
    size_t len;
    uint8_t *buf =
        wire_pack_welcome(rid, (uint64_t)cd_engine_last_seq(self->engine), u, self->engine,
                          server_now_ms(), (uint32_t)units->heartbeat_ms, CODISPATCH_VERSION, &len);
    server_reply(self, to, rid, cd_engine_last_seq(self->engine), buf, len);
    s_resync(self, l, m->has_last_seq ? m->last_seq : 0);
}

static void s_on_message(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg)
{
    server_t *self = arg;
    route_t to;
    zmq_msg_t *body = server_route_message(self, sock, frames, n, truncated, &to);
    if (!body)
        return;
    int fd = zmq_msg_get(body, ZMQ_SRCFD);
    char rid[CD_REQUEST_ID_MAX + 1];
    cd_error_t err;
    wire_env_t *env = wire_decode(zmq_msg_data(body), zmq_msg_size(body), rid, &err);
    if (!env) {
        server_reply_error(self, &to, rid, 0, &err);
        return;
    }
    sec_peer_t peer;
    if (!security_identify(self, &to, rid, body, &peer) ||
        !security_permit(self, &to, rid, &peer, env, SEC_UNITS)) {
        wire_free(env);
        return;
    }
    unit_link_t *l = s_by_route(self->units, &to);
    if (env->body_case == CODISPATCH__V1__ENVELOPE__BODY_HELLO) {
        s_hello(self, &to, rid, env->hello, fd, &peer);
    } else if (!wire_is_tablet_body(env)) {
        server_refuse(self, &to, rid, CD_EINVAL, "body",
                      "the units endpoint takes Hello, Ack, Decline, StatusUpdate and Position; "
                      "dispatcher requests go to the control endpoint");
    } else if (!l) {
        server_refuse(self, &to, rid, CD_EUNAUTH, "unit_id",
                      "this connection has not said Hello: say which unit it is first");
    } else if (peer.secured &&
               (strcmp(peer.unit_id, l->unit_id) != 0 || strcmp(peer.name, l->key) != 0)) {
        /* A routing id is the tablet's own choice: a connection of another key that took
         * this route over (ROUTER_HANDOVER) must not act for the unit the route was bound to. */
        char msg[CD_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg,
                 "key %s may not act on the connection unit %s said Hello on with key %s; say "
                 "Hello for your own unit",
                 peer.name, l->unit_id, l->key);
        server_refuse(self, &to, rid, CD_EPERM, "unit_id", msg);
    } else {
        if (fd >= 0)
            l->fd = fd;
        if (!l->connected) /* traffic again after a drop on the same routing id */
            s_link_changed(self, l, true);
        server_command_as(self, &to, env, l->unit_id, &peer);
    }
    wire_free(env);
}

/* Socket monitor events: [uint16 event, uint32 value][endpoint]. */
static void s_on_monitor(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg)
{
    (void)sock;
    (void)truncated;
    server_t *self = arg;
    if (n < 1 || zmq_msg_size(&frames[0]) < 6)
        return;
    const uint8_t *d = zmq_msg_data(&frames[0]);
    uint16_t event;
    uint32_t value;
    memcpy(&event, d, sizeof event);
    memcpy(&value, d + 2, sizeof value);
    if (event != ZMQ_EVENT_DISCONNECTED)
        return;
    for (unit_link_t *l = self->units->by_unit; l; l = l->hh.next)
        if (l->connected && l->fd == (int)value) {
            l->fd = -1;
            s_link_changed(self, l, false);
        }
}

int units_open(server_t *self, const char *endpoint, int heartbeat_ms, char *err, size_t errlen)
{
    units_t *u = cd_xcalloc(1, sizeof *u);
    self->units = u;
    u->heartbeat_ms = heartbeat_ms;
    u->sock = zsock_new(self->loop, self->zctx, ZMQ_ROUTER, s_on_message, self);
    if (!u->sock) {
        snprintf(err, errlen, "cannot create the units socket");
        return -1;
    }
    void *raw = zsock_raw(u->sock);
    int hwm = UNITS_HWM, ivl = heartbeat_ms, timeout = heartbeat_ms * 3, handover = 1;
    int64_t maxmsg = WIRE_MAX_MESSAGE + 1024;
    /* A tablet reconnecting with its routing id takes over at once from its dead pipe. */
    zmq_setsockopt(raw, ZMQ_ROUTER_HANDOVER, &handover, sizeof handover);
    zmq_setsockopt(raw, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(raw, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(raw, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(raw, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(raw, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    security_apply(self, raw, SEC_UNITS);
    if (zmq_socket_monitor(raw, MONITOR_ADDRESS, ZMQ_EVENT_DISCONNECTED) != 0) {
        snprintf(err, errlen, "cannot monitor the units socket: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    u->monitor = zsock_new(self->loop, self->zctx, ZMQ_PAIR, s_on_monitor, self);
    if (!u->monitor || zsock_connect(u->monitor, MONITOR_ADDRESS, err, errlen) != 0)
        return -1;
    return zsock_bind(u->sock, endpoint, err, errlen);
}

const char *units_endpoint(const server_t *self)
{
    return self->units && self->units->sock ? zsock_endpoint(self->units->sock) : "";
}

size_t units_connected(const server_t *self)
{
    size_t n = 0;
    for (unit_link_t *l = self->units ? self->units->by_unit : NULL; l; l = l->hh.next)
        n += l->connected;
    return n;
}

void units_close(server_t *self)
{
    units_t *u = self->units;
    if (!u)
        return;
    if (u->sock)
        zmq_socket_monitor(zsock_raw(u->sock), NULL, 0);
    zsock_destroy(&u->monitor);
    zsock_destroy(&u->sock);
    HASH_CLEAR(hh_route, u->by_route);
    for (size_t i = 0; i < u->n_pending; i++)
        free(u->pending[i].buf);
    free(u->pending);
    unit_link_t *l, *tmp;
    HASH_ITER(hh, u->by_unit, l, tmp)
    {
        HASH_DELETE(hh, u->by_unit, l);
        free(l);
    }
    free(u);
    self->units = NULL;
}

/* ------------------------------------------------------------------ pushes after commit */

static const char *s_status_of(const cd_event_t *ev)
{
    switch (ev->kind) {
    case CD_EV_ASSIGN_OFFERED:
        return "offered";
    case CD_EV_ASSIGN_ACKED:
        return "acknowledged";
    case CD_EV_ASSIGN_DECLINED:
        return "declined";
    case CD_EV_ASSIGN_TIMED_OUT:
        return "timed_out";
    case CD_EV_ASSIGN_CLEARED:
        return "cleared";
    case CD_EV_ASSIGN_PROGRESS: {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(ev->payload, "status");
        return cJSON_IsString(st) ? st->valuestring : NULL;
    }
    default:
        return NULL;
    }
}

void units_on_flush(server_t *self, const cd_event_log_t *events)
{
    units_t *units = self->units;
    if (!units)
        return;
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        const char *status = s_status_of(ev);
        if (!status)
            continue;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev->payload, "assignment_id");
        const cd_assignment_t *a =
            cd_engine_find_assignment(self->engine, cJSON_IsString(id) ? id->valuestring : NULL);
        if (!a)
            continue;
        /* Rendered now: the engine holds exactly this batch's state, nothing later. */
        unit_push_t p = {.seq = ev->seq};
        cd_copy(p.unit_id, sizeof p.unit_id, ev->unit_id);
        p.buf = wire_pack_assignment((uint64_t)ev->seq, a, status,
                                     cd_engine_find_call(self->engine, a->call_id), &p.len);
        if (units->n_pending == units->cap_pending) {
            units->cap_pending = units->cap_pending ? units->cap_pending * 2 : 32;
            units->pending =
                cd_xrealloc(units->pending, units->cap_pending * sizeof *units->pending);
        }
        units->pending[units->n_pending++] = p;
    }
}

void units_on_committed(server_t *self, int64_t seq)
{
    units_t *units = self->units;
    if (!units)
        return;
    size_t done = 0;
    for (; done < units->n_pending && units->pending[done].seq <= seq; done++) {
        unit_push_t *p = &units->pending[done];
        unit_link_t *l = NULL;
        HASH_FIND_STR(units->by_unit, p->unit_id, l);
        /* Sent even if we think the link is down: a reconnect keeps the routing id, and a
         * message to a gone peer is simply dropped. */
        if (l && l->route.id_len)
            route_send(&l->route, p->buf, p->len);
        free(p->buf);
    }
    if (!done)
        return;
    memmove(units->pending, units->pending + done,
            (units->n_pending - done) * sizeof *units->pending);
    units->n_pending -= done;
}

void units_on_lost(server_t *self)
{
    units_t *units = self->units;
    if (!units)
        return;
    for (size_t i = 0; i < units->n_pending; i++)
        free(units->pending[i].buf);
    units->n_pending = 0;
}

void units_on_ready(server_t *self)
{
    /* The loaded state may say a tablet is connected that is not (the server restarted, or a
     * change could not be recorded while the database was away): make it say what is true. */
    units_t *units = self->units;
    if (!units)
        return;
    size_t n = cd_engine_unit_count(self->engine);
    const cd_unit_t **all = cd_xcalloc(n ? n : 1, sizeof *all);
    n = cd_engine_list_units(self->engine, 0, n, all);
    cd_ctx_t ctx = {.now_ms = server_now_ms(), .actor = "system", .request_id = NULL};
    for (size_t i = 0; i < n; i++) {
        unit_link_t *l = NULL;
        HASH_FIND_STR(units->by_unit, all[i]->id, l);
        bool up = l && l->connected;
        cd_error_t err;
        if (all[i]->link_up != up)
            cd_engine_unit_link(self->engine, &ctx, all[i]->id, up, &err);
    }
    free(all);
}

void units_on_key_revoked(server_t *self, const char *key_name)
{
    units_t *units = self->units;
    if (!units)
        return;
    for (unit_link_t *l = units->by_unit; l; l = l->hh.next)
        if (l->key[0] && strcmp(l->key, key_name) == 0 && l->route.id_len) {
            /* No more pushes to it; its next message is refused (UNAUTHENTICATED). */
            s_unbind_route(units, l);
            l->key[0] = '\0';
            if (l->connected) {
                l->fd = -1;
                s_link_changed(self, l, false);
            }
        }
}
