/*  sim_run.c — codispatch sim run: replay a scenario against a running server.
 *
 *  The roster goes on the server (added or put back on duty), every unit gets a simulated
 *  tablet on the units socket, and the calls are created at their offsets divided by
 *  --speed.  Tablets ack, drive, work the scene and clear on a simulated clock; the sim plays
 *  the dispatcher for what the plans leave to one (Dispatch for calls left pending, CloseCall
 *  once every unit has cleared).  The report is computed from the server's own record of
 *  each call (GetCall), not from what the tablets believe, so it measures the server.
 *
 *  Everything runs on one thread: one poll() over the tablets' ZeroMQ descriptors, control
 *  requests made synchronously between turns.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_run.h"

static const char *const USAGE =
    "codispatch sim run --roster R --calls C [--speed X] [--units-endpoint EP] [--seed S]";

#define S_PROGRESS_MS 3000

static volatile sig_atomic_t s_interrupted;

static void s_on_sigint(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

/* ------------------------------------------------------------------ control requests */

Codispatch__V1__Envelope *sr_request(sr_run_t *r, Codispatch__V1__Envelope *req,
                                     Codispatch__V1__Envelope__BodyCase body, bool quiet, int *code)
{
    Codispatch__V1__Envelope *reply = NULL;
    int rc = cdc_control_call(r->ctl, req, r->cli->timeout_ms, &reply);
    *code = CLI_UNREACHABLE;
    if (rc != CDC_OK) {
        fprintf(stderr, "codispatch: no answer from %s within %d ms\n", r->cli->server,
                r->cli->timeout_ms);
        return NULL;
    }
    if (reply->body_case == body) {
        *code = CLI_OK;
        return reply;
    }
    *code = CLI_REFUSED;
    if (!quiet && reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR)
        fprintf(stderr, "codispatch: %s\n",
                reply->error->message ? reply->error->message : "refused");
    cdc_envelope_free(reply);
    return NULL;
}

sr_call_t *sr_call_by_id(sr_run_t *r, const char *id)
{
    for (size_t i = 0; i < r->n_calls; i++)
        if (r->calls[i].state != SR_NEW && strcmp(r->calls[i].id, id) == 0)
            return &r->calls[i];
    return NULL;
}

/* ------------------------------------------------------------------ setup */

