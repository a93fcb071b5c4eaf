/* Commands: calls, roster, plans, and the units' own reports.  Each validates everything
 * first, then emits its events (which apply them); a refused command records nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_engine_int.h"
#include "cd_json.h"

/* "mental_health, suicide_risk, ..." for error messages. */
static void s_type_list(char *const *types, size_t n_types, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n_types; i++) {
        size_t n = strlen(types[i]);
        if (used + n + 3 >= cap)
            break;
        if (i) {
            memcpy(out + used, ", ", 2);
            used += 2;
        }
        memcpy(out + used, types[i], n);
        used += n;
        out[used] = '\0';
    }
}

static int s_check_reason(const char *text, const char *field, size_t max, cd_error_t *err)
{
    if (!text || !*text)
        return cd_error_set(err, CD_EINVAL, field, "%s is required", field);
    if (strlen(text) > max || !cd_text_is_clean(text, true))
        return cd_error_set(err, CD_EINVAL, field, "%s must be UTF-8 text of at most %zu bytes",
                            field, max);
    return CD_OK;
}

static cd_call_t *s_open_call(cd_engine_t *self, const char *call_id, cd_error_t *err)
{
    if (!call_id || !*call_id) {
        cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
        return NULL;
    }
    cd_call_t *c = cd__call(self, call_id);
    if (!c) {
        cd_error_set(err, CD_ENOTFOUND, "call_id", "call %.20s does not exist", call_id);
        return NULL;
    }
    if (!cd_call_is_open(c)) {
        cd_error_set(err, CD_ECONFLICT, "call_id", "call %s is already %s", c->id,
                     cd_call_status_name(c->status));
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------------ calls */

int cd_engine_create_call(cd_engine_t *self, const cd_ctx_t *ctx, const cd_call_input_t *in,
                          const cd_call_t **out, cd_error_t *err)
{
    cd__begin(self);
    int rc = cd_call_validate(in, err);
    if (rc)
        return rc;
    if (!cd_engine_call_type_known(self, in->type)) {
        char known[CD_ERROR_MESSAGE_MAX / 2];
        s_type_list(self->call_types, self->n_call_types, known, sizeof known);
        return cd_error_set(err, CD_EINVAL, "type", "type '%s' is not a known call type (%s)",
                            in->type, known);
    }
    cd_call_t *c = cd_call_new();
    c->no = self->last_call_no + 1;
    cd_call_format_id(c->id, c->no);
    cd_copy(c->type, sizeof c->type, in->type);
    c->priority = (int)in->priority;
    c->lat = in->lat;
    c->lon = in->lon;
    cd_call_set_text(&c->address, in->address);
    cd_copy(c->area, sizeof c->area, in->area);
    cd_copy(c->language, sizeof c->language, in->language);
    cd_text_language_normalize(c->language);
    c->risk = in->risk;
    cd_call_set_text(&c->summary, in->summary);
    cd_call_set_text(&c->caller_name, in->caller_name);
    cd_copy(c->callback, sizeof c->callback, in->callback);
    c->status = CD_CALL_PENDING;
    c->created_ms = c->updated_ms = c->pending_since_ms = ctx->now_ms;
    c->last_seq = self->last_seq + 1;
    char id[CD_CALL_ID_MAX + 1];
    memcpy(id, c->id, sizeof id);
    cd__emit(self, ctx, CD_EV_CALL_CREATED, id, NULL, cd_call_to_json(c));
    cd_call_destroy(&c);

    cd_call_t *live = cd__call(self, id);
    cd_plan_t plan;
    cd_engine_effective_plan(self, live, &plan);
    if (plan.auto_dispatch_max_priority >= live->priority) {
        char why[CD_ERROR_MESSAGE_MAX];
        cd__dispatch_auto(self, ctx, live, why, sizeof why);
        if (why[0]) /* some group (or all) could not be filled */
            cd__raise_alert(self, ctx, CD_ALERT_NO_ELIGIBLE_UNIT, id, NULL, "call %s: %s", id, why);
    }
    if (out)
        *out = live;
    return CD_OK;
}

/* Ends every active assignment of a call that is being closed or cancelled, and its
 * alerts. */
static void s_wind_up(cd_engine_t *self, const cd_ctx_t *ctx, cd_call_t *c, const char *why)
{
    for (int i = 0; i < c->n_asg; i++)
        if (cd_assign_is_active(c->asg[i]))
            cd__end_assignment(self, ctx, c->asg[i], CD_EV_ASSIGN_CLEARED, why, CD_UNIT_AVAILABLE,
                               false);
    cd__clear_alerts(self, ctx, c->id, NULL, ~0u);
}

/* Ends an open call (cancel or close): its units are cleared first, then the call event
 * carries key = value (the reason or the disposition). */
static int s_end_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                      cd_event_kind_t kind, const char *key, const char *value,
                      const cd_call_t **out, cd_error_t *err)
{
    cd_call_t *c = s_open_call(self, call_id, err);
    if (!c)
        return err ? err->code : CD_EINVAL;
    s_wind_up(self, ctx, c, kind == CD_EV_CALL_CANCELLED ? "call cancelled" : "call closed");
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, key, value);
    cd__emit(self, ctx, kind, c->id, NULL, payload);
    if (out)
        *out = c;
    return CD_OK;
}

