/* Unit: cd_throttle, token buckets by key — bursts, refill, separate keys, bounded memory. */
#include <check.h>
#include <stdlib.h>

#include "cd_throttle.h"

START_TEST(a_burst_then_one_per_interval)
{
    cd_throttle_t *t = cd_throttle_new(3, 2, 16); /* 3 at once, then 2 a second */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cd_throttle_take(t, "a", 1, 1000), 0);
    ck_assert_int_eq(cd_throttle_take(t, "a", 1, 1000), 500); /* the next token in 0.5 s */
    ck_assert_int_eq(cd_throttle_take(t, "a", 1, 1400), 100); /* refused takes nothing */
    ck_assert_int_eq(cd_throttle_take(t, "a", 1, 1500), 0);
    ck_assert_int_eq(cd_throttle_take(t, "a", 1, 1500), 500);
    /* A long quiet spell refills to the burst, not beyond. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(cd_throttle_take(t, "a", 1, 60000), 0);
    ck_assert_int_gt(cd_throttle_take(t, "a", 1, 60000), 0);
    /* A clock that goes back earns nothing and breaks nothing. */
    ck_assert_int_gt(cd_throttle_take(t, "a", 1, 50000), 0);
    cd_throttle_destroy(&t);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(keys_are_separate_bytes)
{
    cd_throttle_t *t = cd_throttle_new(1, 1, 16);
    ck_assert_int_eq(cd_throttle_take(t, "a\0x", 3, 0), 0);
    ck_assert_int_eq(cd_throttle_take(t, "a\0y", 3, 0), 0); /* differs after a NUL byte */
    ck_assert_int_eq(cd_throttle_take(t, "a", 1, 0), 0);    /* a prefix is another key */
    ck_assert_int_eq(cd_throttle_take(t, "a\0x", 3, 0), 1000);
    ck_assert_int_eq(cd_throttle_size(t), 3);
    cd_throttle_destroy(&t);
}
END_TEST

START_TEST(memory_is_bounded_and_fails_open)
{
    cd_throttle_t *t = cd_throttle_new(1, 1, 4);
    char key[8];
    for (int i = 0; i < 4; i++) {
        key[0] = (char)('a' + i);
        ck_assert_int_eq(cd_throttle_take(t, key, 1, 0), 0);
    }
    ck_assert_int_eq(cd_throttle_size(t), 4);
    /* Full, every bucket still draining: a fifth key goes through unrecorded. */
    ck_assert_int_eq(cd_throttle_take(t, "e", 1, 10), 0);
    ck_assert_int_eq(cd_throttle_take(t, "e", 1, 10), 0);
    ck_assert_int_eq(cd_throttle_size(t), 4);
    /* The recorded ones are still held to their rate. */
    ck_assert_int_gt(cd_throttle_take(t, "a", 1, 10), 0);
    /* Once they have refilled they are forgotten to make room. */
    ck_assert_int_eq(cd_throttle_take(t, "f", 1, 5000), 0);
    ck_assert_int_eq(cd_throttle_size(t), 1);
    ck_assert_int_gt(cd_throttle_take(t, "f", 1, 5000), 0);
    /* A key longer than the limit is cut, not overrun. */
    char big[CD_THROTTLE_KEY_MAX + 50] = {0};
    ck_assert_int_eq(cd_throttle_take(t, big, sizeof big, 6000), 0);
    ck_assert_int_gt(cd_throttle_take(t, big, CD_THROTTLE_KEY_MAX, 6000), 0);
    cd_throttle_destroy(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("throttle");
    TCase *tc = tcase_create("throttle");
    tcase_add_test(tc, a_burst_then_one_per_interval);
    tcase_add_test(tc, keys_are_separate_bytes);
    tcase_add_test(tc, memory_is_bounded_and_fails_open);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
