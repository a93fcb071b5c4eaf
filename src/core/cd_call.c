#include "cd_call.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_json.h"

static const char *const s_status_names[] = {
    [CD_CALL_PENDING] = "pending",   [CD_CALL_DISPATCHED] = "dispatched",
    [CD_CALL_EN_ROUTE] = "en_route", [CD_CALL_ON_SCENE] = "on_scene",
    [CD_CALL_CLOSED] = "closed",     [CD_CALL_CANCELLED] = "cancelled",
};

const char *cd_call_status_name(cd_call_status_t status)
{
    if (status < CD_CALL_PENDING || status > CD_CALL_CANCELLED)
        return NULL;
    return s_status_names[status];
}

cd_call_status_t cd_call_status_parse(const char *name)
{
    for (int s = CD_CALL_PENDING; name && s <= CD_CALL_CANCELLED; s++)
        if (strcmp(s_status_names[s], name) == 0)
            return (cd_call_status_t)s;
    return 0;
}

static const char *const s_dispositions[] = {
    "resolved_on_scene", "transported_voluntary", "transported_involuntary",
    "referred",          "police_requested",      "no_contact",
    "duplicate",
};

bool cd_call_disposition_valid(const char *d)
{
    for (size_t i = 0; d && i < sizeof s_dispositions / sizeof s_dispositions[0]; i++)
        if (strcmp(d, s_dispositions[i]) == 0)
            return true;
    return false;
}

const char *cd_call_dispositions(void)
{
    return "resolved_on_scene, transported_voluntary, transported_involuntary, referred, "
           "police_requested, no_contact, duplicate";
}

bool cd_call_is_open(const cd_call_t *call)
{
    return call->status != CD_CALL_CLOSED && call->status != CD_CALL_CANCELLED;
}

void cd_call_format_id(char out[CD_CALL_ID_MAX + 1], int64_t no)
{
    snprintf(out, CD_CALL_ID_MAX + 1, "C-%06" PRId64, no);
}

/* Optional free text: absent is fine; present must be clean and short enough. */
static int s_check_text(const char *value, const char *field, size_t max, bool newlines,
                        cd_error_t *err)
{
    if (!value)
        return CD_OK;
    if (strlen(value) > max)
        return cd_error_set(err, CD_EINVAL, field, "%s is too long: at most %zu bytes", field, max);
    if (!cd_text_is_clean(value, newlines))
        return cd_error_set(err, CD_EINVAL, field,
                            "%s must be UTF-8 text without control characters", field);
    return CD_OK;
}

int cd_call_validate(const cd_call_input_t *in, cd_error_t *err)
{
    if (!in->type || !*in->type)
        return cd_error_set(err, CD_EINVAL, "type",
                            "type is required (a call type such as mental_health)");
    if (!cd_text_is_ident(in->type, CD_TYPE_MAX))
        return cd_error_set(err, CD_EINVAL, "type",
                            "type must be a lower-case name like mental_health (letters, digits, "
                            "'_', at most %d bytes)",
                            CD_TYPE_MAX);
    if (!in->has_priority)
        return cd_error_set(err, CD_EINVAL, "priority", "priority is required: 1 (highest) to 4");
    if (in->priority < 1 || in->priority > 4)
        return cd_error_set(err, CD_EINVAL, "priority",
                            "priority must be between 1 (highest) and 4; got %" PRId64,
                            in->priority);
    if (!in->has_lat)
        return cd_error_set(err, CD_EINVAL, "lat", "lat (latitude) is required");
    if (!isfinite(in->lat) || in->lat < -90.0 || in->lat > 90.0)
        return cd_error_set(err, CD_EINVAL, "lat", "lat must be between -90 and 90; got %g",
                            in->lat);
    if (!in->has_lon)
        return cd_error_set(err, CD_EINVAL, "lon", "lon (longitude) is required");
    if (!isfinite(in->lon) || in->lon < -180.0 || in->lon > 180.0)
        return cd_error_set(err, CD_EINVAL, "lon", "lon must be between -180 and 180; got %g",
                            in->lon);
    int rc;
    if ((rc = s_check_text(in->address, "address", CD_ADDRESS_MAX, false, err)) ||
        (rc = s_check_text(in->area, "area", CD_AREA_MAX, false, err)) ||
        (rc = s_check_text(in->summary, "summary", CD_SUMMARY_MAX, true, err)) ||
        (rc = s_check_text(in->caller_name, "caller_name", CD_CALLER_NAME_MAX, false, err)))
        return rc;
    if (in->language && *in->language && !cd_text_is_language_tag(in->language))
        return cd_error_set(err, CD_EINVAL, "language",
                            "language must be a BCP 47 tag such as es, ko, hy or zh-Hant; got "
                            "'%.40s'",
                            in->language);
    if (in->callback && *in->callback &&
        (strlen(in->callback) > CD_CALLBACK_MAX || !cd_text_is_phone(in->callback)))
        return cd_error_set(err, CD_EINVAL, "callback",
                            "callback must be a phone number (digits, spaces, + - ( ) . x; at "
                            "most %d bytes)",
                            CD_CALLBACK_MAX);
    if (in->risk & ~(CD_RISK_WEAPON | CD_RISK_VIOLENCE | CD_RISK_MEDICAL))
        return cd_error_set(err, CD_EINVAL, "risk", "unknown risk flag");
    return CD_OK;
}

