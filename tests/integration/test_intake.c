/* Integration: durable, idempotent call intake through the real server and PostgreSQL. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    /* A clean stop exits 0; under the sanitizers that also means no leak was found. */
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

static void each_setup(void)
{
    harness_ensure_up(h);
}

/* Reads one number from PostgreSQL directly (tests may block; the server may not). */
START_TEST(create_then_get_round_trip)
{
    Codispatch__V1__Envelope *r =
        harness_create_call(h, "rt-1", "mental_health", 2, 34.0522, -118.2437);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char id[32];
    snprintf(id, sizeof id, "%s", r->call->call_id);
    ck_assert_str_eq(r->request_id, "rt-1");
    ck_assert_int_eq(r->call->status, CODISPATCH__V1__CALL_STATUS__CALL_PENDING);
    ck_assert(r->seq > 0);
    uint64_t seq = r->seq;
    cdc_envelope_free(r);

    /* Durable before visible: the reply came, so PostgreSQL has it. */
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM calls WHERE call_id = '%s'", id);
    ck_assert_int_eq(harness_sql_count(h, sql), 1);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM events WHERE call_id = '%s' AND kind = 'call.created' "
             "AND request_id = 'rt-1' AND actor <> ''",
             id);
    ck_assert_int_eq(harness_sql_count(h, sql), 1);

    r = harness_get_call(h, id);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(r->call->call_id, id);
    ck_assert_str_eq(r->call->type, "mental_health");
    ck_assert_int_eq(r->call->priority, 2);
    ck_assert(r->call->lat > 34.05 && r->call->lat < 34.06);
    ck_assert_str_eq(r->call->language, "es");
    ck_assert_str_eq(r->call->caller_name, "Test Caller");
    ck_assert_uint_ge(r->seq, seq);
    cdc_envelope_free(r);

    r = harness_get_call(h, "C-999999");
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(r->error->message, "C-999999"));
    cdc_envelope_free(r);
}
END_TEST

START_TEST(same_request_id_twice_gives_one_call)
{
    long long before = harness_sql_count(h, "SELECT count(*) FROM calls");
    Codispatch__V1__Envelope *a = harness_create_call(h, "dup-1", "substance", 1, 34.1, -118.3);
    Codispatch__V1__Envelope *b = harness_create_call(h, "dup-1", "substance", 1, 34.1, -118.3);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(a->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_int_eq(b->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(a->call->call_id, b->call->call_id);
    ck_assert_uint_eq(a->seq, b->seq);
    ck_assert_int_eq(a->call->created_ms, b->call->created_ms);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls"), before + 1);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id = 'dup-1'"),
                     1);
    cdc_envelope_free(a);
    cdc_envelope_free(b);

    /* The same id for a different command is refused, naming request_id. */
    Codispatch__V1__Envelope *c = harness_cancel_call(h, "dup-1", "C-000001", "mistake");
    ck_assert_int_eq(harness_error_code(c), CODISPATCH__V1__CODE__CONFLICT);
    ck_assert_str_eq(c->error->field, "request_id");
    cdc_envelope_free(c);
}
END_TEST

START_TEST(cancel_is_durable_and_idempotent)
{
    Codispatch__V1__Envelope *r = harness_create_call(h, "cx-1", "welfare_check", 3, 34.0, -118.0);
    char id[32];
    snprintf(id, sizeof id, "%s", r->call->call_id);
    cdc_envelope_free(r);
    Codispatch__V1__Envelope *a = harness_cancel_call(h, "cx-2", id, "caller called back: ok");
    ck_assert_int_eq(a->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_int_eq(a->call->status, CODISPATCH__V1__CALL_STATUS__CALL_CANCELLED);
    Codispatch__V1__Envelope *b = harness_cancel_call(h, "cx-2", id, "caller called back: ok");
    ck_assert_int_eq(b->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL); /* not CONFLICT */
    ck_assert_uint_eq(a->seq, b->seq);
    cdc_envelope_free(a);
    cdc_envelope_free(b);
    Codispatch__V1__Envelope *c = harness_cancel_call(h, "cx-3", id, "again");
    ck_assert_int_eq(harness_error_code(c), CODISPATCH__V1__CODE__CONFLICT);
    cdc_envelope_free(c);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM calls WHERE call_id = '%s' AND status = 'cancelled' AND "
             "cancel_reason = 'caller called back: ok' AND closed_at IS NOT NULL",
             id);
    ck_assert_int_eq(harness_sql_count(h, sql), 1);
}
END_TEST

/* Many clients at once: every request gets its own reply, ids are unique, and the events
 * carry a gapless sequence (group commit batches them, it does not lose or reorder). */
