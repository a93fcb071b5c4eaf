/*  security.h — CURVE keys and roles on the ZeroMQ sockets, the token on HTTP.
 *
 *  When security is on, the control, units and stream sockets are CURVE servers.  A ZAP
 *  handler (a REP socket on inproc://zeromq.zap.01, polled by the loop like every socket)
 *  answers each handshake from memory: the client's public key must be a registered,
 *  unrevoked key whose role may use that socket.  It sets the connection's User-Id to the
 *  key's name, which every message then carries (zmq_msg_gets "User-Id"); each message is
 *  checked again against the key table (a revocation stops an open connection at its next
 *  message) and against the role's permissions.
 *
 *  The key table is engine state (events key.added / key.revoked, projected into the `keys`
 *  table); this module keeps a copy of its committed rows, rebuilt when the state is loaded
 *  and updated when key events commit, so handshakes need no database round trip and keep
 *  working while PostgreSQL is away.
 *
 *  The rule: security is on by default whenever any endpoint binds to something other than
 *  loopback; the server then needs its key (`codispatch keys init`).  --security off on a
 *  non-loopback bind is refused unless --insecure.  --security on forces it on loopback.
 */
#ifndef SECURITY_H
#define SECURITY_H

#include <stdbool.h>
#include <stddef.h>

#include "cd_engine.h"
#include "config.h"
#include "route.h"
#include "wire.h"

#include <zmq.h>

typedef struct server server_t;
typedef struct security security_t;

/* Which socket a message came in on (and the ZAP domain of that socket). */
typedef enum sec_socket { SEC_CONTROL = 0, SEC_UNITS, SEC_STREAM } sec_socket_t;

/* Who sent a message.  secured false: security is off (the old actors apply). */
typedef struct sec_peer {
    bool secured;
    char name[CD_KEY_NAME_MAX + 1];
    cd_role_t role;
    char unit_id[CD_KEY_UNIT_ID_MAX + 1];
} sec_peer_t;

/* Decides whether security is on for cfg (the rule above) and checks that what it needs
 * exists.  Returns 1 on, 0 off, -1 refused with a sentence in err.  warn receives a
 * warning to print ("" if none). */
int security_decide(const config_t *cfg, char *warn, size_t warnlen, char *err, size_t errlen);

/* Opens the module on the server: reads the keys and binds the ZAP handler when on.  Must
 * run before the sockets bind.  Returns 0 or -1 with err. */
int security_open(server_t *self, const config_t *cfg, char *err, size_t errlen);
void security_close(server_t *self);
bool security_on(const server_t *self);

/* Makes a server socket a CURVE server in the socket's ZAP domain (no-op when off). */
void security_apply(server_t *self, void *raw, sec_socket_t which);

/* The committed key table: rebuilt from the engine after a load; updated on commit. */
void security_on_ready(server_t *self);
void security_on_committed(server_t *self, const cd_event_log_t *events);

/* Identifies the sender of body.  Returns true with *peer filled (peer->secured false when
 * security is off), or false having answered UNAUTHENTICATED. */
bool security_identify(server_t *self, const route_t *to, const char *rid, zmq_msg_t *body,
                       sec_peer_t *peer);
/* True when peer's role may send env on that socket; else answers PERMISSION_DENIED. */
bool security_permit(server_t *self, const route_t *to, const char *rid, const sec_peer_t *peer,
                     const wire_env_t *env, sec_socket_t which);
/* The audit actor for peer ("dispatcher:alice"; "unit:MH-01/mh01-tablet"). */
void security_actor(const sec_peer_t *peer, const char *unit_id, char *out, size_t cap);

/* HTTP: whether a token is required, and whether this one is right (constant time). */
bool security_http_required(const server_t *self);
bool security_http_token_ok(const server_t *self, const char *token);

/* Prometheus lines (malloc'd). */
char *security_metrics(const server_t *self);

#endif
