#include "cd_json.h"

#include "cd_text.h"

const char *cd_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool cd_json_num(const cJSON *o, const char *key, double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v))
        return false;
    *out = v->valuedouble;
    return true;
}

int64_t cd_json_int(const cJSON *o, const char *key, int64_t dflt)
{
    double v;
    return cd_json_num(o, key, &v) ? (int64_t)v : dflt;
}

bool cd_json_bool(const cJSON *o, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

int cd_json_strs(const cJSON *o, const char *key, char *out, int max, size_t cap)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    int n = 0;
    cJSON_ArrayForEach(it, arr)
    {
        if (n == max)
            break;
        if (cJSON_IsString(it))
            cd_copy(out + (size_t)n++ * cap, cap, it->valuestring);
    }
    return n;
}

void cd_json_add_strs(cJSON *o, const char *key, const char *first, int n, size_t stride)
{
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(first + (size_t)i * stride));
}

void cd_json_add_ints(cJSON *o, const char *key, const int *v, int n)
{
    cJSON *arr = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(v[i]));
}

void cd_json_ints(const cJSON *o, const char *key, int *v, int n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    int i = 0;
    cJSON_ArrayForEach(it, arr)
    {
        if (i == n)
            break;
        if (cJSON_IsNumber(it))
            v[i] = (int)it->valuedouble;
        i++;
    }
}

void cd_json_add_time(cJSON *o, const char *key, int64_t ms)
{
    if (ms)
        cJSON_AddNumberToObject(o, key, (double)ms);
    else
        cJSON_AddNullToObject(o, key);
}
