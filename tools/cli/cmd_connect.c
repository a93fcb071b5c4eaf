/*  cmd_connect.c — `codispatch unit connect UNIT_ID`: a terminal tablet.
 *
 *  Prints each assignment as it arrives and reads commands from stdin, one per line.  Built
 *  on the library's tablet client, driven by poll() over its file descriptor and stdin.  With
 *  piped stdin each command waits for the previous one's result, and `wait` waits for an
 *  assignment, so scripts are deterministic; at the end of input it finishes what is in
 *  flight and exits (1 if the server refused any command).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static const char *const USAGE =
    "codispatch unit connect UNIT_ID [--units-endpoint EP[,EP...]]\n"
    "  commands on stdin: ack | decline REASON | enroute | onscene | transporting |\n"
    "  atfacility | clear | status S | pos LAT LON | wait (for an assignment) | quit";

#define CONNECT_GIVE_UP_MS 15000 /* input ended and still no Welcome: the server is not there */

typedef struct s_tablet {
    cdc_tablet_t *t;
    const cli_t *cli;
    char call_id[32];    /* the current assignment's call, "" if none */
    bool active;         /* an assignment is active */
    bool waiting_result; /* a command is in flight */
    bool waiting_assign; /* `wait` */
    bool hello_refused;
    int refused;
    char line[1024];
    size_t line_len;
    bool eof;
} s_tablet_t;

static int64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool s_is_active(const char *status)
{
    return strcmp(status, "cleared") != 0 && strcmp(status, "declined") != 0 &&
           strcmp(status, "timed_out") != 0;
}

static void s_on_assignment(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *a)
{
    s_tablet_t *self = arg;
    const char *status = a->status ? a->status : "";
    snprintf(self->call_id, sizeof self->call_id, "%s", a->call_id ? a->call_id : "");
    self->active = s_is_active(status);
    if (self->active)
        self->waiting_assign = false;
    if (self->cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "event", "assignment");
        cJSON_AddNumberToObject(o, "seq", (double)seq);
        cJSON_AddStringToObject(o, "assignment_id", a->assignment_id ? a->assignment_id : "");
        cJSON_AddStringToObject(o, "call_id", self->call_id);
        cJSON_AddStringToObject(o, "status", status);
        cJSON_AddStringToObject(o, "type", a->type ? a->type : "");
        cJSON_AddNumberToObject(o, "priority", a->priority);
        cli_print_json(o);
        return;
    }
    if (strcmp(status, "offered") != 0) {
        printf("%s: assignment %s%s%s  (seq %llu)\n", self->call_id, status,
               a->end_reason && *a->end_reason ? " — " : "", a->end_reason ? a->end_reason : "",
               (unsigned long long)seq);
        fflush(stdout);
        return;
    }
    char deadline[16] = "-";
    time_t t = (time_t)(a->ack_deadline_ms / 1000);
    struct tm tm;
    if (a->ack_deadline_ms && localtime_r(&t, &tm))
        strftime(deadline, sizeof deadline, "%H:%M:%S", &tm);
    char partners[256] = "";
    for (size_t i = 0; i < a->n_partner_units; i++)
        snprintf(partners + strlen(partners), sizeof partners - strlen(partners), "%s%s",
                 i ? ", " : "", a->partner_units[i]);
    printf("\n=== NEW CALL %s  %s  priority %u  (seq %llu)\n", self->call_id, a->type, a->priority,
           (unsigned long long)seq);
    printf("  where     %.5f, %.5f  %s\n", a->lat, a->lon, a->address ? a->address : "");
    printf("  language  %s\n", a->language && *a->language ? a->language : "not recorded");
    printf("  risks     %s%s%s%s\n", a->weapon ? "weapon " : "", a->violence ? "violence " : "",
           a->medical ? "medical" : "", !a->weapon && !a->violence && !a->medical ? "none" : "");
    if (a->summary && *a->summary)
        printf("  summary   %s\n", a->summary);
    if (a->callback && *a->callback)
        printf("  callback  %s\n", a->callback);
    if (*partners)
        printf("  partners  %s\n", partners);
    printf("  ack by    %s   (type: ack | decline REASON)\n", deadline);
    fflush(stdout);
}

