/*  sim_csv.c — reading and writing the simulator's scenario files (CSV, RFC 4180 subset).
 *
 *  Fields are separated by ',', records by LF or CRLF; a field may be double-quoted, and then
 *  holds commas, line breaks and "" for one quote.  Every error names the file, the line and
 *  the column, because these files are edited by hand.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli_sim.h"

const char *const sim_roster_header = "unit_id,type,name,languages,capabilities,area,lat,lon";
const char *const sim_calls_header = "t_offset_s,type,priority,lat,lon,area,language,flags,summary";

#define S_MAX_FIELDS 16

typedef struct s_csv {
    const char *path;
    char *text; /* the whole file, NUL-terminated */
    size_t len, pos;
    int line;      /* line where the current record starts */
    int at_line;   /* line of text[pos] */
    char *scratch; /* unquoted fields of the current record, each NUL-terminated */
    char *fields[S_MAX_FIELDS];
    int n;
    const char *const *names; /* column names, for messages */
} s_csv_t;

static int s_error(const s_csv_t *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int s_error(const s_csv_t *c, int line, int col, const char *fmt, ...)
{
    fprintf(stderr, "codispatch: %s:%d: ", c->path, line);
    if (col > 0)
        fprintf(stderr, "column %d (%s): ", col, c->names ? c->names[col - 1] : "?");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_USAGE;
}

static int s_open(s_csv_t *c, const char *path)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "codispatch: cannot read %s: %s\n", path, strerror(errno));
        return CLI_USAGE;
    }
    size_t cap = 1 << 16;
    c->text = malloc(cap);
    for (size_t got; c->text && (got = fread(c->text + c->len, 1, cap - c->len - 1, f)) > 0;) {
        c->len += got;
        if (c->len + 1 == cap) {
            char *bigger = realloc(c->text, cap *= 2);
            if (!bigger)
                free(c->text);
            c->text = bigger;
        }
    }
    bool bad = ferror(f) || !c->text;
    fclose(f);
    if (bad) {
        fprintf(stderr, "codispatch: cannot read %s\n", path);
        free(c->text);
        return CLI_USAGE;
    }
    c->text[c->len] = '\0';
    if (memchr(c->text, '\0', c->len)) {
        free(c->text);
        fprintf(stderr, "codispatch: %s is not a text file (it holds NUL bytes)\n", path);
        return CLI_USAGE;
    }
    c->scratch = malloc(c->len + S_MAX_FIELDS + 1); /* never longer than the file */
    if (!c->scratch) {
        free(c->text);
        fprintf(stderr, "codispatch: out of memory reading %s\n", path);
        return CLI_USAGE;
    }
    c->at_line = 1;
    return 0;
}

static void s_close(s_csv_t *c)
{
    free(c->text);
    free(c->scratch);
}

/* Reads the next record into c->fields.  Returns 1 for a record, 0 at the end of the file,
 * CLI_USAGE (message printed) for a malformed one.  Blank lines are skipped. */
