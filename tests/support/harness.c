#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <libpq-fe.h>
#include <zmq.h>

#include "pgcluster.h"

#define READY_TIMEOUT_MS 60000 /* sanitizer builds start slowly */
#define STOP_TIMEOUT_MS  20000

struct harness {
    char dir[64];
    char pgdir[96];
    char log[128];
    pgcluster_t *cluster;
    bool db_up;
    bool embedded; /* the server runs its own cluster in dir/pg (no --db) */
    pid_t server;
    char control[64], units[64], stream[64], http[64];
    pid_t standby; /* a second codispatchd on the same database (harness_start_standby) */
    char s_control[64], s_units[64], s_stream[64], s_http[64], s_log[128];
    int next_request; /* for harness_send's request ids */
    /* Security (additive): extra server arguments, and the key harness_call uses. */
    char *extra_args[16];
    int n_extra;
    bool have_keys;
    cdc_keys_t keys;
};

long long harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* The harnesses alive in this process, so that a test program that gives up (s_die, or an
 * assertion failing in a suite's setup, which skips its teardown) does not leave their servers
 * and PostgreSQL running after it is gone.  The directory is kept for a look. */
static harness_t *s_live[8];

static void s_stop_live(void)
{
    for (size_t i = 0; i < sizeof s_live / sizeof s_live[0]; i++) {
        harness_t *h = s_live[i];
        if (!h)
            continue;
        s_live[i] = NULL;
        if (h->server > 0)
            kill(h->server, SIGKILL);
        if (h->standby > 0)
            kill(h->standby, SIGKILL);
        char err[256];
        if (h->cluster && pgcluster_stop(h->cluster, err, sizeof err) != 0)
            fprintf(stderr, "harness: %s\n", err);
        fprintf(stderr, "harness: left without its teardown; %s kept for a look\n", h->dir);
    }
}

static void s_track(harness_t *self, bool alive)
{
    static bool registered;
    if (alive && !registered)
        registered = atexit(s_stop_live) == 0;
    for (size_t i = 0; i < sizeof s_live / sizeof s_live[0]; i++)
        if (alive ? s_live[i] == NULL : s_live[i] == self) {
            s_live[i] = alive ? self : NULL;
            return;
        }
}

static void s_die(const char *what)
{
    fprintf(stderr, "harness: %s\n", what);
    s_stop_live();
    abort();
}

/* A port the kernel says is free right now, and not one this process handed out before (the
 * kernel may offer a just-closed port again, and a server binds its ports one by one). */
static int s_free_port(void)
{
    static int given[256];
    static size_t n_given;
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fd, (struct sockaddr *)&a, &len) != 0)
            s_die("cannot find a free port");
        int port = ntohs(a.sin_port);
        close(fd);
        bool seen = false;
        for (size_t i = 0; i < n_given && !seen; i++)
            seen = given[i] == port;
        if (seen)
            continue;
        if (n_given < sizeof given / sizeof given[0])
            given[n_given++] = port;
        return port;
    }
    s_die("cannot find a free port");
    return -1;
}

