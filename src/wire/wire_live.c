/* Live status for boards: the snapshot and the per-event change, as protobuf (the ZeroMQ
 * stream and the control socket's Snapshot) and as JSON (the dashboard's /api/snapshot and
 * /ws).  Never any caller PII: no caller name, no callback number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_json.h"
#include "wire.h"
#include "wire_int.h"

#define LIVE_MAX_UNITS 4096
#define LIVE_MAX_CALLS 4096
#define LIVE_MAX_PLANS 256

/* ------------------------------------------------------------------ topics */

int wire_change_topic(const cd_event_t *ev, char *topic, size_t cap)
{
    const char *kind = cd_event_kind_name(ev->kind);
    if (!kind)
        return -1;
    if (strncmp(kind, "call.", 5) == 0 || strncmp(kind, "assignment.", 11) == 0)
        snprintf(topic, cap, "call.%s", ev->call_id);
    else if (strncmp(kind, "unit.", 5) == 0)
        snprintf(topic, cap, "unit.%s", ev->unit_id);
    else if (strncmp(kind, "alert.", 6) == 0)
        snprintf(topic, cap, "alert.%s",
                 cd_json_str(ev->payload, "kind") ? cd_json_str(ev->payload, "kind") : "cleared");
    else if (strcmp(kind, "plan.set") == 0)
        snprintf(topic, cap, "plan.%s", cd_json_str(ev->payload, "key"));
    else if (strncmp(kind, "key.", 4) == 0) /* the name only: subscribers see no gap */
        snprintf(topic, cap, "key.%s", cd_json_str(ev->payload, "name"));
    else
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ protobuf */

uint8_t *wire_pack_snapshot(const char *request_id, uint64_t seq, const cd_engine_t *e,
                            int64_t now_ms, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Snapshot snap = CODISPATCH__V1__SNAPSHOT__INIT;
    const cd_unit_t **units = cd_xcalloc(LIVE_MAX_UNITS, sizeof *units);
    const cd_call_t **calls = cd_xcalloc(LIVE_MAX_CALLS, sizeof *calls);
    const cd_alert_t **alerts = cd_xcalloc(LIVE_MAX_CALLS, sizeof *alerts);
    const cd_plan_t *plans[LIVE_MAX_PLANS];
    size_t nu = cd_engine_list_units(e, 0, LIVE_MAX_UNITS, units);
    size_t nc = cd_engine_list_calls(e, true, LIVE_MAX_CALLS, calls);
    size_t na = cd_engine_list_alerts(e, alerts, LIVE_MAX_CALLS);
    size_t np = cd_engine_list_plans(e, plans, LIVE_MAX_PLANS);

    wire_unit_pb_t *up = cd_xcalloc(nu ? nu : 1, sizeof *up);
    Codispatch__V1__Unit **uptr = cd_xcalloc(nu ? nu : 1, sizeof *uptr);
    for (size_t i = 0; i < nu; i++) {
        wire__unit_to_pb(units[i], e, now_ms, &up[i]);
        uptr[i] = &up[i].m;
    }
    Codispatch__V1__Call *cp = cd_xcalloc(nc ? nc : 1, sizeof *cp);
    Codispatch__V1__Call **cptr = cd_xcalloc(nc ? nc : 1, sizeof *cptr);
    for (size_t i = 0; i < nc; i++) {
        wire_call_to_pb(calls[i], false, &cp[i]);
        cptr[i] = &cp[i];
    }
    Codispatch__V1__Alert *ap = cd_xcalloc(na ? na : 1, sizeof *ap);
    Codispatch__V1__Alert **aptr = cd_xcalloc(na ? na : 1, sizeof *aptr);
    for (size_t i = 0; i < na; i++) {
        wire__alert_to_pb(alerts[i], &ap[i]);
        aptr[i] = &ap[i];
    }
    wire_plan_pb_t *pp = cd_xcalloc(np ? np : 1, sizeof *pp);
    Codispatch__V1__Plan **pptr = cd_xcalloc(np ? np : 1, sizeof *pptr);
    for (size_t i = 0; i < np; i++) {
        wire__plan_to_pb(plans[i], &pp[i]);
        pptr[i] = &pp[i].m;
    }
    snap.has_seq = true;
    snap.seq = seq;
    snap.units = uptr;
    snap.n_units = nu;
    snap.calls = cptr;
    snap.n_calls = nc;
    snap.alerts = aptr;
    snap.n_alerts = na;
    snap.plans = pptr;
    snap.n_plans = np;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY;
    env.snapshot_reply = &snap;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    for (size_t i = 0; i < nc; i++)
        wire_call_pb_release(&cp[i]);
    free(up);
    free(uptr);
    free(cp);
    free(cptr);
    free(ap);
    free(aptr);
    free(pp);
    free(pptr);
    free(units);
    free(calls);
    free(alerts);
    return buf;
}

/* Packs a StreamChange into a buffer with room for wire_stamp_change behind it. */
static uint8_t *s_pack_change(const Codispatch__V1__StreamChange *m, size_t *len)
{
    *len = codispatch__v1__stream_change__get_packed_size(m);
    uint8_t *buf = cd_xmalloc(*len + WIRE_STAMP_MAX);
    codispatch__v1__stream_change__pack(m, buf);
    return buf;
}

uint8_t *wire_pack_change(const cd_event_t *ev, const cd_engine_t *e, int64_t now_ms, size_t *len)
{
    Codispatch__V1__StreamChange m = CODISPATCH__V1__STREAM_CHANGE__INIT;
    m.has_seq = m.has_at_ms = true;
    m.seq = (uint64_t)ev->seq;
    m.at_ms = ev->at_ms;
    m.kind = (char *)cd_event_kind_name(ev->kind);
    Codispatch__V1__Call call;
    wire_unit_pb_t unit;
    Codispatch__V1__Alert alert;
    wire_plan_pb_t *plan = NULL;
    const cd_call_t *c = ev->call_id[0] ? cd_engine_find_call(e, ev->call_id) : NULL;
    const cd_unit_t *u = ev->unit_id[0] ? cd_engine_find_unit_any(e, ev->unit_id) : NULL;
    if (c) {
        wire_call_to_pb(c, false, &call);
        m.call = &call;
    }
    if (u) {
        wire__unit_to_pb(u, e, now_ms, &unit);
        m.unit = &unit.m;
    }
    if (ev->kind == CD_EV_ALERT_RAISED) {
        const cd_alert_t *a = cd_engine_find_alert(e, cd_json_int(ev->payload, "alert_no", 0));
        if (a) {
            wire__alert_to_pb(a, &alert);
            m.alert = &alert;
        }
    } else if (ev->kind == CD_EV_ALERT_CLEARED) {
        m.has_alert_cleared = true;
        m.alert_cleared = (uint64_t)cd_json_int(ev->payload, "alert_no", 0);
    } else if (ev->kind == CD_EV_PLAN_SET) {
        const cd_plan_t *p = cd_engine_find_plan(e, cd_json_str(ev->payload, "key"));
        if (p) {
            plan = cd_xcalloc(1, sizeof *plan);
            wire__plan_to_pb(p, plan);
            m.plan = &plan->m;
        }
    }
    uint8_t *buf = s_pack_change(&m, len);
    if (c)
        wire_call_pb_release(&call);
    free(plan);
    return buf;
}

/* ------------------------------------------------------------------ JSON (the dashboard) */

static cJSON *s_unit_json(const cd_engine_t *e, const cd_unit_t *u, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "unit_id", u->id);
    cJSON_AddStringToObject(o, "type", u->type);
    cJSON_AddStringToObject(o, "name", u->name);
    cJSON_AddStringToObject(o, "status", u->removed ? "removed" : cd_unit_status_name(u->status));
    cJSON_AddNumberToObject(o, "status_ms", (double)u->status_ms);
    cd_json_add_strs(o, "languages", u->languages[0], u->n_languages, sizeof u->languages[0]);
    cJSON_AddStringToObject(o, "area", u->area);
    if (u->has_position) {
        cJSON_AddNumberToObject(o, "lat", u->lat);
        cJSON_AddNumberToObject(o, "lon", u->lon);
    } else {
        cJSON_AddNullToObject(o, "lat");
        cJSON_AddNullToObject(o, "lon");
    }
    const cd_assignment_t *a = cd_engine_find_assignment(e, u->assignment_id);
    cJSON_AddStringToObject(o, "call_id", a && cd_assign_is_active(a) ? a->call_id : "");
    cJSON_AddBoolToObject(o, "tablet_connected", u->link_up);
    cJSON_AddBoolToObject(o, "reachable", cd_engine_unit_reachable(e, u, now_ms));
    return o;
}

