/*  store_rows.c — the batch's rows of events, calls and requests as PostgreSQL array
 *  literals, one parameter per column, unnested by the INSERTs in store_sql.c.
 *
 *  Why not one JSON array per table: PostgreSQL spent about 19 µs per call row turning
 *  jsonb_to_recordset's JSON into columns, against about 5 µs for parsing typed arrays, and
 *  building a cJSON tree per row to print it was a quarter of the server's own work per
 *  command (see README, Benchmarks).  Text elements are always quoted, with " and \ escaped;
 *  NULL is the bare word.  A command's recorded reply goes into the row of its first event
 *  (migration 0005); only replies without an event are rows of `requests`.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_json.h"
#include "cd_text.h"
#include "store_sql.h"
#include "uthash.h"

typedef struct s_arr {
    char *p;
    size_t len, cap, n;
} s_arr_t;

static void s_reserve(s_arr_t *a, size_t more)
{
    if (a->len + more + 2 <= a->cap) /* room for the closing brace and NUL too */
        return;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more + 2)
        cap *= 2;
    a->p = cd_xrealloc(a->p, cap);
    a->cap = cap;
}

static void s_raw(s_arr_t *a, const char *s, size_t n)
{
    s_reserve(a, n + 1);
    if (a->n++)
        a->p[a->len++] = ',';
    else if (a->len == 0)
        a->p[a->len++] = '{';
    memcpy(a->p + a->len, s, n);
    a->len += n;
}

static void s_text(s_arr_t *a, const char *s)
{
    size_t n = strlen(s);
    s_reserve(a, 2 * n + 3);
    a->p[a->len++] = a->n++ ? ',' : '{';
    a->p[a->len++] = '"';
    /* Copy the runs between quotes and backslashes whole rather than byte by byte. */
    for (;;) {
        size_t run = strcspn(s, "\"\\");
        memcpy(a->p + a->len, s, run);
        a->len += run;
        s += run;
        if (!*s)
            break;
        a->p[a->len++] = '\\';
        a->p[a->len++] = *s++;
    }
    a->p[a->len++] = '"';
}

/* A JSON value as a quoted element, printed straight into the literal (no copy of the text to
 * escape afterwards, no buffer per value). */
static void s_json(s_arr_t *a, const cJSON *o)
{
    s_reserve(a, 2);
    a->p[a->len++] = a->n++ ? ',' : '{';
    a->p[a->len++] = '"';
    cd_json_print_append(o, true, &a->p, &a->len, &a->cap);
    s_reserve(a, 1);
    a->p[a->len++] = '"';
}

static void s_int(s_arr_t *a, int64_t v)
{
    char tmp[24], *end = tmp + sizeof tmp, *q = end; /* digits by hand: no snprintf */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--q = '-';
    s_raw(a, q, (size_t)(end - q));
}

static void s_num(s_arr_t *a, double d)
{
    char tmp[32];
    size_t n = cd_json_format_number(d, tmp);
    s_raw(a, tmp, n);
}

/* The literal (malloc'd); "{}" when nothing was added. */
static char *s_close(s_arr_t *a)
{
    s_reserve(a, 2);
    if (a->len == 0)
        a->p[a->len++] = '{';
    a->p[a->len++] = '}';
    a->p[a->len] = '\0';
    return a->p;
}

/* ------------------------------------------------------------------ events */

/* bytea's hex input, "\x0a1b...", its backslash escaped for the array literal */
static void s_bytea(s_arr_t *a, const uint8_t *bytes, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    s_reserve(a, 2 * len + 8);
    a->p[a->len++] = a->n++ ? ',' : '{';
    memcpy(a->p + a->len, "\"\\\\x", 4);
    a->len += 4;
    for (size_t k = 0; k < len; k++) {
        a->p[a->len++] = hex[bytes[k] >> 4];
        a->p[a->len++] = hex[bytes[k] & 15];
    }
    a->p[a->len++] = '"';
}

