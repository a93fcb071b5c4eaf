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

/* Connects (in the background) to a control endpoint such as "tcp://127.0.0.1:7401".
 * Returns NULL if the endpoint is malformed. */
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

/* Fills out with a random 32-character hexadecimal request id. */
void cdc_request_id(char out[33]);

/* Lower-case protocol names: "INVALID_ARGUMENT", "pending", ... */
const char *cdc_code_name(Codispatch__V1__Code code);
const char *cdc_call_status_name(Codispatch__V1__CallStatus status);

#ifdef __cplusplus
}
#endif

#endif
