/*  control.c — requests from dispatcher consoles and tools on the control socket.
 *
 *  Every request gets exactly one reply.  Refusals that need no state (a malformed frame, a
 *  bad field) leave at once; anything computed from the engine's state is held until that
 *  state is committed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

#define LIST_DEFAULT 50

/* An Error reply that depends on no uncommitted state, sent at once. */
static void s_reply_now(server_t *self, const route_t *to, const char *rid, cd_code_t code,
                        const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static void s_reply_now(server_t *self, const route_t *to, const char *rid, cd_code_t code,
                        const char *field, const char *fmt, ...)
{
    char msg[CD_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cd_error_t err;
    cd_error_set(&err, code, field, "%s", msg);
    server_reply_error(self, to, rid, 0, &err);
}

/* ------------------------------------------------------------------ reads from PostgreSQL */

typedef struct pending_read {
    server_t *server;
    route_t to;
    char request_id[CD_REQUEST_ID_MAX + 1];
    char call_id[CD_CALL_ID_MAX + 1]; /* "" for a list */
} pending_read_t;

static void s_on_db_calls(void *arg, bool ok, cd_call_t **calls, size_t n, const char *error)
{
    pending_read_t *rd = arg;
    server_t *self = rd->server;
    if (!self->control) {
        free(rd);
        return;
    }
    if (!ok) {
        s_reply_now(self, &rd->to, rd->request_id, CD_EUNAVAIL, "",
                    "the database did not answer; retry shortly");
    } else if (rd->call_id[0] && n == 0) {
        cd_error_t err;
        cd_error_set(&err, CD_ENOTFOUND, "call_id", "call %s does not exist", rd->call_id);
        server_reply_error(self, &rd->to, rd->request_id, 0, &err);
    } else {
        size_t len;
        uint8_t *buf =
            rd->call_id[0]
                ? wire_pack_call(rd->request_id, (uint64_t)store_committed_seq(self->store),
                                 calls[0], true, &len)
                : wire_pack_calls(rd->request_id, (uint64_t)store_committed_seq(self->store),
                                  (const cd_call_t *const *)calls, n, true, &len);
        /* Rows read from PostgreSQL are committed already. */
        server_reply(self, &rd->to, rd->request_id, 0, buf, len);
    }
    free(rd);
}

static pending_read_t *s_pending(server_t *self, const route_t *to, const char *rid)
{
    pending_read_t *rd = cd_xcalloc(1, sizeof *rd);
    rd->server = self;
    rd->to = *to;
    cd_copy(rd->request_id, sizeof rd->request_id, rid);
    return rd;
}

/* ------------------------------------------------------------------ handlers */

static bool s_require_ready(server_t *self, const route_t *to, const char *rid)
{
    if (self->stopping) {
        s_reply_now(self, to, rid, CD_EUNAVAIL, "",
                    "the server is shutting down; retry with the same request_id");
        return false;
    }
    if (store_state(self->store) != STORE_READY) {
        const char *why = store_last_error(self->store);
        /* The advice first: the reason from libpq can be long. */
        s_reply_now(self, to, rid, CD_EUNAVAIL, "",
                    "the database is unavailable, nothing was changed; retry with the same "
                    "request_id (%.150s)",
                    *why ? why : store_state_name(store_state(self->store)));
        return false;
    }
    return true;
}

static void s_status(server_t *self, const route_t *to, const char *rid, const sec_peer_t *peer)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusReply st = CODISPATCH__V1__STATUS_REPLY__INIT;
    bool ready = store_state(self->store) == STORE_READY;
    st.server_version = CODISPATCH_VERSION;
    st.has_database = true;
    st.database = ready ? CODISPATCH__V1__DATABASE_STATE__DATABASE_OK
                        : CODISPATCH__V1__DATABASE_STATE__DATABASE_UNAVAILABLE;
    st.has_embedded_database = true;
    st.embedded_database = self->embedded;
    st.has_open_calls = true;
    st.open_calls = ready ? cd_engine_open_calls(self->engine) : 0;
    st.has_last_seq = true;
    st.last_seq = (uint64_t)store_committed_seq(self->store);
    st.control_endpoint = (char *)zsock_endpoint(self->control);
    st.units_endpoint = (char *)units_endpoint(self);
    st.stream_endpoint = self->stream_endpoint;
    st.http_address = self->http_address;
    st.has_protocol_version = true;
    st.protocol_version = WIRE_PROTOCOL_VERSION;
    st.has_security = true;
    st.security = security_on(self);
    if (peer->secured) {
        st.identity = (char *)peer->name;
        st.role = (char *)cd_role_name(peer->role);
    }
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY;
    env.status_reply = &st;
    size_t len;
    uint8_t *buf = wire_pack(&env, rid, (uint64_t)store_committed_seq(self->store), &len);
    /* open_calls may count a call still in a batch: hold until the engine's state is in. */
    server_reply(self, to, rid, ready ? cd_engine_last_seq(self->engine) : 0, buf, len);
}

static void s_get_call(server_t *self, const route_t *to, const char *rid,
                       const Codispatch__V1__GetCall *m)
{
    if (!m->call_id || !*m->call_id) {
        s_reply_now(self, to, rid, CD_EINVAL, "call_id", "call_id is required");
        return;
    }
    if (!cd_text_is_token(m->call_id, CD_CALL_ID_MAX)) {
        s_reply_now(self, to, rid, CD_EINVAL, "call_id",
                    "call_id must look like C-000123 (at most 15 printable characters)");
        return;
    }
    if (!s_require_ready(self, to, rid))
        return;
    const cd_call_t *c = cd_engine_find_call(self->engine, m->call_id);
    if (c) {
        size_t len;
        /* The envelope's seq: everything committed so far is reflected, and at least the
         * call's own last change (the reply waits for that to commit). */
        int64_t seq = c->last_seq > store_committed_seq(self->store)
                          ? c->last_seq
                          : store_committed_seq(self->store);
        uint8_t *buf = wire_pack_call(rid, (uint64_t)seq, c, true, &len);
        server_reply(self, to, rid, c->last_seq, buf, len);
        return;
    }
    /* Not in memory: closed long ago, or unknown.  PostgreSQL knows. */
    pending_read_t *rd = s_pending(self, to, rid);
    cd_copy(rd->call_id, sizeof rd->call_id, m->call_id);
    if (store_get_call(self->store, m->call_id, s_on_db_calls, rd) != CD_OK) {
        free(rd);
        s_reply_now(self, to, rid, CD_EUNAVAIL, "", "the database is unavailable; retry");
    }
}

static void s_list_calls(server_t *self, const route_t *to, const char *rid,
                         const Codispatch__V1__ListCalls *m)
{
    size_t limit = LIST_DEFAULT;
    if (m->has_limit) {
        if (m->limit < 1 || m->limit > LIST_MAX) {
            s_reply_now(self, to, rid, CD_EINVAL, "limit", "limit must be between 1 and %d; got %u",
                        LIST_MAX, m->limit);
            return;
        }
        limit = m->limit;
    }
    if (!s_require_ready(self, to, rid))
        return;
    if (m->has_pending_queue && m->pending_queue) {
        /* The queue: pending calls by priority, then the longest wait. */
        const cd_call_t **calls = cd_xcalloc(limit, sizeof *calls);
        size_t n = cd_engine_pending_queue(self->engine, limit, calls);
        int64_t required = cd_engine_last_seq(self->engine);
        size_t len;
        uint8_t *buf = wire_pack_calls(rid, (uint64_t)required, calls, n, true, &len);
        free(calls);
        server_reply(self, to, rid, required, buf, len);
        return;
    }
    if (m->has_open_only && m->open_only) {
        /* Open calls are all in memory. */
        const cd_call_t **calls = cd_xcalloc(limit, sizeof *calls);
        size_t n = cd_engine_list_calls(self->engine, true, limit, calls);
        /* Everything applied so far, not only what the listed calls last saw: a call an
         * uncommitted close took out of the list must not be missing from a reply sent
         * before that close is durable (a failed batch releases held replies up to the
         * committed seq). */
        int64_t required = cd_engine_last_seq(self->engine);
        size_t len;
        uint8_t *buf = wire_pack_calls(rid, (uint64_t)required, calls, n, true, &len);
        free(calls);
        server_reply(self, to, rid, required, buf, len);
        return;
    }
    pending_read_t *rd = s_pending(self, to, rid);
    if (store_list_calls(self->store, limit, s_on_db_calls, rd) != CD_OK) {
        free(rd);
        s_reply_now(self, to, rid, CD_EUNAVAIL, "", "the database is unavailable; retry");
    }
}

void server_refuse(server_t *self, const route_t *to, const char *rid, cd_code_t code,
                   const char *field, const char *msg)
{
    s_reply_now(self, to, rid, code, field, "%s", msg);
}

void server_command(server_t *self, const route_t *to, const wire_env_t *env, const char *unit_id)
{
    sec_peer_t nobody = {0};
    server_command_as(self, to, env, unit_id, &nobody);
}

/* A state-changing command: idempotent by request_id, replied to after commit. */
void server_command_as(server_t *self, const route_t *to, const wire_env_t *env,
                       const char *unit_id, const sec_peer_t *peer)
{
    const char *rid = env->request_id;
    char actor[CD_ACTOR_MAX + 1];
    security_actor(peer, unit_id, actor, sizeof actor);
    /* A tablet's request ids are its own, and with keys every key's are: the same id from
     * another unit or key is a conflict, never that one's reply. */
    char kind[REQCACHE_KIND_MAX + 1];
    snprintf(kind, sizeof kind, "%s%s%s", wire_body_name(env), unit_id || peer->secured ? "@" : "",
             peer->secured ? actor
             : unit_id     ? unit_id
                           : "");
    if (!s_require_ready(self, to, rid))
        return;
    const reqcache_entry_t *prev = store_find_request(self->store, rid);
    if (prev) {
        if (prev->len == 0) {
            s_reply_now(self, to, rid, CD_ECONFLICT, "request_id",
                        "request_id %s was used by a command longer ago than replies are kept "
                        "(--request-retention-hours); use a new request_id",
                        rid);
            return;
        }
        if (strcmp(prev->kind, kind) != 0) {
            s_reply_now(self, to, rid, CD_ECONFLICT, "request_id",
                        "request_id %s was already used for a %s command; use a new "
                        "request_id for a different command",
                        rid, prev->kind);
            return;
        }
        /* A retry: the original reply, once the original is committed. */
        uint8_t *copy = cd_xmalloc(prev->len);
        memcpy(copy, prev->reply, prev->len);
        server_reply(self, to, rid, prev->seq, copy, prev->len);
        return;
    }
    if (store_demographics_id_used(self->store, rid)) {
        s_reply_now(self, to, rid, CD_ECONFLICT, "request_id",
                    "request_id %s was already used for a set_demographics command; use a new "
                    "request_id for a different command",
                    rid);
        return;
    }
    if (!store_can_accept(self->store)) {
        s_reply_now(self, to, rid, CD_EBUSY, "",
                    "the server is saving a large backlog; retry shortly with the same "
                    "request_id");
        return;
    }
    int64_t now = server_now_ms();
    cd_ctx_t ctx = {.now_ms = now, .actor = actor, .request_id = rid};
    cd_error_t err;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = control_execute(self, env, &ctx, unit_id, &buf, &len, &err);
    metrics_count_command(self, (int)env->body_case, rc);
    int64_t seq = cd_engine_last_seq(self->engine);
    if (rc != CD_OK) {
        /* A refusal may depend on state not yet committed (say, "already cancelled"). */
        server_reply_error(self, to, rid, seq, &err);
        return;
    }
    store_record_request(self->store, rid, kind, seq, now, buf, len);
    server_reply(self, to, rid, seq, buf, len);
}

/* Whether this client may have a snapshot now (CONTROL_SNAPSHOT_*); if not, answered BUSY.
 * A client is its key with security on (a key holder can reconnect under new routing ids),
 * else its routing id. */
static bool s_snapshot_allowed(server_t *self, const route_t *to, const char *rid,
                               const sec_peer_t *peer)
{
    uint8_t key[1 + ROUTE_ID_MAX];
    size_t len = 1;
    key[0] = peer->secured ? 'k' : 'r';
    if (peer->secured) {
        size_t n = strlen(peer->name);
        memcpy(key + 1, peer->name, n), len += n;
    } else {
        memcpy(key + 1, to->id, to->id_len), len += to->id_len;
    }
    int64_t wait = cd_throttle_take(self->snapshots, key, len, (int64_t)uv_now(self->loop));
    if (wait == 0)
        return true;
    s_reply_now(self, to, rid, CD_EBUSY, "snapshot",
                "too many snapshots asked for by this client (%d at once, then %d a second); "
                "ask again in %lld ms",
                CONTROL_SNAPSHOT_BURST, CONTROL_SNAPSHOT_PER_S, (long long)wait);
    return false;
}

static void s_query(server_t *self, const route_t *to, const wire_env_t *env,
                    const sec_peer_t *peer)
{
    const char *rid = env->request_id;
    if (!s_require_ready(self, to, rid))
        return;
    if (env->body_case == CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT &&
        !s_snapshot_allowed(self, to, rid, peer))
        return;
    uint8_t *buf = NULL;
    size_t len = 0;
    cd_error_t err;
    int64_t seq = cd_engine_last_seq(self->engine);
    if (control_query(self, env, rid, &buf, &len, &err) != CD_OK) {
        server_reply_error(self, to, rid, seq, &err);
        return;
    }
    server_reply(self, to, rid, seq, buf, len);
}

/* ------------------------------------------------------------------ entry point */

zmq_msg_t *server_route_message(server_t *self, zsock_t *sock, zmq_msg_t *frames, size_t n,
                                bool truncated, route_t *to)
{
    memset(to, 0, sizeof *to);
    to->sock = sock;
    to->id_len = zmq_msg_size(&frames[0]);
    if (to->id_len > ROUTE_ID_MAX)
        to->id_len = ROUTE_ID_MAX;
    memcpy(to->id, zmq_msg_data(&frames[0]), to->id_len);
    self->requests_in++;
    if (n == 2 && !truncated)
        return &frames[1];
    if (n == 3 && !truncated && zmq_msg_size(&frames[1]) == 0) {
        to->delimiter = true; /* a REQ peer */
        return &frames[2];
    }
    s_reply_now(self, to, "", CD_EINVAL, "envelope",
                "a request is one frame holding an Envelope; got a message of %s%zu frames",
                truncated ? "more than " : "", n - 1);
    return NULL;
}

void control_on_message(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg)
{
    server_t *self = arg;
    route_t to;
    zmq_msg_t *body = server_route_message(self, sock, frames, n, truncated, &to);
    if (!body)
        return;
    char rid[CD_REQUEST_ID_MAX + 1];
    cd_error_t err;
    wire_env_t *env = wire_decode(zmq_msg_data(body), zmq_msg_size(body), rid, &err);
    if (!env) {
        server_reply_error(self, &to, rid, 0, &err);
        return;
    }
    sec_peer_t peer;
    if (!security_identify(self, &to, rid, body, &peer) ||
        (!wire_is_tablet_body(env) && !security_permit(self, &to, rid, &peer, env, SEC_CONTROL))) {
        wire_free(env);
        return;
    }
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_STATUS:
        s_status(self, &to, rid, &peer);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_GET_CALL:
        s_get_call(self, &to, rid, env->get_call);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS:
        s_list_calls(self, &to, rid, env->list_calls);
        break;
    default:
        if (wire_is_tablet_body(env))
            s_reply_now(self, &to, rid, CD_EINVAL, "body",
                        "tablet requests go to the units endpoint, not the control endpoint");
        else if (control_reports_handles(env))
            control_reports(self, &to, env, &peer);
        else if (control_is_query(env))
            s_query(self, &to, env, &peer);
        else
            server_command_as(self, &to, env, NULL, &peer);
        break;
    }
    wire_free(env);
}
