#include "store_sql.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every statement takes its rows as one jsonb array: one parameter per table per batch,
 * whatever the batch size, and cJSON does the escaping. */
const char *const STORE_SQL_INSERT_EVENTS =
    "INSERT INTO events (seq, at, actor, kind, call_id, unit_id, request_id, payload) "
    "SELECT e.seq, to_timestamp(e.at_ms / 1000.0), e.actor, e.kind, nullif(e.call_id, ''), "
    "       nullif(e.unit_id, ''), nullif(e.request_id, ''), e.payload "
    "FROM jsonb_to_recordset($1::jsonb) AS e(seq bigint, at_ms bigint, actor text, kind text, "
    "     call_id text, unit_id text, request_id text, payload jsonb)";

const char *const STORE_SQL_UPSERT_CALLS =
    "INSERT INTO calls (call_id, call_no, type, priority, lat, lon, address, area, language, "
    "       risk_flags, summary, caller_name, callback, status, created_at, updated_at, "
    "       closed_at, cancel_reason, last_seq) "
    "SELECT c.call_id, c.call_no, c.type, c.priority, c.lat, c.lon, c.address, c.area, "
    "       c.language, c.risk_flags, c.summary, c.caller_name, c.callback, c.status, "
    "       to_timestamp(c.created_ms / 1000.0), to_timestamp(c.updated_ms / 1000.0), "
    "       to_timestamp(c.closed_ms / 1000.0), c.cancel_reason, c.last_seq "
    "FROM jsonb_to_recordset($1::jsonb) AS c(call_id text, call_no bigint, type text, "
    "     priority smallint, lat float8, lon float8, address text, area text, language text, "
    "     risk_flags text[], summary text, caller_name text, callback text, status text, "
    "     created_ms bigint, updated_ms bigint, closed_ms bigint, cancel_reason text, "
    "     last_seq bigint) "
    "ON CONFLICT (call_id) DO UPDATE SET type = EXCLUDED.type, priority = EXCLUDED.priority, "
    "     lat = EXCLUDED.lat, lon = EXCLUDED.lon, address = EXCLUDED.address, "
    "     area = EXCLUDED.area, language = EXCLUDED.language, "
    "     risk_flags = EXCLUDED.risk_flags, summary = EXCLUDED.summary, "
    "     caller_name = EXCLUDED.caller_name, callback = EXCLUDED.callback, "
    "     status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, "
    "     closed_at = EXCLUDED.closed_at, cancel_reason = EXCLUDED.cancel_reason, "
    "     last_seq = EXCLUDED.last_seq";

const char *const STORE_SQL_INSERT_REQUESTS =
    "INSERT INTO requests (request_id, kind, seq, at, reply) "
    "SELECT r.request_id, r.kind, r.seq, to_timestamp(r.at_ms / 1000.0), decode(r.reply, 'hex') "
    "FROM jsonb_to_recordset($1::jsonb) AS r(request_id text, kind text, seq bigint, "
    "     at_ms bigint, reply text)";

const char *const STORE_SQL_LOAD_CALL_TYPES = "SELECT name FROM call_types ORDER BY name";

const char *const STORE_SQL_LOAD_COUNTERS = "SELECT (SELECT coalesce(max(seq), 0) FROM events), "
                                            "       (SELECT coalesce(max(call_no), 0) FROM calls)";

#define CALL_COLUMNS                                                                               \
    "call_id, call_no, type, priority, lat, lon, address, area, language, "                        \
    "array_to_string(risk_flags, ','), summary, caller_name, callback, status, "                   \
    "(extract(epoch FROM created_at) * 1000)::bigint, "                                            \
    "(extract(epoch FROM updated_at) * 1000)::bigint, "                                            \
    "(extract(epoch FROM closed_at) * 1000)::bigint, cancel_reason, last_seq"

const char *const STORE_SQL_LOAD_CALLS =
    "SELECT " CALL_COLUMNS " FROM calls "
    "WHERE status NOT IN ('closed', 'cancelled') OR closed_at > now() - $1::interval "
    "ORDER BY call_no";

const char *const STORE_SQL_LOAD_REQUESTS =
    "SELECT request_id, kind, seq, (extract(epoch FROM at) * 1000)::bigint, reply "
    "FROM requests WHERE at > now() - $1::interval ORDER BY seq";

const char *const STORE_SQL_GET_CALL = "SELECT " CALL_COLUMNS " FROM calls WHERE call_id = $1";

const char *const STORE_SQL_LIST_CALLS =
    "SELECT " CALL_COLUMNS " FROM calls ORDER BY call_no DESC LIMIT $1::int";

const char *const STORE_SQL_PRUNE_REQUESTS = "DELETE FROM requests WHERE at < now() - $1::interval";