static void s_pick_ports(harness_t *self)
{
    snprintf(self->control, sizeof self->control, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(self->units, sizeof self->units, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(self->stream, sizeof self->stream, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(self->http, sizeof self->http, "127.0.0.1:%d", s_free_port());
    snprintf(self->s_control, sizeof self->s_control, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(self->s_units, sizeof self->s_units, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(self->s_stream, sizeof self->s_stream, "tcp://127.0.0.1:%d", s_free_port());
    snprintf(self->s_http, sizeof self->s_http, "127.0.0.1:%d", s_free_port());
}

const char *harness_bin(const char *name)
{
    static char path[512];
    /* tools/test.sh runs some suites a second time against the Release server people run
     * (built with mimalloc, which the sanitizer build cannot have). */
    const char *server = getenv("CODISPATCH_TEST_SERVER");
    if (strcmp(name, "codispatchd") == 0 && server && *server)
        snprintf(path, sizeof path, "%s", server);
    else
        snprintf(path, sizeof path, "%s/%s", CODISPATCH_BIN_DIR, name);
    return path;
}

static harness_t *s_new(bool embedded)
{
    harness_t *self = calloc(1, sizeof *self);
    self->embedded = embedded;
    s_track(self, true);
    snprintf(self->dir, sizeof self->dir, "/tmp/cdtest-XXXXXX");
    if (!mkdtemp(self->dir))
        s_die("mkdtemp failed");
    chmod(self->dir, 0755); /* the PostgreSQL account must reach the cluster inside */
    snprintf(self->pgdir, sizeof self->pgdir, "%s/pg", self->dir);
    snprintf(self->log, sizeof self->log, "%s/server.log", self->dir);
    snprintf(self->s_log, sizeof self->s_log, "%s/standby.log", self->dir);
    self->cluster = pgcluster_new(self->pgdir);
    if (!embedded && harness_start_db(self) != 0)
        s_die("cannot start PostgreSQL");
    s_pick_ports(self);
    return self;
}

harness_t *harness_new(void)
{
    return s_new(false);
}

harness_t *harness_new_embedded(void)
{
    return s_new(true);
}

void harness_destroy(harness_t **self_p)
{
    harness_t *self = *self_p;
    if (!self)
        return;
    if (self->server > 0)
        harness_stop_server(self, SIGTERM);
    if (self->standby > 0)
        harness_stop_standby(self, SIGTERM);
    if (self->db_up || (self->embedded && harness_embedded_db_running(self)))
        harness_stop_db(self);
    pgcluster_destroy(&self->cluster);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", self->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "harness: could not remove %s\n", self->dir);
    for (int i = 0; i < self->n_extra; i++)
        free(self->extra_args[i]);
    s_track(self, false);
    free(self);
    *self_p = NULL;
}

const char *harness_control(const harness_t *self)
{
    return self->control;
}

const char *harness_units(const harness_t *self)
{
    return self->units;
}

const char *harness_stream(const harness_t *self)
{
    return self->stream;
}

const char *harness_http(const harness_t *self)
{
    return self->http;
}

const char *harness_conninfo(const harness_t *self)
{
    return pgcluster_conninfo(self->cluster);
}

const char *harness_dir(const harness_t *self)
{
    return self->dir;
}

const char *harness_pgdir(const harness_t *self)
{
    return self->pgdir;
}

long harness_postmaster_pid(const harness_t *self)
{
    char path[160];
    snprintf(path, sizeof path, "%s/postmaster.pid", self->pgdir);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid;
}

bool harness_embedded_db_running(const harness_t *self)
{
    long pid = harness_postmaster_pid(self);
    return pid > 0 && harness_pid_alive(pid);
}

bool harness_pid_alive(long pid)
{
    if (kill((pid_t)pid, 0) != 0)
        return false;
    /* A dead process that nobody reaped (no init in a container) is a zombie: not alive. */
    char path[64], stat[256] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    if (!fgets(stat, sizeof stat, f))
        stat[0] = '\0';
    fclose(f);
    const char *close_paren = strrchr(stat, ')');
    return !(close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z');
}

int harness_start_db(harness_t *self)
{
    char err[1024];
    if (pgcluster_start(self->cluster, err, sizeof err) != 0) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    self->db_up = true;
    return 0;
}

int harness_stop_db(harness_t *self)
{
    char err[1024];
    if (pgcluster_stop(self->cluster, err, sizeof err) != 0) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    self->db_up = false;
    return 0;
}

char *harness_server_log(const harness_t *self)
{
    FILE *f = fopen(self->log, "r");
    if (!f)
        return strdup("(no server log)");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

bool harness_server_running(harness_t *self)
{
    if (self->server <= 0)
        return false;
    int status;
    if (waitpid(self->server, &status, WNOHANG) == self->server) {
        self->server = 0;
        return false;
    }
    return true;
}

/* Forks and execs codispatchd on the given endpoints, its output appended to log. */
static pid_t s_spawn(harness_t *self, const char *control, const char *units, const char *stream,
                     const char *http, const char *log)
{
    pid_t pid = fork();
    if (pid < 0)
        s_die("fork failed");
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        const char *bin = harness_bin("codispatchd");
        char *argv[48];
        int n = 0;
        argv[n++] = (char *)bin;
        if (!self->embedded) {
            argv[n++] = "--db";
            argv[n++] = (char *)pgcluster_conninfo(self->cluster);
        }
        const char *std[] = {"--control", control,  "--units", units,        "--stream",
                             stream,      "--http", http,      "--data-dir", self->dir};
        for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
            argv[n++] = (char *)std[i];
        for (int i = 0; i < self->n_extra; i++)
            argv[n++] = self->extra_args[i];
        argv[n] = NULL;
        execv(bin, argv);
        perror(bin);
        _exit(127);
    }
    return pid;
}

int harness_start_server(harness_t *self)
{
    self->server = s_spawn(self, self->control, self->units, self->stream, self->http, self->log);
    long long deadline = harness_now_ms() + READY_TIMEOUT_MS;
    while (harness_now_ms() < deadline) {
        if (!harness_server_running(self)) {
            char *log = harness_server_log(self);
            fprintf(stderr, "harness: codispatchd exited at start:\n%s\n", log);
            free(log);
            return -1;
        }
        Codispatch__V1__Envelope *st = harness_status(self);
        bool ok = st && st->body_case == CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY &&
                  st->status_reply->database == CODISPATCH__V1__DATABASE_STATE__DATABASE_OK;
        cdc_envelope_free(st);
        if (ok)
            return 0;
        harness_sleep_ms(50);
    }
    fprintf(stderr, "harness: codispatchd not ready within %d ms\n", READY_TIMEOUT_MS);
    return -1;
}

/* Waits (bounded) for *pid to end after sig; returns its exit status (128+n if killed). */
static int s_stop_pid(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return -1;
    kill(*pid, sig);
    long long deadline = harness_now_ms() + STOP_TIMEOUT_MS;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(*pid, &status, WNOHANG);
        if (r == *pid)
            break;
        if (harness_now_ms() > deadline) {
            kill(*pid, SIGKILL);
            waitpid(*pid, &status, 0);
            break;
        }
        harness_sleep_ms(10);
    }
    *pid = 0;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return 128 + WTERMSIG(status);
}

int harness_start_standby(harness_t *self)
{
    if (self->standby > 0)
        return -1;
    self->standby =
        s_spawn(self, self->s_control, self->s_units, self->s_stream, self->s_http, self->s_log);
    /* Up once its HTTP side answers (/healthz); it is not ready while it waits for the lock. */
    long long deadline = harness_now_ms() + READY_TIMEOUT_MS;
    while (harness_now_ms() < deadline) {
        if (!harness_standby_running(self))
            return -1;
        char *body = NULL;
        int st = harness_http_get_at(self->s_http, "/healthz", &body);
        free(body);
        if (st == 200)
            return 0;
        harness_sleep_ms(50);
    }
    return -1;
}

int harness_stop_standby(harness_t *self, int sig)
{
    return s_stop_pid(&self->standby, sig);
}

bool harness_standby_running(harness_t *self)
{
    if (self->standby <= 0)
        return false;
    int status;
    if (waitpid(self->standby, &status, WNOHANG) == self->standby) {
        self->standby = 0;
        return false;
    }
    return true;
}

const char *harness_standby_control(const harness_t *self)
{
    return self->s_control;
}

const char *harness_standby_units(const harness_t *self)
{
    return self->s_units;
}

const char *harness_standby_http(const harness_t *self)
{
    return self->s_http;
}

char *harness_standby_log(const harness_t *self)
{
    FILE *f = fopen(self->s_log, "r");
    if (!f)
        return strdup("(no standby log)");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

long harness_server_pid(const harness_t *self)
{
    return self->server > 0 ? (long)self->server : 0;
}

int harness_stop_server(harness_t *self, int sig)
{
    return s_stop_pid(&self->server, sig);
}

void harness_ensure_up(harness_t *self)
{
    if (!self->embedded && !self->db_up && harness_start_db(self) != 0)
        s_die("cannot restart PostgreSQL");
    if (!harness_server_running(self) && harness_start_server(self) != 0)
        s_die("cannot restart codispatchd");
}

/* ------------------------------------------------------------------ requests */

void harness_add_server_arg(harness_t *self, const char *arg)
{
    if (self->n_extra == (int)(sizeof self->extra_args / sizeof self->extra_args[0]))
        s_die("too many extra server arguments");
    self->extra_args[self->n_extra++] = strdup(arg);
}

int harness_keys_init(harness_t *self)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s keys init --data-dir %s >/dev/null", harness_bin("codispatch"),
             self->dir);
    return harness_sh(cmd, NULL);
}

int harness_use_key(harness_t *self, const char *key_file)
{
    self->have_keys = false;
    if (!key_file)
        return 0;
    char err[512];
    if (cdc_keys_load(key_file, NULL, &self->keys, err, sizeof err) != CDC_OK) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    self->have_keys = true;
    return 0;
}

const cdc_keys_t *harness_keys(const harness_t *self)
{
    return self->have_keys ? &self->keys : NULL;
}

Codispatch__V1__Envelope *harness_call(harness_t *self, Codispatch__V1__Envelope *req,
                                       int timeout_ms)
{
    cdc_control_t *ctl = cdc_control_new_secure(self->control, harness_keys(self));
    cdc_control_set_retry_unavailable(ctl, false);
    Codispatch__V1__Envelope *reply = NULL;
    cdc_control_call(ctl, req, timeout_ms, &reply);
    cdc_control_destroy(&ctl);
    return reply;
}

Codispatch__V1__Envelope *harness_create_call(harness_t *self, const char *request_id,
                                              const char *type, int priority, double lat,
                                              double lon)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
    m.type = (char *)type;
    m.has_priority = m.has_lat = m.has_lon = true;
    m.priority = (uint32_t)priority;
    m.lat = lat;
    m.lon = lon;
    m.language = "es";
    m.caller_name = "Test Caller";
    m.callback = "555 0100";
    req.request_id = (char *)request_id;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    req.create_call = &m;
    return harness_call(self, &req, 5000);
}

Codispatch__V1__Envelope *harness_get_call(harness_t *self, const char *call_id)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__GetCall m = CODISPATCH__V1__GET_CALL__INIT;
    m.call_id = (char *)call_id;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
    req.get_call = &m;
    return harness_call(self, &req, 5000);
}

Codispatch__V1__Envelope *harness_cancel_call(harness_t *self, const char *request_id,
                                              const char *call_id, const char *reason)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CancelCall m = CODISPATCH__V1__CANCEL_CALL__INIT;
    m.call_id = (char *)call_id;
    m.reason = (char *)reason;
    req.request_id = (char *)request_id;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL;
    req.cancel_call = &m;
    return harness_call(self, &req, 5000);
}

Codispatch__V1__Envelope *harness_status(harness_t *self)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest m = CODISPATCH__V1__STATUS_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req.status = &m;
    return harness_call(self, &req, 500);
}

