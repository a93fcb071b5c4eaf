/*  control.c — the synchronous control client of libcodispatch. */
#include <codispatch/codispatch.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "client_priv.h"

struct cdc_control {
    void *zctx;
    void *sock;
    int resend_ms;
    bool retry_unavailable;
    char request_id[CDC_REQUEST_ID_MAX + 1];
};

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Request ids: 128 random bits drawn once per thread (again in a child made by fork(), whose
 * atfork handlers run; not after a raw clone), then the first half as drawn and a counter
 * through a bijective mix keyed by the second half, so no two ids of a thread are alike and
 * two threads or processes collide with odds of about 2^-64 per pair.  Unique, not secret:
 * the mix can be inverted, so one id tells the thread's next ones.  With security on, the
 * server keeps request ids per key and another client cannot take one; with it off every
 * client is trusted anyway.  A getrandom() per id was nearly a third of a bench client's
 * system calls, and formatting each byte with snprintf most of the rest of the id's cost. */
static _Thread_local struct {
    bool seeded;
    uint64_t prefix, key, counter;
} s_ids;

static void s_ids_forked(void)
{
    s_ids.seeded = false; /* the child must not repeat the parent's ids */
}

static void s_ids_register_fork(void)
{
    pthread_atfork(NULL, NULL, s_ids_forked);
}

/* splitmix64's finaliser: a bijection of 64-bit values. */
static uint64_t s_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void s_hex64(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = digits[v & 0xf];
}

void cdc_request_id(char out[33])
{
    if (!s_ids.seeded) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, s_ids_register_fork);
        uint64_t raw[2];
        ssize_t got;
        do
            got = getrandom(raw, sizeof raw, 0);
        while (got < 0 && errno == EINTR);
        if (got != (ssize_t)sizeof raw) {
            /* Never expected on Linux; fall back to time and address entropy. */
            raw[0] = (uint64_t)s_now_ms() ^ (uint64_t)(uintptr_t)out;
            raw[1] = s_mix((uint64_t)clock() ^ (uint64_t)getpid());
        }
        s_ids.prefix = raw[0];
        s_ids.key = raw[1];
        s_ids.counter = 0;
        s_ids.seeded = true;
    }
    s_hex64(out, s_ids.prefix);
    s_hex64(out + 16, s_mix(s_ids.key + s_ids.counter++));
    out[32] = '\0';
}

int cdc__connect_endpoints(void *sock, const char *endpoints)
{
    int n = 0;
    const char *p = endpoints;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= 256)
            return -1;
        char one[256];
        memcpy(one, p, len);
        one[len] = '\0';
        if (zmq_connect(sock, one) != 0)
            return -1;
        n++;
        p = comma ? comma + 1 : NULL;
    }
    return n > 0 ? n : -1;
}

cdc_control_t *cdc_control_new(const char *endpoint)
{
    return cdc_control_new_secure(endpoint, NULL);
}

cdc_control_t *cdc_control_new_secure(const char *endpoint, const cdc_keys_t *keys)
{
    if (!endpoint || !*endpoint)
        return NULL;
    cdc_control_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->zctx = zmq_ctx_new();
    self->sock = self->zctx ? zmq_socket(self->zctx, ZMQ_DEALER) : NULL;
    if (!self->sock) {
        cdc_control_destroy(&self);
        return NULL;
    }
    int linger = 0, immediate = 1, reconnect = 100, reconnect_max = 1000;
    zmq_setsockopt(self->sock, ZMQ_LINGER, &linger, sizeof linger);
    /* Queue only on live connections, so a resend is not stacked behind a dead one. */
    zmq_setsockopt(self->sock, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
    zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL, &reconnect, sizeof reconnect);
    zmq_setsockopt(self->sock, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof reconnect_max);
    if ((keys && cdc_keys_apply(self->sock, keys) != CDC_OK) ||
        cdc__connect_endpoints(self->sock, endpoint) < 0) {
        cdc_control_destroy(&self);
        return NULL;
    }
    self->resend_ms = 1000;
    self->retry_unavailable = true;
    return self;
}

void cdc_control_destroy(cdc_control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cdc_control_t *self = *self_p;
    if (self->sock)
        zmq_close(self->sock);
    if (self->zctx)
        zmq_ctx_term(self->zctx);
    free(self);
    *self_p = NULL;
}

void cdc_control_set_resend_interval(cdc_control_t *self, int ms)
{
    self->resend_ms = ms > 0 ? ms : 1;
}

void cdc_control_set_retry_unavailable(cdc_control_t *self, bool on)
{
    self->retry_unavailable = on;
}

