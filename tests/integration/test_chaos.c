/* Integration: kill -9 under load.  64 control clients create calls in a closed loop (a fresh
 * request id per call, the same one for every retry after a timeout, UNAVAILABLE or a lost
 * connection) while tablets move their units through their assignments; the server is killed
 * with SIGKILL at a random moment and restarted, CODISPATCH_CHAOS_ROUNDS times (default 5;
 * tools/chaos.sh runs 20).  Afterwards:
 *   - every acknowledged creation is in PostgreSQL (the call and its events), under the
 *     request id that created it, with the call id the client was told;
 *   - a retry of an acknowledged request id returns the original call id, and the number of
 *     calls created equals the number of request ids used (no duplicates);
 *   - the event sequence has no gaps;
 *   - every tablet that reconnected ends up holding its unit's active assignment as
 *     PostgreSQL has it, and a fresh tablet is given it on Hello. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "harness.h"

#define CLIENTS_DEFAULT  64
#define ROUNDS_DEFAULT   5
#define UNITS            8
#define MAX_PER_CLIENT   8192
#define CALL_TIMEOUT_MS  700   /* one cdc_control_call; then the client retries the same id */
#define RESOLVE_BOUND_MS 90000 /* after the last restart, every request id must be answered */

static harness_t *h;
static int n_clients, n_rounds;
static atomic_bool stop_load;   /* clients: issue no new request ids */
static atomic_bool stop_tablet; /* tablets: stop acting (keep listening) */
static atomic_bool stop_all;

static int s_env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : dflt;
}

/* ------------------------------------------------------------------ control clients */

typedef struct record {
    char rid[40];
    char call_id[32]; /* "" until acknowledged */
    int attempts;
    long long first_ms, acked_ms; /* when it was first sent and when it was acknowledged */
} record_t;

typedef struct client {
    int no;
    pthread_t thread;
    record_t *recs;
    int n;
    int retries;         /* attempts beyond the first */
    int repeats;         /* deliberate re-sends of an acknowledged request id */
    int repeat_mismatch; /* ... that got a different call id */
    int unexpected;      /* replies that were neither a Call nor UNAVAILABLE/BUSY */
    char unexpected_msg[200];
    int unresolved; /* request ids never acknowledged within the bound */
} client_t;

static client_t *clients;
static long long kills[64]; /* when each SIGKILL was sent */
static int n_kills;
static long long resolve_deadline;

/* One CreateCall with request id rid; returns 1 and the call id, 0 to retry, -1 on a reply
 * that no retry can fix. */
static int s_create(cdc_control_t *ctl, client_t *c, const char *rid, char call_id[32])
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
    m.type = "mental_health";
    m.has_priority = m.has_lat = m.has_lon = true;
    m.priority = (uint32_t)(c->no % 3 == 0 ? 3 : 2); /* priority 2 is offered automatically */
    m.lat = 34.05 + (c->no % 10) * 0.001;
    m.lon = -118.25;
    m.language = "es";
    m.summary = "chaos";
    req.request_id = (char *)rid;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    req.create_call = &m;
    Codispatch__V1__Envelope *reply = NULL;
    int rc = cdc_control_call(ctl, &req, CALL_TIMEOUT_MS, &reply);
    if (rc != CDC_OK)
        return 0; /* no reply in time: the server is down or restarting */
    int out = 0;
    if (reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL) {
        snprintf(call_id, 32, "%s", reply->call->call_id);
        out = 1;
    } else if (reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_ERROR ||
               (reply->error->code != CODISPATCH__V1__CODE__UNAVAILABLE &&
                reply->error->code != CODISPATCH__V1__CODE__BUSY)) {
        if (!c->unexpected++)
            snprintf(c->unexpected_msg, sizeof c->unexpected_msg, "%s: %s", rid,
                     reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR
                         ? reply->error->message
                         : "not a Call");
        out = -1;
    }
    cdc_envelope_free(reply);
    return out;
}