static int s_next(s_csv_t *c)
{
    while (c->pos < c->len && (c->text[c->pos] == '\n' || c->text[c->pos] == '\r')) {
        if (c->text[c->pos] == '\n')
            c->at_line++;
        c->pos++;
    }
    if (c->pos >= c->len)
        return 0;
    c->line = c->at_line;
    c->n = 0;
    char *out = c->scratch;
    for (;;) {
        if (c->n == S_MAX_FIELDS)
            return s_error(c, c->line, 0, "more than %d columns", S_MAX_FIELDS);
        c->fields[c->n++] = out;
        const char *t = c->text;
        if (t[c->pos] == '"') {
            int opened = c->at_line;
            c->pos++;
            for (;;) {
                if (c->pos >= c->len)
                    return s_error(c, opened, 0,
                                   "column %d: the quoted field opened here is never closed", c->n);
                if (t[c->pos] == '"' && t[c->pos + 1] == '"') {
                    *out++ = '"';
                    c->pos += 2;
                } else if (t[c->pos] == '"') {
                    c->pos++;
                    break;
                } else {
                    if (t[c->pos] == '\n')
                        c->at_line++;
                    *out++ = t[c->pos++];
                }
            }
            if (c->pos < c->len && t[c->pos] != ',' && t[c->pos] != '\n' &&
                !(t[c->pos] == '\r' && t[c->pos + 1] == '\n'))
                return s_error(c, c->at_line, 0,
                               "column %d: text after the closing quote (write \"\" for a "
                               "quote inside a quoted field)",
                               c->n);
        } else {
            while (c->pos < c->len && t[c->pos] != ',' && t[c->pos] != '\n' &&
                   !(t[c->pos] == '\r' && t[c->pos + 1] == '\n')) {
                if (t[c->pos] == '"')
                    return s_error(c, c->at_line, 0,
                                   "column %d: a quote inside an unquoted field (quote the "
                                   "whole field and write \"\")",
                                   c->n);
                *out++ = t[c->pos++];
            }
        }
        *out++ = '\0';
        if (c->pos >= c->len)
            return 1;
        if (t[c->pos] == ',') {
            c->pos++;
            continue;
        }
        c->pos += t[c->pos] == '\r' ? 2 : 1; /* the record's line break */
        c->at_line++;
        return 1;
    }
}

/* Reads the header and checks it against the expected one; sets the column names. */
static int s_header(s_csv_t *c, const char *expected, const char *const *names, int n)
{
    int rc = s_next(c);
    if (rc == 0)
        return s_error(c, 1, 0, "the file is empty; expected the header '%s'", expected);
    if (rc != 1)
        return rc;
    bool same = c->n == n;
    for (int i = 0; same && i < n; i++)
        same = strcmp(c->fields[i], names[i]) == 0;
    if (!same)
        return s_error(c, c->line, 0, "expected the header '%s'", expected);
    c->names = names;
    return 0;
}

static int s_columns(s_csv_t *c, int n)
{
    if (c->n != n)
        return s_error(c, c->line, 0, "expected %d columns, found %d", n, c->n);
    return 0;
}

static int s_double(s_csv_t *c, int col, double lo, double hi, double *out)
{
    const char *s = c->fields[col - 1];
    if (!cli_parse_double(s, out) || *out < lo || *out > hi)
        return s_error(c, c->line, col, "%s must be a number between %g and %g; got '%.40s'",
                       c->names[col - 1], lo, hi, s);
    return 0;
}

/* Free text of at most max bytes. */
static int s_text(s_csv_t *c, int col, size_t max, bool allow_newline)
{
    const char *s = c->fields[col - 1];
    if (strlen(s) > max)
        return s_error(c, c->line, col, "at most %zu bytes; got %zu", max, strlen(s));
    if (!cd_text_is_clean(s, allow_newline))
        return s_error(c, c->line, col, "must be UTF-8 text without control characters");
    return 0;
}

/* A ';'-separated list into items[max][cap]; each item must pass valid(). */
static int s_list(s_csv_t *c, int col, char *items, size_t cap, int max, int *n,
                  bool (*valid)(const char *), const char *what)
{
    *n = 0;
    char *s = c->fields[col - 1];
    while (*s) {
        char *end = strchr(s, ';');
        if (end)
            *end = '\0';
        while (*s == ' ')
            s++;
        for (size_t k = strlen(s); k > 0 && s[k - 1] == ' '; k--)
            s[k - 1] = '\0';
        if (*s) {
            if (*n == max)
                return s_error(c, c->line, col, "at most %d items", max);
            if (strlen(s) >= cap || !valid(s))
                return s_error(c, c->line, col, "'%.40s' is not %s", s, what);
            cd_copy(items + (size_t)*n * cap, cap, s);
            (*n)++;
        }
        if (!end)
            break;
        s = end + 1;
    }
    return 0;
}

static bool s_is_type(const char *s)
{
    return cd_text_is_ident(s, CD_TYPE_MAX);
}

/* ------------------------------------------------------------------ roster */

