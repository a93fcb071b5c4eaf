/*  codispatch.h — the codispatch client library (libcodispatch).
 *
 *  Talks to a codispatchd server over ZeroMQ with the protobuf messages of
 *  proto/codispatch.proto (generated header: codispatch.pb-c.h, installed next to this one).
 *  Link with `pkg-config --libs codispatch`.
 *
 *  Conventions: objects are opaque, made with x_new() and freed with x_destroy(&x), which
 *  nulls the caller's pointer.  Functions return 0 on success or a negative CDC_E* code.
 *  Nothing here is thread-safe: use one object per thread.
 *
 *  Control client
 *  --------------
 *  For dispatcher consoles and tools: request -> reply over a DEALER socket.  Every request
 *  carries a request_id; the library makes a random one when the envelope has none and keeps
 *  it for its own retries, so a request that was lost, or whose reply was lost, is resent
 *  safely: the server applies each request_id once and answers a repeat with the original
 *  reply.
 *
 *  Tablet client
 *  -------------
 *  For a responding unit's tablet (and the simulator): one DEALER connection to the units
 *  endpoint, bound to one unit by Hello.  The library says Hello on connect and again when
 *  the server has been silent for a while (so a restarted server or a new connection learns
 *  who it is), passes every assignment push to a callback — each seq once, however often the
 *  server re-sends it — and sends ack / decline / status / position with a fresh request id,
 *  resending the same request until its reply (or a give-up time) arrives.
 *
 *  It fits any event loop: poll cdc_tablet_fd() for readability (ZeroMQ's edge-triggered
 *  ZMQ_FD: call cdc_tablet_process() whenever it is readable, and also when the returned
 *  timeout passes); cdc_tablet_process() does all the work and returns how many milliseconds
 *  may pass before it must be called again.
 */
#ifndef CODISPATCH_H
#define CODISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codispatch.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDC_PROTOCOL_VERSION 1
#define CDC_REQUEST_ID_MAX   64

/* Return codes (negative).  An Error reply from the server is not a failure of the call:
 * cdc_control_call returns 0 and the reply's body is an Error. */
#define CDC_OK       0
#define CDC_ETIMEOUT -1 /* no reply within the timeout: the server is unreachable */
#define CDC_EINVAL   -2 /* bad argument to the library */
#define CDC_EPROTO   -3 /* a reply that is not a valid Envelope */
#define CDC_ESYS     -4 /* ZeroMQ or the system refused (see errno) */

typedef struct cdc_control cdc_control_t;

/* Connects (in the background) to a control endpoint such as "tcp://127.0.0.1:7401", or to
 * each of a comma-separated list ("tcp://10.0.0.5:7401,tcp://10.0.0.6:7401": a primary and
 * its hot standbys).  Only the server holding the database lock binds its endpoints, so
 * requests go to whichever is the primary; after a failover the resend of an unanswered
 * request reaches the new one (same request_id, so still applied once).  Returns NULL if an
 * endpoint is malformed. */
cdc_control_t *cdc_control_new(const char *endpoint);
void cdc_control_destroy(cdc_control_t **self_p);

/* How long to wait for a reply before sending the same request again (default 1000 ms). */
void cdc_control_set_resend_interval(cdc_control_t *self, int ms);

/* When true (the default), UNAVAILABLE and BUSY replies are retried with the same request_id,
 * with backoff, until the timeout; the last such reply is returned if time runs out. */
void cdc_control_set_retry_unavailable(cdc_control_t *self, bool on);

/* Sends req and waits up to timeout_ms for its reply.  The library sets req->version and,
 * if req->request_id is NULL or empty, a fresh random request id (req then points at
 * library-owned storage valid until the next call).  On success *reply is the server's
 * answer (free it with cdc_envelope_free): check reply->body_case for
 * CODISPATCH__V1__ENVELOPE__BODY_ERROR. */
int cdc_control_call(cdc_control_t *self, Codispatch__V1__Envelope *req, int timeout_ms,
                     Codispatch__V1__Envelope **reply);

void cdc_envelope_free(Codispatch__V1__Envelope *env);

/* Fills out with a fresh 32-character hexadecimal request id: never repeated by this thread,
 * drawn at random per thread and per process (not secret; see control.c). */
void cdc_request_id(char out[33]);

/* ---------------------------------------------------------------- tablet client */

typedef struct cdc_tablet cdc_tablet_t;

/* An assignment arrived (new, or a change of one the tablet has: status "timed_out",
 * "cleared", ...).  seq is the envelope's seq.  push is valid during the call only. */
