#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"

#ifdef CODISPATCH_MIMALLOC
#include <mimalloc.h>
#endif

typedef enum { OPT_STR, OPT_LONG, OPT_BOOL, OPT_FLAG } opt_kind_t; /* FLAG: bare --name */

typedef struct opt {
    const char *name; /* flag without "--"; the variable is CODISPATCH_ + upper(name) */
    opt_kind_t kind;
    size_t offset;
    const char *def; /* NULL: unset by default */
    const char *help;
} opt_t;

static const opt_t s_opts[] = {
    {"data-dir", OPT_STR, offsetof(config_t, data_dir), "./var",
     "directory for the embedded database and local state"},
    {"db", OPT_STR, offsetof(config_t, db), NULL,
     "PostgreSQL conninfo or URI (libpq's PG* variables and .pgpass apply); without it an "
     "embedded cluster runs in DATA_DIR/pg"},
    {"control", OPT_STR, offsetof(config_t, control), "tcp://127.0.0.1:7401",
     "ZeroMQ endpoint for dispatcher consoles and the codispatch tool (ROUTER)"},
    {"units", OPT_STR, offsetof(config_t, units), "tcp://127.0.0.1:7402",
     "ZeroMQ endpoint for unit tablets (ROUTER)"},
    {"stream", OPT_STR, offsetof(config_t, stream), "tcp://127.0.0.1:7403",
     "ZeroMQ endpoint for the live status stream (XPUB)"},
    {"http", OPT_STR, offsetof(config_t, http), "127.0.0.1:7480",
     "HOST:PORT for the dashboard, metrics and health checks"},
    {"max-ws", OPT_LONG, offsetof(config_t, max_ws), "1000",
     "most dashboards (WebSocket clients of /ws) at once; past it a new one is refused"},
    {"request-retention-hours", OPT_LONG, offsetof(config_t, request_retention_h), "72",
     "how long a reply is kept for clients that retry with the same request_id"},
    {"max-batch", OPT_LONG, offsetof(config_t, max_batch), "10000",
     "commands that may wait for the next commit; past it new commands get BUSY"},
    {"speed-kmh", OPT_LONG, offsetof(config_t, speed_kmh), "40",
     "assumed urban driving speed for ETAs (km/h, over great-circle distance)"},
    {"language-bonus-min", OPT_LONG, offsetof(config_t, language_bonus_min), "10",
     "a unit speaking the caller's language ranks as if this many minutes closer"},
    {"heartbeat-ms", OPT_LONG, offsetof(config_t, heartbeat_ms), "2000",
     "ZMTP heartbeat interval on the units socket; a tablet silent for 3 intervals is lost"},
    {"unreachable-after-s", OPT_LONG, offsetof(config_t, unreachable_after_s), "120",
     "a unit whose tablet was lost this long ago is shown unreachable and not recommended"},
    {"demo-roster", OPT_BOOL, offsetof(config_t, demo_roster), "no",
     "yes: when the roster is empty at start, add 16 demo units around Los Angeles "
     "(tools/run.sh turns this on)"},
    {"max-missed-acks", OPT_LONG, offsetof(config_t, max_missed_acks), "3",
     "consecutive unacknowledged offers after which a unit is put out_of_service"},
    {"security", OPT_STR, offsetof(config_t, security), "auto",
     "auto | on | off: CURVE keys and roles on the ZeroMQ sockets and a token on HTTP; auto "
     "turns them on when any endpoint binds to something other than loopback"},
    {"insecure", OPT_FLAG, offsetof(config_t, insecure), "no",
     "allow binding to a non-loopback address without security (never in production)"},
    {"server-key", OPT_STR, offsetof(config_t, server_key), NULL,
     "the server's secret key file (default DATA_DIR/keys/server.key_secret, made by "
     "`codispatch keys init`)"},
    {"http-token", OPT_STR, offsetof(config_t, http_token), NULL,
     "file holding the token the dashboard, /api, /ws and /metrics require when security is "
     "on (default DATA_DIR/keys/http.token)"},
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

static void s_env_name(const char *name, char *out, size_t cap)
{
    size_t i = snprintf(out, cap, "CODISPATCH_");
    for (; *name && i + 1 < cap; name++)
        out[i++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
    out[i] = '\0';
}

static int s_set(config_t *cfg, const opt_t *o, const char *value, char *err, size_t errlen)
{
    void *slot = (char *)cfg + o->offset;
    if (o->kind == OPT_STR) {
        free(*(char **)slot);
        *(char **)slot = value ? cd_strdup(value) : NULL;
        return 0;
    }
    if (o->kind == OPT_BOOL || o->kind == OPT_FLAG) {
        bool yes =
            strcmp(value, "yes") == 0 || strcmp(value, "1") == 0 || strcmp(value, "true") == 0;
        bool no =
            strcmp(value, "no") == 0 || strcmp(value, "0") == 0 || strcmp(value, "false") == 0;
        if (!yes && !no) {
            snprintf(err, errlen, "--%s must be yes or no; got '%s'", o->name, value);
            return -1;
        }
        *(bool *)slot = yes;
        return 0;
    }
    char *end;
    long v = strtol(value, &end, 10);
    if (!*value || *end || v <= 0) {
        snprintf(err, errlen, "--%s must be a positive whole number; got '%s'", o->name, value);
        return -1;
    }
    *(long *)slot = v;
    return 0;
}

void config_usage(FILE *out)
{
    fprintf(out, "usage: codispatchd [options]\n\n"
                 "The codispatch dispatch server.  Every option can also be set in the\n"
                 "environment as CODISPATCH_<NAME> (e.g. CODISPATCH_DATA_DIR); flags win.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64];
        s_env_name(s_opts[i].name, env, sizeof env);
        fprintf(out, "  --%-24s %s\n  %-26s [%s; default %s]\n", s_opts[i].name, s_opts[i].help, "",
                env, s_opts[i].def ? s_opts[i].def : "none");
    }
    fprintf(out, "  --%-24s %s\n  --%-24s %s\n", "help", "show this help", "version",
            "show the version");
}

/* The version, and the allocator the server runs on (benchmarks record it). */
static void s_print_version(void)
{
#ifdef CODISPATCH_MIMALLOC
    int v = mi_version(); /* 209 is 2.0.9 */
    printf("codispatchd %s (allocator: mimalloc %d.%d.%d%s)\n", CODISPATCH_VERSION, v / 100,
           v % 100 / 10, v % 10,
           mi_option_is_enabled(mi_option_large_os_pages) ? ", large OS pages" : "");
#else
    printf("codispatchd %s (allocator: the default malloc)\n", CODISPATCH_VERSION);
#endif
}

int config_parse(config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_OPTS; i++) {
        char env[64];
        s_env_name(s_opts[i].name, env, sizeof env);
        const char *v = getenv(env);
        if (v && !*v)
            v = NULL;
        if (!v)
            v = s_opts[i].def;
        if (v && s_set(cfg, &s_opts[i], v, err, errlen) != 0)
            return -1;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            config_usage(stdout);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            s_print_version();
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const opt_t *o = NULL;
        for (size_t i = 0; i < N_OPTS && !o; i++)
            if (strlen(s_opts[i].name) == nlen && strncmp(s_opts[i].name, name, nlen) == 0)
                o = &s_opts[i];
        if (!o) {
            snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
            return -1;
        }
        const char *value = eq                    ? eq + 1
                            : o->kind == OPT_FLAG ? "yes"
                                                  : (a + 1 < argc ? argv[++a] : NULL);
        if (!value) {
            snprintf(err, errlen, "--%s needs a value", o->name);
            return -1;
        }
        if (s_set(cfg, o, value, err, errlen) != 0)
            return -1;
    }
    return 0;
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (s_opts[i].kind == OPT_STR) {
            char **slot = (char **)((char *)cfg + s_opts[i].offset);
            free(*slot);
            *slot = NULL;
        }
}