static int s_load_plans(sr_run_t *r)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListPlans m = CODISPATCH__V1__LIST_PLANS__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS;
    req.list_plans = &m;
    int rc;
    Codispatch__V1__Envelope *reply =
        sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_PLAN_LIST, false, &rc);
    if (!reply)
        return rc;
    const Codispatch__V1__PlanList *pl = reply->plan_list;
    r->plans = cd_xcalloc(pl->n_plans + 1, sizeof *r->plans);
    for (size_t i = 0; i < pl->n_plans; i++) {
        const Codispatch__V1__Plan *p = pl->plans[i];
        cd_plan_t *out = &r->plans[r->n_plans];
        cd_error_t err;
        cd_plan_init(out, p->key ? p->key : "", cd_plan_mode_parse(p->mode));
        if (cd_plan_parse_groups(out, p->groups ? p->groups : "", &err) != CD_OK)
            continue; /* the server accepted it, so this cannot happen; skip rather than guess */
        for (size_t k = 0; k < p->n_forbidden && out->n_forbidden < CD_PLAN_LIST_MAX; k++)
            cd_copy(out->forbidden[out->n_forbidden++], CD_TYPE_MAX + 1, p->forbidden[k]);
        r->n_plans++;
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

/* Puts every roster unit on the server, available: added when missing, back on duty when a
 * supervisor (or an earlier run's missed acks) took it off. */
static int s_setup_roster(sr_run_t *r)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListUnits lm = CODISPATCH__V1__LIST_UNITS__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS;
    req.list_units = &lm;
    int rc;
    Codispatch__V1__Envelope *list =
        sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST, false, &rc);
    if (!list)
        return rc;
    size_t added = 0, restored = 0;
    for (size_t i = 0; i < r->n_units && rc == CLI_OK; i++) {
        const sim_unit_t *d = &r->roster[i];
        const Codispatch__V1__Unit *have = NULL;
        for (size_t k = 0; k < list->unit_list->n_units && !have; k++)
            if (strcmp(list->unit_list->units[k]->unit_id, d->id) == 0)
                have = list->unit_list->units[k];
        Codispatch__V1__Envelope q = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__AddUnit am = CODISPATCH__V1__ADD_UNIT__INIT;
        Codispatch__V1__UpdateUnit um = CODISPATCH__V1__UPDATE_UNIT__INIT;
        char *langs[CD_UNIT_LANGS_MAX], *caps[CD_UNIT_CAPS_MAX];
        if (!have) {
            for (int k = 0; k < d->n_languages; k++)
                langs[k] = (char *)d->languages[k];
            for (int k = 0; k < d->n_capabilities; k++)
                caps[k] = (char *)d->capabilities[k];
            am.unit_id = (char *)d->id;
            am.type = (char *)d->type;
            am.name = *d->name ? (char *)d->name : NULL;
            am.area = *d->area ? (char *)d->area : NULL;
            am.n_languages = (size_t)d->n_languages;
            am.languages = langs;
            am.n_capabilities = (size_t)d->n_capabilities;
            am.capabilities = caps;
            am.has_lat = am.has_lon = d->has_position;
            am.lat = d->lat;
            am.lon = d->lon;
            am.has_status = true;
            am.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
            q.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
            q.add_unit = &am;
            added++;
        } else if (have->status == CODISPATCH__V1__UNIT_STATUS__UNIT_OFF_DUTY ||
                   have->status == CODISPATCH__V1__UNIT_STATUS__UNIT_OUT_OF_SERVICE) {
            um.unit_id = (char *)d->id;
            um.has_status = true;
            um.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
            q.body_case = CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT;
            q.update_unit = &um;
            restored++;
        } else {
            continue;
        }
        Codispatch__V1__Envelope *reply =
            sr_request(r, &q, CODISPATCH__V1__ENVELOPE__BODY_UNIT, false, &rc);
        if (!reply)
            fprintf(stderr, "codispatch: (unit %s)\n", d->id);
        cdc_envelope_free(reply);
    }
    /* Units on the server that the roster does not list have no tablet here: offers to them
     * run into the ack timeout.  Say so rather than change units the scenario does not own. */
    size_t strangers = 0;
    for (size_t k = 0; k < list->unit_list->n_units; k++) {
        const Codispatch__V1__Unit *u = list->unit_list->units[k];
        bool listed = false;
        for (size_t i = 0; i < r->n_units && !listed; i++)
            listed = strcmp(r->roster[i].id, u->unit_id) == 0;
        strangers += !listed && u->status == CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    }
    if (strangers)
        fprintf(stderr,
                "codispatch sim: %zu available units on the server are not in the roster; "
                "offers to them will time out (take them off duty to leave them out)\n",
                strangers);
    cdc_envelope_free(list);
    if (rc == CLI_OK)
        fprintf(stderr, "codispatch sim: %zu units (%zu added, %zu put back on duty)\n", r->n_units,
                added, restored);
    return rc;
}

/* The units endpoint: given, or advertised by the server.  A wildcard bind address ("*",
 * 0.0.0.0) is not connectable: take the host from the control endpoint instead. */
static int s_units_endpoint(sr_run_t *r, const char *given, char *out, size_t cap)
{
    if (given) {
        snprintf(out, cap, "%s", given);
        return CLI_OK;
    }
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest m = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &m;
    int rc;
    Codispatch__V1__Envelope *reply =
        sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY, false, &rc);
    if (!reply)
        return rc;
    const char *ep = reply->status_reply->units_endpoint ? reply->status_reply->units_endpoint : "";
    const char *host = strstr(ep, "://"), *port = host ? strrchr(host + 3, ':') : NULL;
    const char *chost = strstr(r->cli->server, "://"), *cport = chost ? strrchr(chost, ':') : NULL;
    if (port && cport && (strncmp(host, "://*:", 5) == 0 || strncmp(host, "://0.0.0.0:", 11) == 0))
        snprintf(out, cap, "tcp%.*s%s", (int)(cport - chost), chost, port);
    else
        snprintf(out, cap, "%s", ep);
    cdc_envelope_free(reply);
    if (!*out) {
        fprintf(stderr, "codispatch: the server does not serve a units endpoint; give "
                        "--units-endpoint\n");
        return CLI_REFUSED;
    }
    return CLI_OK;
}

/* ------------------------------------------------------------------ calls */

