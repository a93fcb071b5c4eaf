/* Events -> state.  The only code that changes the engine's state: commands emit events and
 * apply them here; replay applies the recorded events here.  So replay = live. */
#include <stdlib.h>
#include <string.h>

#include "cd_engine_int.h"
#include "cd_json.h"

void cd__begin(cd_engine_t *self)
{
    self->request_id_pending = true;
}

int64_t cd__emit(cd_engine_t *self, const cd_ctx_t *ctx, cd_event_kind_t kind, const char *call_id,
                 const char *unit_id, cJSON *payload)
{
    cd_event_t ev = {0};
    ev.seq = self->last_seq + 1;
    ev.at_ms = ctx->now_ms;
    ev.kind = kind;
    cd_copy(ev.actor, sizeof ev.actor, ctx->actor ? ctx->actor : "system");
    cd_copy(ev.call_id, sizeof ev.call_id, call_id);
    cd_copy(ev.unit_id, sizeof ev.unit_id, unit_id);
    /* Only the first event of a command carries its request id (events.request_id is
     * unique); a command's later events follow it in seq order. */
    if (self->request_id_pending && ctx->request_id) {
        cd_copy(ev.request_id, sizeof ev.request_id, ctx->request_id);
        self->request_id_pending = false;
    }
    ev.payload = payload;
    cd_error_t err;
    if (cd__apply(self, &ev, &err) != CD_OK)
        abort(); /* a command built an event its own state cannot take: a bug */
    cd_event_log_push(&self->events, &ev);
    return ev.seq;
}

/* ------------------------------------------------------------------ derived status */

/* Call status follows its assignments: the most advanced active one decides. */
static void s_refresh_call(cd_call_t *c, int64_t at_ms)
{
    if (!cd_call_is_open(c))
        return;
    cd_call_status_t st = CD_CALL_PENDING;
    for (int i = 0; i < c->n_asg; i++) {
        const cd_assignment_t *a = c->asg[i];
        if (!cd_assign_is_active(a))
            continue;
        cd_call_status_t s = a->status <= CD_ASG_ACKNOWLEDGED ? CD_CALL_DISPATCHED
                             : a->status == CD_ASG_EN_ROUTE   ? CD_CALL_EN_ROUTE
                                                              : CD_CALL_ON_SCENE;
        if (s > st)
            st = s;
    }
    if (st == CD_CALL_PENDING && c->status != CD_CALL_PENDING) {
        c->pending_since_ms = at_ms; /* back in the queue: a new wait begins */
        c->pending_alerted = false;
    }
    c->status = st;
}

static void s_set_unit_status(cd_unit_t *u, cd_unit_status_t st, int64_t at_ms)
{
    if (u->status != st)
        u->status_ms = at_ms;
    u->status = st;
}

/* ------------------------------------------------------------------ per kind */

static int s_missing(cd_error_t *err, const char *what, const char *id)
{
    return cd_error_set(err, CD_ENOTFOUND, "payload", "%s %.40s does not exist", what, id);
}

static int s_call_created(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    cd_call_t *c = cd_call_from_json(ev->payload, err);
    if (!c)
        return CD_EINVAL;
    if (cd__call(self, c->id)) {
        cd_call_destroy(&c);
        return cd_error_set(err, CD_ECONFLICT, "call_id", "call %s exists already", ev->call_id);
    }
    c->status = CD_CALL_PENDING;
    c->last_seq = ev->seq;
    c->pending_since_ms = c->created_ms;
    c->pending_alerted = false;
    HASH_ADD_STR(self->calls, id, c);
    self->open_calls++;
    if (c->no > self->last_call_no)
        self->last_call_no = c->no;
    return CD_OK;
}

