/*  sim_offline.c — codispatch sim offline: the pure engine (src/core) in this process under
 *  a simulated clock; no server, no database, as fast as the CPU allows.
 *
 *  A discrete-event simulation: a heap of timed sim events (a call arrives, a dispatcher
 *  looks at a call, a unit acknowledges, leaves, arrives, clears) merged with the engine's
 *  own deadlines (ack timeouts, alerts), which cd_engine_tick fires at their exact time.
 *  Units are offered calls by the engine (auto-dispatch, re-offers) or by the simulated
 *  dispatcher; the sim learns of every offer from the engine's events, so it plays the
 *  tablets of whatever units the engine picked.  Same files and seed, same results.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_sim.h"
#include "sim_offline.h"

static const char *const USAGE =
    "codispatch sim offline --roster R --calls C [--policy plan|closest|police_default]\n"
    "                       [--seed S] [--json]";

/* ------------------------------------------------------------------ the event heap */

static bool s_before(const sim_ev_t *a, const sim_ev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->seq < b->seq); /* FIFO among equals */
}

void sim_push(sim_state_t *s, int64_t at, sim_kind_t kind, int ref, int64_t asg)
{
    if (s->hn == s->hcap) {
        s->hcap = s->hcap ? s->hcap * 2 : 1024;
        s->heap = cd_xrealloc(s->heap, s->hcap * sizeof *s->heap);
    }
    sim_ev_t ev = {.at = at, .seq = s->seq++, .kind = kind, .ref = ref, .asg = asg};
    size_t i = s->hn++;
    while (i > 0 && s_before(&ev, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = ev;
}

static sim_ev_t s_pop(sim_state_t *s)
{
    sim_ev_t top = s->heap[0], last = s->heap[--s->hn];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->hn)
            break;
        if (c + 1 < s->hn && s_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!s_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->hn)
        s->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------ lookups */

static int s_unit_cmp(const void *pa, const void *pb)
{
    const sim_unit_t *a = *(const sim_unit_t *const *)pa, *b = *(const sim_unit_t *const *)pb;
    return strcmp(a->id, b->id);
}

int sim_unit_ref(const sim_state_t *s, const char *id)
{
    size_t lo = 0, hi = s->n_units;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(s->by_id[mid]->id, id);
        if (c == 0)
            return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* The sim's index of an engine call id ("C-000042" is the 42nd call created). */
int sim_call_ref(const sim_state_t *s, const char *id)
{
    long long no = strncmp(id, "C-", 2) == 0 ? strtoll(id + 2, NULL, 10) : 0;
    if (no < 1 || (size_t)no > s->n_calls || strcmp(s->cs[no - 1].id, id) != 0)
        return -1;
    return (int)(no - 1);
}

bool sim_fail(sim_state_t *s, const char *what, const cd_error_t *err)
{
    if (!s->failed)
        fprintf(stderr, "codispatch: sim offline: %s at t=%llds: %s\n", what,
                (long long)((s->now - SIM_T0) / 1000), err ? err->message : "");
    s->failed = true;
    return false;
}

/* ------------------------------------------------------------------ engine events */

/* Takes what the engine recorded, learns of offers and timeouts from it, and forgets it:
 * the log never holds more than one step's events. */
size_t sim_absorb(sim_state_t *s)
{
    cd_engine_take_events(s->e, &s->log);
    size_t n = s->log.len;
    for (size_t i = 0; i < s->log.len; i++) {
        const cd_event_t *ev = &s->log.items[i];
        s->st.events++;
        if (ev->kind == CD_EV_ALERT_RAISED)
            s->st.alerts++;
        int c = ev->call_id[0] ? sim_call_ref(s, ev->call_id) : -1;
        int u = ev->unit_id[0] ? sim_unit_ref(s, ev->unit_id) : -1;
        if (ev->kind == CD_EV_ASSIGN_OFFERED && c >= 0 && u >= 0) {
            const cJSON *no = cJSON_GetObjectItemCaseSensitive(ev->payload, "assignment_no");
            sim_offered(s, c, u, cJSON_IsNumber(no) ? (int64_t)no->valuedouble : -1);
        } else if (ev->kind == CD_EV_ASSIGN_TIMED_OUT) {
            s->st.ack_timeouts++;
            const cJSON *us = cJSON_GetObjectItemCaseSensitive(ev->payload, "unit_status");
            /* Three misses in a row put a unit out of service; a supervisor checks on the
             * crew and puts it back a quarter of an hour later. */
            if (u >= 0 && cJSON_IsString(us) && strcmp(us->valuestring, "out_of_service") == 0)
                sim_push(s, s->now + 15 * 60000, SIM_EV_RESTORE, u, 0);
            if (c >= 0 && s->cs[c].n_cleared > 0)
                sim_push(s, s->now, SIM_EV_CHECK_CLOSE, c, 0);
        }
    }
    cd_event_log_clear(&s->log);
    return n;
}

/* ------------------------------------------------------------------ set-up */

static bool s_setup(sim_state_t *s)
{
    cd_error_t err;
    s->by_id = cd_xmalloc((s->n_units ? s->n_units : 1) * sizeof *s->by_id);
    for (size_t i = 0; i < s->n_units; i++)
        s->by_id[i] = &s->units[i];
    qsort(s->by_id, s->n_units, sizeof *s->by_id, s_unit_cmp);
    s->cs = cd_xcalloc(s->n_calls ? s->n_calls : 1, sizeof *s->cs);
    s->e = cd_engine_new();
    for (int i = 0; i < SIM_CALL_TYPES; i++)
        cd_engine_add_call_type(s->e, sim_call_types[i]);
    for (int i = 0; i < SIM_UNIT_TYPES; i++)
        cd_engine_add_unit_type(s->e, sim_unit_types[i]);
    if (sim_set_plans(s->e, s->st.policy, SIM_T0 - 120000, &err) != CD_OK)
        return sim_fail(s, "setting the plans", &err);
    cd_ctx_t ctx = {.now_ms = SIM_T0 - 60000, .actor = "supervisor"};
    for (size_t i = 0; i < s->n_units; i++) {
        const sim_unit_t *su = &s->units[i];
        const char *langs[CD_UNIT_LANGS_MAX], *caps[CD_UNIT_CAPS_MAX];
        for (int k = 0; k < su->n_languages; k++)
            langs[k] = su->languages[k];
        for (int k = 0; k < su->n_capabilities; k++)
            caps[k] = su->capabilities[k];
        cd_unit_input_t in = {.id = su->id,
                              .type = su->type,
                              .name = su->name,
                              .set_languages = true,
                              .languages = langs,
                              .n_languages = su->n_languages,
                              .set_capabilities = true,
                              .capabilities = caps,
                              .n_capabilities = su->n_capabilities,
                              .area = su->area,
                              .has_lat = su->has_position,
                              .has_lon = su->has_position,
                              .lat = su->lat,
                              .lon = su->lon,
                              .status = CD_UNIT_AVAILABLE};
        if (cd_engine_add_unit(s->e, &ctx, &in, NULL, &err) != CD_OK)
            return sim_fail(s, su->id, &err);
    }
    sim_absorb(s);
    s->st.events = 0; /* count what the day produced, not the set-up */
    for (size_t i = 0; i < s->n_calls; i++)
        sim_push(s, SIM_T0 + s->calls[i].t_offset_s * 1000, SIM_EV_CALL, (int)i, 0);
    return true;
}

/* ------------------------------------------------------------------ the loop */

static void s_run(sim_state_t *s)
{
    int64_t next_evict = SIM_T0 + 3600000;
    /* Every change of engine state is an event, so a step that recorded none left the
     * deadlines as they were: finding the earliest scans every open call and assignment,
     * and most steps (a dispatcher's look that finds nobody free) change nothing. */
    int64_t deadline = 0;
    bool changed = true;
    while (!s->failed) {
        if (changed)
            deadline = cd_engine_next_deadline(s->e);
        int64_t next = s->hn ? s->heap[0].at : INT64_MAX;
        if (deadline == INT64_MAX && next == INT64_MAX)
            break;
        if (deadline <= next) {
            /* Engine timers first at equal times: an ack exactly at its deadline is late. */
            if (deadline > s->now)
                s->now = deadline;
            cd_ctx_t ctx = {.now_ms = s->now, .actor = "system"};
            int fired = cd_engine_tick(s->e, &ctx);
            changed = sim_absorb(s) > 0;
            if (fired == 0 && cd_engine_next_deadline(s->e) <= s->now) {
                sim_fail(s, "an engine deadline fired nothing and did not move", NULL);
                break;
            }
        } else {
            sim_ev_t ev = s_pop(s);
            s->now = ev.at;
            sim_handle(s, &ev);
            changed = sim_absorb(s) > 0;
        }
        if (s->now >= next_evict) {
            /* Closed calls stay in the sim's own records; the engine can let them go. */
            cd_engine_evict_closed(s->e, s->now - 3600000);
            next_evict = s->now + 3600000;
            changed = true;
        }
    }
}

static void s_finish(sim_state_t *s)
{
    sim_stats_t *st = &s->st;
    st->calls = (long)s->n_calls;
    st->response_s = cd_xmalloc((s->n_calls ? s->n_calls : 1) * sizeof *st->response_s);
    int64_t end = SIM_T0;
    for (size_t i = 0; i < s->n_calls; i++) {
        const sim_call_state_t *c = &s->cs[i];
        const sim_call_t *k = &s->calls[i];
        if (c->first_offer_ms)
            st->dispatched++;
        if (c->police)
            st->police_involved++;
        if (k->language[0] && !cd_text_language_matches(k->language, "en")) {
            st->language_calls++;
            st->language_matched += c->lang_matched;
        }
        if (c->first_scene_ms)
            st->response_s[st->n_response++] = (c->first_scene_ms - c->created_ms) / 1000;
        int64_t waited = (c->first_offer_ms ? c->first_offer_ms : c->done_ms) - c->created_ms;
        if (waited / 1000 > st->max_pending_s)
            st->max_pending_s = waited / 1000;
        if (c->done_ms > end)
            end = c->done_ms;
    }
    st->never_dispatched = st->calls - st->dispatched;
    st->sim_hours = (double)(end - SIM_T0) / 3600000.0;
}

static double s_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sim_offline(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("roster"), CLI_OPT("calls"), CLI_OPT("policy"), CLI_OPT("seed")};
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), NULL, 0, &npos, USAGE);
    if (rc)
        return rc;
    const char *roster = cli_val(o, CLI_N(o), "roster"), *calls = cli_val(o, CLI_N(o), "calls");
    const char *policy = cli_val(o, CLI_N(o), "policy"), *seed = cli_val(o, CLI_N(o), "seed");
    sim_state_t s = {0};
    if (!roster || !*roster)
        return cli_usage_error(USAGE, "--roster names the roster file (CSV)");
    if (!calls || !*calls)
        return cli_usage_error(USAGE, "--calls names the calls file (CSV)");
    if (policy && sim_policy_parse(policy, &s.st.policy) != 0)
        return cli_usage_error(USAGE, "--policy must be plan, closest or police_default; got '%s'",
                               policy);
    long seedv = 1;
    if (seed && (!cli_parse_long(seed, &seedv) || seedv < 0))
        return cli_usage_error(USAGE, "--seed must be a whole number from 0");
    s.st.seed = (uint64_t)seedv;
    sim_rng_seed(&s.rng, s.st.seed);

    double t0 = s_clock();
    if ((rc = sim_load_roster(roster, &s.units, &s.n_units)))
        return rc;
    if ((rc = sim_load_calls(calls, &s.calls, &s.n_calls))) {
        free(s.units);
        return rc;
    }
    if (s_setup(&s))
        s_run(&s);
    s_finish(&s);
    s.st.wall_s = s_clock() - t0;
    if (!s.failed)
        sim_report(&s.st, cli->json);

    free(s.st.response_s);
    cd_event_log_release(&s.log);
    cd_engine_destroy(&s.e);
    free(s.heap);
    free(s.cs);
    free(s.by_id);
    free(s.units);
    sim_calls_free(s.calls, s.n_calls);
    return s.failed ? CLI_REFUSED : CLI_OK;
}
