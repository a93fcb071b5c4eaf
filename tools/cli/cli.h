/*  cli.h — shared parts of the codispatch command-line tool.
 *
 *  Exit codes: 0 success, 1 the server refused (message on stderr), 2 usage error,
 *  3 the server could not be reached.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <codispatch/codispatch.h>

#define CLI_OK          0
#define CLI_REFUSED     1
#define CLI_USAGE       2
#define CLI_UNREACHABLE 3

#define CLI_DEFAULT_SERVER "tcp://127.0.0.1:7401"

typedef struct cli {
    const char *server; /* control endpoint */
    bool json;
    int timeout_ms;
    const char *key_file;        /* --key / CODISPATCH_KEY: this client's secret key file */
    const char *server_key_file; /* --server-key / CODISPATCH_SERVER_KEY: server public key */
    bool have_keys;              /* keys loaded from key_file */
    cdc_keys_t keys;
} cli_t;

/* A subcommand option: --name [value]. */
typedef struct cli_opt {
    const char *name;
    bool takes_value;
    const char *value; /* set by cli_parse */
    bool set;
} cli_opt_t;

#define CLI_OPT(name)                                                                              \
    {                                                                                              \
        (name), true, NULL, false                                                                  \
    } /* --name VALUE */
#define CLI_FLAG(name)                                                                             \
    {                                                                                              \
        (name), false, NULL, false                                                                 \
    } /* --name */

#define CLI_N(a) (sizeof(a) / sizeof((a)[0]))

/* Parses argv[0..argc) into opts and positional arguments.  Returns 0 or CLI_USAGE (having
 * printed why). */
int cli_parse(int argc, char **argv, cli_opt_t *opts, size_t nopts, char **pos, size_t maxpos,
              size_t *npos, const char *usage);
const cli_opt_t *cli_opt(const cli_opt_t *opts, size_t nopts, const char *name);
/* The value of --name, or NULL when it was not given. */
const char *cli_val(const cli_opt_t *opts, size_t nopts, const char *name);
bool cli_flag(const cli_opt_t *opts, size_t nopts, const char *name);

/* A subcommand (`unit add`, `sim run`, ...) and the function that runs it. */
typedef int cli_cmd_fn(const cli_t *cli, int argc, char **argv);
typedef struct cli_subcommand {
    const char *name;
    cli_cmd_fn *fn;
} cli_subcommand_t;

/* Runs the subcommand argv[0] of `noun` with argv[1..]; a usage error naming the choices when
 * it is missing or unknown.  what: "subcommand" or "mode", for the sentence. */
int cli_run_subcommand(const cli_t *cli, int argc, char **argv, const char *noun, const char *what,
                       const cli_subcommand_t *subs, size_t n, const char *usage);

/* Prints a usage error and returns CLI_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Local checks, so a typo is caught before it travels.  Each returns 0, or CLI_USAGE having
 * printed a sentence that names the flag. */
bool cli_parse_double(const char *s, double *out); /* whole string: "12abc" is not 12 */
bool cli_parse_long(const char *s, long *out);
int cli_check_request_id(const char *rid, const char *usage);
/* --lat and --lon: both or neither, in range.  *has is false when neither was given. */
int cli_check_position(const char *lat, const char *lon, bool *has, double *la, double *lo,
                       const char *usage);
/* Free text of at most max bytes (NULL passes). */
int cli_check_text(const char *flag, const char *s, size_t max, bool allow_newline,
                   const char *usage);

/* A comma-separated list ("es, en"): items trimmed, "" is the empty list. */
typedef struct cli_list {
    char **items;
    size_t n;
    char *buf; /* owns the items' text */
} cli_list_t;

/* Splits text into *out (free with cli_list_free).  Every item must pass valid(); what names
 * one item for the error ("language tags such as es"). */
int cli_parse_list(const char *flag, const char *text, size_t max, bool (*valid)(const char *),
                   const char *what, cli_list_t *out, const char *usage);
void cli_list_free(cli_list_t *l);
bool cli_is_type(const char *s); /* a lower-case identifier (unit type, capability) */

/* Seconds per priority: "60" (all four the same) or "30,60,90,120". */
int cli_parse_per_priority(const char *flag, const char *text, uint32_t out[4], const char *usage);

