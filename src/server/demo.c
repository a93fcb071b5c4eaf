/*  demo.c — a demo roster for tools/run.sh: sixteen units around Los Angeles, so that a
 *  first-time user can create a call and see a recommendation at once.  Added only when the
 *  roster is empty, as ordinary commands (actor "demo"), so they are events like any other. */
#include <stdio.h>
#include <string.h>

#include "server_priv.h"

typedef struct demo_unit {
    const char *id, *type, *name, *langs, *area;
    double lat, lon;
    cd_unit_status_t status;
} demo_unit_t;

static const demo_unit_t s_units[] = {
    {"MH-01", "mh_team", "Boyle Heights clinicians", "es,en", "SPA 4", 34.0333, -118.2050,
     CD_UNIT_AVAILABLE},
    {"MH-02", "mh_team", "Koreatown clinicians", "ko,en", "SPA 4", 34.0618, -118.3004,
     CD_UNIT_AVAILABLE},
    {"MH-03", "mh_team", "Hollywood clinicians", "hy,en", "SPA 4", 34.0983, -118.3267,
     CD_UNIT_AVAILABLE},
    {"MH-04", "mh_team", "South LA clinicians", "en", "SPA 6", 33.9600, -118.2700,
     CD_UNIT_OFF_DUTY},
    {"VAN-01", "therapeutic_van", "Downtown van", "es,en", "SPA 4", 34.0400, -118.2500,
     CD_UNIT_AVAILABLE},
    {"VAN-02", "therapeutic_van", "Westside van", "en", "SPA 5", 33.9900, -118.4500,
     CD_UNIT_AVAILABLE},
    {"SOB-01", "sober", "Skid Row SOBER unit", "en,es", "SPA 4", 34.0450, -118.2450,
     CD_UNIT_AVAILABLE},
    {"APRU-01", "apru", "Fire Station 9 APRU", "en", "SPA 4", 34.0522, -118.2437,
     CD_UNIT_AVAILABLE},
    {"APRU-02", "apru", "Fire Station 33 APRU", "en,es", "SPA 6", 33.9850, -118.3000,
     CD_UNIT_AVAILABLE},
    {"RA-01", "rescue_ambulance", "Rescue Ambulance 4", "en", "SPA 4", 34.0600, -118.2400,
     CD_UNIT_AVAILABLE},
    {"RA-02", "rescue_ambulance", "Rescue Ambulance 66", "en", "SPA 6", 34.0100, -118.3300,
     CD_UNIT_AVAILABLE},
    {"E-01", "fire_engine", "Engine 10", "en", "SPA 4", 34.0550, -118.2500, CD_UNIT_AVAILABLE},
    {"SMART-01", "smart", "Central SMART", "en,es", "SPA 4", 34.0500, -118.2600, CD_UNIT_AVAILABLE},
    {"SMART-02", "smart", "Southwest SMART", "en", "SPA 6", 34.0000, -118.3500, CD_UNIT_AVAILABLE},
    {"P-01", "patrol", "Central patrol 1A12", "en", "SPA 4", 34.0450, -118.2550, CD_UNIT_AVAILABLE},
    {"P-02", "patrol", "Newton patrol 13A45", "en,es", "SPA 6", 34.0100, -118.2800,
     CD_UNIT_AVAILABLE},
};

void demo_seed_roster(server_t *self)
{
    if (cd_engine_unit_count(self->engine) > 0)
        return;
    cd_ctx_t ctx = {.now_ms = server_now_ms(), .actor = "demo", .request_id = NULL};
    int added = 0;
    for (size_t i = 0; i < sizeof s_units / sizeof s_units[0]; i++) {
        const demo_unit_t *d = &s_units[i];
        char langs[32], *list[4];
        int n = 0;
        snprintf(langs, sizeof langs, "%s", d->langs);
        for (char *save = NULL, *t = strtok_r(langs, ",", &save); t && n < 4;
             t = strtok_r(NULL, ",", &save))
            list[n++] = t;
        cd_unit_input_t in = {.id = d->id,
                              .type = d->type,
                              .name = d->name,
                              .set_languages = true,
                              .languages = (const char *const *)list,
                              .n_languages = n,
                              .area = d->area,
                              .has_lat = true,
                              .has_lon = true,
                              .lat = d->lat,
                              .lon = d->lon,
                              .status = d->status};
        cd_error_t err;
        if (cd_engine_add_unit(self->engine, &ctx, &in, NULL, &err) == CD_OK)
            added++;
        else
            fprintf(stderr, "codispatchd: demo unit %s: %s\n", d->id, err.message);
    }
    fprintf(stderr, "codispatchd: added a demo roster of %d units (--demo-roster)\n", added);
}