START_TEST(concurrent_clients_all_acknowledged)
{
    enum { CLIENTS = 16, EACH = 10 };
    void *ctx = zmq_ctx_new();
    void *socks[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        socks[c] = zmq_socket(ctx, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt(socks[c], ZMQ_LINGER, &linger, sizeof linger);
        zmq_connect(socks[c], harness_control(h));
    }
    long long before = harness_sql_count(h, "SELECT count(*) FROM calls");
    /* Every client sends all its requests without waiting (pipelined). */
    for (int c = 0; c < CLIENTS; c++)
        for (int i = 0; i < EACH; i++) {
            char rid[32];
            snprintf(rid, sizeof rid, "cc-%d-%d", c, i);
            ck_assert(harness_send_create(socks[c], rid, "other", 4));
        }
    int got = 0;
    for (int c = 0; c < CLIENTS; c++)
        for (int i = 0; i < EACH; i++) {
            zmq_pollitem_t it = {.socket = socks[c], .events = ZMQ_POLLIN};
            ck_assert_int_eq(zmq_poll(&it, 1, 10000), 1);
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            ck_assert_int_ge(zmq_msg_recv(&msg, socks[c], 0), 0);
            Codispatch__V1__Envelope *r =
                codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
            zmq_msg_close(&msg);
            ck_assert_ptr_nonnull(r);
            ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
            char want[32];
            snprintf(want, sizeof want, "cc-%d-", c);
            ck_assert_ptr_nonnull(strstr(r->request_id, want));
            codispatch__v1__envelope__free_unpacked(r, NULL);
            got++;
        }
    ck_assert_int_eq(got, CLIENTS * EACH);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls"), before + CLIENTS * EACH);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(DISTINCT call_id) FROM calls"),
                     harness_sql_count(h, "SELECT count(*) FROM calls"));
    /* Gapless: max(seq) equals the number of events. */
    ck_assert_int_eq(harness_sql_count(h, "SELECT max(seq) - count(*) FROM events"), 0);
    for (int c = 0; c < CLIENTS; c++)
        zmq_close(socks[c]);
    zmq_ctx_term(ctx);
}
END_TEST

/* A batch of one row goes to PostgreSQL as one-row VALUES statements, a larger one as the
 * unnest of arrays (store_sql.h): the rows must come out the same either way, NULLs, arrays,
 * awkward text and the recorded reply included. */
static bool s_send_rich(void *sock, const char *rid)
{
    static char summary[] = "He said \"stop\" \\ {a,b} NULL , \xc3\xb1";
    static char address[] = "1 \"Main\" St, {x}";
    static char caller[] = "O'Brien";
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    cc.type = "other"; /* no plan dispatches it, so creating it is one event */
    cc.has_priority = cc.has_lat = cc.has_lon = cc.has_violence = cc.has_medical = true;
    cc.priority = 4;
    cc.lat = 34.0512345678;
    cc.lon = -118.25;
    cc.violence = cc.medical = true;
    cc.summary = summary;
    cc.address = address;
    cc.caller_name = caller;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    env.create_call = &cc;
    return harness_send_env(sock, &env, rid);
}

START_TEST(a_lone_call_and_a_batched_call_write_the_same_rows)
{
    enum { BURST = 8 };
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    ck_assert_int_eq(zmq_connect(s, harness_control(h)), 0);
    ck_assert(s_send_rich(s, "rows-alone"));
    Codispatch__V1__Envelope *r = harness_recv_reply(s, 10000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    for (int i = 0; i < BURST; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "rows-burst-%d", i);
        ck_assert(s_send_rich(s, rid));
    }
    for (int i = 0; i < BURST; i++) {
        r = harness_recv_reply(s, 10000);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        cdc_envelope_free(r);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    /* The lone call was a batch of its own; some of the burst shared one (sent together, they
     * arrive within a turn or two). */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE xmin = (SELECT xmin "
                                          "FROM events WHERE request_id = 'rows-alone')"),
                     1);
    ck_assert_int_ge(harness_sql_count(h, "SELECT max(n) FROM (SELECT count(*) AS n FROM events "
                                          "WHERE request_id LIKE 'rows-burst-%' "
                                          "GROUP BY xmin::text) t"),
                     2);
    /* Every call row alike but for its identity and times; NULL closed_at and the risk array
     * included. */
    ck_assert_int_eq(
        harness_sql_count(h, "SELECT count(DISTINCT (type, priority, lat, lon, address, area, "
                             "language, risk_flags, summary, caller_name, callback, status, "
                             "closed_at IS NULL, cancel_reason, disposition, notes, "
                             "pending_alerted)) FROM calls c "
                             "JOIN events e USING (call_id) WHERE e.request_id LIKE 'rows-%'"),
        1);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls c JOIN events e "
                                          "USING (call_id) WHERE e.request_id LIKE 'rows-%' "
                                          "AND risk_flags = '{violence,medical}' AND closed_at IS "
                                          "NULL AND lat = 34.0512345678 AND c.last_seq = e.seq AND "
                                          "c.created_at = e.at AND c.updated_at = e.at AND "
                                          "pending_since_ms = (payload->>'created_ms')::bigint"),
                     1 + BURST);
    /* Every event row alike but for its identity: the payload without its ids and times, the
     * NULL unit, the recorded reply's kind and presence. */
    ck_assert_int_eq(
        harness_sql_count(h, "SELECT count(DISTINCT (actor, kind, unit_id IS NULL, reply_kind, "
                             "length(reply) > 0, payload::jsonb - 'call_id' - 'call_no' - "
                             "'created_ms' - 'updated_ms' - 'pending_since_ms' - 'last_seq')) "
                             "FROM events WHERE request_id LIKE 'rows-%'"),
        1);
    /* And each event's time is its call's creation time to the microsecond (extract gives an
     * exact numeric from PostgreSQL 14 on, a float8 before), alone or batched. */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id LIKE "
                                          "'rows-%' AND payload->>'summary' LIKE 'He said%' AND "
                                          "extract(epoch FROM at) * 1000 = "
                                          "(payload->>'created_ms')::bigint"),
                     1 + BURST);
}
END_TEST