/* Sends req to the server and waits.  On an Error reply prints it and returns CLI_REFUSED;
 * on no answer prints why and returns CLI_UNREACHABLE; else stores the reply in *reply. */
int cli_request(const cli_t *cli, Codispatch__V1__Envelope *req, Codispatch__V1__Envelope **reply);
/* As cli_request for a request that may run long (reports): resent only after --timeout. */
int cli_request_long(const cli_t *cli, Codispatch__V1__Envelope *req,
                     Codispatch__V1__Envelope **reply);
/* Sends req and checks that the reply carries body; else prints why (and frees it). */
int cli_request_expect(const cli_t *cli, Codispatch__V1__Envelope *req,
                       Codispatch__V1__Envelope__BodyCase body, Codispatch__V1__Envelope **reply);

/* Output */
cJSON *cli_call_json(const Codispatch__V1__Call *c);
cJSON *cli_assignment_json(const Codispatch__V1__Assignment *a);
cJSON *cli_unit_json(const Codispatch__V1__Unit *u);
void cli_json_add_strings(cJSON *obj, const char *key, char *const *items, size_t n);
void cli_json_add_uints(cJSON *obj, const char *key, const uint32_t *items, size_t n);
void cli_json_add_string_or_null(cJSON *obj, const char *key, const char *s);
void cli_print_json(cJSON *obj); /* prints one line and frees obj */
/* Prints a Call reply (its id only, or in full) and frees it. */
int cli_show_call(const cli_t *cli, Codispatch__V1__Envelope *reply, bool id_only);
void cli_print_call(const Codispatch__V1__Call *c);
void cli_print_call_row_header(void);
void cli_print_call_row(const Codispatch__V1__Call *c, long long now_ms);
void cli_print_unit(const Codispatch__V1__Unit *u);
void cli_print_unit_row_header(void);
void cli_print_unit_row(const Codispatch__V1__Unit *u, long long now_ms);
void cli_format_time(long long ms, char *out, size_t cap);    /* 2024-05-01 14:02:11 PDT */
void cli_format_clock(long long ms, char *out, size_t cap);   /* 14:02:11 */
void cli_format_duration(long long s, char *out, size_t cap); /* 4m10s, 2h05m, 3d */
/* Whole seconds from then_ms to now_ms, 0 if then is later; safe for any values a server
 * sends (no overflow). */
long long cli_age_s(long long now_ms, long long then_ms);
void cli_join(char *const *items, size_t n, const char *sep, char *out, size_t cap);
long long cli_now_ms(void);

/* Unit statuses as words: "available", "out_of_service"; 0 when the word is none. */
const char *cli_unit_status_name(Codispatch__V1__UnitStatus s);
Codispatch__V1__UnitStatus cli_unit_status_parse(const char *word);

/* Subcommands */
int cmd_status(const cli_t *cli, int argc, char **argv);
int cmd_call(const cli_t *cli, int argc, char **argv);
int cmd_unit(const cli_t *cli, int argc, char **argv);
int cmd_plan(const cli_t *cli, int argc, char **argv);
int cmd_recommend(const cli_t *cli, int argc, char **argv);
int cmd_dispatch(const cli_t *cli, int argc, char **argv);
int cmd_alerts(const cli_t *cli, int argc, char **argv);
/* cmd_keys.c: keys init | add | revoke | list. */
int cmd_keys(const cli_t *cli, int argc, char **argv);

/* The keys to connect with (NULL when no --key was given: security off). */
const cdc_keys_t *cli_keys(const cli_t *cli);

/* cmd_tail.c: `tail`, the live stream. */
int cmd_tail(const cli_t *cli, int argc, char **argv);

/* cmd_connect.c: `unit connect`, a terminal tablet. */
int cmd_unit_connect(const cli_t *cli, int argc, char **argv);

/* cmd_report.c: `report`, `export calls`, `demographics`. */
int cmd_report(const cli_t *cli, int argc, char **argv);
int cmd_export(const cli_t *cli, int argc, char **argv);
int cmd_demographics(const cli_t *cli, int argc, char **argv);

/* sim.c: sim generate | offline | run (see cli_sim.h). */
int cmd_sim(const cli_t *cli, int argc, char **argv);

/* bench.c: bench intake | lifecycle | stream (see bench.h). */
int cmd_bench(const cli_t *cli, int argc, char **argv);

#endif
