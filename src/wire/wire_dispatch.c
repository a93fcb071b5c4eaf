/* Wire conversions for the dispatch domain: assignments, units, plans, recommendations,
 * alerts.  Messages built here borrow strings from the engine's records; arrays are
 * allocated and released after packing. */
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "wire_int.h"

/* ------------------------------------------------------------------ calls: details */

static void s_assignment_to_pb(const cd_assignment_t *a, Codispatch__V1__Assignment *m)
{
    codispatch__v1__assignment__init(m);
    m->assignment_id = (char *)a->id;
    m->call_id = (char *)a->call_id;
    m->unit_id = (char *)a->unit_id;
    m->unit_type = (char *)a->unit_type;
    m->status = (char *)cd_assign_status_name(a->status);
    m->has_plan_group = true;
    m->plan_group = a->group;
#define S_TIME(field, value)                                                                       \
    do {                                                                                           \
        if (value) {                                                                               \
            m->has_##field = true;                                                                 \
            m->field = (value);                                                                    \
        }                                                                                          \
    } while (0)
    S_TIME(offered_ms, a->offered_ms);
    S_TIME(ack_deadline_ms, a->ack_deadline_ms);
    S_TIME(acked_ms, a->acked_ms);
    S_TIME(en_route_ms, a->en_route_ms);
    S_TIME(on_scene_ms, a->on_scene_ms);
    S_TIME(cleared_ms, a->ended_ms);
#undef S_TIME
    if (a->end_reason[0])
        m->end_reason = (char *)a->end_reason;
    if (a->eta_s >= 0) {
        m->has_eta_s = true;
        m->eta_s = (uint32_t)a->eta_s;
    }
}

void wire_call_add_details(const cd_call_t *c, bool with_notes, Codispatch__V1__Call *m)
{
    if (c->n_asg) {
        Codispatch__V1__Assignment *items = cd_xcalloc((size_t)c->n_asg, sizeof *items);
        m->assignments = cd_xcalloc((size_t)c->n_asg, sizeof *m->assignments);
        for (int i = 0; i < c->n_asg; i++) {
            s_assignment_to_pb(c->asg[i], &items[i]);
            m->assignments[i] = &items[i];
        }
        m->n_assignments = (size_t)c->n_asg;
    }
    int n = with_notes ? cJSON_GetArraySize(c->notes) : 0;
    if (n > 0) {
        Codispatch__V1__Note *items = cd_xcalloc((size_t)n, sizeof *items);
        m->notes = cd_xcalloc((size_t)n, sizeof *m->notes);
        const cJSON *note;
        size_t i = 0;
        cJSON_ArrayForEach(note, c->notes)
        {
            codispatch__v1__note__init(&items[i]);
            const cJSON *at = cJSON_GetObjectItemCaseSensitive(note, "at_ms");
            const cJSON *actor = cJSON_GetObjectItemCaseSensitive(note, "actor");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(note, "text");
            items[i].has_at_ms = cJSON_IsNumber(at);
            items[i].at_ms = cJSON_IsNumber(at) ? (int64_t)at->valuedouble : 0;
            items[i].actor = cJSON_IsString(actor) ? actor->valuestring : "";
            items[i].text = cJSON_IsString(text) ? text->valuestring : "";
            m->notes[i] = &items[i];
            i++;
        }
        m->n_notes = i;
    }
}

void wire_call_pb_release(Codispatch__V1__Call *m)
{
    if (m->n_assignments)
        free(m->assignments[0]);
    free(m->assignments);
    if (m->n_notes)
        free(m->notes[0]);
    free(m->notes);
    m->assignments = NULL;
    m->notes = NULL;
    m->n_assignments = m->n_notes = 0;
}

/* ------------------------------------------------------------------ units */

static const Codispatch__V1__UnitStatus s_unit_pb[CD_UNIT_STATUS_COUNT] = {
    [CD_UNIT_OFF_DUTY] = CODISPATCH__V1__UNIT_STATUS__UNIT_OFF_DUTY,
    [CD_UNIT_AVAILABLE] = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE,
    [CD_UNIT_ASSIGNED] = CODISPATCH__V1__UNIT_STATUS__UNIT_ASSIGNED,
    [CD_UNIT_EN_ROUTE] = CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE,
    [CD_UNIT_ON_SCENE] = CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE,
    [CD_UNIT_TRANSPORTING] = CODISPATCH__V1__UNIT_STATUS__UNIT_TRANSPORTING,
    [CD_UNIT_AT_FACILITY] = CODISPATCH__V1__UNIT_STATUS__UNIT_AT_FACILITY,
    [CD_UNIT_OUT_OF_SERVICE] = CODISPATCH__V1__UNIT_STATUS__UNIT_OUT_OF_SERVICE,
};

