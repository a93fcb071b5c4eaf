#include "store_sql.h"

#include "cd_json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Events, calls and requests take one binary array parameter per column (store_rows.c); the
 * other projections, written far less often, one jsonb array per table, and cJSON does the
 * escaping.
 *
 * Times travel as milliseconds since 1970 and become timestamptz by to_timestamp(ms::float8 /
 * 1000).  Not `ms / 1000.0`: that divides as numeric, and PostgreSQL 15 turns a numeric into
 * the float8 to_timestamp takes by printing it and parsing the text (0.56 µs against 0.04 µs a
 * value here, three values per new call).  Both round the exact quotient to the same double,
 * so the stored times are the same to the microsecond (test_intake checks it). */
const char *const STORE_SQL_INSERT_EVENTS =
    "INSERT INTO events (seq, at, actor, kind, call_id, unit_id, request_id, payload, "
    "       reply_kind, reply) "
    "SELECT e.seq, to_timestamp(e.at_ms::float8 / 1000), e.actor, e.kind, nullif(e.call_id, ''), "
    "       nullif(e.unit_id, ''), nullif(e.request_id, ''), e.payload::json, e.reply_kind, "
    "       e.reply "
    "FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "            $7::text[], $8::text[], $9::text[], $10::bytea[]) "
    "     AS e(seq, at_ms, actor, kind, call_id, unit_id, request_id, payload, reply_kind, "
    "          reply)";

const char *const STORE_SQL_INSERT_EVENT_ONE =
    "INSERT INTO events (seq, at, actor, kind, call_id, unit_id, request_id, payload, "
    "       reply_kind, reply) "
    "VALUES ($1::bigint, to_timestamp($2::bigint::float8 / 1000), $3::text, $4::text, "
    "        nullif($5::text, ''), nullif($6::text, ''), nullif($7::text, ''), "
    "        $8::text::json, $9::text, $10::bytea)";

const char *const STORE_SQL_INSERT_CALL_ONE =
    "INSERT INTO calls (call_id, call_no, type, priority, lat, lon, address, area, language, "
    "       risk_flags, summary, caller_name, callback, status, created_at, updated_at, "
    "       closed_at, cancel_reason, last_seq, disposition, notes, pending_since_ms, "
    "       pending_alerted) "
    "VALUES ($1::text, $2::bigint, $3::text, $4::smallint, $5::float8, $6::float8, $7::text, "
    "        $8::text, $9::text, string_to_array($10::text, ','), $11::text, $12::text, "
    "        $13::text, $14::text, to_timestamp($15::bigint::float8 / 1000), "
    "        to_timestamp($16::bigint::float8 / 1000), to_timestamp($17::bigint::float8 / 1000), "
    "        $18::text, $19::bigint, $20::text, $21::text::jsonb, $22::bigint, $23::boolean)";

#define S_INSERT_CALLS                                                                             \
    "INSERT INTO calls (call_id, call_no, type, priority, lat, lon, address, area, language, "     \
    "       risk_flags, summary, caller_name, callback, status, created_at, updated_at, "          \
    "       closed_at, cancel_reason, last_seq, disposition, notes, pending_since_ms, "            \
    "       pending_alerted) "                                                                     \
    "SELECT c.call_id, c.call_no, c.type, c.priority, c.lat, c.lon, c.address, c.area, "           \
    "       c.language, string_to_array(c.risk_flags, ','), c.summary, c.caller_name, "            \
    "       c.callback, c.status, to_timestamp(c.created_ms::float8 / 1000), "                     \
    "       to_timestamp(c.updated_ms::float8 / 1000), to_timestamp(c.closed_ms::float8 / 1000), " \
    "       c.cancel_reason, c.last_seq, c.disposition, c.notes::jsonb, c.pending_since_ms, "      \
    "       c.pending_alerted "                                                                    \
    "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::smallint[], $5::float8[], "             \
    "            $6::float8[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "     \
    "            $12::text[], $13::text[], $14::text[], $15::bigint[], $16::bigint[], "            \
    "            $17::bigint[], $18::text[], $19::bigint[], $20::text[], $21::text[], "            \
    "            $22::bigint[], $23::boolean[]) "                                                  \
    "     AS c(call_id, call_no, type, priority, lat, lon, address, area, language, "              \
    "          risk_flags, summary, caller_name, callback, status, created_ms, updated_ms, "       \
    "          closed_ms, cancel_reason, last_seq, disposition, notes, pending_since_ms, "         \
    "          pending_alerted) "

const char *const STORE_SQL_INSERT_CALLS = S_INSERT_CALLS;

