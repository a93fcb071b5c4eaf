#include "cd_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"

const char *cd_json_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void cd_json_add_str_cs(cJSON *o, const char *key, const char *value)
{
    cJSON_AddItemToObjectCS(o, key, cJSON_CreateString(value));
}

void cd_json_add_num_cs(cJSON *o, const char *key, double value)
{
    cJSON_AddItemToObjectCS(o, key, cJSON_CreateNumber(value));
}

void cd_json_add_item_cs(cJSON *o, const char *key, cJSON *item)
{
    cJSON_AddItemToObjectCS(o, key, item);
}

const cJSON *cd_json_seek(const cJSON *o, const cJSON **cur, const char *key)
{
    if (!o || !key)
        return NULL;
    const cJSON *start = *cur && *cur != o ? (*cur)->next : o->child;
    for (const cJSON *i = start; i; i = i->next)
        if (i->string && strcmp(i->string, key) == 0)
            return *cur = i;
    for (const cJSON *i = o->child; i && i != start; i = i->next)
        if (i->string && strcmp(i->string, key) == 0)
            return *cur = i;
    return NULL;
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

/* ------------------------------------------------------------------ printing */

typedef struct s_buf {
    char *p;
    size_t len, cap;
} s_buf_t;

static void s_reserve(s_buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->p = cd_xrealloc(b->p, cap);
    b->cap = cap;
}

static void s_put(s_buf_t *b, const char *s, size_t n)
{
    s_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void s_put_string(s_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    s_put(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        s_put(b, run, (size_t)(s - run));
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (ch) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u', esc[2] = '0', esc[3] = '0', esc[4] = hex[ch >> 4], esc[5] = hex[ch & 15];
            n = 6;
        }
        s_put(b, esc, n);
        run = s + 1;
    }
    s_put(b, run, (size_t)(s - run)); /* a run holds neither " nor \ */
    s_put(b, "\"", 1);
}

/* 10^0 .. 10^19, all exact in 64 bits. */
static const uint64_t s_pow10[20] = {1ULL,
                                     10ULL,
                                     100ULL,
                                     1000ULL,
                                     10000ULL,
                                     100000ULL,
                                     1000000ULL,
                                     10000000ULL,
                                     100000000ULL,
                                     1000000000ULL,
                                     10000000000ULL,
                                     100000000000ULL,
                                     1000000000000ULL,
                                     10000000000000ULL,
                                     100000000000000ULL,
                                     1000000000000000ULL,
                                     10000000000000000ULL,
                                     100000000000000000ULL,
                                     1000000000000000000ULL,
                                     10000000000000000000ULL};

/* |d| = m * 2^-E exactly, m < 2^53.  Rounds |d| to `digits` significant digits the way glibc's
 * printf does (to nearest, exact ties to even): *r gets the digits (10^(digits-1) <= r <
 * 10^digits) and *x the decimal exponent of the first one.  false when out of the exact
 * range (the caller then uses snprintf). */
static bool s_round_digits(uint64_t m, int E, int digits, int x, uint64_t *r, int *xout)
{
    for (int tries = 0; tries < 4; tries++) {
        int k = digits - 1 - x; /* decimals kept */
        if (k < 0 || k > 19)
            return false;
        unsigned __int128 s = (unsigned __int128)m * s_pow10[k];
        unsigned __int128 mask = ((unsigned __int128)1 << E) - 1,
                          half = (unsigned __int128)1 << (E - 1);
        unsigned __int128 q = s >> E, rem = s & mask;
        if (rem > half || (rem == half && (q & 1)))
            q++;
        if (q < s_pow10[digits - 1])
            x--;
        else if (q >= s_pow10[digits])
            x++; /* the estimate was low, or rounding carried into a new digit */
        else {
            *r = (uint64_t)q;
            *xout = x;
            return true;
        }
    }
    return false;
}

/* Whether the decimal r * 10^-k reads back (strtod, round to nearest) as m * 2^-E: it must lie
 * strictly within half an ulp (2^-E, m being normalised and not a power of two). */
static bool s_reads_back(uint64_t m, int E, uint64_t r, int k)
{
    unsigned __int128 a = ((unsigned __int128)r << (E + 1)),
                      b = (unsigned __int128)m * s_pow10[k] * 2;
    unsigned __int128 diff = a > b ? a - b : b - a;
    return diff < s_pow10[k];
}

/* "%1.<digits>g" of a number whose rounded exponent x is within [-4, digits): fixed notation,
 * trailing zeros and a bare point removed. */
static size_t s_put_fixed(char *out, bool neg, uint64_t r, int digits, int x)
{
    char dig[24];
    for (int i = digits - 1; i >= 0; i--) {
        dig[i] = (char)('0' + r % 10);
        r /= 10;
    }
    int n = digits;
    while (n > 1 && dig[n - 1] == '0' && n > x + 1)
        n--; /* trailing zeros after the point */
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    if (x < 0) {
        out[len++] = '0';
        out[len++] = '.';
        for (int i = -1; i > x; i--)
            out[len++] = '0';
        memcpy(out + len, dig, (size_t)n);
        len += (size_t)n;
    } else {
        memcpy(out + len, dig, (size_t)x + 1);
        len += (size_t)x + 1;
        if (n > x + 1) {
            out[len++] = '.';
            memcpy(out + len, dig + x + 1, (size_t)(n - x - 1));
            len += (size_t)(n - x - 1);
        }
    }
    out[len] = '\0';
    return len;
}

/* cJSON's text for 1e-3 <= |d| < 1e9 (coordinates, most measures) by exact integer arithmetic:
 * snprintf("%1.15g") with its strtod check cost about 6,000 instructions a number. */
static size_t s_format_fast(double d, char out[32])
{
    double a = fabs(d);
    if (!(a >= 1e-3 && a < 1e9))
        return 0;
    uint64_t bits;
    memcpy(&bits, &a, sizeof bits);
    int be = (int)(bits >> 52);
    uint64_t m = (bits & ((1ULL << 52) - 1)) | (1ULL << 52);
    int E = 1075 - be; /* a = m * 2^-E */
    if (m == (1ULL << 52) || E < 1 || E > 100)
        return 0; /* a power of two: its ulp below is smaller; leave it to snprintf */
    int x = 0;
    while (x < 9 && a >= (double)s_pow10[x + 1])
        x++;
    if (a < 1.0)
        x = a >= 0.1 ? -1 : a >= 0.01 ? -2 : -3;
    uint64_t r;
    int xr;
    if (!s_round_digits(m, E, 15, x, &r, &xr) || xr < -4 || xr >= 15)
        return 0;
    if (s_reads_back(m, E, r, 14 - xr))
        return s_put_fixed(out, d < 0, r, 15, xr);
    if (!s_round_digits(m, E, 17, x, &r, &xr) || xr < -4 || xr >= 17)
        return 0;
    return s_put_fixed(out, d < 0, r, 17, xr);
}

size_t cd_json_format_number(double d, char out[32])
{
    if (d != d || d - d != 0)
        return (size_t)snprintf(out, 32, "null"); /* NaN and infinities, as cJSON prints them */
    if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && !(d == 0 && signbit(d))) {
        /* An integer of at most 15 digits, which "%1.15g" would print as just its digits:
         * write them by hand (the common case: seqs, times, counters). */
        int64_t v = (int64_t)d;
        uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
        char tmp[24], *end = tmp + sizeof tmp, *q = end;
        do {
            *--q = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (v < 0)
            *--q = '-';
        size_t n = (size_t)(end - q);
        memcpy(out, q, n);
        out[n] = '\0';
        return n;
    }
    size_t fast = s_format_fast(d, out);
    if (fast)
        return fast;
    /* cJSON's way: 15 significant digits when they read back exactly, else 17. */
    int n = snprintf(out, 32, "%1.15g", d);
    if (strtod(out, NULL) != d)
        n = snprintf(out, 32, "%1.17g", d);
    return (size_t)n;
}

static void s_put_number(s_buf_t *b, double d)
{
    char tmp[32];
    size_t n = cd_json_format_number(d, tmp);
    s_put(b, tmp, n);
}

static void s_print_item(s_buf_t *b, const cJSON *o)
{
    switch (o->type & 0xFF) {
    case cJSON_NULL:
        s_put(b, "null", 4);
        break;
    case cJSON_False:
        s_put(b, "false", 5);
        break;
    case cJSON_True:
        s_put(b, "true", 4);
        break;
    case cJSON_Number:
        s_put_number(b, o->valuedouble);
        break;
    case cJSON_Raw:
        if (o->valuestring)
            s_put(b, o->valuestring, strlen(o->valuestring));
        break;
    case cJSON_String:
        s_put_string(b, o->valuestring ? o->valuestring : "");
        break;
    case cJSON_Array:
    case cJSON_Object: {
        bool obj = (o->type & 0xFF) == cJSON_Object;
        s_put(b, obj ? "{" : "[", 1);
        for (const cJSON *c = o->child; c; c = c->next) {
            if (obj) {
                s_put_string(b, c->string ? c->string : "");
                s_put(b, ":", 1);
            }
            s_print_item(b, c);
            if (c->next)
                s_put(b, ",", 1);
        }
        s_put(b, obj ? "}" : "]", 1);
        break;
    }
    default:
        s_put(b, "null", 4);
        break;
    }
}

char *cd_json_print(const cJSON *o)
{
    s_buf_t b = {0};
    s_reserve(&b, 256);
    s_print_item(&b, o);
    b.p[b.len] = '\0';
    return b.p;
}

void cd_json_print_append(const cJSON *o, char **buf, size_t *len, size_t *cap)
{
    s_buf_t b = {*buf, *len, *buf ? *cap : 0};
    s_reserve(&b, 256);
    s_print_item(&b, o);
    b.p[b.len] = '\0';
    *buf = b.p;
    *len = b.len;
    *cap = b.cap;
}
