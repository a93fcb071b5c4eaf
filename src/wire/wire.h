/*  wire.h — the protobuf envelope <-> the engine's domain types.
 *
 *  Decoding never trusts the peer: size, protobuf structure, version, request id and body are
 *  each checked, and every refusal is a cd_error_t naming the field, ready to be sent back as
 *  an Error reply.  Encoding returns malloc'd buffers the caller frees.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cd_call.h"
#include "cd_engine.h"
#include "cd_error.h"
#include "codispatch.pb-c.h"

#define WIRE_PROTOCOL_VERSION 1
#define WIRE_MAX_MESSAGE      (64 * 1024)

typedef Codispatch__V1__Envelope wire_env_t;

/* Decodes one frame and checks the envelope (size, structure, version, request id, a known
 * body).  Returns the envelope (free with wire_free) or NULL with *err filled.  Even on
 * failure, *request_id (if not NULL) receives a copy of the request id when one could be
 * read, so the error reply can carry it. */
wire_env_t *wire_decode(const void *data, size_t len, char request_id[CD_REQUEST_ID_MAX + 1],
                        cd_error_t *err);
void wire_free(wire_env_t *env);

/* Name of the body ("create_call"), for logs, metrics and idempotency records. */
const char *wire_body_name(const wire_env_t *env);

/* Encodes an envelope: version and request_id and seq are filled in here. */
uint8_t *wire_pack(wire_env_t *env, const char *request_id, uint64_t seq, size_t *len);

uint8_t *wire_pack_error(const char *request_id, uint64_t seq, const cd_error_t *err, size_t *len);
/* with_pii false leaves out caller_name and callback. */
uint8_t *wire_pack_call(const char *request_id, uint64_t seq, const cd_call_t *call, bool with_pii,
                        size_t *len);
uint8_t *wire_pack_calls(const char *request_id, uint64_t seq, const cd_call_t *const *calls,
                         size_t n, bool with_pii, size_t *len);

/* Borrowing conversions: the outputs point into the inputs. */
void wire_call_input(const Codispatch__V1__CreateCall *m, cd_call_input_t *out);
/* Fills *out from c, including its assignments and notes (allocated: release with
 * wire_call_pb_release). */
void wire_call_to_pb(const cd_call_t *c, bool with_pii, Codispatch__V1__Call *out);
void wire_call_pb_release(Codispatch__V1__Call *m);
/* The assignments and (with_notes: they are PII) notes part of wire_call_to_pb. */
void wire_call_add_details(const cd_call_t *c, bool with_notes, Codispatch__V1__Call *m);

/* --- Units, plans, recommendations, alerts (wire_dispatch.c) --- */

/* Borrowing: strings and lists point into m.  ids/caps arrays are filled from m. */
void wire_add_unit_input(const Codispatch__V1__AddUnit *m, cd_unit_input_t *out);
void wire_update_unit_input(const Codispatch__V1__UpdateUnit *m, cd_unit_input_t *out);
/* 0 if s is absent/unspecified or not a unit status. */
cd_unit_status_t wire_unit_status(Codispatch__V1__UnitStatus s);
/* Builds a plan from the wire; checks what can be checked without the engine. */
int wire_plan_from_pb(const Codispatch__V1__Plan *m, cd_plan_t *out, cd_error_t *err);

/* now_ms: for the unit's reachability. */
uint8_t *wire_pack_unit(const char *request_id, uint64_t seq, const cd_unit_t *u,
                        const cd_engine_t *engine, int64_t now_ms, size_t *len);
uint8_t *wire_pack_units(const char *request_id, uint64_t seq, const cd_unit_t *const *units,
                         size_t n, const cd_engine_t *engine, int64_t now_ms, size_t *len);
uint8_t *wire_pack_welcome(const char *request_id, uint64_t seq, const cd_unit_t *u,
                           const cd_engine_t *engine, int64_t now_ms, uint32_t heartbeat_ms,
                           const char *server_version, size_t *len);
/* A push to a tablet: the assignment with status as of the event at seq, and its call (PII
 * included: it goes to the assigned unit only). */
uint8_t *wire_pack_assignment(uint64_t seq, const cd_assignment_t *a, const char *status,
                              const cd_call_t *call, size_t *len);
/* --- Live status (wire_live.c): never any caller PII --- */

/* The stream topic of an event ("call.C-000001", "unit.M1", "alert.ack_timeout",
 * "plan.substance"); -1 for an event that is not published. */
int wire_change_topic(const cd_event_t *ev, char *topic, size_t cap);
/* Snapshot reply of the whole live state as of seq. */
uint8_t *wire_pack_snapshot(const char *request_id, uint64_t seq, const cd_engine_t *e,
                            int64_t now_ms, size_t *len);
/* A StreamChange for one event, with the current records of what it names. */
uint8_t *wire_pack_change(const cd_event_t *ev, const cd_engine_t *e, int64_t now_ms, size_t *len);
/* The "stats" topic's message: headline figures as of seq. */
uint8_t *wire_pack_stats(uint64_t seq, const cd_engine_t *e, int64_t now_ms, size_t *len);
/* Room that wire_pack_change and wire_pack_stats leave behind the message (a tag and a
 * varint) for wire_stamp_change, which writes StreamChange.committed_us there once the
 * change's batch has committed (it is packed before, while the engine holds exactly what the
 * batch commits) and returns the new length. */
#define WIRE_STAMP_MAX 11
size_t wire_stamp_change(uint8_t *pb, size_t len, int64_t committed_us);
/* The same two for the dashboard, as JSON text (malloc'd); change: NULL if not published. */
char *wire_json_snapshot(uint64_t seq, const cd_engine_t *e, int64_t now_ms);
char *wire_json_change(const cd_event_t *ev, const cd_engine_t *e, int64_t now_ms);
/* A copy of a change's JSON with "committed_us" added (malloc'd), as wire_stamp_change. */
char *wire_json_stamp(const char *json, int64_t committed_us);

/* True for the bodies a tablet sends on the units socket. */
bool wire_is_tablet_body(const wire_env_t *env);
uint8_t *wire_pack_plan(const char *request_id, uint64_t seq, const cd_plan_t *plan, size_t *len);
uint8_t *wire_pack_plans(const char *request_id, uint64_t seq, const cd_plan_t *const *plans,
                         size_t n, size_t *len);
uint8_t *wire_pack_recommendation(const char *request_id, uint64_t seq, const char *call_id,
                                  const cd_recommendation_t *rec, size_t *len);
uint8_t *wire_pack_alerts(const char *request_id, uint64_t seq, const cd_alert_t *const *alerts,
                          size_t n, size_t *len);

/* Error.Code for a cd_code_t and back. */
Codispatch__V1__Code wire_code(int cd_code);
int wire_cd_code(Codispatch__V1__Code code);

/* Keys (security): one key, or the table. */
uint8_t *wire_pack_key(const char *request_id, uint64_t seq, const cd_key_t *k, size_t *len);
uint8_t *wire_pack_keys(const char *request_id, uint64_t seq, const cd_key_t *const *keys, size_t n,
                        size_t *len);

#endif
