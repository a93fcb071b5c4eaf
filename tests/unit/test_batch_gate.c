/*  test_batch_gate.c — cd_batch_gate: when the second batch goes to PostgreSQL while one is in
 *  flight.  The rule on its own (a fake clock), then the store's closed loop simulated against a
 *  PostgreSQL that runs batches one after another at a fixed cost per batch and per call, as
 *  measured here (README, Benchmarks): the gate must gather the batches the rule promises, and
 *  raise the calls per second.  (That the only batch is never held is the rule's own case; the
 *  store's part, sending a held batch when the one ahead commits, is test_outage's.)
 */
#include <check.h>
#include <stdlib.h>

#include "cd_batch_gate.h"

START_TEST(the_only_batch_is_never_held)
{
    cd_batch_gate_t g = {0};
    cd_batch_gate_note(&g, 1000, 500);
    ck_assert(cd_batch_gate_send(&g, 0, 1));
    ck_assert(cd_batch_gate_send(&g, 0, 0));
}
END_TEST

START_TEST(a_second_batch_waits_for_half_the_demand)
{
    cd_batch_gate_t g = {0};
    cd_batch_gate_note(&g, 1000, 64);
    ck_assert_uint_eq(cd_batch_gate_demand(&g), 64);
    ck_assert(!cd_batch_gate_send(&g, 1, 1));
    ck_assert(!cd_batch_gate_send(&g, 1, 31));
    ck_assert(cd_batch_gate_send(&g, 1, 32));
    /* Events without a request (a timer's) wait for the batch in flight. */
    ck_assert(!cd_batch_gate_send(&g, 1, 0));
    /* Two consoles: the second request goes behind the first at once, as before the gate. */
    cd_batch_gate_t two = {0};
    cd_batch_gate_note(&two, 1000, 2);
    ck_assert(cd_batch_gate_send(&two, 1, 1));
}
END_TEST

START_TEST(demand_fades_within_two_windows)
{
    cd_batch_gate_t g = {0};
    cd_batch_gate_note(&g, 1000, 64);
    cd_batch_gate_note(&g, 1000 + CD_BATCH_GATE_WINDOW_MS + 50, 4); /* next window */
    ck_assert_uint_eq(cd_batch_gate_demand(&g), 64);                /* the last one counts */
    cd_batch_gate_note(&g, 1000 + 2 * CD_BATCH_GATE_WINDOW_MS + 60, 4);
    ck_assert_uint_eq(cd_batch_gate_demand(&g), 4);
    /* Windows keep fixed boundaries: a peak at the start of a window still counts 199 ms
     * later, at the end of the next, but not 298 ms later, two windows on. */
    cd_batch_gate_t f = {0};
    cd_batch_gate_note(&f, 1000, 64);
    cd_batch_gate_note(&f, 1199, 1);
    ck_assert_uint_eq(cd_batch_gate_demand(&f), 64);
    cd_batch_gate_note(&f, 1298, 1);
    ck_assert_uint_eq(cd_batch_gate_demand(&f), 1);
    ck_assert(cd_batch_gate_send(&f, 1, 1));
    /* And a peak at the very end of a window counts for at least one window more. */
    cd_batch_gate_t e = {0};
    cd_batch_gate_note(&e, 1000, 1);
    cd_batch_gate_note(&e, 1099, 64);
    cd_batch_gate_note(&e, 1198, 1);
    ck_assert_uint_eq(cd_batch_gate_demand(&e), 64);
    cd_batch_gate_note(&e, 1200, 1);
    ck_assert_uint_eq(cd_batch_gate_demand(&e), 1);
    /* After a quiet spell longer than two windows nothing of the old peak is left. */
    cd_batch_gate_t q = {0};
    cd_batch_gate_note(&q, 1000, 64);
    cd_batch_gate_note(&q, 1000 + 10 * CD_BATCH_GATE_WINDOW_MS, 2);
    ck_assert_uint_eq(cd_batch_gate_demand(&q), 2);
    /* A clock that steps back starts a new window rather than keeping a stale peak for ever. */
    cd_batch_gate_t b = {0};
    cd_batch_gate_note(&b, 5000, 64);
    cd_batch_gate_note(&b, 100, 3);
    ck_assert_uint_eq(cd_batch_gate_demand(&b), 3);
}
END_TEST

/* ---------------------------------------------------------------- the closed loop, simulated */

enum { S_MAX_CLIENTS = 64, S_FLIGHT = 2 };

typedef struct s_run {
    double calls_per_s;
    double mean_batch;
} s_run_t;

