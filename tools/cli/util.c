/*  util.c — option parsing, local checks, talking to the server, formatting. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cd_text.h"
#include "cli.h"

int cli_run_subcommand(const cli_t *cli, int argc, char **argv, const char *noun, const char *what,
                       const cli_subcommand_t *subs, size_t n, const char *usage)
{
    for (size_t i = 0; argc >= 1 && i < n; i++)
        if (strcmp(argv[0], subs[i].name) == 0)
            return subs[i].fn(cli, argc - 1, argv + 1);
    char names[256] = "";
    for (size_t i = 0, used = 0; i < n && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "",
                                 subs[i].name);
    if (argc < 1)
        return cli_usage_error(usage, "%s needs a %s: %s", noun, what, names);
    return cli_usage_error(usage, "unknown %s %s '%s' (%s)", noun, what, argv[0], names);
}

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

const char *cli_val(const cli_opt_t *opts, size_t nopts, const char *name)
{
    const cli_opt_t *o = cli_opt(opts, nopts, name);
    return o && o->set ? o->value : NULL;
}

bool cli_flag(const cli_opt_t *opts, size_t nopts, const char *name)
{
    const cli_opt_t *o = cli_opt(opts, nopts, name);
    return o && o->set;
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

bool cli_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return *s && !*end && errno == 0 && isfinite(*out);
}

bool cli_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return *s && !*end && errno == 0;
}

int cli_check_request_id(const char *rid, const char *usage)
{
    if (rid && (strlen(rid) < 1 || strlen(rid) > CD_REQUEST_ID_MAX ||
                !cd_text_is_token(rid, CD_REQUEST_ID_MAX)))
        return cli_usage_error(usage,
                               "--request-id must be 1 to %d printable ASCII characters without "
                               "spaces",
                               CD_REQUEST_ID_MAX);
    return 0;
}

int cli_check_position(const char *lat, const char *lon, bool *has, double *la, double *lo,
                       const char *usage)
{
    *has = false;
    if (!lat && !lon)
        return 0;
    if (!lat || !lon)
        return cli_usage_error(usage, "--lat and --lon go together: give both or neither");
    if (!cli_parse_double(lat, la) || *la < -90 || *la > 90)
        return cli_usage_error(usage, "--lat must be a number of degrees from -90 to 90; got '%s'",
                               lat);
    if (!cli_parse_double(lon, lo) || *lo < -180 || *lo > 180)
        return cli_usage_error(usage,
                               "--lon must be a number of degrees from -180 to 180; got '%s'", lon);
    *has = true;
    return 0;
}

int cli_check_text(const char *flag, const char *s, size_t max, bool allow_newline,
                   const char *usage)
{
    if (s && strlen(s) > max)
        return cli_usage_error(usage, "--%s is too long: at most %zu bytes", flag, max);
    if (s && !cd_text_is_clean(s, allow_newline))
        return cli_usage_error(usage, "--%s must be UTF-8 text without control characters", flag);
    return 0;
}

bool cli_is_type(const char *s)
{
    return cd_text_is_ident(s, CD_TYPE_MAX);
}

void cli_list_free(cli_list_t *l)
{
    free(l->items);
    free(l->buf);
    *l = (cli_list_t){0};
}

static char *s_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

int cli_parse_list(const char *flag, const char *text, size_t max, bool (*valid)(const char *),
                   const char *what, cli_list_t *out, const char *usage)
{
    *out = (cli_list_t){0};
    out->buf = cd_strdup(text);
    if (!*s_trim(out->buf))
        return 0; /* "": the empty list */
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    out->items = cd_xcalloc(cap, sizeof *out->items);
    for (char *p = out->buf, *comma;; p = comma + 1) {
        comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        char *item = s_trim(p);
        if (!*item || !valid(item)) {
            int rc =
                cli_usage_error(usage, "--%s must be a comma-separated list of %s; '%s' is not one",
                                flag, what, item);
            cli_list_free(out);
            return rc;
        }
        out->items[out->n++] = item;
        if (!comma)
            break;
    }
    if (out->n > max) {
        cli_list_free(out);
        return cli_usage_error(usage, "--%s takes at most %zu items", flag, max);
    }
    return 0;
}

