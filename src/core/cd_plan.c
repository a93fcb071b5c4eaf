#include "cd_plan.h"

#include <stdio.h>
#include <string.h>

#include "cd_json.h"

static const char *const s_mode_names[] = {
    [CD_PLAN_BASE] = "base", [CD_PLAN_REPLACE] = "replace", [CD_PLAN_ADD] = "add"};

const char *cd_plan_mode_name(cd_plan_mode_t m)
{
    return (m >= CD_PLAN_BASE && m <= CD_PLAN_ADD) ? s_mode_names[m] : NULL;
}

cd_plan_mode_t cd_plan_mode_parse(const char *name)
{
    for (int m = CD_PLAN_BASE; name && m <= CD_PLAN_ADD; m++)
        if (strcmp(s_mode_names[m], name) == 0)
            return (cd_plan_mode_t)m;
    return 0;
}

void cd_plan_init(cd_plan_t *plan, const char *key, cd_plan_mode_t mode)
{
    memset(plan, 0, sizeof *plan);
    cd_copy(plan->key, sizeof plan->key, key);
    plan->mode = mode;
    /* Sensible clocks until a plan says otherwise: acknowledge within a minute; alert when a
     * call waits for a unit 2, 5, 15, 30 minutes by priority; target 10..60 minutes. */
    static const int pending[CD_PRIORITIES] = {120, 300, 900, 1800};
    static const int target[CD_PRIORITIES] = {600, 1200, 2400, 3600};
    for (int p = 0; p < CD_PRIORITIES; p++) {
        plan->ack_timeout_s[p] = CD_DEFAULT_ACK_TIMEOUT_S;
        plan->pending_alert_s[p] = pending[p];
        plan->target_response_s[p] = target[p];
    }
    plan->on_scene_alert_s = CD_DEFAULT_ON_SCENE_ALERT_S;
}

/* Splits [s, end) on sep into pieces; calls fn for each (trimmed).  Stops on error. */
typedef int s_piece_fn(void *arg, const char *p, size_t n, cd_error_t *err);

static int s_split(const char *s, const char *end, char sep, s_piece_fn *fn, void *arg,
                   cd_error_t *err)
{
    for (;;) {
        const char *stop = memchr(s, sep, (size_t)(end - s));
        if (!stop)
            stop = end;
        const char *a = s, *b = stop;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        int rc = fn(arg, a, (size_t)(b - a), err);
        if (rc)
            return rc;
        if (stop == end)
            return CD_OK;
        s = stop + 1;
    }
}

static int s_type_piece(void *arg, const char *p, size_t n, cd_error_t *err)
{
    cd_plan_tier_t *tier = arg;
    char name[CD_TYPE_MAX + 2];
    if (n == 0 || n > CD_TYPE_MAX)
        return cd_error_set(err, CD_EINVAL, "groups",
                            "groups: an empty or over-long unit type (write e.g. "
                            "\"mh_team,therapeutic_van>apru;patrol\")");
    memcpy(name, p, n);
    name[n] = '\0';
    if (!cd_text_is_ident(name, CD_TYPE_MAX))
        return cd_error_set(err, CD_EINVAL, "groups", "groups: '%s' is not a unit type name", name);
    if (tier->n_types == CD_PLAN_TYPES_MAX)
        return cd_error_set(err, CD_EINVAL, "groups", "groups: at most %d types per tier",
                            CD_PLAN_TYPES_MAX);
    cd_copy(tier->types[tier->n_types++], CD_TYPE_MAX + 1, name);
    return CD_OK;
}

static int s_tier_piece(void *arg, const char *p, size_t n, cd_error_t *err)
{
    cd_plan_group_t *g = arg;
    if (g->n_tiers == CD_PLAN_TIERS_MAX)
        return cd_error_set(err, CD_EINVAL, "groups", "groups: at most %d tiers per group",
                            CD_PLAN_TIERS_MAX);
    cd_plan_tier_t *tier = &g->tiers[g->n_tiers++];
    memset(tier, 0, sizeof *tier);
    return s_split(p, p + n, ',', s_type_piece, tier, err);
}

static int s_group_piece(void *arg, const char *p, size_t n, cd_error_t *err)
{
    cd_plan_t *plan = arg;
    if (plan->n_groups == CD_PLAN_GROUPS_MAX)
        return cd_error_set(err, CD_EINVAL, "groups", "groups: at most %d groups",
                            CD_PLAN_GROUPS_MAX);
    cd_plan_group_t *g = &plan->groups[plan->n_groups++];
    memset(g, 0, sizeof *g);
    return s_split(p, p + n, '>', s_tier_piece, g, err);
}