int cd_engine_cancel_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                          const char *reason, const cd_call_t **out, cd_error_t *err)
{
    cd__begin(self);
    if (!call_id || !*call_id)
        return cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
    int rc = s_check_reason(reason, "reason", CD_REASON_MAX, err);
    if (rc)
        return rc;
    return s_end_call(self, ctx, call_id, CD_EV_CALL_CANCELLED, "reason", reason, out, err);
}

int cd_engine_close_call(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                         const char *disposition, const cd_call_t **out, cd_error_t *err)
{
    cd__begin(self);
    if (!call_id || !*call_id)
        return cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
    if (!cd_call_disposition_valid(disposition))
        return cd_error_set(err, CD_EINVAL, "disposition", "disposition must be one of %s",
                            cd_call_dispositions());
    return s_end_call(self, ctx, call_id, CD_EV_CALL_CLOSED, "disposition", disposition, out, err);
}

int cd_engine_add_note(cd_engine_t *self, const cd_ctx_t *ctx, const char *call_id,
                       const char *text, const cd_call_t **out, cd_error_t *err)
{
    cd__begin(self);
    if (!call_id || !*call_id)
        return cd_error_set(err, CD_EINVAL, "call_id", "call_id is required");
    int rc = s_check_reason(text, "text", CD_NOTE_MAX, err);
    if (rc)
        return rc;
    cd_call_t *c = cd__call(self, call_id);
    if (!c)
        return cd_error_set(err, CD_ENOTFOUND, "call_id", "call %.20s does not exist", call_id);
    if (cJSON_GetArraySize(c->notes) >= CD_NOTES_MAX)
        return cd_error_set(err, CD_ECONFLICT, "call_id",
                            "call %s has %d notes, the most a call can hold", c->id, CD_NOTES_MAX);
    cJSON *payload = cJSON_CreateObject();
    cJSON_AddStringToObject(payload, "text", text);
    cd__emit(self, ctx, CD_EV_CALL_NOTED, c->id, NULL, payload);
    if (out)
        *out = c;
    return CD_OK;
}

/* ------------------------------------------------------------------ roster */

static int s_check_unit_type(cd_engine_t *self, const char *type, cd_error_t *err)
{
    if (cd_engine_unit_type_known(self, type))
        return CD_OK;
    char known[CD_ERROR_MESSAGE_MAX / 2];
    s_type_list(self->unit_types, self->n_unit_types, known, sizeof known);
    return cd_error_set(err, CD_EINVAL, "type", "type '%s' is not a known unit type (%s)", type,
                        known);
}

static void s_status_event(cd_engine_t *self, const cd_ctx_t *ctx, cd_unit_t *u,
                           cd_unit_status_t st, const char *reason)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "status", cd_unit_status_name(st));
    cJSON_AddStringToObject(p, "reason", reason);
    if (st == CD_UNIT_AVAILABLE || st == CD_UNIT_OFF_DUTY)
        cJSON_AddNumberToObject(p, "missed_acks", 0); /* a fresh start */
    cd__emit(self, ctx, CD_EV_UNIT_STATUS, NULL, u->id, p);
}

int cd_engine_add_unit(cd_engine_t *self, const cd_ctx_t *ctx, const cd_unit_input_t *in,
                       const cd_unit_t **out, cd_error_t *err)
{
    cd__begin(self);
    int rc = cd_unit_validate(in, true, err);
    if (rc || (rc = s_check_unit_type(self, in->type, err)))
        return rc;
    cd_unit_t *have = cd__unit(self, in->id);
    if (have && !have->removed)
        return cd_error_set(err, CD_ECONFLICT, "unit_id", "unit %s is already on the roster",
                            in->id);
    cd_unit_t u = {0};
    cd_copy(u.id, sizeof u.id, in->id);
    cd_copy(u.type, sizeof u.type, in->type);
    cd_unit_apply_input(&u, in);
    u.status = in->status ? in->status : CD_UNIT_OFF_DUTY;
    u.status_ms = ctx->now_ms;
    u.last_seq = self->last_seq + 1;
    cd__emit(self, ctx, CD_EV_UNIT_ADDED, NULL, u.id, cd_unit_to_json(&u));
    if (out)
        *out = cd__unit(self, in->id);
    return CD_OK;
}