const char *const STORE_SQL_UPSERT_CALLS = S_INSERT_CALLS
    "ON CONFLICT (call_id) DO UPDATE SET type = EXCLUDED.type, priority = EXCLUDED.priority, "
    "     lat = EXCLUDED.lat, lon = EXCLUDED.lon, address = EXCLUDED.address, "
    "     area = EXCLUDED.area, language = EXCLUDED.language, "
    "     risk_flags = EXCLUDED.risk_flags, summary = EXCLUDED.summary, "
    "     caller_name = EXCLUDED.caller_name, callback = EXCLUDED.callback, "
    "     status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, "
    "     closed_at = EXCLUDED.closed_at, cancel_reason = EXCLUDED.cancel_reason, "
    "     last_seq = EXCLUDED.last_seq, disposition = EXCLUDED.disposition, "
    "     notes = EXCLUDED.notes, pending_since_ms = EXCLUDED.pending_since_ms, "
    "     pending_alerted = EXCLUDED.pending_alerted";

const char *const STORE_SQL_UPSERT_UNITS =
    "INSERT INTO units (unit_id, type, status, area, removed, updated_at, last_seq, doc) "
    "SELECT r->>'unit_id', r->>'type', r->>'status', r->>'area', (r->>'removed')::boolean, "
    "       now(), (r->>'last_seq')::bigint, r "
    "FROM jsonb_array_elements($1::jsonb) AS r "
    "ON CONFLICT (unit_id) DO UPDATE SET type = EXCLUDED.type, status = EXCLUDED.status, "
    "     area = EXCLUDED.area, removed = EXCLUDED.removed, updated_at = EXCLUDED.updated_at, "
    "     last_seq = EXCLUDED.last_seq, doc = EXCLUDED.doc";

const char *const STORE_SQL_UPSERT_PLANS =
    "INSERT INTO plans (key, mode, last_seq, doc) "
    "SELECT r->>'key', r->>'mode', (r->>'last_seq')::bigint, r "
    "FROM jsonb_array_elements($1::jsonb) AS r "
    "ON CONFLICT (key) DO UPDATE SET mode = EXCLUDED.mode, last_seq = EXCLUDED.last_seq, "
    "     doc = EXCLUDED.doc";

#define S_MS_TO_TS(key) "to_timestamp((r->>'" key "')::bigint::float8 / 1000)"
const char *const STORE_SQL_UPSERT_ASSIGNMENTS =
    "INSERT INTO assignments (assignment_id, assignment_no, call_id, unit_id, unit_type, "
    "       status, offered_at, acked_at, en_route_at, on_scene_at, ended_at, end_reason, "
    "       eta_s, last_seq, doc) "
    "SELECT r->>'assignment_id', (r->>'assignment_no')::bigint, r->>'call_id', "
    "       r->>'unit_id', r->>'unit_type', r->>'status', "
    "       " S_MS_TO_TS("offered_ms") ", " S_MS_TO_TS(
        "acked_ms") ", "
                    "       " S_MS_TO_TS("en_route_ms") ", " S_MS_TO_TS(
                        "on_scene_ms") ", "
                                       "       " S_MS_TO_TS(
                                           "ended_ms") ", r->>'end_reason', "
                                                       "nullif((r->>'eta_s')::int, -1), "
                                                       "       (r->>'last_seq')::bigint, r "
                                                       "FROM jsonb_array_elements($1::jsonb) AS r "
                                                       "ON CONFLICT (assignment_id) DO UPDATE SET "
                                                       "status = EXCLUDED.status, "
                                                       "     acked_at = EXCLUDED.acked_at, "
                                                       "en_route_at = EXCLUDED.en_route_at, "
                                                       "     on_scene_at = EXCLUDED.on_scene_at, "
                                                       "ended_at = EXCLUDED.ended_at, "
                                                       "     end_reason = EXCLUDED.end_reason, "
                                                       "last_seq = EXCLUDED.last_seq, doc = "
                                                       "EXCLUDED.doc";

const char *const STORE_SQL_INSERT_ALERTS =
    "INSERT INTO alerts (alert_no, kind, call_id, unit_id, message, raised_at, doc) "
    "SELECT (r->>'alert_no')::bigint, r->>'kind', nullif(r->>'call_id', ''), "
    "       nullif(r->>'unit_id', ''), r->>'message', " S_MS_TO_TS(
        "raised_ms") ", r "
                     "FROM jsonb_array_elements($1::jsonb) AS r";

const char *const STORE_SQL_CLEAR_ALERTS = "UPDATE alerts SET cleared_at = " S_MS_TO_TS(
    "at_ms") " "
             "FROM jsonb_array_elements($1::jsonb) AS r WHERE alerts.alert_no = "
             "(r->>'alert_no')::bigint";

const char *const STORE_SQL_BATCH_GUARD = "SELECT codispatch_batch_after($1::bigint)";

