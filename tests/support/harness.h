/*  harness.h — integration test support: a real PostgreSQL and a real codispatchd.
 *
 *  harness_new() makes a temporary directory, starts a throwaway PostgreSQL cluster in it
 *  (the server's own embedded-cluster code) and picks free loopback ports.  The server is the
 *  real build/bin/codispatchd, started as a child process with --db pointing at that cluster,
 *  so tests can stop and restart either one.  Everything is loopback-only and every wait is
 *  bounded.
 *
 *  Suites run with CK_NOFORK so that what a test does to the server and the database (a
 *  restart, an outage) is seen by the next; harness_ensure_up() puts both back.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>

#include <codispatch/codispatch.h>

typedef struct harness harness_t;

/* Runs a suite the way every integration suite runs (CK_NOFORK: tests share the server);
 * returns main's exit status. */
struct Suite;
int harness_run_suite(struct Suite *suite);

harness_t *harness_new(void);
/* Like harness_new, but no cluster is started: the server, run without --db, makes and runs
 * its own embedded cluster in harness_pgdir().  harness_destroy stops that cluster if a
 * test left it running. */
harness_t *harness_new_embedded(void);
/* Stops the server (expecting a clean exit) and the cluster, removes the directory. */
void harness_destroy(harness_t **self_p);

/* Starts codispatchd and waits (bounded) until it reports the database ok.  Returns 0. */
int harness_start_server(harness_t *self);
/* Sends sig and waits for the process; returns its exit status (128+n if killed by n). */
int harness_stop_server(harness_t *self, int sig);
bool harness_server_running(harness_t *self);

/* The server's process id (0 when it is not running). */
long harness_server_pid(const harness_t *self);
/* Monotonic milliseconds, and a sleep of the test's own thread (never the server's). */
long long harness_now_ms(void);
void harness_sleep_ms(int ms);

/* A second codispatchd on the same database and its own free loopback ports: a hot standby.
 * Returns 0 once its HTTP side answers /healthz (it binds control/units/stream only once it
 * holds the database lock, so it is not "ready" while the primary lives). */
int harness_start_standby(harness_t *self);
int harness_stop_standby(harness_t *self, int sig);
bool harness_standby_running(harness_t *self);
const char *harness_standby_control(const harness_t *self);
const char *harness_standby_units(const harness_t *self);
const char *harness_standby_http(const harness_t *self);
char *harness_standby_log(const harness_t *self);

int harness_stop_db(harness_t *self);
int harness_start_db(harness_t *self);

/* Database and server both running (restarts whatever a test left stopped). */
void harness_ensure_up(harness_t *self);

const char *harness_control(const harness_t *self);
const char *harness_units(const harness_t *self);
const char *harness_stream(const harness_t *self);
const char *harness_http(const harness_t *self); /* "127.0.0.1:PORT" */
const char *harness_conninfo(const harness_t *self);
const char *harness_dir(const harness_t *self);
const char *harness_pgdir(const harness_t *self);
/* The PID in harness_pgdir()/postmaster.pid, or 0 when there is none. */
long harness_postmaster_pid(const harness_t *self);
bool harness_embedded_db_running(const harness_t *self);
/* True if pid names a live process (a zombie is not). */
bool harness_pid_alive(long pid);
/* The server's log so far (malloc'd), for failure messages. */
char *harness_server_log(const harness_t *self);

/* --- Security (additive; nothing changes for suites that do not call these) --- */

/* An argument added to the server's command line from the next start ("--security", ...). */
void harness_add_server_arg(harness_t *self, const char *arg);
/* Runs `codispatch keys init --data-dir harness_dir()`: keys in harness_dir()/keys.  0 ok. */
int harness_keys_init(harness_t *self);
/* The secret key file harness_call/harness_send (and the start-up readiness check) use from
 * now on; NULL: none.  Returns 0, or -1 if the file cannot be used. */
int harness_use_key(harness_t *self, const char *key_file);
/* The keys in use (NULL: none). */
const cdc_keys_t *harness_keys(const harness_t *self);

/* --- Talking to the server --- */

/* One request on a fresh control client that does not retry UNAVAILABLE/BUSY.  Returns the
 * reply (free with cdc_envelope_free) or NULL when none came within timeout_ms. */
