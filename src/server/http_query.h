/*  http_query.h — the query parameters of an HTTP request, checked before any handler reads
 *  them.  Pure: no libwebsockets, no I/O, so it can be fuzzed on its own (tests/fuzz).
 *
 *  libwebsockets hands the query over as fragments ("key=value", already percent-decoded),
 *  one per '&'.  Each is checked here: a key is a lower-case identifier, a value is clean
 *  UTF-8 without control characters, both are bounded, and there are at most
 *  HTTP_QUERY_MAX_PARAMS of them, each named once.  A refusal is a cd_error_t whose field is
 *  the parameter's name ("query" when there is no usable name), for a 400 reply.
 */
#ifndef HTTP_QUERY_H
#define HTTP_QUERY_H

#include <stddef.h>

#include "cd_error.h"

#define HTTP_QUERY_MAX_PARAMS 16
#define HTTP_QUERY_KEY_MAX    32
#define HTTP_QUERY_VALUE_MAX  256

typedef struct http_query {
    int n;
    struct {
        char key[HTTP_QUERY_KEY_MAX + 1];
        char value[HTTP_QUERY_VALUE_MAX + 1];
    } p[HTTP_QUERY_MAX_PARAMS];
} http_query_t;

void http_query_init(http_query_t *q);
/* Adds one fragment of len bytes (may hold NUL bytes, which are refused).  "key" alone is
 * "key=" (an empty value).  Returns CD_OK or CD_EINVAL with *err. */
int http_query_add(http_query_t *q, const char *frag, size_t len, cd_error_t *err);
/* Splits a whole query string ("a=1&b=2", no '?') on '&' and adds each fragment. */
int http_query_parse(http_query_t *q, const char *qs, size_t len, cd_error_t *err);

/* The value of key, or NULL when it was not given. */
const char *http_query_get(const http_query_t *q, const char *key);
/* key as a decimal integer in [lo, hi]; dflt when absent.  CD_EINVAL names key. */
int http_query_int(const http_query_t *q, const char *key, long long lo, long long hi,
                   long long dflt, long long *out, cd_error_t *err);
/* CD_EINVAL naming the first parameter not in the NULL-terminated list `allowed`. */
int http_query_only(const http_query_t *q, const char *const *allowed, cd_error_t *err);

#endif