cd_unit_status_t wire_unit_status(Codispatch__V1__UnitStatus s)
{
    for (int i = 1; i < CD_UNIT_STATUS_COUNT; i++)
        if (s_unit_pb[i] == s)
            return (cd_unit_status_t)i;
    return 0;
}

void wire_add_unit_input(const Codispatch__V1__AddUnit *m, cd_unit_input_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = m->unit_id;
    out->type = m->type;
    out->name = m->name;
    out->set_languages = true;
    out->languages = (const char *const *)m->languages;
    out->n_languages = (int)(m->n_languages > 1000 ? 1000 : m->n_languages);
    out->set_capabilities = true;
    out->capabilities = (const char *const *)m->capabilities;
    out->n_capabilities = (int)(m->n_capabilities > 1000 ? 1000 : m->n_capabilities);
    out->area = m->area;
    out->has_lat = m->has_lat;
    out->lat = m->lat;
    out->has_lon = m->has_lon;
    out->lon = m->lon;
    /* An unknown status value becomes an out-of-range one the validator names. */
    out->status = m->has_status ? (wire_unit_status(m->status) ? wire_unit_status(m->status)
                                                               : CD_UNIT_ASSIGNED)
                                : 0;
}

void wire_update_unit_input(const Codispatch__V1__UpdateUnit *m, cd_unit_input_t *out)
{
    memset(out, 0, sizeof *out);
    out->id = m->unit_id;
    out->name = m->name;
    out->set_languages = m->has_set_languages && m->set_languages;
    out->languages = (const char *const *)m->languages;
    out->n_languages = (int)(m->n_languages > 1000 ? 1000 : m->n_languages);
    out->set_capabilities = m->has_set_capabilities && m->set_capabilities;
    out->capabilities = (const char *const *)m->capabilities;
    out->n_capabilities = (int)(m->n_capabilities > 1000 ? 1000 : m->n_capabilities);
    out->area = m->area;
    out->has_lat = m->has_lat;
    out->lat = m->lat;
    out->has_lon = m->has_lon;
    out->lon = m->lon;
    out->status = m->has_status ? (wire_unit_status(m->status) ? wire_unit_status(m->status)
                                                               : CD_UNIT_ASSIGNED)
                                : 0;
}

void wire__unit_to_pb(const cd_unit_t *u, const cd_engine_t *engine, int64_t now_ms,
                      wire_unit_pb_t *p)
{
    Codispatch__V1__Unit *m = &p->m;
    codispatch__v1__unit__init(m);
    m->unit_id = (char *)u->id;
    m->type = (char *)u->type;
    m->name = (char *)u->name;
    for (int i = 0; i < u->n_languages; i++)
        p->langs[i] = (char *)u->languages[i];
    m->languages = p->langs;
    m->n_languages = (size_t)u->n_languages;
    for (int i = 0; i < u->n_capabilities; i++)
        p->caps[i] = (char *)u->capabilities[i];
    m->capabilities = p->caps;
    m->n_capabilities = (size_t)u->n_capabilities;
    m->area = (char *)u->area;
    if (u->has_position) {
        m->has_lat = m->has_lon = true;
        m->lat = u->lat;
        m->lon = u->lon;
    }
    m->has_status = true;
    m->status = s_unit_pb[u->status];
    m->has_status_ms = true;
    m->status_ms = u->status_ms;
    const cd_assignment_t *a = cd_engine_find_assignment(engine, u->assignment_id);
    if (a && cd_assign_is_active(a)) {
        m->assignment_id = (char *)a->id;
        m->call_id = (char *)a->call_id;
    }
    m->has_last_dispatch_ms = u->last_dispatch_ms != 0;
    m->last_dispatch_ms = u->last_dispatch_ms;
    m->has_missed_acks = true;
    m->missed_acks = (uint32_t)u->missed_acks;
    m->has_tablet_connected = m->has_reachable = true;
    m->tablet_connected = u->link_up;
    m->reachable = cd_engine_unit_reachable(engine, u, now_ms);
    if (u->link_ms) {
        m->has_link_ms = true;
        m->link_ms = u->link_ms;
    }
}