int cli_parse_per_priority(const char *flag, const char *text, uint32_t out[4], const char *usage)
{
    size_t n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 86400 * 7 || n == 4 || (*end && *end != ','))
            return cli_usage_error(usage,
                                   "--%s must be a number of seconds above 0, or four of them "
                                   "for priorities 1 to 4 (e.g. 30,60,90,120); got '%s'",
                                   flag, text);
        out[n++] = (uint32_t)v;
        if (!*end)
            break;
        p = end + 1;
    }
    if (n != 1 && n != 4)
        return cli_usage_error(usage,
                               "--%s takes one number of seconds or four (priorities 1 to 4); "
                               "got %zu numbers",
                               flag, n);
    for (; n < 4; n++)
        out[n] = out[0];
    return 0;
}

const cdc_keys_t *cli_keys(const cli_t *cli)
{
    return cli->have_keys ? &cli->keys : NULL;
}

/* long_running: resend only after the whole timeout (a report may take longer than the
 * library's 1 s resend interval, and a resend would run it twice). */
static int s_request(const cli_t *cli, Codispatch__V1__Envelope *req,
                     Codispatch__V1__Envelope **reply, bool long_running)
{
    cdc_control_t *ctl = cdc_control_new_secure(cli->server, cli_keys(cli));
    if (!ctl) {
        fprintf(stderr, "codispatch: '%s' is not a valid ZeroMQ endpoint\n", cli->server);
        return CLI_USAGE;
    }
    if (long_running)
        cdc_control_set_resend_interval(ctl, cli->timeout_ms);
    int rc = cdc_control_call(ctl, req, cli->timeout_ms, reply);
    cdc_control_destroy(&ctl);
    if (rc == CDC_ETIMEOUT) {
        fprintf(stderr, "codispatch: cannot reach the server at %s (no answer within %d ms%s)%s\n",
                cli->server, cli->timeout_ms,
                long_running ? "; a report over a long range may need a larger --timeout" : "",
                cli->have_keys ? "; if it is up, it may not accept this key (unknown or revoked)"
                               : "; if it is up with security on, give --key FILE");
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

int cli_request(const cli_t *cli, Codispatch__V1__Envelope *req, Codispatch__V1__Envelope **reply)
{
    return s_request(cli, req, reply, false);
}

int cli_request_long(const cli_t *cli, Codispatch__V1__Envelope *req,
                     Codispatch__V1__Envelope **reply)
{
    return s_request(cli, req, reply, true);
}

int cli_request_expect(const cli_t *cli, Codispatch__V1__Envelope *req,
                       Codispatch__V1__Envelope__BodyCase body, Codispatch__V1__Envelope **reply)
{
    int rc = cli_request(cli, req, reply);
    if (rc != CLI_OK)
        return rc;
    if ((*reply)->body_case != body) {
        fprintf(stderr, "codispatch: unexpected reply from the server\n");
        cdc_envelope_free(*reply);
        *reply = NULL;
        return CLI_UNREACHABLE;
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

void cli_format_clock(long long ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(out, cap, "%H:%M:%S", &tm);
}

long long cli_age_s(long long now_ms, long long then_ms)
{
    if (then_ms >= now_ms)
        return 0;
    /* then < now: the difference fits in an unsigned 64-bit number. */
    unsigned long long d = (unsigned long long)now_ms - (unsigned long long)then_ms;
    return (long long)(d / 1000);
}

void cli_format_duration(long long s, char *out, size_t cap)
{
    if (s < 0)
        s = 0;
    if (s < 3600)
        snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, cap, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(out, cap, "%lldd", s / 86400);
}

void cli_join(char *const *items, size_t n, const char *sep, char *out, size_t cap)
{
    size_t len = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? sep : "", items[i]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

void cli_print_json(cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    printf("%s\n", text);
    free(text);
    cJSON_Delete(obj);
}
