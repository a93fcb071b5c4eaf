#include "cd_text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

bool cd_text_is_clean(const char *s, bool allow_newline)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t extra;
        if (c < 0x80) {
            if (c < 0x20 && !(c == '\t' || (allow_newline && (c == '\n' || c == '\r'))))
                return false;
            if (c == 0x7f)
                return false;
            p++;
            continue;
        }
        if ((c & 0xe0) == 0xc0 && c >= 0xc2)
            extra = 1;
        else if ((c & 0xf0) == 0xe0)
            extra = 2;
        else if ((c & 0xf8) == 0xf0 && c <= 0xf4)
            extra = 3;
        else
            return false;
        unsigned cp = c & (0x3f >> extra);
        for (size_t i = 1; i <= extra; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Reject overlong forms, surrogates and values past U+10FFFF. */
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += extra + 1;
    }
    return true;
}

bool cd_text_is_token(const char *s, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (s[n] < 0x21 || s[n] > 0x7e || n >= max)
            return false;
    return n > 0;
}

bool cd_text_is_ident(const char *s, size_t max)
{
    if (!(s[0] >= 'a' && s[0] <= 'z'))
        return false;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    return true;
}

bool cd_text_is_language_tag(const char *s)
{
    size_t len = strlen(s);
    if (len < 2 || len > 35)
        return false;
    size_t i = 0, sub = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && s[i] != '-') {
            if (!isalnum((unsigned char)s[i]) || (sub == 0 && !isalpha((unsigned char)s[i])))
                return false;
            i++;
        }
        size_t n = i - start;
        if (sub == 0 ? (n < 2 || n > 3) : (n < 1 || n > 8))
            return false;
        sub++;
        if (i < len) {
            i++; /* the '-' */
            if (i == len)
                return false; /* trailing '-' */
        }
    }
    return true;
}

bool cd_text_is_phone(const char *s)
{
    int digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digits++;
        else if (!strchr(" +-().x", *p))
            return false;
    }
    return digits >= 3;
}

void *cd_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        abort(); /* the engine cannot continue half-applied; see cd_text.h */
    return p;
}

void *cd_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        abort(); /* the engine cannot continue half-applied; see cd_text.h */
    return p;
}

void *cd_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        abort();
    return q;
}

char *cd_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = cd_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

void cd_copy(char *dst, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

void cd_text_language_normalize(char *tag)
{
    size_t sub = 0;
    char *p = tag;
    while (*p) {
        char *start = p;
        while (*p && *p != '-')
            p++;
        size_t n = (size_t)(p - start);
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)start[i];
            bool upper = false;
            if (sub > 0 && n == 2 && isalpha(c))
                upper = true; /* region */
            else if (sub > 0 && n == 4 && i == 0 && isalpha(c))
                upper = true; /* script, title case */
            start[i] = (char)(upper ? toupper(c) : tolower(c));
        }
        sub++;
        if (*p == '-')
            p++;
    }
}

bool cd_text_language_matches(const char *a, const char *b)
{
    if (!a || !b || !*a || !*b)
        return false;
    size_t i = 0;
    for (; a[i] && a[i] != '-' && b[i] && b[i] != '-'; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return false;
    bool a_end = !a[i] || a[i] == '-', b_end = !b[i] || b[i] == '-';
    return a_end && b_end;
}

void cd_text_utf8_trim(char *s)
{
    size_t n = strlen(s), start = n;
    /* Back up over continuation bytes to the lead byte of the last sequence. */
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80)
        start--;
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3 : 4;
    if (lead >= 0x80 && n - (start - 1) < need)
        s[start - 1] = '\0';
}
