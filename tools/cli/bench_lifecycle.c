/*  bench_lifecycle.c — `codispatch bench lifecycle --units U --calls N --clients C`.
 *
 *  The whole path of a call, as a dispatch centre lives it: a console creates the call and
 *  dispatches it to a named unit; that unit's tablet (a cdc_tablet on the units socket) gets
 *  the offer pushed, acknowledges, goes en route, on scene and clears; the console closes the
 *  call.  C consoles run in a closed loop (one call each at a time), each with its own share
 *  of the U units (added to the roster first, with names unique to this run).  Each step is
 *  timed from its request to its reply; "push" is from sending Dispatch to the offer reaching
 *  the tablet.  Everything runs on one thread in one zmq_poll loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "bench.h"

static const char *const USAGE = "codispatch bench lifecycle --units U --calls N --clients C";

enum {
    ST_CREATE,
    ST_DISPATCH,
    ST_PUSH,
    ST_ACK,
    ST_EN_ROUTE,
    ST_ON_SCENE,
    ST_CLEAR,
    ST_CLOSE,
    ST_N
};
static const char *const s_step_names[ST_N] = {"create",   "dispatch", "push",  "ack",
                                               "en_route", "on_scene", "clear", "close"};

typedef struct s_run s_run_t;

typedef struct s_unit {
    s_run_t *run;
    char id[48];
    cdc_tablet_t *tablet;
    char call_id[32]; /* the call it is expecting or working */
    char rid[33];     /* its request in flight */
    int step;         /* ST_PUSH .. ST_CLEAR while working, -1 idle */
    double sent_ms, dispatched_ms;
    bool done, failed, broken;
} s_unit_t;

typedef struct s_console {
    void *sock;
    char rid[33];
    int step; /* ST_CREATE, ST_DISPATCH, ST_PUSH (the tablet works), ST_CLOSE; -1 idle */
    double sent_ms, started_ms;
    char call_id[32];
    s_unit_t *unit;
    long next_unit; /* its units are k, k + C, k + 2C, ... */
} s_console_t;

struct s_run {
    s_unit_t *units;
    long nunits;
    s_console_t *consoles;
    long nconsoles;
    bench_lat_t lat[ST_N], total;
    long started, done, errors, target;
    int timeout_ms;
};

static void s_unit_fail(s_unit_t *u, const char *why)
{
    fprintf(stderr, "bench lifecycle: unit %s, call %s: %s\n", u->id, u->call_id, why);
    u->failed = true;
    u->step = -1;
}

static void s_tablet_next(s_unit_t *u, double now)
{
    int rc;
    u->sent_ms = now;
    switch (u->step) {
    case ST_ACK:
        rc = cdc_tablet_ack(u->tablet, u->call_id, u->rid);
        break;
    case ST_EN_ROUTE:
        rc = cdc_tablet_status(u->tablet, CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE, u->rid);
        break;
    case ST_ON_SCENE:
        rc = cdc_tablet_status(u->tablet, CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE, u->rid);
        break;
    default:
        rc = cdc_tablet_status(u->tablet, CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE, u->rid);
        break;
    }
    if (rc != 0)
        s_unit_fail(u, "the tablet could not send");
}

static void s_on_assignment(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *p)
{
    (void)seq;
    s_unit_t *u = arg;
    if (u->step != ST_PUSH || !p->status || strcmp(p->status, "offered") != 0 || !p->call_id ||
        strcmp(p->call_id, u->call_id) != 0)
        return;
    double now = bench_mono_ms();
    bench_lat_add(&u->run->lat[ST_PUSH], now - u->dispatched_ms);
    u->step = ST_ACK;
    s_tablet_next(u, now);
}

static void s_on_result(void *arg, const char *rid, const Codispatch__V1__Envelope *reply)
{
    s_unit_t *u = arg;
    if (u->step < ST_ACK || u->step > ST_CLEAR || strcmp(rid, u->rid) != 0)
        return;
    if (!reply || reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_UNIT) {
        s_unit_fail(u, reply && reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR &&
                               reply->error->message
                           ? reply->error->message
                           : "no reply");
        return;
    }
    double now = bench_mono_ms();
    bench_lat_add(&u->run->lat[u->step], now - u->sent_ms);
    if (u->step == ST_CLEAR) {
        u->step = -1;
        u->done = true;
        return;
    }
    u->step++;
    s_tablet_next(u, now);
}

/* ------------------------------------------------------------------ consoles */

