#include "wire.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ decoding */

static const char *const s_body_names[] = {
    [CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL] = "create_call",
    [CODISPATCH__V1__ENVELOPE__BODY_GET_CALL] = "get_call",
    [CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS] = "list_calls",
    [CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL] = "cancel_call",
    [CODISPATCH__V1__ENVELOPE__BODY_STATUS] = "status",
    [CODISPATCH__V1__ENVELOPE__BODY_ERROR] = "error",
    [CODISPATCH__V1__ENVELOPE__BODY_CALL] = "call",
    [CODISPATCH__V1__ENVELOPE__BODY_CALL_LIST] = "call_list",
    [CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY] = "status_reply",
    [CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT] = "add_unit",
    [CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT] = "update_unit",
    [CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT] = "remove_unit",
    [CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS] = "list_units",
    [CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS] = "list_plans",
    [CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN] = "set_plan",
    [CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND] = "recommend",
    [CODISPATCH__V1__ENVELOPE__BODY_DISPATCH] = "dispatch",
    [CODISPATCH__V1__ENVELOPE__BODY_ADD_NOTE] = "add_note",
    [CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL] = "close_call",
    [CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS] = "list_alerts",
    [CODISPATCH__V1__ENVELOPE__BODY_UNIT] = "unit",
    [CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST] = "unit_list",
    [CODISPATCH__V1__ENVELOPE__BODY_PLAN_LIST] = "plan_list",
    [CODISPATCH__V1__ENVELOPE__BODY_PLAN] = "plan",
    [CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION] = "recommendation",
    [CODISPATCH__V1__ENVELOPE__BODY_ALERT_LIST] = "alert_list",
    [CODISPATCH__V1__ENVELOPE__BODY_HELLO] = "hello",
    [CODISPATCH__V1__ENVELOPE__BODY_ACK] = "ack",
    [CODISPATCH__V1__ENVELOPE__BODY_DECLINE] = "decline",
    [CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE] = "status_update",
    [CODISPATCH__V1__ENVELOPE__BODY_POSITION] = "position",
    [CODISPATCH__V1__ENVELOPE__BODY_WELCOME] = "welcome",
    [CODISPATCH__V1__ENVELOPE__BODY_ASSIGNMENT] = "assignment",
    [CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT] = "snapshot",
    [CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY] = "snapshot_reply",
    [CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY] = "add_key",
    [CODISPATCH__V1__ENVELOPE__BODY_REVOKE_KEY] = "revoke_key",
    [CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS] = "list_keys",
    [CODISPATCH__V1__ENVELOPE__BODY_KEY] = "key",
    [CODISPATCH__V1__ENVELOPE__BODY_KEY_LIST] = "key_list",
    [CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS] = "set_demographics",
    [CODISPATCH__V1__ENVELOPE__BODY_REPORT] = "report",
    [CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS] = "export_calls",
    [CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS] = "demographics",
    [CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY] = "report_reply",
};

const char *wire_body_name(const wire_env_t *env)
{
    size_t i = (size_t)env->body_case;
    if (i < sizeof s_body_names / sizeof s_body_names[0] && s_body_names[i])
        return s_body_names[i];
    return "unknown";
}

wire_env_t *wire_decode(const void *data, size_t len, char request_id[CD_REQUEST_ID_MAX + 1],
                        cd_error_t *err)
{
    if (request_id)
        request_id[0] = '\0';
    if (len > WIRE_MAX_MESSAGE) {
        cd_error_set(err, CD_EINVAL, "envelope", "message is %zu bytes; the limit is %d bytes", len,
                     WIRE_MAX_MESSAGE);
        return NULL;
    }
    if (len == 0) {
        cd_error_set(err, CD_EINVAL, "envelope", "empty message: expected an Envelope");
        return NULL;
    }
    wire_env_t *env = codispatch__v1__envelope__unpack(NULL, len, data);
    if (!env) {
        cd_error_set(err, CD_EINVAL, "envelope",
                     "message is not a valid protobuf Envelope (codispatch.v1)");
        return NULL;
    }
    if (env->request_id && request_id && cd_text_is_token(env->request_id, CD_REQUEST_ID_MAX))
        cd_copy(request_id, CD_REQUEST_ID_MAX + 1, env->request_id);

    if (!env->has_version || env->version != WIRE_PROTOCOL_VERSION) {
        cd_error_set(err, CD_EVERSION, "version",
                     "protocol version %u is not supported; this server speaks version %d",
                     env->has_version ? env->version : 0, WIRE_PROTOCOL_VERSION);
        goto fail;
    }
    if (!env->request_id || !*env->request_id) {
        cd_error_set(err, CD_EINVAL, "request_id",
                     "request_id is required (1 to %d printable ASCII characters)",
                     CD_REQUEST_ID_MAX);
        goto fail;
    }
    if (!cd_text_is_token(env->request_id, CD_REQUEST_ID_MAX)) {
        cd_error_set(err, CD_EINVAL, "request_id",
                     "request_id must be 1 to %d printable ASCII characters without spaces",
                     CD_REQUEST_ID_MAX);
        goto fail;
    }
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL:
    case CODISPATCH__V1__ENVELOPE__BODY_GET_CALL:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS:
    case CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL:
    case CODISPATCH__V1__ENVELOPE__BODY_STATUS:
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS:
    case CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN:
    case CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND:
    case CODISPATCH__V1__ENVELOPE__BODY_DISPATCH:
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_NOTE:
    case CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS:
    case CODISPATCH__V1__ENVELOPE__BODY_HELLO:
    case CODISPATCH__V1__ENVELOPE__BODY_ACK:
    case CODISPATCH__V1__ENVELOPE__BODY_DECLINE:
    case CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE:
    case CODISPATCH__V1__ENVELOPE__BODY_POSITION:
    case CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT:
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY:
    case CODISPATCH__V1__ENVELOPE__BODY_REVOKE_KEY:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS:
    case CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS:
    case CODISPATCH__V1__ENVELOPE__BODY_REPORT:
    case CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS:
        return env;
    case CODISPATCH__V1__ENVELOPE__BODY__NOT_SET:
        cd_error_set(err, CD_EINVAL, "body",
                     "the envelope has no body, or a body this server does not know");
        goto fail;
    default:
        cd_error_set(err, CD_EINVAL, "body", "%s is a reply, not a request", wire_body_name(env));
        goto fail;
    }
