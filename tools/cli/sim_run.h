/*  sim_run.h — the parts of `codispatch sim run` that its files share (not installed).
 *
 *  sim_run.c          the command: setup, replaying calls, the dispatcher's part, the loop
 *  sim_run_tablets.c  one simulated tablet per unit, driven from one poll() loop
 *  sim_run_report.c   the summary, computed from the server's record of every call
 */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <poll.h>
#include <time.h>

#include "cd_plan.h"
#include "cli_sim.h"

#define SR_ID_MAX  32
#define SR_TICK_MS 50 /* ZMQ_FD is edge-triggered: look at every tablet this often anyway */

/* A tablet's view of its assignment.  The *ING phases wait for the reply to a request. */
typedef enum {
    SR_IDLE,
    SR_OFFERED,
    SR_ACKING,
    SR_ACKED,
    SR_STARTING,
    SR_EN_ROUTE,
    SR_ARRIVING,
    SR_ON_SCENE,
    SR_CLEARING,
    SR_DECLINING,
} sr_phase_t;

typedef enum { SR_NEW, SR_OPEN, SR_CLOSED, SR_FAILED } sr_call_state_t;

struct sr_run;

typedef struct sr_unit {
    struct sr_run *run;
    const sim_unit_t *def;
    cdc_tablet_t *tab;
    sr_phase_t phase;
    char call_id[SR_ID_MAX + 1];
    char rid[33];    /* the request whose reply moves the phase on; "" none */
    int64_t due_ms;  /* when the next step is due (0: none) */
    int64_t next_ms; /* when the tablet library wants to run again */
    int64_t last_ms;
    bool has_pos, has_dest;
    double lat, lon, dest_lat, dest_lon;
} sr_unit_t;

typedef struct sr_call {
    const sim_call_t *def;
    sr_call_state_t state;
    char id[SR_ID_MAX + 1];
    int64_t due_ms;        /* creation time (monotonic) */
    int64_t idle_since_ms; /* since when no tablet works it (0: one does) */
    int64_t retry_ms;      /* no Dispatch before this */
    bool served;           /* a unit reached the scene */
    bool cleared;          /* a unit has cleared: its plan's groups are not refilled */
    int n_groups;          /* units the effective plan asks for */
} sr_call_t;

typedef struct sr_run {
    const cli_t *cli;
    cdc_control_t *ctl;
    double speed;
    sim_rng_t rng;
    sim_unit_t *roster;
    size_t n_units;
    sim_call_t *defs;
    size_t n_calls;
    sr_unit_t *units;
    sr_call_t *calls;
    cd_plan_t *plans;
    size_t n_plans;
    int64_t t0, now;
    size_t created, closed, failed, dispatches, refusals, given_up;
    struct pollfd *pfds; /* one per tablet */
} sr_run_t;

static inline int64_t sr_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Simulated seconds -> real milliseconds at this speed. */
static inline int64_t sr_real(const sr_run_t *r, double sim_s)
{
    return (int64_t)(sim_s * 1000.0 / r->speed);
}

static inline int64_t sr_max(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* sim_run.c */
/* One request on the run's control client.  Returns the reply when it carries body, else
 * NULL; *code gets CLI_OK, CLI_REFUSED (message printed unless quiet) or CLI_UNREACHABLE. */
Codispatch__V1__Envelope *sr_request(sr_run_t *r, Codispatch__V1__Envelope *req,
                                     Codispatch__V1__Envelope__BodyCase body, bool quiet,
                                     int *code);
sr_call_t *sr_call_by_id(sr_run_t *r, const char *id);

/* sim_run_tablets.c */
/* Connects a tablet for every roster unit and waits (bounded) for their Welcome. */
int sr_tablets_open(sr_run_t *r, const char *endpoint);
void sr_tablets_close(sr_run_t *r);
/* One turn: waits at most max_wait ms for tablet traffic, processes the tablets that need
 * it and takes the unit steps that are due. */
void sr_pump(sr_run_t *r, int max_wait);

/* sim_run_report.c */
/* The plan the server applies to a call (base plan, then flag plans). */
void sr_effective_plan(const sr_run_t *r, const char *type, bool weapon, bool violence,
                       bool medical, cd_plan_t *out);
/* Prints the summary (JSON with --json); returns 0 when every call was closed, else 1. */
int sr_report(sr_run_t *r, int64_t wall_ms);

#endif
