/*  fuzz_plan_groups.c — a plan's group text ("mh_team,therapeutic_van>apru;patrol"), which
 *  arrives from the network in SetPlan and from the CLI.  Besides memory safety: text that
 *  parses is written back by cd_plan_format_groups, and that text parses to the same groups
 *  (the database stores the written form, so a round trip must not change a plan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    cd_plan_t a, b;
    cd_error_t err;
    cd_plan_init(&a, "mental_health", CD_PLAN_BASE);
    if (cd_plan_parse_groups(&a, text, &err) == CD_OK) {
        char out[CD_PLAN_TEXT_MAX * 2 + 1];
        cd_plan_format_groups(a.groups, a.n_groups, out, sizeof out);
        cd_plan_init(&b, "mental_health", CD_PLAN_BASE);
        if (cd_plan_parse_groups(&b, out, &err) != CD_OK) {
            fprintf(stderr, "'%s' parsed, but its written form '%s' does not: %s\n", text, out,
                    err.message);
            abort();
        }
        if (a.n_groups != b.n_groups || memcmp(a.groups, b.groups, sizeof a.groups) != 0) {
            fprintf(stderr, "'%s' and its written form '%s' differ\n", text, out);
            abort();
        }
        (void)cd_plan_validate(&a, &err);
        cJSON *j = cd_plan_to_json(&a);
        cd_plan_t c;
        if (cd_plan_from_json(j, &c, &err) != CD_OK) {
            fprintf(stderr, "'%s': the plan's JSON does not read back: %s\n", text, err.message);
            abort();
        }
        cJSON_Delete(j);
    } else if (!err.message[0] || strcmp(err.field, "groups") != 0) {
        fprintf(stderr, "a refusal of '%s' without a sentence on groups\n", text);
        abort();
    }
    free(text);
    return 0;
}
