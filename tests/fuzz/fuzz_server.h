/*  fuzz_server.h — what the fuzz targets of the server's request path share: a clock, an
 *  engine seeded with a small roster, a plan, a call and an offer, and one request run the
 *  way control.c and units.c run it (control_exec.c is compiled into the targets).
 *  Header-only: each target is one program. */
#ifndef FUZZ_SERVER_H
#define FUZZ_SERVER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_priv.h"

static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */

/* control_exec.c reads the clock through this; a clock the fuzzer moves (fuzz_session) or
 * a fixed one keeps runs reproducible. */
static int64_t fz_now = T0 + 60000;
int64_t server_now_ms(void)
{
    return fz_now;
}
int64_t server_now_us(void)
{
    return fz_now * 1000;
}

static void fz_check_error(const cd_error_t *err)
{
    if (!err->message[0]) {
        fprintf(stderr, "refusal without a sentence (code %d, field '%s')\n", err->code,
                err->field);
        abort();
    }
    if (err->code == CD_EINVAL && !err->field[0]) {
        fprintf(stderr, "INVALID_ARGUMENT without a field: %s\n", err->message);
        abort();
    }
}

/* FUZZ_REPLY_DIR=dir saves every reply and stream change, with the leading byte
 * fuzz_cli_reply reads (0: a reply; 1 and 3: a stream change, text and JSON): its seeds. */
static void fz_save(uint8_t kind, const uint8_t *buf, size_t len)
{
    static int saved;
    const char *dir = getenv("FUZZ_REPLY_DIR");
    if (!dir)
        return;
    char path[512];
    snprintf(path, sizeof path, "%s/server-%03d", dir, saved++);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputc(kind, f);
        fwrite(buf, 1, len, f);
        fclose(f);
    }
}

static void fz_check_packed(uint8_t *buf, size_t len)
{
    fz_save(0, buf, len);
    Codispatch__V1__Envelope *back = codispatch__v1__envelope__unpack(NULL, len, buf);
    if (!back) {
        fprintf(stderr, "a reply we packed (%zu bytes) does not decode\n", len);
        abort();
    }
    codispatch__v1__envelope__free_unpacked(back, NULL);
    free(buf);
}

static void fz_must(int rc, const cd_error_t *err, const char *what)
{
    if (rc != CD_OK) {
        fprintf(stderr, "fuzz_envelope seed: %s: %s\n", what, err->message);
        abort();
    }
}

/* Roster: MH-1 (offered C-000001), VAN-1 and SOB-1 available; plans for mental_health and
 * flag:weapon. */
static void fz_reference(cd_engine_t *e)
{
    static const char *call_types[] = {"mental_health", "substance", "welfare_check", "other"};
    static const char *unit_types[] = {"mh_team", "therapeutic_van", "apru",
                                       "sober",   "patrol",          "smart"};
    for (size_t i = 0; i < sizeof call_types / sizeof *call_types; i++)
        cd_engine_add_call_type(e, call_types[i]);
    for (size_t i = 0; i < sizeof unit_types / sizeof *unit_types; i++)
        cd_engine_add_unit_type(e, unit_types[i]);
}