void cdc_envelope_free(Codispatch__V1__Envelope *env)
{
    if (env)
        codispatch__v1__envelope__free_unpacked(env, NULL);
}

/* Waits until the socket is readable or writable (events) or the deadline passes. */
static int s_wait(void *sock, short events, int64_t deadline)
{
    int64_t left = deadline - s_now_ms();
    if (left <= 0)
        return 0;
    zmq_pollitem_t item = {.socket = sock, .events = events};
    int rc = zmq_poll(&item, 1, (long)left);
    return rc > 0 ? 1 : rc;
}

static bool s_retryable(const Codispatch__V1__Envelope *reply)
{
    if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_ERROR || !reply->error->has_code)
        return false;
    return reply->error->code == CODISPATCH__V1__CODE__UNAVAILABLE ||
           reply->error->code == CODISPATCH__V1__CODE__BUSY;
}

int cdc_control_call(cdc_control_t *self, Codispatch__V1__Envelope *req, int timeout_ms,
                     Codispatch__V1__Envelope **reply)
{
    if (!self || !req || !reply)
        return CDC_EINVAL;
    *reply = NULL;
    req->has_version = true;
    req->version = CDC_PROTOCOL_VERSION;
    if (!req->request_id || !*req->request_id) {
        cdc_request_id(self->request_id);
        req->request_id = self->request_id;
    }
    size_t len = codispatch__v1__envelope__get_packed_size(req);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        return CDC_ESYS;
    codispatch__v1__envelope__pack(req, buf);

    int64_t deadline = s_now_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    int64_t backoff = 50;
    Codispatch__V1__Envelope *last_retryable = NULL;
    int rc = CDC_ETIMEOUT;
    while (s_now_ms() < deadline) {
        /* Send (or resend) once a connection exists. */
        if (s_wait(self->sock, ZMQ_POLLOUT, deadline) <= 0)
            break;
        if (zmq_send(self->sock, buf, len, ZMQ_DONTWAIT) < 0) {
            if (errno == EAGAIN)
                continue;
            rc = CDC_ESYS;
            break;
        }
        int64_t resend_at = s_now_ms() + self->resend_ms;
        if (resend_at > deadline)
            resend_at = deadline;
        bool answered = false;
        while (!answered && s_wait(self->sock, ZMQ_POLLIN, resend_at) > 0) {
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, self->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                continue;
            }
            Codispatch__V1__Envelope *env =
                codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
            zmq_msg_close(&msg);
            if (!env) {
                rc = CDC_EPROTO;
                answered = true;
                break;
            }
            /* A late reply to an earlier request: not ours. */
            if (!env->request_id || strcmp(env->request_id, req->request_id) != 0) {
                cdc_envelope_free(env);
                continue;
            }
            if (self->retry_unavailable && s_retryable(env)) {
                cdc_envelope_free(last_retryable);
                last_retryable = env;
                /* Back off, then send the same request again. */
                int64_t pause = backoff, left = deadline - s_now_ms();
                if (pause > left)
                    pause = left > 0 ? left : 0;
                struct timespec ts = {pause / 1000, (long)(pause % 1000) * 1000000};
                nanosleep(&ts, NULL);
                backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
                break;
            }
            *reply = env;
            rc = CDC_OK;
            answered = true;
        }
        if (answered)
            break;
    }
    free(buf);
    if (rc == CDC_ETIMEOUT && last_retryable) {
        *reply = last_retryable;
        return CDC_OK;
    }
    cdc_envelope_free(last_retryable);
    return rc;
}

const char *cdc_code_name(Codispatch__V1__Code code)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&codispatch__v1__code__descriptor, (int)code);
    return v ? v->name : "UNKNOWN";
}

const char *cdc_call_status_name(Codispatch__V1__CallStatus status)
{
    switch (status) {
    case CODISPATCH__V1__CALL_STATUS__CALL_PENDING:
        return "pending";
    case CODISPATCH__V1__CALL_STATUS__CALL_DISPATCHED:
        return "dispatched";
    case CODISPATCH__V1__CALL_STATUS__CALL_EN_ROUTE:
        return "en_route";
    case CODISPATCH__V1__CALL_STATUS__CALL_ON_SCENE:
        return "on_scene";
    case CODISPATCH__V1__CALL_STATUS__CALL_CLOSED:
        return "closed";
    case CODISPATCH__V1__CALL_STATUS__CALL_CANCELLED:
        return "cancelled";
    default:
        return "unknown";
    }
}