static void *s_client(void *arg)
{
    client_t *c = arg;
    cdc_control_t *ctl = cdc_control_new(harness_control(h));
    cdc_control_set_resend_interval(ctl, 500);
    unsigned seed = (unsigned)(c->no * 7919 + 1);
    while (!atomic_load(&stop_load) && c->n < MAX_PER_CLIENT) {
        record_t *r = &c->recs[c->n++];
        snprintf(r->rid, sizeof r->rid, "chaos-%d-%d", c->no, c->n);
        int got = 0;
        r->first_ms = harness_now_ms();
        /* Closed loop: the same request id until it is acknowledged. */
        while (got == 0) {
            if (atomic_load(&stop_load) && harness_now_ms() > resolve_deadline)
                break;
            r->attempts++;
            got = s_create(ctl, c, r->rid, r->call_id);
        }
        if (got != 1) {
            if (got == 0)
                c->unresolved++;
            r->call_id[0] = '\0';
            break;
        }
        r->acked_ms = harness_now_ms();
        c->retries += r->attempts - 1;
        /* Now and then ask again with the same id: the original answer must come back. */
        if (rand_r(&seed) % 8 == 0) {
            char again[32] = "";
            int g = 0;
            while (g == 0 && harness_now_ms() < resolve_deadline + 60000)
                g = s_create(ctl, c, r->rid, again);
            c->repeats++;
            if (g != 1 || strcmp(again, r->call_id) != 0)
                c->repeat_mismatch++;
        }
    }
    cdc_control_destroy(&ctl);
    return NULL;
}

/* ------------------------------------------------------------------ tablets */

typedef struct tab {
    cdc_tablet_t *t;
    char unit[16];
    char call_id[32], status[32]; /* the latest push */
    uint64_t seq;
    long long next_step;
    int steps_ok, steps_refused;
} tab_t;

static tab_t tabs[UNITS];
static pthread_mutex_t tabs_mu = PTHREAD_MUTEX_INITIALIZER;

static void t_on_assignment(void *arg, uint64_t seq, const Codispatch__V1__AssignmentPush *a)
{
    tab_t *t = arg;
    snprintf(t->call_id, sizeof t->call_id, "%s", a->call_id);
    snprintf(t->status, sizeof t->status, "%s", a->status);
    t->seq = seq;
}

static void t_on_result(void *arg, const char *rid, const Codispatch__V1__Envelope *r)
{
    (void)rid;
    tab_t *t = arg;
    if (r && r->body_case == CODISPATCH__V1__ENVELOPE__BODY_UNIT)
        t->steps_ok++;
    else
        t->steps_refused++; /* a move that a restart made stale: CONFLICT, or a give-up */
}

/* The next move for what the tablet last heard: ack, en route, on scene, clear. */
static void t_step(tab_t *t)
{
    if (cdc_tablet_pending(t->t) > 0 || !cdc_tablet_welcomed(t->t))
        return;
    if (strcmp(t->status, "offered") == 0)
        cdc_tablet_ack(t->t, t->call_id, NULL);
    else if (strcmp(t->status, "acknowledged") == 0)
        cdc_tablet_status(t->t, CODISPATCH__V1__UNIT_STATUS__UNIT_EN_ROUTE, NULL);
    else if (strcmp(t->status, "en_route") == 0)
        cdc_tablet_status(t->t, CODISPATCH__V1__UNIT_STATUS__UNIT_ON_SCENE, NULL);
    else if (strcmp(t->status, "on_scene") == 0)
        cdc_tablet_status(t->t, CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE, NULL);
}

