/*  sim_gen.c — codispatch sim generate: a synthetic day (or more) of crisis calls in Los
 *  Angeles County, and optionally a roster to answer them.
 *
 *  The county is the eight service planning areas, each a centre and a spread; calls lean
 *  toward mental health and substance use, as the alternative-response programme sees them;
 *  callers speak the county's threshold languages.  The numbers are plausible, not
 *  measured: they make a scenario that exercises every plan and language path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_sim.h"

static const char *const USAGE =
    "codispatch sim generate --calls N --hours H --seed S --out calls.csv\n"
    "                        [--roster-out roster.csv --units U]";

/* ------------------------------------------------------------------ the county */

typedef struct s_spa {
    const char *area, *place;
    double lat, lon;   /* centre */
    double dlat, dlon; /* about two deviations of the spread */
    double calls;      /* share of the calls */
} s_spa_t;

static const s_spa_t S_SPA[8] = {
    {"SPA 1", "Antelope Valley", 34.630, -118.120, 0.10, 0.20, 5},
    {"SPA 2", "San Fernando Valley", 34.220, -118.470, 0.07, 0.13, 18},
    {"SPA 3", "San Gabriel Valley", 34.090, -118.000, 0.06, 0.14, 14},
    {"SPA 4", "Metro", 34.065, -118.290, 0.03, 0.05, 20},
    {"SPA 5", "West", 34.020, -118.450, 0.04, 0.06, 7},
    {"SPA 6", "South", 33.960, -118.270, 0.03, 0.04, 14},
    {"SPA 7", "East", 33.960, -118.100, 0.05, 0.07, 11},
    {"SPA 8", "South Bay", 33.840, -118.300, 0.07, 0.07, 11},
};

/* Callers' languages: English, Spanish, then the county's threshold languages.  A language
 * weighs more in the areas where its speakers live (bit i: SPA i+1). */
typedef struct s_lang {
    const char *tag;
    double weight;
    unsigned home;
} s_lang_t;

#define S_LANGS 12
static const s_lang_t S_LANG[S_LANGS] = {
    {"en", 600, 0},  {"es", 240, 0x60}, {"hy", 15, 0x0A}, /* Glendale, E. Hollywood */
    {"km", 4, 0x80}, {"yue", 8, 0x0C},  {"cmn", 12, 0x0C}, {"fa", 8, 0x12}, {"ko", 14, 0x08},
    {"ru", 5, 0x0A}, {"tl", 10, 0x86},  {"vi", 8, 0x84},   {"ar", 5, 0x82},
};

static double s_lang_weight(int l, int spa)
{
    /* Spanish is everywhere, so its home areas count twice rather than four times. */
    double boost = l == 1 ? 2.0 : 4.0;
    double w = S_LANG[l].weight * ((S_LANG[l].home >> spa) & 1u ? boost : 1.0);
    if (l == 1 && spa == 4) /* fewer Spanish speakers on the Westside */
        w *= 0.5;
    return w;
}

/* ------------------------------------------------------------------ call types */

typedef struct s_ctype {
    double weight;
    double prio[4];
    double weapon, violence, medical;
    const char *summary[3];
} s_ctype_t;

