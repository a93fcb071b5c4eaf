#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_usage_error(const char *usage, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("codispatch: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (usage)
        fprintf(stderr, "usage: %s\n", usage);
    return CLI_USAGE;
}

const cli_opt_t *cli_opt(const cli_opt_t *opts, size_t nopts, const char *name)
{
    for (size_t i = 0; i < nopts; i++)
        if (strcmp(opts[i].name, name) == 0)
            return &opts[i];
    return NULL;
}

int cli_parse(int argc, char **argv, cli_opt_t *opts, size_t nopts, char **pos, size_t maxpos,
              size_t *npos, const char *usage)
{
    *npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || strcmp(a, "--") == 0) {
            if (*npos == maxpos)
                return cli_usage_error(usage, "unexpected argument '%s'", a);
            pos[(*npos)++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt_t *o = NULL;
        for (size_t k = 0; k < nopts && !o; k++)
            if (strlen(opts[k].name) == n && strncmp(opts[k].name, name, n) == 0)
                o = &opts[k];
        if (!o)
            return cli_usage_error(usage, "unknown option '%s'", a);
        if (o->takes_value) {
            if (eq)
                o->value = eq + 1;
            else if (i + 1 < argc)
                o->value = argv[++i];
            else
                return cli_usage_error(usage, "--%s needs a value", o->name);
        } else if (eq) {
            return cli_usage_error(usage, "--%s takes no value", o->name);
        }
        o->set = true;
    }
    return 0;
}

int cli_request(const cli_t *cli, Codispatch__V1__Envelope *req, Codispatch__V1__Envelope **reply)
{
    cdc_control_t *ctl = cdc_control_new(cli->server);
    if (!ctl) {
        fprintf(stderr, "codispatch: '%s' is not a valid ZeroMQ endpoint\n", cli->server);
        return CLI_USAGE;
    }
    int rc = cdc_control_call(ctl, req, cli->timeout_ms, reply);
    cdc_control_destroy(&ctl);
    if (rc == CDC_ETIMEOUT) {
        fprintf(stderr, "codispatch: cannot reach the server at %s (no answer within %d ms)\n",
                cli->server, cli->timeout_ms);
        return CLI_UNREACHABLE;
    }
    if (rc != CDC_OK) {
        fprintf(stderr, "codispatch: talking to %s failed (%s)\n", cli->server,
                rc == CDC_EPROTO ? "the reply was not a codispatch message" : "system error");
        return CLI_UNREACHABLE;
    }
    if ((*reply)->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR) {
        const Codispatch__V1__Error *e = (*reply)->error;
        if (cli->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "error", cdc_code_name(e->code));
            cJSON_AddStringToObject(o, "message", e->message ? e->message : "");
            if (e->field)
                cJSON_AddStringToObject(o, "field", e->field);
            char *text = cJSON_PrintUnformatted(o);
            fprintf(stderr, "%s\n", text);
            free(text);
            cJSON_Delete(o);
        } else {
            fprintf(stderr, "codispatch: %s: %s\n", cdc_code_name(e->code),
                    e->message ? e->message : "(no message)");
        }
        cdc_envelope_free(*reply);
        *reply = NULL;
        return CLI_REFUSED;
    }
    return CLI_OK;
}

long long cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_format_time(long long ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%d %H:%M:%S %Z", &tm);
}

void cli_print_json(cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(obj);
}
