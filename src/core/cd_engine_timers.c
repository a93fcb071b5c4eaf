/*  cd_engine_timers.c — the engine's clocks: ack timeouts, pending-too-long and
 *  on-scene-too-long deadlines, the heap that finds the earliest of them without scanning
 *  every open call, and the tick that fires what is due. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cd_engine_int.h"

/* ------------------------------------------------------------------ timers */

/* The plan whose clocks apply to a call, without resolving its flags (this runs for every
 * open call after every loop turn that changed state): the base plan, or the defaults. */
static const cd_plan_t *s_clocks(const cd_engine_t *self, const cd_call_t *c, cd_plan_t *defaults)
{
    const cd_plan_t *base = cd__base_plan(self, c);
    if (base)
        return base;
    cd_plan_init(defaults, "", CD_PLAN_BASE);
    return defaults;
}

static int64_t s_pending_deadline(const cd_engine_t *self, const cd_call_t *c)
{
    cd_plan_t defaults;
    const cd_plan_t *plan = s_clocks(self, c, &defaults);
    return c->pending_since_ms + (int64_t)plan->pending_alert_s[c->priority - 1] * 1000;
}

static int64_t s_on_scene_deadline(const cd_engine_t *self, const cd_assignment_t *a)
{
    cd_plan_t defaults;
    const cd_plan_t *plan = s_clocks(self, cd__call(self, a->call_id), &defaults);
    return a->on_scene_ms + (int64_t)plan->on_scene_alert_s * 1000;
}

/* The earliest deadline that belongs to call c: its pending wait, its assignments' ack
 * timeouts and on-scene limits.  INT64_MAX when none runs. */
static int64_t s_call_deadline(const cd_engine_t *self, const cd_call_t *c)
{
    int64_t next = INT64_MAX;
    if (c->status == CD_CALL_PENDING && !c->pending_alerted)
        next = s_pending_deadline(self, c);
    for (int i = 0; i < c->n_asg; i++) {
        const cd_assignment_t *a = c->asg[i];
        if (a->status == CD_ASG_OFFERED && a->ack_deadline_ms < next)
            next = a->ack_deadline_ms;
        if (a->status == CD_ASG_ON_SCENE && !a->on_scene_alerted) {
            int64_t d = s_on_scene_deadline(self, a);
            if (d < next)
                next = d;
        }
    }
    return next;
}

/* ------------------------------------------------------------------ the timer heap */

struct cd_deadline {
    int64_t at;
    char call_id[CD_CALL_ID_MAX + 1];
};

static void s_heap_swap(struct cd_deadline *h, size_t i, size_t j)
{
    struct cd_deadline t = h[i];
    h[i] = h[j];
    h[j] = t;
}

static void s_heap_down(struct cd_deadline *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].at < h[m].at)
            m = l;
        if (r < n && h[r].at < h[m].at)
            m = r;
        if (m == i)
            return;
        s_heap_swap(h, i, m);
        i = m;
    }
}

