/*  pgc.c — one PostgreSQL connection on the libuv loop: connecting with backoff, the state
 *  machine, pipelined jobs and their deadlines.  Building jobs and their queues: pgc_job.c.
 */
#include "pgc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cd_text.h"
#include "pgc_host.h"
#include "pgc_priv.h"

#define PGC_CONNECT_TIMEOUT_MS 5000

#define PGC_MAX_PREPARED 32

struct pgc {
    uv_loop_t *loop;
    char *conninfo;
    pgc_state_t state;
    PGconn *conn;
    pgc_resolver_t *resolver; /* while the host names are looked up, before conn exists */
    uv_poll_t *poll;          /* heap: its close callback frees it */
    int poll_fd;
    int poll_events;
    uv_timer_t timer; /* connect deadline, job deadline or backoff, by state */
    pgc_state_fn *on_state;
    void *arg;
    pgc_queue_t queued; /* not yet sent */
    pgc_queue_t flight; /* sent, results pending, in order */
    bool in_pipeline;
    uint64_t job_timeout_ms, backoff_min_ms, backoff_max_ms, backoff_ms;
    /* Statements prepared on this connection (jobs marked with pgc_job_prepare): Parse and
     * plan once per connection instead of once per batch. */
    struct {
        char *sql;
        char name[16];
    } prep[PGC_MAX_PREPARED];
    int n_prep;
    unsigned prep_serial; /* names are never reused, so a forgotten one cannot clash */
};

/* ------------------------------------------------------------------ state machine */

/* Legal transitions; anything else is a bug caught in debug builds. */
static const bool s_allowed[PGC_CLOSED + 1][PGC_CLOSED + 1] = {
    [PGC_IDLE] = {[PGC_CONNECTING] = true, [PGC_CLOSED] = true},
    [PGC_CONNECTING] = {[PGC_READY] = true, [PGC_BACKOFF] = true, [PGC_CLOSED] = true},
    [PGC_READY] = {[PGC_BACKOFF] = true, [PGC_CLOSED] = true},
    [PGC_BACKOFF] = {[PGC_CONNECTING] = true, [PGC_CLOSED] = true},
    [PGC_CLOSED] = {0},
};

static void s_set_state(pgc_t *self, pgc_state_t to)
{
    if (!s_allowed[self->state][to])
        abort(); /* a transition the table does not allow is a programming error */
    self->state = to;
}

/* Detaches both queues first so that callbacks which submit see an empty, non-READY pgc. */
static void s_fail_all(pgc_t *self, const char *why)
{
    pgc_queue_t flight = self->flight, queued = self->queued;
    memset(&self->flight, 0, sizeof self->flight);
    memset(&self->queued, 0, sizeof self->queued);
    pgc_job_t *job;
    while ((job = pgc__queue_pop(&flight)))
        pgc__job_finish(job, true, why);
    while ((job = pgc__queue_pop(&queued)))
        pgc__job_finish(job, false, why);
}

/* ------------------------------------------------------------------ the socket */

static void s_on_poll(uv_poll_t *handle, int status, int events);

static void s_on_poll_closed(uv_handle_t *handle)
{
    free(handle);
}

static void s_unwatch(pgc_t *self)
{
    if (self->poll) {
        /* uv_close stops polling now (the fd leaves epoll before PQfinish closes it). */
        uv_close((uv_handle_t *)self->poll, s_on_poll_closed);
        self->poll = NULL;
    }
    self->poll_fd = -1;
    self->poll_events = 0;
}

/* Watches libpq's current socket for `events`, re-registering when libpq changed sockets. */
static int s_watch(pgc_t *self, int events)
{
    int fd = PQsocket(self->conn);
    if (fd < 0)
        return -1;
    if (self->poll && self->poll_fd != fd)
        s_unwatch(self);
    if (!self->poll) {
        self->poll = cd_xcalloc(1, sizeof *self->poll);
        if (uv_poll_init(self->loop, self->poll, fd) != 0) {
            free(self->poll);
            self->poll = NULL;
            return -1;
        }
        self->poll->data = self;
        self->poll_fd = fd;
        self->poll_events = 0;
    }
    if (events != self->poll_events) {
        if (uv_poll_start(self->poll, events, s_on_poll) != 0)
            return -1;
        self->poll_events = events;
    }
    return 0;
}