static int s_call_event(cd_engine_t *self, const cd_event_t *ev, cd_call_t *c, cd_error_t *err)
{
    const cJSON *p = ev->payload;
    switch (ev->kind) {
    case CD_EV_CALL_CANCELLED:
    case CD_EV_CALL_CLOSED:
        if (!cd_call_is_open(c))
            return cd_error_set(err, CD_ECONFLICT, "call_id", "call %s is not open", c->id);
        self->open_calls--;
        c->closed_ms = ev->at_ms;
        if (ev->kind == CD_EV_CALL_CANCELLED) {
            c->status = CD_CALL_CANCELLED;
            cd_call_set_text(&c->cancel_reason, cd_json_str(p, "reason"));
        } else {
            c->status = CD_CALL_CLOSED;
            cd_copy(c->disposition, sizeof c->disposition, cd_json_str(p, "disposition"));
        }
        break;
    case CD_EV_CALL_NOTED: {
        cJSON *note = cJSON_CreateObject();
        cJSON_AddNumberToObject(note, "at_ms", (double)ev->at_ms);
        cJSON_AddStringToObject(note, "actor", ev->actor);
        const char *text = cd_json_str(p, "text");
        cJSON_AddStringToObject(note, "text", text ? text : "");
        cJSON_AddItemToArray(c->notes, note);
        break;
    }
    default:
        return cd_error_set(err, CD_EINVAL, "kind", "not a call event");
    }
    return CD_OK;
}

static int s_unit_event(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    cd_unit_t *u = cd__unit(self, ev->unit_id);
    if (ev->kind == CD_EV_UNIT_ADDED || ev->kind == CD_EV_UNIT_UPDATED) {
        cd_unit_t *n = cd_unit_from_json(ev->payload, err);
        if (!n)
            return CD_EINVAL;
        if (ev->kind == CD_EV_UNIT_ADDED) {
            if (u && !u->removed) {
                free(n);
                return cd_error_set(err, CD_ECONFLICT, "unit_id", "unit %s exists", u->id);
            }
            if (u) { /* a removed unit comes back */
                HASH_DEL(self->units, u);
                free(u);
            }
            n->removed = false;
            n->assignment_id[0] = '\0';
            n->status_ms = ev->at_ms;
            n->last_seq = ev->seq;
            HASH_ADD_STR(self->units, id, n);
            return CD_OK;
        }
        if (!u) {
            free(n);
            return s_missing(err, "unit", ev->unit_id);
        }
        /* Descriptive fields only; status and assignment move by their own events. */
        memcpy(u->name, n->name, sizeof u->name);
        memcpy(u->languages, n->languages, sizeof u->languages);
        u->n_languages = n->n_languages;
        memcpy(u->capabilities, n->capabilities, sizeof u->capabilities);
        u->n_capabilities = n->n_capabilities;
        memcpy(u->area, n->area, sizeof u->area);
        u->has_position = n->has_position;
        u->lat = n->lat;
        u->lon = n->lon;
        u->last_seq = ev->seq;
        free(n);
        return CD_OK;
    }
    if (!u)
        return s_missing(err, "unit", ev->unit_id);
    if (ev->kind == CD_EV_UNIT_REMOVED) {
        u->removed = true;
    } else if (ev->kind == CD_EV_UNIT_POSITION) {
        double lat, lon;
        if (!cd_json_num(ev->payload, "lat", &lat) || !cd_json_num(ev->payload, "lon", &lon))
            return cd_error_set(err, CD_EINVAL, "payload", "unit.position without lat/lon");
        u->has_position = true;
        u->lat = lat;
        u->lon = lon;
    } else if (ev->kind == CD_EV_UNIT_LINK) {
        u->link_up = cd_json_bool(ev->payload, "up", false);
        u->link_ms = ev->at_ms;
    } else { /* CD_EV_UNIT_STATUS */
        cd_unit_status_t st = cd_unit_status_parse(cd_json_str(ev->payload, "status"));
        if (!st)
            return cd_error_set(err, CD_EINVAL, "status", "unit.status without a status");
        s_set_unit_status(u, st, ev->at_ms);
        u->missed_acks = (int)cd_json_int(ev->payload, "missed_acks", u->missed_acks);
    }
    u->last_seq = ev->seq;
    return CD_OK;
}

static void s_call_add_asg(cd_call_t *c, cd_assignment_t *a)
{
    if (c->n_asg == c->cap_asg) {
        c->cap_asg = c->cap_asg ? c->cap_asg * 2 : 4;
        c->asg = cd_xrealloc(c->asg, (size_t)c->cap_asg * sizeof *c->asg);
    }
    c->asg[c->n_asg++] = a;
}