/* In the order of sim_call_types. */
static const s_ctype_t S_CTYPE[SIM_CALL_TYPES] = {
    {30,
     {.10, .35, .40, .15},
     .010,
     .05,
     .05,
     {"brother, 32, hearing voices and not sleeping", "woman outside a store, talking to herself",
      "family says he stopped his medication, \"he thinks we are poisoning him\""}},
    {10,
     {.45, .40, .12, .03},
     .020,
     .02,
     .15,
     {"caller says her husband wrote a goodbye note",
      "988 transfer: young adult with a plan, alone",
      "man standing on an overpass, not answering"}},
    {17,
     {.20, .35, .35, .10},
     .005,
     .03,
     .25,
     {"man slumped at a bus stop, breathing, hard to wake",
      "possible overdose, friend gave naloxone", "intoxicated woman unable to walk, parking lot"}},
    {13,
     {.02, .13, .45, .40},
     0,
     .01,
     .08,
     {"neighbour has not seen the resident in three days", "daughter cannot reach her father",
      "older woman wandering, confused, asking for her sister"}},
    {11,
     {0, .05, .30, .65},
     0,
     .01,
     .03,
     {"encampment resident asking for shelter and medication",
      "man in a doorway, cold, asks for help", "business owner requests outreach, not urgent"}},
    {8,
     {.40, .45, .12, .03},
     0,
     .01,
     0,
     {"diabetic, confused and sweating", "fall, elderly man cannot get up",
      "chest pain, 58-year-old woman"}},
    {2,
     {.80, .20, 0, 0},
     0,
     0,
     .10,
     {"smoke from a tent, encampment fire", "kitchen fire, occupants out",
      "brush fire near homes"}},
    {5,
     {.55, .40, .05, 0},
     .20,
     .60,
     .10,
     {"man with a knife threatening family members", "fight in progress, one person bleeding",
      "woman barricaded, threatening to hurt others"}},
    {4,
     {.02, .10, .40, .48},
     .005,
     .02,
     .02,
     {"caller wants information about services", "noise complaint, caller distressed",
      "caller hung up, callback needed"}},
};

/* Calls per hour of the day, relative: quiet before dawn, busiest late afternoon. */
static const double S_HOURLY[24] = {0.80, 0.65, 0.55, 0.50, 0.45, 0.45, 0.55, 0.70,
                                    0.85, 1.00, 1.10, 1.15, 1.20, 1.20, 1.25, 1.30,
                                    1.35, 1.35, 1.30, 1.25, 1.15, 1.05, 0.95, 0.90};

/* ------------------------------------------------------------------ unit types */

typedef struct s_utype {
    const char *prefix, *label;
    double weight;  /* share of the roster */
    double spanish; /* chance a unit has a Spanish speaker */
    double other;   /* chance of one more threshold language */
    const char *caps;
} s_utype_t;

/* In the order of sim_unit_types. */
static const s_utype_t S_UTYPE[SIM_UNIT_TYPES] = {
    {"MH", "Clinician team", 20, .55, .30, "crisis_counseling;involuntary_hold"},
    {"APRU", "Advanced provider unit", 9, .35, .10, "naloxone;medical_eval"},
    {"SOBER", "SOBER unit", 6, .45, .15, "naloxone;detox_referral"},
    {"VAN", "Therapeutic van", 10, .50, .30, "transport;crisis_counseling"},
    {"SMART", "SMART team", 9, .40, .15, "crisis_counseling;involuntary_hold"},
    {"RA", "Rescue ambulance", 14, .35, .10, "transport;naloxone;als"},
    {"E", "Engine", 10, .30, .05, "als;naloxone"},
    {"P", "Patrol", 22, .40, .10, "naloxone"},
};

/* ------------------------------------------------------------------ drawing */

static int s_pick_spa(sim_rng_t *r, double floor)
{
    double w[8];
    for (int i = 0; i < 8; i++)
        w[i] = S_SPA[i].calls + floor;
    return sim_rng_pick(r, w, 8);
}

static void s_place(sim_rng_t *r, int spa, double *lat, double *lon)
{
    /* Half the spread is one deviation; clamp so a rare draw stays in the county. */
    double a = sim_rng_gauss(r) / 2, b = sim_rng_gauss(r) / 2;
    a = a > 1.5 ? 1.5 : a < -1.5 ? -1.5 : a;
    b = b > 1.5 ? 1.5 : b < -1.5 ? -1.5 : b;
    *lat = S_SPA[spa].lat + a * S_SPA[spa].dlat;
    *lon = S_SPA[spa].lon + b * S_SPA[spa].dlon;
}

