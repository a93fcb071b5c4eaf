/*  live.c — live status: the XPUB stream and the dashboard's change feed.
 *
 *  When a batch is flushed, the engine's state is exactly the state after the batch's events,
 *  so that is when each event's change is rendered (protobuf for the stream, JSON for
 *  WebSocket clients).  The rendered changes wait here until their batch commits and are
 *  then published; if the batch is lost they are dropped.  Nothing is shown before it is
 *  durable, and nothing shown was later undone.
 *
 *  A slow subscriber cannot grow the server's memory: the XPUB high-water mark drops its
 *  messages (it sees the gap in seq and takes a new snapshot), and a WebSocket client whose
 *  queue is too long is sent a fresh snapshot instead (http.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

#define STREAM_HWM 10000
/* Bytes in one frame from a subscriber: a subscription is a flag and a topic prefix
 * ("call.C-42", "unit.MH-01"), but the limit applies to the CURVE handshake's commands too (its
 * INITIATE is about 300 bytes). */
#define STREAM_SUBSCRIPTION_MAX 1024

typedef struct live_msg {
    int64_t seq;
    char topic[96];
    uint8_t *pb;
    size_t pb_len;
    char *json;
} live_msg_t;

struct live {
    zsock_t *pub;
    live_msg_t *pending;
    size_t n, cap;
    long subscriptions;     /* live topic subscriptions on the stream */
    uint64_t last_stats_ms; /* loop time of the last "stats" message */
};

static void s_on_subscription(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg)
{
    (void)sock;
    (void)truncated;
    server_t *self = arg;
    if (n < 1 || zmq_msg_size(&frames[0]) < 1)
        return;
    const uint8_t *d = zmq_msg_data(&frames[0]);
    if (d[0] == 1)
        self->live->subscriptions++;
    else if (d[0] == 0 && self->live->subscriptions > 0)
        self->live->subscriptions--;
}

int live_open(server_t *self, const char *endpoint, char *err, size_t errlen)
{
    live_t *l = cd_xcalloc(1, sizeof *l);
    self->live = l;
    l->pub = zsock_new(self->loop, self->zctx, ZMQ_XPUB, s_on_subscription, self);
    if (!l->pub) {
        snprintf(err, errlen, "cannot create the stream socket");
        return -1;
    }
    int hwm = STREAM_HWM;
    zmq_setsockopt(zsock_raw(l->pub), ZMQ_SNDHWM, &hwm, sizeof hwm);
    /* Subscribers send only subscriptions (a flag byte and a topic prefix): a bigger frame
     * ends that connection instead of being kept in the topic trie. */
    int64_t maxmsg = STREAM_SUBSCRIPTION_MAX;
    zmq_setsockopt(zsock_raw(l->pub), ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    security_apply(self, zsock_raw(l->pub), SEC_STREAM);
    return zsock_bind(l->pub, endpoint, err, errlen);
}

const char *live_endpoint(const server_t *self)
{
    return self->live && self->live->pub ? zsock_endpoint(self->live->pub) : "";
}

static void s_free_msg(live_msg_t *m)
{
    free(m->pb);
    free(m->json);
}

void live_close(server_t *self)
{
    live_t *l = self->live;
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        s_free_msg(&l->pending[i]);
    free(l->pending);
    zsock_destroy(&l->pub);
    free(l);
    self->live = NULL;
}

/* Rebinding after live_drop_subscribers: the listener closes in libzmq's I/O thread, so the
 * port may still be taken for a millisecond; retried on a timer, never by waiting. */
typedef struct s_rebind {
    uv_timer_t timer;
    server_t *server;
    int tries;
    char endpoint[256];
} s_rebind_t;

static void s_rebind_closed(uv_handle_t *handle)
{
    free(handle->data);
}

static void s_on_rebind(uv_timer_t *timer)
{
    s_rebind_t *r = timer->data;
    server_t *self = r->server;
    live_t *l = self->live;
    bool done = !l || self->stopping;
    if (!done && zmq_bind(zsock_raw(l->pub), r->endpoint) == 0)
        done = true;
    else if (!done && ++r->tries >= 500) {
        fprintf(stderr, "codispatchd: cannot bind the stream on %s again: %s\n", r->endpoint,
                zmq_strerror(zmq_errno()));
        done = true;
    }
    if (done) {
        uv_timer_stop(timer);
        uv_close((uv_handle_t *)timer, s_rebind_closed);
    }
}

void live_drop_subscribers(server_t *self)
{
    live_t *l = self->live;
    if (!l || !l->pub)
        return;
    const char *endpoint = zsock_endpoint(l->pub);
    /* Unbinding ends the listener and every connection made through it; subscribers reconnect
     * by themselves and meet the ZAP handler again, which refuses a revoked key. */
    if (zmq_unbind(zsock_raw(l->pub), endpoint) != 0)
        return;
    l->subscriptions = 0;
    s_rebind_t *r = cd_xcalloc(1, sizeof *r);
    r->server = self;
    cd_copy(r->endpoint, sizeof r->endpoint, endpoint);
    uv_timer_init(self->loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, s_on_rebind, 0, 2);
}

long live_subscriptions(const server_t *self)
{
    return self->live ? self->live->subscriptions : 0;
}

static void s_queue(live_t *l, const live_msg_t *m)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->pending = cd_xrealloc(l->pending, l->cap * sizeof *l->pending);
    }
    l->pending[l->n++] = *m;
}