static int s_offered(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    cd_assignment_t *a = cd_assign_from_json(ev->payload, err);
    if (!a)
        return CD_EINVAL;
    cd_call_t *c = cd__call(self, a->call_id);
    cd_unit_t *u = cd__unit(self, a->unit_id);
    if (!c || !u || cd__asg(self, a->id) || u->assignment_id[0]) {
        free(a);
        return cd_error_set(err, CD_ECONFLICT, "payload",
                            "offer refers to a missing call or unit, or a busy unit");
    }
    a->status = CD_ASG_OFFERED;
    a->offered_ms = ev->at_ms;
    a->last_seq = ev->seq;
    HASH_ADD_STR(self->asgs, id, a);
    if (a->no > self->last_asg_no)
        self->last_asg_no = a->no;
    s_call_add_asg(c, a);
    cd_copy(u->assignment_id, sizeof u->assignment_id, a->id);
    s_set_unit_status(u, CD_UNIT_ASSIGNED, ev->at_ms);
    u->last_dispatch_ms = ev->at_ms;
    u->last_seq = ev->seq;
    s_refresh_call(c, ev->at_ms);
    c->updated_ms = ev->at_ms;
    c->last_seq = ev->seq;
    return CD_OK;
}

static int s_assignment_event(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    const cJSON *p = ev->payload;
    const char *id = cd_json_str(p, "assignment_id");
    cd_assignment_t *a = cd__asg(self, id);
    if (!a)
        return s_missing(err, "assignment", id ? id : "");
    if (!cd_assign_is_active(a))
        return cd_error_set(err, CD_ECONFLICT, "assignment_id", "assignment %s has ended", a->id);
    cd_call_t *c = cd__call(self, a->call_id);
    cd_unit_t *u = cd__unit(self, a->unit_id);
    if (!c || !u)
        return s_missing(err, "call or unit of assignment", a->id);
    int64_t at = ev->at_ms;
    switch (ev->kind) {
    case CD_EV_ASSIGN_ACKED:
        a->status = CD_ASG_ACKNOWLEDGED;
        a->acked_ms = at;
        u->missed_acks = 0;
        break;
    case CD_EV_ASSIGN_PROGRESS: {
        cd_assign_status_t st = cd_assign_status_parse(cd_json_str(p, "status"));
        if (st < CD_ASG_EN_ROUTE || st > CD_ASG_AT_FACILITY)
            return cd_error_set(err, CD_EINVAL, "status", "not a progress status");
        a->status = st;
        if (!a->acked_ms)
            a->acked_ms = at; /* moving counts as acknowledging */
        int64_t *stamp = st == CD_ASG_EN_ROUTE       ? &a->en_route_ms
                         : st == CD_ASG_ON_SCENE     ? &a->on_scene_ms
                         : st == CD_ASG_TRANSPORTING ? &a->transporting_ms
                                                     : &a->at_facility_ms;
        *stamp = at;
        u->missed_acks = 0;
        s_set_unit_status(u, cd_assign_unit_status(st), at);
        break;
    }
    default: { /* declined, timed out, cleared */
        a->status = ev->kind == CD_EV_ASSIGN_DECLINED    ? CD_ASG_DECLINED
                    : ev->kind == CD_EV_ASSIGN_TIMED_OUT ? CD_ASG_TIMED_OUT
                                                         : CD_ASG_CLEARED;
        a->ended_ms = at;
        cd_copy(a->end_reason, sizeof a->end_reason, cd_json_str(p, "reason"));
        u->assignment_id[0] = '\0';
        cd_unit_status_t after = cd_unit_status_parse(cd_json_str(p, "unit_status"));
        s_set_unit_status(u, after ? after : CD_UNIT_AVAILABLE, at);
        u->missed_acks = (int)cd_json_int(p, "missed_acks", u->missed_acks);
        break;
    }
    }
    a->last_seq = ev->seq;
    u->last_seq = ev->seq;
    s_refresh_call(c, at);
    c->updated_ms = at;
    c->last_seq = ev->seq;
    return CD_OK;
}

static int s_plan_set(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    cd_plan_t plan;
    int rc = cd_plan_from_json(ev->payload, &plan, err);
    if (rc)
        return rc;
    plan.last_seq = ev->seq;
    cd_plan_t *have = cd__plan(self, plan.key);
    if (have) {
        *have = plan;
        return CD_OK;
    }
    if (self->n_plans == self->cap_plans) {
        self->cap_plans = self->cap_plans ? self->cap_plans * 2 : 16;
        self->plans = cd_xrealloc(self->plans, (size_t)self->cap_plans * sizeof *self->plans);
    }
    int i = self->n_plans++;
    while (i > 0 && strcmp(self->plans[i - 1].key, plan.key) > 0) { /* keep sorted by key */
        self->plans[i] = self->plans[i - 1];
        i--;
    }
    self->plans[i] = plan;
    return CD_OK;
}