fail:
    codispatch__v1__envelope__free_unpacked(env, NULL);
    return NULL;
}

void wire_free(wire_env_t *env)
{
    if (env)
        codispatch__v1__envelope__free_unpacked(env, NULL);
}

/* ------------------------------------------------------------------ encoding */

uint8_t *wire_pack(wire_env_t *env, const char *request_id, uint64_t seq, size_t *len)
{
    env->has_version = true;
    env->version = WIRE_PROTOCOL_VERSION;
    env->request_id = (char *)(request_id ? request_id : "");
    env->has_seq = true;
    env->seq = seq;
    size_t n = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = cd_xmalloc(n);
    codispatch__v1__envelope__pack(env, buf);
    *len = n;
    return buf;
}

uint8_t *wire_pack_error(const char *request_id, uint64_t seq, const cd_error_t *err, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Error e = CODISPATCH__V1__ERROR__INIT;
    e.has_code = true;
    e.code = wire_code(err->code);
    e.message = (char *)err->message;
    if (err->field[0])
        e.field = (char *)err->field;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ERROR;
    env.error = &e;
    return wire_pack(&env, request_id, seq, len);
}

static const Codispatch__V1__CallStatus s_status_pb[] = {
    [CD_CALL_PENDING] = CODISPATCH__V1__CALL_STATUS__CALL_PENDING,
    [CD_CALL_DISPATCHED] = CODISPATCH__V1__CALL_STATUS__CALL_DISPATCHED,
    [CD_CALL_EN_ROUTE] = CODISPATCH__V1__CALL_STATUS__CALL_EN_ROUTE,
    [CD_CALL_ON_SCENE] = CODISPATCH__V1__CALL_STATUS__CALL_ON_SCENE,
    [CD_CALL_CLOSED] = CODISPATCH__V1__CALL_STATUS__CALL_CLOSED,
    [CD_CALL_CANCELLED] = CODISPATCH__V1__CALL_STATUS__CALL_CANCELLED,
};

void wire_call_to_pb(const cd_call_t *c, bool with_pii, Codispatch__V1__Call *m)
{
    codispatch__v1__call__init(m);
    m->call_id = (char *)c->id;
    m->type = (char *)c->type;
    m->has_priority = true;
    m->priority = (uint32_t)c->priority;
    m->has_lat = m->has_lon = true;
    m->lat = c->lat;
    m->lon = c->lon;
    m->address = c->address;
    m->area = (char *)c->area;
    m->language = (char *)c->language;
    m->has_weapon = m->has_violence = m->has_medical = true;
    m->weapon = (c->risk & CD_RISK_WEAPON) != 0;
    m->violence = (c->risk & CD_RISK_VIOLENCE) != 0;
    m->medical = (c->risk & CD_RISK_MEDICAL) != 0;
    m->summary = c->summary;
    if (with_pii) {
        m->caller_name = c->caller_name;
        m->callback = (char *)c->callback;
    }
    m->has_created_ms = m->has_updated_ms = true;
    m->created_ms = c->created_ms;
    m->updated_ms = c->updated_ms;
    if (c->status >= CD_CALL_PENDING && c->status <= CD_CALL_CANCELLED) {
        m->has_status = true;
        m->status = s_status_pb[c->status];
    }
    if (c->cancel_reason[0])
        m->cancel_reason = c->cancel_reason;
    if (c->disposition[0])
        m->disposition = (char *)c->disposition;
    if (c->closed_ms) {
        m->has_closed_ms = true;
        m->closed_ms = c->closed_ms;
    }
    m->has_pending_since_ms = true;
    m->pending_since_ms = c->pending_since_ms;
    /* Notes are free text a dispatcher typed about the caller: PII like the name. */
    wire_call_add_details(c, with_pii, m);
}

