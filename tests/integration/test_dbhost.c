/* Integration: a --db that names its host.  libpq would resolve the name with a blocking
 * getaddrinfo() on the server's loop; pgc_host looks names up on libuv's thread pool first and
 * hands libpq the addresses.  The resolver's cases on a loop of their own, then codispatchd
 * given `host=localhost` reaching PostgreSQL over loopback TCP (a relay in a child process in
 * front of the test cluster, which listens on its Unix socket only). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "harness.h"
#include "pgc_host.h"

/* ------------------------------------------------------------------ the resolver */

typedef struct s_result {
    int calls;
    char host[256], hostaddr[256], port[64], error[256];
    bool got_hosts;
} s_result_t;

static void s_on_resolved(const pgc_hosts_t *hosts, const char *error, void *arg)
{
    s_result_t *r = arg;
    r->calls++;
    r->got_hosts = hosts != NULL;
    if (hosts) {
        snprintf(r->host, sizeof r->host, "%s", hosts->host);
        snprintf(r->hostaddr, sizeof r->hostaddr, "%s", hosts->hostaddr);
        snprintf(r->port, sizeof r->port, "%s", hosts->port ? hosts->port : "(none)");
    }
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
}

/* Resolves conninfo on a fresh loop; returns what pgc_host_resolve returned. */
static int s_resolve(const char *conninfo, s_result_t *r)
{
    memset(r, 0, sizeof *r);
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    pgc_resolver_t *res = NULL;
    int rc = pgc_host_resolve(&loop, conninfo, s_on_resolved, r, &res);
    ck_assert_int_eq(rc == 1, res != NULL);
    ck_assert_int_eq(r->calls, 0); /* never from inside the call */
    uv_run(&loop, UV_RUN_DEFAULT);
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(r->calls, rc == 1 ? 1 : 0);
    return rc;
}

START_TEST(nothing_to_resolve_connects_at_once)
{
    s_result_t r;
    unsetenv("PGHOST");
    unsetenv("PGHOSTADDR");
    ck_assert_int_eq(s_resolve("host=/run/postgresql dbname=x", &r), 0);
    ck_assert_int_eq(s_resolve("host=127.0.0.1,::1 port=5432", &r), 0);
    ck_assert_int_eq(s_resolve("host=localhost hostaddr=127.0.0.1", &r), 0);
    ck_assert_int_eq(s_resolve("dbname=x", &r), 0);                /* the default socket */
    ck_assert_int_eq(s_resolve("host=localhost port=1,2", &r), 0); /* libpq refuses it itself */
    ck_assert_int_eq(s_resolve("host='unterminated", &r), 0);      /* libpq reports the syntax */
    setenv("PGHOSTADDR", "127.0.0.1", 1);
    ck_assert_int_eq(s_resolve("host=localhost", &r), 0);
    unsetenv("PGHOSTADDR");
}
END_TEST

START_TEST(a_name_becomes_its_addresses)
{
    s_result_t r;
    ck_assert_int_eq(s_resolve("host=localhost port=6543 dbname=x", &r), 1);
    ck_assert(r.got_hosts);
    ck_assert_ptr_nonnull(strstr(r.hostaddr, "127.0.0.1"));
    ck_assert_str_eq(r.port, "(none)"); /* one port: libpq applies it to every entry */
    /* One host entry per address, so libpq tries each as it would have. */
    int addrs = 1, hosts = 1;
    for (const char *p = r.hostaddr; *p; p++)
        addrs += *p == ',';
    for (const char *p = r.host; *p; p++)
        hosts += *p == ',';
    ck_assert_int_eq(addrs, hosts);
    ck_assert_str_eq(r.host, addrs == 1 ? "localhost" : "localhost,localhost");
    ck_assert_str_eq(r.error, "");
}
END_TEST

START_TEST(lists_and_uris_keep_their_order_and_ports)
{
    s_result_t r;
    ck_assert_int_eq(s_resolve("host=/tmp,localhost,10.1.2.3 port=1,2,3", &r), 1);
    /* The socket directory gets an empty hostaddr; the numeric host is its own address. */
    ck_assert_int_eq(strncmp(r.host, "/tmp,localhost", 14), 0);
    ck_assert_int_eq(strncmp(r.hostaddr, ",", 1), 0);
    size_t n = strlen(r.hostaddr);
    ck_assert_str_eq(r.hostaddr + n - strlen(",10.1.2.3"), ",10.1.2.3");
    ck_assert_int_eq(strncmp(r.port, "1,2", 3), 0);
    ck_assert_str_eq(r.port + strlen(r.port) - 2, ",3");

    setenv("PGHOST", "localhost", 1); /* libpq's default applies when the conninfo has none */
    ck_assert_int_eq(s_resolve("dbname=x", &r), 1);
    unsetenv("PGHOST");
    ck_assert_ptr_nonnull(strstr(r.hostaddr, "127.0.0.1"));

    ck_assert_int_eq(s_resolve("postgresql://user@localhost:7777/db", &r), 1);
    ck_assert_ptr_nonnull(strstr(r.hostaddr, "127.0.0.1"));
}
END_TEST

