/*  test_request_id.c — the client library's request ids (cdc_request_id): well formed, never
 *  repeated within a thread, distinct across threads and across a fork. */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <codispatch/codispatch.h>

#define N_IDS 200000

static int s_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 33);
}

static bool s_well_formed(const char id[33])
{
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdef", id[i]) || id[i] == '\0')
            return false;
    return id[32] == '\0';
}

/* Sorted ids: true if two neighbours are equal. */
static bool s_has_repeat(char (*ids)[33], size_t n)
{
    qsort(ids, n, 33, s_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp(ids[i - 1], ids[i], 33) == 0)
            return true;
    return false;
}

START_TEST(ids_are_hex_and_unique)
{
    char(*ids)[33] = calloc(N_IDS, 33);
    ck_assert_ptr_nonnull(ids);
    size_t bad = N_IDS; /* the first malformed id; one assertion, not one per id */
    for (size_t i = 0; i < N_IDS; i++) {
        cdc_request_id(ids[i]);
        if (bad == N_IDS && !s_well_formed(ids[i]))
            bad = i;
    }
    ck_assert_msg(bad == N_IDS, "id %zu is not 32 lowercase hex digits: %s", bad,
                  bad < N_IDS ? ids[bad] : "");
    ck_assert(!s_has_repeat(ids, N_IDS));
    free(ids);
}
END_TEST

static void *s_thread_ids(void *arg)
{
    char(*ids)[33] = arg;
    for (size_t i = 0; i < N_IDS / 4; i++)
        cdc_request_id(ids[i]);
    return NULL;
}

START_TEST(threads_do_not_share_ids)
{
    char(*ids)[33] = calloc(N_IDS, 33);
    ck_assert_ptr_nonnull(ids);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, s_thread_ids, ids + i * (N_IDS / 4)), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert(!s_has_repeat(ids, N_IDS));
    free(ids);
}
END_TEST

/* A forked child's ids are not the ones its parent goes on to make (the child reseeds). */
START_TEST(a_forked_child_draws_its_own)
{
    char before[33], child[8][33], parent[8][33];
    cdc_request_id(before); /* the parent's thread is seeded before the fork */
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        for (int i = 0; i < 8; i++)
            cdc_request_id(child[i]);
        ssize_t w = write(fds[1], child, sizeof child);
        _exit(w == (ssize_t)sizeof child ? 0 : 1);
    }
    close(fds[1]);
    for (int i = 0; i < 8; i++)
        cdc_request_id(parent[i]);
    size_t got = 0;
    while (got < sizeof child) {
        ssize_t r = read(fds[0], (char *)child + got, sizeof child - got);
        ck_assert_int_gt(r, 0);
        got += (size_t)r;
    }
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    for (int i = 0; i < 8; i++) {
        ck_assert(s_well_formed(child[i]));
        for (int j = 0; j < 8; j++)
            ck_assert_msg(strcmp(child[i], parent[j]) != 0, "child and parent made %s", child[i]);
        /* Not the parent's prefix either: drawn afresh. */
        ck_assert_msg(memcmp(child[i], before, 16) != 0, "the child kept the parent's prefix");
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("request_id");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, ids_are_hex_and_unique);
    tcase_add_test(tc, threads_do_not_share_ids);
    tcase_add_test(tc, a_forked_child_draws_its_own);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
