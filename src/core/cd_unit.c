#include "cd_unit.h"

#include <math.h>
#include <string.h>

#include "cd_json.h"

static const char *const s_status_names[CD_UNIT_STATUS_COUNT] = {
    [CD_UNIT_OFF_DUTY] = "off_duty",       [CD_UNIT_AVAILABLE] = "available",
    [CD_UNIT_ASSIGNED] = "assigned",       [CD_UNIT_EN_ROUTE] = "en_route",
    [CD_UNIT_ON_SCENE] = "on_scene",       [CD_UNIT_TRANSPORTING] = "transporting",
    [CD_UNIT_AT_FACILITY] = "at_facility", [CD_UNIT_OUT_OF_SERVICE] = "out_of_service",
};

const char *cd_unit_status_name(cd_unit_status_t s)
{
    return (s > 0 && s < CD_UNIT_STATUS_COUNT) ? s_status_names[s] : NULL;
}

cd_unit_status_t cd_unit_status_parse(const char *name)
{
    for (int s = 1; name && s < CD_UNIT_STATUS_COUNT; s++)
        if (strcmp(s_status_names[s], name) == 0)
            return (cd_unit_status_t)s;
    return 0;
}

bool cd_unit_status_on_call(cd_unit_status_t s)
{
    return s >= CD_UNIT_ASSIGNED && s <= CD_UNIT_AT_FACILITY;
}

/* The transition table.  U: the unit may report it from its tablet; S: a supervisor may set
 * it; US: both.  "assigned" is never reported: only a dispatch makes a unit assigned.
 * Reporting "available" while on a call means "clear" (or "decline" before moving). */
enum { N_ = 0, U_ = 1, S_ = 2, US = 3 };
static const unsigned char s_table[CD_UNIT_STATUS_COUNT][CD_UNIT_STATUS_COUNT] = {
    /* to:            off  avail asg  enr  ons  trn  atf  oos */
    [CD_UNIT_OFF_DUTY] = {0, N_, US, N_, N_, N_, N_, N_, US},
    [CD_UNIT_AVAILABLE] = {0, US, N_, N_, N_, N_, N_, N_, US},
    [CD_UNIT_ASSIGNED] = {0, N_, U_, N_, U_, U_, N_, N_, US},
    [CD_UNIT_EN_ROUTE] = {0, N_, U_, N_, N_, U_, N_, N_, US},
    [CD_UNIT_ON_SCENE] = {0, N_, U_, N_, N_, N_, U_, N_, US},
    [CD_UNIT_TRANSPORTING] = {0, N_, U_, N_, N_, N_, N_, U_, US},
    [CD_UNIT_AT_FACILITY] = {0, N_, U_, N_, N_, N_, N_, N_, US},
    [CD_UNIT_OUT_OF_SERVICE] = {0, US, US, N_, N_, N_, N_, N_, N_},
};

bool cd_unit_transition_allowed(cd_unit_status_t from, cd_unit_status_t to, cd_status_actor_t by)
{
    if (from <= 0 || from >= CD_UNIT_STATUS_COUNT || to <= 0 || to >= CD_UNIT_STATUS_COUNT)
        return false;
    unsigned need = by == CD_BY_UNIT ? U_ : S_;
    return (s_table[from][to] & need) != 0;
}

static int s_check_list(const char *const *items, int n, int max, bool languages, const char *field,
                        cd_error_t *err)
{
    if (n > max)
        return cd_error_set(err, CD_EINVAL, field, "%s: at most %d entries", field, max);
    for (int i = 0; i < n; i++) {
        const char *v = items[i];
        bool ok = v && (languages ? cd_text_is_language_tag(v) : cd_text_is_ident(v, CD_TYPE_MAX));
        if (!ok)
            return cd_error_set(err, CD_EINVAL, field,
                                languages ? "%s: '%.40s' is not a BCP 47 language tag"
                                          : "%s: '%.40s' is not a lower-case identifier",
                                field, v ? v : "");
    }
    return CD_OK;
}