static int s_cmp_i64(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

static int s_write_calls(FILE *f, sim_rng_t *r, long n, double hours)
{
    int64_t *t = malloc((size_t)(n ? n : 1) * sizeof *t);
    if (!t)
        return -1;
    int64_t span = (int64_t)(hours * 3600);
    /* Offsets first, by rejection against the hourly profile, then sorted: the file is in
     * time order and every other draw happens in that order. */
    for (long i = 0; i < n; i++) {
        for (;;) {
            int64_t s = (int64_t)(sim_rng_unit(r) * (double)span);
            if (sim_rng_unit(r) * 1.35 < S_HOURLY[(s / 3600) % 24]) {
                t[i] = s;
                break;
            }
        }
    }
    qsort(t, (size_t)n, sizeof *t, s_cmp_i64);
    fprintf(f, "%s\n", sim_calls_header);
    double tw[SIM_CALL_TYPES];
    for (int i = 0; i < SIM_CALL_TYPES; i++)
        tw[i] = S_CTYPE[i].weight;
    for (long i = 0; i < n; i++) {
        int ty = sim_rng_pick(r, tw, SIM_CALL_TYPES);
        const s_ctype_t *ct = &S_CTYPE[ty];
        int prio = sim_rng_pick(r, ct->prio, 4) + 1;
        int spa = s_pick_spa(r, 0);
        double lat, lon, lw[S_LANGS];
        s_place(r, spa, &lat, &lon);
        for (int l = 0; l < S_LANGS; l++)
            lw[l] = s_lang_weight(l, spa);
        const char *lang = S_LANG[sim_rng_pick(r, lw, S_LANGS)].tag;
        if (sim_rng_chance(r, 0.03))
            lang = ""; /* the caller's language was not recorded */
        char flags[32] = "";
        if (sim_rng_chance(r, ct->weapon))
            strcat(flags, "weapon");
        if (sim_rng_chance(r, ct->violence))
            strcat(strcat(flags, *flags ? ";" : ""), "violence");
        if (sim_rng_chance(r, ct->medical))
            strcat(strcat(flags, *flags ? ";" : ""), "medical");
        const char *summary = ct->summary[sim_rng_next(r) % 3];
        fprintf(f, "%lld,%s,%d,%.5f,%.5f,", (long long)t[i], sim_call_types[ty], prio, lat, lon);
        sim_csv_put(f, S_SPA[spa].area, false);
        sim_csv_put(f, lang, false);
        sim_csv_put(f, flags, false);
        sim_csv_put(f, summary, true);
    }
    free(t);
    return 0;
}

static void s_write_roster(FILE *f, sim_rng_t *r, long n)
{
    fprintf(f, "%s\n", sim_roster_header);
    /* Types by largest remainder, so a small roster still has every type in proportion. */
    long count[SIM_UNIT_TYPES], given = 0;
    double total = 0, rem[SIM_UNIT_TYPES];
    for (int k = 0; k < SIM_UNIT_TYPES; k++)
        total += S_UTYPE[k].weight;
    for (int k = 0; k < SIM_UNIT_TYPES; k++) {
        double exact = (double)n * S_UTYPE[k].weight / total;
        count[k] = (long)exact;
        rem[k] = exact - (double)count[k];
        given += count[k];
    }
    while (given < n) {
        int best = 0;
        for (int k = 1; k < SIM_UNIT_TYPES; k++)
            if (rem[k] > rem[best])
                best = k;
        count[best]++;
        rem[best] = -1;
        given++;
    }
    for (int k = 0; k < SIM_UNIT_TYPES; k++) {
        const s_utype_t *ut = &S_UTYPE[k];
        for (long i = 0; i < count[k]; i++) {
            /* A floor on every area's weight: the Antelope Valley is quiet but covered. */
            int spa = s_pick_spa(r, 6);
            double lat, lon, lw[S_LANGS];
            s_place(r, spa, &lat, &lon);
            char id[CD_UNIT_ID_MAX + 1], name[CD_UNIT_NAME_MAX + 1], langs[64] = "en";
            snprintf(id, sizeof id, "%s-%02ld", ut->prefix, i + 1);
            snprintf(name, sizeof name, "%s, %s", ut->label, S_SPA[spa].place);
            double es = ut->spanish + (spa == 5 || spa == 6 ? 0.2 : 0);
            if (sim_rng_chance(r, es))
                strcat(langs, ";es");
            if (sim_rng_chance(r, ut->other)) {
                for (int l = 0; l < S_LANGS; l++)
                    lw[l] = l < 2 ? 0 : s_lang_weight(l, spa);
                strcat(strcat(langs, ";"), S_LANG[sim_rng_pick(r, lw, S_LANGS)].tag);
            }
            sim_csv_put(f, id, false);
            sim_csv_put(f, sim_unit_types[k], false);
            sim_csv_put(f, name, false);
            sim_csv_put(f, langs, false);
            sim_csv_put(f, ut->caps, false);
            sim_csv_put(f, S_SPA[spa].area, false);
            fprintf(f, "%.5f,%.5f\n", lat, lon);
        }
    }
}

/* ------------------------------------------------------------------ command */

static int s_open_out(const char *path, FILE **f)
{
    *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!*f) {
        fprintf(stderr, "codispatch: cannot write %s: %s\n", path, strerror(errno));
        return CLI_USAGE;
    }
    return 0;
}

