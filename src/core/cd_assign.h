/*  cd_assign.h — one unit offered one call, and that offer's lifecycle.
 *
 *      offered -> acknowledged | declined | timed_out
 *      acknowledged -> en_route -> on_scene -> [transporting -> at_facility] -> cleared
 *
 *  (en_route or on_scene straight from offered counts as an acknowledgement; cleared may end
 *  any active status.)  Call and unit status follow their assignments.
 */
#ifndef CD_ASSIGN_H
#define CD_ASSIGN_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "cd_error.h"
#include "cd_unit.h"

typedef enum cd_assign_status {
    CD_ASG_OFFERED = 1,
    CD_ASG_ACKNOWLEDGED,
    CD_ASG_EN_ROUTE,
    CD_ASG_ON_SCENE,
    CD_ASG_TRANSPORTING,
    CD_ASG_AT_FACILITY,
    CD_ASG_CLEARED,   /* ended normally (or the call was closed or cancelled) */
    CD_ASG_DECLINED,  /* the unit said no */
    CD_ASG_TIMED_OUT, /* no acknowledgement in time */
} cd_assign_status_t;

typedef struct cd_assignment {
    char id[CD_ASSIGNMENT_ID_MAX + 1];
    int64_t no;
    char call_id[CD_CALL_ID_MAX + 1];
    char unit_id[CD_UNIT_ID_MAX + 1];
    char unit_type[CD_TYPE_MAX + 1];
    int group; /* index of the plan group it fills; -1 for an extra unit */
    cd_assign_status_t status;
    int64_t offered_ms, ack_deadline_ms, acked_ms, en_route_ms, on_scene_ms, transporting_ms,
        at_facility_ms, ended_ms;
    int eta_s; /* estimate when offered; -1 unknown */
    char end_reason[CD_REASON_MAX + 1];
    bool on_scene_alerted;
    int64_t last_seq;
    UT_hash_handle hh;
} cd_assignment_t;

/* True for offered .. at_facility: the unit is committed to the call. */
bool cd_assign_is_active(const cd_assignment_t *a);

const char *cd_assign_status_name(cd_assign_status_t s);
cd_assign_status_t cd_assign_status_parse(const char *name);

/* The unit status an active assignment status implies. */
cd_unit_status_t cd_assign_unit_status(cd_assign_status_t s);

void cd_assign_format_id(char out[CD_ASSIGNMENT_ID_MAX + 1], int64_t no);

cJSON *cd_assign_to_json(const cd_assignment_t *a);
cd_assignment_t *cd_assign_from_json(const cJSON *obj, cd_error_t *err);

#endif
