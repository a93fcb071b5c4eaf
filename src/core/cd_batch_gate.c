#include "cd_batch_gate.h"

void cd_batch_gate_note(cd_batch_gate_t *self, int64_t now_ms, size_t waiting)
{
    int64_t age = now_ms - self->window_start_ms;
    if (age < 0) { /* the clock went back: start afresh */
        self->last_peak = self->peak = 0;
        self->window_start_ms = now_ms;
    } else if (age >= CD_BATCH_GATE_WINDOW_MS) {
        /* Windows keep fixed boundaries, so the demand never looks back more than two of them;
         * the window just ended becomes the last, an older one says nothing about now. */
        int64_t ended = age / CD_BATCH_GATE_WINDOW_MS;
        self->last_peak = ended == 1 ? self->peak : 0;
        self->peak = 0;
        self->window_start_ms += ended * CD_BATCH_GATE_WINDOW_MS;
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
