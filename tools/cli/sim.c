/*  sim.c — codispatch sim generate | offline | run; the simulator's shared small parts. */
#include <string.h>

#include "cli_sim.h"

static const char *const USAGE =
    "codispatch sim generate --calls N --hours H --seed S --out calls.csv\n"
    "                        [--roster-out roster.csv --units U]\n"
    "       codispatch sim offline --roster R --calls C [--policy plan|closest|police_default]\n"
    "                        [--seed S] [--json]\n"
    "       codispatch sim run --roster R --calls C [--speed X] [--units-endpoint EP]\n"
    "                        [--seed S]";

const char *const sim_call_types[SIM_CALL_TYPES] = {
    "mental_health", "suicide_risk", "substance",      "welfare_check", "homeless_outreach",
    "medical",       "fire",         "violent_crisis", "other"};
const char *const sim_unit_types[SIM_UNIT_TYPES] = {"mh_team",         "apru",  "sober",
                                                    "therapeutic_van", "smart", "rescue_ambulance",
                                                    "fire_engine",     "patrol"};

int sim_call_type_index(const char *name)
{
    for (int i = 0; i < SIM_CALL_TYPES; i++)
        if (strcmp(sim_call_types[i], name) == 0)
            return i;
    return -1;
}

int sim_unit_type_index(const char *name)
{
    for (int i = 0; i < SIM_UNIT_TYPES; i++)
        if (strcmp(sim_unit_types[i], name) == 0)
            return i;
    return -1;
}

int cmd_sim(const cli_t *cli, int argc, char **argv)
{
    static const cli_subcommand_t modes[] = {
        {"generate", sim_generate}, {"offline", sim_offline}, {"run", sim_run}};
    return cli_run_subcommand(cli, argc, argv, "sim", "mode", modes, CLI_N(modes), USAGE);
}

/* ------------------------------------------------------------------ random numbers */

void sim_rng_seed(sim_rng_t *r, uint64_t seed)
{
    /* splitmix64 spreads small seeds (1, 2, 3) over the whole state; xorshift needs s != 0. */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t sim_rng_next(sim_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

double sim_rng_unit(sim_rng_t *r)
{
    return (double)(sim_rng_next(r) >> 11) * (1.0 / 9007199254740992.0); /* 53 bits */
}

double sim_rng_between(sim_rng_t *r, double lo, double hi)
{
    return lo + (hi - lo) * sim_rng_unit(r);
}

bool sim_rng_chance(sim_rng_t *r, double p)
{
    return sim_rng_unit(r) < p;
}

double sim_rng_gauss(sim_rng_t *r)
{
    /* Irwin-Hall: the sum of 12 uniforms minus 6 has mean 0, variance 1, tails cut at 6. */
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += sim_rng_unit(r);
    return s - 6.0;
}

int sim_rng_pick(sim_rng_t *r, const double *weights, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++)
        total += weights[i];
    double x = sim_rng_unit(r) * total;
    for (int i = 0; i < n; i++) {
        if (x < weights[i])
            return i;
        x -= weights[i];
    }
    for (int i = n - 1; i > 0; i--) /* rounding left x at the very end: the last nonzero */
        if (weights[i] > 0)
            return i;
    return 0;
}
