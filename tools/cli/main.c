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
    "                      default " CLI_DEFAULT_SERVER "); a comma-separated list\n"
    "                      (a primary and its standbys) reaches whichever serves\n"
    "  --json              print one JSON object per result\n"
    "  --timeout MS        give up after this long (default 5000); requests are retried\n"
    "                      with the same request id meanwhile\n"
    "  --key FILE          this client's secret key file when the server has security on\n"
    "                      (env CODISPATCH_KEY; made by `keys init` or `keys add`); after\n"
    "                      `plan`, --key is the plan's key: use --key-file FILE there\n"
    "  --server-key FILE   the server's public key file (env CODISPATCH_SERVER_KEY;\n"
    "                      default: the server-key line of the --key file)\n"
    "  --help              this text\n"
    "\n"
    "Commands:\n"
    "  status                                   server, database and endpoints\n"
    "  call create --type T --priority P --lat X --lon Y [--address A] [--area A]\n"
    "              [--language L] [--weapon] [--violence] [--medical] [--summary S]\n"
    "              [--caller-name N] [--callback PHONE] [--request-id ID]\n"
    "                                           take a new call; prints its id\n"
    "  call get ID                              one call in full, with its units and notes\n"
    "  call list [--open] [--pending] [--limit N]\n"
    "                                           newest calls first; --pending: the queue of\n"
    "                                           calls waiting for a unit, by priority then age\n"
    "  call cancel ID --reason R [--request-id ID]\n"
    "  call note ID TEXT... [--request-id ID]   add a note (the words after ID)\n"
    "  call close ID --disposition D [--request-id ID]\n"
    "                                           D: resolved_on_scene, transported_voluntary,\n"
    "                                           transported_involuntary, referred,\n"
    "                                           police_requested, no_contact, duplicate\n"
    "\n"
    "  unit add --id ID --type T [--name N] [--languages es,en]\n"
    "           [--capabilities transport,naloxone] [--area A] [--lat X --lon Y]\n"
    "           [--status off_duty|available|out_of_service] [--request-id ID]\n"
    "                                           add a unit to the roster; prints its id\n"
    "  unit list [--status S]                   the roster\n"
    "  unit update --id ID [--status off_duty|available|out_of_service] [--name N]\n"
    "           [--languages L,...] [--capabilities C,...] [--area A] [--lat X --lon Y]\n"
    "           [--request-id ID]               change what is given ('' clears a list)\n"
    "  unit remove --id ID [--request-id ID]    take a unit off the roster\n"
    "\n"
    "  plan list                                the response plans\n"
    "  plan set --key K [--mode base|replace|add] --groups G [--forbid T,...]\n"
    "           [--requires C,...] [--auto-dispatch N] [--ack-timeout S[,S,S,S]]\n"
    "           [--target-response S[,S,S,S]] [--pending-alert S[,S,S,S]]\n"
    "           [--on-scene-alert S] [--description D] [--request-id ID]\n"
    "                                           add or replace a plan.  K: a call type, or\n"
    "                                           flag:weapon|violence|medical (mode replace or\n"
    "                                           add).  G: groups by ';', fallbacks by '>',\n"
    "                                           equal types by ',', e.g. \"smart;patrol\".\n"
    "                                           S: seconds, one for all priorities or four\n"
    "                                           (P1..P4).  N: auto-dispatch P1..PN (0: never)\n"
    "\n"
    "  recommend CALL_ID                        ranked units for the call's plan\n"
    "  dispatch CALL_ID [UNIT_ID...] [--request-id ID]\n"
    "                                           offer the call to these units, or (none\n"
    "                                           given) to the top recommendation per group\n"
    "  alerts                                   active alerts for dispatchers\n"
    "\n"
    "  tail [--topic PREFIX] [--stream-endpoint EP] [--max N]\n"
    "                                           follow live changes (snapshot, then each\n"
    "                                           change; resyncs on a gap)\n"
    "\n"
    "  unit connect UNIT_ID [--units-endpoint EP[,EP...]]\n"
    "                                           a terminal tablet: prints assignments, reads\n"
    "                                           ack | decline REASON | enroute | onscene |\n"
    "                                           transporting | atfacility | clear | status S |\n"
    "                                           pos LAT LON from stdin; reconnects by itself\n"
    "\n"
    "  report KIND --from DATE --to DATE [--by area|type|priority|language|race_ethnicity|hour]\n"
    "         [--format table|csv|json]         a programme report; KIND: response, diversion,\n"
    "                                           language, equity, staffing.  DATE: YYYY-MM-DD\n"
    "                                           or a timestamp with a zone; --to is inclusive\n"
    "  export calls --from DATE --to DATE [--format csv|jsonl] [--with-locations]\n"
    "                                           one row per call, without caller PII\n"
    "  demographics CALL_ID [--race-ethnicity R] [--age-band A] [--gender G] [--request-id ID]\n"
    "                                           voluntary caller demographics (reports only)\n"
    "\n"
    "  sim generate --calls N --hours H --seed S --out calls.csv [--roster-out roster.csv\n"
    "               --units U]                  a synthetic day for Los Angeles\n"
    "  sim offline --roster R --calls C [--policy plan|closest|police_default] [--seed S]\n"
    "                                           the engine in-process on a simulated clock\n"
    "  sim run --roster R --calls C [--speed X] [--units-endpoint EP]\n"
    "                                           replay against a running server with one\n"
    "                                           simulated tablet per unit\n"
    "\n"
    "  keys init [--data-dir DIR]               the server's key pair, the first admin key\n"
    "                                           (DIR/keys/admin.key_secret) and the HTTP\n"
    "                                           token, in DIR/keys (default ./var)\n"
    "  keys add --role R --name N [--unit ID] [--out FILE]\n"
    "                                           a client key pair: the secret goes to FILE\n"
    "                                           (default N.key_secret, mode 0600), the public\n"
    "                                           key is registered (needs an admin --key).\n"
    "                                           R: admin, dispatcher, unit, viewer\n"
    "  keys revoke NAME                         refuse that key from now on\n"
    "  keys list                                every key, revoked ones too\n"
    "  bench intake --clients C --calls N      CreateCall load, closed loop, C clients\n"
    "  bench lifecycle --units U --calls N --clients C\n"
    "                                           create, dispatch, tablet ack, en route, on\n"
    "                                           scene, clear, close; per-step latency\n"
    "  bench stream --subscribers S --rate R --seconds T [--ramp W] [--ws N]\n"
    "                                           S stream subscribers (N of them WebSocket)\n"
    "                                           while R changes/s are made; lag and gaps\n"
    "  bench rtt [--count N]                    StatusRequest round trips (no database)\n"
    "                                           (results: JSON on stdout; progress: stderr)\n"
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
        } else if (strcmp(a, "--key-file") == 0 || strncmp(a, "--key-file=", 11) == 0) {
            cli.key_file = a[10] == '=' ? a + 11 : (i + 1 < argc ? argv[++i] : NULL);
        } else if ((strcmp(a, "--key") == 0 || strncmp(a, "--key=", 6) == 0) &&
                   !(nrest > 0 && strcmp(rest[0], "plan") == 0)) {
            /* (after `plan`, --key is the plan's key: use --key-file or CODISPATCH_KEY) */
            cli.key_file = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
        } else if (strcmp(a, "--server-key") == 0 || strncmp(a, "--server-key=", 13) == 0) {
            cli.server_key_file = a[12] == '=' ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
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
    if (!cli.key_file && getenv("CODISPATCH_KEY") && *getenv("CODISPATCH_KEY"))
        cli.key_file = getenv("CODISPATCH_KEY");
    if (!cli.server_key_file && getenv("CODISPATCH_SERVER_KEY") && *getenv("CODISPATCH_SERVER_KEY"))
        cli.server_key_file = getenv("CODISPATCH_SERVER_KEY");
    bool keys_init = nrest >= 2 && strcmp(rest[0], "keys") == 0 && strcmp(rest[1], "init") == 0;
    if (cli.key_file && !keys_init) {
        char err[512];
        if (cdc_keys_load(cli.key_file, cli.server_key_file, &cli.keys, err, sizeof err) !=
            CDC_OK) {
            free(rest);
            return cli_usage_error("codispatch --help", "--key: %s", err);
        }
        cli.have_keys = true;
    }
    int rc;
    if (nrest == 0)
        rc = cli_usage_error("codispatch --help", "no command given");
    else if (strcmp(rest[0], "status") == 0)
        rc = cmd_status(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "call") == 0)
        rc = cmd_call(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "unit") == 0)
        rc = cmd_unit(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "plan") == 0)
        rc = cmd_plan(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "recommend") == 0)
        rc = cmd_recommend(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "dispatch") == 0)
        rc = cmd_dispatch(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "alerts") == 0)
        rc = cmd_alerts(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "tail") == 0)
        rc = cmd_tail(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "keys") == 0)
        rc = cmd_keys(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "report") == 0)
        rc = cmd_report(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "export") == 0)
        rc = cmd_export(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "demographics") == 0)
        rc = cmd_demographics(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "sim") == 0)
        rc = cmd_sim(&cli, nrest - 1, rest + 1);
    else if (strcmp(rest[0], "bench") == 0)
        rc = cmd_bench(&cli, nrest - 1, rest + 1);
    else
        rc = cli_usage_error("codispatch --help", "unknown command '%s'", rest[0]);
    free(rest);
    return rc;
}
