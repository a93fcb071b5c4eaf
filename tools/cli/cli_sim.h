/*  cli_sim.h — the scenario simulator behind `codispatch sim`.
 *
 *  sim generate   writes a synthetic Los Angeles scenario (sim_gen.c)
 *  sim offline    runs the pure engine in-process on a simulated clock (sim_offline.c,
 *                 sim_plans.c, sim_report.c)
 *  sim run        replays a scenario against a running server (sim_run.c)
 *
 *  Scenario files are CSV with a header row; multi-valued fields are separated by ';':
 *      roster: unit_id,type,name,languages,capabilities,area,lat,lon
 *      calls:  t_offset_s,type,priority,lat,lon,area,language,flags,summary
 *  (sim_csv.c reads and writes them).  Everything random is drawn from sim_rng_t, seeded
 *  from --seed, so a scenario and a simulation are reproducible on any machine.
 */
#ifndef CLI_SIM_H
#define CLI_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cd_call.h"
#include "cd_engine.h"
#include "cd_text.h"
#include "cd_unit.h"
#include "cli.h"

/* Subcommands (argv holds what follows the subcommand's name). */
int sim_generate(const cli_t *cli, int argc, char **argv);
int sim_offline(const cli_t *cli, int argc, char **argv);
/* sim_run.c, written separately: replay against a running server. */
int sim_run(const cli_t *cli, int argc, char **argv);

/* ------------------------------------------------------------------ reference data */

#define SIM_CALL_TYPES 9
#define SIM_UNIT_TYPES 8
extern const char *const sim_call_types[SIM_CALL_TYPES];
extern const char *const sim_unit_types[SIM_UNIT_TYPES];
/* Index in the tables above, or -1. */
int sim_call_type_index(const char *name);
int sim_unit_type_index(const char *name);

/* ------------------------------------------------------------------ random numbers */

/* xorshift64* seeded through splitmix64: our own generator, because rand() differs between
 * C libraries and a scenario must be the same everywhere for a seed. */
typedef struct sim_rng {
    uint64_t s;
} sim_rng_t;

void sim_rng_seed(sim_rng_t *r, uint64_t seed);
uint64_t sim_rng_next(sim_rng_t *r);
double sim_rng_unit(sim_rng_t *r);                          /* [0, 1) */
double sim_rng_between(sim_rng_t *r, double lo, double hi); /* [lo, hi) */
bool sim_rng_chance(sim_rng_t *r, double p);
/* About normal with mean 0 and deviation 1 (a sum of uniforms: no libm, same everywhere). */
double sim_rng_gauss(sim_rng_t *r);
/* An index drawn with the given weights (n >= 1, weights >= 0, not all 0). */
int sim_rng_pick(sim_rng_t *r, const double *weights, int n);

/* ------------------------------------------------------------------ scenarios */

typedef struct sim_unit {
    char id[CD_UNIT_ID_MAX + 1];
    char type[CD_TYPE_MAX + 1];
    char name[CD_UNIT_NAME_MAX + 1];
    char languages[CD_UNIT_LANGS_MAX][CD_LANGUAGE_MAX + 1];
    int n_languages;
    char capabilities[CD_UNIT_CAPS_MAX][CD_TYPE_MAX + 1];
    int n_capabilities;
    char area[CD_AREA_MAX + 1];
    bool has_position;
    double lat, lon;
} sim_unit_t;

typedef struct sim_call {
    int64_t t_offset_s;
    char type[CD_TYPE_MAX + 1];
    int priority;
    double lat, lon;
    char area[CD_AREA_MAX + 1];
    char language[CD_LANGUAGE_MAX + 1]; /* "" when unknown */
    unsigned risk;                      /* CD_RISK_* */
    char *summary;                      /* owned, never NULL */
    int line;                           /* where it was read, for messages */
} sim_call_t;

/* Read and check a scenario file.  On a bad file prints "codispatch: FILE:LINE: column N
 * (NAME): why" and returns CLI_USAGE; else 0 with *out owned by the caller.  Calls come
 * back sorted by t_offset_s (stable: equal offsets keep file order). */
int sim_load_roster(const char *path, sim_unit_t **out, size_t *n);
int sim_load_calls(const char *path, sim_call_t **out, size_t *n);
void sim_calls_free(sim_call_t *calls, size_t n);

/* CSV writing: one field, quoted when it holds a comma, quote or line break; then ',' or
 * (last) '\n'. */
void sim_csv_put(FILE *f, const char *s, bool last);
extern const char *const sim_roster_header;
extern const char *const sim_calls_header;

/* ------------------------------------------------------------------ offline: plans */

typedef enum sim_policy {
    SIM_POLICY_PLAN = 0, /* the default plans (migration 0002), flags included */
    SIM_POLICY_CLOSEST,  /* the nearest available unit of any type */
    SIM_POLICY_POLICE,   /* a patrol for every call: the status quo */
} sim_policy_t;

int sim_policy_parse(const char *s, sim_policy_t *out); /* 0, or -1 for an unknown name */
const char *sim_policy_name(sim_policy_t p);
/* Sets the policy's plans in the engine (reference data must be there). */
int sim_set_plans(cd_engine_t *e, sim_policy_t policy, int64_t now_ms, cd_error_t *err);
/* The default plan that applies to a call of this type and risk (base plus flag plans). */
void sim_default_plan(const char *type, unsigned risk, cd_plan_t *out);
/* True when one of the plan's groups lists the unit type (in any tier). */
bool sim_plan_lists(const cd_plan_t *p, const char *unit_type);

/* ------------------------------------------------------------------ offline: results */

typedef struct sim_stats {
    sim_policy_t policy;
    uint64_t seed;
    long calls, dispatched, never_dispatched, closed, cancelled;
    long assignments, type_matched, forbidden_assignments;
    long language_calls, language_matched;
    long ack_timeouts, police_involved, alerts, events;
    int64_t *response_s; /* creation to first unit on scene, one per call that had one */
    long n_response;
    int64_t max_pending_s;
    double sim_hours, wall_s;
} sim_stats_t;

/* Prints the results: one JSON object, or a summary for people. */
void sim_report(const sim_stats_t *st, bool json);

#endif
