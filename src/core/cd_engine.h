/*  cd_engine.h — the pure dispatch engine: commands and the current time in, events out.
 *
 *  No I/O of any kind.  The server feeds it commands decoded from the wire and the loop's
 *  clock; the store persists the events it records; the simulator and the tests drive it
 *  directly under a fake clock.
 *
 *  Ownership: the engine owns every call; pointers it returns stay valid until the next call
 *  that mutates the engine (a command, cd_engine_apply, cd_engine_reset, an eviction).
 */
#ifndef CD_ENGINE_H
#define CD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cd_call.h"
#include "cd_error.h"
#include "cd_event.h"

typedef struct cd_engine cd_engine_t;

/* Who asks, when, and under which idempotency key.  Strings are borrowed. */
typedef struct cd_ctx {
    int64_t now_ms;
    const char *actor;      /* "console", "unit:M12", "system", ... */
    const char *request_id; /* recorded on the command's first event; may be NULL */
} cd_ctx_t;

cd_engine_t *cd_engine_new(void);
void cd_engine_destroy(cd_engine_t **self_p);

/* Forgets all state (calls, counters, pending events) but keeps reference data. */
void cd_engine_reset(cd_engine_t *self);

/* --- Reference data (loaded from PostgreSQL; set directly by tests) --- */
int cd_engine_add_call_type(cd_engine_t *self, const char *name);
bool cd_engine_call_type_known(const cd_engine_t *self, const char *name);
void cd_engine_clear_call_types(cd_engine_t *self);

/* --- Restoring committed state at start-up or after reconnecting --- */

/* Continue numbering after these (the largest committed seq and call number). */
void cd_engine_restore_counters(cd_engine_t *self, int64_t last_seq, int64_t last_call_no);
/* Adds a call loaded from the projection.  Takes ownership.  Calls must come in call number
 * order so that listing stays newest-first.  Returns CD_ECONFLICT for a duplicate id (and
 * frees the call). */
int cd_engine_restore_call(cd_engine_t *self, cd_call_t *call);

/* --- Commands.  On success they record events and return the changed call via *out. --- */
int cd_engine_create_call(cd_engine_t *self, const cd_ctx_t *ctx, const cd_call_input_t *in,
                          const cd_call_t **out, cd_error_t *err);
int cd_engine_cancel_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                          const char *reason, const cd_call_t **out, cd_error_t *err);

/* --- Replay: applies one recorded event (its seq must follow the engine's last seq). --- */
int cd_engine_apply(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err);

/* --- Queries --- */
const cd_call_t *cd_engine_find_call(const cd_engine_t *self, const char *call_id);
/* Fills out[] with up to `limit` calls, newest first; returns how many. */
size_t cd_engine_list_calls(const cd_engine_t *self, bool open_only, size_t limit,
                            const cd_call_t **out);
size_t cd_engine_open_calls(const cd_engine_t *self);
/* The seq of the last event recorded (committed or not). */
int64_t cd_engine_last_seq(const cd_engine_t *self);

/* Events recorded since the last take, in seq order.  The engine keeps ownership. */
const cd_event_log_t *cd_engine_events(const cd_engine_t *self);
/* Moves the recorded events into *dst (which then owns them). */
void cd_engine_take_events(cd_engine_t *self, cd_event_log_t *dst);

/* Frees closed and cancelled calls whose closing is older than cutoff_ms; they stay in
 * PostgreSQL.  Returns how many were freed. */
size_t cd_engine_evict_closed(cd_engine_t *self, int64_t cutoff_ms);

/* The whole state as canonical JSON (sorted by id), for tests and diagnostics.  Caller owns
 * the returned object. */
cJSON *cd_engine_state_json(const cd_engine_t *self);

#endif