const char *const STORE_SQL_LOAD_UNIT_TYPES = "SELECT name FROM unit_types ORDER BY name";
const char *const STORE_SQL_LOAD_PLANS = "SELECT doc FROM plans ORDER BY key";
const char *const STORE_SQL_LOAD_UNITS = "SELECT doc FROM units ORDER BY unit_id";
const char *const STORE_SQL_LOAD_ASSIGNMENTS =
    "SELECT a.doc FROM assignments a JOIN calls c USING (call_id) "
    "WHERE c.status NOT IN ('closed', 'cancelled') OR c.closed_at > now() - $1::interval "
    "ORDER BY a.assignment_no";
const char *const STORE_SQL_LOAD_ALERTS =
    "SELECT doc FROM alerts WHERE cleared_at IS NULL ORDER BY alert_no";
const char *const STORE_SQL_LOAD_NUMBERS =
    "SELECT (SELECT coalesce(max(assignment_no), 0) FROM assignments), "
    "       (SELECT coalesce(max(alert_no), 0) FROM alerts)";

/* Keys (migration 0004): every key, revoked ones too (their names stay taken). */
const char *const STORE_SQL_LOAD_KEYS =
    "SELECT json_build_object('name', name, 'public_key', public_key, 'role', role, "
    "       'unit_id', unit_id, "
    "       'created_ms', (extract(epoch FROM created_at) * 1000)::bigint, "
    "       'revoked_ms', coalesce((extract(epoch FROM revoked_at) * 1000)::bigint, 0), "
    "       'last_seq', last_seq)::text FROM keys ORDER BY name";

const char *const STORE_SQL_INSERT_REQUESTS =
    "INSERT INTO requests (request_id, kind, seq, at, reply) "
    "SELECT r.request_id, r.kind, r.seq, to_timestamp(r.at_ms::float8 / 1000), r.reply "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bytea[]) "
    "     AS r(request_id, kind, seq, at_ms, reply)";

const char *const STORE_SQL_LOAD_CALL_TYPES = "SELECT name FROM call_types ORDER BY name";

const char *const STORE_SQL_LOAD_COUNTERS = "SELECT (SELECT coalesce(max(seq), 0) FROM events), "
                                            "       (SELECT coalesce(max(call_no), 0) FROM calls)";

#define CALL_COLUMNS                                                                               \
    "call_id, call_no, type, priority, lat, lon, address, area, language, "                        \
    "array_to_string(risk_flags, ','), summary, caller_name, callback, status, "                   \
    "(extract(epoch FROM created_at) * 1000)::bigint, "                                            \
    "(extract(epoch FROM updated_at) * 1000)::bigint, "                                            \
    "(extract(epoch FROM closed_at) * 1000)::bigint, cancel_reason, last_seq, disposition, "       \
    "notes::text, pending_since_ms, pending_alerted"

const char *const STORE_SQL_LOAD_CALLS =
    "SELECT " CALL_COLUMNS " FROM calls "
    "WHERE status NOT IN ('closed', 'cancelled') OR closed_at > now() - $1::interval "
    "ORDER BY call_no";

/* Replies within the retention window: rows of `requests`, and (0005) replies kept in event
 * rows.  Those are found from the newest event backwards along the primary key, down to the
 * newest event older than the window: the scan is as long as the window, not the log. */
const char *const STORE_SQL_LOAD_REQUESTS =
    "SELECT request_id, kind, seq, (extract(epoch FROM at) * 1000)::bigint, reply "
    "FROM requests WHERE at > now() - $1::interval "
    "UNION ALL "
    "SELECT request_id, reply_kind, seq, (extract(epoch FROM at) * 1000)::bigint, reply "
    "FROM events "
    "WHERE seq > coalesce((SELECT o.seq FROM events o WHERE o.at <= now() - $1::interval "
    "                      ORDER BY o.seq DESC LIMIT 1), 0) "
    "  AND reply IS NOT NULL AND at > now() - $1::interval "
    "ORDER BY 3";

/* SetDemographics request ids within the retention window, oldest first (reqcache_prune). */
const char *const STORE_SQL_LOAD_DEMOGRAPHICS_IDS =
    "SELECT request_id, (extract(epoch FROM at) * 1000)::bigint FROM demographics_requests "
    "WHERE at > now() - $1::interval ORDER BY at";

const char *const STORE_SQL_LOAD_USED_REQUESTS =
    "SELECT request_id, kind, seq, (extract(epoch FROM now()) * 1000)::bigint, reply "
    "FROM (SELECT request_id, coalesce(reply_kind, kind) AS kind, seq, reply FROM events "
    "      WHERE request_id = ANY (string_to_array($1, E'\\n')) "
    "      UNION ALL "
    "      SELECT request_id, kind, seq, reply FROM requests "
    "      WHERE request_id = ANY (string_to_array($1, E'\\n'))) AS used "
    "ORDER BY reply IS NULL, seq"; /* a kept reply first: the cache keeps the first of an id */

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
    char *text = cd_json_print(arr); /* cJSON's printer spends most of its time on numbers */
    cJSON_Delete(arr);
    if (!text)
        abort(); /* out of memory */
    return text;
}

