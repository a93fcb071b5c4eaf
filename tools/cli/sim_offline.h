/*  sim_offline.h — the offline simulation's state, shared by its loop (sim_offline.c) and
 *  its actors: callers, the dispatcher, the units' crews and supervisors (sim_actors.c). */
#ifndef SIM_OFFLINE_H
#define SIM_OFFLINE_H

#include "cli_sim.h"

/* The simulated day starts at midnight in Los Angeles: 2026-01-01T08:00:00Z. */
#define SIM_T0 1767254400000LL

typedef enum sim_kind {
    SIM_EV_CALL = 1,    /* ref: call; the call comes in */
    SIM_EV_DISPATCH,    /* ref: call; a dispatcher looks at it */
    SIM_EV_ACK,         /* ref: unit, asg: assignment no; the crew acknowledges */
    SIM_EV_EN_ROUTE,    /* ... leaves */
    SIM_EV_ON_SCENE,    /* ... arrives */
    SIM_EV_CLEAR,       /* ... is done */
    SIM_EV_RESTORE,     /* ref: unit; a supervisor puts it back in service */
    SIM_EV_CHECK_CLOSE, /* ref: call; close it if its last unit has gone */
} sim_kind_t;

typedef struct sim_ev {
    int64_t at; /* simulated epoch ms */
    uint64_t seq;
    sim_kind_t kind;
    int ref;
    int64_t asg;
} sim_ev_t;

/* What the sim knows of a call; kept after the engine evicts it. */
typedef struct sim_call_state {
    char id[CD_CALL_ID_MAX + 1]; /* "" until created */
    int64_t created_ms, first_offer_ms, first_scene_ms, done_ms;
    int n_cleared; /* units that finished: the call is winding down */
    bool done, police, lang_matched;
} sim_call_state_t;

typedef struct sim_state {
    cd_engine_t *e;
    sim_rng_t rng;
    sim_unit_t *units;
    size_t n_units;
    const sim_unit_t **by_id; /* units sorted by id; a unit's "ref" indexes this */
    sim_call_t *calls;        /* sorted by offset; a call's "ref" indexes this and cs */
    size_t n_calls;
    sim_call_state_t *cs;
    sim_ev_t *heap;
    size_t hn, hcap;
    uint64_t seq;
    cd_event_log_t log; /* scratch for one step's engine events */
    int64_t now;
    sim_stats_t st;
    bool failed;
} sim_state_t;

void sim_push(sim_state_t *s, int64_t at, sim_kind_t kind, int ref, int64_t asg);
int sim_unit_ref(const sim_state_t *s, const char *id);
int sim_call_ref(const sim_state_t *s, const char *id);
/* Reports an unexpected refusal by the engine (a bug in the sim or the engine) and stops
 * the run; returns false. */
bool sim_fail(sim_state_t *s, const char *what, const cd_error_t *err);
/* Takes the engine's new events, acts on offers and timeouts; returns how many. */
size_t sim_absorb(sim_state_t *s);

/* sim_actors.c */
void sim_handle(sim_state_t *s, const sim_ev_t *ev);
/* The engine offered call c to unit u (assignment number asg). */
void sim_offered(sim_state_t *s, int c, int u, int64_t asg);

#endif