static void s_create(sr_run_t *r, sr_call_t *c)
{
    const sim_call_t *d = c->def;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
    m.type = (char *)d->type;
    m.has_priority = m.has_lat = m.has_lon = true;
    m.priority = (uint32_t)d->priority;
    m.lat = d->lat;
    m.lon = d->lon;
    m.area = *d->area ? (char *)d->area : NULL;
    m.language = *d->language ? (char *)d->language : NULL;
    m.has_weapon = m.has_violence = m.has_medical = true;
    m.weapon = (d->risk & CD_RISK_WEAPON) != 0;
    m.violence = (d->risk & CD_RISK_VIOLENCE) != 0;
    m.medical = (d->risk & CD_RISK_MEDICAL) != 0;
    m.summary = *d->summary ? d->summary : NULL;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    req.create_call = &m;
    int rc;
    Codispatch__V1__Envelope *reply =
        sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_CALL, false, &rc);
    if (!reply) {
        fprintf(stderr, "codispatch: (the call on line %d was not created)\n", d->line);
        c->state = SR_FAILED;
        r->failed++;
        return;
    }
    snprintf(c->id, sizeof c->id, "%s", reply->call->call_id);
    c->state = SR_OPEN;
    c->idle_since_ms = r->now;
    /* Auto-dispatched: its offers are on their way to the tablets; do not dispatch it twice. */
    c->retry_ms = r->now + (reply->call->n_assignments ? sr_max(1000, sr_real(r, 60))
                                                       : sr_max(500, sr_real(r, 30)));
    cd_plan_t plan;
    sr_effective_plan(r, d->type, m.weapon, m.violence, m.medical, &plan);
    c->n_groups = plan.n_groups;
    r->created++;
    cdc_envelope_free(reply);
}

static const char *s_disposition(sr_run_t *r)
{
    static const char *const names[] = {"resolved_on_scene", "referred", "transported_voluntary",
                                        "no_contact", "police_requested"};
    static const double weights[] = {55, 20, 15, 7, 3};
    return names[sim_rng_pick(&r->rng, weights, 5)];
}

/* The dispatcher's part: offer calls the plan left pending (or short of the units its
 * plan asks for), close calls whose units are all back in service. */
static void s_call_step(sr_run_t *r, sr_call_t *c)
{
    int active = 0;
    for (size_t i = 0; i < r->n_units; i++)
        active += r->units[i].phase != SR_IDLE && strcmp(r->units[i].call_id, c->id) == 0;
    if (active)
        c->idle_since_ms = 0;
    else if (!c->idle_since_ms)
        c->idle_since_ms = r->now;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    int rc;
    if (!active && c->served) {
        /* A moment's grace: another unit's offer may still be on its way to its tablet. */
        if (r->now - c->idle_since_ms < sr_max(200, sr_real(r, 5)))
            return;
        Codispatch__V1__CloseCall m = CODISPATCH__V1__CLOSE_CALL__INIT;
        m.call_id = c->id;
        m.disposition = (char *)s_disposition(r);
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL;
        req.close_call = &m;
        Codispatch__V1__Envelope *reply =
            sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_CALL, false, &rc);
        c->state = reply ? SR_CLOSED : SR_FAILED;
        *(reply ? &r->closed : &r->failed) += 1;
        cdc_envelope_free(reply);
        return;
    }
    /* Once a unit has cleared the call was served: its empty groups stay empty. */
    bool short_of_units = active ? active < c->n_groups && !c->cleared
                                 : r->now - c->idle_since_ms >= sr_max(500, sr_real(r, 30));
    if (!short_of_units || r->now < c->retry_ms)
        return;
    Codispatch__V1__Dispatch m = CODISPATCH__V1__DISPATCH__INIT;
    m.call_id = c->id;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
    req.dispatch = &m;
    r->dispatches++;
    Codispatch__V1__Envelope *reply =
        sr_request(r, &req, CODISPATCH__V1__ENVELOPE__BODY_CALL, true, &rc);
    if (!reply) /* nobody eligible now: units free up as others clear */
        r->refusals++;
    c->retry_ms = r->now + (reply ? sr_max(1000, sr_real(r, 60)) : sr_max(500, sr_real(r, 120)));
    cdc_envelope_free(reply);
}

static void s_progress(const sr_run_t *r)
{
    long long sim = (long long)((double)(r->now - r->t0) * r->speed / 1000.0);
    size_t pending = 0, busy = 0;
    for (size_t i = 0; i < r->n_calls; i++)
        pending += r->calls[i].state == SR_OPEN && r->calls[i].idle_since_ms != 0;
    for (size_t i = 0; i < r->n_units; i++)
        busy += r->units[i].phase != SR_IDLE;
    fprintf(stderr,
            "codispatch sim: %02lld:%02lld:%02lld simulated  calls %zu/%zu created, %zu closed, "
            "%zu pending  units %zu/%zu busy\n",
            sim / 3600, sim / 60 % 60, sim % 60, r->created, r->n_calls, r->closed, pending, busy,
            r->n_units);
}

/* ------------------------------------------------------------------ the command */