/* ------------------------------------------------------------------ from rows */

static int64_t s_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

cd_call_t *store_sql_call_from_row(const PGresult *res, int row)
{
    if (PQnfields(res) < 23)
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
    cd_copy(c->disposition, sizeof c->disposition, PQgetvalue(res, row, 19));
    cJSON *notes = cJSON_Parse(PQgetvalue(res, row, 20));
    if (cJSON_IsArray(notes)) {
        cJSON_Delete(c->notes);
        c->notes = notes;
    } else {
        cJSON_Delete(notes);
    }
    c->pending_since_ms = PQgetisnull(res, row, 21) ? c->created_ms : s_int(res, row, 21);
    c->pending_alerted = strcmp(PQgetvalue(res, row, 22), "t") == 0;
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

/* ------------------------------------------------------------------ dispatch projections */

/* Adds key to the set (a uthash of borrowed strings); true when it was new. */
typedef struct s_seen {
    const char *id;
    UT_hash_handle hh;
} s_seen_t;

static bool s_first_time(s_seen_t **set, s_seen_t *slot, const char *key)
{
    s_seen_t *hit = NULL;
    if (!key || !*key)
        return false;
    HASH_FIND_STR(*set, key, hit);
    if (hit)
        return false;
    slot->id = key;
    HASH_ADD_KEYPTR(hh, *set, slot->id, strlen(slot->id), slot);
    return true;
}

static char *s_print_or_null(cJSON *arr)
{
    if (cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return s_print(arr);
}

void store_sql_dispatch_rows(const cd_engine_t *engine, const cd_event_log_t *events,
                             store_sql_rows_t *out)
{
    cJSON *units = cJSON_CreateArray(), *plans = cJSON_CreateArray(), *asgs = cJSON_CreateArray(),
          *raised = cJSON_CreateArray(), *cleared = cJSON_CreateArray();
    size_t n = events->len ? events->len : 1;
    s_seen_t *seen_u = NULL, *seen_p = NULL, *seen_a = NULL;
    s_seen_t *slots = cd_xcalloc(3 * n, sizeof *slots);
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        if (s_first_time(&seen_u, &slots[i], ev->unit_id)) {
            /* Removed units too: their row must say so. */
            const cd_unit_t *u = cd_engine_find_unit_any(engine, ev->unit_id);
            if (u)
                cJSON_AddItemToArray(units, cd_unit_to_json(u));
        }
        const char *asg =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->payload, "assignment_id"));
        /* An event about a unit may change its active assignment without naming it (an
         * on-scene alert marks it alerted): write that one too. */
        const cd_unit_t *unit =
            ev->unit_id[0] ? cd_engine_find_unit_any(engine, ev->unit_id) : NULL;
        if (!asg && unit && unit->assignment_id[0])
            asg = unit->assignment_id;
        if (s_first_time(&seen_a, &slots[n + i], asg)) {
            const cd_assignment_t *a = cd_engine_find_assignment(engine, asg);
            if (a)
                cJSON_AddItemToArray(asgs, cd_assign_to_json(a));
        }
        if (ev->kind == CD_EV_PLAN_SET) {
            const char *key =
                cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->payload, "key"));
            if (s_first_time(&seen_p, &slots[2 * n + i], key)) {
                const cd_plan_t *p = cd_engine_find_plan(engine, key);
                if (p)
                    cJSON_AddItemToArray(plans, cd_plan_to_json(p));
            }
        } else if (ev->kind == CD_EV_ALERT_RAISED) {
            cJSON *row = cJSON_Duplicate(ev->payload, true);
            cJSON_ReplaceItemInObjectCaseSensitive(row, "raised_ms",
                                                   cJSON_CreateNumber((double)ev->at_ms));
            cJSON_AddItemToArray(raised, row);
        } else if (ev->kind == CD_EV_ALERT_CLEARED) {
            cJSON *row = cJSON_Duplicate(ev->payload, true);
            cJSON_AddNumberToObject(row, "at_ms", (double)ev->at_ms);
            cJSON_AddItemToArray(cleared, row);
        }
    }
    HASH_CLEAR(hh, seen_u);
    HASH_CLEAR(hh, seen_p);
    HASH_CLEAR(hh, seen_a);
    free(slots);
    out->units = s_print_or_null(units);
    out->plans = s_print_or_null(plans);
    out->assignments = s_print_or_null(asgs);
    out->alerts_raised = s_print_or_null(raised);
    out->alerts_cleared = s_print_or_null(cleared);
}
