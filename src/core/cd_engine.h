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

#include "cd_assign.h"
#include "cd_call.h"
#include "cd_error.h"
#include "cd_event.h"
#include "cd_key.h"
#include "cd_plan.h"
#include "cd_unit.h"

typedef struct cd_engine cd_engine_t;

/* Who asks, when, and under which idempotency key.  Strings are borrowed. */
typedef struct cd_ctx {
    int64_t now_ms;
    const char *actor;      /* "console", "unit:M12", "system", ... */
    const char *request_id; /* recorded on the command's first event; may be NULL */
} cd_ctx_t;

/* Tunables of the recommendation and the timers (server flags set them). */
typedef struct cd_engine_config {
    double speed_kmh;        /* assumed urban speed for ETAs (default 40) */
    int language_bonus_s;    /* a language match counts as this much closer (default 600) */
    int max_missed_acks;     /* consecutive ack timeouts before out_of_service (default 3) */
    int unreachable_after_s; /* a unit whose tablet was lost this long ago is not offered
                                calls (default 120); a unit that never had one is (radio) */
} cd_engine_config_t;

/* An alert for dispatchers (stream and dashboard show the active ones). */
typedef enum cd_alert_kind {
    CD_ALERT_ACK_TIMEOUT = 1,   /* a unit did not acknowledge in time */
    CD_ALERT_DECLINED,          /* a unit declined */
    CD_ALERT_PENDING_TOO_LONG,  /* a call waits for a unit longer than its priority allows */
    CD_ALERT_ON_SCENE_TOO_LONG, /* a unit is on scene longer than the plan expects */
    CD_ALERT_NO_ELIGIBLE_UNIT,  /* the plan cannot be filled from available units */
    CD_ALERT_KIND_COUNT,
} cd_alert_kind_t;

typedef struct cd_alert {
    int64_t no;
    cd_alert_kind_t kind;
    char call_id[CD_CALL_ID_MAX + 1];
    char unit_id[CD_UNIT_ID_MAX + 1];
    char message[CD_ERROR_MESSAGE_MAX];
    int64_t raised_ms, cleared_ms; /* cleared_ms 0 while active */
    int64_t last_seq;
} cd_alert_t;

const char *cd_alert_kind_name(cd_alert_kind_t k);
cd_alert_kind_t cd_alert_kind_parse(const char *name);
cJSON *cd_alert_to_json(const cd_alert_t *a);
int cd_alert_from_json(const cJSON *obj, cd_alert_t *out, cd_error_t *err);

/* One ranked candidate of a recommendation. */
typedef struct cd_candidate {
    const cd_unit_t *unit;
    int group; /* plan group it would fill */
    int tier;  /* 1: first choice */
    bool eta_known;
    int eta_s;
    bool language_match;
    char reasons[4][96]; /* in words */
    int n_reasons;
} cd_candidate_t;

#define CD_RECOMMEND_MAX 64

typedef struct cd_recommendation {
    cd_candidate_t items[CD_RECOMMEND_MAX]; /* rank order, group by group */
    int n;
    char why_none[CD_ERROR_MESSAGE_MAX]; /* "" when every open group has a candidate */
    char plan[CD_PLAN_TEXT_MAX + 1];     /* the effective plan's groups as text */
} cd_recommendation_t;

cd_engine_t *cd_engine_new(void);
void cd_engine_set_config(cd_engine_t *self, const cd_engine_config_t *cfg);
const cd_engine_config_t *cd_engine_config(const cd_engine_t *self);
void cd_engine_destroy(cd_engine_t **self_p);

/* Forgets all state (calls, counters, pending events) but keeps reference data. */
void cd_engine_reset(cd_engine_t *self);

/* --- Reference data (loaded from PostgreSQL; set directly by tests) --- */
int cd_engine_add_call_type(cd_engine_t *self, const char *name);
bool cd_engine_call_type_known(const cd_engine_t *self, const char *name);
void cd_engine_clear_call_types(cd_engine_t *self);
int cd_engine_add_unit_type(cd_engine_t *self, const char *name);
bool cd_engine_unit_type_known(const cd_engine_t *self, const char *name);

/* --- Restoring committed state at start-up or after reconnecting --- */