static int s_console_send(s_console_t *c, Codispatch__V1__Envelope *env, int step, double now)
{
    cdc_request_id(c->rid);
    env->request_id = c->rid;
    c->step = step;
    c->sent_ms = now;
    return bench_send(c->sock, NULL, env);
}

static s_unit_t *s_pick_unit(s_run_t *r, s_console_t *c, long k)
{
    for (long tries = 0; tries < r->nunits; tries++) {
        long i = k + c->next_unit * r->nconsoles;
        if (i >= r->nunits) {
            c->next_unit = 0;
            i = k;
        }
        c->next_unit++;
        if (!r->units[i].broken)
            return &r->units[i];
        if (k + c->next_unit * r->nconsoles >= r->nunits && c->next_unit == 1)
            break;
    }
    return NULL;
}

static void s_console_start(s_run_t *r, s_console_t *c, long k, double now)
{
    c->step = -1;
    if (r->started >= r->target)
        return;
    s_unit_t *u = s_pick_unit(r, c, k);
    if (!u)
        return; /* all its units broke: it stops */
    r->started++;
    c->unit = u;
    c->started_ms = now;
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    bench_fill_call(&cc, (uint64_t)r->started);
    cc.type = "mental_health";
    cc.priority = 4; /* not auto-dispatched: the console picks the unit */
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    env.create_call = &cc;
    if (s_console_send(c, &env, ST_CREATE, now) != 0)
        r->errors++, r->done++, c->step = -1;
}

static void s_console_fail(s_run_t *r, s_console_t *c, const char *why)
{
    fprintf(stderr, "bench lifecycle: call %s (%s): %s\n", c->call_id, s_step_names[c->step], why);
    r->errors++;
    r->done++;
    if (c->unit && c->step >= ST_DISPATCH)
        c->unit->broken = true; /* it may be left on the call: do not use it again */
    c->step = -1;
}

static void s_console_reply(s_run_t *r, s_console_t *c, Codispatch__V1__Envelope *rep, double now)
{
    if (c->step < 0 || !rep->request_id || strcmp(rep->request_id, c->rid) != 0)
        return; /* the late reply of a request given up on */
    if (rep->body_case != CODISPATCH__V1__ENVELOPE__BODY_CALL) {
        s_console_fail(r, c,
                       rep->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR && rep->error->message
                           ? rep->error->message
                           : "unexpected reply");
        return;
    }
    bench_lat_add(&r->lat[c->step], now - c->sent_ms);
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    if (c->step == ST_CREATE) {
        snprintf(c->call_id, sizeof c->call_id, "%s", rep->call->call_id ? rep->call->call_id : "");
        s_unit_t *u = c->unit;
        snprintf(u->call_id, sizeof u->call_id, "%s", c->call_id);
        u->done = u->failed = false;
        u->step = ST_PUSH;
        Codispatch__V1__Dispatch d = CODISPATCH__V1__DISPATCH__INIT;
        char *ids[1] = {u->id};
        d.call_id = c->call_id;
        d.unit_ids = ids;
        d.n_unit_ids = 1;
        env.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
        env.dispatch = &d;
        u->dispatched_ms = now;
        if (s_console_send(c, &env, ST_DISPATCH, now) != 0)
            s_console_fail(r, c, "cannot send");
    } else if (c->step == ST_DISPATCH) {
        c->step = ST_PUSH; /* now the tablet works; s_console_poll_unit watches it */
        c->sent_ms = now;
    } else if (c->step == ST_CLOSE) {
        bench_lat_add(&r->total, now - c->started_ms);
        r->done++;
        c->step = -1;
    }
}

static void s_console_poll_unit(s_run_t *r, s_console_t *c, double now)
{
    s_unit_t *u = c->unit;
    if (u->failed) {
        s_console_fail(r, c, "the tablet's step failed");
        return;
    }
    if (!u->done) {
        if (now - c->sent_ms > 6.0 * r->timeout_ms) {
            u->step = -1;
            s_console_fail(r, c, "the tablet's steps took too long");
        }
        return;
    }
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CloseCall cl = CODISPATCH__V1__CLOSE_CALL__INIT;
    cl.call_id = c->call_id;
    cl.disposition = "resolved_on_scene";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CLOSE_CALL;
    env.close_call = &cl;
    if (s_console_send(c, &env, ST_CLOSE, now) != 0)
        s_console_fail(r, c, "cannot send");
}

/* ------------------------------------------------------------------ setup */