uint8_t *wire_pack_unit(const char *request_id, uint64_t seq, const cd_unit_t *u,
                        const cd_engine_t *engine, int64_t now_ms, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    wire_unit_pb_t p;
    wire__unit_to_pb(u, engine, now_ms, &p);
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_UNIT;
    env.unit = &p.m;
    return wire_pack(&env, request_id, seq, len);
}

uint8_t *wire_pack_units(const char *request_id, uint64_t seq, const cd_unit_t *const *units,
                         size_t n, const cd_engine_t *engine, int64_t now_ms, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__UnitList list = CODISPATCH__V1__UNIT_LIST__INIT;
    wire_unit_pb_t *items = cd_xcalloc(n ? n : 1, sizeof *items);
    Codispatch__V1__Unit **ptrs = cd_xcalloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        wire__unit_to_pb(units[i], engine, now_ms, &items[i]);
        ptrs[i] = &items[i].m;
    }
    list.units = ptrs;
    list.n_units = n;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST;
    env.unit_list = &list;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    free(items);
    free(ptrs);
    return buf;
}

/* ------------------------------------------------------------------ plans */

static int s_list_from_pb(char dst[][CD_TYPE_MAX + 1], int *n, char **src, size_t m,
                          const char *field, cd_error_t *err)
{
    if (m > CD_PLAN_LIST_MAX)
        return cd_error_set(err, CD_EINVAL, field, "%s: at most %d entries", field,
                            CD_PLAN_LIST_MAX);
    for (size_t i = 0; i < m; i++) {
        if (!cd_text_is_ident(src[i], CD_TYPE_MAX))
            return cd_error_set(err, CD_EINVAL, field, "%s: '%.40s' is not a lower-case name",
                                field, src[i]);
        cd_copy(dst[i], CD_TYPE_MAX + 1, src[i]);
    }
    *n = (int)m;
    return CD_OK;
}

static int s_clocks_from_pb(int *dst, const uint32_t *src, size_t n, const char *field,
                            cd_error_t *err)
{
    if (n == 0)
        return CD_OK; /* keep the defaults */
    if (n != 1 && n != CD_PRIORITIES)
        return cd_error_set(err, CD_EINVAL, field,
                            "%s: give one value for all priorities or four (priority 1 to 4)",
                            field);
    for (int p = 0; p < CD_PRIORITIES; p++)
        dst[p] = src[n == 1 ? 0 : p] > 86400 ? 86401 : (int)src[n == 1 ? 0 : p];
    return CD_OK;
}

int wire_plan_from_pb(const Codispatch__V1__Plan *m, cd_plan_t *out, cd_error_t *err)
{
    if (!m)
        return cd_error_set(err, CD_EINVAL, "plan", "plan is required");
    if (!m->key || !*m->key || strlen(m->key) > CD_PLAN_KEY_MAX)
        return cd_error_set(err, CD_EINVAL, "key",
                            "key is required: a call type or flag:weapon|violence|medical");
    bool flag = strncmp(m->key, "flag:", 5) == 0;
    cd_plan_mode_t mode = m->mode && *m->mode ? cd_plan_mode_parse(m->mode)
                          : flag              ? 0
                                              : CD_PLAN_BASE;
    if (!mode)
        return cd_error_set(err, CD_EINVAL, "mode", "mode must be base, replace or add");
    cd_plan_init(out, m->key, mode);
    int rc = cd_plan_parse_groups(out, m->groups ? m->groups : "", err);
    if (rc)
        return rc;
    if ((rc = s_list_from_pb(out->forbidden, &out->n_forbidden, m->forbidden, m->n_forbidden,
                             "forbidden", err)) ||
        (rc = s_list_from_pb(out->requires, &out->n_requires, m->requires, m->n_requires,
                             "requires", err)) ||
        (rc = s_clocks_from_pb(out->ack_timeout_s, m->ack_timeout_s, m->n_ack_timeout_s,
                               "ack_timeout_s", err)) ||
        (rc = s_clocks_from_pb(out->target_response_s, m->target_response_s, m->n_target_response_s,
                               "target_response_s", err)) ||
        (rc = s_clocks_from_pb(out->pending_alert_s, m->pending_alert_s, m->n_pending_alert_s,
                               "pending_alert_s", err)))
        return rc;
    if (m->has_auto_dispatch_max_priority)
        out->auto_dispatch_max_priority =
            m->auto_dispatch_max_priority > 100 ? 100 : (int)m->auto_dispatch_max_priority;
    if (m->has_on_scene_alert_s)
        out->on_scene_alert_s = m->on_scene_alert_s > 86400 ? 86401 : (int)m->on_scene_alert_s;
    if (m->description) {
        if (strlen(m->description) > CD_PLAN_TEXT_MAX)
            return cd_error_set(err, CD_EINVAL, "description",
                                "description is too long (at most %d bytes)", CD_PLAN_TEXT_MAX);
        cd_copy(out->description, sizeof out->description, m->description);
    }
    return cd_plan_validate(out, err);
}

