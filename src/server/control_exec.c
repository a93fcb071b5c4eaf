/*  control_exec.c — what each control request does to (or reads from) the engine.
 *
 *  control.c owns the socket, idempotency and the durable-before-visible hold; this file maps
 *  one decoded request onto one engine call and packs the reply.  Reads answered from memory
 *  are held like commands: the state they show may not be committed yet.
 */
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

/* The call as it is after the command, with its assignments. */
static uint8_t *s_call_reply(const char *rid, const cd_engine_t *engine, const cd_call_t *c,
                             size_t *len)
{
    return wire_pack_call(rid, (uint64_t)cd_engine_last_seq(engine), c, true, len);
}

/* A tablet's request, for the unit its connection is bound to. */
static int s_tablet_execute(server_t *self, const wire_env_t *env, const cd_ctx_t *ctx,
                            const char *unit_id, uint8_t **buf, size_t *len, cd_error_t *err)
{
    cd_engine_t *e = self->engine;
    int rc;
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_ACK:
        rc = cd_engine_unit_ack(e, ctx, unit_id, env->ack->call_id, err);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_DECLINE:
        rc = cd_engine_unit_decline(e, ctx, unit_id, env->decline->call_id, env->decline->reason,
                                    err);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE: {
        const Codispatch__V1__StatusUpdate *m = env->status_update;
        cd_unit_status_t st = m->has_status ? wire_unit_status(m->status) : 0;
        if (!st || st == CD_UNIT_ASSIGNED)
            return cd_error_set(err, CD_EINVAL, "status",
                                "status must be en_route, on_scene, transporting, at_facility, "
                                "available, out_of_service or off_duty");
        rc = cd_engine_unit_status(e, ctx, unit_id, st, err);
        break;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_POSITION: {
        const Codispatch__V1__Position *m = env->position;
        if (!m->has_lat || !m->has_lon)
            return cd_error_set(err, CD_EINVAL, m->has_lat ? "lon" : "lat",
                                "a position needs lat and lon");
        rc = cd_engine_unit_position(e, ctx, unit_id, m->lat, m->lon, err);
        break;
    }
    default:
        return cd_error_set(err, CD_EINVAL, "body", "%s is not a tablet request",
                            wire_body_name(env));
    }
    if (rc == CD_OK)
        *buf = wire_pack_unit(ctx->request_id, (uint64_t)cd_engine_last_seq(e),
                              cd_engine_find_unit(e, unit_id), e, ctx->now_ms, len);
    return rc;
}

