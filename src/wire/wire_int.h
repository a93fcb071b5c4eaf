/*  wire_int.h — conversions shared by the wire module's own files (not for use outside
 *  src/wire).  The messages borrow strings from the engine's records; the structs hold the
 *  arrays they point to. */
#ifndef WIRE_INT_H
#define WIRE_INT_H

#include "wire.h"

typedef struct wire_unit_pb {
    Codispatch__V1__Unit m;
    char *langs[CD_UNIT_LANGS_MAX];
    char *caps[CD_UNIT_CAPS_MAX];
} wire_unit_pb_t;

void wire__unit_to_pb(const cd_unit_t *u, const cd_engine_t *engine, int64_t now_ms,
                      wire_unit_pb_t *p);

typedef struct wire_plan_pb {
    Codispatch__V1__Plan m;
    char groups[CD_PLAN_TEXT_MAX + 1];
    char *forbidden[CD_PLAN_LIST_MAX], *requires[CD_PLAN_LIST_MAX];
    uint32_t ack[CD_PRIORITIES], target[CD_PRIORITIES], pending[CD_PRIORITIES];
} wire_plan_pb_t;

void wire__plan_to_pb(const cd_plan_t *plan, wire_plan_pb_t *p);

/* An alert as a message (strings borrowed). */
void wire__alert_to_pb(const cd_alert_t *a, Codispatch__V1__Alert *m);

#endif
