/* Integration: state survives a restart (clean or kill -9); ids and the sequence continue;
 * retries across the restart stay exactly-once. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

static uint64_t s_last_seq(void)
{
    Codispatch__V1__Envelope *st = harness_status(h);
    ck_assert_ptr_nonnull(st);
    uint64_t seq = st->status_reply->last_seq;
    cdc_envelope_free(st);
    return seq;
}

static long s_call_no(const char *id)
{
    return strtol(id + 2, NULL, 10);
}

START_TEST(clean_restart_keeps_calls_and_sequence)
{
    char ids[3][32];
    for (int i = 0; i < 3; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "keep-%d", i);
        Codispatch__V1__Envelope *r = harness_create_call(h, rid, "mental_health", 2, 34, -118);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        snprintf(ids[i], sizeof ids[i], "%s", r->call->call_id);
        cdc_envelope_free(r);
    }
    Codispatch__V1__Envelope *c = harness_cancel_call(h, "keep-cancel", ids[1], "duplicate");
    cdc_envelope_free(c);
    uint64_t seq = s_last_seq();
    ck_assert_uint_ge(seq, 4);

    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);

    ck_assert_uint_eq(s_last_seq(), seq);
    for (int i = 0; i < 3; i++) {
        Codispatch__V1__Envelope *r = harness_get_call(h, ids[i]);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        ck_assert_int_eq(r->call->status, i == 1 ? CODISPATCH__V1__CALL_STATUS__CALL_CANCELLED
                                                 : CODISPATCH__V1__CALL_STATUS__CALL_PENDING);
        cdc_envelope_free(r);
    }
    /* Numbering continues where it stopped. */
    Codispatch__V1__Envelope *r = harness_create_call(h, "after-restart", "other", 4, 34, -118);
    ck_assert_int_eq(s_call_no(r->call->call_id), s_call_no(ids[2]) + 1);
    ck_assert_uint_eq(r->seq, seq + 1);
    cdc_envelope_free(r);
}
END_TEST

START_TEST(retry_after_restart_returns_the_original_reply)
{
    Codispatch__V1__Envelope *a = harness_create_call(h, "retry-x", "substance", 1, 34, -118);
    /* The reply is kept in the row of the command's event (0005), not as a requests row. */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id = "
                                          "'retry-x' AND reply_kind = 'create_call' AND "
                                          "length(reply) > 0"),
                     1);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM requests WHERE request_id = "
                                          "'retry-x'"),
                     0);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);
    Codispatch__V1__Envelope *b = harness_create_call(h, "retry-x", "substance", 1, 34, -118);
    ck_assert_int_eq(b->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(a->call->call_id, b->call->call_id);
    ck_assert_uint_eq(a->seq, b->seq);
    cdc_envelope_free(a);
    cdc_envelope_free(b);
}
END_TEST

/* A database from before migration 0005: the event row without its reply, the reply a row
 * of `requests`.  A retry after a restart still gets that reply. */
START_TEST(requests_rows_still_answer_retries)
{
    Codispatch__V1__Envelope *a = harness_create_call(h, "legacy-a", "substance", 1, 34, -118);
    ck_assert_int_eq(a->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_sql_exec(h, "INSERT INTO requests (request_id, kind, seq, at, reply) "
                                         "SELECT request_id, reply_kind, seq, at, reply "
                                         "FROM events WHERE request_id = 'legacy-a'"),
                     0);
    /* Only a test may rewrite the log: the append-only trigger is lifted for this one UPDATE. */
    ck_assert_int_eq(harness_sql_exec(h, "ALTER TABLE events DISABLE TRIGGER events_append_only; "
                                         "UPDATE events SET reply = NULL, reply_kind = NULL "
                                         "WHERE request_id = 'legacy-a'; "
                                         "ALTER TABLE events ENABLE TRIGGER events_append_only"),
                     0);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE reply IS NOT NULL "
                                          "AND request_id = 'legacy-a'"),
                     0);
    ck_assert_int_eq(harness_start_server(h), 0);
    Codispatch__V1__Envelope *b = harness_create_call(h, "legacy-a", "substance", 1, 34, -118);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(b->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(a->call->call_id, b->call->call_id); /* the recorded reply, not a new call */
    ck_assert_uint_eq(a->seq, b->seq);
    cdc_envelope_free(a);
    cdc_envelope_free(b);
}
END_TEST

/* CreateCall with request_id, repeated while the server answers UNAVAILABLE (a refused batch,
 * then the reload); counts those answers in *unavailable. */
static Codispatch__V1__Envelope *s_create_until_answered(const char *rid, int *unavailable)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        Codispatch__V1__Envelope *r = harness_create_call(h, rid, "substance", 1, 34, -118);
        ck_assert_ptr_nonnull(r);
        if (harness_error_code(r) != CODISPATCH__V1__CODE__UNAVAILABLE)
            return r;
        cdc_envelope_free(r);
        (*unavailable)++;
        harness_sleep_ms(50);
    }
    ck_abort_msg("%s: UNAVAILABLE for 5 s", rid);
    return NULL;
}

static int s_count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* A retry from beyond the reply cache's window (72 h): the cache takes it for a new command,
 * and the UNIQUE key on events.request_id refuses its batch.  That happens once per id: the
 * reload looks the id up in the log, and from then on the retry gets the original reply (or,
 * where that reply is no longer kept, CONFLICT) without refusing anyone's batch. */
