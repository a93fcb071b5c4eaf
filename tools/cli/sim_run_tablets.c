/*  sim_run_tablets.c — the simulated tablets of `codispatch sim run`.
 *
 *  One cdc_tablet per unit, all on one thread: the crew reads an offer, acks (now and then
 *  declines), turns out, drives at 40 km/h, works the scene and clears, each step after a
 *  simulated delay drawn from the run's seeded generator.  A step waits for the server's
 *  reply to the previous one; a push that ends the assignment (cleared, timed out, the call
 *  cancelled) stops the crew wherever it is.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_run.h"

#define S_KMH 40.0

static double s_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = 3.14159265358979323846 / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(a));
}

static void s_unit_idle(sr_unit_t *u)
{
    u->phase = SR_IDLE;
    u->rid[0] = '\0';
    u->due_ms = 0;
}

/* The phase a pushed assignment status puts an idle tablet in: an offer, or (the unit was
 * left mid-call by an earlier run) the step it had reached.  SR_IDLE: nothing to take up. */
static sr_phase_t s_phase_of(const char *st)
{
    static const struct {
        const char *status;
        sr_phase_t phase;
    } map[] = {{"offered", SR_OFFERED},       {"acknowledged", SR_ACKED},
               {"en_route", SR_EN_ROUTE},     {"on_scene", SR_ON_SCENE},
               {"transporting", SR_ON_SCENE}, {"at_facility", SR_ON_SCENE}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].status, st) == 0)
            return map[i].phase;
    return SR_IDLE;
}

static void s_on_assignment(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *p)
{
    (void)seq;
    sr_unit_t *u = arg;
    sr_run_t *r = u->run;
    const char *st = p->status ? p->status : "", *call = p->call_id ? p->call_id : "";
    sr_phase_t phase = s_phase_of(st);
    if (phase == SR_OFFERED || (u->phase == SR_IDLE && phase != SR_IDLE)) {
        snprintf(u->call_id, sizeof u->call_id, "%s", call);
        u->has_dest = p->has_lat && p->has_lon;
        u->dest_lat = p->lat;
        u->dest_lon = p->lon;
        u->rid[0] = '\0';
        u->phase = phase;
        u->due_ms = r->now + sr_real(r, sim_rng_between(&r->rng, 2, 20)); /* reading the offer */
    } else if (strcmp(call, u->call_id) == 0 &&
               (strcmp(st, "declined") == 0 || strcmp(st, "timed_out") == 0 ||
                strcmp(st, "cleared") == 0)) {
        s_unit_idle(u); /* done, cancelled, or the offer went elsewhere */
    }
}

static void s_on_result(void *arg, const char *rid, const Codispatch__V1__Envelope *reply)
{
    sr_unit_t *u = arg;
    sr_run_t *r = u->run;
    if (!*u->rid || strcmp(rid, u->rid) != 0)
        return; /* a position report, or a request overtaken by a push */
    u->rid[0] = '\0';
    if (!reply || reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_UNIT) {
        if (!reply)
            r->given_up++;
        s_unit_idle(u); /* the call moved on without us (cancelled, timed out, ...) */
        return;
    }
    sr_call_t *c = sr_call_by_id(r, u->call_id);
    switch (u->phase) {
    case SR_ACKING: /* turnout: getting to the vehicle */
        u->phase = SR_ACKED;
        u->due_ms = r->now + sr_real(r, sim_rng_between(&r->rng, 10, 60));
        break;
    case SR_STARTING: {
        double s = sim_rng_between(&r->rng, 300, 900); /* unknown distance: 5-15 minutes */
        if (u->has_pos && u->has_dest)
            s = fmax(60, s_km(u->lat, u->lon, u->dest_lat, u->dest_lon) / S_KMH * 3600);
        u->phase = SR_EN_ROUTE;
        u->due_ms = r->now + sr_real(r, s);
        break;
    }
    case SR_ARRIVING:
        u->phase = SR_ON_SCENE;
        u->due_ms = r->now + sr_real(r, sim_rng_between(&r->rng, 15 * 60, 45 * 60));
        if (c)
            c->served = true;
        if (u->has_dest) { /* the unit is where the call is: later ETAs start from here */
            u->has_pos = true;
            u->lat = u->dest_lat;
            u->lon = u->dest_lon;
            cdc_tablet_position(u->tab, u->lat, u->lon, 0, NULL);
        }
        break;
    case SR_CLEARING:
        if (c) /* the plan's groups were served: no more units for this call */
            c->cleared = true;
        s_unit_idle(u);
        break;
    default: /* SR_DECLINING: back in service */
        s_unit_idle(u);
        break;
    }
}