int cd_unit_validate(const cd_unit_input_t *in, bool adding, cd_error_t *err)
{
    if (!in->id || !*in->id)
        return cd_error_set(err, CD_EINVAL, "unit_id", "unit_id is required");
    if (!cd_text_is_token(in->id, CD_UNIT_ID_MAX))
        return cd_error_set(err, CD_EINVAL, "unit_id",
                            "unit_id must be 1 to %d printable characters without spaces",
                            CD_UNIT_ID_MAX);
    if (adding && (!in->type || !*in->type))
        return cd_error_set(err, CD_EINVAL, "type",
                            "type is required (a unit type such as mh_team)");
    if (in->type && !cd_text_is_ident(in->type, CD_TYPE_MAX))
        return cd_error_set(err, CD_EINVAL, "type", "type must be a lower-case identifier");
    if (in->name && (strlen(in->name) > CD_UNIT_NAME_MAX || !cd_text_is_clean(in->name, false)))
        return cd_error_set(err, CD_EINVAL, "name", "name must be text of at most %d bytes",
                            CD_UNIT_NAME_MAX);
    if (in->area && (strlen(in->area) > CD_AREA_MAX || !cd_text_is_clean(in->area, false)))
        return cd_error_set(err, CD_EINVAL, "area", "area must be text of at most %d bytes",
                            CD_AREA_MAX);
    int rc;
    if (in->set_languages && (rc = s_check_list(in->languages, in->n_languages, CD_UNIT_LANGS_MAX,
                                                true, "languages", err)))
        return rc;
    if (in->set_capabilities && (rc = s_check_list(in->capabilities, in->n_capabilities,
                                                   CD_UNIT_CAPS_MAX, false, "capabilities", err)))
        return rc;
    if (in->has_lat != in->has_lon)
        return cd_error_set(err, CD_EINVAL, in->has_lat ? "lon" : "lat",
                            "lat and lon go together: give both or neither");
    if (in->has_lat && !(isfinite(in->lat) && in->lat >= -90 && in->lat <= 90))
        return cd_error_set(err, CD_EINVAL, "lat", "lat must be between -90 and 90");
    if (in->has_lon && !(isfinite(in->lon) && in->lon >= -180 && in->lon <= 180))
        return cd_error_set(err, CD_EINVAL, "lon", "lon must be between -180 and 180");
    if (in->status && in->status != CD_UNIT_OFF_DUTY && in->status != CD_UNIT_AVAILABLE &&
        in->status != CD_UNIT_OUT_OF_SERVICE)
        return cd_error_set(err, CD_EINVAL, "status",
                            "status may be set to off_duty, available or out_of_service here; "
                            "the unit reports the others");
    return CD_OK;
}

void cd_unit_apply_input(cd_unit_t *u, const cd_unit_input_t *in)
{
    if (in->name)
        cd_copy(u->name, sizeof u->name, in->name);
    if (in->area)
        cd_copy(u->area, sizeof u->area, in->area);
    if (in->set_languages) {
        u->n_languages = in->n_languages;
        for (int i = 0; i < in->n_languages; i++) {
            cd_copy(u->languages[i], sizeof u->languages[i], in->languages[i]);
            cd_text_language_normalize(u->languages[i]);
        }
    }
    if (in->set_capabilities) {
        u->n_capabilities = in->n_capabilities;
        for (int i = 0; i < in->n_capabilities; i++)
            cd_copy(u->capabilities[i], sizeof u->capabilities[i], in->capabilities[i]);
    }
    if (in->has_lat && in->has_lon) {
        u->has_position = true;
        u->lat = in->lat;
        u->lon = in->lon;
    }
}

bool cd_unit_speaks(const cd_unit_t *u, const char *language)
{
    if (!language || !*language)
        return false;
    for (int i = 0; i < u->n_languages; i++)
        if (cd_text_language_matches(u->languages[i], language))
            return true;
    return false;
}