/* C clients, each with one request outstanding; a reply reaches its client, which sends the
 * next request after 50–550 µs (spread by a fixed pseudo-random sequence).  PostgreSQL runs
 * the batches of the one connection in order: 430 µs a batch plus 36 µs a call (the costs
 * measured on this machine).  The server sends the next batch whenever the gate (or, without
 * it, a free slot) lets it, looking once every 20 µs (a loop turn). */
static s_run_t s_simulate(int clients, bool gate, double seconds)
{
    const double batch_us = 430, call_us = 36, turn_us = 20;
    double next_request[S_MAX_CLIENTS]; /* when each client's request reaches the server */
    unsigned seed = 12345;
    for (int i = 0; i < clients; i++)
        next_request[i] = (i * 37) % 500;
    int open = 0, flight_n[S_FLIGHT] = {0}, n_flight = 0, head = 0;
    int flight_clients[S_FLIGHT][S_MAX_CLIENTS];
    int open_clients[S_MAX_CLIENTS];
    double flight_done[S_FLIGHT] = {0}, pg_free = 0;
    cd_batch_gate_t g = {0};
    s_run_t r = {0};
    unsigned long calls = 0, batches = 0;
    for (double now = 0; now < seconds * 1e6; now += turn_us) {
        /* Commits: replies go out and their clients think. */
        while (n_flight > 0 && flight_done[head] <= now) {
            for (int k = 0; k < flight_n[head]; k++) {
                seed = seed * 1103515245u + 12345u;
                next_request[flight_clients[head][k]] = now + 50 + (seed >> 16) % 500;
            }
            calls += (unsigned long)flight_n[head];
            head = (head + 1) % S_FLIGHT;
            n_flight--;
        }
        /* Requests that arrived this turn join the open batch. */
        for (int i = 0; i < clients; i++)
            if (next_request[i] <= now) {
                open_clients[open++] = i;
                next_request[i] = 1e18;
            }
        if (open == 0 || n_flight == S_FLIGHT)
            continue;
        int waiting = open;
        for (int k = 0; k < n_flight; k++)
            waiting += flight_n[(head + k) % S_FLIGHT];
        cd_batch_gate_note(&g, (int64_t)(now / 1000), (size_t)waiting);
        if (gate && !cd_batch_gate_send(&g, (size_t)n_flight, (size_t)open))
            continue; /* held: looked at again next turn, and sent once the slot is free */
        int slot = (head + n_flight) % S_FLIGHT;
        for (int k = 0; k < open; k++)
            flight_clients[slot][k] = open_clients[k];
        flight_n[slot] = open;
        double start = pg_free > now ? pg_free : now;
        pg_free = start + batch_us + call_us * open;
        flight_done[slot] = pg_free;
        n_flight++;
        batches++;
        open = 0;
    }
    r.calls_per_s = (double)calls / seconds;
    r.mean_batch = batches ? (double)calls / (double)batches : 0;
    return r;
}

START_TEST(closed_loop_batches_gather_and_throughput_rises)
{
    const int sizes[] = {2, 16, 64};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int c = sizes[i];
        s_run_t without = s_simulate(c, false, 2.0), with = s_simulate(c, true, 2.0);
        ck_assert_msg(with.calls_per_s >= without.calls_per_s * 0.98,
                      "%d clients: %.0f calls/s with the gate, %.0f without", c, with.calls_per_s,
                      without.calls_per_s);
        if (c >= 16) {
            /* The two batches settle near half the consoles each. */
            ck_assert_msg(with.mean_batch >= c * 0.4, "%d clients: mean batch %.1f", c,
                          with.mean_batch);
            ck_assert_msg(with.mean_batch > without.mean_batch * 1.2,
                          "%d clients: mean batch %.1f with, %.1f without", c, with.mean_batch,
                          without.mean_batch);
            ck_assert_msg(with.calls_per_s > without.calls_per_s * 1.05,
                          "%d clients: %.0f calls/s with the gate, %.0f without", c,
                          with.calls_per_s, without.calls_per_s);
        }
    }
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("batch_gate");
    TCase *rule = tcase_create("rule");
    tcase_add_test(rule, the_only_batch_is_never_held);
    tcase_add_test(rule, a_second_batch_waits_for_half_the_demand);
    tcase_add_test(rule, demand_fades_within_two_windows);
    suite_add_tcase(s, rule);
    TCase *loop = tcase_create("closed_loop");
    tcase_set_timeout(loop, 60);
    tcase_add_test(loop, closed_loop_batches_gather_and_throughput_rises);
    suite_add_tcase(s, loop);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(s_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