/* The seed's events go to *keep (for a replay) or are dropped (keep NULL). */
static cd_engine_t *fz_seed(cd_event_log_t *keep)
{
    cd_engine_t *e = cd_engine_new();
    fz_reference(e);
    cd_ctx_t ctx = {.now_ms = T0, .actor = "console", .request_id = NULL};
    cd_error_t err;
    cd_plan_t plan;
    const cd_plan_t *out;
    cd_plan_init(&plan, "mental_health", CD_PLAN_BASE);
    fz_must(cd_plan_parse_groups(&plan, "mh_team,therapeutic_van>apru", &err), &err, "plan");
    fz_must(cd_engine_set_plan(e, &ctx, &plan, &out, &err), &err, "set plan");
    cd_plan_init(&plan, "flag:weapon", CD_PLAN_REPLACE);
    fz_must(cd_plan_parse_groups(&plan, "smart;patrol", &err), &err, "flag plan");
    fz_must(cd_engine_set_plan(e, &ctx, &plan, &out, &err), &err, "set flag plan");
    const char *langs[] = {"es", "en"};
    struct {
        const char *id, *type;
        double lat;
    } units[] = {
        {"MH-1", "mh_team", 34.05}, {"VAN-1", "therapeutic_van", 34.06}, {"SOB-1", "sober", 34.07}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        cd_unit_input_t in = {.id = units[i].id,
                              .type = units[i].type,
                              .set_languages = true,
                              .languages = langs,
                              .n_languages = 2,
                              .has_lat = true,
                              .has_lon = true,
                              .lat = units[i].lat,
                              .lon = -118.25,
                              .status = CD_UNIT_AVAILABLE};
        const cd_unit_t *u;
        fz_must(cd_engine_add_unit(e, &ctx, &in, &u, &err), &err, units[i].id);
    }
    cd_call_input_t call = {.type = "mental_health",
                            .has_priority = true,
                            .priority = 3,
                            .has_lat = true,
                            .has_lon = true,
                            .lat = 34.05,
                            .lon = -118.24,
                            .language = "es",
                            .summary = "seed"};
    const cd_call_t *c;
    fz_must(cd_engine_create_call(e, &ctx, &call, &c, &err), &err, "call");
    const char *to[] = {"MH-1"};
    fz_must(cd_engine_dispatch(e, &ctx, c->id, to, 1, &c, &err), &err, "dispatch");
    cd_event_log_t log = {0};
    cd_engine_take_events(e, keep ? keep : &log);
    cd_event_log_release(&log);
    return e;
}

/* Runs one decoded request the way the control and units sockets do (unit: the tablet's
 * bound unit for tablet bodies).  Returns the result; *buf is the packed reply or NULL. */
static int fz_execute(server_t *server, const wire_env_t *env, const char *unit, uint8_t **buf,
                      size_t *len, cd_error_t *err)
{
    char actor[CD_ACTOR_MAX + 1];
    snprintf(actor, sizeof actor, "unit:%s", unit);
    cd_ctx_t ctx = {.now_ms = server_now_ms(), .actor = "console", .request_id = env->request_id};
    *buf = NULL;
    if (wire_is_tablet_body(env)) {
        if (env->body_case == CODISPATCH__V1__ENVELOPE__BODY_HELLO) {
            /* units.c reads only these two. */
            (void)(env->hello->unit_id ? cd_engine_find_unit(server->engine, env->hello->unit_id)
                                       : NULL);
            return CD_OK;
        }
        ctx.actor = actor;
        return control_execute(server, env, &ctx, unit, buf, len, err);
    }
    if (control_is_query(env))
        return control_query(server, env, env->request_id, buf, len, err);
    if (env->body_case == CODISPATCH__V1__ENVELOPE__BODY_STATUS ||
        env->body_case == CODISPATCH__V1__ENVELOPE__BODY_GET_CALL ||
        env->body_case == CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS)
        return CD_OK; /* answered in control.c from the store; fields checked there */
    return control_execute(server, env, &ctx, NULL, buf, len, err);
}

/* What the store would write and the stream would publish for the events in log. */
static void fz_render(server_t *server, const cd_event_log_t *log)
{
    size_t len;
    for (size_t i = 0; i < log->len; i++) {
        uint8_t *change = wire_pack_change(&log->items[i], server->engine, server_now_ms(), &len);
        if (change) {
            fz_save(i % 2 ? 1 : 3, change, len);
            /* Stamped as at a commit, in the room left behind it (ASan sees an overrun). */
            int64_t stamp = server_now_us();
            len = wire_stamp_change(change, len, stamp);
            Codispatch__V1__StreamChange *back =
                codispatch__v1__stream_change__unpack(NULL, len, change);
            if (!back || !back->has_committed_us || back->committed_us != stamp) {
                fprintf(stderr, "a stream change we packed and stamped does not decode\n");
                abort();
            }
            codispatch__v1__stream_change__free_unpacked(back, NULL);
            free(change);
        }
        char *json = wire_json_change(&log->items[i], server->engine, server_now_ms());
        if (json)
            free(wire_json_stamp(json, server_now_us()));
        free(json);
    }
}

#endif