void wire__plan_to_pb(const cd_plan_t *plan, wire_plan_pb_t *p)
{
    Codispatch__V1__Plan *m = &p->m;
    codispatch__v1__plan__init(m);
    m->key = (char *)plan->key;
    m->mode = (char *)cd_plan_mode_name(plan->mode);
    cd_plan_format_groups(plan->groups, plan->n_groups, p->groups, sizeof p->groups);
    m->groups = p->groups;
    for (int i = 0; i < plan->n_forbidden; i++)
        p->forbidden[i] = (char *)plan->forbidden[i];
    m->forbidden = p->forbidden;
    m->n_forbidden = (size_t)plan->n_forbidden;
    for (int i = 0; i < plan->n_requires; i++)
    p->requires[i] = (char *)plan->requires[i];
    m->requires = p->requires;
    m->n_requires = (size_t)plan->n_requires;
    m->has_auto_dispatch_max_priority = true;
    m->auto_dispatch_max_priority = (uint32_t)plan->auto_dispatch_max_priority;
    for (int i = 0; i < CD_PRIORITIES; i++) {
        p->ack[i] = (uint32_t)plan->ack_timeout_s[i];
        p->target[i] = (uint32_t)plan->target_response_s[i];
        p->pending[i] = (uint32_t)plan->pending_alert_s[i];
    }
    m->ack_timeout_s = p->ack;
    m->target_response_s = p->target;
    m->pending_alert_s = p->pending;
    m->n_ack_timeout_s = m->n_target_response_s = m->n_pending_alert_s = CD_PRIORITIES;
    m->has_on_scene_alert_s = true;
    m->on_scene_alert_s = (uint32_t)plan->on_scene_alert_s;
    m->description = (char *)plan->description;
}

uint8_t *wire_pack_plan(const char *request_id, uint64_t seq, const cd_plan_t *plan, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    wire_plan_pb_t *p = cd_xcalloc(1, sizeof *p);
    wire__plan_to_pb(plan, p);
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_PLAN;
    env.plan = &p->m;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    free(p);
    return buf;
}

uint8_t *wire_pack_plans(const char *request_id, uint64_t seq, const cd_plan_t *const *plans,
                         size_t n, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__PlanList list = CODISPATCH__V1__PLAN_LIST__INIT;
    wire_plan_pb_t *items = cd_xcalloc(n ? n : 1, sizeof *items);
    Codispatch__V1__Plan **ptrs = cd_xcalloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        wire__plan_to_pb(plans[i], &items[i]);
        ptrs[i] = &items[i].m;
    }
    list.plans = ptrs;
    list.n_plans = n;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_PLAN_LIST;
    env.plan_list = &list;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    free(items);
    free(ptrs);
    return buf;
}

/* ------------------------------------------------------------------ recommendations */

uint8_t *wire_pack_recommendation(const char *request_id, uint64_t seq, const char *call_id,
                                  const cd_recommendation_t *rec, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Recommendation r = CODISPATCH__V1__RECOMMENDATION__INIT;
    size_t n = (size_t)rec->n;
    Codispatch__V1__Candidate *items = cd_xcalloc(n ? n : 1, sizeof *items);
    Codispatch__V1__Candidate **ptrs = cd_xcalloc(n ? n : 1, sizeof *ptrs);
    char *(*reasons)[4] = cd_xcalloc(n ? n : 1, sizeof *reasons);
    for (size_t i = 0; i < n; i++) {
        const cd_candidate_t *c = &rec->items[i];
        Codispatch__V1__Candidate *m = &items[i];
        codispatch__v1__candidate__init(m);
        m->unit_id = (char *)c->unit->id;
        m->type = (char *)c->unit->type;
        m->has_eta_s = m->has_eta_known = m->has_tier = m->has_plan_group = true;
        m->eta_s = c->eta_known ? (uint32_t)c->eta_s : 0;
        m->eta_known = c->eta_known;
        m->tier = (uint32_t)c->tier;
        m->plan_group = c->group;
        m->has_language_match = true;
        m->language_match = c->language_match;
        for (int k = 0; k < c->n_reasons; k++)
            reasons[i][k] = (char *)c->reasons[k];
        m->reasons = reasons[i];
        m->n_reasons = (size_t)c->n_reasons;
        ptrs[i] = m;
    }
    r.call_id = (char *)call_id;
    r.candidates = ptrs;
    r.n_candidates = n;
    if (rec->why_none[0])
        r.why_none = (char *)rec->why_none;
    r.plan = (char *)rec->plan;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION;
    env.recommendation = &r;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    free(items);
    free(ptrs);
    free(reasons);
    return buf;
}

