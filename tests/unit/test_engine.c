/* Unit tests: the pure engine (src/core/cd_engine.c) under an injected clock. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_engine.h"

static cd_engine_t *engine;
static const int64_t T0 = 1767225600000; /* 2026-01-01T00:00:00Z */

static void setup(void)
{
    engine = cd_engine_new();
    const char *types[] = {"mental_health", "substance", "medical", "other"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        ck_assert_int_eq(cd_engine_add_call_type(engine, types[i]), CD_OK);
}

static void teardown(void)
{
    cd_engine_destroy(&engine);
    ck_assert_ptr_null(engine);
}

static cd_call_input_t s_input(void)
{
    cd_call_input_t in = {0};
    in.type = "mental_health";
    in.has_priority = true;
    in.priority = 2;
    in.has_lat = in.has_lon = true;
    in.lat = 34.0522;
    in.lon = -118.2437;
    in.address = "200 N Spring St";
    in.area = "SPA 4";
    in.language = "ES";
    in.summary = "Person in distress outside city hall";
    in.caller_name = "Ana";
    in.callback = "+1 213 555 0100";
    return in;
}

static const cd_call_t *s_create(const char *rid, int64_t at)
{
    cd_ctx_t ctx = {.now_ms = at, .actor = "console", .request_id = rid};
    cd_call_input_t in = s_input();
    const cd_call_t *c = NULL;
    cd_error_t err;
    ck_assert_int_eq(cd_engine_create_call(engine, &ctx, &in, &c, &err), CD_OK);
    return c;
}

START_TEST(create_assigns_ids_and_records_one_event)
{
    const cd_call_t *a = s_create("r1", T0);
    ck_assert_str_eq(a->id, "C-000001");
    ck_assert_int_eq(a->status, CD_CALL_PENDING);
    ck_assert_str_eq(a->language, "es"); /* normalised */
    ck_assert_int_eq(a->created_ms, T0);
    const cd_call_t *b = s_create("r2", T0 + 1000);
    ck_assert_str_eq(b->id, "C-000002");
    ck_assert_int_eq(cd_engine_open_calls(engine), 2);
    ck_assert_int_eq(cd_engine_last_seq(engine), 2);

    const cd_event_log_t *log = cd_engine_events(engine);
    ck_assert_int_eq(log->len, 2);
    ck_assert_int_eq(log->items[0].kind, CD_EV_CALL_CREATED);
    ck_assert_int_eq(log->items[0].seq, 1);
    ck_assert_str_eq(log->items[0].request_id, "r1");
    ck_assert_str_eq(log->items[0].actor, "console");
    ck_assert_str_eq(log->items[1].call_id, "C-000002");
}
END_TEST

/* Each bad field is refused with CD_EINVAL and a sentence that names it. */
START_TEST(create_refuses_bad_fields)
{
    struct {
        const char *field;
        void (*mutate)(cd_call_input_t *);
        const char *needle;
    } cases[] = {
        {"type", NULL, "type is required"},
        {"priority", NULL, "between 1 (highest) and 4; got 9"},
        {"lat", NULL, "lat must be between -90 and 90; got 200"},
        {"lon", NULL, "lon must be between -180 and 180"},
        {"language", NULL, "BCP 47"},
        {"callback", NULL, "phone number"},
        {"summary", NULL, "summary is too long"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cd_call_input_t in = s_input();
        char big[CD_SUMMARY_MAX + 2];
        switch (i) {
        case 0:
            in.type = "";
            break;
        case 1:
            in.priority = 9;
            break;
        case 2:
            in.lat = 200;
            break;
        case 3:
            in.lon = -181;
            break;
        case 4:
            in.language = "spanish";
            break;
        case 5:
            in.callback = "call me maybe";
            break;
        case 6:
            memset(big, 'x', sizeof big - 1);
            big[sizeof big - 1] = '\0';
            in.summary = big;
            break;
        }
        cd_ctx_t ctx = {.now_ms = T0, .actor = "console", .request_id = "bad"};
        cd_error_t err;
        const cd_call_t *c = NULL;
        ck_assert_int_eq(cd_engine_create_call(engine, &ctx, &in, &c, &err), CD_EINVAL);
        ck_assert_str_eq(err.field, cases[i].field);
        ck_assert_msg(strstr(err.message, cases[i].needle), "case %zu: '%s' lacks '%s'", i,
                      err.message, cases[i].needle);
    }
    ck_assert_int_eq(cd_engine_events(engine)->len, 0);
    ck_assert_int_eq(cd_engine_last_seq(engine), 0);
}
END_TEST

START_TEST(create_refuses_unknown_type_naming_the_known_ones)
{
    cd_call_input_t in = s_input();
    in.type = "alien_abduction";
    cd_ctx_t ctx = {.now_ms = T0, .actor = "console"};
    cd_error_t err;
    ck_assert_int_eq(cd_engine_create_call(engine, &ctx, &in, NULL, &err), CD_EINVAL);
    ck_assert_str_eq(err.field, "type");
    ck_assert_ptr_nonnull(strstr(err.message, "alien_abduction"));
    ck_assert_ptr_nonnull(strstr(err.message, "mental_health"));
}
END_TEST

START_TEST(cancel_once_then_conflict)
{
    const cd_call_t *c = s_create("r1", T0);
    char id[CD_CALL_ID_MAX + 1];
    strcpy(id, c->id);
    cd_ctx_t ctx = {.now_ms = T0 + 5000, .actor = "console", .request_id = "r2"};
    cd_error_t err;
    const cd_call_t *out = NULL;
    ck_assert_int_eq(cd_engine_cancel_call(engine, &ctx, id, "", &out, &err), CD_EINVAL);
    ck_assert_str_eq(err.field, "reason");
    ck_assert_int_eq(cd_engine_cancel_call(engine, &ctx, id, "caller hung up", &out, &err), CD_OK);
    ck_assert_int_eq(out->status, CD_CALL_CANCELLED);
    ck_assert_str_eq(out->cancel_reason, "caller hung up");
    ck_assert_int_eq(out->closed_ms, T0 + 5000);
    ck_assert_int_eq(cd_engine_open_calls(engine), 0);
    ctx.request_id = "r3";
    ck_assert_int_eq(cd_engine_cancel_call(engine, &ctx, id, "again", &out, &err), CD_ECONFLICT);
    ck_assert_ptr_nonnull(strstr(err.message, "already cancelled"));
    ck_assert_int_eq(cd_engine_cancel_call(engine, &ctx, "C-999999", "x", &out, &err),
                     CD_ENOTFOUND);
    ck_assert_int_eq(cd_engine_last_seq(engine), 2);
}
END_TEST

START_TEST(list_is_newest_first_and_filters_open)
{
    for (int i = 0; i < 5; i++)
        s_create(NULL, T0 + i);
    cd_ctx_t ctx = {.now_ms = T0 + 10, .actor = "console"};
    ck_assert_int_eq(cd_engine_cancel_call(engine, &ctx, "C-000004", "dup", NULL, NULL), CD_OK);
    const cd_call_t *out[10];
    size_t n = cd_engine_list_calls(engine, false, 10, out);
    ck_assert_int_eq(n, 5);
    ck_assert_str_eq(out[0]->id, "C-000005");
    ck_assert_str_eq(out[4]->id, "C-000001");
    n = cd_engine_list_calls(engine, true, 10, out);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(out[1]->id, "C-000003");
    n = cd_engine_list_calls(engine, false, 2, out);
    ck_assert_int_eq(n, 2);
}
END_TEST

/* Replay = live: the recorded events, serialised and applied to a fresh engine, give the
 * same state. */
START_TEST(keys_add_revoke_and_replay)
{
    cd_ctx_t ctx = {.now_ms = T0, .actor = "admin:root"};
    cd_key_t k = {.role = CD_ROLE_DISPATCHER};
    snprintf(k.name, sizeof k.name, "alice");
    snprintf(k.public_key, sizeof k.public_key, "%s", "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7");
    cd_error_t err;
    const cd_key_t *out = NULL;
    ck_assert_int_eq(cd_engine_add_key(engine, &ctx, &k, &out, &err), CD_OK);
    ck_assert_str_eq(out->name, "alice");
    ck_assert_int_eq(out->revoked_ms, 0);
    /* Names and public keys are never reused. */
    ck_assert_int_eq(cd_engine_add_key(engine, &ctx, &k, NULL, &err), CD_ECONFLICT);
    ck_assert_str_eq(err.field, "name");
    cd_key_t k2 = k;
    snprintf(k2.name, sizeof k2.name, "bob");
    ck_assert_int_eq(cd_engine_add_key(engine, &ctx, &k2, NULL, &err), CD_ECONFLICT);
    ck_assert_str_eq(err.field, "public_key");
    snprintf(k2.public_key, sizeof k2.public_key, "short");
    ck_assert_int_eq(cd_engine_add_key(engine, &ctx, &k2, NULL, &err), CD_EINVAL);
    ck_assert_str_eq(err.field, "public_key");
    /* A unit key needs a unit on the roster. */
    cd_key_t u = k;
    snprintf(u.name, sizeof u.name, "tab");
    u.role = CD_ROLE_UNIT;
    u.public_key[0] = 'X';
    ck_assert_int_eq(cd_engine_add_key(engine, &ctx, &u, NULL, &err), CD_EINVAL);
    snprintf(u.unit_id, sizeof u.unit_id, "NOPE");
    ck_assert_int_eq(cd_engine_add_key(engine, &ctx, &u, NULL, &err), CD_ENOTFOUND);
    ctx.now_ms = T0 + 5000;
    ck_assert_int_eq(cd_engine_revoke_key(engine, &ctx, "alice", &out, &err), CD_OK);
    ck_assert_int_eq(out->revoked_ms, T0 + 5000);
    ck_assert_int_eq(cd_engine_revoke_key(engine, &ctx, "alice", NULL, &err), CD_ECONFLICT);
    ck_assert_int_eq(cd_engine_revoke_key(engine, &ctx, "nobody", NULL, &err), CD_ENOTFOUND);
    /* Replay through JSON text gives the same table. */
    cd_event_log_t log = {0};
    cd_engine_take_events(engine, &log);
    ck_assert_int_eq(log.len, 2);
    ck_assert_str_eq(log.items[0].actor, "admin:root");
    cd_engine_t *fresh = cd_engine_new();
    for (size_t i = 0; i < log.len; i++) {
        char *text = cJSON_PrintUnformatted(log.items[i].payload);
        cd_event_t ev = log.items[i];
        ev.payload = cJSON_Parse(text);
        free(text);
        ck_assert_int_eq(cd_engine_apply(fresh, &ev, &err), CD_OK);
        cJSON_Delete(ev.payload);
    }
    const cd_key_t *r = cd_engine_find_public_key(fresh, k.public_key);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->name, "alice");
    ck_assert_int_eq(r->role, CD_ROLE_DISPATCHER);
    ck_assert_int_eq(r->revoked_ms, T0 + 5000);
    ck_assert_uint_eq(cd_engine_key_count(fresh), 1);
    cd_engine_reset(fresh);
    ck_assert_uint_eq(cd_engine_key_count(fresh), 0);
    cd_engine_destroy(&fresh);
    cd_event_log_release(&log);
}
END_TEST

START_TEST(replay_reproduces_state)
{
    for (int i = 0; i < 20; i++) {
        s_create(NULL, T0 + i * 1000);
        if (i % 3 == 0) {
            char id[16];
            cd_call_format_id(id, i + 1);
            cd_ctx_t ctx = {.now_ms = T0 + i * 1000 + 500, .actor = "console"};
            ck_assert_int_eq(
                cd_engine_cancel_call(engine, &ctx, id, "resolved by phone", NULL, NULL), CD_OK);
        }
    }
    cd_event_log_t log = {0};
    cd_engine_take_events(engine, &log);
    ck_assert_int_eq(cd_engine_events(engine)->len, 0);

    cd_engine_t *fresh = cd_engine_new();
    cd_engine_add_call_type(fresh, "mental_health");
    for (size_t i = 0; i < log.len; i++) {
        /* Through text, as PostgreSQL stores the payload. */
        char *text = cJSON_PrintUnformatted(log.items[i].payload);
        cd_event_t ev = log.items[i];
        ev.payload = cJSON_Parse(text);
        free(text);
        cd_error_t err;
        ck_assert_int_eq(cd_engine_apply(fresh, &ev, &err), CD_OK);
        cJSON_Delete(ev.payload);
    }
    cJSON *a = cd_engine_state_json(engine), *b = cd_engine_state_json(fresh);
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    ck_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cd_event_log_release(&log);
    cd_engine_destroy(&fresh);
}
END_TEST

START_TEST(apply_refuses_gaps)
{
    cd_engine_t *fresh = cd_engine_new();
    cd_event_t ev = {.seq = 5, .kind = CD_EV_CALL_CANCELLED, .payload = cJSON_CreateObject()};
    cd_error_t err;
    ck_assert_int_eq(cd_engine_apply(fresh, &ev, &err), CD_ECONFLICT);
    ck_assert_str_eq(err.field, "seq");
    cJSON_Delete(ev.payload);
    cd_engine_destroy(&fresh);
}
END_TEST

START_TEST(restore_continues_numbering_and_evicts_old_closed)
{
    cd_engine_restore_counters(engine, 41, 7);
    cd_call_t *old = cd_call_new();
    strcpy(old->id, "C-000007");
    old->no = 7;
    strcpy(old->type, "medical");
    old->priority = 3;
    old->status = CD_CALL_CLOSED;
    old->closed_ms = T0 - 7200 * 1000;
    ck_assert_int_eq(cd_engine_restore_call(engine, old), CD_OK);
    const cd_call_t *c = s_create("r", T0);
    ck_assert_str_eq(c->id, "C-000008");
    ck_assert_int_eq(cd_engine_last_seq(engine), 42);
    ck_assert_int_eq(cd_engine_evict_closed(engine, T0 - 3600 * 1000), 1);
    ck_assert_ptr_null(cd_engine_find_call(engine, "C-000007"));
    ck_assert_ptr_nonnull(cd_engine_find_call(engine, "C-000008"));
}
END_TEST

START_TEST(reset_forgets_everything_but_reference_data)
{
    s_create("r", T0);
    cd_engine_reset(engine);
    ck_assert_int_eq(cd_engine_open_calls(engine), 0);
    ck_assert_int_eq(cd_engine_last_seq(engine), 0);
    ck_assert_int_eq(cd_engine_events(engine)->len, 0);
    ck_assert(cd_engine_call_type_known(engine, "substance"));
    ck_assert_str_eq(s_create("r", T0)->id, "C-000001");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine");
    TCase *tc = tcase_create("calls");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, create_assigns_ids_and_records_one_event);
    tcase_add_test(tc, create_refuses_bad_fields);
    tcase_add_test(tc, create_refuses_unknown_type_naming_the_known_ones);
    tcase_add_test(tc, cancel_once_then_conflict);
    tcase_add_test(tc, list_is_newest_first_and_filters_open);
    tcase_add_test(tc, replay_reproduces_state);
    tcase_add_test(tc, keys_add_revoke_and_replay);
    tcase_add_test(tc, apply_refuses_gaps);
    tcase_add_test(tc, restore_continues_numbering_and_evicts_old_closed);
    tcase_add_test(tc, reset_forgets_everything_but_reference_data);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