int cd_plan_parse_groups(cd_plan_t *plan, const char *text, cd_error_t *err)
{
    plan->n_groups = 0;
    if (!text)
        return cd_error_set(err, CD_EINVAL, "groups", "groups is required");
    size_t n = strlen(text);
    if (n > CD_PLAN_TEXT_MAX)
        return cd_error_set(err, CD_EINVAL, "groups", "groups is too long (at most %d bytes)",
                            CD_PLAN_TEXT_MAX);
    if (n == 0)
        return CD_OK; /* a flag plan may send nothing extra */
    int rc = s_split(text, text + n, ';', s_group_piece, plan, err);
    if (rc)
        plan->n_groups = 0;
    return rc;
}

static void s_append(char *out, size_t cap, size_t *used, const char *s)
{
    size_t n = strlen(s);
    if (*used + n + 1 > cap)
        n = cap - 1 - *used;
    memcpy(out + *used, s, n);
    *used += n;
    out[*used] = '\0';
}

void cd_plan_format_groups(const cd_plan_group_t *groups, int n_groups, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (int g = 0; g < n_groups; g++) {
        if (g)
            s_append(out, cap, &used, ";");
        for (int t = 0; t < groups[g].n_tiers; t++) {
            if (t)
                s_append(out, cap, &used, ">");
            for (int k = 0; k < groups[g].tiers[t].n_types; k++) {
                if (k)
                    s_append(out, cap, &used, ",");
                s_append(out, cap, &used, groups[g].tiers[t].types[k]);
            }
        }
    }
}

int cd_plan_validate(const cd_plan_t *plan, cd_error_t *err)
{
    bool flag = strncmp(plan->key, "flag:", 5) == 0;
    const char *name = flag ? plan->key + 5 : plan->key;
    if (!cd_text_is_ident(name, CD_TYPE_MAX))
        return cd_error_set(err, CD_EINVAL, "key",
                            "key must be a call type (mental_health) or flag:weapon, "
                            "flag:violence, flag:medical");
    if (flag && strcmp(name, "weapon") && strcmp(name, "violence") && strcmp(name, "medical"))
        return cd_error_set(err, CD_EINVAL, "key",
                            "'%s' is not a risk flag: use flag:weapon, flag:violence or "
                            "flag:medical",
                            name);
    if (!flag && plan->mode != CD_PLAN_BASE)
        return cd_error_set(err, CD_EINVAL, "mode", "a call type's plan has mode base");
    if (flag && plan->mode != CD_PLAN_REPLACE && plan->mode != CD_PLAN_ADD)
        return cd_error_set(err, CD_EINVAL, "mode", "a flag's plan has mode replace or add");
    if (!flag && plan->n_groups == 0)
        return cd_error_set(err, CD_EINVAL, "groups",
                            "a call type's plan needs at least one group of unit types");
    if (plan->auto_dispatch_max_priority < 0 || plan->auto_dispatch_max_priority > CD_PRIORITIES)
        return cd_error_set(err, CD_EINVAL, "auto_dispatch_max_priority",
                            "auto_dispatch_max_priority must be 0 (never) to 4");
    for (int p = 0; p < CD_PRIORITIES; p++) {
        if (plan->ack_timeout_s[p] < 5 || plan->ack_timeout_s[p] > 3600)
            return cd_error_set(err, CD_EINVAL, "ack_timeout_s",
                                "ack_timeout_s must be 5 to 3600 seconds for each priority");
        if (plan->target_response_s[p] < 1 || plan->target_response_s[p] > 86400)
            return cd_error_set(err, CD_EINVAL, "target_response_s",
                                "target_response_s must be 1 to 86400 seconds for each priority");
        if (plan->pending_alert_s[p] < 1 || plan->pending_alert_s[p] > 86400)
            return cd_error_set(err, CD_EINVAL, "pending_alert_s",
                                "pending_alert_s must be 1 to 86400 seconds for each priority");
    }
    if (plan->on_scene_alert_s < 60 || plan->on_scene_alert_s > 86400)
        return cd_error_set(err, CD_EINVAL, "on_scene_alert_s",
                            "on_scene_alert_s must be 60 to 86400 seconds");
    if (!cd_text_is_clean(plan->description, false))
        return cd_error_set(err, CD_EINVAL, "description", "description must be plain text");
    for (int i = 0; i < plan->n_forbidden; i++)
        if (!cd_text_is_ident(plan->forbidden[i], CD_TYPE_MAX))
            return cd_error_set(err, CD_EINVAL, "forbidden", "forbidden: '%s' is not a unit type",
                                plan->forbidden[i]);
    for (int i = 0; i < plan->n_requires; i++)
        if (!cd_text_is_ident(plan->requires[i], CD_TYPE_MAX))
            return cd_error_set(err, CD_EINVAL, "requires",
                                "requires: '%s' is not a capability name", plan->requires[i]);
    return CD_OK;
}

