#include "cd_assign.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cd_json.h"

static const char *const s_names[] = {
    [CD_ASG_OFFERED] = "offered",           [CD_ASG_ACKNOWLEDGED] = "acknowledged",
    [CD_ASG_EN_ROUTE] = "en_route",         [CD_ASG_ON_SCENE] = "on_scene",
    [CD_ASG_TRANSPORTING] = "transporting", [CD_ASG_AT_FACILITY] = "at_facility",
    [CD_ASG_CLEARED] = "cleared",           [CD_ASG_DECLINED] = "declined",
    [CD_ASG_TIMED_OUT] = "timed_out",
};
#define S_COUNT ((int)(sizeof s_names / sizeof s_names[0]))

const char *cd_assign_status_name(cd_assign_status_t s)
{
    return ((int)s > 0 && (int)s < S_COUNT) ? s_names[s] : NULL;
}

cd_assign_status_t cd_assign_status_parse(const char *name)
{
    for (int s = 1; name && s < S_COUNT; s++)
        if (strcmp(s_names[s], name) == 0)
            return (cd_assign_status_t)s;
    return 0;
}

bool cd_assign_is_active(const cd_assignment_t *a)
{
    return a->status >= CD_ASG_OFFERED && a->status <= CD_ASG_AT_FACILITY;
}

cd_unit_status_t cd_assign_unit_status(cd_assign_status_t s)
{
    switch (s) {
    case CD_ASG_OFFERED:
    case CD_ASG_ACKNOWLEDGED:
        return CD_UNIT_ASSIGNED;
    case CD_ASG_EN_ROUTE:
        return CD_UNIT_EN_ROUTE;
    case CD_ASG_ON_SCENE:
        return CD_UNIT_ON_SCENE;
    case CD_ASG_TRANSPORTING:
        return CD_UNIT_TRANSPORTING;
    case CD_ASG_AT_FACILITY:
        return CD_UNIT_AT_FACILITY;
    default:
        return CD_UNIT_AVAILABLE;
    }
}

void cd_assign_format_id(char out[CD_ASSIGNMENT_ID_MAX + 1], int64_t no)
{
    snprintf(out, CD_ASSIGNMENT_ID_MAX + 1, "A-%06" PRId64, no);
}

cJSON *cd_assign_to_json(const cd_assignment_t *a)
{
    cJSON *o = cJSON_CreateObject();
    cd_json_add_str_cs(o, "assignment_id", a->id);
    cd_json_add_num_cs(o, "assignment_no", (double)a->no);
    cd_json_add_str_cs(o, "call_id", a->call_id);
    cd_json_add_str_cs(o, "unit_id", a->unit_id);
    cd_json_add_str_cs(o, "unit_type", a->unit_type);
    cd_json_add_num_cs(o, "plan_group", a->group);
    cd_json_add_str_cs(o, "status", cd_assign_status_name(a->status));
    cd_json_add_num_cs(o, "offered_ms", (double)a->offered_ms);
    cd_json_add_num_cs(o, "ack_deadline_ms", (double)a->ack_deadline_ms);
    cd_json_add_time(o, "acked_ms", a->acked_ms);
    cd_json_add_time(o, "en_route_ms", a->en_route_ms);
    cd_json_add_time(o, "on_scene_ms", a->on_scene_ms);
    cd_json_add_time(o, "transporting_ms", a->transporting_ms);
    cd_json_add_time(o, "at_facility_ms", a->at_facility_ms);
    cd_json_add_time(o, "ended_ms", a->ended_ms);
    cd_json_add_num_cs(o, "eta_s", a->eta_s);
    cd_json_add_str_cs(o, "end_reason", a->end_reason);
    cJSON_AddBoolToObject(o, "on_scene_alerted", a->on_scene_alerted);
    cd_json_add_num_cs(o, "last_seq", (double)a->last_seq);
    return o;
}

cd_assignment_t *cd_assign_from_json(const cJSON *o, cd_error_t *err)
{
    const char *id = cd_json_str(o, "assignment_id"), *call = cd_json_str(o, "call_id"),
               *unit = cd_json_str(o, "unit_id");
    cd_assign_status_t st = cd_assign_status_parse(cd_json_str(o, "status"));
    if (!id || !call || !unit || !st) {
        cd_error_set(err, CD_EINVAL, "payload",
                     "assignment record lacks assignment_id, call_id, unit_id or status");
        return NULL;
    }
    cd_assignment_t *a = cd_xcalloc(1, sizeof *a);
    cd_copy(a->id, sizeof a->id, id);
    a->no = cd_json_int(o, "assignment_no", 0);
    cd_copy(a->call_id, sizeof a->call_id, call);
    cd_copy(a->unit_id, sizeof a->unit_id, unit);
    cd_copy(a->unit_type, sizeof a->unit_type, cd_json_str(o, "unit_type"));
    a->group = (int)cd_json_int(o, "plan_group", -1);
    a->status = st;
    a->offered_ms = cd_json_int(o, "offered_ms", 0);
    a->ack_deadline_ms = cd_json_int(o, "ack_deadline_ms", 0);
    a->acked_ms = cd_json_int(o, "acked_ms", 0);
    a->en_route_ms = cd_json_int(o, "en_route_ms", 0);
    a->on_scene_ms = cd_json_int(o, "on_scene_ms", 0);
    a->transporting_ms = cd_json_int(o, "transporting_ms", 0);
    a->at_facility_ms = cd_json_int(o, "at_facility_ms", 0);
    a->ended_ms = cd_json_int(o, "ended_ms", 0);
    a->eta_s = (int)cd_json_int(o, "eta_s", -1);
    cd_copy(a->end_reason, sizeof a->end_reason, cd_json_str(o, "end_reason"));
    a->on_scene_alerted = cd_json_bool(o, "on_scene_alerted", false);
    a->last_seq = cd_json_int(o, "last_seq", 0);
    return a;
}