static int s_run(sr_run_t *r, const char *units_ep)
{
    char ep[256];
    int rc;
    if ((rc = s_units_endpoint(r, units_ep, ep, sizeof ep)) || (rc = s_load_plans(r)) ||
        (rc = s_setup_roster(r)))
        return rc;
    if ((rc = sr_tablets_open(r, ep)))
        return rc;
    /* Offers made before a tablet is welcomed would wait for its Hello: start when all are. */
    int64_t deadline = sr_mono_ms() + 10000;
    size_t welcomed = 0;
    while (welcomed < r->n_units && sr_mono_ms() < deadline && !s_interrupted) {
        sr_pump(r, SR_TICK_MS);
        welcomed = 0;
        for (size_t i = 0; i < r->n_units; i++)
            welcomed += cdc_tablet_welcomed(r->units[i].tab);
    }
    if (welcomed < r->n_units)
        fprintf(stderr, "codispatch sim: only %zu of %zu tablets welcomed by %s; going on\n",
                welcomed, r->n_units, ep);

    r->now = r->t0 = sr_mono_ms();
    for (size_t i = 0; i < r->n_calls; i++)
        r->calls[i].due_ms = r->t0 + sr_real(r, (double)r->defs[i].t_offset_s);
    /* Calls left at the end get a bounded while (3 simulated hours, 30 s at least). */
    int64_t end_by = (r->n_calls ? r->calls[r->n_calls - 1].due_ms : r->t0) +
                     sr_max(30000, sr_real(r, 3 * 3600));
    int64_t next_progress = r->t0 + S_PROGRESS_MS;
    for (;;) {
        size_t next = 0, done = 0;
        int64_t next_due = r->now + SR_TICK_MS;
        for (size_t i = 0; i < r->n_calls; i++) {
            sr_call_t *c = &r->calls[i];
            if (c->state == SR_NEW && r->now >= c->due_ms)
                s_create(r, c);
            if (c->state == SR_OPEN)
                s_call_step(r, c);
            if (c->state == SR_NEW && !next++ && c->due_ms < next_due)
                next_due = c->due_ms;
            done += c->state == SR_CLOSED || c->state == SR_FAILED;
        }
        if (r->now >= next_progress) {
            s_progress(r);
            next_progress = r->now + S_PROGRESS_MS;
        }
        if (done == r->n_calls || r->now >= end_by || s_interrupted)
            break;
        sr_pump(r, (int)sr_max(0, next_due - r->now));
    }
    s_progress(r);
    if (s_interrupted)
        fprintf(stderr, "codispatch sim: interrupted; reporting what happened so far\n");
    else if (r->now >= end_by)
        fprintf(stderr, "codispatch sim: gave up waiting for the last calls to close\n");
    return sr_report(r, sr_mono_ms() - r->t0);
}

int sim_run(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("roster"), CLI_OPT("calls"), CLI_OPT("speed"),
                     CLI_OPT("units-endpoint"), CLI_OPT("seed")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), pos, 0, &npos, USAGE);
    if (rc)
        return rc;
    const char *roster = cli_val(o, CLI_N(o), "roster"), *calls = cli_val(o, CLI_N(o), "calls");
    const char *speed = cli_val(o, CLI_N(o), "speed"), *seed = cli_val(o, CLI_N(o), "seed");
    sr_run_t r = {.cli = cli, .speed = 60};
    long seed_v = 1;
    if (!roster || !calls)
        return cli_usage_error(USAGE, "--roster and --calls are required (CSV files, as "
                                      "`codispatch sim generate` writes them)");
    if (speed && (!cli_parse_double(speed, &r.speed) || r.speed <= 0 || r.speed > 100000))
        return cli_usage_error(USAGE,
                               "--speed must be above 0 and at most 100000 (simulated seconds "
                               "per real second); got '%s'",
                               speed);
    if (seed && (!cli_parse_long(seed, &seed_v) || seed_v < 0))
        return cli_usage_error(USAGE, "--seed must be a whole number from 0; got '%s'", seed);
    sim_rng_seed(&r.rng, (uint64_t)seed_v);
    if ((rc = sim_load_roster(roster, &r.roster, &r.n_units)))
        return rc;
    if ((rc = sim_load_calls(calls, &r.defs, &r.n_calls))) {
        free(r.roster);
        return rc;
    }
    r.calls = cd_xcalloc(r.n_calls + 1, sizeof *r.calls);
    for (size_t i = 0; i < r.n_calls; i++)
        r.calls[i].def = &r.defs[i];
    r.ctl = cdc_control_new(cli->server);
    if (!r.ctl) {
        rc = cli_usage_error(NULL, "'%s' is not a valid ZeroMQ endpoint", cli->server);
    } else {
        struct sigaction sa = {.sa_handler = s_on_sigint}, old;
        sigaction(SIGINT, &sa, &old);
        rc = s_run(&r, cli_val(o, CLI_N(o), "units-endpoint"));
        sigaction(SIGINT, &old, NULL);
    }
    sr_tablets_close(&r);
    cdc_control_destroy(&r.ctl);
    free(r.calls);
    free(r.plans);
    free(r.roster);
    sim_calls_free(r.defs, r.n_calls);
    return rc;
}