int cd_engine_update_unit(cd_engine_t *self, const cd_ctx_t *ctx, const cd_unit_input_t *in,
                          const cd_unit_t **out, cd_error_t *err)
{
    cd__begin(self);
    int rc = cd_unit_validate(in, false, err);
    if (rc)
        return rc;
    cd_unit_t *u = cd__unit(self, in->id);
    if (!u || u->removed)
        return cd_error_set(err, CD_ENOTFOUND, "unit_id", "unit %s is not on the roster", in->id);
    if (in->type && strcmp(in->type, u->type) != 0)
        return cd_error_set(err, CD_EINVAL, "type",
                            "a unit's type cannot change; remove it and add it again");
    cd_assignment_t *a = cd__unit_asg(self, u);
    if (in->status && in->status != u->status &&
        !cd_unit_transition_allowed(u->status, in->status, CD_BY_SUPERVISOR))
        return cd_error_set(err, CD_ECONFLICT, "status",
                            "unit %s is %s; a supervisor cannot make it %s%s", u->id,
                            cd_unit_status_name(u->status), cd_unit_status_name(in->status),
                            a ? " while it is on a call (out_of_service is allowed)" : "");
    bool describes = in->name || in->area || in->set_languages || in->set_capabilities ||
                     (in->has_lat && in->has_lon);
    if (describes) {
        cd_unit_t copy = *u;
        cd_unit_apply_input(&copy, in);
        copy.last_seq = self->last_seq + 1;
        cd__emit(self, ctx, CD_EV_UNIT_UPDATED, NULL, u->id, cd_unit_to_json(&copy));
    }
    if (in->status && in->status != u->status) {
        if (a) { /* out of service while on a call: the call needs another unit */
            cd__clear_alerts(self, ctx, a->call_id, a->unit_id,
                             CD_ALERT_BIT(CD_ALERT_ON_SCENE_TOO_LONG));
            cd__end_assignment(self, ctx, a, CD_EV_ASSIGN_CLEARED,
                               "unit taken out of service by a supervisor", CD_UNIT_OUT_OF_SERVICE,
                               true);
        } else {
            s_status_event(self, ctx, u, in->status, "set by a supervisor");
        }
    }
    if (out)
        *out = u;
    return CD_OK;
}

int cd_engine_remove_unit(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                          cd_error_t *err)
{
    cd__begin(self);
    cd_unit_t *u = cd__unit(self, unit_id);
    if (!unit_id || !*unit_id)
        return cd_error_set(err, CD_EINVAL, "unit_id", "unit_id is required");
    if (!u || u->removed)
        return cd_error_set(err, CD_ENOTFOUND, "unit_id", "unit %.32s is not on the roster",
                            unit_id);
    cd_assignment_t *a = cd__unit_asg(self, u);
    if (a)
        return cd_error_set(err, CD_ECONFLICT, "unit_id",
                            "unit %s is assigned to call %s; clear it before removing it", u->id,
                            a->call_id);
    cd__emit(self, ctx, CD_EV_UNIT_REMOVED, NULL, u->id, cJSON_CreateObject());
    return CD_OK;
}

/* ------------------------------------------------------------------ plans */

int cd_engine_set_plan(cd_engine_t *self, const cd_ctx_t *ctx, const cd_plan_t *plan,
                       const cd_plan_t **out, cd_error_t *err)
{
    cd__begin(self);
    int rc = cd_plan_validate(plan, err);
    if (rc)
        return rc;
    if (plan->mode == CD_PLAN_BASE && !cd_engine_call_type_known(self, plan->key))
        return cd_error_set(err, CD_EINVAL, "key", "'%s' is not a known call type", plan->key);
    for (int g = 0; g < plan->n_groups; g++)
        for (int t = 0; t < plan->groups[g].n_tiers; t++)
            for (int k = 0; k < plan->groups[g].tiers[t].n_types; k++)
                if (!cd_engine_unit_type_known(self, plan->groups[g].tiers[t].types[k]))
                    return cd_error_set(err, CD_EINVAL, "groups",
                                        "groups: '%s' is not a known unit type",
                                        plan->groups[g].tiers[t].types[k]);
    for (int i = 0; i < plan->n_forbidden; i++)
        if (!cd_engine_unit_type_known(self, plan->forbidden[i]))
            return cd_error_set(err, CD_EINVAL, "forbidden",
                                "forbidden: '%s' is not a known unit type", plan->forbidden[i]);
    cd__emit(self, ctx, CD_EV_PLAN_SET, NULL, NULL, cd_plan_to_json(plan));
    if (out)
        *out = cd__plan(self, plan->key);
    return CD_OK;
}