static int s_alert_event(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    if (ev->kind == CD_EV_ALERT_CLEARED) {
        int64_t no = cd_json_int(ev->payload, "alert_no", 0);
        for (size_t i = 0; i < self->n_alerts; i++) {
            if (self->alerts[i].no != no)
                continue;
            memmove(&self->alerts[i], &self->alerts[i + 1],
                    (self->n_alerts - i - 1) * sizeof *self->alerts);
            self->n_alerts--;
            return CD_OK;
        }
        return cd_error_set(err, CD_ENOTFOUND, "alert_no", "alert %lld is not active",
                            (long long)no);
    }
    cd_alert_t al;
    int rc = cd_alert_from_json(ev->payload, &al, err);
    if (rc)
        return rc;
    al.raised_ms = ev->at_ms;
    al.last_seq = ev->seq;
    if (self->n_alerts == self->cap_alerts) {
        self->cap_alerts = self->cap_alerts ? self->cap_alerts * 2 : 16;
        self->alerts = cd_xrealloc(self->alerts, self->cap_alerts * sizeof *self->alerts);
    }
    self->alerts[self->n_alerts++] = al;
    if (al.no > self->last_alert_no)
        self->last_alert_no = al.no;
    /* Timer alerts fire once per wait: remember that they did. */
    cd_call_t *c = cd__call(self, al.call_id);
    if (c && al.kind == CD_ALERT_PENDING_TOO_LONG)
        c->pending_alerted = true;
    if (c && al.kind == CD_ALERT_ON_SCENE_TOO_LONG)
        for (int i = 0; i < c->n_asg; i++)
            if (strcmp(c->asg[i]->unit_id, al.unit_id) == 0 && cd_assign_is_active(c->asg[i]))
                c->asg[i]->on_scene_alerted = true;
    return CD_OK;
}

int cd__apply(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    int rc;
    switch (ev->kind) {
    case CD_EV_CALL_CREATED:
        rc = s_call_created(self, ev, err);
        break;
    case CD_EV_CALL_CANCELLED:
    case CD_EV_CALL_NOTED:
    case CD_EV_CALL_CLOSED: {
        cd_call_t *c = cd__call(self, ev->call_id);
        if (!c)
            return s_missing(err, "call", ev->call_id);
        rc = s_call_event(self, ev, c, err);
        if (rc == CD_OK) {
            c->updated_ms = ev->at_ms;
            c->last_seq = ev->seq;
        }
        break;
    }
    case CD_EV_UNIT_ADDED:
    case CD_EV_UNIT_UPDATED:
    case CD_EV_UNIT_STATUS:
    case CD_EV_UNIT_REMOVED:
    case CD_EV_UNIT_POSITION:
    case CD_EV_UNIT_LINK:
        rc = s_unit_event(self, ev, err);
        break;
    case CD_EV_ASSIGN_OFFERED:
        rc = s_offered(self, ev, err);
        break;
    case CD_EV_ASSIGN_ACKED:
    case CD_EV_ASSIGN_DECLINED:
    case CD_EV_ASSIGN_TIMED_OUT:
    case CD_EV_ASSIGN_PROGRESS:
    case CD_EV_ASSIGN_CLEARED:
        rc = s_assignment_event(self, ev, err);
        break;
    case CD_EV_PLAN_SET:
        rc = s_plan_set(self, ev, err);
        break;
    case CD_EV_ALERT_RAISED:
    case CD_EV_ALERT_CLEARED:
        rc = s_alert_event(self, ev, err);
        break;
    case CD_EV_KEY_ADDED:
    case CD_EV_KEY_REVOKED:
        rc = cd__key_event(self, ev, err);
        break;
    default:
        return cd_error_set(err, CD_EINVAL, "kind", "unknown event kind %d", (int)ev->kind);
    }
    if (rc == CD_OK) {
        self->last_seq = ev->seq;
        cd__deadline_note(self, ev);
    }
    return rc;
}

int cd_engine_apply(cd_engine_t *self, const cd_event_t *ev, cd_error_t *err)
{
    if (ev->seq != self->last_seq + 1)
        return cd_error_set(err, CD_ECONFLICT, "seq", "event seq %lld does not follow %lld",
                            (long long)ev->seq, (long long)self->last_seq);
    return cd__apply(self, ev, err);
}