static void s_never(const pgc_hosts_t *hosts, const char *error, void *arg)
{
    (void)hosts;
    (void)error;
    (*(int *)arg)++;
}

START_TEST(a_cancelled_lookup_never_calls_back)
{
    uv_loop_t loop;
    ck_assert_int_eq(uv_loop_init(&loop), 0);
    int calls = 0;
    pgc_resolver_t *res = NULL;
    ck_assert_int_eq(pgc_host_resolve(&loop, "host=localhost", s_never, &calls, &res), 1);
    pgc_host_cancel(&res);
    ck_assert_ptr_null(res);
    pgc_host_cancel(&res);         /* NULL: nothing */
    uv_run(&loop, UV_RUN_DEFAULT); /* the resolver frees itself (ASan checks) */
    ck_assert_int_eq(uv_loop_close(&loop), 0);
    ck_assert_int_eq(calls, 0);
}
END_TEST

/* ------------------------------------------------------------------ the server, by name */

/* A TCP listener on 127.0.0.1 that relays each connection to a Unix socket, in a process group
 * of its own; writes one byte to count_fd per connection it accepts. */
static pid_t s_relay_start(const char *unix_path, int *port, int count_fd)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(lfd, 16), 0);
    socklen_t len = sizeof sa;
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid > 0) {
        close(lfd);
        return pid;
    }
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with the test, even when it aborts */
    signal(SIGCHLD, SIG_IGN);         /* relays reap themselves */
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0)
            continue;
        if (write(count_fd, "c", 1) != 1)
            _exit(1);
        if (fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int u = socket(AF_UNIX, SOCK_STREAM, 0);
            struct sockaddr_un sun = {.sun_family = AF_UNIX};
            snprintf(sun.sun_path, sizeof sun.sun_path, "%s", unix_path);
            if (connect(u, (struct sockaddr *)&sun, sizeof sun) != 0)
                _exit(1);
            struct pollfd p[2] = {{.fd = c, .events = POLLIN}, {.fd = u, .events = POLLIN}};
            char buf[16384];
            for (;;) {
                if (poll(p, 2, -1) < 0 && errno != EINTR)
                    _exit(1);
                for (int i = 0; i < 2; i++) {
                    if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                    ssize_t n = read(p[i].fd, buf, sizeof buf);
                    if (n <= 0 || write(p[1 - i].fd, buf, (size_t)n) != n)
                        _exit(0);
                }
            }
        }
        close(c);
    }
}

/* A harness whose server is given `host=localhost` and the relay's port as its --db. */
typedef struct s_byname {
    harness_t *h;
    pid_t relay;
    int counts[2]; /* the relay writes a byte per connection it accepts */
} s_byname_t;

static void s_byname_new(s_byname_t *b)
{
    b->h = harness_new();
    char unix_path[512];
    snprintf(unix_path, sizeof unix_path, "%s/.s.PGSQL.5432", harness_pgdir(b->h));
    ck_assert_int_eq(pipe(b->counts), 0);
    int port = 0;
    b->relay = s_relay_start(unix_path, &port, b->counts[1]);
    char db[160];
    snprintf(db, sizeof db, "host=localhost port=%d dbname=codispatch user=postgres", port);
    harness_add_server_arg(b->h, "--db"); /* after the harness's own --db: the last one wins */
    harness_add_server_arg(b->h, db);
}

static void s_byname_destroy(s_byname_t *b)
{
    ck_assert_int_eq(harness_stop_server(b->h, SIGTERM), 0);
    kill(-b->relay, SIGKILL);
    close(b->counts[0]);
    close(b->counts[1]);
    harness_destroy(&b->h);
}

static void s_assert_creates(harness_t *h, const char *rid)
{
    Codispatch__V1__Envelope *r = harness_create_call(h, rid, "welfare_check", 3, 34.05, -118.25);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events WHERE request_id LIKE '%%%s'", rid);
    ck_assert_int_eq(harness_sql_count(h, sql), 1);
}