/* A new connection knows no prepared statements; nor does one after a prepare failed. */
static void s_forget_prepared(pgc_t *self)
{
    for (int i = 0; i < self->n_prep; i++)
        free(self->prep[i].sql);
    self->n_prep = 0;
}

static void s_drop_conn(pgc_t *self)
{
    pgc_host_cancel(&self->resolver);
    s_unwatch(self);
    if (self->conn) {
        PQfinish(self->conn);
        self->conn = NULL;
    }
    self->in_pipeline = false;
    s_forget_prepared(self);
}

/* The name sql is prepared under on this connection; when it is not yet, sends the Parse
 * (counted in job->n_prep: its result comes first in the job's sync group).  NULL when the
 * table is full: the statement then goes unnamed, as before. */
static const char *s_prepared_name(pgc_t *self, pgc_job_t *job, const pgc_stmt_t *st)
{
    for (int i = 0; i < self->n_prep; i++)
        if (strcmp(self->prep[i].sql, st->sql) == 0)
            return self->prep[i].name;
    if (self->n_prep == PGC_MAX_PREPARED)
        return NULL;
    int i = self->n_prep;
    snprintf(self->prep[i].name, sizeof self->prep[i].name, "cd%u", ++self->prep_serial);
    if (!PQsendPrepare(self->conn, self->prep[i].name, st->sql, st->nparams, NULL))
        return NULL;
    self->prep[i].sql = cd_strdup(st->sql);
    self->n_prep++;
    job->n_prep++;
    return self->prep[i].name;
}

static void s_on_timer(uv_timer_t *timer);

static void s_backoff(pgc_t *self, const char *why)
{
    s_drop_conn(self);
    s_set_state(self, PGC_BACKOFF);
    s_fail_all(self, why);
    uv_timer_start(&self->timer, s_on_timer, self->backoff_ms, 0);
    self->backoff_ms *= 2;
    if (self->backoff_ms > self->backoff_max_ms)
        self->backoff_ms = self->backoff_max_ms;
    if (self->on_state)
        self->on_state(self, PGC_BACKOFF, why, self->arg);
}

/* The connection is unusable: libpq's message says why. */
static void s_broken(pgc_t *self, const char *context)
{
    char why[512];
    const char *msg = self->conn ? PQerrorMessage(self->conn) : "";
    snprintf(why, sizeof why, "%s%s%s", context, *msg ? ": " : "", msg);
    size_t n = strlen(why);
    while (n && (why[n - 1] == '\n' || why[n - 1] == ' '))
        why[--n] = '\0';
    s_backoff(self, why);
}

/* ------------------------------------------------------------------ connecting */

/* PostgreSQL's NOTICEs ("relation already exists, skipping") are noise in a server log;
 * warnings and worse are worth a line. */
static void s_on_notice(void *arg, const PGresult *res)
{
    const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (severity && (strcmp(severity, "NOTICE") == 0 || strcmp(severity, "DEBUG") == 0 ||
                     strcmp(severity, "INFO") == 0 || strcmp(severity, "LOG") == 0))
        return;
    fprintf(stderr, "codispatchd: PostgreSQL says: %s", PQresultErrorMessage(res));
}

