/*  test_store_rows.c — the batch's parameters as store_rows.c builds them, and the turn of a
 *  one-row batch's arrays into scalars (store_sql_array_to_scalar) for the one-row VALUES
 *  statements: each element's binary form, an empty text kept apart from a NULL, NULLs as NULL
 *  parameters.  No database: what PostgreSQL makes of them is test_intake's.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store_sql.h"

static int64_t s_be64(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | u[i];
    return (int64_t)v;
}

static void s_event(cd_event_log_t *log, int64_t seq, const char *request_id)
{
    cd_event_t ev = {.seq = seq, .at_ms = 1700000000123, .kind = CD_EV_UNIT_LINK};
    strcpy(ev.actor, "unit:MH-1");
    strcpy(ev.unit_id, "MH-1");
    strcpy(ev.request_id, request_id);
    ev.payload = cJSON_CreateObject();
    cJSON_AddTrueToObject(ev.payload, "up");
    cd_event_log_push(log, &ev);
}

static void s_free(store_sql_array_t *a, int n)
{
    for (int i = 0; i < n; i++)
        free(a[i].data);
}

START_TEST(a_one_row_event_without_a_reply_becomes_scalars_and_nulls)
{
    cd_event_log_t log = {0};
    reqcache_t *cache = reqcache_new();
    s_event(&log, 42, "");
    store_sql_array_t p[STORE_SQL_EVENT_PARAMS];
    store_sql_events_params(&log, cache, p);
    for (int i = 0; i < STORE_SQL_EVENT_PARAMS; i++)
        store_sql_array_to_scalar(&p[i]);
    ck_assert_int_eq(p[0].len, 8);
    ck_assert_int_eq(s_be64(p[0].data), 42);
    ck_assert_int_eq(p[1].len, 8);
    ck_assert_int_eq(s_be64(p[1].data), 1700000000123);
    ck_assert_int_eq(p[2].len, 9);
    ck_assert_mem_eq(p[2].data, "unit:MH-1", 9);
    const char *kind = cd_event_kind_name(CD_EV_UNIT_LINK);
    ck_assert_int_eq(p[3].len, (int)strlen(kind));
    ck_assert_mem_eq(p[3].data, kind, strlen(kind));
    /* An empty call id is an empty text, not a NULL (the statement's nullif makes it NULL). */
    ck_assert_ptr_nonnull(p[4].data);
    ck_assert_int_eq(p[4].len, 0);
    ck_assert_int_eq(p[5].len, 4);
    ck_assert_mem_eq(p[5].data, "MH-1", 4);
    ck_assert_ptr_nonnull(p[6].data);
    ck_assert_int_eq(p[6].len, 0);
    ck_assert_int_eq(p[7].len, (int)strlen("{\"up\":true}"));
    ck_assert_mem_eq(p[7].data, "{\"up\":true}", (size_t)p[7].len);
    /* No reply: its kind and bytes are NULL parameters. */
    ck_assert_ptr_null(p[8].data);
    ck_assert_int_eq(p[8].len, 0);
    ck_assert_ptr_null(p[9].data);
    ck_assert_int_eq(p[9].len, 0);
    s_free(p, STORE_SQL_EVENT_PARAMS);
    cd_event_log_release(&log);
    reqcache_destroy(&cache);
}
END_TEST

START_TEST(a_one_row_event_with_its_reply_carries_the_reply_bytes)
{
    cd_event_log_t log = {0};
    reqcache_t *cache = reqcache_new();
    const uint8_t reply[] = {0x08, 0x00, 0x01, 0xff, 0x00};
    ck_assert_ptr_nonnull(reqcache_add(cache, "r-1", "create_call", 7, 1, reply, sizeof reply));
    s_event(&log, 7, "r-1");
    store_sql_array_t p[STORE_SQL_EVENT_PARAMS];
    store_sql_events_params(&log, cache, p);
    for (int i = 0; i < STORE_SQL_EVENT_PARAMS; i++)
        store_sql_array_to_scalar(&p[i]);
    ck_assert_int_eq(p[6].len, 3);
    ck_assert_mem_eq(p[6].data, "r-1", 3);
    ck_assert_int_eq(p[8].len, 11);
    ck_assert_mem_eq(p[8].data, "create_call", 11);
    /* Raw bytes, zeros included. */
    ck_assert_int_eq(p[9].len, (int)sizeof reply);
    ck_assert_mem_eq(p[9].data, reply, sizeof reply);
    s_free(p, STORE_SQL_EVENT_PARAMS);
    cd_event_log_release(&log);
    reqcache_destroy(&cache);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_rows");
    TCase *tc = tcase_create("scalars");
    tcase_add_test(tc, a_one_row_event_without_a_reply_becomes_scalars_and_nulls);
    tcase_add_test(tc, a_one_row_event_with_its_reply_carries_the_reply_bytes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
