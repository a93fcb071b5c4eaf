/*  fuzz_cli_reply.c — a reply as the `codispatch` tool receives it from a server (or from
 *  anything that answers on the control endpoint): protobuf-c's decoder, then the tool's
 *  printers of calls, call lists, units and unit lists, as text and as JSON.  The replies a
 *  tablet gets (Welcome with its unit) go through the unit printer too.  Output goes to
 *  /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

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
    Codispatch__V1__Envelope *env = codispatch__v1__envelope__unpack(NULL, size, data);
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
    default:
        break;
    }
    codispatch__v1__envelope__free_unpacked(env, NULL);
    return 0;
}