int harness_error_code(const Codispatch__V1__Envelope *reply)
{
    if (!reply || reply->body_case != CODISPATCH__V1__ENVELOPE__BODY_ERROR)
        return -1;
    return (int)reply->error->code;
}

void *harness_raw(harness_t *self, const void *const *frames, const size_t *lens, size_t n,
                  size_t *len, int timeout_ms)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, self->control);
    for (size_t i = 0; i < n; i++)
        zmq_send(s, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0);
    void *out = NULL;
    zmq_pollitem_t item = {.socket = s, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) == 1) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s, 0) >= 0) {
            *len = zmq_msg_size(&msg);
            out = malloc(*len ? *len : 1);
            memcpy(out, zmq_msg_data(&msg), *len);
        }
        zmq_msg_close(&msg);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    return out;
}

bool harness_send_env(void *sock, Codispatch__V1__Envelope *env, const char *rid)
{
    env->has_version = true;
    env->version = 1;
    env->request_id = (char *)rid;
    size_t len = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len ? len : 1);
    codispatch__v1__envelope__pack(env, buf);
    bool sent = zmq_send(sock, buf, len, 0) == (int)len;
    free(buf);
    return sent;
}

bool harness_send_create(void *sock, const char *rid, const char *type, int priority)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
    m.type = (char *)type;
    m.has_priority = m.has_lat = m.has_lon = true;
    m.priority = priority;
    m.lat = 34;
    m.lon = -118;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    env.create_call = &m;
    return harness_send_env(sock, &env, rid);
}