void live_on_flush(server_t *self, const cd_event_log_t *events)
{
    live_t *l = self->live;
    if (!l)
        return;
    int64_t now = server_now_ms();
    /* JSON only for WebSocket clients: a client that connects later starts from a snapshot
     * taken after this batch commits, so nothing rendered here would be sent to it. */
    bool json = http_ws_clients(self) > 0;
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        live_msg_t m = {.seq = ev->seq};
        if (wire_change_topic(ev, m.topic, sizeof m.topic) != 0)
            continue;
        m.pb = wire_pack_change(ev, self->engine, now, &m.pb_len);
        m.json = json ? wire_json_change(ev, self->engine, now) : NULL;
        s_queue(l, &m);
    }
    /* Headline figures, at most once a second, only while something changes.  Taken now,
     * when the engine holds exactly what this batch commits (nothing applied after it yet),
     * and published behind the batch's changes when it commits: figures taken at a commit
     * would count the commands of a batch still in flight, which may yet be refused. */
    uint64_t loop_now = uv_now(self->loop);
    if (events->len && loop_now - l->last_stats_ms >= 1000 &&
        events->items[events->len - 1].seq == cd_engine_last_seq(self->engine)) {
        l->last_stats_ms = loop_now;
        live_msg_t m = {.seq = events->items[events->len - 1].seq};
        cd_copy(m.topic, sizeof m.topic, "stats");
        m.pb = wire_pack_stats((uint64_t)m.seq, self->engine, now, &m.pb_len);
        s_queue(l, &m);
    }
}

/* One message on the stream: three frames, as subscribers are promised (README, "Live
 * status"): the topic (what subscriptions match), the event seq as decimal text (so a
 * subscriber can drop what its snapshot holds and see a gap without decoding anything), and
 * the StreamChange. */
static void s_send(live_t *l, const char *topic, int64_t seq, const uint8_t *pb, size_t len)
{
    char text[24];
    int tl = snprintf(text, sizeof text, "%lld", (long long)seq);
    const void *parts[3] = {topic, text, pb};
    size_t lens[3] = {strlen(topic), (size_t)tl, len};
    zsock_send(l->pub, parts, lens, 3);
}

void live_on_committed(server_t *self, int64_t seq, int64_t committed_us)
{
    live_t *l = self->live;
    if (!l)
        return;
    size_t done = 0;
    for (; done < l->n && l->pending[done].seq <= seq; done++) {
        live_msg_t *m = &l->pending[done];
        size_t len = wire_stamp_change(m->pb, m->pb_len, committed_us);
        s_send(l, m->topic, m->seq, m->pb, len);
        if (m->json) {
            char *json = wire_json_stamp(m->json, committed_us);
            http_broadcast(self, json, m->seq);
            free(json);
        }
        s_free_msg(m);
    }
    if (done) {
        memmove(l->pending, l->pending + done, (l->n - done) * sizeof *l->pending);
        l->n -= done;
    }
}

void live_on_lost(server_t *self)
{
    live_t *l = self->live;
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        s_free_msg(&l->pending[i]);
    l->n = 0;
}