void cd_call_set_text(char **slot, const char *s)
{
    free(*slot);
    *slot = cd_strdup(s ? s : "");
}

cd_call_t *cd_call_new(void)
{
    cd_call_t *call = cd_xcalloc(1, sizeof *call);
    call->address = cd_strdup("");
    call->summary = cd_strdup("");
    call->caller_name = cd_strdup("");
    call->cancel_reason = cd_strdup("");
    call->notes = cJSON_CreateArray();
    return call;
}

void cd_call_destroy(cd_call_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cd_call_t *call = *self_p;
    free(call->address);
    free(call->summary);
    free(call->caller_name);
    free(call->cancel_reason);
    cJSON_Delete(call->notes);
    free(call->asg);
    free(call);
    *self_p = NULL;
}

static const struct {
    unsigned bit;
    const char *name;
} s_risks[] = {
    {CD_RISK_WEAPON, "weapon"},
    {CD_RISK_VIOLENCE, "violence"},
    {CD_RISK_MEDICAL, "medical"},
};

size_t cd_call_risk_names(unsigned risk, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof s_risks / sizeof s_risks[0]; i++)
        if (risk & s_risks[i].bit)
            used += (size_t)snprintf(out + used, used < cap ? cap - used : 0, "%s%s",
                                     used ? "," : "", s_risks[i].name);
    return used;
}

cJSON *cd_call_to_json(const cd_call_t *c)
{
    /* Literal keys kept by pointer: this record is built for every command that touches a
     * call (cd_json_add_*_cs). */
    cJSON *o = cJSON_CreateObject();
    cd_json_add_str_cs(o, "call_id", c->id);
    cd_json_add_num_cs(o, "call_no", (double)c->no);
    cd_json_add_str_cs(o, "type", c->type);
    cd_json_add_num_cs(o, "priority", c->priority);
    cd_json_add_num_cs(o, "lat", c->lat);
    cd_json_add_num_cs(o, "lon", c->lon);
    cd_json_add_str_cs(o, "address", c->address);
    cd_json_add_str_cs(o, "area", c->area);
    cd_json_add_str_cs(o, "language", c->language);
    cJSON *risks = cJSON_CreateArray();
    cd_json_add_item_cs(o, "risk_flags", risks);
    for (size_t i = 0; i < sizeof s_risks / sizeof s_risks[0]; i++)
        if (c->risk & s_risks[i].bit)
            cJSON_AddItemToArray(risks, cJSON_CreateString(s_risks[i].name));
    cd_json_add_str_cs(o, "summary", c->summary);
    cd_json_add_str_cs(o, "caller_name", c->caller_name);
    cd_json_add_str_cs(o, "callback", c->callback);
    cd_json_add_str_cs(o, "status", cd_call_status_name(c->status));
    cd_json_add_num_cs(o, "created_ms", (double)c->created_ms);
    cd_json_add_num_cs(o, "updated_ms", (double)c->updated_ms);
    if (c->closed_ms)
        cd_json_add_num_cs(o, "closed_ms", (double)c->closed_ms);
    else
        cd_json_add_item_cs(o, "closed_ms", cJSON_CreateNull());
    cd_json_add_str_cs(o, "cancel_reason", c->cancel_reason);
    cd_json_add_str_cs(o, "disposition", c->disposition);
    cd_json_add_item_cs(o, "notes", cJSON_Duplicate(c->notes, true));
    cd_json_add_num_cs(o, "pending_since_ms", (double)c->pending_since_ms);
    cd_json_add_item_cs(o, "pending_alerted", cJSON_CreateBool(c->pending_alerted));
    cd_json_add_num_cs(o, "last_seq", (double)c->last_seq);
    return o;
}