static bool s_in(const char list[][CD_TYPE_MAX + 1], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

bool cd_plan_forbids(const cd_plan_t *plan, const char *type)
{
    return s_in(plan->forbidden, plan->n_forbidden, type);
}

int cd_plan_tier_of(const cd_plan_t *plan, int g, const char *type)
{
    if (g < 0 || g >= plan->n_groups)
        return 0;
    const cd_plan_group_t *grp = &plan->groups[g];
    for (int t = 0; t < grp->n_tiers; t++)
        if (s_in(grp->tiers[t].types, grp->tiers[t].n_types, type))
            return t + 1;
    return 0;
}

static void s_add_list(char dst[][CD_TYPE_MAX + 1], int *n, const char src[][CD_TYPE_MAX + 1],
                       int m)
{
    for (int i = 0; i < m && *n < CD_PLAN_LIST_MAX; i++)
        if (!s_in(dst, *n, src[i]))
            cd_copy(dst[(*n)++], CD_TYPE_MAX + 1, src[i]);
}

void cd_plan_resolve(const cd_plan_t *base, const cd_plan_t *const *flags, int n_flags,
                     cd_plan_t *out)
{
    if (base)
        *out = *base;
    else
        cd_plan_init(out, "", CD_PLAN_BASE);
    for (int i = 0; i < n_flags; i++) {
        const cd_plan_t *f = flags[i];
        if (!f)
            continue;
        if (f->mode == CD_PLAN_REPLACE) {
            memcpy(out->groups, f->groups, sizeof f->groups);
            out->n_groups = f->n_groups;
            memcpy(out->forbidden, f->forbidden, sizeof f->forbidden);
            out->n_forbidden = f->n_forbidden;
        } else {
            for (int g = 0; g < f->n_groups && out->n_groups < CD_PLAN_GROUPS_MAX; g++)
                out->groups[out->n_groups++] = f->groups[g];
            s_add_list(out->forbidden, &out->n_forbidden, f->forbidden, f->n_forbidden);
        }
        s_add_list(out->requires, &out->n_requires, f->requires, f->n_requires);
        /* A flag may make the call urgent enough to dispatch without waiting. */
        if (f->auto_dispatch_max_priority > out->auto_dispatch_max_priority)
            out->auto_dispatch_max_priority = f->auto_dispatch_max_priority;
    }
}

cJSON *cd_plan_to_json(const cd_plan_t *plan)
{
    char groups[CD_PLAN_TEXT_MAX + 1];
    cd_plan_format_groups(plan->groups, plan->n_groups, groups, sizeof groups);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", plan->key);
    cJSON_AddStringToObject(o, "mode", cd_plan_mode_name(plan->mode));
    cJSON_AddStringToObject(o, "groups", groups);
    cd_json_add_strs(o, "forbidden", plan->forbidden[0], plan->n_forbidden,
                     sizeof plan->forbidden[0]);
    cd_json_add_strs(o, "requires", plan->requires[0], plan -> n_requires,
                     sizeof plan->requires[0]);
    cJSON_AddNumberToObject(o, "auto_dispatch_max_priority", plan->auto_dispatch_max_priority);
    cd_json_add_ints(o, "ack_timeout_s", plan->ack_timeout_s, CD_PRIORITIES);
    cd_json_add_ints(o, "target_response_s", plan->target_response_s, CD_PRIORITIES);
    cd_json_add_ints(o, "pending_alert_s", plan->pending_alert_s, CD_PRIORITIES);
    cJSON_AddNumberToObject(o, "on_scene_alert_s", plan->on_scene_alert_s);
    cJSON_AddStringToObject(o, "description", plan->description);
    cJSON_AddNumberToObject(o, "last_seq", (double)plan->last_seq);
    return o;
}

int cd_plan_from_json(const cJSON *o, cd_plan_t *out, cd_error_t *err)
{
    const char *key = cd_json_str(o, "key");
    cd_plan_mode_t mode = cd_plan_mode_parse(cd_json_str(o, "mode"));
    if (!key || !mode)
        return cd_error_set(err, CD_EINVAL, "payload", "plan record lacks key or mode");
    cd_plan_init(out, key, mode);
    int rc = cd_plan_parse_groups(out, cd_json_str(o, "groups"), err);
    if (rc)
        return rc;
    out->n_forbidden =
        cd_json_strs(o, "forbidden", out->forbidden[0], CD_PLAN_LIST_MAX, sizeof out->forbidden[0]);
    out->n_requires =
        cd_json_strs(o, "requires", out->requires[0], CD_PLAN_LIST_MAX, sizeof out->requires[0]);
    out->auto_dispatch_max_priority = (int)cd_json_int(o, "auto_dispatch_max_priority", 0);
    cd_json_ints(o, "ack_timeout_s", out->ack_timeout_s, CD_PRIORITIES);
    cd_json_ints(o, "target_response_s", out->target_response_s, CD_PRIORITIES);
    cd_json_ints(o, "pending_alert_s", out->pending_alert_s, CD_PRIORITIES);
    out->on_scene_alert_s = (int)cd_json_int(o, "on_scene_alert_s", out->on_scene_alert_s);
    cd_copy(out->description, sizeof out->description, cd_json_str(o, "description"));
    out->last_seq = cd_json_int(o, "last_seq", 0);
    return CD_OK;
}