static void s_heap_push(cd_engine_t *self, int64_t at, const char *call_id)
{
    if (self->dl_n == self->dl_cap) {
        self->dl_cap = self->dl_cap ? self->dl_cap * 2 : 256;
        self->dl_heap = cd_xrealloc(self->dl_heap, self->dl_cap * sizeof *self->dl_heap);
    }
    size_t i = self->dl_n++;
    self->dl_heap[i].at = at;
    cd_copy(self->dl_heap[i].call_id, sizeof self->dl_heap[i].call_id, call_id);
    while (i > 0 && self->dl_heap[(i - 1) / 2].at > self->dl_heap[i].at) {
        s_heap_swap(self->dl_heap, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void s_heap_pop(cd_engine_t *self)
{
    self->dl_heap[0] = self->dl_heap[--self->dl_n];
    s_heap_down(self->dl_heap, self->dl_n, 0);
}

/* Every call's deadline computed afresh, and the heap built from them in O(n). */
static void s_heap_rebuild(cd_engine_t *self)
{
    self->dl_n = 0;
    for (cd_call_t *c = self->calls; c; c = c->hh.next) {
        c->deadline_ms = cd_call_is_open(c) || c->n_asg ? s_call_deadline(self, c) : INT64_MAX;
        if (c->deadline_ms == INT64_MAX)
            continue;
        if (self->dl_n == self->dl_cap) {
            self->dl_cap = self->dl_cap ? self->dl_cap * 2 : 256;
            self->dl_heap = cd_xrealloc(self->dl_heap, self->dl_cap * sizeof *self->dl_heap);
        }
        self->dl_heap[self->dl_n].at = c->deadline_ms;
        cd_copy(self->dl_heap[self->dl_n].call_id, sizeof self->dl_heap[self->dl_n].call_id, c->id);
        self->dl_n++;
    }
    for (size_t i = self->dl_n / 2; i-- > 0;)
        s_heap_down(self->dl_heap, self->dl_n, i);
    self->dl_valid = true;
}

void cd__deadline_note(cd_engine_t *self, const cd_event_t *ev)
{
    if (!self->dl_valid)
        return;
    if (ev->kind == CD_EV_PLAN_SET) { /* every call of that type may have new clocks */
        self->dl_valid = false;
        return;
    }
    cd_call_t *c = ev->call_id[0] ? cd__call(self, ev->call_id) : NULL;
    if (!c && ev->unit_id[0]) { /* an event about a unit touches its call's assignment */
        const cd_unit_t *u = cd__unit(self, ev->unit_id);
        const cd_assignment_t *a = u ? cd__unit_asg(self, u) : NULL;
        c = a ? cd__call(self, a->call_id) : NULL;
    }
    if (!c)
        return;
    int64_t d = s_call_deadline(self, c);
    if (d == c->deadline_ms)
        return;
    c->deadline_ms = d; /* its older heap entry, if any, is stale from now on */
    if (d != INT64_MAX)
        s_heap_push(self, d, c->id);
    /* Stale entries leave only when they reach the top; rebuild before they pile up. */
    if (self->dl_n > 2 * self->open_calls + 4096)
        self->dl_valid = false;
}

static int64_t s_scan_deadlines(const cd_engine_t *self)
{
    int64_t next = INT64_MAX;
    for (const cd_call_t *c = self->calls; c; c = c->hh.next) {
        if (!cd_call_is_open(c) && c->n_asg == 0)
            continue;
        int64_t d = s_call_deadline(self, c);
        if (d < next)
            next = d;
    }
    return next;
}

int64_t cd_engine_next_deadline_scan(const cd_engine_t *self)
{
    return s_scan_deadlines(self);
}

int64_t cd_engine_next_deadline(cd_engine_t *self)
{
    if (!self->dl_valid)
        s_heap_rebuild(self);
    while (self->dl_n > 0) {
        const struct cd_deadline *top = &self->dl_heap[0];
        const cd_call_t *c = cd__call(self, top->call_id);
        if (c && c->deadline_ms == top->at)
            return top->at;
        s_heap_pop(self); /* stale: the call moved on, or left memory */
    }
    return INT64_MAX;
}

int cd_engine_tick(cd_engine_t *self, const cd_ctx_t *ctx)
{
    int fired = 0;
    int64_t now = ctx->now_ms;
    /* Assignments first: a timeout re-offers, which may end a call's pending wait. */
    cd_assignment_t *a, *tmp;
    HASH_ITER(hh, self->asgs, a, tmp)
    {
        if (a->status == CD_ASG_OFFERED && a->ack_deadline_ms <= now) {
            cd__begin(self);
            char call[CD_CALL_ID_MAX + 1], unit[CD_UNIT_ID_MAX + 1];
            cd_copy(call, sizeof call, a->call_id);
            cd_copy(unit, sizeof unit, a->unit_id);
            cd__raise_alert(self, ctx, CD_ALERT_ACK_TIMEOUT, call, unit,
                            "unit %s did not acknowledge call %s in time", unit, call);
            cd__end_assignment(self, ctx, a, CD_EV_ASSIGN_TIMED_OUT, "no acknowledgement in time",
                               CD_UNIT_AVAILABLE, true);
            fired++;
        } else if (a->status == CD_ASG_ON_SCENE && !a->on_scene_alerted &&
                   s_on_scene_deadline(self, a) <= now) {
            cd__begin(self);
            cd__raise_alert(self, ctx, CD_ALERT_ON_SCENE_TOO_LONG, a->call_id, a->unit_id,
                            "unit %s has been on scene at call %s for %lld min", a->unit_id,
                            a->call_id, (long long)((now - a->on_scene_ms) / 60000));
            fired++;
        }
    }
    for (cd_call_t *c = self->calls; c; c = c->hh.next) {
        if (c->status != CD_CALL_PENDING || c->pending_alerted || s_pending_deadline(self, c) > now)
            continue;
        cd__begin(self);
        cd__raise_alert(self, ctx, CD_ALERT_PENDING_TOO_LONG, c->id, NULL,
                        "priority %d call %s has waited %lld min for a unit", c->priority, c->id,
                        (long long)((now - c->pending_since_ms) / 60000));
        fired++;
    }
    return fired;
}