static int s_close_out(const char *path, FILE *f)
{
    int bad = ferror(f);
    if (f != stdout)
        bad |= fclose(f);
    else
        bad |= fflush(f);
    if (bad) {
        fprintf(stderr, "codispatch: writing %s failed\n", path);
        return CLI_USAGE;
    }
    return 0;
}

int sim_generate(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("calls"), CLI_OPT("hours"),      CLI_OPT("seed"),
                     CLI_OPT("out"),   CLI_OPT("roster-out"), CLI_OPT("units")};
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), NULL, 0, &npos, USAGE);
    if (rc)
        return rc;
    const char *calls = cli_val(o, CLI_N(o), "calls"), *hours = cli_val(o, CLI_N(o), "hours");
    const char *seed = cli_val(o, CLI_N(o), "seed"), *out = cli_val(o, CLI_N(o), "out");
    const char *rout = cli_val(o, CLI_N(o), "roster-out"), *units = cli_val(o, CLI_N(o), "units");
    long n, u = 60;
    double h;
    if (!calls || !cli_parse_long(calls, &n) || n < 0 || n > 10000000)
        return cli_usage_error(USAGE, "--calls must be a number of calls from 0 to 10000000");
    if (!hours || !cli_parse_double(hours, &h) || h < 1.0 / 60 || h > 24 * 366)
        return cli_usage_error(USAGE, "--hours must be a number of hours from 1/60 to 8784");
    char *end;
    errno = 0;
    unsigned long long s = seed ? strtoull(seed, &end, 10) : 0;
    if (!seed || !*seed || *end || errno || *seed == '-')
        return cli_usage_error(USAGE, "--seed must be a whole number from 0 (the same seed "
                                      "writes the same scenario)");
    if (!out || !*out)
        return cli_usage_error(USAGE, "--out names the calls file to write");
    if (units && !rout)
        return cli_usage_error(USAGE, "--units needs --roster-out");
    if (units && (!cli_parse_long(units, &u) || u < 1 || u > 100000))
        return cli_usage_error(USAGE, "--units must be a number of units from 1 to 100000");

    /* Separate streams: the calls are the same whether or not a roster is written. */
    sim_rng_t rc_calls, rc_roster;
    sim_rng_seed(&rc_calls, s);
    sim_rng_seed(&rc_roster, s ^ 0x526F73746572ull); /* "Roster" */
    FILE *f;
    if ((rc = s_open_out(out, &f)))
        return rc;
    if (s_write_calls(f, &rc_calls, n, h) != 0) {
        fprintf(stderr, "codispatch: out of memory\n");
        rc = CLI_USAGE;
    }
    int rc2 = s_close_out(out, f);
    if (rc || rc2)
        return rc ? rc : rc2;
    if (rout) {
        if ((rc = s_open_out(rout, &f)))
            return rc;
        s_write_roster(f, &rc_roster, u);
        if ((rc = s_close_out(rout, f)))
            return rc;
    }
    if (!cli->json && strcmp(out, "-") != 0)
        fprintf(stderr, "wrote %ld calls over %g h to %s%s%s\n", n, h, out,
                rout ? " and a roster to " : "", rout ? rout : "");
    return CLI_OK;
}
