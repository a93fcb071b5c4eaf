#include "cd_batch_gate.h"

void cd_batch_gate_note(cd_batch_gate_t *self, int64_t now_ms, size_t waiting)
{
    int64_t age = now_ms - self->window_start_ms;
    if (age >= CD_BATCH_GATE_WINDOW_MS || age < 0) {
        /* A window that ended long ago says nothing about now: demand fades within two. */
        self->last_peak = age < 2 * CD_BATCH_GATE_WINDOW_MS && age >= 0 ? self->peak : 0;
        self->peak = 0;
        self->window_start_ms = now_ms;
    }
    if (waiting > self->peak)
        self->peak = waiting;
}

size_t cd_batch_gate_demand(const cd_batch_gate_t *self)
{
    return self->peak > self->last_peak ? self->peak : self->last_peak;
}

bool cd_batch_gate_send(const cd_batch_gate_t *self, size_t in_flight, size_t gathered)
{
    if (in_flight == 0)
        return true;
    return gathered > 0 && 2 * gathered >= cd_batch_gate_demand(self);
}