Codispatch__V1__Envelope *harness_recv_reply(void *sock, int timeout_ms)
{
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    if (zmq_poll(&item, 1, timeout_ms) != 1)
        return NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    Codispatch__V1__Envelope *env = NULL;
    if (zmq_msg_recv(&msg, sock, 0) >= 0)
        env = codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&msg), zmq_msg_data(&msg));
    zmq_msg_close(&msg);
    return env;
}

int harness_sh(const char *cmdline, char **out)
{
    FILE *p = popen(cmdline, "r");
    if (!p)
        return -1;
    size_t cap = 4096, used = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + used, 1, cap - used - 1, p)) > 0) {
        used += n;
        if (cap - used < 1024)
            buf = realloc(buf, cap *= 2);
    }
    buf[used] = '\0';
    int status = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int harness_sql_exec(harness_t *self, const char *sql)
{
    PGconn *c = PQconnectdb(harness_conninfo(self));
    int rc = -1;
    if (PQstatus(c) == CONNECTION_OK) {
        PGresult *r = PQexec(c, sql);
        ExecStatusType st = PQresultStatus(r);
        rc = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK ? 0 : -1;
        if (rc != 0)
            fprintf(stderr, "harness: %s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

long long harness_sql_count(harness_t *self, const char *sql)
{
    PGconn *c = PQconnectdb(harness_conninfo(self));
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long long v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

int harness_run_suite(Suite *suite)
{
    SRunner *sr = srunner_create(suite);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void harness_add_unit(harness_t *self, const char *unit_id, const char *type, double lat,
                      double lon)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddUnit m = CODISPATCH__V1__ADD_UNIT__INIT;
    m.unit_id = (char *)unit_id;
    m.type = (char *)type;
    m.has_lat = m.has_lon = m.has_status = true;
    m.lat = lat;
    m.lon = lon;
    m.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    env.add_unit = &m;
    Codispatch__V1__Envelope *r = harness_send(self, &env);
    ck_assert_msg(r->body_case == CODISPATCH__V1__ENVELOPE__BODY_UNIT, "add unit %s refused: %s",
                  unit_id,
                  r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR ? r->error->message : "?");
    cdc_envelope_free(r);
}

void harness_dispatch(harness_t *self, const char *call_id, const char *unit_id)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Dispatch m = CODISPATCH__V1__DISPATCH__INIT;
    char *units[] = {(char *)unit_id};
    m.call_id = (char *)call_id;
    m.unit_ids = units;
    m.n_unit_ids = 1;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_DISPATCH;
    env.dispatch = &m;
    Codispatch__V1__Envelope *r = harness_send(self, &env);
    ck_assert_msg(r->body_case == CODISPATCH__V1__ENVELOPE__BODY_CALL, "dispatch refused: %s",
                  r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR ? r->error->message : "?");
    cdc_envelope_free(r);
}

Codispatch__V1__Envelope *harness_send(harness_t *self, Codispatch__V1__Envelope *env)
{
    char rid[32];
    snprintf(rid, sizeof rid, "harness-%d", ++self->next_request);
    env->has_version = true;
    env->version = 1;
    env->request_id = rid;
    Codispatch__V1__Envelope *r = harness_call(self, env, 10000);
    ck_assert_ptr_nonnull(r);
    return r;
}