/* Continue numbering after these (the largest committed seq and call number). */
void cd_engine_restore_counters(cd_engine_t *self, int64_t last_seq, int64_t last_call_no);
/* Adds a call loaded from the projection.  Takes ownership.  Calls must come in call number
 * order so that listing stays newest-first.  Returns CD_ECONFLICT for a duplicate id (and
 * frees the call). */
int cd_engine_restore_call(cd_engine_t *self, cd_call_t *call);
/* Units, plans, assignments and alerts loaded from their projections (takes ownership of
 * unit and assignment).  Assignments must come after their call and unit, in number order. */
int cd_engine_restore_unit(cd_engine_t *self, cd_unit_t *unit);
int cd_engine_restore_plan(cd_engine_t *self, const cd_plan_t *plan);
int cd_engine_restore_assignment(cd_engine_t *self, cd_assignment_t *a);
int cd_engine_restore_alert(cd_engine_t *self, const cd_alert_t *alert);
void cd_engine_restore_numbers(cd_engine_t *self, int64_t last_assignment_no,
                               int64_t last_alert_no);
/* A key loaded from the keys table (copied).  CD_ECONFLICT for a duplicate name. */
int cd_engine_restore_key(cd_engine_t *self, const cd_key_t *key);

/* --- Client keys (cd_engine_keys.c) --- */
/* Registers a key (name, public_key, role, unit_id of key are used; the unit must be on the
 * roster).  Names and public keys are never reused.  *out: the key as stored. */
int cd_engine_add_key(cd_engine_t *self, const cd_ctx_t *ctx, const cd_key_t *key,
                      const cd_key_t **out, cd_error_t *err);
/* Revokes a key by name; it stays in the table, revoked. */
int cd_engine_revoke_key(cd_engine_t *self, const cd_ctx_t *ctx, const char *name,
                         const cd_key_t **out, cd_error_t *err);
const cd_key_t *cd_engine_find_key(const cd_engine_t *self, const char *name);
const cd_key_t *cd_engine_find_public_key(const cd_engine_t *self, const char *z85);
size_t cd_engine_list_keys(const cd_engine_t *self, const cd_key_t **out, size_t cap);
size_t cd_engine_key_count(const cd_engine_t *self);

/* --- Commands.  On success they record events and return the changed call via *out. --- */
int cd_engine_create_call(cd_engine_t *self, const cd_ctx_t *ctx, const cd_call_input_t *in,
                          const cd_call_t **out, cd_error_t *err);
int cd_engine_cancel_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                          const char *reason, const cd_call_t **out, cd_error_t *err);

int cd_engine_add_note(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                       const char *text, const cd_call_t **out, cd_error_t *err);
/* Closes an open call with a disposition (cd_call_disposition_valid); its active
 * assignments are cleared and their units become available. */
int cd_engine_close_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                         const char *disposition, const cd_call_t **out, cd_error_t *err);

/* Roster. */
int cd_engine_add_unit(cd_engine_t *self, const cd_ctx_t *ctx, const cd_unit_input_t *in,
                       const cd_unit_t **out, cd_error_t *err);
/* Supervisor update: present fields change; status only off_duty|available|out_of_service
 * (out_of_service of a unit on a call clears its assignment and re-offers the call). */
int cd_engine_update_unit(cd_engine_t *self, const cd_ctx_t *ctx, const cd_unit_input_t *in,
                          const cd_unit_t **out, cd_error_t *err);
/* Only a unit that is not on a call. */
int cd_engine_remove_unit(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                          cd_error_t *err);

/* Plans (validated against known call and unit types). */
int cd_engine_set_plan(cd_engine_t *self, const cd_ctx_t *ctx, const cd_plan_t *plan,
                       const cd_plan_t **out, cd_error_t *err);

/* Recommendation: a query, records nothing. */
int cd_engine_recommend(const cd_engine_t *self, int64_t now_ms, const char *call_id,
                        cd_recommendation_t *out, cd_error_t *err);

/* Offers the call to the given units (n > 0), or to the top recommendation of every plan
 * group not yet filled (n == 0).  Refused if a unit is not available or its type is
 * forbidden. */
int cd_engine_dispatch(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                       const char *const *unit_ids, int n, const cd_call_t **out, cd_error_t *err);

/* From the unit's tablet (actor "unit:<id>"): acknowledge, decline, report a status
 * (en_route, on_scene, transporting, at_facility, available = clear, out_of_service,
 * off_duty) — checked against the transition table. */
