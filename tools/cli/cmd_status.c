#include <stdio.h>

#include "cli.h"

static const char *const USAGE = "codispatch status";

int cmd_status(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 0, &npos, USAGE);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest body = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &body;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
        return rc;
    if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY) {
        fprintf(stderr, "codispatch: unexpected reply to status\n");
        cdc_envelope_free(reply);
        return CLI_UNREACHABLE;
    }
    const Codispatch__V1__StatusReply *s = reply->status_reply;
    const char *db =
        s->database == CODISPATCH__V1__DATABASE_STATE__DATABASE_OK ? "ok" : "unavailable";
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "server_version", s->server_version ? s->server_version : "");
        cJSON_AddNumberToObject(o, "protocol_version", s->protocol_version);
        cJSON_AddStringToObject(o, "database", db);
        cJSON_AddBoolToObject(o, "embedded_database", s->embedded_database);
        cJSON_AddNumberToObject(o, "open_calls", (double)s->open_calls);
        cJSON_AddNumberToObject(o, "last_seq", (double)s->last_seq);
        cJSON_AddStringToObject(o, "control_endpoint",
                                s->control_endpoint ? s->control_endpoint : "");
        cJSON_AddStringToObject(o, "units_endpoint", s->units_endpoint ? s->units_endpoint : "");
        cJSON_AddStringToObject(o, "stream_endpoint", s->stream_endpoint ? s->stream_endpoint : "");
        cJSON_AddStringToObject(o, "http_address", s->http_address ? s->http_address : "");
        cJSON_AddBoolToObject(o, "security", s->security);
        if (s->identity)
            cJSON_AddStringToObject(o, "identity", s->identity);
        if (s->role)
            cJSON_AddStringToObject(o, "role", s->role);
        cli_print_json(o);
    } else {
        printf("server      codispatchd %s (protocol %u)\n", s->server_version,
               s->protocol_version);
        printf("database    %s (%s)\n", db, s->embedded_database ? "embedded" : "external");
        printf("open calls  %llu\n", (unsigned long long)s->open_calls);
        printf("last seq    %llu\n", (unsigned long long)s->last_seq);
        printf("control     %s\n", s->control_endpoint ? s->control_endpoint : "");
        printf("units       %s\n", s->units_endpoint ? s->units_endpoint : "");
        printf("stream      %s\n", s->stream_endpoint ? s->stream_endpoint : "");
        printf("http        %s\n", s->http_address ? s->http_address : "");
        if (s->security)
            printf("security    on; you are %s (%s)\n", s->identity ? s->identity : "?",
                   s->role ? s->role : "?");
        else
            printf("security    off\n");
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}
