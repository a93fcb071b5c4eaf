/*  store_rows.c — the batch's rows of events, calls and requests as PostgreSQL arrays, one
 *  parameter per column, unnested by the INSERTs in store_sql.c.
 *
 *  Why not one JSON array per table: PostgreSQL spent about 19 µs per call row turning
 *  jsonb_to_recordset's JSON into columns, against about 5 µs for parsing typed arrays, and
 *  building a cJSON tree per row to print it was a quarter of the server's own work per
 *  command (see README, Benchmarks).  Why binary arrays (array_recv's format: a header, then
 *  each element as a 4-byte big-endian length, -1 for NULL, and its bytes): nothing to quote,
 *  escape or print as digits here, nothing to scan and parse there; text is sent as is (UTF-8,
 *  the database's encoding, which PostgreSQL still verifies), numbers as their 8 bytes, a
 *  reply as its raw bytes.  A command's recorded reply goes into the row of its first event
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

/* PostgreSQL's element type OIDs (pg_type.dat): array_recv checks them. */
enum { S_BOOL = 16, S_BYTEA = 17, S_INT8 = 20, S_INT2 = 21, S_TEXT = 25, S_FLOAT8 = 701 };

#define S_HEADER 20 /* ndim, flags, element type, then the one dimension's size and lower bound */

typedef struct s_arr {
    char *p;
    size_t len, cap, n;
    uint32_t oid;
    bool nulls;
} s_arr_t;

static void s_reserve(s_arr_t *a, size_t more)
{
    if (a->len + more <= a->cap)
        return;
    size_t cap = a->cap ? a->cap : 256;
    while (cap < a->len + more)
        cap *= 2;
    a->p = cd_xrealloc(a->p, cap);
    a->cap = cap;
}

static void s_put32(char *at, uint32_t v)
{
    at[0] = (char)(v >> 24);
    at[1] = (char)(v >> 16);
    at[2] = (char)(v >> 8);
    at[3] = (char)v;
}

/* Starts an element of `size` bytes (the header comes first, written when the array closes). */
static char *s_elem(s_arr_t *a, uint32_t oid, size_t size)
{
    if (a->len == 0) {
        a->oid = oid;
        s_reserve(a, S_HEADER);
        a->len = S_HEADER;
    }
    s_reserve(a, 4 + size);
    s_put32(a->p + a->len, (uint32_t)size);
    a->len += 4 + size;
    a->n++;
    return a->p + a->len - size;
}

static void s_null(s_arr_t *a, uint32_t oid)
{
    s_elem(a, oid, 0);
    s_put32(a->p + a->len - 4, UINT32_MAX); /* length -1: NULL */
    a->nulls = true;
}

static void s_bytes(s_arr_t *a, uint32_t oid, const void *data, size_t len)
{
    memcpy(s_elem(a, oid, len), data, len);
}

static void s_text(s_arr_t *a, const char *s)
{
    s_bytes(a, S_TEXT, s, strlen(s));
}

/* A JSON value as a text element, printed straight into the array (no buffer per value). */
static void s_json(s_arr_t *a, const cJSON *o)
{
    s_elem(a, S_TEXT, 0);
    size_t start = a->len;
    cd_json_print_append(o, &a->p, &a->len, &a->cap);
    s_put32(a->p + start - 4, (uint32_t)(a->len - start));
}

static void s_int8(s_arr_t *a, int64_t v)
{
    char *at = s_elem(a, S_INT8, 8);
    s_put32(at, (uint32_t)((uint64_t)v >> 32));
    s_put32(at + 4, (uint32_t)v);
}

static void s_int2(s_arr_t *a, int v)
{
    char *at = s_elem(a, S_INT2, 2);
    at[0] = (char)((unsigned)v >> 8);
    at[1] = (char)v;
}

static void s_float8(s_arr_t *a, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits); /* IEEE 754, sent big-endian as float8send does */
    char *at = s_elem(a, S_FLOAT8, 8);
    s_put32(at, (uint32_t)(bits >> 32));
    s_put32(at + 4, (uint32_t)bits);
}

static void s_bool(s_arr_t *a, bool b)
{
    *s_elem(a, S_BOOL, 1) = b ? 1 : 0;
}

/* The array (malloc'd) and its length; an empty one when nothing was added. */
static store_sql_array_t s_close(s_arr_t *a, uint32_t oid)
{
    if (a->len == 0) { /* no dimensions: ndim 0, flags 0, element type */
        s_reserve(a, 12);
        s_put32(a->p, 0);
        s_put32(a->p + 4, 0);
        s_put32(a->p + 8, oid);
        return (store_sql_array_t){a->p, 12};
    }
    s_put32(a->p, 1);
    s_put32(a->p + 4, a->nulls ? 1 : 0);
    s_put32(a->p + 8, a->oid);
    s_put32(a->p + 12, (uint32_t)a->n);
    s_put32(a->p + 16, 1);
    return (store_sql_array_t){a->p, (int)a->len};
}

