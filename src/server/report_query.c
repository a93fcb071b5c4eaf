/*  report_query.c — the checks of a report's parameters (kind, from, to, by) and of
 *  demographic codes: pure, no I/O, shared by the control socket, HTTP and the export.
 */
#include "reports.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cd_text.h"

#define MAX_RANGE_DAYS 400 /* one report spans at most this: bounds the query's cost */

static const char *const s_kinds[] = {"response", "diversion", "language", "equity", "staffing"};
static const char *const s_call_dims[] = {"area",     "type",           "priority",
                                          "language", "race_ethnicity", "hour"};
static const char *const s_staff_dims[] = {"type", "area", "hour"};

/* The codes of migration 0003's demographic_categories (its trigger checks them again). */
static const char *const s_race[] = {"hispanic_latino",
                                     "white",
                                     "black",
                                     "asian",
                                     "native_hawaiian_pacific_islander",
                                     "american_indian_alaska_native",
                                     "multiracial",
                                     "other",
                                     "unknown",
                                     "declined",
                                     "not_asked"};
static const char *const s_age[] = {"under_18", "18_24",   "25_34",   "35_44",    "45_54",
                                    "55_64",    "65_plus", "unknown", "declined", "not_asked"};
static const char *const s_gender[] = {"female",  "male",    "transgender", "nonbinary",
                                       "another", "unknown", "declined",    "not_asked"};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool s_in(const char *s, const char *const *set, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, set[i]) == 0)
            return true;
    return false;
}

static void s_join(const char *const *set, size_t n, char *out, size_t cap)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%s%s", i ? ", " : "", set[i]);
}

bool report_category_ok(const char *dimension, const char *code)
{
    if (strcmp(dimension, "race_ethnicity") == 0)
        return s_in(code, s_race, N(s_race));
    if (strcmp(dimension, "age_band") == 0)
        return s_in(code, s_age, N(s_age));
    if (strcmp(dimension, "gender") == 0)
        return s_in(code, s_gender, N(s_gender));
    return false;
}

static int s_digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* YYYY-MM-DD, or YYYY-MM-DDTHH:MM[:SS[.fraction]] with Z or +HH:MM / -HH:MM.  Fills the
 * instant (UTC seconds; a date counts as its midnight UTC, close enough for the range checks
 * the SQL then applies exactly) and whether it was a date alone. */
static bool s_parse_time(const char *s, int64_t *at, bool *date_only)
{
    size_t len = strlen(s);
    if (len < 10 || len > 35 || s[4] != '-' || s[7] != '-')
        return false;
    int y = s_digits(s, 4), mo = s_digits(s + 5, 2), d = s_digits(s + 8, 2);
    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d};
    int off = 0;
    *date_only = len == 10;
    if (!*date_only) {
        const char *p = s + 10;
        if ((*p != 'T' && *p != ' ') || strlen(p) < 6 || p[3] != ':')
            return false;
        int h = s_digits(p + 1, 2), mi = s_digits(p + 4, 2), sec = 0;
        p += 6;
        if (*p == ':') {
            sec = s_digits(p + 1, 2); /* -1 unless two digits: stops at a NUL */
            if (sec < 0)
                return false;
            p += 3;
            if (*p == '.') {
                p++;
                if (!isdigit((unsigned char)*p))
                    return false;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
            return false;
        if (*p == 'Z' && p[1] == '\0') {
            off = 0;
        } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
            int oh = s_digits(p + 1, 2), om = s_digits(p + 4, 2);
            if (oh < 0 || oh > 14 || om < 0 || om > 59)
                return false;
            off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        } else {
            return false; /* a zone is required: the server's and the analyst's may differ */
        }
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
    }
    *at = (int64_t)timegm(&tm) - off;
    return true;
}

int report_range_check(const char *from, const char *to, cd_error_t *err)
{
    int64_t a, b;
    bool da, db;
    if (!from || !*from)
        return cd_error_set(err, CD_EINVAL, "from", "from is required (a date such as 2026-10-05)");
    if (!to || !*to)
        return cd_error_set(err, CD_EINVAL, "to", "to is required (a date such as 2026-10-05)");
    if (!s_parse_time(from, &a, &da))
        return cd_error_set(err, CD_EINVAL, "from",
                            "from must be a date YYYY-MM-DD or a timestamp such as "
                            "2026-10-05T08:00:00Z; got '%.40s'",
                            from);
    if (!s_parse_time(to, &b, &db))
        return cd_error_set(err, CD_EINVAL, "to",
                            "to must be a date YYYY-MM-DD or a timestamp such as "
                            "2026-10-05T08:00:00Z; got '%.40s'",
                            to);
    if (db)
        b += 86400; /* a date as the upper bound means through the end of that day */
    if (b <= a)
        return cd_error_set(err, CD_EINVAL, "to", "to must be after from");
    if (b - a > (int64_t)MAX_RANGE_DAYS * 86400)
        return cd_error_set(err, CD_EINVAL, "to", "a report spans at most %d days", MAX_RANGE_DAYS);
    return CD_OK;
}

int report_query_check(const char *kind, const char *from, const char *to, const char *by,
                       report_query_t *out, cd_error_t *err)
{
    char list[160];
    memset(out, 0, sizeof *out);
    if (!kind || !*kind || !s_in(kind, s_kinds, N(s_kinds))) {
        s_join(s_kinds, N(s_kinds), list, sizeof list);
        return cd_error_set(err, CD_EINVAL, "kind", "kind must be one of %s; got '%.32s'", list,
                            kind ? kind : "");
    }
    bool staffing = strcmp(kind, "staffing") == 0;
    if (!by || !*by)
        by = staffing ? "type" : strcmp(kind, "language") == 0 ? "language" : "area";
    if (staffing ? !s_in(by, s_staff_dims, N(s_staff_dims))
                 : !s_in(by, s_call_dims, N(s_call_dims))) {
        if (staffing)
            s_join(s_staff_dims, N(s_staff_dims), list, sizeof list);
        else
            s_join(s_call_dims, N(s_call_dims), list, sizeof list);
        return cd_error_set(err, CD_EINVAL, "by",
                            "by must be one of %s for the %s report; got '%.32s'", list, kind, by);
    }
    int rc = report_range_check(from, to, err);
    if (rc)
        return rc;
    /* Demographics only over whole days: with bounds to the second, two reports a second
     * apart would differ by one call and give away that caller's answer. */
    if (strcmp(by, "race_ethnicity") == 0 && (strlen(from) != 10 || strlen(to) != 10))
        return cd_error_set(err, CD_EINVAL, strlen(from) != 10 ? "from" : "to",
                            "by race_ethnicity takes whole days (YYYY-MM-DD), so that no single "
                            "caller's answer can be isolated by narrowing the range");
    cd_copy(out->kind, sizeof out->kind, kind);
    cd_copy(out->by, sizeof out->by, by);
    cd_copy(out->from, sizeof out->from, from);
    cd_copy(out->to, sizeof out->to, to);
    return CD_OK;
}