uint8_t *wire_pack_call(const char *request_id, uint64_t seq, const cd_call_t *call, bool with_pii,
                        size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Call m;
    wire_call_to_pb(call, with_pii, &m);
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CALL;
    env.call = &m;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    wire_call_pb_release(&m);
    return buf;
}

uint8_t *wire_pack_calls(const char *request_id, uint64_t seq, const cd_call_t *const *calls,
                         size_t n, bool with_pii, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CallList list = CODISPATCH__V1__CALL_LIST__INIT;
    Codispatch__V1__Call *items = cd_xcalloc(n ? n : 1, sizeof *items);
    Codispatch__V1__Call **ptrs = cd_xcalloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        wire_call_to_pb(calls[i], with_pii, &items[i]);
        ptrs[i] = &items[i];
    }
    list.n_calls = n;
    list.calls = ptrs;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CALL_LIST;
    env.call_list = &list;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    for (size_t i = 0; i < n; i++)
        wire_call_pb_release(&items[i]);
    free(items);
    free(ptrs);
    return buf;
}

/* ------------------------------------------------------------------ conversions */

void wire_call_input(const Codispatch__V1__CreateCall *m, cd_call_input_t *out)
{
    memset(out, 0, sizeof *out);
    out->type = m->type;
    out->has_priority = m->has_priority;
    out->priority = m->priority;
    out->has_lat = m->has_lat;
    out->lat = m->lat;
    out->has_lon = m->has_lon;
    out->lon = m->lon;
    out->address = m->address;
    out->area = m->area;
    out->language = m->language;
    if (m->has_weapon && m->weapon)
        out->risk |= CD_RISK_WEAPON;
    if (m->has_violence && m->violence)
        out->risk |= CD_RISK_VIOLENCE;
    if (m->has_medical && m->medical)
        out->risk |= CD_RISK_MEDICAL;
    out->summary = m->summary;
    out->caller_name = m->caller_name;
    out->callback = m->callback;
}

Codispatch__V1__Code wire_code(int cd_code)
{
    switch (cd_code) {
    case CD_EINVAL:
        return CODISPATCH__V1__CODE__INVALID_ARGUMENT;
    case CD_ENOTFOUND:
        return CODISPATCH__V1__CODE__NOT_FOUND;
    case CD_ECONFLICT:
        return CODISPATCH__V1__CODE__CONFLICT;
    case CD_EUNAVAIL:
        return CODISPATCH__V1__CODE__UNAVAILABLE;
    case CD_EBUSY:
        return CODISPATCH__V1__CODE__BUSY;
    case CD_EUNAUTH:
        return CODISPATCH__V1__CODE__UNAUTHENTICATED;
    case CD_EPERM:
        return CODISPATCH__V1__CODE__PERMISSION_DENIED;
    case CD_EVERSION:
        return CODISPATCH__V1__CODE__UNSUPPORTED_VERSION;
    default:
        return CODISPATCH__V1__CODE__INTERNAL;
    }
}

int wire_cd_code(Codispatch__V1__Code code)
{
    for (int c = CD_EINVAL; c >= CD_EINTERNAL; c--)
        if (wire_code(c) == code)
            return c;
    return CD_EINTERNAL;
}

bool wire_is_tablet_body(const wire_env_t *env)
{
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_HELLO:
    case CODISPATCH__V1__ENVELOPE__BODY_ACK:
    case CODISPATCH__V1__ENVELOPE__BODY_DECLINE:
    case CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE:
    case CODISPATCH__V1__ENVELOPE__BODY_POSITION:
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------------ keys */

static void s_key_to_pb(const cd_key_t *k, Codispatch__V1__Key *m)
{
    codispatch__v1__key__init(m);
    m->name = (char *)k->name;
    m->role = (char *)cd_role_name(k->role);
    m->unit_id = (char *)k->unit_id;
    m->public_key = (char *)k->public_key;
    m->has_created_ms = m->has_revoked_ms = true;
    m->created_ms = k->created_ms;
    m->revoked_ms = k->revoked_ms;
}

uint8_t *wire_pack_key(const char *request_id, uint64_t seq, const cd_key_t *k, size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Key m;
    s_key_to_pb(k, &m);
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_KEY;
    env.key = &m;
    return wire_pack(&env, request_id, seq, len);
}

uint8_t *wire_pack_keys(const char *request_id, uint64_t seq, const cd_key_t *const *keys, size_t n,
                        size_t *len)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__KeyList list = CODISPATCH__V1__KEY_LIST__INIT;
    Codispatch__V1__Key *items = cd_xcalloc(n ? n : 1, sizeof *items);
    Codispatch__V1__Key **ptrs = cd_xcalloc(n ? n : 1, sizeof *ptrs);
    for (size_t i = 0; i < n; i++) {
        s_key_to_pb(keys[i], &items[i]);
        ptrs[i] = &items[i];
    }
    list.n_keys = n;
    list.keys = ptrs;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_KEY_LIST;
    env.key_list = &list;
    uint8_t *buf = wire_pack(&env, request_id, seq, len);
    free(items);
    free(ptrs);
    return buf;
}