/* Getters that read the record's keys in cd_call_to_json's order (cd_json_seek): a call record
 * has 22 keys, and looking each up from the start was a tenth of a CreateCall's cost. */
static const char *s_str(const cJSON *o, const cJSON **cur, const char *key)
{
    const cJSON *v = cd_json_seek(o, cur, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool s_num(const cJSON *o, const cJSON **cur, const char *key, double *out)
{
    const cJSON *v = cd_json_seek(o, cur, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

cd_call_t *cd_call_from_json(const cJSON *o, cd_error_t *err)
{
    const cJSON *cur = NULL;
    const char *id = s_str(o, &cur, "call_id");
    double no;
    bool has_no = s_num(o, &cur, "call_no", &no);
    const char *type = s_str(o, &cur, "type");
    double priority, lat, lon, created;
    if (!id || !type || !has_no || !s_num(o, &cur, "priority", &priority) ||
        !s_num(o, &cur, "lat", &lat) || !s_num(o, &cur, "lon", &lon) ||
        !s_num(o, &cur, "created_ms", &created)) {
        cd_error_set(err, CD_EINVAL, "payload",
                     "call record lacks one of call_id, call_no, type, priority, lat, lon, "
                     "created_ms");
        return NULL;
    }
    cd_call_t *c = cd_call_new();
    cd_copy(c->id, sizeof c->id, id);
    c->no = (int64_t)no;
    cd_copy(c->type, sizeof c->type, type);
    c->priority = (int)priority;
    c->lat = lat;
    c->lon = lon;
    cd_call_set_text(&c->address, s_str(o, &cur, "address"));
    cd_copy(c->area, sizeof c->area, s_str(o, &cur, "area"));
    cd_copy(c->language, sizeof c->language, s_str(o, &cur, "language"));
    const cJSON *risks = cd_json_seek(o, &cur, "risk_flags"), *r;
    cJSON_ArrayForEach(r, risks)
    {
        for (size_t i = 0; i < sizeof s_risks / sizeof s_risks[0]; i++)
            if (cJSON_IsString(r) && strcmp(r->valuestring, s_risks[i].name) == 0)
                c->risk |= s_risks[i].bit;
    }
    cd_call_set_text(&c->summary, s_str(o, &cur, "summary"));
    cd_call_set_text(&c->caller_name, s_str(o, &cur, "caller_name"));
    cd_copy(c->callback, sizeof c->callback, s_str(o, &cur, "callback"));
    c->status = cd_call_status_parse(s_str(o, &cur, "status"));
    if (!c->status)
        c->status = CD_CALL_PENDING;
    double v;
    c->created_ms = (int64_t)created;
    c->updated_ms = s_num(o, &cur, "updated_ms", &v) ? (int64_t)v : c->created_ms;
    c->closed_ms = s_num(o, &cur, "closed_ms", &v) ? (int64_t)v : 0;
    cd_call_set_text(&c->cancel_reason, s_str(o, &cur, "cancel_reason"));
    cd_copy(c->disposition, sizeof c->disposition, s_str(o, &cur, "disposition"));
    const cJSON *notes = cd_json_seek(o, &cur, "notes");
    if (cJSON_IsArray(notes)) {
        cJSON_Delete(c->notes);
        c->notes = cJSON_Duplicate(notes, true);
    }
    c->pending_since_ms = s_num(o, &cur, "pending_since_ms", &v) ? (int64_t)v : c->created_ms;
    const cJSON *alerted = cd_json_seek(o, &cur, "pending_alerted");
    c->pending_alerted = cJSON_IsBool(alerted) && cJSON_IsTrue(alerted);
    c->last_seq = s_num(o, &cur, "last_seq", &v) ? (int64_t)v : 0;
    return c;
}