static int s_add_units(const cli_t *cli, s_run_t *r, const char *tag)
{
    cdc_control_t *ctl = cdc_control_new(cli->server);
    if (!ctl)
        return CLI_USAGE;
    int rc = CLI_OK;
    for (long i = 0; i < r->nunits && rc == CLI_OK; i++) {
        s_unit_t *u = &r->units[i];
        snprintf(u->id, sizeof u->id, "BL-%.6s-%03ld", tag, i);
        Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT, *rep = NULL;
        Codispatch__V1__AddUnit au = CODISPATCH__V1__ADD_UNIT__INIT;
        au.unit_id = u->id;
        au.type = "mh_team";
        au.area = "SPA 4";
        au.has_lat = au.has_lon = au.has_status = true;
        au.lat = 34.0 + (double)(i % 50) * 0.002;
        au.lon = -118.3 + (double)(i / 50) * 0.002;
        au.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
        env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
        env.add_unit = &au;
        if (cdc_control_call(ctl, &env, cli->timeout_ms, &rep) != 0) {
            fprintf(stderr, "codispatch: cannot reach the server at %s\n", cli->server);
            rc = CLI_UNREACHABLE;
        } else if (rep->body_case != CODISPATCH__V1__ENVELOPE__BODY_UNIT) {
            fprintf(stderr, "codispatch: adding unit %s was refused: %s\n", u->id,
                    rep->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR ? rep->error->message
                                                                           : "unexpected reply");
            rc = CLI_REFUSED;
        }
        if (rep)
            cdc_envelope_free(rep);
    }
    cdc_control_destroy(&ctl);
    return rc;
}

/* Every tablet does its work; returns how long the loop may sleep (cdc_tablet_process says 0
 * when a reply is already waiting behind a consumed ZMQ_FD edge). */
static int s_process_tablets(s_run_t *r, double now, int most)
{
    int wait = most;
    for (long i = 0; i < r->nunits; i++) {
        int w = cdc_tablet_process(r->units[i].tablet, (int64_t)now);
        if (w >= 0 && w < wait)
            wait = w;
    }
    return wait;
}