typedef void cdc_assignment_fn(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *push);
/* The reply to a request sent with cdc_tablet_ack/decline/status/position: the server's
 * envelope (a Unit, or an Error), or NULL when no reply came before the give-up time.  Valid
 * during the call only. */
typedef void cdc_result_fn(void *arg, const char *request_id,
                           const Codispatch__V1__Envelope *reply);
/* The server welcomed this tablet (after connecting, reconnecting or a server restart). */
typedef void cdc_welcome_fn(void *arg, const Codispatch__V1__Welcome *welcome);

typedef struct cdc_tablet_callbacks {
    cdc_assignment_fn *on_assignment;
    cdc_result_fn *on_result;
    cdc_welcome_fn *on_welcome; /* may be NULL */
    void *arg;
} cdc_tablet_callbacks_t;

/* Connects (in the background) to a units endpoint for unit_id (or to each of a
 * comma-separated list, as cdc_control_new; the tablet is welcomed by the new primary within
 * the Hello keep-alive, 10 s, after a failover, or at once when it sends a request).  last_seq: the
 * highest assignment seq already seen (0 for a fresh tablet).  cb is copied.  NULL on a bad
 * endpoint or unit id. */
cdc_tablet_t *cdc_tablet_new(const char *endpoint, const char *unit_id, uint64_t last_seq,
                             const cdc_tablet_callbacks_t *cb);
void cdc_tablet_destroy(cdc_tablet_t **self_p);

/* The file descriptor to poll for readability (edge-triggered; see above). */
int cdc_tablet_fd(const cdc_tablet_t *self);
/* Receives and dispatches what arrived, resends what is due.  now_ms: any monotonic clock in
 * milliseconds.  Returns the milliseconds until it needs to run again (>= 0), or a negative
 * CDC_E* code. */
int cdc_tablet_process(cdc_tablet_t *self, int64_t now_ms);

/* Requests.  rid (if not NULL) receives the request id the result callback will name.
 * call_id may be NULL or "" for the unit's current assignment. */
int cdc_tablet_ack(cdc_tablet_t *self, const char *call_id, char rid[33]);
int cdc_tablet_decline(cdc_tablet_t *self, const char *call_id, const char *reason, char rid[33]);
int cdc_tablet_status(cdc_tablet_t *self, Codispatch__V1__UnitStatus status, char rid[33]);
int cdc_tablet_position(cdc_tablet_t *self, double lat, double lon, int64_t at_ms, char rid[33]);

/* True once the server has welcomed this connection. */
bool cdc_tablet_welcomed(const cdc_tablet_t *self);
/* The highest assignment seq seen so far (what a tablet would persist across restarts). */
uint64_t cdc_tablet_last_seq(const cdc_tablet_t *self);
/* Requests sent and not yet answered. */
size_t cdc_tablet_pending(const cdc_tablet_t *self);

/* ---------------------------------------------------------------- keys (security)
 *
 * When the server has security on, every socket is a CURVE client: it needs its own key pair
 * (a file made by `codispatch keys add`, mode 0600) and the server's public key (named in
 * that file, or the server's DATA_DIR/keys/server.key).  The server maps the public key to a
 * name and a role; an unknown or revoked key gets no connection at all (requests time out),
 * and a key revoked while connected gets UNAUTHENTICATED on its next request. */

typedef struct cdc_keys {
    char public_key[41]; /* Z85, 40 characters */
    char secret_key[41];
    char server_key[41]; /* the server's public key */
} cdc_keys_t;

/* Reads key_file (a client's secret key file).  server_key_file, if not NULL, is read for the
 * server's public key instead of the server-key line of key_file.  Returns CDC_OK, or
 * CDC_EINVAL with a sentence naming the file in err. */
int cdc_keys_load(const char *key_file, const char *server_key_file, cdc_keys_t *out, char *err,
                  size_t errlen);
/* Makes a ZeroMQ socket (before it connects) a CURVE client with keys.  CDC_OK or CDC_ESYS. */
int cdc_keys_apply(void *zmq_socket, const cdc_keys_t *keys);

/* cdc_control_new and cdc_tablet_new with keys (NULL keys: the same as those). */
cdc_control_t *cdc_control_new_secure(const char *endpoint, const cdc_keys_t *keys);
cdc_tablet_t *cdc_tablet_new_secure(const char *endpoint, const char *unit_id, uint64_t last_seq,
                                    const cdc_tablet_callbacks_t *cb, const cdc_keys_t *keys);

/* Lower-case protocol names: "INVALID_ARGUMENT", "pending", ... */
const char *cdc_code_name(Codispatch__V1__Code code);
const char *cdc_call_status_name(Codispatch__V1__CallStatus status);

#ifdef __cplusplus
}
#endif

#endif
