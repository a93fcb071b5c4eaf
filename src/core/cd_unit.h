/*  cd_unit.h — a responding unit: its fields, its status, and the legal status transitions.
 *
 *  Unit types (mh_team, apru, sober, ...) are data the engine loads, not an enum: only the
 *  statuses are fixed, because the lifecycle rules are written against them.
 *
 *  The JSON form (cd_unit_to_json) is both the payload of unit.added / unit.updated and the
 *  row upserted into the `units` projection.
 */
#ifndef CD_UNIT_H
#define CD_UNIT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "cd_error.h"
#include "cd_text.h"

#define CD_UNIT_ID_MAX       32
#define CD_UNIT_NAME_MAX     64
#define CD_UNIT_LANGS_MAX    8
#define CD_UNIT_CAPS_MAX     8
#define CD_ASSIGNMENT_ID_MAX 15 /* "A-" + up to 13 digits */

/* EIDO-compatible words; the order is the wire enum's. */
typedef enum cd_unit_status {
    CD_UNIT_OFF_DUTY = 1,
    CD_UNIT_AVAILABLE,
    CD_UNIT_ASSIGNED, /* offered a call (acknowledged or not), not yet moving */
    CD_UNIT_EN_ROUTE,
    CD_UNIT_ON_SCENE,
    CD_UNIT_TRANSPORTING,
    CD_UNIT_AT_FACILITY,
    CD_UNIT_OUT_OF_SERVICE,
    CD_UNIT_STATUS_COUNT,
} cd_unit_status_t;

typedef struct cd_unit {
    char id[CD_UNIT_ID_MAX + 1];
    char type[CD_TYPE_MAX + 1];
    char name[CD_UNIT_NAME_MAX + 1];
    char languages[CD_UNIT_LANGS_MAX][CD_LANGUAGE_MAX + 1];
    int n_languages;
    char capabilities[CD_UNIT_CAPS_MAX][CD_TYPE_MAX + 1];
    int n_capabilities;
    char area[CD_AREA_MAX + 1];
    bool has_position;
    double lat, lon;
    cd_unit_status_t status;
    int64_t status_ms;                            /* since when */
    char assignment_id[CD_ASSIGNMENT_ID_MAX + 1]; /* the active assignment, "" if none */
    int64_t last_dispatch_ms;                     /* 0: never */
    int missed_acks;                              /* consecutive ack timeouts */
    bool removed;                                 /* kept for history, never offered */
    bool link_up;                                 /* a tablet is connected */
    int64_t link_ms; /* when the tablet connected or was lost; 0: never had one */
    int64_t last_seq;
    UT_hash_handle hh;
} cd_unit_t;

/* What a supervisor supplies to add or update a unit.  Strings borrowed; NULL = absent. */
typedef struct cd_unit_input {
    const char *id;
    const char *type;
    const char *name;
    bool set_languages;
    const char *const *languages;
    int n_languages;
    bool set_capabilities;
    const char *const *capabilities;
    int n_capabilities;
    const char *area;
    bool has_lat, has_lon;
    double lat, lon;
    cd_unit_status_t status; /* 0: absent */
} cd_unit_input_t;

/* Checks form and ranges of what is present (not whether the type is known).  For an add,
 * id and type are required. */
int cd_unit_validate(const cd_unit_input_t *in, bool adding, cd_error_t *err);

/* Applies the present fields of in (validated) to u, except id, type and status. */
void cd_unit_apply_input(cd_unit_t *u, const cd_unit_input_t *in);

bool cd_unit_speaks(const cd_unit_t *u, const char *language);
bool cd_unit_has_capability(const cd_unit_t *u, const char *cap);

/* "off_duty", "available", ...; NULL for an invalid value. */
const char *cd_unit_status_name(cd_unit_status_t s);
/* 0 when name is not a unit status. */
cd_unit_status_t cd_unit_status_parse(const char *name);

/* Who asks for a status change: the unit itself (from its tablet) or a supervisor. */
typedef enum cd_status_actor {
    CD_BY_UNIT = 0,
    CD_BY_SUPERVISOR,
} cd_status_actor_t;

/* The transition table: may `by` move a unit from `from` to `to`? */
bool cd_unit_transition_allowed(cd_unit_status_t from, cd_unit_status_t to, cd_status_actor_t by);

/* True while the unit works a call (assigned .. at_facility). */
bool cd_unit_status_on_call(cd_unit_status_t s);

cJSON *cd_unit_to_json(const cd_unit_t *u);
/* A new unit (caller owns) or NULL with *err when required keys are missing. */
cd_unit_t *cd_unit_from_json(const cJSON *obj, cd_error_t *err);

#endif