static int s_roster_row(s_csv_t *c, sim_unit_t *u)
{
    int rc = s_columns(c, 8);
    if (rc)
        return rc;
    memset(u, 0, sizeof *u);
    const char *id = c->fields[0];
    if (!cd_text_is_token(id, CD_UNIT_ID_MAX))
        return s_error(c, c->line, 1, "a unit id is 1-%d printable characters without spaces",
                       CD_UNIT_ID_MAX);
    cd_copy(u->id, sizeof u->id, id);
    if (sim_unit_type_index(c->fields[1]) < 0)
        return s_error(c, c->line, 2,
                       "'%.40s' is not a unit type (mh_team, apru, sober, therapeutic_van, "
                       "smart, rescue_ambulance, fire_engine, patrol)",
                       c->fields[1]);
    cd_copy(u->type, sizeof u->type, c->fields[1]);
    if ((rc = s_text(c, 3, CD_UNIT_NAME_MAX, false)))
        return rc;
    cd_copy(u->name, sizeof u->name, c->fields[2]);
    rc = s_list(c, 4, u->languages[0], sizeof u->languages[0], CD_UNIT_LANGS_MAX, &u->n_languages,
                cd_text_is_language_tag, "a language tag such as es or zh-Hant");
    if (rc)
        return rc;
    for (int i = 0; i < u->n_languages; i++)
        cd_text_language_normalize(u->languages[i]);
    rc = s_list(c, 5, u->capabilities[0], sizeof u->capabilities[0], CD_UNIT_CAPS_MAX,
                &u->n_capabilities, s_is_type, "a capability such as naloxone");
    if (rc || (rc = s_text(c, 6, CD_AREA_MAX, false)))
        return rc;
    cd_copy(u->area, sizeof u->area, c->fields[5]);
    bool has_lat = c->fields[6][0] != '\0', has_lon = c->fields[7][0] != '\0';
    if (has_lat != has_lon)
        return s_error(c, c->line, has_lat ? 8 : 7, "lat and lon go together (or both empty)");
    if (has_lat &&
        ((rc = s_double(c, 7, -90, 90, &u->lat)) || (rc = s_double(c, 8, -180, 180, &u->lon))))
        return rc;
    u->has_position = has_lat;
    return 0;
}

int sim_load_roster(const char *path, sim_unit_t **out, size_t *n)
{
    static const char *const names[] = {"unit_id",      "type", "name", "languages",
                                        "capabilities", "area", "lat",  "lon"};
    s_csv_t c;
    int rc = s_open(&c, path);
    if (rc)
        return rc;
    rc = s_header(&c, sim_roster_header, names, 8);
    size_t cap = 64, len = 0;
    sim_unit_t *units = malloc(cap * sizeof *units);
    while (rc == 0 && (rc = s_next(&c)) == 1) {
        if (len == cap) {
            sim_unit_t *bigger = realloc(units, (cap *= 2) * sizeof *units);
            if (!bigger) {
                fprintf(stderr, "codispatch: out of memory reading %s\n", path);
                rc = CLI_USAGE;
                break;
            }
            units = bigger;
        }
        rc = s_roster_row(&c, &units[len]);
        for (size_t k = 0; rc == 0 && k < len; k++)
            if (strcmp(units[k].id, units[len].id) == 0)
                rc = s_error(&c, c.line, 1, "unit %s is listed twice", units[len].id);
        len++;
    }
    if (rc == 0 && len == 0)
        rc = s_error(&c, c.at_line, 0, "no units after the header");
    s_close(&c);
    if (rc) {
        free(units);
        return rc;
    }
    *out = units;
    *n = len;
    return 0;
}

/* ------------------------------------------------------------------ calls */