/* Starts libpq's connection sequence; hosts, when set, are the resolved addresses. */
static void s_connect_to(pgc_t *self, const pgc_hosts_t *hosts)
{
    /* A dead peer must be noticed in seconds, not after the kernel's two hours: on our side
     * (keepalives, tcp_user_timeout) and on the server's (its session holds the standby lock,
     * which must free when we are gone).  Listed before the conninfo, which may override them;
     * Unix sockets ignore them.  The resolved hosts come after it, to override its names. */
    const char *keys[] = {"keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "options",
                          "dbname",
                          hosts ? "host" : NULL, /* NULL: the list ends here */
                          "hostaddr",
                          "port",
                          NULL};
    const char *values[] = {"1",
                            "10",
                            "5",
                            "3",
                            "25000",
                            "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 "
                            "-c tcp_keepalives_count=3",
                            self->conninfo,
                            hosts ? hosts->host : NULL,
                            hosts ? hosts->hostaddr : NULL,
                            hosts ? hosts->port : NULL,
                            NULL};
    self->conn = PQconnectStartParams(keys, values, 1);
    if (!self->conn || PQstatus(self->conn) == CONNECTION_BAD) {
        s_broken(self, "cannot start connecting to PostgreSQL");
        return;
    }
    PQsetNoticeReceiver(self->conn, s_on_notice, self);
    /* Per libpq, the first wait of the connection sequence is for writability. */
    if (s_watch(self, UV_WRITABLE) != 0)
        s_broken(self, "cannot poll the PostgreSQL socket");
}

static void s_on_resolved(const pgc_hosts_t *hosts, const char *error, void *arg)
{
    pgc_t *self = arg;
    self->resolver = NULL; /* it frees itself when this returns */
    if (!hosts) {
        s_backoff(self, error);
        return;
    }
    s_connect_to(self, hosts);
}

/* Host names are looked up on libuv's thread pool first: libpq would call getaddrinfo() on
 * the loop (pgc_host.h).  The connect deadline covers the lookup too. */
static void s_connect(pgc_t *self)
{
    s_set_state(self, PGC_CONNECTING);
    uv_timer_start(&self->timer, s_on_timer, PGC_CONNECT_TIMEOUT_MS, 0);
    int rc = pgc_host_resolve(self->loop, self->conninfo, s_on_resolved, self, &self->resolver);
    if (rc < 0) {
        char why[160];
        snprintf(why, sizeof why, "cannot look up the PostgreSQL host names: %s", uv_strerror(rc));
        s_backoff(self, why);
    } else if (rc == 0) {
        s_connect_to(self, NULL);
    }
}

static void s_arm_job_timer(pgc_t *self)
{
    if (self->state != PGC_READY)
        return;
    if (!self->flight.head) {
        uv_timer_stop(&self->timer);
        return;
    }
    uint64_t now = uv_now(self->loop), deadline = self->flight.head->deadline;
    uv_timer_start(&self->timer, s_on_timer, deadline > now ? deadline - now : 0, 0);
}

static void s_pump(pgc_t *self);
static void s_flush(pgc_t *self);

static void s_connect_step(pgc_t *self)
{
    switch (PQconnectPoll(self->conn)) {
    case PGRES_POLLING_READING:
        if (s_watch(self, UV_READABLE) != 0)
            s_broken(self, "cannot poll the PostgreSQL socket");
        return;
    case PGRES_POLLING_WRITING:
        if (s_watch(self, UV_WRITABLE) != 0)
            s_broken(self, "cannot poll the PostgreSQL socket");
        return;
    case PGRES_POLLING_OK:
        break;
    default:
        s_broken(self, "cannot connect to PostgreSQL");
        return;
    }
    if (PQsetnonblocking(self->conn, 1) != 0 || s_watch(self, UV_READABLE) != 0) {
        s_broken(self, "cannot make the PostgreSQL connection non-blocking");
        return;
    }
    uv_timer_stop(&self->timer);
    self->backoff_ms = self->backoff_min_ms;
    s_set_state(self, PGC_READY);
    if (self->on_state)
        self->on_state(self, PGC_READY, "connected", self->arg);
    if (self->state == PGC_READY)
        s_pump(self);
}

/* ------------------------------------------------------------------ running jobs */

static bool s_flight_has_script(const pgc_t *self)
{
    for (pgc_job_t *j = self->flight.head; j; j = j->next)
        if (j->script)
            return true;
    return false;
}