/* ------------------------------------------------------------------ alerts */

void wire__alert_to_pb(const cd_alert_t *a, Codispatch__V1__Alert *m)
{
    codispatch__v1__alert__init(m);
    m->has_alert_no = m->has_raised_ms = true;
    m->alert_no = (uint64_t)a->no;
    m->kind = (char *)cd_alert_kind_name(a->kind);
    m->call_id = (char *)a->call_id;
    m->unit_id = (char *)a->unit_id;
    m->message = (char *)a->message;
    m->raised_ms = a->raised_ms;
}

uint8_t *wire_pack_alerts(const char *request_id, uint64_t seq, const cd_alert_t *const *alerts,
                          size_t n, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AlertList list = CODISPATCH__V1__ALERT_LIST__INIT;
    Codispatch__V1__Alert *items = cd_xcalloc(n ? n : 1, sizeof *items);
    Codispatch__V1__Alert **ptrs = cd_xcalloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        wire__alert_to_pb(alerts[i], &items[i]);
        ptrs[i] = &items[i];
    }
    list.alerts = ptrs;
    list.n_alerts = n;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ALERT_LIST;
    env.alert_list = &list;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    free(items);
    free(ptrs);
    return buf;
}

/* ------------------------------------------------------------------ the units socket */

uint8_t *wire_pack_welcome(const char *request_id, uint64_t seq, const cd_unit_t *u,
                           const cd_engine_t *engine, int64_t now_ms, uint32_t heartbeat_ms,
                           const char *server_version, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Welcome w = CODISPATCH__V1__WELCOME__INIT;
    wire_unit_pb_t p;
    wire__unit_to_pb(u, engine, now_ms, &p);
    w.unit_id = (char *)u->id;
    w.server_version = (char *)server_version;
    w.unit = &p.m;
    w.has_heartbeat_ms = true;
    w.heartbeat_ms = heartbeat_ms;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_WELCOME;
    env.welcome = &w;
    return wire_pack(&env, request_id, seq, len);
}

uint8_t *wire_pack_assignment(uint64_t seq, const cd_assignment_t *a, const char *status,
                              const cd_call_t *call, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AssignmentPush m = CODISPATCH__V1__ASSIGNMENT_PUSH__INIT;
    char *partners[CD_PLAN_GROUPS_MAX * 4];
    size_t np = 0;
    m.assignment_id = (char *)a->id;
    m.status = (char *)status;
    m.unit_id = (char *)a->unit_id;
    m.call_id = (char *)a->call_id;
    m.has_ack_deadline_ms = true;
    m.ack_deadline_ms = a->ack_deadline_ms;
    if (a->end_reason[0])
        m.end_reason = (char *)a->end_reason;
    if (call) {
        m.type = (char *)call->type;
        m.has_priority = m.has_lat = m.has_lon = true;
        m.priority = (uint32_t)call->priority;
        m.lat = call->lat;
        m.lon = call->lon;
        m.address = call->address;
        m.language = (char *)call->language;
        m.has_weapon = m.has_violence = m.has_medical = true;
        m.weapon = (call->risk & CD_RISK_WEAPON) != 0;
        m.violence = (call->risk & CD_RISK_VIOLENCE) != 0;
        m.medical = (call->risk & CD_RISK_MEDICAL) != 0;
        m.summary = call->summary;
        m.callback = (char *)call->callback; /* the assigned unit may call back */
        for (int i = 0; i < call->n_asg && np < sizeof partners / sizeof partners[0]; i++)
            if (call->asg[i] != a && cd_assign_is_active(call->asg[i]))
                partners[np++] = call->asg[i]->unit_id;
    }
    m.partner_units = partners;
    m.n_partner_units = np;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ASSIGNMENT;
    env.assignment = &m;
    return wire_pack(&env, "", seq, len);
}