/* calls.type has no foreign key (migration 0009): the server writes only types it loaded from
 * call_types, and call_types refuses to lose or rename a row, so every type stays resolvable. */
START_TEST(call_types_are_kept_for_good)
{
    Codispatch__V1__Envelope *r =
        harness_create_call(h, "kept-1", "welfare_check", 3, 34.05, -118.25);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    /* Removing or renaming a type is refused, used or not, however it is tried. */
    ck_assert_int_ne(harness_sql_exec(h, "DELETE FROM call_types WHERE name = 'welfare_check'"), 0);
    ck_assert_int_ne(harness_sql_exec(h, "DELETE FROM call_types WHERE name = 'fire'"), 0);
    ck_assert_int_ne(harness_sql_exec(h, "TRUNCATE call_types"), 0);
    ck_assert_int_ne(
        harness_sql_exec(h,
                         "UPDATE call_types SET name = 'wellbeing' WHERE name = 'welfare_check'"),
        0);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM call_types WHERE name IN "
                                          "('welfare_check', 'fire')"),
                     2);
    /* Adding a type and rewording a description still work. */
    ck_assert_int_eq(harness_sql_exec(h, "INSERT INTO call_types (name) VALUES ('kept_test')"), 0);
    ck_assert_int_eq(harness_sql_exec(h, "UPDATE call_types SET description = description || '.' "
                                         "WHERE name = 'other'"),
                     0);
    /* An unknown type never reaches calls: the server refuses it, naming the field. */
    r = harness_create_call(h, "kept-2", "ufo", 3, 34.05, -118.25);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
    ck_assert_str_eq(r->error->field, "type");
    cdc_envelope_free(r);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls c WHERE NOT EXISTS "
                                          "(SELECT 1 FROM call_types t WHERE t.name = c.type)"),
                     0);
}
END_TEST

START_TEST(list_calls_open_and_all)
{
    Codispatch__V1__Envelope *r = harness_create_call(h, "ls-1", "fire", 1, 34.2, -118.5);
    char id[32];
    snprintf(id, sizeof id, "%s", r->call->call_id);
    cdc_envelope_free(r);
    for (int open = 0; open <= 1; open++) {
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__ListCalls m = CODISPATCH__V1__LIST_CALLS__INIT;
        m.has_open_only = true;
        m.open_only = open;
        m.has_limit = true;
        m.limit = 5;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_CALLS;
        req.list_calls = &m;
        r = harness_call(h, &req, 5000);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL_LIST);
        ck_assert_uint_ge(r->call_list->n_calls, 1);
        ck_assert_uint_le(r->call_list->n_calls, 5);
        ck_assert_str_eq(r->call_list->calls[0]->call_id, id); /* newest first */
        for (size_t i = 0; open && i < r->call_list->n_calls; i++)
            ck_assert_int_ne(r->call_list->calls[i]->status,
                             CODISPATCH__V1__CALL_STATUS__CALL_CANCELLED);
        cdc_envelope_free(r);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("intake");
    TCase *tc = tcase_create("intake");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_checked_fixture(tc, each_setup, NULL);
    tcase_add_test(tc, create_then_get_round_trip);
    tcase_add_test(tc, same_request_id_twice_gives_one_call);
    tcase_add_test(tc, cancel_is_durable_and_idempotent);
    tcase_add_test(tc, concurrent_clients_all_acknowledged);
    tcase_add_test(tc, list_calls_open_and_all);
    tcase_add_test(tc, a_lone_call_and_a_batched_call_write_the_same_rows);
    tcase_add_test(tc, call_types_are_kept_for_good);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