int cd_engine_unit_ack(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                       const char *call_id, cd_error_t *err);
int cd_engine_unit_decline(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                           const char *call_id, const char *reason, cd_error_t *err);
int cd_engine_unit_status(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                          cd_unit_status_t status, cd_error_t *err);

/* The tablet's position fix. */
int cd_engine_unit_position(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id, double lat,
                            double lon, cd_error_t *err);
/* The server saw the unit's tablet connect (up) or lose its connection.  Records an event
 * only on a change. */
int cd_engine_unit_link(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id, bool up,
                        cd_error_t *err);
/* False when the unit's tablet has been gone longer than unreachable_after_s at now_ms. */
bool cd_engine_unit_reachable(const cd_engine_t *self, const cd_unit_t *u, int64_t now_ms);

/* --- Timers: absolute deadlines held in the state, so they survive a restart. --- */

/* The earliest deadline (epoch ms) of any timer, or INT64_MAX when none runs.  Cached and
 * kept up to date as events are applied: a scan of the open calls only after the call that
 * holds the earliest deadline changed, a plan changed, or state was restored. */
int64_t cd_engine_next_deadline(cd_engine_t *self);
/* The same by a full scan, without the cache (tests compare the two). */
int64_t cd_engine_next_deadline_scan(const cd_engine_t *self);
/* Fires every timer due at now_ms: ack timeouts (re-offer), pending-call and on-scene
 * alerts.  Records events like a command; ctx->request_id should be NULL.  Returns how many
 * timers fired. */
int cd_engine_tick(cd_engine_t *self, const cd_ctx_t *ctx);

/* --- Replay: applies one recorded event (its seq must follow the engine's last seq). --- */
int cd_engine_apply(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err);

/* --- Queries --- */
const cd_call_t *cd_engine_find_call(const cd_engine_t *self, const char *call_id);
/* Fills out[] with up to `limit` calls, newest first; returns how many. */
size_t cd_engine_list_calls(const cd_engine_t *self, bool open_only, size_t limit,
                            const cd_call_t **out);
size_t cd_engine_open_calls(const cd_engine_t *self);
/* Pending calls, by priority then age (the queue); returns how many were written. */
size_t cd_engine_pending_queue(const cd_engine_t *self, size_t limit, const cd_call_t **out);
/* Pending calls counted by priority (by_priority[0] is priority 1) and the earliest
 * pending_since_ms (0 when none waits): the queue's headline figures without sorting it. */
size_t cd_engine_pending_summary(const cd_engine_t *self, uint32_t by_priority[4],
                                 int64_t *oldest_ms);

const cd_unit_t *cd_engine_find_unit(const cd_engine_t *self, const char *unit_id);
/* Also a removed unit (kept for history). */
const cd_unit_t *cd_engine_find_unit_any(const cd_engine_t *self, const char *unit_id);
/* Units (not removed) by id, optionally only one status (0: all). */
size_t cd_engine_list_units(const cd_engine_t *self, cd_unit_status_t status, size_t limit,
                            const cd_unit_t **out);
size_t cd_engine_unit_count(const cd_engine_t *self);

const cd_assignment_t *cd_engine_find_assignment(const cd_engine_t *self, const char *id);
/* The unit's most recent assignment, active or ended (NULL if none in memory). */
const cd_assignment_t *cd_engine_unit_latest_assignment(const cd_engine_t *self,
                                                        const char *unit_id);
/* The call's assignments, oldest first. */
size_t cd_engine_call_assignments(const cd_engine_t *self, const char *call_id, size_t limit,
                                  const cd_assignment_t **out);

const cd_plan_t *cd_engine_find_plan(const cd_engine_t *self, const char *key);
size_t cd_engine_list_plans(const cd_engine_t *self, const cd_plan_t **out, size_t limit);
/* The plan that applies to the call (base + its flags). */
void cd_engine_effective_plan(const cd_engine_t *self, const cd_call_t *call, cd_plan_t *out);

/* Active alerts, oldest first. */
size_t cd_engine_list_alerts(const cd_engine_t *self, const cd_alert_t **out, size_t limit);
const cd_alert_t *cd_engine_find_alert(const cd_engine_t *self, int64_t no);
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