void store_sql_events_params(const cd_event_log_t *events, const reqcache_t *requests,
                             char *out[STORE_SQL_EVENT_PARAMS])
{
    s_arr_t col[STORE_SQL_EVENT_PARAMS] = {{0}};
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        s_int(&col[0], ev->seq);
        s_int(&col[1], ev->at_ms);
        s_text(&col[2], ev->actor);
        s_text(&col[3], cd_event_kind_name(ev->kind));
        s_text(&col[4], ev->call_id);
        s_text(&col[5], ev->unit_id);
        s_text(&col[6], ev->request_id);
        s_json(&col[7], ev->payload);
        /* The reply of the command this event starts (the cache entry's seq is the command's
         * last event, so an older entry with the same id could not match). */
        reqcache_entry_t *e = ev->request_id[0] ? reqcache_find(requests, ev->request_id) : NULL;
        if (e && !e->in_event && e->seq >= ev->seq) {
            e->in_event = true;
            s_text(&col[8], e->kind);
            s_bytea(&col[9], e->reply, e->len);
        } else {
            s_raw(&col[8], "NULL", 4);
            s_raw(&col[9], "NULL", 4);
        }
    }
    for (int c = 0; c < STORE_SQL_EVENT_PARAMS; c++)
        out[c] = s_close(&col[c]);
}

/* ------------------------------------------------------------------ calls */

typedef struct s_seen {
    const char *id;
    UT_hash_handle hh;
} s_seen_t;

static void s_call_row(s_arr_t *col, const cd_call_t *c)
{
    char risks[64];
    cd_call_risk_names(c->risk, risks, sizeof risks);
    s_text(&col[0], c->id);
    s_int(&col[1], c->no);
    s_text(&col[2], c->type);
    s_int(&col[3], c->priority);
    s_num(&col[4], c->lat);
    s_num(&col[5], c->lon);
    s_text(&col[6], c->address);
    s_text(&col[7], c->area);
    s_text(&col[8], c->language);
    s_text(&col[9], risks);
    s_text(&col[10], c->summary);
    s_text(&col[11], c->caller_name);
    s_text(&col[12], c->callback);
    s_text(&col[13], cd_call_status_name(c->status));
    s_int(&col[14], c->created_ms);
    s_int(&col[15], c->updated_ms);
    if (c->closed_ms)
        s_int(&col[16], c->closed_ms);
    else
        s_raw(&col[16], "NULL", 4);
    s_text(&col[17], c->cancel_reason);
    s_int(&col[18], c->last_seq);
    s_text(&col[19], c->disposition);
    s_json(&col[20], c->notes);
    s_int(&col[21], c->pending_since_ms);
    s_raw(&col[22], c->pending_alerted ? "t" : "f", 1);
}

void store_sql_calls_params(const cd_engine_t *engine, const cd_event_log_t *events,
                            store_sql_calls_t *out)
{
    s_arr_t col[2][STORE_SQL_CALL_PARAMS] = {{{0}}};
    s_seen_t *seen = NULL, *entries = cd_xcalloc(events->len ? events->len : 1, sizeof *entries);
    size_t used = 0;
    out->n_fresh = out->n_known = 0;
    for (size_t i = 0; i < events->len; i++) {
        const char *id = events->items[i].call_id;
        s_seen_t *hit = NULL;
        if (!*id)
            continue;
        /* One row per call, holding its state at the end of the batch. */
        HASH_FIND_STR(seen, id, hit);
        if (hit)
            continue;
        s_seen_t *e = &entries[used++];
        e->id = id;
        HASH_ADD_KEYPTR(hh, seen, e->id, strlen(e->id), e);
        const cd_call_t *c = cd_engine_find_call(engine, id);
        if (!c)
            continue;
        /* A call's first event is its creation: created in this batch, it has no row yet. */
        bool fresh = events->items[i].kind == CD_EV_CALL_CREATED;
        s_call_row(col[fresh ? 0 : 1], c);
        if (fresh)
            out->n_fresh++;
        else
            out->n_known++;
    }
    HASH_CLEAR(hh, seen);
    free(entries);
    for (int c = 0; c < STORE_SQL_CALL_PARAMS; c++) {
        out->fresh[c] = s_close(&col[0][c]);
        out->known[c] = s_close(&col[1][c]);
    }
}

/* ------------------------------------------------------------------ requests */

size_t store_sql_requests_params(reqcache_entry_t *const *entries, size_t n,
                                 char *out[STORE_SQL_REQUEST_PARAMS])
{
    s_arr_t col[STORE_SQL_REQUEST_PARAMS] = {{0}};
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        const reqcache_entry_t *e = entries[i];
        if (e->in_event)
            continue;
        s_text(&col[0], e->id);
        s_text(&col[1], e->kind);
        s_int(&col[2], e->seq);
        s_int(&col[3], e->at_ms);
        s_bytea(&col[4], e->reply, e->len);
        rows++;
    }
    if (!rows)
        return 0;
    for (int c = 0; c < STORE_SQL_REQUEST_PARAMS; c++)
        out[c] = s_close(&col[c]);
    return rows;
}