static void *s_tablets(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_all)) {
        zmq_pollitem_t items[UNITS];
        int wait = 50;
        pthread_mutex_lock(&tabs_mu);
        for (int i = 0; i < UNITS; i++) {
            tab_t *t = &tabs[i];
            long long now = harness_now_ms();
            if (!atomic_load(&stop_tablet) && now >= t->next_step) {
                t_step(t);
                t->next_step = now + 100;
            }
            int w = cdc_tablet_process(t->t, now);
            if (w < wait)
                wait = w;
            items[i] = (zmq_pollitem_t){.fd = cdc_tablet_fd(t->t), .events = ZMQ_POLLIN};
        }
        pthread_mutex_unlock(&tabs_mu);
        zmq_poll(items, UNITS, wait > 20 ? 20 : wait);
    }
    return NULL;
}

/* ------------------------------------------------------------------ checks */

static PGconn *s_db(void)
{
    PGconn *c = PQconnectdb(harness_conninfo(h));
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    return c;
}

static int s_cmp_rid(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The unit's active assignment in PostgreSQL: call id (or "") and status. */
static void s_active(PGconn *db, const char *unit, char call_id[32], char status[32])
{
    const char *p[] = {unit};
    PGresult *r = PQexecParams(db,
                               "SELECT call_id, status FROM assignments WHERE unit_id = $1 "
                               "AND status IN ('offered', 'acknowledged', 'en_route', "
                               "'on_scene', 'transporting', 'at_facility') "
                               "ORDER BY assignment_no DESC LIMIT 1",
                               1, NULL, p, NULL, NULL, 0);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    call_id[0] = status[0] = '\0';
    if (PQntuples(r) == 1) {
        snprintf(call_id, 32, "%s", PQgetvalue(r, 0, 0));
        snprintf(status, 32, "%s", PQgetvalue(r, 0, 1));
    }
    PQclear(r);
}

static bool s_terminal(const char *status)
{
    return !*status || strcmp(status, "cleared") == 0 || strcmp(status, "declined") == 0 ||
           strcmp(status, "timed_out") == 0;
}

/* ------------------------------------------------------------------ the test */

START_TEST(kill_9_under_load_loses_nothing_acknowledged)
{
    long long calls_before = harness_sql_count(h, "SELECT count(*) FROM calls");
    for (int i = 0; i < UNITS; i++) {
        snprintf(tabs[i].unit, sizeof tabs[i].unit, "CH-%d", i);
        harness_add_unit(h, tabs[i].unit, "mh_team", 34.05 + i * 0.002, -118.25);
        cdc_tablet_callbacks_t cb = {
            .on_assignment = t_on_assignment, .on_result = t_on_result, .arg = &tabs[i]};
        tabs[i].t = cdc_tablet_new(harness_units(h), tabs[i].unit, 0, &cb);
        ck_assert_ptr_nonnull(tabs[i].t);
    }
    pthread_t tablets;
    pthread_create(&tablets, NULL, s_tablets, NULL);

    resolve_deadline = harness_now_ms() + 3600 * 1000LL; /* set for real once the load stops */
    clients = calloc((size_t)n_clients, sizeof *clients);
    for (int i = 0; i < n_clients; i++) {
        clients[i].no = i;
        clients[i].recs = calloc(MAX_PER_CLIENT, sizeof(record_t));
        pthread_create(&clients[i].thread, NULL, s_client, &clients[i]);
    }

    unsigned seed = (unsigned)time(NULL);
    fprintf(stderr, "test_chaos: %d clients, %d rounds, seed %u\n", n_clients, n_rounds, seed);
    for (int round = 0; round < n_rounds; round++) {
        int run_ms = 300 + (int)(rand_r(&seed) % 1700); /* a random moment under load */
        harness_sleep_ms(run_ms);
        if (n_kills < 64)
            kills[n_kills++] = harness_now_ms();
        ck_assert_int_eq(harness_stop_server(h, SIGKILL), 128 + SIGKILL);
        harness_sleep_ms((int)(rand_r(&seed) % 300));
        long long t0 = harness_now_ms();
        ck_assert_int_eq(harness_start_server(h), 0);
        fprintf(stderr,
                "test_chaos: round %d: killed after %d ms of load, serving again %lld ms "
                "after the restart began\n",
                round + 1, run_ms, harness_now_ms() - t0);
    }
    harness_sleep_ms(1000); /* some load on the last incarnation too */
    resolve_deadline = harness_now_ms() + RESOLVE_BOUND_MS;
    atomic_store(&stop_load, true);
    for (int i = 0; i < n_clients; i++)
        pthread_join(clients[i].thread, NULL);

    /* Totals. */
    int issued = 0, acked = 0, retries = 0, repeats = 0, spanned = 0;
    for (int i = 0; i < n_clients; i++) {
        client_t *c = &clients[i];
        ck_assert_msg(c->unexpected == 0, "client %d got an unexpected reply: %s", i,
                      c->unexpected_msg);
        ck_assert_msg(c->unresolved == 0, "client %d: a request id was never answered", i);
        ck_assert_msg(c->repeat_mismatch == 0,
                      "client %d: a repeated request id got a different answer", i);
        issued += c->n;
        retries += c->retries;
        repeats += c->repeats;
        for (int k = 0; k < c->n; k++) {
            acked += c->recs[k].call_id[0] != '\0';
            /* Sent before a kill, acknowledged after it: answered only thanks to a resend with
             * the same id (by the library within a call, or by the client after a timeout). */
            for (int j = 0; j < n_kills; j++)
                if (c->recs[k].first_ms < kills[j] && c->recs[k].acked_ms > kills[j]) {
                    spanned++;
                    break;
                }
        }
    }
    fprintf(stderr,
            "test_chaos: %d request ids, %d acknowledged, %d in flight across a kill, %d "
            "client retries after a timeout, %d deliberate repeats\n",
            issued, acked, spanned, retries, repeats);
    ck_assert_int_eq(acked, issued);
    ck_assert_int_gt(spanned, 0); /* the kills really fell in the middle of requests */

    /* Every acknowledged call is in PostgreSQL under its request id, with its events. */
    PGconn *db = s_db();
    PGresult *r = PQexec(db, "SELECT e.request_id, e.call_id, "
                             "  (SELECT count(*) FROM calls c WHERE c.call_id = e.call_id), "
                             "  (SELECT count(*) FROM events x WHERE x.call_id = e.call_id) "
                             "FROM events e WHERE e.request_id LIKE 'chaos-%' "
                             "  AND e.kind = 'call.created' ORDER BY e.request_id");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int rows = PQntuples(r);
    ck_assert_int_eq(rows, issued); /* one call per request id: no duplicates, none missing */
    char **keys = malloc((size_t)rows * sizeof *keys);
    for (int i = 0; i < rows; i++) {
        keys[i] = PQgetvalue(r, i, 0);
        ck_assert_int_eq(atoi(PQgetvalue(r, i, 2)), 1);
        ck_assert_int_ge(atoi(PQgetvalue(r, i, 3)), 1);
    }
    for (int i = 0; i < n_clients; i++)
        for (int k = 0; k < clients[i].n; k++) {
            record_t *rec = &clients[i].recs[k];
            const char *key = rec->rid;
            char **hit = bsearch(&key, keys, (size_t)rows, sizeof *keys, s_cmp_rid);
            ck_assert_msg(hit != NULL, "acknowledged %s is not in PostgreSQL", rec->rid);
            ck_assert_str_eq(PQgetvalue(r, (int)(hit - keys), 1), rec->call_id);
        }
    free(keys);
    PQclear(r);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls"), calls_before + issued);
    ck_assert_int_eq(harness_sql_count(h, "SELECT max(seq) - count(*) FROM events"), 0);

    /* Retries after the last restart, of ids acknowledged before earlier kills: originals. */
    int checked = 0;
    for (int i = 0; i < n_clients; i += 4)
        for (int k = 0; k < clients[i].n; k += 7) {
            record_t *rec = &clients[i].recs[k];
            Codispatch__V1__Envelope *again =
                harness_create_call(h, rec->rid, "mental_health", 2, 34.05, -118.25);
            ck_assert_ptr_nonnull(again);
            ck_assert_int_eq(again->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
            ck_assert_str_eq(again->call->call_id, rec->call_id);
            cdc_envelope_free(again);
            checked++;
        }
    ck_assert_int_gt(checked, 0);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM calls"), calls_before + issued);

    /* Tablets: stop acting, keep listening; each must come to hold what PostgreSQL says is its
     * unit's active assignment (re-sent on Hello after the restarts). */
    atomic_store(&stop_tablet, true);
    harness_sleep_ms(1500); /* let answers to moves already sent arrive */
    int steps = 0;
    long long until = harness_now_ms() + 30000;
    bool all_match = false;
    char want_call[UNITS][32], want_status[UNITS][32];
    bool match[UNITS] = {false};
    while (!all_match && harness_now_ms() < until) {
        all_match = true;
        pthread_mutex_lock(&tabs_mu);
        for (int i = 0; i < UNITS; i++) {
            s_active(db, tabs[i].unit, want_call[i], want_status[i]);
            match[i] = *want_call[i] ? strcmp(tabs[i].call_id, want_call[i]) == 0 &&
                                           strcmp(tabs[i].status, want_status[i]) == 0
                                     : s_terminal(tabs[i].status);
            all_match = all_match && match[i];
        }
        pthread_mutex_unlock(&tabs_mu);
        if (!all_match)
            harness_sleep_ms(200);
    }
    pthread_mutex_lock(&tabs_mu);
    for (int i = 0; i < UNITS; i++) {
        steps += tabs[i].steps_ok;
        ck_assert_msg(match[i], "tablet %s holds %s/%s; PostgreSQL says %s/%s", tabs[i].unit,
                      tabs[i].call_id, tabs[i].status, want_call[i], want_status[i]);
    }
    pthread_mutex_unlock(&tabs_mu);
    fprintf(stderr, "test_chaos: tablets made %d moves that were applied\n", steps);
    ck_assert_int_gt(steps, 0);
    atomic_store(&stop_all, true);
    pthread_join(tablets, NULL);
    for (int i = 0; i < UNITS; i++)
        cdc_tablet_destroy(&tabs[i].t);

    /* A tablet that starts afresh is given its unit's active assignment on Hello. */
    for (int i = 0; i < UNITS; i++) {
        if (!*want_call[i])
            continue;
        tab_t fresh = {0};
        cdc_tablet_callbacks_t cb = {
            .on_assignment = t_on_assignment, .on_result = t_on_result, .arg = &fresh};
        fresh.t = cdc_tablet_new(harness_units(h), tabs[i].unit, 0, &cb);
        long long end = harness_now_ms() + 15000;
        while (!fresh.call_id[0] && harness_now_ms() < end) {
            int w = cdc_tablet_process(fresh.t, harness_now_ms());
            zmq_pollitem_t it = {.fd = cdc_tablet_fd(fresh.t), .events = ZMQ_POLLIN};
            zmq_poll(&it, 1, w > 20 ? 20 : w);
        }
        ck_assert_str_eq(fresh.call_id, want_call[i]);
        ck_assert_str_eq(fresh.status, want_status[i]);
        cdc_tablet_destroy(&fresh.t);
    }
    PQfinish(db);
    for (int i = 0; i < n_clients; i++)
        free(clients[i].recs);
    free(clients);
}
END_TEST

static void suite_setup(void)
{
    n_clients = s_env_int("CODISPATCH_CHAOS_CLIENTS", CLIENTS_DEFAULT);
    n_rounds = s_env_int("CODISPATCH_CHAOS_ROUNDS", ROUNDS_DEFAULT);
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    harness_ensure_up(h);
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

int main(void)
{
    Suite *s = suite_create("chaos");
    TCase *tc = tcase_create("chaos");
    tcase_set_timeout(tc, 1800);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, kill_9_under_load_loses_nothing_acknowledged);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