static cJSON *s_call_json(const cd_call_t *c)
{
    cJSON *full = cd_call_to_json(c);
    /* Command staff see the call, not the caller. */
    cJSON_DeleteItemFromObjectCaseSensitive(full, "caller_name");
    cJSON_DeleteItemFromObjectCaseSensitive(full, "callback");
    cJSON_DeleteItemFromObjectCaseSensitive(full, "notes");
    cJSON *asg = cJSON_AddArrayToObject(full, "assignments");
    for (int i = 0; i < c->n_asg; i++) {
        const cd_assignment_t *a = c->asg[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "assignment_id", a->id);
        cJSON_AddStringToObject(o, "unit_id", a->unit_id);
        cJSON_AddStringToObject(o, "unit_type", a->unit_type);
        cJSON_AddStringToObject(o, "status", cd_assign_status_name(a->status));
        cd_json_add_time(o, "offered_ms", a->offered_ms);
        cd_json_add_time(o, "acked_ms", a->acked_ms);
        cd_json_add_time(o, "on_scene_ms", a->on_scene_ms);
        cd_json_add_time(o, "ended_ms", a->ended_ms);
        cJSON_AddItemToArray(asg, o);
    }
    return full;
}

static char *s_print(cJSON *o)
{
    char *text = cd_json_print(o); /* cJSON's printer spends most of its time on numbers */
    cJSON_Delete(o);
    if (!text)
        abort();
    return text;
}

