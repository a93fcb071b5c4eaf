/*  cd_plan.h — response plans: which unit types to send to which call, and the clocks.
 *
 *  A plan is data (a row of `plans`, edited with `codispatch plan set`).  Its key is a call
 *  type ("mental_health") — a base plan — or a risk flag ("flag:weapon") that changes the
 *  base for calls carrying that flag: "replace" swaps in its own groups and forbidden types
 *  (a weapon means a SMART team and a patrol, whatever the call type), "add" appends its
 *  groups (a medical flag adds an ambulance).
 *
 *  Groups are written as text, the same on the wire, in the CLI and in the database:
 *      groups separated by ';'      each group is one unit to send
 *      tiers separated by '>'       first choice, then fallbacks
 *      types separated by ','       equals within a tier (the nearest wins)
 *  e.g. "mh_team,therapeutic_van>apru" or "smart;patrol".
 */
#ifndef CD_PLAN_H
#define CD_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cd_error.h"
#include "cd_text.h"

#define CD_PLAN_KEY_MAX    40 /* "flag:" + a type-sized name */
#define CD_PLAN_GROUPS_MAX 6
#define CD_PLAN_TIERS_MAX  4
#define CD_PLAN_TYPES_MAX  6 /* per tier */
#define CD_PLAN_LIST_MAX   8 /* forbidden types, required capabilities */
#define CD_PLAN_TEXT_MAX   400
#define CD_PRIORITIES      4

typedef enum cd_plan_mode {
    CD_PLAN_BASE = 1, /* a call type's plan */
    CD_PLAN_REPLACE,  /* a flag plan that replaces groups and forbidden types */
    CD_PLAN_ADD,      /* a flag plan that adds groups */
} cd_plan_mode_t;

typedef struct cd_plan_tier {
    char types[CD_PLAN_TYPES_MAX][CD_TYPE_MAX + 1];
    int n_types;
} cd_plan_tier_t;

typedef struct cd_plan_group {
    cd_plan_tier_t tiers[CD_PLAN_TIERS_MAX];
    int n_tiers;
} cd_plan_group_t;

typedef struct cd_plan {
    char key[CD_PLAN_KEY_MAX + 1];
    cd_plan_mode_t mode;
    cd_plan_group_t groups[CD_PLAN_GROUPS_MAX];
    int n_groups;
    char forbidden[CD_PLAN_LIST_MAX][CD_TYPE_MAX + 1];
    int n_forbidden;
    char requires[CD_PLAN_LIST_MAX][CD_TYPE_MAX + 1];
    int n_requires;
    int auto_dispatch_max_priority; /* 0: never automatic */
    int ack_timeout_s[CD_PRIORITIES];
    int target_response_s[CD_PRIORITIES];
    int pending_alert_s[CD_PRIORITIES];
    int on_scene_alert_s;
    char description[CD_PLAN_TEXT_MAX + 1];
    int64_t last_seq;
} cd_plan_t;

/* Defaults for the clocks of a plan that does not set them. */
#define CD_DEFAULT_ACK_TIMEOUT_S    60
#define CD_DEFAULT_ON_SCENE_ALERT_S 5400

/* Parses the group text into plan->groups.  Every type must be an identifier; known types
 * are checked by the engine.  Names the problem in *err (field "groups"). */
int cd_plan_parse_groups(cd_plan_t *plan, const char *text, cd_error_t *err);
/* Writes the groups back as text. */
void cd_plan_format_groups(const cd_plan_group_t *groups, int n_groups, char *out, size_t cap);

/* A plan with default clocks and no groups. */
void cd_plan_init(cd_plan_t *plan, const char *key, cd_plan_mode_t mode);

/* Form and ranges: key, mode matching the key (base for a call type, replace/add for a
 * flag), at least one group for base plans, clocks > 0. */
int cd_plan_validate(const cd_plan_t *plan, cd_error_t *err);

bool cd_plan_forbids(const cd_plan_t *plan, const char *type);
/* The 1-based tier of type in group g, or 0 when the group does not list it. */
int cd_plan_tier_of(const cd_plan_t *plan, int g, const char *type);

const char *cd_plan_mode_name(cd_plan_mode_t m);
cd_plan_mode_t cd_plan_mode_parse(const char *name);

/* The plan that applies to a call: base is the call type's plan (NULL: none, then an empty
 * plan with default clocks), flags[] the flag plans for the call's flags in the order
 * weapon, violence, medical (NULL where none).  Writes the combination into *out. */
void cd_plan_resolve(const cd_plan_t *base, const cd_plan_t *const *flags, int n_flags,
                     cd_plan_t *out);

cJSON *cd_plan_to_json(const cd_plan_t *plan);
int cd_plan_from_json(const cJSON *obj, cd_plan_t *out, cd_error_t *err);

#endif
