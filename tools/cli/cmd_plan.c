/*  cmd_plan.c — codispatch plan list | set (response plans) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_plan.h"
#include "cli.h"

#define N(a) CLI_N(a)

static const char *const USAGE_LIST = "codispatch plan list";
static const char *const USAGE_SET =
    "codispatch plan set --key K [--mode base|replace|add] --groups G [--forbid T,...]\n"
    "           [--requires C,...] [--auto-dispatch N] [--ack-timeout S[,S,S,S]]\n"
    "           [--target-response S[,S,S,S]] [--pending-alert S[,S,S,S]]\n"
    "           [--on-scene-alert S] [--description D] [--request-id ID]\n"
    "       K: a call type (mode base) or flag:weapon|violence|medical (mode replace or add)\n"
    "       G: groups by ';', fallback tiers by '>', equal types by ',':\n"
    "          \"mh_team,therapeutic_van>apru\" or \"smart;patrol\"\n"
    "       S: seconds, one for all priorities or four for P1..P4";

static const char *const FLAG_PREFIX = "flag:";

/* ------------------------------------------------------------------ output */

static cJSON *s_plan_json(const Codispatch__V1__Plan *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", p->key ? p->key : "");
    cJSON_AddStringToObject(o, "mode", p->mode ? p->mode : "");
    cJSON_AddStringToObject(o, "groups", p->groups ? p->groups : "");
    cli_json_add_strings(o, "forbidden", p->forbidden, p->n_forbidden);
    cli_json_add_strings(o, "requires", p->requires, p->n_requires);
    cJSON_AddNumberToObject(o, "auto_dispatch_max_priority", p->auto_dispatch_max_priority);
    cli_json_add_uints(o, "ack_timeout_s", p->ack_timeout_s, p->n_ack_timeout_s);
    cli_json_add_uints(o, "target_response_s", p->target_response_s, p->n_target_response_s);
    cli_json_add_uints(o, "pending_alert_s", p->pending_alert_s, p->n_pending_alert_s);
    if (p->has_on_scene_alert_s)
        cJSON_AddNumberToObject(o, "on_scene_alert_s", p->on_scene_alert_s);
    else
        cJSON_AddNullToObject(o, "on_scene_alert_s");
    cJSON_AddStringToObject(o, "description", p->description ? p->description : "");
    return o;
}

/* "P1 1m00s  P2 1m00s  P3 1m30s  P4 2m00s", or "default". */
static void s_print_clocks(const char *label, const uint32_t *s, size_t n)
{
    printf("  %-16s", label);
    if (n == 0)
        printf(" default");
    for (size_t i = 0; i < n; i++) {
        char d[16];
        cli_format_duration(s[i], d, sizeof d);
        printf(" P%zu %s%s", i + 1, d, i + 1 < n ? " " : "");
    }
    printf("\n");
}

static void s_print_plan(const Codispatch__V1__Plan *p)
{
    char list[512];
    printf("%s  (%s)\n", p->key, p->mode && *p->mode ? p->mode : "base");
    printf("  %-16s %s\n", "groups", p->groups && *p->groups ? p->groups : "none");
    cli_join(p->forbidden, p->n_forbidden, ", ", list, sizeof list);
    printf("  %-16s %s\n", "forbidden", *list ? list : "none");
    cli_join(p->requires, p->n_requires, ", ", list, sizeof list);
    printf("  %-16s %s\n", "requires", *list ? list : "none");
    if (p->auto_dispatch_max_priority == 0)
        printf("  %-16s dispatcher decides\n", "auto-dispatch");
    else if (p->auto_dispatch_max_priority == 1)
        printf("  %-16s P1\n", "auto-dispatch");
    else
        printf("  %-16s P1-P%u\n", "auto-dispatch", p->auto_dispatch_max_priority);
    s_print_clocks("ack timeout", p->ack_timeout_s, p->n_ack_timeout_s);
    s_print_clocks("target response", p->target_response_s, p->n_target_response_s);
    s_print_clocks("pending alert", p->pending_alert_s, p->n_pending_alert_s);
    if (p->has_on_scene_alert_s) {
        char d[16];
        cli_format_duration(p->on_scene_alert_s, d, sizeof d);
        printf("  %-16s %s\n", "on-scene alert", d);
    } else {
        printf("  %-16s default\n", "on-scene alert");
    }
    if (p->description && *p->description)
        printf("  %-16s %s\n", "description", p->description);
}

/* ------------------------------------------------------------------ plan list */