char *wire_json_snapshot(uint64_t seq, const cd_engine_t *e, int64_t now_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "snapshot");
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddNumberToObject(o, "now_ms", (double)now_ms);
    const cd_unit_t **units = cd_xcalloc(LIVE_MAX_UNITS, sizeof *units);
    size_t n = cd_engine_list_units(e, 0, LIVE_MAX_UNITS, units);
    cJSON *arr = cJSON_AddArrayToObject(o, "units");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, s_unit_json(e, units[i], now_ms));
    free(units);
    /* Open calls and the recently closed ones still in memory: a board's figures for the
     * day (response times, police share) need the closed ones too. */
    const cd_call_t **calls = cd_xcalloc(LIVE_MAX_CALLS, sizeof *calls);
    n = cd_engine_list_calls(e, false, LIVE_MAX_CALLS, calls);
    arr = cJSON_AddArrayToObject(o, "calls");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, s_call_json(calls[i]));
    free(calls);
    const cd_alert_t **alerts = cd_xcalloc(LIVE_MAX_CALLS, sizeof *alerts);
    n = cd_engine_list_alerts(e, alerts, LIVE_MAX_CALLS);
    arr = cJSON_AddArrayToObject(o, "alerts");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cd_alert_to_json(alerts[i]));
    free(alerts);
    const cd_plan_t *plans[LIVE_MAX_PLANS];
    n = cd_engine_list_plans(e, plans, LIVE_MAX_PLANS);
    arr = cJSON_AddArrayToObject(o, "plans");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cd_plan_to_json(plans[i]));
    return s_print(o);
}

