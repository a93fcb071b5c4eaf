#include "cd_key.h"

#include <string.h>

#include "cd_z85.h"

static const char *const s_roles[] = {
    [CD_ROLE_NONE] = "none", [CD_ROLE_ADMIN] = "admin",   [CD_ROLE_DISPATCHER] = "dispatcher",
    [CD_ROLE_UNIT] = "unit", [CD_ROLE_VIEWER] = "viewer",
};

const char *cd_role_name(cd_role_t role)
{
    return role > CD_ROLE_NONE && role <= CD_ROLE_VIEWER ? s_roles[role] : "none";
}

cd_role_t cd_role_parse(const char *name)
{
    for (int r = CD_ROLE_ADMIN; name && r <= CD_ROLE_VIEWER; r++)
        if (strcmp(name, s_roles[r]) == 0)
            return (cd_role_t)r;
    return CD_ROLE_NONE;
}

bool cd_key_name_valid(const char *name)
{
    if (!name || !*name || strlen(name) > CD_KEY_NAME_MAX)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (p == name || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return true;
}

int cd_key_validate(const cd_key_t *k, cd_error_t *err)
{
    if (!cd_key_name_valid(k->name))
        return cd_error_set(err, CD_EINVAL, "name",
                            "name must be 1-32 letters, digits, '.', '_' or '-', starting with a "
                            "letter or digit");
    if (!cd_z85_key_valid(k->public_key))
        return cd_error_set(err, CD_EINVAL, "public_key",
                            "public_key must be a CURVE public key in Z85 text (40 characters)");
    if (k->role == CD_ROLE_NONE)
        return cd_error_set(err, CD_EINVAL, "role",
                            "role must be admin, dispatcher, unit or viewer");
    if (k->role == CD_ROLE_UNIT && !k->unit_id[0])
        return cd_error_set(err, CD_EINVAL, "unit_id",
                            "a unit key needs the unit_id it speaks for");
    if (k->role != CD_ROLE_UNIT && k->unit_id[0])
        return cd_error_set(err, CD_EINVAL, "unit_id", "only a unit key has a unit_id");
    return CD_OK;
}

cJSON *cd_key_to_json(const cd_key_t *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", k->name);
    cJSON_AddStringToObject(o, "public_key", k->public_key);
    cJSON_AddStringToObject(o, "role", cd_role_name(k->role));
    cJSON_AddStringToObject(o, "unit_id", k->unit_id);
    cJSON_AddNumberToObject(o, "created_ms", (double)k->created_ms);
    cJSON_AddNumberToObject(o, "revoked_ms", (double)k->revoked_ms);
    return o;
}

static const char *s_str(const cJSON *obj, const char *name)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, name));
    return s ? s : "";
}

int cd_key_from_json(const cJSON *obj, cd_key_t *out, cd_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(obj))
        return cd_error_set(err, CD_EINVAL, "key", "a key must be a JSON object");
    const char *name = s_str(obj, "name"), *pk = s_str(obj, "public_key"),
               *unit = s_str(obj, "unit_id");
    if (strlen(name) > CD_KEY_NAME_MAX || strlen(pk) > CD_KEY_Z85_LEN ||
        strlen(unit) > CD_KEY_UNIT_ID_MAX)
        return cd_error_set(err, CD_EINVAL, "key", "a key field is too long");
    strcpy(out->name, name);
    strcpy(out->public_key, pk);
    strcpy(out->unit_id, unit);
    out->role = cd_role_parse(s_str(obj, "role"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(obj, "created_ms"),
                *r = cJSON_GetObjectItemCaseSensitive(obj, "revoked_ms");
    out->created_ms = cJSON_IsNumber(c) ? (int64_t)c->valuedouble : 0;
    out->revoked_ms = cJSON_IsNumber(r) ? (int64_t)r->valuedouble : 0;
    return cd_key_validate(out, err);
}