int control_execute(server_t *self, const wire_env_t *env, const cd_ctx_t *ctx, const char *unit_id,
                    uint8_t **buf, size_t *len, cd_error_t *err)
{
    if (unit_id)
        return s_tablet_execute(self, env, ctx, unit_id, buf, len, err);
    cd_engine_t *e = self->engine;
    const char *rid = ctx->request_id;
    const cd_call_t *call = NULL;
    int rc;
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL: {
        cd_call_input_t in;
        wire_call_input(env->create_call, &in);
        rc = cd_engine_create_call(e, ctx, &in, &call, err);
        break;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL:
        rc = cd_engine_cancel_call(e, ctx, env->cancel_call->call_id, env->cancel_call->reason,
                                   &call, err);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_NOTE:
        rc = cd_engine_add_note(e, ctx, env->add_note->call_id, env->add_note->text, &call, err);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL:
        rc = cd_engine_close_call(e, ctx, env->close_call->call_id, env->close_call->disposition,
                                  &call, err);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_DISPATCH: {
        const Codispatch__V1__Dispatch *m = env->dispatch;
        if (m->n_unit_ids > CD_PLAN_GROUPS_MAX * 2)
            return cd_error_set(err, CD_EINVAL, "unit_ids", "at most %d units per dispatch",
                                CD_PLAN_GROUPS_MAX * 2);
        rc = cd_engine_dispatch(e, ctx, m->call_id, (const char *const *)m->unit_ids,
                                (int)m->n_unit_ids, &call, err);
        break;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT: {
        cd_unit_input_t in;
        const cd_unit_t *u = NULL;
        if (env->body_case == CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT) {
            wire_add_unit_input(env->add_unit, &in);
            rc = cd_engine_add_unit(e, ctx, &in, &u, err);
        } else {
            wire_update_unit_input(env->update_unit, &in);
            rc = cd_engine_update_unit(e, ctx, &in, &u, err);
        }
        if (rc == CD_OK)
            *buf = wire_pack_unit(rid, (uint64_t)cd_engine_last_seq(e), u, e, ctx->now_ms, len);
        return rc;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT: {
        const cd_unit_t *u = cd_engine_find_unit(e, env->remove_unit->unit_id);
        cd_unit_t before;
        if (u)
            before = *u;
        rc = cd_engine_remove_unit(e, ctx, env->remove_unit->unit_id, err);
        if (rc == CD_OK)
            *buf =
                wire_pack_unit(rid, (uint64_t)cd_engine_last_seq(e), &before, e, ctx->now_ms, len);
        return rc;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY:
    case CODISPATCH__V1__ENVELOPE__BODY_REVOKE_KEY: {
        const cd_key_t *k = NULL;
        if (env->body_case == CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY) {
            const Codispatch__V1__AddKey *m = env->add_key;
            cd_key_t in = {.role = cd_role_parse(m->role)};
            if ((m->name && strlen(m->name) > CD_KEY_NAME_MAX) ||
                (m->unit_id && strlen(m->unit_id) > CD_KEY_UNIT_ID_MAX) ||
                (m->public_key && strlen(m->public_key) > CD_KEY_Z85_LEN))
                return cd_error_set(err, CD_EINVAL, "name",
                                    "name and unit_id are at most 32 characters, public_key 40");
            cd_copy(in.name, sizeof in.name, m->name ? m->name : "");
            cd_copy(in.unit_id, sizeof in.unit_id, m->unit_id ? m->unit_id : "");
            cd_copy(in.public_key, sizeof in.public_key, m->public_key ? m->public_key : "");
            rc = cd_engine_add_key(e, ctx, &in, &k, err);
        } else {
            rc = cd_engine_revoke_key(e, ctx, env->revoke_key->name, &k, err);
        }
        if (rc == CD_OK)
            *buf = wire_pack_key(rid, (uint64_t)cd_engine_last_seq(e), k, len);
        return rc;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN: {
        cd_plan_t plan;
        const cd_plan_t *out = NULL;
        rc = wire_plan_from_pb(env->set_plan->plan, &plan, err);
        if (rc == CD_OK)
            rc = cd_engine_set_plan(e, ctx, &plan, &out, err);
        if (rc == CD_OK)
            *buf = wire_pack_plan(rid, (uint64_t)cd_engine_last_seq(e), out, len);
        return rc;
    }
    default:
        return cd_error_set(err, CD_EINTERNAL, "body", "no handler for %s", wire_body_name(env));
    }
    if (rc == CD_OK)
        *buf = s_call_reply(rid, e, call, len);
    return rc;
}

bool control_is_query(const wire_env_t *env)
{
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS:
    case CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS:
    case CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS:
        return true;
    default:
        return false;
    }
}

int control_query(server_t *self, const wire_env_t *env, const char *rid, uint8_t **buf,
                  size_t *len, cd_error_t *err)
{
    cd_engine_t *e = self->engine;
    uint64_t seq = (uint64_t)cd_engine_last_seq(e);
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS: {
        cd_unit_status_t st = 0;
        if (env->list_units->has_status) {
            st = wire_unit_status(env->list_units->status);
            if (!st)
                return cd_error_set(err, CD_EINVAL, "status", "status is not a unit status");
        }
        size_t cap = cd_engine_unit_count(e);
        const cd_unit_t **units = cd_xcalloc(cap ? cap : 1, sizeof *units);
        size_t n = cd_engine_list_units(e, st, cap, units);
        *buf = wire_pack_units(rid, seq, units, n, e, server_now_ms(), len);
        free(units);
        return CD_OK;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS: {
        const cd_plan_t *plans[256];
        size_t n = cd_engine_list_plans(e, plans, 256);
        *buf = wire_pack_plans(rid, seq, plans, n, len);
        return CD_OK;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_RECOMMEND: {
        cd_recommendation_t *rec = cd_xmalloc(sizeof *rec);
        int rc = cd_engine_recommend(e, server_now_ms(), env->recommend->call_id, rec, err);
        if (rc == CD_OK)
            *buf = wire_pack_recommendation(rid, seq, env->recommend->call_id, rec, len);
        free(rec);
        return rc;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS: {
        const cd_alert_t **alerts = cd_xcalloc(LIST_MAX, sizeof *alerts);
        size_t n = cd_engine_list_alerts(e, alerts, LIST_MAX);
        *buf = wire_pack_alerts(rid, seq, alerts, n, len);
        free(alerts);
        return CD_OK;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS: {
        size_t n = cd_engine_key_count(e);
        const cd_key_t **keys = cd_xcalloc(n ? n : 1, sizeof *keys);
        n = cd_engine_list_keys(e, keys, n);
        *buf = wire_pack_keys(rid, seq, keys, n, len);
        free(keys);
        return CD_OK;
    }
    case CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT:
        /* Held like every reply until seq is committed: the snapshot is the state at seq. */
        *buf = wire_pack_snapshot(rid, seq, e, server_now_ms(), len);
        return CD_OK;
    default:
        return cd_error_set(err, CD_EINTERNAL, "body", "no query %s", wire_body_name(env));
    }
}