START_TEST(the_server_reaches_postgresql_by_host_name)
{
    s_byname_t b;
    s_byname_new(&b);
    ck_assert_int_eq(harness_start_server(b.h), 0);
    s_assert_creates(b.h, "dbhost-1");
    /* The server's connections came through the relay, the only listener on that port. */
    char buf[64];
    ck_assert_int_ge(read(b.counts[0], buf, sizeof buf), 1);
    s_byname_destroy(&b);
}
END_TEST

/* Status from the control socket, waiting up to 5 s: a loop stuck in a lookup (the gate stays
 * shut for 60 s) does not answer at all. */
static int s_database_state(harness_t *h)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest m = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &m;
    Codispatch__V1__Envelope *r = harness_call(h, &req, 5000);
    ck_assert_msg(r != NULL, "the server's loop did not answer StatusRequest within 5 s");
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY);
    int state = (int)r->status_reply->database;
    cdc_envelope_free(r);
    return state;
}

static void s_touch(const char *path)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
}

/* The server loses its connection and looks localhost up again while DNS does not answer (an
 * LD_PRELOAD shim holds getaddrinfo("localhost") until a file appears): its loop goes on
 * answering, and it reconnects once the lookup returns. */
START_TEST(a_lookup_that_hangs_does_not_stop_the_loop)
{
    s_byname_t b;
    s_byname_new(&b);
    char gate[512];
    snprintf(gate, sizeof gate, "%s/dns-answers", harness_dir(b.h));
    s_touch(gate);
    const char *asan = getenv("ASAN_OPTIONS");
    char *asan_saved = asan ? strdup(asan) : NULL;
    char asan_opts[512];
    /* The shim comes before ASan's runtime in the library list; ASan would refuse that. */
    snprintf(asan_opts, sizeof asan_opts, "%s%sverify_asan_link_order=0", asan ? asan : "",
             asan ? ":" : "");
    setenv("ASAN_OPTIONS", asan_opts, 1);
    setenv("LD_PRELOAD", CODISPATCH_DNS_GATE_LIB, 1);
    setenv("CODISPATCH_TEST_DNS_GATE", gate, 1);
    int started = harness_start_server(b.h);
    unsetenv("LD_PRELOAD"); /* only the server runs with the shim */
    if (asan_saved)
        setenv("ASAN_OPTIONS", asan_saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(asan_saved);
    ck_assert_int_eq(started, 0);

    ck_assert_int_eq(unlink(gate), 0); /* DNS stops answering */
    harness_sql_exec(b.h, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = 'codispatch' AND pid <> pg_backend_pid()");
    /* Down, and several answers more while the reconnection's lookup hangs (the backoff
     * between attempts is at most 500 ms; each answer below needs the loop). */
    long long deadline = harness_now_ms() + 10000;
    while (s_database_state(b.h) == CODISPATCH__V1__DATABASE_STATE__DATABASE_OK &&
           harness_now_ms() < deadline)
        harness_sleep_ms(20);
    for (int i = 0; i < 10; i++) {
        ck_assert_int_eq(s_database_state(b.h),
                         CODISPATCH__V1__DATABASE_STATE__DATABASE_UNAVAILABLE);
        harness_sleep_ms(100);
    }
    char *body = NULL;
    ck_assert_int_eq(harness_http_get(b.h, "/healthz", &body), 200);
    free(body);

    s_touch(gate); /* DNS answers again */
    deadline = harness_now_ms() + 15000;
    while (s_database_state(b.h) != CODISPATCH__V1__DATABASE_STATE__DATABASE_OK &&
           harness_now_ms() < deadline)
        harness_sleep_ms(50);
    s_assert_creates(b.h, "dbhost-2");
    unsetenv("CODISPATCH_TEST_DNS_GATE");
    s_byname_destroy(&b);
}
END_TEST

static Suite *s_suite(void)
{
    Suite *s = suite_create("dbhost");
    TCase *tc = tcase_create("dbhost");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, nothing_to_resolve_connects_at_once);
    tcase_add_test(tc, a_name_becomes_its_addresses);
    tcase_add_test(tc, lists_and_uris_keep_their_order_and_ports);
    tcase_add_test(tc, a_cancelled_lookup_never_calls_back);
    tcase_add_test(tc, the_server_reaches_postgresql_by_host_name);
    tcase_add_test(tc, a_lookup_that_hangs_does_not_stop_the_loop);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return harness_run_suite(s_suite());
}
