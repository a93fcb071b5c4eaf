/*  sim_report.c — the offline simulation's results, as JSON or as a summary. */
#include <stdlib.h>
#include <string.h>

#include "cli_sim.h"

static int s_cmp(const void *pa, const void *pb)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    return a < b ? -1 : a > b;
}

/* Nearest-rank percentile of sorted v (integers only, so every machine agrees); -1 when
 * there is no value. */
static int64_t s_percentile(const int64_t *v, long n, int pct)
{
    if (n <= 0)
        return -1;
    long rank = (n * pct + 99) / 100; /* ceil(n * pct / 100) */
    return v[rank < 1 ? 0 : rank - 1];
}

/* A share as a number with four decimals (printed the same everywhere); 0 of 0 is 1. */
static double s_rate(long part, long whole)
{
    if (whole <= 0)
        return 1.0;
    return (double)((part * 10000 + whole / 2) / whole) / 10000.0;
}

void sim_report(const sim_stats_t *st, bool json)
{
    int64_t *sorted = malloc((size_t)(st->n_response ? st->n_response : 1) * sizeof *sorted);
    if (sorted && st->n_response)
        memcpy(sorted, st->response_s, (size_t)st->n_response * sizeof *sorted);
    if (sorted)
        qsort(sorted, (size_t)st->n_response, sizeof *sorted, s_cmp);
    int64_t p50 = sorted ? s_percentile(sorted, st->n_response, 50) : -1;
    int64_t p90 = sorted ? s_percentile(sorted, st->n_response, 90) : -1;
    free(sorted);
    double match = s_rate(st->type_matched, st->assignments);
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "policy", sim_policy_name(st->policy));
        cJSON_AddNumberToObject(o, "seed", (double)st->seed);
        cJSON_AddNumberToObject(o, "calls", (double)st->calls);
        cJSON_AddNumberToObject(o, "dispatched", (double)st->dispatched);
        cJSON_AddNumberToObject(o, "never_dispatched", (double)st->never_dispatched);
        cJSON_AddNumberToObject(o, "closed", (double)st->closed);
        cJSON_AddNumberToObject(o, "cancelled", (double)st->cancelled);
        cJSON_AddNumberToObject(o, "assignments", (double)st->assignments);
        cJSON_AddNumberToObject(o, "type_match_rate", match);
        cJSON_AddNumberToObject(o, "forbidden_assignments", (double)st->forbidden_assignments);
        cJSON_AddNumberToObject(o, "language_calls", (double)st->language_calls);
        cJSON_AddNumberToObject(o, "language_matched", (double)st->language_matched);
        if (p50 >= 0) {
            cJSON_AddNumberToObject(o, "response_p50_s", (double)p50);
            cJSON_AddNumberToObject(o, "response_p90_s", (double)p90);
        } else {
            cJSON_AddNullToObject(o, "response_p50_s");
            cJSON_AddNullToObject(o, "response_p90_s");
        }
        cJSON_AddNumberToObject(o, "ack_timeouts", (double)st->ack_timeouts);
        cJSON_AddNumberToObject(o, "police_involved", (double)st->police_involved);
        cJSON_AddNumberToObject(o, "max_pending_s", (double)st->max_pending_s);
        cJSON_AddNumberToObject(o, "alerts", (double)st->alerts);
        cJSON_AddNumberToObject(o, "events", (double)st->events);
        cJSON_AddNumberToObject(o, "sim_hours", (double)(long)(st->sim_hours * 100) / 100);
        cJSON_AddNumberToObject(o, "wall_s", (double)(long)(st->wall_s * 1000) / 1000);
        cli_print_json(o);
        return;
    }
    char p50s[16] = "-", p90s[16] = "-", maxp[16];
    if (p50 >= 0) {
        cli_format_duration(p50, p50s, sizeof p50s);
        cli_format_duration(p90, p90s, sizeof p90s);
    }
    cli_format_duration(st->max_pending_s, maxp, sizeof maxp);
    printf("policy              %s (seed %llu)\n", sim_policy_name(st->policy),
           (unsigned long long)st->seed);
    printf("calls               %ld over %.1f simulated hours\n", st->calls, st->sim_hours);
    printf("dispatched          %ld (never dispatched %ld; closed %ld, given up %ld)\n",
           st->dispatched, st->never_dispatched, st->closed, st->cancelled);
    printf("assignments         %ld, %.1f%% of a type the default plan sends\n", st->assignments,
           match * 100);
    printf("forbidden           %ld assignments of a type the default plan forbids\n",
           st->forbidden_assignments);
    printf("language            %ld of %ld non-English callers served by a unit speaking "
           "their language\n",
           st->language_matched, st->language_calls);
    printf("response            p50 %s, p90 %s (call created to first unit on scene)\n", p50s,
           p90s);
    printf("longest wait        %s before a first unit was offered\n", maxp);
    printf("ack timeouts        %ld\n", st->ack_timeouts);
    printf("police involved     %ld calls (a patrol or SMART unit offered)\n", st->police_involved);
    printf("alerts              %ld raised; %ld engine events\n", st->alerts, st->events);
    printf("wall time           %.3f s\n", st->wall_s);
}
