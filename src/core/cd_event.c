#include "cd_event.h"

#include <stdlib.h>
#include <string.h>

static const char *const s_kind_names[CD_EV_KIND_COUNT] = {
    [CD_EV_CALL_CREATED] = "call.created",
    [CD_EV_CALL_CANCELLED] = "call.cancelled",
    [CD_EV_CALL_NOTED] = "call.noted",
    [CD_EV_CALL_CLOSED] = "call.closed",
    [CD_EV_UNIT_ADDED] = "unit.added",
    [CD_EV_UNIT_UPDATED] = "unit.updated",
    [CD_EV_UNIT_STATUS] = "unit.status",
    [CD_EV_UNIT_REMOVED] = "unit.removed",
    [CD_EV_ASSIGN_OFFERED] = "assignment.offered",
    [CD_EV_ASSIGN_ACKED] = "assignment.acknowledged",
    [CD_EV_ASSIGN_DECLINED] = "assignment.declined",
    [CD_EV_ASSIGN_TIMED_OUT] = "assignment.timed_out",
    [CD_EV_ASSIGN_PROGRESS] = "assignment.progress",
    [CD_EV_ASSIGN_CLEARED] = "assignment.cleared",
    [CD_EV_PLAN_SET] = "plan.set",
    [CD_EV_ALERT_RAISED] = "alert.raised",
    [CD_EV_ALERT_CLEARED] = "alert.cleared",
    [CD_EV_UNIT_POSITION] = "unit.position",
    [CD_EV_UNIT_LINK] = "unit.link",
    [CD_EV_KEY_ADDED] = "key.added",
    [CD_EV_KEY_REVOKED] = "key.revoked",
};

const char *cd_event_kind_name(cd_event_kind_t kind)
{
    if (kind <= 0 || kind >= CD_EV_KIND_COUNT)
        return NULL;
    return s_kind_names[kind];
}

cd_event_kind_t cd_event_kind_parse(const char *name)
{
    for (int k = 1; name && k < CD_EV_KIND_COUNT; k++)
        if (s_kind_names[k] && strcmp(s_kind_names[k], name) == 0)
            return (cd_event_kind_t)k;
    return 0;
}

void cd_event_log_push(cd_event_log_t *log, const cd_event_t *ev)
{
    if (log->len == log->cap) {
        log->cap = log->cap ? log->cap * 2 : 64;
        log->items = cd_xrealloc(log->items, log->cap * sizeof *log->items);
    }
    log->items[log->len++] = *ev;
}

void cd_event_log_move(cd_event_log_t *dst, cd_event_log_t *src)
{
    for (size_t i = 0; i < src->len; i++)
        cd_event_log_push(dst, &src->items[i]);
    src->len = 0;
}

void cd_event_log_clear(cd_event_log_t *log)
{
    for (size_t i = 0; i < log->len; i++)
        cJSON_Delete(log->items[i].payload);
    log->len = 0;
}

void cd_event_log_release(cd_event_log_t *log)
{
    cd_event_log_clear(log);
    free(log->items);
    memset(log, 0, sizeof *log);
}