START_TEST(retry_from_beyond_the_window_refuses_one_batch_only)
{
    Codispatch__V1__Envelope *a = harness_create_call(h, "stale-a", "substance", 1, 34, -118);
    ck_assert_int_eq(a->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    Codispatch__V1__Envelope *b = harness_create_call(h, "stale-b", "substance", 1, 34, -118);
    ck_assert_int_eq(b->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(b);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    /* Four days pass for these two commands (only a test may rewrite the log), and stale-b's
     * reply is gone, as for a command recorded before migration 0005 whose `requests` row was
     * pruned. */
    ck_assert_int_eq(harness_sql_exec(h, "ALTER TABLE events DISABLE TRIGGER events_append_only; "
                                         "UPDATE events SET at = at - interval '96 hours' "
                                         "WHERE request_id IN ('stale-a', 'stale-b'); "
                                         "UPDATE events SET reply = NULL, reply_kind = NULL "
                                         "WHERE request_id = 'stale-b'; "
                                         "ALTER TABLE events ENABLE TRIGGER events_append_only"),
                     0);
    ck_assert_int_eq(harness_start_server(h), 0);
    long long calls = harness_sql_count(h, "SELECT count(*) FROM calls");

    int unavailable = 0;
    Codispatch__V1__Envelope *r = s_create_until_answered("stale-a", &unavailable);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(r->call->call_id, a->call->call_id); /* the original reply */
    ck_assert_uint_eq(r->seq, a->seq);
    cdc_envelope_free(r);
    ck_assert_int_ge(unavailable, 1); /* the one refused batch */

    unavailable = 0;
    r = s_create_until_answered("stale-b", &unavailable);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__CONFLICT);
    ck_assert_str_eq(r->error->field, "request_id");
    ck_assert_ptr_nonnull(strstr(r->error->message, "longer ago than replies are kept"));
    cdc_envelope_free(r);
    ck_assert_int_ge(unavailable, 1);

    /* From now on: answered at once, and nobody else's command is refused with them. */
    for (int i = 0; i < 3; i++) {
        r = harness_create_call(h, "stale-a", "substance", 1, 34, -118);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        ck_assert_str_eq(r->call->call_id, a->call->call_id);
        cdc_envelope_free(r);
        r = harness_create_call(h, "stale-b", "substance", 1, 34, -118);
        ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__CONFLICT);
        cdc_envelope_free(r);
        char rid[32];
        snprintf(rid, sizeof rid, "beside-stale-%d", i);
        r = harness_create_call(h, rid, "other", 4, 34, -118);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        cdc_envelope_free(r);
    }
    char *log = harness_server_log(h);
    ck_assert_int_eq(s_count(log, "the database refused a batch"), 2); /* one per stale id */
    free(log);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id IN "
                                          "('stale-a', 'stale-b')"),
                     2);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls"), calls + 3);
    cdc_envelope_free(a);
}
END_TEST

START_TEST(kill_9_loses_nothing_acknowledged)
{
    char ids[10][32];
    for (int i = 0; i < 10; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "k9-%d", i);
        Codispatch__V1__Envelope *r = harness_create_call(h, rid, "welfare_check", 3, 34, -118);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        snprintf(ids[i], sizeof ids[i], "%s", r->call->call_id);
        cdc_envelope_free(r);
    }
    ck_assert_int_eq(harness_stop_server(h, SIGKILL), 128 + SIGKILL);
    ck_assert_int_eq(harness_start_server(h), 0);
    for (int i = 0; i < 10; i++) {
        Codispatch__V1__Envelope *r = harness_get_call(h, ids[i]);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        cdc_envelope_free(r);
    }
}
END_TEST

/* The batch writes rows as PostgreSQL array literals: text that needs quoting there (quotes,
 * backslashes, braces, commas, the word NULL), risk flags, notes and non-ASCII must come back
 * from the database exactly as sent. */
START_TEST(awkward_text_survives_a_restart)
{
    static const char summary[] =
        "He said \"stop\" \\ back\\slash {a,b} NULL , \xc3\xb1 \xe6\x97\xa5";
    static const char address[] = "1 \"Main\" St, {x}";
    static const char caller[] = "O'Brien \"Bo\"";
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall cc = CODISPATCH__V1__CREATE_CALL__INIT;
    cc.type = "mental_health";
    cc.has_priority = cc.has_lat = cc.has_lon = cc.has_weapon = cc.has_medical = true;
    cc.priority = 3;
    cc.lat = 34.0512345678;
    cc.lon = -118.25;
    cc.weapon = cc.medical = true;
    cc.summary = (char *)summary;
    cc.address = (char *)address;
    cc.caller_name = (char *)caller;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    env.create_call = &cc;
    Codispatch__V1__Envelope *r = harness_send(h, &env);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    char id[32];
    snprintf(id, sizeof id, "%s", r->call->call_id);
    cdc_envelope_free(r);

    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    ck_assert_int_eq(harness_start_server(h), 0);
    r = harness_get_call(h, id);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(r->call->summary, summary);
    ck_assert_str_eq(r->call->address, address);
    ck_assert_str_eq(r->call->caller_name, caller);
    ck_assert(r->call->weapon && r->call->medical && !r->call->violence);
    ck_assert(r->call->lat == 34.0512345678);
    cdc_envelope_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("restart");
    TCase *tc = tcase_create("restart");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, clean_restart_keeps_calls_and_sequence);
    tcase_add_test(tc, retry_after_restart_returns_the_original_reply);
    tcase_add_test(tc, requests_rows_still_answer_retries);
    tcase_add_test(tc, retry_from_beyond_the_window_refuses_one_batch_only);
    tcase_add_test(tc, kill_9_loses_nothing_acknowledged);
    tcase_add_test(tc, awkward_text_survives_a_restart);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
