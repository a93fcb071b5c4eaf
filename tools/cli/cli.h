/*  cli.h — shared parts of the codispatch command-line tool.
 *
 *  Exit codes: 0 success, 1 the server refused (message on stderr), 2 usage error,
 *  3 the server could not be reached.
 */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <stddef.h>

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

/* Parses argv[0..argc) into opts and positional arguments.  Returns 0 or CLI_USAGE (having
 * printed why). */
int cli_parse(int argc, char **argv, cli_opt_t *opts, size_t nopts, char **pos, size_t maxpos,
              size_t *npos, const char *usage);
const cli_opt_t *cli_opt(const cli_opt_t *opts, size_t nopts, const char *name);

/* Prints a usage error and returns CLI_USAGE. */
int cli_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sends req to the server and waits.  On an Error reply prints it and returns CLI_REFUSED;
 * on no answer prints why and returns CLI_UNREACHABLE; else stores the reply in *reply. */
int cli_request(const cli_t *cli, Codispatch__V1__Envelope *req, Codispatch__V1__Envelope **reply);

/* Output */
cJSON *cli_call_json(const Codispatch__V1__Call *c);
void cli_print_json(cJSON *obj); /* prints one line and frees obj */
void cli_print_call(const Codispatch__V1__Call *c);
void cli_print_call_row_header(void);
void cli_print_call_row(const Codispatch__V1__Call *c, long long now_ms);
void cli_format_time(long long ms, char *out, size_t cap);
long long cli_now_ms(void);

/* Subcommands */
int cmd_status(const cli_t *cli, int argc, char **argv);
int cmd_call(const cli_t *cli, int argc, char **argv);

#endif