static bool s_send_job(pgc_t *self, pgc_job_t *job)
{
    if (job->script) {
        if (self->in_pipeline) {
            if (!PQexitPipelineMode(self->conn))
                return false;
            self->in_pipeline = false;
        }
        job->results = cd_xcalloc(1, sizeof *job->results);
        return PQsendQuery(self->conn, job->script) == 1;
    }
    if (!self->in_pipeline) {
        if (!PQenterPipelineMode(self->conn))
            return false;
        self->in_pipeline = true;
    }
    job->results = cd_xcalloc((size_t)(job->n ? job->n : 1), sizeof *job->results);
    const char *names[job->n > 0 ? job->n : 1];
    job->n_prep = 0;
    for (int i = 0; i < job->n; i++) /* the Parses first, so that results keep their order */
        names[i] = job->prepared ? s_prepared_name(self, job, &job->stmts[i]) : NULL;
    job->cur = -job->n_prep;
    for (int i = 0; i < job->n; i++) {
        const pgc_stmt_t *st = &job->stmts[i];
        int formats[st->nparams > 0 ? st->nparams : 1];
        for (int p = 0; p < st->nparams; p++)
            formats[p] = st->lengths ? 1 : 0;
        const int *fmt = st->lengths ? formats : NULL;
        int ok = names[i]
                     ? PQsendQueryPrepared(self->conn, names[i], st->nparams,
                                           (const char *const *)st->params, st->lengths, fmt, 0)
                     : PQsendQueryParams(self->conn, st->sql, st->nparams, NULL,
                                         (const char *const *)st->params, st->lengths, fmt, 0);
        if (!ok)
            return false;
    }
    return PQpipelineSync(self->conn) == 1;
}

/* Sends queued jobs in order.  A script waits until the pipeline is empty, and nothing is
 * sent while a script runs. */
static void s_pump(pgc_t *self)
{
    while (self->state == PGC_READY && self->queued.head) {
        pgc_job_t *job = self->queued.head;
        if (job->script ? self->flight.len > 0 : s_flight_has_script(self))
            break;
        pgc__queue_pop(&self->queued);
        job->deadline = uv_now(self->loop) + self->job_timeout_ms;
        pgc__queue_push(&self->flight, job);
        if (!s_send_job(self, job)) {
            s_broken(self, "cannot send to PostgreSQL");
            return;
        }
    }
    s_flush(self);
    s_arm_job_timer(self);
}

static void s_flush(pgc_t *self)
{
    if (self->state != PGC_READY)
        return;
    int r = PQflush(self->conn);
    if (r < 0) {
        s_broken(self, "cannot write to PostgreSQL");
        return;
    }
    if (s_watch(self, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE) != 0)
        s_broken(self, "cannot poll the PostgreSQL socket");
}

static void s_complete_head(pgc_t *self)
{
    pgc_job_t *job = pgc__queue_pop(&self->flight);
    /* PostgreSQL runs a pipeline's statements one after another: the next job starts only now,
     * so its time limit does too (a long report must not use up the one queued behind it). */
    if (self->flight.head)
        self->flight.head->deadline = uv_now(self->loop) + self->job_timeout_ms;
    pgc__job_finish(job, false, NULL);
}

/* Reads every result that has arrived and completes the jobs they finish. */
static void s_read_results(pgc_t *self)
{
    while (self->state == PGC_READY && self->flight.head) {
        pgc_job_t *job = self->flight.head;
        if (PQisBusy(self->conn))
            break;
        PGresult *r = PQgetResult(self->conn);
        if (job->script) {
            if (!r) {
                s_complete_head(self);
                continue;
            }
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_FATAL_ERROR)
                pgc__job_note_error(job, PQresultErrorMessage(r));
            PQclear(job->results[0]);
            job->results[0] = r;
            continue;
        }
        if (!r) {
            /* End of one statement's results; nothing more has arrived otherwise. */
            if (!job->cur_has_result)
                break;
            job->cur++;
            job->cur_has_result = false;
            continue;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            if (job->error && job->n_prep)
                s_forget_prepared(self); /* its Parses may not have happened: redo them */
            s_complete_head(self);
            continue;
        }
        if (st == PGRES_FATAL_ERROR)
            pgc__job_note_error(job, PQresultErrorMessage(r));
        else if (st == PGRES_PIPELINE_ABORTED)
            pgc__job_note_error(job, "statement skipped after an earlier error");
        if (job->cur >= 0 && job->cur < job->n) {
            PQclear(job->results[job->cur]);
            job->results[job->cur] = r;
        } else {
            PQclear(r);
        }
        job->cur_has_result = true;
    }
    if (self->state == PGC_READY) {
        s_pump(self); /* a script may have been waiting for the pipeline to empty */
    }
}