void store_sql_array_to_scalar(store_sql_array_t *a)
{
    /* One dimension of one element: the header, the element's length, its bytes. */
    if (!a->data || a->len < S_HEADER + 4)
        abort(); /* only ever called on a one-row batch's arrays */
    const unsigned char *at = (const unsigned char *)a->data + S_HEADER;
    uint32_t raw = (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
    if (raw == UINT32_MAX) { /* -1: NULL */
        free(a->data);
        *a = (store_sql_array_t){NULL, 0};
        return;
    }
    memmove(a->data, a->data + S_HEADER + 4, raw);
    a->len = (int)raw;
}

/* ------------------------------------------------------------------ events */

static const uint32_t s_event_types[STORE_SQL_EVENT_PARAMS] = {
    S_INT8, S_INT8, S_TEXT, S_TEXT, S_TEXT, S_TEXT, S_TEXT, S_TEXT, S_TEXT, S_BYTEA};

void store_sql_events_params(const cd_event_log_t *events, const reqcache_t *requests,
                             store_sql_array_t out[STORE_SQL_EVENT_PARAMS])
{
    s_arr_t col[STORE_SQL_EVENT_PARAMS] = {{0}};
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        s_int8(&col[0], ev->seq);
        s_int8(&col[1], ev->at_ms);
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
            s_bytes(&col[9], S_BYTEA, e->reply, e->len);
        } else {
            s_null(&col[8], S_TEXT);
            s_null(&col[9], S_BYTEA);
        }
    }
    for (int c = 0; c < STORE_SQL_EVENT_PARAMS; c++)
        out[c] = s_close(&col[c], s_event_types[c]);
}

/* ------------------------------------------------------------------ calls */

typedef struct s_seen {
    const char *id;
    UT_hash_handle hh;
} s_seen_t;

static const uint32_t s_call_types[STORE_SQL_CALL_PARAMS] = {
    S_TEXT, S_INT8, S_TEXT, S_INT2, S_FLOAT8, S_FLOAT8, S_TEXT, S_TEXT,
    S_TEXT, S_TEXT, S_TEXT, S_TEXT, S_TEXT,   S_TEXT,   S_INT8, S_INT8,
    S_INT8, S_TEXT, S_INT8, S_TEXT, S_TEXT,   S_INT8,   S_BOOL};

static void s_call_row(s_arr_t *col, const cd_call_t *c)
{
    char risks[64];
    cd_call_risk_names(c->risk, risks, sizeof risks);
    s_text(&col[0], c->id);
    s_int8(&col[1], c->no);
    s_text(&col[2], c->type);
    s_int2(&col[3], c->priority);
    s_float8(&col[4], c->lat);
    s_float8(&col[5], c->lon);
    s_text(&col[6], c->address);
    s_text(&col[7], c->area);
    s_text(&col[8], c->language);
    s_text(&col[9], risks);
    s_text(&col[10], c->summary);
    s_text(&col[11], c->caller_name);
    s_text(&col[12], c->callback);
    s_text(&col[13], cd_call_status_name(c->status));
    s_int8(&col[14], c->created_ms);
    s_int8(&col[15], c->updated_ms);
    if (c->closed_ms)
        s_int8(&col[16], c->closed_ms);
    else
        s_null(&col[16], S_INT8);
    s_text(&col[17], c->cancel_reason);
    s_int8(&col[18], c->last_seq);
    s_text(&col[19], c->disposition);
    s_json(&col[20], c->notes);
    s_int8(&col[21], c->pending_since_ms);
    s_bool(&col[22], c->pending_alerted);
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
        out->fresh[c] = s_close(&col[0][c], s_call_types[c]);
        out->known[c] = s_close(&col[1][c], s_call_types[c]);
    }
}

/* ------------------------------------------------------------------ requests */

static const uint32_t s_request_types[STORE_SQL_REQUEST_PARAMS] = {S_TEXT, S_TEXT, S_INT8, S_INT8,
                                                                   S_BYTEA};

size_t store_sql_requests_params(reqcache_entry_t *const *entries, size_t n,
                                 store_sql_array_t out[STORE_SQL_REQUEST_PARAMS])
{
    s_arr_t col[STORE_SQL_REQUEST_PARAMS] = {{0}};
    size_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        const reqcache_entry_t *e = entries[i];
        if (e->in_event)
            continue;
        s_text(&col[0], e->id);
        s_text(&col[1], e->kind);
        s_int8(&col[2], e->seq);
        s_int8(&col[3], e->at_ms);
        s_bytes(&col[4], S_BYTEA, e->reply, e->len);
        rows++;
    }
    if (!rows)
        return 0;
    for (int c = 0; c < STORE_SQL_REQUEST_PARAMS; c++)
        out[c] = s_close(&col[c], s_request_types[c]);
    return rows;
}