char *wire_json_change(const cd_event_t *ev, const cd_engine_t *e, int64_t now_ms)
{
    char topic[96];
    if (wire_change_topic(ev, topic, sizeof topic) != 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "change");
    cJSON_AddNumberToObject(o, "seq", (double)ev->seq);
    cJSON_AddStringToObject(o, "topic", topic);
    cJSON_AddStringToObject(o, "kind", cd_event_kind_name(ev->kind));
    cJSON_AddNumberToObject(o, "at_ms", (double)ev->at_ms);
    const cd_call_t *c = ev->call_id[0] ? cd_engine_find_call(e, ev->call_id) : NULL;
    const cd_unit_t *u = ev->unit_id[0] ? cd_engine_find_unit_any(e, ev->unit_id) : NULL;
    if (c)
        cJSON_AddItemToObject(o, "call", s_call_json(c));
    if (u)
        cJSON_AddItemToObject(o, "unit", s_unit_json(e, u, now_ms));
    if (ev->kind == CD_EV_ALERT_RAISED) {
        const cd_alert_t *a = cd_engine_find_alert(e, cd_json_int(ev->payload, "alert_no", 0));
        if (a)
            cJSON_AddItemToObject(o, "alert", cd_alert_to_json(a));
    } else if (ev->kind == CD_EV_ALERT_CLEARED) {
        cJSON_AddNumberToObject(o, "alert_cleared",
                                (double)cd_json_int(ev->payload, "alert_no", 0));
    } else if (ev->kind == CD_EV_PLAN_SET) {
        const cd_plan_t *p = cd_engine_find_plan(e, cd_json_str(ev->payload, "key"));
        if (p)
            cJSON_AddItemToObject(o, "plan", cd_plan_to_json(p));
    }
    return s_print(o);
}

uint8_t *wire_pack_stats(uint64_t seq, const cd_engine_t *e, int64_t now_ms, size_t *len)
{
    Codispatch__V1__StreamChange m = CODISPATCH__V1__STREAM_CHANGE__INIT;
    Codispatch__V1__StreamStats st = CODISPATCH__V1__STREAM_STATS__INIT;
    uint32_t pending[4] = {0};
    size_t open = cd_engine_open_calls(e);
    int64_t oldest = 0;
    cd_engine_pending_summary(e, pending, &oldest); /* no sort: this runs every second */
    const cd_alert_t **alerts = cd_xcalloc(LIVE_MAX_CALLS, sizeof *alerts);
    size_t nalerts = cd_engine_list_alerts(e, alerts, LIVE_MAX_CALLS);
    free(alerts);
    size_t nu = cd_engine_unit_count(e);
    const cd_unit_t **units = cd_xcalloc(nu ? nu : 1, sizeof *units);
    size_t avail = cd_engine_list_units(e, CD_UNIT_AVAILABLE, nu, units);
    free(units);
    st.has_open_calls = st.has_oldest_pending_s = st.has_units = st.has_units_available = true;
    st.has_active_alerts = true;
    st.open_calls = (uint32_t)open;
    st.pending_by_priority = pending;
    st.n_pending_by_priority = 4;
    st.oldest_pending_s = oldest ? (uint32_t)((now_ms - oldest) / 1000) : 0;
    st.units = (uint32_t)nu;
    st.units_available = (uint32_t)avail;
    st.active_alerts = (uint32_t)nalerts;
    m.has_seq = m.has_at_ms = true;
    m.seq = seq;
    m.at_ms = now_ms;
    m.kind = "stats";
    m.stats = &st;
    return s_pack_change(&m, len);
}

size_t wire_stamp_change(uint8_t *pb, size_t len, int64_t committed_us)
{
    /* Protobuf merges concatenated messages of one type field by field, so packing a
     * StreamChange that holds only committed_us behind the first is the same as having
     * packed the field with the rest: no copy of the message, which every subscriber shares. */
    Codispatch__V1__StreamChange stamp = CODISPATCH__V1__STREAM_CHANGE__INIT;
    stamp.has_committed_us = true;
    stamp.committed_us = committed_us;
    return len + codispatch__v1__stream_change__pack(&stamp, pb + len);
}

char *wire_json_stamp(const char *json, int64_t committed_us)
{
    size_t n = strlen(json);
    if (n == 0 || json[n - 1] != '}')
        abort(); /* not an object printed by s_print: a bug here, not input */
    char tail[48];
    int tn = snprintf(tail, sizeof tail, "%s\"committed_us\":%lld}", n > 2 ? "," : "",
                      (long long)committed_us);
    char *out = cd_xmalloc(n - 1 + (size_t)tn + 1);
    memcpy(out, json, n - 1);
    memcpy(out + n - 1, tail, (size_t)tn + 1);
    return out;
}