/* ------------------------------------------------------------------ the units' reports */

static cd_unit_t *s_reporting_unit(cd_engine_t *self, const char *unit_id, cd_error_t *err)
{
    cd_unit_t *u = cd__unit(self, unit_id);
    if (!unit_id || !*unit_id) {
        cd_error_set(err, CD_EINVAL, "unit_id", "unit_id is required");
        return NULL;
    }
    if (!u || u->removed) {
        cd_error_set(err, CD_ENOTFOUND, "unit_id", "unit %.32s is not on the roster", unit_id);
        return NULL;
    }
    return u;
}

/* The unit's active assignment on call_id (any call when call_id is NULL or ""). */
static cd_assignment_t *s_assignment_on(cd_engine_t *self, cd_unit_t *u, const char *call_id,
                                        cd_error_t *err)
{
    cd_assignment_t *a = cd__unit_asg(self, u);
    if (!a || (call_id && *call_id && strcmp(a->call_id, call_id) != 0)) {
        cd_error_set(err, CD_ECONFLICT, "call_id", "unit %s is not assigned to %s", u->id,
                     call_id && *call_id ? call_id : "any call");
        return NULL;
    }
    return a;
}

static void s_assignment_event(cd_engine_t *self, const cd_ctx_t *ctx, cd_assignment_t *a,
                               cd_event_kind_t kind, const char *status)
{
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "assignment_id", a->id);
    if (status)
        cJSON_AddStringToObject(p, "status", status);
    cd__emit(self, ctx, kind, a->call_id, a->unit_id, p);
}

/* The call has a unit that answered: earlier misses no longer need anyone's attention. */
static void s_answered(cd_engine_t *self, const cd_ctx_t *ctx, const cd_assignment_t *a)
{
    cd__clear_alerts(self, ctx, a->call_id, NULL,
                     CD_ALERT_BIT(CD_ALERT_ACK_TIMEOUT) | CD_ALERT_BIT(CD_ALERT_DECLINED));
}

int cd_engine_unit_ack(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                       const char *call_id, cd_error_t *err)
{
    cd__begin(self);
    cd_unit_t *u = s_reporting_unit(self, unit_id, err);
    cd_assignment_t *a = u ? s_assignment_on(self, u, call_id, err) : NULL;
    if (!a)
        return err ? err->code : CD_EINVAL;
    if (a->status != CD_ASG_OFFERED)
        return cd_error_set(err, CD_ECONFLICT, "call_id",
                            "unit %s has already acknowledged call %s", u->id, a->call_id);
    s_assignment_event(self, ctx, a, CD_EV_ASSIGN_ACKED, NULL);
    s_answered(self, ctx, a);
    return CD_OK;
}

int cd_engine_unit_decline(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                           const char *call_id, const char *reason, cd_error_t *err)
{
    cd__begin(self);
    int rc = s_check_reason(reason, "reason", CD_REASON_MAX, err);
    if (rc)
        return rc;
    cd_unit_t *u = s_reporting_unit(self, unit_id, err);
    cd_assignment_t *a = u ? s_assignment_on(self, u, call_id, err) : NULL;
    if (!a)
        return err ? err->code : CD_EINVAL;
    if (a->status != CD_ASG_OFFERED)
        return cd_error_set(err, CD_ECONFLICT, "call_id",
                            "unit %s acknowledged call %s; it can clear, not decline", u->id,
                            a->call_id);
    char call[CD_CALL_ID_MAX + 1], unit[CD_UNIT_ID_MAX + 1];
    cd_copy(call, sizeof call, a->call_id);
    cd_copy(unit, sizeof unit, u->id);
    cd__raise_alert(self, ctx, CD_ALERT_DECLINED, call, unit, "unit %s declined call %s: %.120s",
                    unit, call, reason);
    cd__end_assignment(self, ctx, a, CD_EV_ASSIGN_DECLINED, reason, CD_UNIT_AVAILABLE, true);
    return CD_OK;
}

