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
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
