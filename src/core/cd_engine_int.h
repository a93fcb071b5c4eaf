/*  cd_engine_int.h — the engine's private parts, shared by its source files:
 *    cd_engine.c          state, reference data, queries, restore, canonical JSON
 *    cd_engine_apply.c    events -> state (the only code that changes state)
 *    cd_engine_cmd.c      commands: calls, roster, plans, the units' own reports
 *    cd_engine_dispatch.c recommendation, dispatch, re-offer, timers
 *  Not for use outside src/core.
 */
#ifndef CD_ENGINE_INT_H
#define CD_ENGINE_INT_H

#include "cd_engine.h"

#define CD_MAX_TYPES 64

struct cd_engine {
    cd_engine_config_t cfg;
    cd_call_t *calls; /* uthash by id, in call number order */
    size_t open_calls;
    cd_unit_t *units;      /* uthash by id (removed units stay, flagged) */
    cd_assignment_t *asgs; /* uthash by id, in number order */
    cd_plan_t *plans;      /* sorted by key */
    int n_plans, cap_plans;
    cd_alert_t *alerts; /* active alerts, oldest first */
    size_t n_alerts, cap_alerts;
    int64_t last_seq, last_call_no, last_asg_no, last_alert_no;
    cd_event_log_t events; /* recorded since the last take */
    char *call_types[CD_MAX_TYPES];
    size_t n_call_types;
    char *unit_types[CD_MAX_TYPES];
    size_t n_unit_types;
    struct cd_key *keys;     /* uthash by name (cd_engine_keys.c) */
    bool request_id_pending; /* the running command has not recorded an event yet */
    /* Timers: a min-heap of (deadline, call id), kept as events are applied
     * (cd__deadline_note), so finding the earliest deadline after a loop turn does not scan
     * every open call.  An entry is current when its call's deadline_ms still equals it;
     * stale ones are dropped when they reach the top.  A plan change, a restore or an
     * eviction clears dl_valid and the next query rebuilds the heap from the calls. */
    struct cd_deadline *dl_heap;
    size_t dl_n, dl_cap;
    bool dl_valid;
};

/* Records an event (next seq, the ctx's time and actor, the command's request id on its
 * first event) and applies it.  Takes ownership of payload.  Returns the applied event's
 * seq.  Every state change of a command goes through here. */
int64_t cd__emit(cd_engine_t *self, const cd_ctx_t *ctx, cd_event_kind_t kind, const char *call_id,
                 const char *unit_id, cJSON *payload);

/* After ev was applied: keeps the cached earliest deadline exact (see dl_valid). */
void cd__deadline_note(cd_engine_t *self, const cd_event_t *ev);

/* Applies an event to the state (live and replay). */
int cd__apply(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err);

cd_call_t *cd__call(const cd_engine_t *self, const char *id);
cd_unit_t *cd__unit(const cd_engine_t *self, const char *id);
cd_assignment_t *cd__asg(const cd_engine_t *self, const char *id);
cd_plan_t *cd__plan(const cd_engine_t *self, const char *key);
/* The call type's plan (or "other"'s); NULL when neither exists.  Its clocks are the
 * effective plan's: flag plans change which units go, never the clocks. */
const cd_plan_t *cd__base_plan(const cd_engine_t *self, const cd_call_t *call);
/* The unit's active assignment, or NULL. */
cd_assignment_t *cd__unit_asg(const cd_engine_t *self, const cd_unit_t *u);

/* Keys (cd_engine_keys.c): applies key.added / key.revoked; frees the table. */
int cd__key_event(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err);
void cd__free_keys(cd_engine_t *self);

/* Marks the start of a command (its first event will carry the request id). */
void cd__begin(cd_engine_t *self);

/* Alerts: raise one (unless the same kind is active for that call and unit), clear those
 * of a call matching a kind mask (1u << kind) and, if unit_id, that unit. */
void cd__raise_alert(cd_engine_t *self, const cd_ctx_t *ctx, cd_alert_kind_t kind,
                     const char *call_id, const char *unit_id, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void cd__clear_alerts(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                      const char *unit_id, unsigned kinds);
#define CD_ALERT_BIT(k) (1u << (k))

/* Ends an active assignment (declined, timed out or cleared) and, when the call is still
 * open and reoffer is set, offers its plan group to the next unit. */
void cd__end_assignment(cd_engine_t *self, const cd_ctx_t *ctx, cd_assignment_t *a,
                        cd_event_kind_t how, const char *reason, cd_unit_status_t unit_after,
                        bool reoffer);

/* Offers the call's plan group g (a refill after a decline or timeout) to its best unit;
 * raises no_eligible_unit when there is none. */
void cd__reoffer(cd_engine_t *self, const cd_ctx_t *ctx, cd_call_t *call, int g);

/* Offers every unfilled group of the call its top unit (auto-dispatch, dispatch without
 * names).  Returns how many units were offered; why_none gets the reason for the rest. */
int cd__dispatch_auto(cd_engine_t *self, const cd_ctx_t *ctx, cd_call_t *call, char *why_none,
                      size_t cap);

#endif
