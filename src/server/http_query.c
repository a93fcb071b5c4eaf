#include "http_query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"

void http_query_init(http_query_t *q)
{
    memset(q, 0, sizeof *q);
}

int http_query_add(http_query_t *q, const char *frag, size_t len, cd_error_t *err)
{
    if (len == 0)
        return CD_OK; /* "a=1&&b=2": an empty fragment says nothing */
    if (memchr(frag, '\0', len))
        return cd_error_set(err, CD_EINVAL, "query", "the query holds a NUL byte");
    const char *eq = memchr(frag, '=', len);
    size_t klen = eq ? (size_t)(eq - frag) : len;
    size_t vlen = eq ? len - klen - 1 : 0;
    if (klen == 0)
        return cd_error_set(err, CD_EINVAL, "query", "a query parameter has no name");
    char key[HTTP_QUERY_KEY_MAX + 1];
    if (klen > HTTP_QUERY_KEY_MAX)
        return cd_error_set(err, CD_EINVAL, "query",
                            "a query parameter name is longer than %d bytes", HTTP_QUERY_KEY_MAX);
    memcpy(key, frag, klen);
    key[klen] = '\0';
    if (!cd_text_is_ident(key, HTTP_QUERY_KEY_MAX))
        return cd_error_set(err, CD_EINVAL, "query",
                            "query parameter names are lower-case words ([a-z][a-z0-9_]*)");
    if (vlen > HTTP_QUERY_VALUE_MAX)
        return cd_error_set(err, CD_EINVAL, key, "%s is longer than %d bytes", key,
                            HTTP_QUERY_VALUE_MAX);
    if (http_query_get(q, key))
        return cd_error_set(err, CD_EINVAL, key, "%s is given more than once", key);
    if (q->n == HTTP_QUERY_MAX_PARAMS)
        return cd_error_set(err, CD_EINVAL, "query", "more than %d query parameters",
                            HTTP_QUERY_MAX_PARAMS);
    char *value = q->p[q->n].value;
    if (vlen)
        memcpy(value, eq + 1, vlen);
    value[vlen] = '\0';
    if (!cd_text_is_clean(value, false))
        return cd_error_set(err, CD_EINVAL, key, "%s must be UTF-8 text without control characters",
                            key);
    memcpy(q->p[q->n].key, key, klen + 1);
    q->n++;
    return CD_OK;
}

int http_query_parse(http_query_t *q, const char *qs, size_t len, cd_error_t *err)
{
    const char *p = qs, *end = qs + len;
    while (p <= end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        int rc = http_query_add(q, p, (size_t)(stop - p), err);
        if (rc != CD_OK)
            return rc;
        if (!amp)
            break;
        p = amp + 1;
    }
    return CD_OK;
}

const char *http_query_get(const http_query_t *q, const char *key)
{
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->p[i].key, key) == 0)
            return q->p[i].value;
    return NULL;
}

int http_query_int(const http_query_t *q, const char *key, long long lo, long long hi,
                   long long dflt, long long *out, cd_error_t *err)
{
    const char *v = http_query_get(q, key);
    if (!v) {
        *out = dflt;
        return CD_OK;
    }
    char *end = NULL;
    errno = 0;
    long long n = *v && (*v == '-' || (*v >= '0' && *v <= '9')) ? strtoll(v, &end, 10) : 0;
    if (!end || *end || errno || n < lo || n > hi)
        return cd_error_set(err, CD_EINVAL, key, "%s must be a whole number from %lld to %lld", key,
                            lo, hi);
    *out = n;
    return CD_OK;
}

int http_query_only(const http_query_t *q, const char *const *allowed, cd_error_t *err)
{
    for (int i = 0; i < q->n; i++) {
        bool known = false;
        for (const char *const *a = allowed; *a && !known; a++)
            known = strcmp(*a, q->p[i].key) == 0;
        if (!known)
            return cd_error_set(err, CD_EINVAL, q->p[i].key, "%s is not a parameter of this path",
                                q->p[i].key);
    }
    return CD_OK;
}