static void s_on_result(void *arg, const char *rid, const Codispatch__V1__Envelope *reply)
{
    s_tablet_t *self = arg;
    (void)rid;
    self->waiting_result = false;
    if (!reply) {
        fprintf(stderr, "codispatch: no answer from the server; gave up\n");
        self->refused++;
        return;
    }
    if (reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR) {
        fprintf(stderr, "refused: %s: %s\n", cdc_code_name(reply->error->code),
                reply->error->message ? reply->error->message : "");
        if (!cdc_tablet_welcomed(self->t))
            self->hello_refused = true; /* the unit is not on the roster, say */
        self->refused++;
        return;
    }
    if (reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_UNIT) {
        const Codispatch__V1__Unit *u = reply->unit;
        if (self->cli->json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "event", "result");
            cJSON_AddStringToObject(o, "unit_id", u->unit_id ? u->unit_id : "");
            cJSON_AddStringToObject(o, "status", cli_unit_status_name(u->status));
            cli_print_json(o);
        } else {
            printf("ok: unit %s is %s%s%s\n", u->unit_id, cli_unit_status_name(u->status),
                   u->call_id && *u->call_id ? " on " : "", u->call_id ? u->call_id : "");
        }
        fflush(stdout);
    }
}

static void s_on_welcome(void *arg, const Codispatch__V1__Welcome *w)
{
    s_tablet_t *self = arg;
    if (self->cli->json)
        return;
    fprintf(stderr, "connected as %s (server %s)\n", w->unit_id,
            w->server_version ? w->server_version : "?");
}

/* Runs one command line.  Returns false for `quit`. */
static bool s_command(s_tablet_t *self, char *line)
{
    char *save = NULL, *word = strtok_r(line, " \t", &save);
    if (!word)
        return true;
    char *rest = save ? save + strspn(save, " \t") : NULL;
    int rc = CDC_OK;
    static const struct {
        const char *word;
        Codispatch__V1__UnitStatus status;
    } shortcuts[] = {
        {"enroute", CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE},
        {"onscene", CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE},
        {"transporting", CODISPATCH__V1__UNIT_STATUS__UNIT_TRANSPORTING},
        {"atfacility", CODISPATCH__V1__UNIT_STATUS__UNIT_AT_FACILITY},
        {"clear", CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE},
    };
    if (strcmp(word, "quit") == 0 || strcmp(word, "exit") == 0)
        return false;
    if (strcmp(word, "wait") == 0) {
        self->waiting_assign = !self->active;
        return true;
    }
    if (strcmp(word, "ack") == 0) {
        rc = cdc_tablet_ack(self->t, self->call_id, NULL);
    } else if (strcmp(word, "decline") == 0) {
        if (!rest || !*rest) {
            fprintf(stderr, "decline needs a reason: decline REASON\n");
            return true;
        }
        rc = cdc_tablet_decline(self->t, self->call_id, rest, NULL);
    } else if (strcmp(word, "status") == 0) {
        Codispatch__V1__UnitStatus st = rest ? cli_unit_status_parse(rest) : 0;
        if (!st) {
            fprintf(stderr, "status needs a unit status, e.g. status out_of_service\n");
            return true;
        }
        rc = cdc_tablet_status(self->t, st, NULL);
    } else if (strcmp(word, "pos") == 0) {
        char *la = rest ? strtok_r(rest, " \t", &save) : NULL, *lo = strtok_r(NULL, " \t", &save);
        double lat, lon;
        if (!la || !lo || !cli_parse_double(la, &lat) || !cli_parse_double(lo, &lon)) {
            fprintf(stderr, "pos needs a latitude and a longitude: pos 34.05 -118.25\n");
            return true;
        }
        rc = cdc_tablet_position(self->t, lat, lon, 0, NULL);
    } else {
        size_t i = 0;
        while (i < CLI_N(shortcuts) && strcmp(word, shortcuts[i].word) != 0)
            i++;
        if (i == CLI_N(shortcuts)) {
            fprintf(stderr,
                    "unknown command '%s' (ack, decline REASON, enroute, onscene, "
                    "transporting, atfacility, clear, status S, pos LAT LON, wait, quit)\n",
                    word);
            return true;
        }
        rc = cdc_tablet_status(self->t, shortcuts[i].status, NULL);
    }
    if (rc == CDC_OK)
        self->waiting_result = true;
    else
        fprintf(stderr, "codispatch: could not queue the command (%d)\n", rc);
    return true;
}