int bench_lifecycle(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("units"), CLI_OPT("calls"), CLI_OPT("clients"),
                     CLI_OPT("units-endpoint")};
    size_t npos = 0;
    long nunits, ncalls, nclients;
    int rc = cli_parse(argc, argv, o, CLI_N(o), NULL, 0, &npos, USAGE);
    if (rc != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "units", 20, 1, 999, &nunits, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "calls", 200, 1, 10000000, &ncalls, USAGE)) != CLI_OK ||
        (rc = bench_long_opt(o, CLI_N(o), "clients", 4, 1, 999, &nclients, USAGE)) != CLI_OK)
        return rc;
    if (nclients > nunits)
        return cli_usage_error(USAGE,
                               "--clients (%ld) must not exceed --units (%ld): each "
                               "console works its own units",
                               nclients, nunits);
    char units_ep[256] = "";
    if (cli_val(o, CLI_N(o), "units-endpoint"))
        snprintf(units_ep, sizeof units_ep, "%s", cli_val(o, CLI_N(o), "units-endpoint"));
    if ((rc = bench_endpoints(cli, units_ep, NULL, NULL, sizeof units_ep)) != CLI_OK)
        return rc;
    bench_raise_nofile();

    s_run_t r = {.nunits = nunits, .nconsoles = nclients, .target = ncalls};
    r.timeout_ms = cli->timeout_ms;
    r.units = calloc((size_t)nunits, sizeof *r.units);
    r.consoles = calloc((size_t)nclients, sizeof *r.consoles);
    char tag[33];
    cdc_request_id(tag);
    tag[6] = '\0';
    fprintf(stderr, "bench lifecycle: adding %ld units (BL-%s-...)\n", nunits, tag);
    void *ctx = bench_zmq_ctx((int)(nclients + 64));
    zmq_pollitem_t *items = calloc((size_t)(nclients + nunits), sizeof *items);
    if ((rc = s_add_units(cli, &r, tag)) != CLI_OK)
        goto done;
    for (long i = 0; i < nunits; i++) {
        s_unit_t *u = &r.units[i];
        u->run = &r;
        u->step = -1;
        cdc_tablet_callbacks_t cb = {s_on_assignment, s_on_result, NULL, u};
        if (!(u->tablet = cdc_tablet_new(units_ep, u->id, 0, &cb))) {
            fprintf(stderr, "codispatch: cannot connect a tablet to %s\n", units_ep);
            rc = CLI_USAGE;
            goto done;
        }
        items[nclients + i] =
            (zmq_pollitem_t){.fd = cdc_tablet_fd(u->tablet), .events = ZMQ_POLLIN};
    }
    for (long k = 0; k < nclients; k++) {
        if (!(r.consoles[k].sock = bench_dealer(ctx, cli->server))) {
            rc = CLI_USAGE;
            goto done;
        }
        r.consoles[k].step = -1;
        items[k] = (zmq_pollitem_t){.socket = r.consoles[k].sock, .events = ZMQ_POLLIN};
    }
    /* Every tablet welcomed before the clock starts. */
    double t0 = bench_mono_ms();
    for (;;) {
        int wait = s_process_tablets(&r, bench_mono_ms(), 10);
        long welcomed = 0;
        for (long i = 0; i < nunits; i++)
            welcomed += cdc_tablet_welcomed(r.units[i].tablet);
        if (welcomed == nunits)
            break;
        if (bench_mono_ms() - t0 > 10000 + cli->timeout_ms) {
            fprintf(stderr, "codispatch: only %ld of %ld tablets were welcomed by %s\n", welcomed,
                    nunits, units_ep);
            rc = CLI_UNREACHABLE;
            goto done;
        }
        zmq_poll(items + nclients, (int)nunits, wait);
    }

    double start = bench_mono_ms(), last_progress = start;
    for (long k = 0; k < nclients; k++)
        s_console_start(&r, &r.consoles[k], k, start);
    int wait = 0;
    for (;;) {
        bool busy = false;
        for (long k = 0; k < nclients; k++)
            busy |= r.consoles[k].step >= 0;
        if (!busy)
            break;
        zmq_poll(items, (int)(nclients + nunits), wait);
        double now = bench_mono_ms();
        wait = s_process_tablets(&r, now, 5);
        for (long k = 0; k < nclients; k++) {
            s_console_t *c = &r.consoles[k];
            if (items[k].revents & ZMQ_POLLIN) {
                Codispatch__V1__Envelope *rep;
                while ((rep = bench_recv(c->sock))) {
                    s_console_reply(&r, c, rep, now);
                    cdc_envelope_free(rep);
                }
            }
            if (c->step == ST_PUSH)
                s_console_poll_unit(&r, c, now);
            else if (c->step >= 0 && now - c->sent_ms > cli->timeout_ms)
                s_console_fail(&r, c, "no reply in time");
            if (c->step < 0)
                s_console_start(&r, c, k, now);
        }
        if (now - last_progress >= 1000) {
            last_progress = now;
            fprintf(stderr, "bench lifecycle: %ld/%ld calls, %.1f/s, %ld errors\n", r.done, ncalls,
                    (double)r.done * 1000.0 / (now - start), r.errors);
        }
    }
    double seconds = (bench_mono_ms() - start) / 1000.0;

    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "units", (double)nunits);
    cJSON_AddNumberToObject(out, "clients", (double)nclients);
    cJSON_AddNumberToObject(out, "calls", (double)(r.done - r.errors));
    cJSON_AddNumberToObject(out, "seconds", seconds);
    cJSON_AddNumberToObject(out, "calls_per_s",
                            seconds > 0 ? (double)(r.done - r.errors) / seconds : 0);
    cJSON_AddNumberToObject(out, "total_p50_ms", bench_lat_quantile(&r.total, 0.5));
    cJSON_AddNumberToObject(out, "total_p99_ms", bench_lat_quantile(&r.total, 0.99));
    cJSON *steps = cJSON_AddObjectToObject(out, "steps");
    for (int s = 0; s < ST_N; s++) {
        cJSON *st = cJSON_AddObjectToObject(steps, s_step_names[s]);
        cJSON_AddNumberToObject(st, "p50_ms", bench_lat_quantile(&r.lat[s], 0.5));
        cJSON_AddNumberToObject(st, "p99_ms", bench_lat_quantile(&r.lat[s], 0.99));
    }
    cJSON_AddNumberToObject(out, "errors", (double)r.errors);
    cli_print_json(out);
    rc = r.errors ? CLI_REFUSED : CLI_OK;
done:
    for (int s = 0; s < ST_N; s++)
        bench_lat_free(&r.lat[s]);
    bench_lat_free(&r.total);
    for (long i = 0; i < nunits; i++)
        cdc_tablet_destroy(&r.units[i].tablet);
    for (long k = 0; k < nclients; k++)
        if (r.consoles[k].sock)
            zmq_close(r.consoles[k].sock);
    free(items);
    free(r.units);
    free(r.consoles);
    zmq_ctx_term(ctx);
    return rc;
}
