/*  cd_call.h — a crisis call: its fields, its status, and how it is validated and serialised.
 *
 *  The JSON form written by cd_call_to_json() is used twice on purpose: as the payload of the
 *  call.created event and as the row the store upserts into the `calls` projection (its keys
 *  are the column names given to jsonb_to_recordset).  cd_call_from_json() reads it back for
 *  replay.
 */
#ifndef CD_CALL_H
#define CD_CALL_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "cd_error.h"
#include "cd_text.h"

typedef enum cd_call_status {
    CD_CALL_PENDING = 1,
    CD_CALL_DISPATCHED,
    CD_CALL_EN_ROUTE,
    CD_CALL_ON_SCENE,
    CD_CALL_CLOSED,
    CD_CALL_CANCELLED,
} cd_call_status_t;

/* Risk flags, a bit set. */
#define CD_RISK_WEAPON   0x1u
#define CD_RISK_VIOLENCE 0x2u
#define CD_RISK_MEDICAL  0x4u

typedef struct cd_call {
    char id[CD_CALL_ID_MAX + 1]; /* "C-000123" */
    int64_t no;                  /* the number in the id; ids are never reused */
    char type[CD_TYPE_MAX + 1];
    int priority; /* 1 (highest) .. 4 */
    double lat, lon;
    char *address; /* owned; never NULL ("" when unknown) */
    char area[CD_AREA_MAX + 1];
    char language[CD_LANGUAGE_MAX + 1]; /* "" when unknown */
    unsigned risk;                      /* CD_RISK_* */
    char *summary;                      /* owned; never NULL */
    char *caller_name;                  /* owned; never NULL; PII */
    char callback[CD_CALLBACK_MAX + 1]; /* PII */
    cd_call_status_t status;
    int64_t created_ms, updated_ms, closed_ms; /* closed_ms 0 while open */
    char *cancel_reason;                       /* owned; never NULL */
    char disposition[CD_DISPOSITION_MAX + 1];  /* set when closed */
    cJSON *notes;                              /* owned array of {at_ms, actor, text}; never NULL */
    int64_t pending_since_ms;                  /* when it last entered the pending queue */
    bool pending_alerted;                      /* the pending-too-long alert fired for this wait */
    int64_t last_seq;                          /* seq of the last event that changed it */
    int64_t deadline_ms; /* the engine's timer index: its earliest deadline as last computed */
    /* The engine's index of the call's assignments, oldest first (not serialised: the
     * assignments are records of their own).  Borrowed pointers. */
    struct cd_assignment **asg;
    int n_asg, cap_asg;
    UT_hash_handle hh; /* engine index by id */
} cd_call_t;

/* What a client supplies to create a call.  Strings are borrowed; NULL means absent. */
typedef struct cd_call_input {
    const char *type;
    bool has_priority;
    int64_t priority;
    bool has_lat, has_lon;
    double lat, lon;
    const char *address;
    const char *area;
    const char *language;
    unsigned risk;
    const char *summary;
    const char *caller_name;
    const char *callback;
} cd_call_input_t;

/* Checks every field's presence, range and form (not whether the type is known: that is
 * reference data the engine holds).  Names the first bad field in *err. */
int cd_call_validate(const cd_call_input_t *in, cd_error_t *err);

/* A new call with all strings allocated ("" when absent).  Caller owns it. */
cd_call_t *cd_call_new(void);
void cd_call_destroy(cd_call_t **self_p);

/* Replaces *slot with a copy of s ("" for NULL). */
void cd_call_set_text(char **slot, const char *s);

bool cd_call_is_open(const cd_call_t *call);

/* resolved_on_scene, transported_voluntary, transported_involuntary, referred,
 * police_requested, no_contact, duplicate. */
bool cd_call_disposition_valid(const char *d);
/* "resolved_on_scene, transported_voluntary, ..." for messages. */
const char *cd_call_dispositions(void);

/* "pending", "dispatched", ...; NULL for an invalid value. */
const char *cd_call_status_name(cd_call_status_t status);
/* 0 when name is not a call status. */
cd_call_status_t cd_call_status_parse(const char *name);

/* Formats the id for a call number: "C-000123". */
void cd_call_format_id(char out[CD_CALL_ID_MAX + 1], int64_t no);

/* Serialise / parse the JSON form described above.  to_json returns a new object owned by the
 * caller; from_json returns a new call or NULL (with *err) when required keys are missing. */
cJSON *cd_call_to_json(const cd_call_t *call);
/* The risk flags as "weapon,violence" ("" for none), as in the JSON record's risk_flags. */
size_t cd_call_risk_names(unsigned risk, char *out, size_t cap);
cd_call_t *cd_call_from_json(const cJSON *obj, cd_error_t *err);

#endif