const char *const STORE_SQL_MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                               "  version integer PRIMARY KEY,"
                                               "  name text NOT NULL,"
                                               "  applied_at timestamptz NOT NULL DEFAULT now())";

const char *const STORE_SQL_APPLIED_MIGRATIONS =
    "SELECT version FROM schema_migrations ORDER BY version";

/* ------------------------------------------------------------------ to JSON */

static char *s_print(cJSON *arr)
{
    char *text = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!text)
        abort(); /* out of memory */
    return text;
}

char *store_sql_events_json(const cd_event_log_t *events)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "seq", (double)ev->seq);
        cJSON_AddNumberToObject(o, "at_ms", (double)ev->at_ms);
        cJSON_AddStringToObject(o, "actor", ev->actor);
        cJSON_AddStringToObject(o, "kind", cd_event_kind_name(ev->kind));
        cJSON_AddStringToObject(o, "call_id", ev->call_id);
        cJSON_AddStringToObject(o, "unit_id", ev->unit_id);
        cJSON_AddStringToObject(o, "request_id", ev->request_id);
        /* Borrow the payload for printing, then detach it again. */
        cJSON_AddItemReferenceToObject(o, "payload", ev->payload);
        cJSON_AddItemToArray(arr, o);
    }
    return s_print(arr);
}

typedef struct s_seen {
    const char *id;
    UT_hash_handle hh;
} s_seen_t;

char *store_sql_calls_json(const cd_engine_t *engine, const cd_event_log_t *events)
{
    cJSON *arr = cJSON_CreateArray();
    s_seen_t *seen = NULL, *entries = cd_xcalloc(events->len ? events->len : 1, sizeof *entries);
    size_t used = 0;
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
        if (c)
            cJSON_AddItemToArray(arr, cd_call_to_json(c));
    }
    HASH_CLEAR(hh, seen);
    free(entries);
    return s_print(arr);
}

char *store_sql_requests_json(reqcache_entry_t *const *entries, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        const reqcache_entry_t *e = entries[i];
        char *h = cd_xmalloc(e->len * 2 + 1);
        for (size_t k = 0; k < e->len; k++) {
            h[2 * k] = hex[e->reply[k] >> 4];
            h[2 * k + 1] = hex[e->reply[k] & 15];
        }
        h[e->len * 2] = '\0';
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "request_id", e->id);
        cJSON_AddStringToObject(o, "kind", e->kind);
        cJSON_AddNumberToObject(o, "seq", (double)e->seq);
        cJSON_AddNumberToObject(o, "at_ms", (double)e->at_ms);
        cJSON_AddStringToObject(o, "reply", h);
        free(h);
        cJSON_AddItemToArray(arr, o);
    }
    return s_print(arr);
}

/* ------------------------------------------------------------------ from rows */

static int64_t s_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

cd_call_t *store_sql_call_from_row(const PGresult *res, int row)
{
    if (PQnfields(res) < 19)
        return NULL;
    cd_call_t *c = cd_call_new();
    cd_copy(c->id, sizeof c->id, PQgetvalue(res, row, 0));
    c->no = s_int(res, row, 1);
    cd_copy(c->type, sizeof c->type, PQgetvalue(res, row, 2));
    c->priority = (int)s_int(res, row, 3);
    c->lat = strtod(PQgetvalue(res, row, 4), NULL);
    c->lon = strtod(PQgetvalue(res, row, 5), NULL);
    cd_call_set_text(&c->address, PQgetvalue(res, row, 6));
    cd_copy(c->area, sizeof c->area, PQgetvalue(res, row, 7));
    cd_copy(c->language, sizeof c->language, PQgetvalue(res, row, 8));
    const char *risks = PQgetvalue(res, row, 9);
    if (strstr(risks, "weapon"))
        c->risk |= CD_RISK_WEAPON;
    if (strstr(risks, "violence"))
        c->risk |= CD_RISK_VIOLENCE;
    if (strstr(risks, "medical"))
        c->risk |= CD_RISK_MEDICAL;
    cd_call_set_text(&c->summary, PQgetvalue(res, row, 10));
    cd_call_set_text(&c->caller_name, PQgetvalue(res, row, 11));
    cd_copy(c->callback, sizeof c->callback, PQgetvalue(res, row, 12));
    c->status = cd_call_status_parse(PQgetvalue(res, row, 13));
    c->created_ms = s_int(res, row, 14);
    c->updated_ms = s_int(res, row, 15);
    c->closed_ms = s_int(res, row, 16);
    cd_call_set_text(&c->cancel_reason, PQgetvalue(res, row, 17));
    c->last_seq = s_int(res, row, 18);
    if (!c->status || !c->id[0]) {
        cd_call_destroy(&c);
        return NULL;
    }
    return c;
}

void store_sql_interval(char *out, size_t cap, int64_t ms)
{
    snprintf(out, cap, "%" PRId64 " milliseconds", ms);
}