int cd_engine_unit_status(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id,
                          cd_unit_status_t status, cd_error_t *err)
{
    cd__begin(self);
    cd_unit_t *u = s_reporting_unit(self, unit_id, err);
    if (!u)
        return err ? err->code : CD_EINVAL;
    if (!cd_unit_status_name(status))
        return cd_error_set(err, CD_EINVAL, "status", "status is not a unit status");
    if (status == u->status)
        return cd_error_set(err, CD_ECONFLICT, "status", "unit %s is already %s", u->id,
                            cd_unit_status_name(status));
    if (!cd_unit_transition_allowed(u->status, status, CD_BY_UNIT))
        return cd_error_set(err, CD_ECONFLICT, "status", "unit %s is %s; it cannot go %s", u->id,
                            cd_unit_status_name(u->status), cd_unit_status_name(status));
    cd_assignment_t *a = cd__unit_asg(self, u);
    if (!a) {
        s_status_event(self, ctx, u, status, "reported by the unit");
        return CD_OK;
    }
    switch (status) {
    case CD_UNIT_EN_ROUTE:
    case CD_UNIT_ON_SCENE:
    case CD_UNIT_TRANSPORTING:
    case CD_UNIT_AT_FACILITY: {
        static const char *const progress[] = {[CD_UNIT_EN_ROUTE] = "en_route",
                                               [CD_UNIT_ON_SCENE] = "on_scene",
                                               [CD_UNIT_TRANSPORTING] = "transporting",
                                               [CD_UNIT_AT_FACILITY] = "at_facility"};
        bool was_on_scene = a->status == CD_ASG_ON_SCENE;
        bool first_answer = a->status == CD_ASG_OFFERED;
        s_assignment_event(self, ctx, a, CD_EV_ASSIGN_PROGRESS, progress[status]);
        if (first_answer)
            s_answered(self, ctx, a);
        if (was_on_scene)
            cd__clear_alerts(self, ctx, a->call_id, a->unit_id,
                             CD_ALERT_BIT(CD_ALERT_ON_SCENE_TOO_LONG));
        return CD_OK;
    }
    case CD_UNIT_AVAILABLE:
        if (a->status == CD_ASG_OFFERED) /* "available" before answering is a decline */
            return cd_engine_unit_decline(self, ctx, unit_id, a->call_id,
                                          "cleared before acknowledging", err);
        cd__clear_alerts(self, ctx, a->call_id, a->unit_id,
                         CD_ALERT_BIT(CD_ALERT_ON_SCENE_TOO_LONG));
        cd__end_assignment(self, ctx, a, CD_EV_ASSIGN_CLEARED, "cleared by the unit",
                           CD_UNIT_AVAILABLE, false);
        return CD_OK;
    default: /* out_of_service on a call: the call needs another unit */
        cd__clear_alerts(self, ctx, a->call_id, a->unit_id,
                         CD_ALERT_BIT(CD_ALERT_ON_SCENE_TOO_LONG));
        cd__end_assignment(self, ctx, a, CD_EV_ASSIGN_CLEARED, "unit went out of service", status,
                           true);
        return CD_OK;
    }
}

int cd_engine_unit_position(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id, double lat,
                            double lon, cd_error_t *err)
{
    cd__begin(self);
    cd_unit_t *u = s_reporting_unit(self, unit_id, err);
    if (!u)
        return err ? err->code : CD_EINVAL;
    if (!(isfinite(lat) && lat >= -90 && lat <= 90))
        return cd_error_set(err, CD_EINVAL, "lat", "lat must be between -90 and 90");
    if (!(isfinite(lon) && lon >= -180 && lon <= 180))
        return cd_error_set(err, CD_EINVAL, "lon", "lon must be between -180 and 180");
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "lat", lat);
    cJSON_AddNumberToObject(p, "lon", lon);
    cd__emit(self, ctx, CD_EV_UNIT_POSITION, NULL, u->id, p);
    return CD_OK;
}

int cd_engine_unit_link(cd_engine_t *self, const cd_ctx_t *ctx, const char *unit_id, bool up,
                        cd_error_t *err)
{
    cd__begin(self);
    cd_unit_t *u = s_reporting_unit(self, unit_id, err);
    if (!u)
        return err ? err->code : CD_EINVAL;
    if (u->link_up == up && u->link_ms != 0)
        return CD_OK; /* no change, no event */
    cJSON *p = cJSON_CreateObject();
    cJSON_AddBoolToObject(p, "up", up);
    cd__emit(self, ctx, CD_EV_UNIT_LINK, NULL, u->id, p);
    return CD_OK;
}