bool cd_unit_has_capability(const cd_unit_t *u, const char *cap)
{
    for (int i = 0; i < u->n_capabilities; i++)
        if (strcmp(u->capabilities[i], cap) == 0)
            return true;
    return false;
}

cJSON *cd_unit_to_json(const cd_unit_t *u)
{
    cJSON *o = cJSON_CreateObject();
    cd_json_add_str_cs(o, "unit_id", u->id);
    cd_json_add_str_cs(o, "type", u->type);
    cd_json_add_str_cs(o, "name", u->name);
    cd_json_add_strs(o, "languages", u->languages[0], u->n_languages, sizeof u->languages[0]);
    cd_json_add_strs(o, "capabilities", u->capabilities[0], u->n_capabilities,
                     sizeof u->capabilities[0]);
    cd_json_add_str_cs(o, "area", u->area);
    if (u->has_position) {
        cd_json_add_num_cs(o, "lat", u->lat);
        cd_json_add_num_cs(o, "lon", u->lon);
    } else {
        cJSON_AddNullToObject(o, "lat");
        cJSON_AddNullToObject(o, "lon");
    }
    cd_json_add_str_cs(o, "status", cd_unit_status_name(u->status));
    cd_json_add_num_cs(o, "status_ms", (double)u->status_ms);
    cd_json_add_str_cs(o, "assignment_id", u->assignment_id);
    cd_json_add_num_cs(o, "last_dispatch_ms", (double)u->last_dispatch_ms);
    cd_json_add_num_cs(o, "missed_acks", u->missed_acks);
    cJSON_AddBoolToObject(o, "removed", u->removed);
    cJSON_AddBoolToObject(o, "link_up", u->link_up);
    cd_json_add_num_cs(o, "link_ms", (double)u->link_ms);
    cd_json_add_num_cs(o, "last_seq", (double)u->last_seq);
    return o;
}

cd_unit_t *cd_unit_from_json(const cJSON *o, cd_error_t *err)
{
    const char *id = cd_json_str(o, "unit_id"), *type = cd_json_str(o, "type");
    cd_unit_status_t status = cd_unit_status_parse(cd_json_str(o, "status"));
    if (!id || !type || !status) {
        cd_error_set(err, CD_EINVAL, "payload", "unit record lacks unit_id, type or status");
        return NULL;
    }
    cd_unit_t *u = cd_xcalloc(1, sizeof *u);
    cd_copy(u->id, sizeof u->id, id);
    cd_copy(u->type, sizeof u->type, type);
    cd_copy(u->name, sizeof u->name, cd_json_str(o, "name"));
    u->n_languages =
        cd_json_strs(o, "languages", u->languages[0], CD_UNIT_LANGS_MAX, sizeof u->languages[0]);
    u->n_capabilities = cd_json_strs(o, "capabilities", u->capabilities[0], CD_UNIT_CAPS_MAX,
                                     sizeof u->capabilities[0]);
    cd_copy(u->area, sizeof u->area, cd_json_str(o, "area"));
    u->has_position = cd_json_num(o, "lat", &u->lat) && cd_json_num(o, "lon", &u->lon);
    if (!u->has_position)
        u->lat = u->lon = 0;
    u->status = status;
    u->status_ms = cd_json_int(o, "status_ms", 0);
    cd_copy(u->assignment_id, sizeof u->assignment_id, cd_json_str(o, "assignment_id"));
    u->last_dispatch_ms = cd_json_int(o, "last_dispatch_ms", 0);
    u->missed_acks = (int)cd_json_int(o, "missed_acks", 0);
    u->removed = cd_json_bool(o, "removed", false);
    u->link_up = cd_json_bool(o, "link_up", false);
    u->link_ms = cd_json_int(o, "link_ms", 0);
    u->last_seq = cd_json_int(o, "last_seq", 0);
    return u;
}