/* The next step of a unit whose timer ran out. */
static void s_unit_step(sr_run_t *r, sr_unit_t *u)
{
    int rc = CDC_OK;
    sr_phase_t next = u->phase;
    switch (u->phase) {
    case SR_OFFERED:
        if (sim_rng_chance(&r->rng, 0.05)) {
            rc = cdc_tablet_decline(u->tab, u->call_id, "crew finishing another task", u->rid);
            next = SR_DECLINING;
        } else {
            rc = cdc_tablet_ack(u->tab, u->call_id, u->rid);
            next = SR_ACKING;
        }
        break;
    case SR_ACKED:
        rc = cdc_tablet_status(u->tab, CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE, u->rid);
        next = SR_STARTING;
        break;
    case SR_EN_ROUTE:
        rc = cdc_tablet_status(u->tab, CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE, u->rid);
        next = SR_ARRIVING;
        break;
    case SR_ON_SCENE:
        rc = cdc_tablet_status(u->tab, CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE, u->rid);
        next = SR_CLEARING;
        break;
    default:
        break;
    }
    if (rc != CDC_OK) { /* the tablet's queue is full: try again shortly */
        u->rid[0] = '\0';
        u->due_ms = r->now + 100;
        return;
    }
    u->phase = next;
    u->due_ms = 0;
}

void sr_pump(sr_run_t *r, int max_wait)
{
    struct pollfd *pfds = r->pfds;
    int64_t now = sr_mono_ms();
    int64_t wait = max_wait < SR_TICK_MS ? max_wait : SR_TICK_MS;
    for (size_t i = 0; i < r->n_units; i++) {
        const sr_unit_t *u = &r->units[i];
        wait = u->next_ms - now < wait ? u->next_ms - now : wait;
        if (u->due_ms && !*u->rid && u->due_ms - now < wait)
            wait = u->due_ms - now;
        pfds[i].revents = 0;
    }
    poll(pfds, r->n_units, (int)sr_max(wait, 0));
    r->now = now = sr_mono_ms();
    for (size_t i = 0; i < r->n_units; i++) {
        sr_unit_t *u = &r->units[i];
        if (pfds[i].revents || now >= u->next_ms || now - u->last_ms >= SR_TICK_MS) {
            int w = cdc_tablet_process(u->tab, now);
            u->last_ms = now;
            u->next_ms = now + (w < 0 ? 100 : w);
        }
        if (u->due_ms && !*u->rid && now >= u->due_ms)
            s_unit_step(r, u);
    }
}

int sr_tablets_open(sr_run_t *r, const char *endpoint)
{
    r->units = cd_xcalloc(r->n_units, sizeof *r->units);
    r->pfds = cd_xcalloc(r->n_units, sizeof *r->pfds);
    for (size_t i = 0; i < r->n_units; i++) {
        sr_unit_t *u = &r->units[i];
        const sim_unit_t *d = &r->roster[i];
        *u = (sr_unit_t){
            .run = r, .def = d, .has_pos = d->has_position, .lat = d->lat, .lon = d->lon};
        cdc_tablet_callbacks_t cb = {s_on_assignment, s_on_result, NULL, u};
        u->tab = cdc_tablet_new(endpoint, d->id, 0, &cb);
        if (!u->tab) {
            fprintf(stderr, "codispatch: cannot open a tablet for %s on '%s'\n", d->id, endpoint);
            return CLI_USAGE;
        }
        r->pfds[i] = (struct pollfd){.fd = cdc_tablet_fd(u->tab), .events = POLLIN};
    }
    return CLI_OK;
}

void sr_tablets_close(sr_run_t *r)
{
    for (size_t i = 0; r->units && i < r->n_units; i++)
        cdc_tablet_destroy(&r->units[i].tab);
    free(r->units);
    free(r->pfds);
    r->units = NULL;
    r->pfds = NULL;
}