/* Reads what stdin has; runs at most one complete line when the tablet is ready for it. */
static bool s_stdin(s_tablet_t *self, bool readable)
{
    if (self->line_len == sizeof self->line - 1 && !memchr(self->line, '\n', self->line_len)) {
        /* A line longer than any command: drop it rather than wait for its end forever. */
        fprintf(stderr, "codispatch: a command line over %zu bytes was ignored\n",
                sizeof self->line - 1);
        self->line_len = 0;
    }
    if (readable && !self->eof && self->line_len < sizeof self->line - 1) {
        ssize_t n =
            read(STDIN_FILENO, self->line + self->line_len, sizeof self->line - 1 - self->line_len);
        if (n <= 0)
            self->eof = n == 0 || errno != EINTR;
        else
            self->line_len += (size_t)n;
    }
    if (!cdc_tablet_welcomed(self->t) || self->waiting_result || self->waiting_assign)
        return true;
    char *nl = memchr(self->line, '\n', self->line_len);
    if (!nl && self->eof && self->line_len) /* a last line without a newline */
        nl = self->line + self->line_len;
    if (!nl)
        return true;
    size_t used = (size_t)(nl - self->line) + (nl < self->line + self->line_len ? 1 : 0);
    *nl = '\0';
    char cmd[sizeof self->line];
    memcpy(cmd, self->line, (size_t)(nl - self->line) + 1);
    memmove(self->line, self->line + used, self->line_len - used);
    self->line_len -= used;
    return s_command(self, cmd);
}

/* The units endpoint: --units-endpoint, or what the server advertises. */
static int s_endpoint(const cli_t *cli, const char *given, char *out, size_t cap)
{
    if (given) {
        snprintf(out, cap, "%s", given);
        return CLI_OK;
    }
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest body = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &body;
    Codispatch__V1__Envelope *reply;
    int rc = cli_request(cli, &req, &reply);
    if (rc != CLI_OK)
        return rc;
    bool ok = reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY &&
              reply->status_reply->units_endpoint && *reply->status_reply->units_endpoint;
    if (ok)
        snprintf(out, cap, "%s", reply->status_reply->units_endpoint);
    cdc_envelope_free(reply);
    if (!ok) {
        fprintf(stderr, "codispatch: the server did not say where its units endpoint is; "
                        "give --units-endpoint\n");
        return CLI_UNREACHABLE;
    }
    return CLI_OK;
}

int cmd_unit_connect(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("units-endpoint")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), pos, 1, &npos, USAGE);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE, "which unit? give its id, e.g. MH-01");
    char endpoint[256];
    if ((rc = s_endpoint(cli, cli_val(o, CLI_N(o), "units-endpoint"), endpoint, sizeof endpoint)))
        return rc;
    s_tablet_t self = {.cli = cli};
    cdc_tablet_callbacks_t cb = {.on_assignment = s_on_assignment,
                                 .on_result = s_on_result,
                                 .on_welcome = s_on_welcome,
                                 .arg = &self};
    self.t = cdc_tablet_new_secure(endpoint, pos[0], 0, &cb, cli_keys(cli));
    if (!self.t)
        return cli_usage_error(USAGE, "cannot connect to '%s' as '%s'", endpoint, pos[0]);
    bool running = true;
    int64_t done_at = 0;
    while (running && !self.hello_refused) {
        int64_t now = s_now_ms();
        int wait = cdc_tablet_process(self.t, now);
        if (wait < 0)
            break;
        /* Input ended but the server never welcomed us (unreachable, say): give up. */
        if (self.eof && !cdc_tablet_welcomed(self.t)) {
            if (!done_at)
                done_at = now;
            if (now - done_at >= CONNECT_GIVE_UP_MS) {
                fprintf(stderr, "codispatch: the units endpoint %s did not answer\n", endpoint);
                cdc_tablet_destroy(&self.t);
                return CLI_UNREACHABLE;
            }
            goto wait_more;
        }
        /* Done: input ended and nothing is in flight.  Linger a moment for the pushes that
         * follow the last result (the assignment's own change). */
        if (self.eof && !self.line_len && !self.waiting_result && !self.waiting_assign &&
            cdc_tablet_pending(self.t) == 0) {
            if (!done_at)
                done_at = now;
            if (now - done_at >= 300)
                break;
        }
    wait_more:;
        /* Leave stdin out while its buffer is full: it would poll readable forever. */
        bool want_stdin = !self.eof && self.line_len < sizeof self.line - 1;
        struct pollfd fds[2] = {{.fd = cdc_tablet_fd(self.t), .events = POLLIN},
                                {.fd = STDIN_FILENO, .events = POLLIN}};
        int n = poll(fds, want_stdin ? 2 : 1, wait > 200 ? 200 : wait);
        running = s_stdin(&self, n > 0 && want_stdin && (fds[1].revents & (POLLIN | POLLHUP)));
    }
    cdc_tablet_destroy(&self.t);
    if (self.hello_refused)
        return CLI_REFUSED;
    return self.refused ? CLI_REFUSED : CLI_OK;
}
