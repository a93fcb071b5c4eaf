/*  fuzz_http_query.c — an HTTP request's query string (src/server/http_query.c).
 *
 *  The input is split two ways, as libwebsockets may hand it over: whole ("a=1&b=2", split
 *  here on '&') and as NUL-separated fragments.  Then the typed getters run on what was
 *  accepted.  Besides memory safety: every refusal names a field and has a sentence, and
 *  every accepted key and value is clean text within its bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"
#include "http_query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_check(const http_query_t *q, int rc, const cd_error_t *err)
{
    if (rc != CD_OK) {
        if (!err->field[0] || !err->message[0] || rc != CD_EINVAL) {
            fprintf(stderr, "refusal without field or sentence (%d)\n", rc);
            abort();
        }
        return;
    }
    if (q->n < 0 || q->n > HTTP_QUERY_MAX_PARAMS)
        abort();
    for (int i = 0; i < q->n; i++) {
        if (!cd_text_is_ident(q->p[i].key, HTTP_QUERY_KEY_MAX) ||
            strlen(q->p[i].value) > HTTP_QUERY_VALUE_MAX ||
            !cd_text_is_clean(q->p[i].value, false)) {
            fprintf(stderr, "accepted a bad parameter\n");
            abort();
        }
    }
    static const char *const allowed[] = {"from", "to", "limit", "type", NULL};
    long long v;
    cd_error_t e2;
    (void)http_query_int(q, "limit", 1, 1000, 50, &v, &e2);
    (void)http_query_int(q, "from", -9007199254740991LL, 9007199254740991LL, 0, &v, &e2);
    (void)http_query_get(q, "type");
    (void)http_query_only(q, allowed, &e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_query_t q;
    cd_error_t err;
    http_query_init(&q);
    s_check(&q, http_query_parse(&q, (const char *)data, size, &err), &err);

    http_query_init(&q);
    const char *p = (const char *)data, *end = p + size;
    int rc = CD_OK;
    while (rc == CD_OK && p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        const char *stop = nul ? nul : end;
        rc = http_query_add(&q, p, (size_t)(stop - p), &err);
        p = stop + (nul ? 1 : 0);
    }
    s_check(&q, rc, &err);
    return 0;
}
