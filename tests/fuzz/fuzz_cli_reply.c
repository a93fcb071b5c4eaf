/*  fuzz_cli_reply.c — what the `codispatch` tool receives from a server (or from anything
 *  that answers on its endpoints), through protobuf-c's decoder and the tool's printers, as
 *  text and as JSON; output goes to /dev/null.  The first byte picks what the rest is:
 *  even, a reply envelope (calls, call lists, units, unit lists, a tablet's Welcome, plans,
 *  a recommendation); odd, a stream change as `codispatch tail` receives it (bit 1: --json).
 *
 *  The printers of plans, recommendations and stream changes are file statics of their
 *  commands, so those files are compiled into this target (the library's copies of them are
 *  then not linked).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd_dispatch.c"
#include "cmd_plan.c"
#include "cmd_tail.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_call(const Codispatch__V1__Call *c)
{
    cli_print_call(c);
    cli_print_call_row(c, 1767225600000LL);
    cJSON_Delete(cli_call_json(c));
}

static void s_unit(const Codispatch__V1__Unit *u)
{
    cli_print_unit(u);
    cli_print_unit_row(u, 1767225600000LL);
    cJSON_Delete(cli_unit_json(u));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    if (!null) {
        null = freopen("/dev/null", "w", stdout);
        if (!null)
            abort();
    }
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        Codispatch__V1__StreamChange *c =
            codispatch__v1__stream_change__unpack(NULL, size - 1, data + 1);
        if (c) {
            cli_t cli = {.json = (data[0] & 2) != 0};
            s_print_change(&cli, "call.C-000001", 42, c);
            codispatch__v1__stream_change__free_unpacked(c, NULL);
        }
        return 0;
    }
    Codispatch__V1__Envelope *env = codispatch__v1__envelope__unpack(NULL, size - 1, data + 1);
    if (!env)
        return 0;
    switch (env->body_case) {
    case CODISPATCH__V1__ENVELOPE__BODY_CALL:
        s_call(env->call);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_CALL_LIST:
        for (size_t i = 0; i < env->call_list->n_calls; i++)
            s_call(env->call_list->calls[i]);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_UNIT:
        s_unit(env->unit);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_UNIT_LIST:
        for (size_t i = 0; i < env->unit_list->n_units; i++)
            s_unit(env->unit_list->units[i]);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_WELCOME:
        if (env->welcome->unit)
            s_unit(env->welcome->unit);
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_PLAN:
        s_print_plan(env->plan);
        cJSON_Delete(s_plan_json(env->plan));
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_PLAN_LIST:
        for (size_t i = 0; i < env->plan_list->n_plans; i++) {
            s_print_plan(env->plan_list->plans[i]);
            cJSON_Delete(s_plan_json(env->plan_list->plans[i]));
        }
        break;
    case CODISPATCH__V1__ENVELOPE__BODY_RECOMMENDATION:
        s_print_recommendation(env->recommendation);
        for (size_t i = 0; i < env->recommendation->n_candidates; i++)
            cJSON_Delete(s_candidate_json(env->recommendation->candidates[i]));
        break;
    default:
        break;
    }
    codispatch__v1__envelope__free_unpacked(env, NULL);
    return 0;
}
