/*  print.c — how calls look on a dispatcher's terminal, and as JSON. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

cJSON *cli_call_json(const Codispatch__V1__Call *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "call_id", c->call_id ? c->call_id : "");
    cJSON_AddStringToObject(o, "type", c->type ? c->type : "");
    cJSON_AddNumberToObject(o, "priority", c->priority);
    cJSON_AddStringToObject(o, "status", cdc_call_status_name(c->status));
    cJSON_AddNumberToObject(o, "lat", c->lat);
    cJSON_AddNumberToObject(o, "lon", c->lon);
    cJSON_AddStringToObject(o, "address", c->address ? c->address : "");
    cJSON_AddStringToObject(o, "area", c->area ? c->area : "");
    cJSON_AddStringToObject(o, "language", c->language ? c->language : "");
    cJSON *risks = cJSON_AddArrayToObject(o, "risk_flags");
    if (c->weapon)
        cJSON_AddItemToArray(risks, cJSON_CreateString("weapon"));
    if (c->violence)
        cJSON_AddItemToArray(risks, cJSON_CreateString("violence"));
    if (c->medical)
        cJSON_AddItemToArray(risks, cJSON_CreateString("medical"));
    cJSON_AddStringToObject(o, "summary", c->summary ? c->summary : "");
    if (c->caller_name)
        cJSON_AddStringToObject(o, "caller_name", c->caller_name);
    if (c->callback)
        cJSON_AddStringToObject(o, "callback", c->callback);
    cJSON_AddNumberToObject(o, "created_ms", (double)c->created_ms);
    cJSON_AddNumberToObject(o, "updated_ms", (double)c->updated_ms);
    if (c->cancel_reason)
        cJSON_AddStringToObject(o, "cancel_reason", c->cancel_reason);
    return o;
}

static void s_risks(const Codispatch__V1__Call *c, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", c->weapon ? "weapon " : "", c->violence ? "violence " : "",
             c->medical ? "medical " : "");
    size_t n = strlen(out);
    if (n)
        out[n - 1] = '\0';
    else
        snprintf(out, cap, "none");
}

void cli_print_call(const Codispatch__V1__Call *c)
{
    char created[64], risks[64];
    cli_format_time(c->created_ms, created, sizeof created);
    s_risks(c, risks, sizeof risks);
    printf("%s  %s  priority %u  %s\n", c->call_id, c->type, c->priority,
           cdc_call_status_name(c->status));
    printf("  created   %s\n", created);
    printf("  location  %.5f, %.5f", c->lat, c->lon);
    if (c->address && *c->address)
        printf("  %s", c->address);
    if (c->area && *c->area)
        printf("  (area %s)", c->area);
    printf("\n");
    printf("  language  %s\n", c->language && *c->language ? c->language : "not recorded");
    printf("  risks     %s\n", risks);
    if ((c->caller_name && *c->caller_name) || (c->callback && *c->callback))
        printf("  caller    %s%s%s%s\n", c->caller_name ? c->caller_name : "",
               c->callback && *c->callback ? " (callback " : "",
               c->callback && *c->callback ? c->callback : "",
               c->callback && *c->callback ? ")" : "");
    if (c->summary && *c->summary)
        printf("  summary   %s\n", c->summary);
    if (c->cancel_reason && *c->cancel_reason)
        printf("  cancelled %s\n", c->cancel_reason);
}

void cli_print_call_row_header(void)
{
    printf("%-10s %-18s %1s %-10s %6s %-10s %-6s %s\n", "CALL", "TYPE", "P", "STATUS", "AGE",
           "AREA", "LANG", "ADDRESS");
}

void cli_print_call_row(const Codispatch__V1__Call *c, long long now_ms)
{
    long long age_s = (now_ms - c->created_ms) / 1000;
    char age[16];
    if (age_s < 0)
        age_s = 0;
    if (age_s < 3600)
        snprintf(age, sizeof age, "%lldm%02llds", age_s / 60, age_s % 60);
    else if (age_s < 86400)
        snprintf(age, sizeof age, "%lldh%02lldm", age_s / 3600, (age_s % 3600) / 60);
    else
        snprintf(age, sizeof age, "%lldd", age_s / 86400);
    printf("%-10s %-18s %1u %-10s %6s %-10.10s %-6.6s %s\n", c->call_id, c->type, c->priority,
           cdc_call_status_name(c->status), age, c->area ? c->area : "",
           c->language ? c->language : "", c->address ? c->address : "");
}
