/*  codispatch — command-line tool for codispatchd.  `codispatch --help` for the commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *const HELP =
    "usage: codispatch [--server ENDPOINT] [--json] [--timeout MS] COMMAND ...\n"
    "\n"
    "Global options (anywhere on the line):\n"
    "  --server ENDPOINT   control endpoint of codispatchd (env CODISPATCH_SERVER;\n"
    "                      default " CLI_DEFAULT_SERVER ")\n"
    "  --json              print one JSON object per result\n"
    "  --timeout MS        give up after this long (default 5000); requests are retried\n"
    "                      with the same request id meanwhile\n"
    "  --help              this text\n"
    "\n"
    "Commands:\n"
    "  status                                   server, database and endpoints\n"
    "  call create --type T --priority P --lat X --lon Y [--address A] [--area A]\n"
    "              [--language L] [--weapon] [--violence] [--medical] [--summary S]\n"
    "              [--caller-name N] [--callback PHONE] [--request-id ID]\n"
    "                                           take a new call; prints its id\n"
    "  call get ID                              one call in full\n"
    "  call list [--open] [--limit N]           newest calls first\n"
    "  call cancel ID --reason R [--request-id ID]\n"
    "\n"
    "Exit status: 0 done, 1 refused by the server (reason on stderr), 2 usage error,\n"
    "3 the server could not be reached.\n";

int main(int argc, char **argv)
{
    cli_t cli = {.server = getenv("CODISPATCH_SERVER"), .timeout_ms = 5000};
    if (!cli.server || !*cli.server)
        cli.server = CLI_DEFAULT_SERVER;

    /* Take the global options out, wherever they are; the rest is the command. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(HELP, stdout);
            free(rest);
            return CLI_OK;
        } else if (strcmp(a, "--version") == 0) {
            printf("codispatch %s\n", CODISPATCH_VERSION);
            free(rest);
            return CLI_OK;
        } else if (strcmp(a, "--json") == 0) {
            cli.json = true;
        } else if (strcmp(a, "--server") == 0 || strncmp(a, "--server=", 9) == 0) {
            cli.server = a[8] == '=' ? a + 9 : (i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(a, "--timeout") == 0 || strncmp(a, "--timeout=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            char *end = NULL;
            long ms = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || ms <= 0) {
                free(rest);
                return cli_usage_error("codispatch --help",
                                       "--timeout must be a positive number of milliseconds");
            }
            cli.timeout_ms = (int)ms;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (!cli.server || !*cli.server) {
        free(rest);
        return cli_usage_error("codispatch --help", "--server needs an endpoint");
    }
    int rc;
    if (nrest == 0)
        rc = cli_usage_error("codispatch --help", "no command given");
    else if (strcmp(rest[0], "status") == 0)
        rc = cmd_status(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "call") == 0)
        rc = cmd_call(&cli, nrest - 1, rest + 1);
    else
        rc = cli_usage_error("codispatch --help", "unknown command '%s'", rest[0]);
    free(rest);
    return rc;
}