static void s_on_poll(uv_poll_t *handle, int status, int events)
{
    pgc_t *self = handle->data;
    if (status < 0) {
        s_broken(self, "error polling the PostgreSQL socket");
        return;
    }
    if (self->state == PGC_CONNECTING) {
        s_connect_step(self);
        return;
    }
    if (self->state != PGC_READY)
        return;
    if (events & UV_READABLE) {
        if (!PQconsumeInput(self->conn)) {
            s_broken(self, "lost the connection to PostgreSQL");
            return;
        }
        s_read_results(self);
    }
    if (self->state == PGC_READY && (events & UV_WRITABLE))
        s_flush(self);
}

static void s_on_timer(uv_timer_t *timer)
{
    pgc_t *self = timer->data;
    switch (self->state) {
    case PGC_CONNECTING:
        s_backoff(self, "timed out connecting to PostgreSQL");
        break;
    case PGC_BACKOFF:
        s_connect(self);
        break;
    case PGC_READY:
        if (self->flight.head && uv_now(self->loop) >= self->flight.head->deadline) {
            char why[96];
            snprintf(why, sizeof why, "PostgreSQL did not answer within %llu ms",
                     (unsigned long long)self->job_timeout_ms);
            s_backoff(self, why);
        } else {
            s_arm_job_timer(self);
        }
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ public */

pgc_t *pgc_new(uv_loop_t *loop, const char *conninfo, pgc_state_fn *on_state, void *arg)
{
    pgc_t *self = cd_xcalloc(1, sizeof *self);
    self->loop = loop;
    self->conninfo = cd_strdup(conninfo ? conninfo : "");
    self->on_state = on_state;
    self->arg = arg;
    self->poll_fd = -1;
    self->job_timeout_ms = 10000;
    /* Capped at 500 ms so that a database that comes back is found within half a second
     * (the reliability goal is serving again within 2 s of PostgreSQL being back). */
    self->backoff_min_ms = self->backoff_ms = 50;
    self->backoff_max_ms = 500;
    uv_timer_init(loop, &self->timer);
    self->timer.data = self;
    return self;
}

int pgc_start(pgc_t *self)
{
    if (self->state != PGC_IDLE)
        return -1;
    s_connect(self);
    return 0;
}

pgc_state_t pgc_state(const pgc_t *self)
{
    return self->state;
}

void pgc_set_job_timeout(pgc_t *self, uint64_t ms)
{
    self->job_timeout_ms = ms ? ms : 1;
}

void pgc_set_backoff(pgc_t *self, uint64_t min_ms, uint64_t max_ms)
{
    self->backoff_min_ms = self->backoff_ms = min_ms ? min_ms : 1;
    self->backoff_max_ms = max_ms < self->backoff_min_ms ? self->backoff_min_ms : max_ms;
}

int pgc_submit(pgc_t *self, pgc_job_t *job)
{
    if (self->state != PGC_READY || (!job->script && job->n == 0)) {
        pgc_job_destroy(&job);
        return -1;
    }
    pgc__queue_push(&self->queued, job);
    s_pump(self);
    return 0;
}

int pgc_pending(const pgc_t *self)
{
    return self->queued.len + self->flight.len;
}

static void s_on_timer_closed(uv_handle_t *handle)
{
    pgc_t *self = handle->data;
    free(self->conninfo);
    free(self);
}

void pgc_destroy(pgc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pgc_t *self = *self_p;
    *self_p = NULL;
    s_drop_conn(self);
    s_set_state(self, PGC_CLOSED);
    s_fail_all(self, "shutting down");
    uv_timer_stop(&self->timer);
    uv_close((uv_handle_t *)&self->timer, s_on_timer_closed);
}