Codispatch__V1__Envelope *harness_call(harness_t *self, Codispatch__V1__Envelope *req,
                                       int timeout_ms);

/* Sends env (built by the test) with version 1 and a fresh request id, on a client that does
 * not retry; fails the test when no reply comes within 10 s. */
Codispatch__V1__Envelope *harness_send(harness_t *self, Codispatch__V1__Envelope *env);

/* Envelope builders; strings are borrowed. */
Codispatch__V1__Envelope *harness_create_call(harness_t *self, const char *request_id,
                                              const char *type, int priority, double lat,
                                              double lon);
Codispatch__V1__Envelope *harness_get_call(harness_t *self, const char *call_id);
Codispatch__V1__Envelope *harness_cancel_call(harness_t *self, const char *request_id,
                                              const char *call_id, const char *reason);
Codispatch__V1__Envelope *harness_status(harness_t *self);

/* Adds an available unit / offers a call to one unit (harness_send); fails the test if the
 * server refuses. */
void harness_add_unit(harness_t *self, const char *unit_id, const char *type, double lat,
                      double lon);
void harness_dispatch(harness_t *self, const char *call_id, const char *unit_id);

/* Sends raw frames on a fresh DEALER and returns the raw reply frame (malloc'd, *len set) or
 * NULL on timeout. */
void *harness_raw(harness_t *self, const void *const *frames, const size_t *lens, size_t n,
                  size_t *len, int timeout_ms);

/* Sends env on a socket of the test's own (DEALER) as it is, but with version 1 and request id
 * rid; true when the whole frame was sent.  No reply is read. */
bool harness_send_env(void *sock, Codispatch__V1__Envelope *env, const char *rid);
/* The same for a CreateCall of this type and priority at 34, -118. */
bool harness_send_create(void *sock, const char *rid, const char *type, int priority);

/* The next reply envelope on a socket of the test's own (DEALER or REQ), waiting at most
 * timeout_ms; NULL when none came or it does not decode.  Free with cdc_envelope_free. */
Codispatch__V1__Envelope *harness_recv_reply(void *sock, int timeout_ms);

/* Runs a query returning one number (SELECT count(*) ...) on the test database; fails the
 * test when it cannot. */
long long harness_sql_count(harness_t *self, const char *sql);
/* Runs one statement on the test database (its own connection); 0 if it succeeded. */
int harness_sql_exec(harness_t *self, const char *sql);

/* The Error code of a reply, or -1 if it is not an Error. */
int harness_error_code(const Codispatch__V1__Envelope *reply);

/* Runs a shell command line, returns its exit status, and captures stdout (malloc'd, may be
 * NULL). */
int harness_sh(const char *cmdline, char **out);

/* Path of a built program: "codispatch" -> build/bin/codispatch. */
const char *harness_bin(const char *name);

/* --- HTTP (harness_http.c) --- */

/* GET path on harness_http(); returns the HTTP status (-1: no answer within 10 s) and the
 * body (malloc'd, "" when none). */
int harness_http_get(harness_t *self, const char *path, char **body);
/* The same on another HTTP address "127.0.0.1:PORT" (a standby's). */
int harness_http_get_at(const char *hostport, const char *path, char **body);
/* Sends a whole raw request; reads until the server closes or is quiet for timeout_s.
 * Returns the status and the whole response (malloc'd; zero bytes turned into spaces). */
int harness_http_raw(harness_t *self, const char *request, int timeout_s, char **resp);
/* harness_http_raw in two steps, so that many requests can be sent before any answer is read:
 * send returns the connected socket (-1 on failure; its reads time out after timeout_s), read
 * reads it until the server closes or is quiet, closes it, and returns as harness_http_raw. */
int harness_http_send(harness_t *self, const char *request, int timeout_s);
int harness_http_read(int fd, char **resp);
/* The value of a Prometheus sample in text, e.g.
 * "codispatch_refusals_total{socket=\"control\",code=\"INVALID_ARGUMENT\",field=\"envelope\"}";
 * 0 when the series is absent. */
double harness_metric(const char *text, const char *series);
/* harness_metric on a fresh GET /metrics (-1 when /metrics did not answer 200). */
double harness_scrape(harness_t *self, const char *series);
#endif
