/*  cd_event.h — the facts the engine records: one row of the `events` table each.
 *
 *  Every state change in the engine happens by an event; applying the same events to a fresh
 *  engine reproduces the same state (the replay property the engine suite checks).
 */
#ifndef CD_EVENT_H
#define CD_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cd_text.h"

/* Every payload holds what replay needs; the engine's live path applies the very event it
 * records, so replay and live cannot drift apart. */
typedef enum cd_event_kind {
    CD_EV_CALL_CREATED = 1, /* the call (cd_call_to_json) */
    CD_EV_CALL_CANCELLED,   /* {"reason"} */
    CD_EV_CALL_NOTED,       /* {"text"} */
    CD_EV_CALL_CLOSED,      /* {"disposition"} */
    CD_EV_UNIT_ADDED,       /* the unit (cd_unit_to_json) */
    CD_EV_UNIT_UPDATED,     /* the unit after the change */
    CD_EV_UNIT_STATUS,      /* {"status", "reason"} */
    CD_EV_UNIT_REMOVED,     /* {} */
    CD_EV_ASSIGN_OFFERED,   /* the assignment (cd_assign_to_json) */
    CD_EV_ASSIGN_ACKED,     /* {"assignment_id"} */
    CD_EV_ASSIGN_DECLINED,  /* {"assignment_id", "reason"} */
    CD_EV_ASSIGN_TIMED_OUT, /* {"assignment_id"} */
    CD_EV_ASSIGN_PROGRESS,  /* {"assignment_id", "status"}: en_route .. at_facility */
    CD_EV_ASSIGN_CLEARED,   /* {"assignment_id", "reason"} */
    CD_EV_PLAN_SET,         /* the plan (cd_plan_to_json) */
    CD_EV_ALERT_RAISED,
    /* the alert (cd_alert_to_json) */ CD_EV_ALERT_CLEARED, /* {"alert_no"} */
    CD_EV_UNIT_POSITION, /* {"lat", "lon"} from the unit's tablet */
    CD_EV_UNIT_LINK,     /* {"up"}: its tablet connected (true) or was lost (false) */
    CD_EV_KEY_ADDED,     /* the key (cd_key_to_json) */
    CD_EV_KEY_REVOKED,   /* {"name"} */
    CD_EV_KIND_COUNT,
} cd_event_kind_t;

#define CD_EVENT_UNIT_ID_MAX 32 /* = CD_UNIT_ID_MAX */

typedef struct cd_event {
    int64_t seq;   /* strictly increasing, no gaps in what is committed */
    int64_t at_ms; /* engine time of the command that caused it */
    cd_event_kind_t kind;
    char actor[CD_ACTOR_MAX + 1];
    char call_id[CD_CALL_ID_MAX + 1];       /* "" when not about a call */
    char unit_id[CD_EVENT_UNIT_ID_MAX + 1]; /* "" when not about a unit */
    char request_id[CD_REQUEST_ID_MAX + 1]; /* set on the first event of a command */
    cJSON *payload;                         /* owned; an object, never NULL */
} cd_event_t;

/* A growable list of events that owns their payloads. */
typedef struct cd_event_log {
    cd_event_t *items;
    size_t len, cap;
} cd_event_log_t;

/* Appends ev, taking ownership of ev->payload. */
void cd_event_log_push(cd_event_log_t *log, const cd_event_t *ev);
/* Moves every event of src to the end of dst; src is left empty. */
void cd_event_log_move(cd_event_log_t *dst, cd_event_log_t *src);
/* Frees the payloads and empties the log (keeps its capacity). */
void cd_event_log_clear(cd_event_log_t *log);
/* Frees everything. */
void cd_event_log_release(cd_event_log_t *log);

/* "call.created", ...; NULL for an invalid kind. */
const char *cd_event_kind_name(cd_event_kind_t kind);
/* 0 when name is unknown. */
cd_event_kind_t cd_event_kind_parse(const char *name);

#endif