static int s_call_row(s_csv_t *c, sim_call_t *k)
{
    int rc = s_columns(c, 9);
    if (rc)
        return rc;
    long v;
    if (!cli_parse_long(c->fields[0], &v) || v < 0 || v > 10L * 366 * 86400)
        return s_error(c, c->line, 1, "t_offset_s must be whole seconds from 0; got '%.40s'",
                       c->fields[0]);
    k->t_offset_s = v;
    if (sim_call_type_index(c->fields[1]) < 0)
        return s_error(c, c->line, 2,
                       "'%.40s' is not a call type (mental_health, suicide_risk, substance, "
                       "welfare_check, homeless_outreach, medical, fire, violent_crisis, other)",
                       c->fields[1]);
    cd_copy(k->type, sizeof k->type, c->fields[1]);
    if (!cli_parse_long(c->fields[2], &v) || v < 1 || v > 4)
        return s_error(c, c->line, 3, "priority must be between 1 (highest) and 4; got '%.40s'",
                       c->fields[2]);
    k->priority = (int)v;
    if ((rc = s_double(c, 4, -90, 90, &k->lat)) || (rc = s_double(c, 5, -180, 180, &k->lon)) ||
        (rc = s_text(c, 6, CD_AREA_MAX, false)))
        return rc;
    cd_copy(k->area, sizeof k->area, c->fields[5]);
    const char *lang = c->fields[6];
    if (*lang && (strlen(lang) > CD_LANGUAGE_MAX || !cd_text_is_language_tag(lang)))
        return s_error(c, c->line, 7, "'%.40s' is not a language tag such as es or zh-Hant", lang);
    cd_copy(k->language, sizeof k->language, lang);
    cd_text_language_normalize(k->language);
    char flags[3][CD_TYPE_MAX + 1];
    int nf;
    if ((rc = s_list(c, 8, flags[0], sizeof flags[0], 3, &nf, s_is_type, "a flag")))
        return rc;
    for (int i = 0; i < nf; i++) {
        if (strcmp(flags[i], "weapon") == 0)
            k->risk |= CD_RISK_WEAPON;
        else if (strcmp(flags[i], "violence") == 0)
            k->risk |= CD_RISK_VIOLENCE;
        else if (strcmp(flags[i], "medical") == 0)
            k->risk |= CD_RISK_MEDICAL;
        else
            return s_error(c, c->line, 8, "'%s' is not a flag (weapon, violence, medical)",
                           flags[i]);
    }
    if ((rc = s_text(c, 9, CD_SUMMARY_MAX, true)))
        return rc;
    k->summary = cd_strdup(c->fields[8]);
    return 0;
}

static int s_by_offset(const void *pa, const void *pb)
{
    const sim_call_t *a = pa, *b = pb;
    if (a->t_offset_s != b->t_offset_s)
        return a->t_offset_s < b->t_offset_s ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line; /* stable: file order */
}

int sim_load_calls(const char *path, sim_call_t **out, size_t *n)
{
    static const char *const names[] = {"t_offset_s", "type",     "priority", "lat",    "lon",
                                        "area",       "language", "flags",    "summary"};
    s_csv_t c;
    int rc = s_open(&c, path);
    if (rc)
        return rc;
    rc = s_header(&c, sim_calls_header, names, 9);
    size_t cap = 256, len = 0;
    sim_call_t *calls = malloc(cap * sizeof *calls);
    while (rc == 0 && (rc = s_next(&c)) == 1) {
        if (len == cap) {
            sim_call_t *bigger = realloc(calls, (cap *= 2) * sizeof *calls);
            if (!bigger) {
                fprintf(stderr, "codispatch: out of memory reading %s\n", path);
                rc = CLI_USAGE;
                break;
            }
            calls = bigger;
        }
        memset(&calls[len], 0, sizeof calls[len]);
        calls[len].line = c.line;
        rc = s_call_row(&c, &calls[len]);
        len++; /* counted even when bad, so its summary (if any) is freed */
    }
    s_close(&c);
    if (rc) {
        sim_calls_free(calls, len);
        return rc;
    }
    qsort(calls, len, sizeof *calls, s_by_offset);
    *out = calls;
    *n = len;
    return 0;
}

void sim_calls_free(sim_call_t *calls, size_t n)
{
    for (size_t i = 0; calls && i < n; i++)
        free(calls[i].summary);
    free(calls);
}

/* ------------------------------------------------------------------ writing */

void sim_csv_put(FILE *f, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}