static int s_list(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 0, &npos, USAGE_LIST);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListPlans m = CODISPATCH__V1__LIST_PLANS__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS;
    req.list_plans = &m;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_PLAN_LIST, &reply)))
        return rc;
    const Codispatch__V1__PlanList *l = reply->plan_list;
    if (cli->json) {
        cJSON *obj = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(obj, "plans");
        for (size_t i = 0; i < l->n_plans; i++)
            cJSON_AddItemToArray(arr, s_plan_json(l->plans[i]));
        cli_print_json(obj);
    } else if (l->n_plans == 0) {
        printf("no plans\n");
    }
    for (size_t i = 0; !cli->json && i < l->n_plans; i++) {
        if (i)
            printf("\n");
        s_print_plan(l->plans[i]);
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

/* ------------------------------------------------------------------ plan set */

/* The group text, level by level: groups by ';', tiers by '>', types by ','. */
static const struct {
    char sep;
    int max;
    const char *what;
} LEVELS[] = {
    {';', CD_PLAN_GROUPS_MAX, "groups"},
    {'>', CD_PLAN_TIERS_MAX, "fallback tiers in a group"},
    {',', CD_PLAN_TYPES_MAX, "types in a tier"},
};

static int s_check_groups(char *s, size_t level)
{
    int n = 0;
    for (char *p = s, *next;; p = next + 1) {
        next = strchr(p, LEVELS[level].sep);
        if (next)
            *next = '\0';
        if (++n > LEVELS[level].max)
            return cli_usage_error(USAGE_SET, "--groups has more than %d %s", LEVELS[level].max,
                                   LEVELS[level].what);
        int rc = 0;
        if (level + 1 < N(LEVELS))
            rc = s_check_groups(p, level + 1);
        else if (!*p)
            rc = cli_usage_error(USAGE_SET, "--groups has an empty part; write it like "
                                            "\"mh_team,therapeutic_van>apru;patrol\"");
        else if (!cli_is_type(p))
            rc = cli_usage_error(USAGE_SET,
                                 "--groups: '%s' is not a unit type (lower-case, like mh_team)", p);
        if (rc)
            return rc;
        if (!next)
            return 0;
    }
}

/* Copies text without blanks into out, then checks its form. */
static int s_groups(const char *text, char *out, size_t cap)
{
    size_t n = 0, len = 0;
    for (const char *c = text; *c; c++) {
        if (*c == ' ' || *c == '\t')
            continue;
        if (n + 1 < cap)
            out[n++] = *c;
        len++;
    }
    out[n] = '\0';
    if (len >= cap)
        return cli_usage_error(USAGE_SET, "--groups is too long: at most %zu bytes", cap - 1);
    if (!*out)
        return 0;
    char *work = cd_strdup(out);
    int rc = s_check_groups(work, 0);
    free(work);
    return rc;
}

static int s_key_and_mode(const char *key, const char *mode, const char **mode_out)
{
    if (!key || !*key)
        return cli_usage_error(USAGE_SET,
                               "--key is required: a call type, or flag:weapon|violence|medical");
    bool flag = strncmp(key, FLAG_PREFIX, strlen(FLAG_PREFIX)) == 0;
    const char *name = flag ? key + strlen(FLAG_PREFIX) : key;
    if (strlen(key) > CD_PLAN_KEY_MAX || !cli_is_type(name))
        return cli_usage_error(USAGE_SET,
                               "--key must be a call type such as mental_health, or flag: and a "
                               "risk flag such as flag:weapon; got '%s'",
                               key);
    if (!mode && flag)
        return cli_usage_error(USAGE_SET,
                               "--mode is required for a flag plan: replace (its groups replace "
                               "the base plan's) or add (its groups are added)");
    if (!mode)
        mode = "base";
    if (strcmp(mode, "base") != 0 && strcmp(mode, "replace") != 0 && strcmp(mode, "add") != 0)
        return cli_usage_error(USAGE_SET, "--mode must be base, replace or add; got '%s'", mode);
    if (flag && strcmp(mode, "base") == 0)
        return cli_usage_error(USAGE_SET, "--mode of a flag plan must be replace or add, not base");
    if (!flag && strcmp(mode, "base") != 0)
        return cli_usage_error(USAGE_SET,
                               "--mode of a call type's plan must be base; replace and add are "
                               "for flag: plans");
    *mode_out = mode;
    return 0;
}

/* --name N (a positive number of seconds, or 0..max for the auto-dispatch priority). */
static int s_uint(const cli_opt_t *o, size_t n, const char *name, long min, long max,
                  const char *what, protobuf_c_boolean *has, uint32_t *out)
{
    const char *v = cli_val(o, n, name);
    long x;
    if (!v)
        return 0;
    if (!cli_parse_long(v, &x) || x < min || x > max)
        return cli_usage_error(USAGE_SET, "--%s must be %s; got '%s'", name, what, v);
    *has = true;
    *out = (uint32_t)x;
    return 0;
}

static int s_set(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {
        CLI_OPT("key"),           CLI_OPT("mode"),
        CLI_OPT("groups"),        CLI_OPT("forbid"),
        CLI_OPT("requires"),      CLI_OPT("auto-dispatch"),
        CLI_OPT("ack-timeout"),   CLI_OPT("target-response"),
        CLI_OPT("pending-alert"), CLI_OPT("on-scene-alert"),
        CLI_OPT("description"),   CLI_OPT("request-id"),
    };
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, N(o), pos, 0, &npos, USAGE_SET);
    if (rc)
        return rc;
    Codispatch__V1__Plan p = CODISPATCH__V1__PLAN__INIT;
    const char *mode = NULL, *groups = cli_val(o, N(o), "groups");
    const char *forbid = cli_val(o, N(o), "forbid"), *requires = cli_val(o, N(o), "requires");
    const char *rid = cli_val(o, N(o), "request-id");
    char text[CD_PLAN_TEXT_MAX + 1];
    uint32_t clocks[3][4];
    static const char *const clock_flags[3] = {"ack-timeout", "target-response", "pending-alert"};
    size_t *clock_n[3] = {&p.n_ack_timeout_s, &p.n_target_response_s, &p.n_pending_alert_s};
    uint32_t **clock_v[3] = {&p.ack_timeout_s, &p.target_response_s, &p.pending_alert_s};
    if ((rc = s_key_and_mode(cli_val(o, N(o), "key"), cli_val(o, N(o), "mode"), &mode)))
        return rc;
    if (!groups)
        return cli_usage_error(USAGE_SET, "--groups is required: the units to send, e.g. "
                                          "\"mh_team,therapeutic_van>apru\"");
    if ((rc = s_groups(groups, text, sizeof text)))
        return rc;
    if (!*text && strcmp(mode, "base") == 0)
        return cli_usage_error(USAGE_SET, "--groups of a base plan needs at least one group");
    for (size_t i = 0; i < 3; i++) {
        const char *v = cli_val(o, N(o), clock_flags[i]);
        if (v && (rc = cli_parse_per_priority(clock_flags[i], v, clocks[i], USAGE_SET)))
            return rc;
        *clock_n[i] = v ? 4 : 0;
        *clock_v[i] = clocks[i];
    }
    if ((rc = s_uint(o, N(o), "auto-dispatch", 0, 4,
                     "0 (a dispatcher decides) or 1 to 4 (automatic for P1 up to that priority)",
                     &p.has_auto_dispatch_max_priority, &p.auto_dispatch_max_priority)) ||
        (rc = s_uint(o, N(o), "on-scene-alert", 1, 86400, "a number of seconds above 0",
                     &p.has_on_scene_alert_s, &p.on_scene_alert_s)) ||
        (rc = cli_check_text("description", cli_val(o, N(o), "description"), CD_PLAN_TEXT_MAX,
                             false, USAGE_SET)) ||
        (rc = cli_check_request_id(rid, USAGE_SET)))
        return rc;
    cli_list_t forbidden = {0}, required = {0};
    if (forbid && (rc = cli_parse_list("forbid", forbid, CD_PLAN_LIST_MAX, cli_is_type,
                                       "unit types such as patrol", &forbidden, USAGE_SET)))
        return rc;
    if (requires && (rc = cli_parse_list("requires", requires, CD_PLAN_LIST_MAX, cli_is_type,
                                         "capabilities such as naloxone", &required, USAGE_SET))) {
        cli_list_free(&forbidden);
        return rc;
    }
    p.key = (char *)cli_val(o, N(o), "key");
    p.mode = (char *)mode;
    p.groups = text;
    p.n_forbidden = forbidden.n;
    p.forbidden = forbidden.items;
    p.n_requires = required.n;
    p.requires = required.items;
    p.description = (char *)cli_val(o, N(o), "description");

    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__SetPlan m = CODISPATCH__V1__SET_PLAN__INIT;
    m.plan = &p;
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN;
    req.set_plan = &m;
    Codispatch__V1__Envelope *reply;
    rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_PLAN, &reply);
    cli_list_free(&forbidden);
    cli_list_free(&required);
    if (rc)
        return rc;
    if (cli->json)
        cli_print_json(s_plan_json(reply->plan));
    else
        s_print_plan(reply->plan);
    cdc_envelope_free(reply);
    return CLI_OK;
}

int cmd_plan(const cli_t *cli, int argc, char **argv)
{
    static const cli_subcommand_t subs[] = {{"list", s_list}, {"set", s_set}};
    return cli_run_subcommand(cli, argc, argv, "plan", "subcommand", subs, CLI_N(subs),
                              "codispatch plan list|set ... (--help for more)");
}
