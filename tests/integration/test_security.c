/* Integration: security on (CURVE on loopback, real PostgreSQL).  Unknown keys get no
 * connection; each role may do only its own work; a unit key speaks for its own unit only;
 * viewers never see caller PII (stream, snapshot, WebSocket, /api); a revoked key stops at
 * its next message; every action's event names its key; the server refuses a non-loopback
 * bind without security unless --insecure. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "harness.h"

#define PII_NAME  "Zelda Quux"
#define PII_PHONE "555 0199"

static harness_t *h;
static char s_keys[256], s_disp[256], s_view[256], s_unit[256], s_unit2[256], s_token[128];
static char s_call[32]; /* a call created by the dispatcher, with PII */

static void s_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", harness_dir(h), name);
}

/* `codispatch --key admin ... ARGS`; returns the exit status. */
static int s_cli(const char *key, const char *args, char **out)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --server %s --key %s %s 2>&1", harness_bin("codispatch"),
             harness_control(h), key, args);
    return harness_sh(cmd, out);
}

/* One request on a fresh connection with the keys in key_file; NULL when nothing came. */
static Codispatch__V1__Envelope *s_as(const char *key_file, Codispatch__V1__Envelope *req,
                                      int timeout_ms)
{
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(key_file, NULL, &k, err, sizeof err), CDC_OK);
    cdc_control_t *ctl = cdc_control_new_secure(harness_control(h), &k);
    cdc_control_set_retry_unavailable(ctl, false);
    Codispatch__V1__Envelope *reply = NULL;
    char *rid = req->request_id; /* the library may point it at its own storage */
    cdc_control_call(ctl, req, timeout_ms, &reply);
    req->request_id = rid;
    cdc_control_destroy(&ctl);
    return reply;
}

static Codispatch__V1__Envelope *s_status_req(Codispatch__V1__Envelope *req,
                                              Codispatch__V1__StatusRequest *st)
{
    codispatch__v1__envelope__init(req);
    codispatch__v1__status_request__init(st);
    req->body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    req->status = st;
    return req;
}

static Codispatch__V1__Envelope *s_create_req(Codispatch__V1__Envelope *req,
                                              Codispatch__V1__CreateCall *m)
{
    codispatch__v1__envelope__init(req);
    codispatch__v1__create_call__init(m);
    m->type = "mental_health";
    m->has_priority = m->has_lat = m->has_lon = true;
    m->priority = 3;
    m->lat = 34.05;
    m->lon = -118.25;
    m->caller_name = PII_NAME;
    m->callback = PII_PHONE;
    req->body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
    req->create_call = m;
    return req;
}

static void s_add_unit(const char *id)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddUnit m = CODISPATCH__V1__ADD_UNIT__INIT;
    m.unit_id = (char *)id;
    m.type = "mh_team";
    m.has_status = true;
    m.status = CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    m.has_lat = m.has_lon = true;
    m.lat = 34.06;
    m.lon = -118.24;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT;
    req.add_unit = &m;
    Codispatch__V1__Envelope *r = harness_send(h, &req); /* as admin */
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_UNIT);
    cdc_envelope_free(r);
}

/* A note naming the caller on call_id, as the key in key_file. */
static void s_note(const char *key_file, const char *call_id)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT, *r;
    Codispatch__V1__AddNote m = CODISPATCH__V1__ADD_NOTE__INIT;
    m.call_id = (char *)call_id;
    m.text = "called back " PII_NAME;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_NOTE;
    req.add_note = &m;
    r = s_as(key_file, &req, 10000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
}

static void suite_setup(void)
{
    h = harness_new();
    ck_assert_int_eq(harness_keys_init(h), 0);
    snprintf(s_keys, sizeof s_keys, "%s/keys", harness_dir(h));
    char admin[300];
    snprintf(admin, sizeof admin, "%s/admin.key_secret", s_keys);
    harness_add_server_arg(h, "--security");
    harness_add_server_arg(h, "on");
    ck_assert_int_eq(harness_use_key(h, admin), 0);
    ck_assert_int_eq(harness_start_server(h), 0);
    s_add_unit("SU1");
    s_add_unit("SU2");
    /* The other keys, made with the CLI as the first admin. */
    s_path(s_disp, sizeof s_disp, "disp.key_secret");
    s_path(s_view, sizeof s_view, "view.key_secret");
    s_path(s_unit, sizeof s_unit, "su1.key_secret");
    char args[600], *out = NULL;
    snprintf(args, sizeof args, "keys add --role dispatcher --name disp --out %s", s_disp);
    ck_assert_int_eq(s_cli(admin, args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "keys add --role viewer --name view --out %s", s_view);
    ck_assert_int_eq(s_cli(admin, args, &out), 0);
    free(out);
    snprintf(args, sizeof args, "keys add --role unit --name su1 --unit SU1 --out %s", s_unit);
    ck_assert_int_eq(s_cli(admin, args, &out), 0);
    free(out);
    s_path(s_unit2, sizeof s_unit2, "su2.key_secret");
    snprintf(args, sizeof args, "keys add --role unit --name su2 --unit SU2 --out %s", s_unit2);
    ck_assert_int_eq(s_cli(admin, args, &out), 0);
    free(out);
    char tok[300];
    snprintf(tok, sizeof tok, "%s/http.token", s_keys);
    FILE *f = fopen(tok, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_ptr_nonnull(fgets(s_token, sizeof s_token, f));
    fclose(f);
    s_token[strcspn(s_token, "\r\n")] = '\0';
    /* A call with caller PII, taken by the dispatcher. */
    Codispatch__V1__Envelope req;
    Codispatch__V1__CreateCall m;
    Codispatch__V1__Envelope *r = s_as(s_disp, s_create_req(&req, &m), 10000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    snprintf(s_call, sizeof s_call, "%s", r->call->call_id);
    cdc_envelope_free(r);
    s_note(s_disp, s_call);
}

static void suite_teardown(void)
{
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

/* ------------------------------------------------------------------ HTTP helpers */

static int s_get(const char *path, const char *auth, char **resp)
{
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n%s%s%s\r\n", path,
             auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "");
    return harness_http_raw(h, req, 3, resp);
}

static int s_ws(const char *cookie, char **resp)
{
    char req[768];
    snprintf(req, sizeof req,
             "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "%s%s%s\r\n",
             cookie ? "Cookie: codispatch_token=" : "", cookie ? cookie : "", cookie ? "\r\n" : "");
    return harness_http_raw(h, req, 3, resp);
}

/* ------------------------------------------------------------------ tests */

START_TEST(unknown_key_gets_no_connection)
{
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(s_disp, NULL, &k, err, sizeof err), CDC_OK);
    ck_assert_int_eq(zmq_curve_keypair(k.public_key, k.secret_key), 0); /* unregistered */
    cdc_control_t *ctl = cdc_control_new_secure(harness_control(h), &k);
    Codispatch__V1__Envelope req, *r = NULL;
    Codispatch__V1__StatusRequest st;
    ck_assert_int_eq(cdc_control_call(ctl, s_status_req(&req, &st), 1500, &r), CDC_ETIMEOUT);
    cdc_control_destroy(&ctl);
    /* A client with no key at all cannot even handshake. */
    cdc_control_t *plain = cdc_control_new(harness_control(h));
    ck_assert_int_eq(cdc_control_call(plain, s_status_req(&req, &st), 1000, &r), CDC_ETIMEOUT);
    cdc_control_destroy(&plain);
    /* The refusal is counted. */
    char *resp;
    ck_assert_int_eq(s_get("/metrics", s_token, &resp), 200);
    const char *line = strstr(resp, "codispatch_auth_handshakes_total{result=\"unknown_key\"} ");
    ck_assert_ptr_nonnull(line);
    ck_assert_int_ge(
        atoi(line + strlen("codispatch_auth_handshakes_total{result=\"unknown_key\"} ")), 1);
    free(resp);
}
END_TEST

START_TEST(status_names_the_key_and_role)
{
    Codispatch__V1__Envelope req, *r;
    Codispatch__V1__StatusRequest st;
    r = s_as(s_view, s_status_req(&req, &st), 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY);
    ck_assert(r->status_reply->security);
    ck_assert_str_eq(r->status_reply->identity, "view");
    ck_assert_str_eq(r->status_reply->role, "viewer");
    cdc_envelope_free(r);
}
END_TEST

START_TEST(roles_are_enforced_on_the_control_socket)
{
    Codispatch__V1__Envelope req, *r;
    Codispatch__V1__CreateCall cc;
    /* A viewer may not take a call, nor read one (it would carry PII). */
    r = s_as(s_view, s_create_req(&req, &cc), 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(r->error->message, "role viewer"));
    ck_assert_ptr_nonnull(strstr(r->error->message, "create_call"));
    cdc_envelope_free(r);
    Codispatch__V1__GetCall gc = CODISPATCH__V1__GET_CALL__INIT;
    gc.call_id = s_call;
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
    req.get_call = &gc;
    r = s_as(s_view, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    /* A dispatcher reads it, PII included (so the PII is there to be withheld). */
    r = s_as(s_disp, &req, 5000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    ck_assert_str_eq(r->call->caller_name, PII_NAME);
    cdc_envelope_free(r);
    /* A dispatcher may not edit the roster, plans or keys. */
    Codispatch__V1__RemoveUnit ru = CODISPATCH__V1__REMOVE_UNIT__INIT;
    ru.unit_id = "SU2";
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT;
    req.remove_unit = &ru;
    r = s_as(s_disp, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(r->error->message, "admin"));
    cdc_envelope_free(r);
    Codispatch__V1__ListKeys lk = CODISPATCH__V1__LIST_KEYS__INIT;
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS;
    req.list_keys = &lk;
    r = s_as(s_disp, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    Codispatch__V1__SetPlan sp = CODISPATCH__V1__SET_PLAN__INIT;
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN;
    req.set_plan = &sp;
    r = s_as(s_disp, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    /* A unit key on the control socket may change no call. */
    Codispatch__V1__CancelCall cn = CODISPATCH__V1__CANCEL_CALL__INIT;
    cn.call_id = s_call;
    cn.reason = "test";
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CANCEL_CALL;
    req.cancel_call = &cn;
    r = s_as(s_unit, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    r = s_as(s_unit, s_create_req(&req, &cc), 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
}
END_TEST

/* A DEALER on the units socket with a key; sends env, returns the reply (or NULL). */
static Codispatch__V1__Envelope *s_unit_req(void *sock, Codispatch__V1__Envelope *env,
                                            const char *rid)
{
    env->has_version = true;
    env->version = 1;
    env->request_id = (char *)rid;
    size_t len = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(len);
    codispatch__v1__envelope__pack(env, buf);
    zmq_send(sock, buf, len, 0);
    free(buf);
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            return NULL;
        }
        Codispatch__V1__Envelope *r =
            codispatch__v1__envelope__unpack(NULL, zmq_msg_size(&m), zmq_msg_data(&m));
        zmq_msg_close(&m);
        if (r && r->request_id && strcmp(r->request_id, rid) == 0)
            return r;
        if (r)
            codispatch__v1__envelope__free_unpacked(r, NULL); /* a push */
    }
}

/* The tablet on sock says its unit is out of service, under request id rid. */
static Codispatch__V1__Envelope *s_out_of_service(void *sock, const char *rid)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusUpdate su = CODISPATCH__V1__STATUS_UPDATE__INIT;
    su.has_status = true;
    su.status = CODISPATCH__V1__UNIT_STATUS__UNIT_OUT_OF_SERVICE;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS_UPDATE;
    env.status_update = &su;
    return s_unit_req(sock, &env, rid);
}

START_TEST(a_unit_key_speaks_for_its_own_unit_only)
{
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(s_unit, NULL, &k, err, sizeof err), CDC_OK);
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, rcv = 5000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    ck_assert_int_eq(cdc_keys_apply(sock, &k), CDC_OK);
    ck_assert_int_eq(zmq_connect(sock, harness_units(h)), 0);
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT, *r;
    Codispatch__V1__Hello hello = CODISPATCH__V1__HELLO__INIT;
    hello.unit_id = "SU2"; /* not its unit */
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    r = s_unit_req(sock, &env, "u-hello-2");
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(r->error->message, "SU1"));
    codispatch__v1__envelope__free_unpacked(r, NULL);
    hello.unit_id = "SU1";
    r = s_unit_req(sock, &env, "u-hello-1");
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_WELCOME);
    codispatch__v1__envelope__free_unpacked(r, NULL);
    /* Its own status: allowed, and recorded under its key. */
    r = s_out_of_service(sock, "u-status-1");
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_UNIT);
    ck_assert_str_eq(r->unit->unit_id, "SU1");
    codispatch__v1__envelope__free_unpacked(r, NULL);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE kind = 'unit.status' "
                                          "AND unit_id = 'SU1' AND actor = 'unit:SU1/su1'"),
                     1);
    /* A dispatcher key cannot connect to the units socket at all (ZAP refuses the role). */
    ck_assert_int_eq(cdc_keys_load(s_disp, NULL, &k, err, sizeof err), CDC_OK);
    ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    rcv = 1500;
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    cdc_keys_apply(sock, &k);
    zmq_connect(sock, harness_units(h));
    codispatch__v1__envelope__init(&env);
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    ck_assert_ptr_null(s_unit_req(sock, &env, "d-hello"));
    zmq_close(sock);
    zmq_ctx_term(ctx);
}
END_TEST

/* A DEALER on the units socket with the keys in key_file and a routing id of its choosing. */
static void *s_tablet_socket(void *ctx, const char *key_file, const char *routing_id)
{
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(key_file, NULL, &k, err, sizeof err), CDC_OK);
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, rcv = 5000;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sock, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    zmq_setsockopt(sock, ZMQ_ROUTING_ID, routing_id, strlen(routing_id));
    ck_assert_int_eq(cdc_keys_apply(sock, &k), CDC_OK);
    ck_assert_int_eq(zmq_connect(sock, harness_units(h)), 0);
    return sock;
}

/* Routing ids are the tablets' own choice and the units socket hands a route over to the
 * newest connection: another unit's key that reuses a bound route still may not act for it. */
START_TEST(a_taken_over_route_does_not_carry_the_unit)
{
    void *ctx = zmq_ctx_new();
    void *a = s_tablet_socket(ctx, s_unit, "tablet:SU1:shared");
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT, *r;
    Codispatch__V1__Hello hello = CODISPATCH__V1__HELLO__INIT;
    hello.unit_id = "SU1";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    r = s_unit_req(a, &env, "route-hello-1");
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_WELCOME);
    codispatch__v1__envelope__free_unpacked(r, NULL);

    void *b = s_tablet_socket(ctx, s_unit2, "tablet:SU1:shared");
    Codispatch__V1__Position pos = CODISPATCH__V1__POSITION__INIT;
    pos.has_lat = pos.has_lon = true;
    pos.lat = 34.1;
    pos.lon = -118.3;
    codispatch__v1__envelope__init(&env);
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_POSITION;
    env.position = &pos;
    r = s_unit_req(b, &env, "route-position-2");
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    ck_assert_ptr_nonnull(strstr(r->error->message, "su2"));
    codispatch__v1__envelope__free_unpacked(r, NULL);
    zmq_close(a);
    zmq_close(b);
    zmq_ctx_term(ctx);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id = "
                                          "'route-position-2'"),
                     0);
}
END_TEST

START_TEST(viewers_never_see_caller_pii)
{
    /* The stream, subscribed with the viewer key, while the dispatcher takes a call. */
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(s_view, NULL, &k, err, sizeof err), CDC_OK);
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, rcv = 5000;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "call.", 5);
    ck_assert_int_eq(cdc_keys_apply(sub, &k), CDC_OK);
    ck_assert_int_eq(zmq_connect(sub, harness_stream(h)), 0);
    Codispatch__V1__Envelope req, *r = NULL;
    Codispatch__V1__CreateCall cc;
    char new_call[32] = "";
    /* Subscriptions travel asynchronously: take calls until one is seen on the stream. */
    bool seen = false;
    for (int attempt = 0; attempt < 20 && !seen; attempt++) {
        r = s_as(s_disp, s_create_req(&req, &cc), 5000);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        snprintf(new_call, sizeof new_call, "%s", r->call->call_id);
        cdc_envelope_free(r);
        s_note(s_disp, new_call); /* notes are free text about the caller: PII too */
        int mine_seen = 0;
        char topic[64];
        snprintf(topic, sizeof topic, "call.%s", new_call);
        for (;;) {
            zmq_msg_t parts[3];
            int n = 0;
            bool more = true, timeout = false;
            while (more && n < 3) {
                zmq_msg_init(&parts[n]);
                if (zmq_msg_recv(&parts[n], sub, 0) < 0) {
                    zmq_msg_close(&parts[n]);
                    timeout = true;
                    break;
                }
                more = zmq_msg_more(&parts[n]);
                n++;
            }
            if (timeout) {
                for (int i = 0; i < n; i++)
                    zmq_msg_close(&parts[i]);
                break;
            }
            for (int i = 0; i < n; i++) {
                ck_assert_ptr_null(memmem(zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]),
                                          PII_NAME, strlen(PII_NAME)));
                ck_assert_ptr_null(memmem(zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]),
                                          PII_PHONE, strlen(PII_PHONE)));
            }
            bool mine = zmq_msg_size(&parts[0]) == strlen(topic) &&
                        memcmp(zmq_msg_data(&parts[0]), topic, strlen(topic)) == 0;
            for (int i = 0; i < n; i++)
                zmq_msg_close(&parts[i]);
            if (mine && ++mine_seen == 2) { /* the call, then its note */
                seen = true;
                break;
            }
        }
    }
    ck_assert(seen);
    zmq_close(sub);
    zmq_ctx_term(ctx);

    /* The snapshot on the control socket. */
    Codispatch__V1__SnapshotRequest sr = CODISPATCH__V1__SNAPSHOT_REQUEST__INIT;
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT;
    req.snapshot = &sr;
    r = s_as(s_view, &req, 5000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY);
    ck_assert_uint_ge(r->snapshot_reply->n_calls, 2);
    for (size_t i = 0; i < r->snapshot_reply->n_calls; i++) {
        const Codispatch__V1__Call *c = r->snapshot_reply->calls[i];
        ck_assert(!c->caller_name || !*c->caller_name);
        ck_assert(!c->callback || !*c->callback);
    }
    size_t len = codispatch__v1__envelope__get_packed_size(r);
    uint8_t *buf = malloc(len);
    codispatch__v1__envelope__pack(r, buf);
    ck_assert_ptr_null(memmem(buf, len, PII_NAME, strlen(PII_NAME)));
    free(buf);
    cdc_envelope_free(r);

    /* HTTP: nothing without the token; with it, no PII. */
    char *resp;
    ck_assert_int_eq(s_get("/api/snapshot", NULL, &resp), 401);
    free(resp);
    ck_assert_int_eq(s_get("/api/snapshot", "not-the-token-0123456789", &resp), 401);
    free(resp);
    ck_assert_int_eq(s_get("/metrics", NULL, &resp), 401);
    free(resp);
    ck_assert_int_eq(s_get("/", NULL, &resp), 401);
    free(resp);
    ck_assert_int_eq(s_get("/healthz", NULL, &resp), 200);
    free(resp);
    ck_assert_int_eq(s_get("/api/snapshot", s_token, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, new_call));
    ck_assert_ptr_null(strstr(resp, PII_NAME));
    ck_assert_ptr_null(strstr(resp, PII_PHONE));
    free(resp);
    /* The dashboard's first visit with ?token= sets the cookie the WebSocket then carries. */
    char path[256];
    snprintf(path, sizeof path, "/?token=%s", s_token);
    ck_assert_int_eq(s_get(path, NULL, &resp), 200);
    ck_assert_ptr_nonnull(strstr(resp, "codispatch_token="));
    free(resp);
    ck_assert_int_ne(s_ws(NULL, &resp), 101);
    free(resp);
    ck_assert_int_eq(s_ws(s_token, &resp), 101);
    ck_assert_ptr_nonnull(strstr(resp, new_call)); /* the snapshot arrived */
    ck_assert_ptr_null(strstr(resp, PII_NAME));
    ck_assert_ptr_null(strstr(resp, PII_PHONE));
    free(resp);
}
END_TEST

/* A SUB on the stream for "call." with the keys in key_file; receives wait up to 300 ms. */
static void *s_call_sub(void *ctx, const char *key_file)
{
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(key_file, NULL, &k, err, sizeof err), CDC_OK);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0, rcv = 300;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_RCVTIMEO, &rcv, sizeof rcv);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "call.", 5);
    ck_assert_int_eq(cdc_keys_apply(sub, &k), CDC_OK);
    ck_assert_int_eq(zmq_connect(sub, harness_stream(h)), 0);
    return sub;
}

/* Reads what sub has (until a receive times out); true if a message's topic is call.<id>. */
static bool s_sub_saw(void *sub, const char *call_id)
{
    char topic[64];
    snprintf(topic, sizeof topic, "call.%s", call_id);
    bool saw = false;
    char buf[256];
    for (;;) {
        int n = zmq_recv(sub, buf, sizeof buf - 1, 0);
        if (n < 0)
            return saw;
        if ((size_t)n == strlen(topic) && memcmp(buf, topic, (size_t)n) == 0)
            saw = true;
        int more = 0;
        size_t sz = sizeof more;
        while (zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz) == 0 && more)
            zmq_recv(sub, buf, sizeof buf, 0);
    }
}

/* Takes calls as the dispatcher until sub sees one (bounded); returns whether it did. */
static bool s_sub_sees_a_new_call(void *sub, char *last_call, size_t cap)
{
    for (int attempt = 0; attempt < 30; attempt++) {
        Codispatch__V1__Envelope req, *r;
        Codispatch__V1__CreateCall cc;
        r = s_as(s_disp, s_create_req(&req, &cc), 5000);
        ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        snprintf(last_call, cap, "%s", r->call->call_id);
        cdc_envelope_free(r);
        if (s_sub_saw(sub, last_call))
            return true;
    }
    return false;
}

START_TEST(a_revoked_key_stops_at_its_next_message)
{
    char admin[300], path[300], args[600], *out = NULL;
    snprintf(admin, sizeof admin, "%s/admin.key_secret", s_keys);
    s_path(path, sizeof path, "temp.key_secret");
    snprintf(args, sizeof args, "keys add --role dispatcher --name temp --out %s", path);
    ck_assert_int_eq(s_cli(admin, args, &out), 0);
    free(out);
    cdc_keys_t k;
    char err[256];
    ck_assert_int_eq(cdc_keys_load(path, NULL, &k, err, sizeof err), CDC_OK);
    cdc_control_t *ctl = cdc_control_new_secure(harness_control(h), &k);
    cdc_control_set_retry_unavailable(ctl, false);
    Codispatch__V1__Envelope req, *r = NULL;
    Codispatch__V1__StatusRequest st;
    ck_assert_int_eq(cdc_control_call(ctl, s_status_req(&req, &st), 5000, &r), CDC_OK);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY);
    cdc_envelope_free(r);
    /* Its stream subscription, and a viewer's beside it. */
    void *ctx = zmq_ctx_new(), *sub_temp = s_call_sub(ctx, path),
         *sub_view = s_call_sub(ctx, s_view);
    char last[32];
    ck_assert(s_sub_sees_a_new_call(sub_temp, last, sizeof last));
    ck_assert(s_sub_sees_a_new_call(sub_view, last, sizeof last));
    ck_assert_int_eq(s_cli(admin, "keys revoke temp", &out), 0);
    free(out);
    /* Every subscriber was disconnected; the viewer is let back in, the revoked key is not. */
    ck_assert(s_sub_sees_a_new_call(sub_view, last, sizeof last));
    ck_assert(!s_sub_saw(sub_temp, last));
    s_sub_saw(sub_view, last); /* drain */
    ck_assert(s_sub_sees_a_new_call(sub_view, last, sizeof last));
    ck_assert(!s_sub_saw(sub_temp, last));
    zmq_close(sub_temp);
    zmq_close(sub_view);
    zmq_ctx_term(ctx);
    /* The open connection: refused at its next message. */
    ck_assert_int_eq(cdc_control_call(ctl, s_status_req(&req, &st), 5000, &r), CDC_OK);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__UNAUTHENTICATED);
    ck_assert_ptr_nonnull(strstr(r->error->message, "revoked"));
    cdc_envelope_free(r);
    cdc_control_destroy(&ctl);
    /* A new connection: no handshake. */
    ck_assert_ptr_null(s_as(path, s_status_req(&req, &st), 1500));
    /* Listed as revoked; the name stays taken. */
    ck_assert_int_eq(s_cli(admin, "--json keys list", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"temp\""));
    free(out);
    ck_assert_int_eq(s_cli(admin, "keys revoke temp", &out), 1);
    free(out);
    ck_assert_int_eq(
        harness_sql_count(h, "SELECT count(*) FROM keys WHERE name = 'temp' AND revoked_at IS NOT "
                             "NULL AND revoked_by = 'admin:admin'"),
        1);
}
END_TEST

START_TEST(every_action_has_its_actor)
{
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE kind = 'key.added' "
                                          "AND actor = 'system' AND payload->>'name' = 'admin'"),
                     1);
    ck_assert_int_ge(harness_sql_count(h, "SELECT count(*) FROM events WHERE kind = 'key.added' "
                                          "AND actor = 'admin:admin'"),
                     3);
    /* SU1 and SU2 at set-up, the long unit of the retry test. */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE kind = 'unit.added' "
                                          "AND actor = 'admin:admin'"),
                     3);
    ck_assert_int_ge(harness_sql_count(h, "SELECT count(*) FROM events WHERE kind = "
                                          "'call.created' AND actor = 'dispatcher:disp'"),
                     1);
    /* Nothing was done by an anonymous console while security was on. */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE actor = 'console'"),
                     0);
    /* Every event with a request id (a client's command) names a key. */
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE request_id IS NOT "
                                          "NULL AND actor NOT LIKE '%:%'"),
                     0);
}
END_TEST

/* Reports are aggregates with small cells suppressed: viewers may run them.  Demographics and
 * the export are caller data: dispatchers; exact positions in an export: admins only. */
START_TEST(report_roles)
{
    Codispatch__V1__Envelope req, *r;
    Codispatch__V1__ReportRequest rr = CODISPATCH__V1__REPORT_REQUEST__INIT;
    rr.kind = "response";
    rr.from = "2026-01-01";
    rr.to = "2026-12-31";
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REPORT;
    req.report = &rr;
    r = s_as(s_view, &req, 10000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY);
    cdc_envelope_free(r);
    r = s_as(s_unit, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    /* The CLI carries the key for reports too. */
    char *out = NULL;
    ck_assert_int_eq(s_cli(s_view, "report response --from 2026-01-01 --to 2026-12-31", &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "(all)"));
    free(out);

    Codispatch__V1__SetDemographics sd = CODISPATCH__V1__SET_DEMOGRAPHICS__INIT;
    sd.call_id = s_call;
    sd.gender = "declined";
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SET_DEMOGRAPHICS;
    req.set_demographics = &sd;
    req.request_id = "demographics-by-viewer";
    r = s_as(s_view, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    req.request_id = "demographics-by-dispatcher";
    r = s_as(s_disp, &req, 10000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS);
    cdc_envelope_free(r);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM demographics_requests WHERE "
                                          "request_id = 'demographics-by-dispatcher' AND "
                                          "actor = 'dispatcher:disp'"),
                     1);
    /* Its request id is the dispatcher's: another key resending it is refused, not answered. */
    r = harness_call(h, &req, 10000); /* the admin */
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__CONFLICT);
    cdc_envelope_free(r);
    r = s_as(s_disp, &req, 10000); /* the dispatcher's own retry: its first answer */
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_DEMOGRAPHICS);
    cdc_envelope_free(r);

    Codispatch__V1__ExportCalls ex = CODISPATCH__V1__EXPORT_CALLS__INIT;
    ex.from = "2026-01-01";
    ex.to = "2026-12-31";
    codispatch__v1__envelope__init(&req);
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_EXPORT_CALLS;
    req.export_calls = &ex;
    r = s_as(s_view, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    cdc_envelope_free(r);
    r = s_as(s_disp, &req, 10000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY);
    cdc_envelope_free(r);
    ex.has_with_locations = ex.with_locations = true;
    r = s_as(s_disp, &req, 5000);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__PERMISSION_DENIED);
    ck_assert_str_eq(r->error->field, "with_locations");
    cdc_envelope_free(r);
    r = harness_call(h, &req, 10000); /* the admin */
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_REPORT_REPLY);
    cdc_envelope_free(r);
}
END_TEST

/* The longest actor a unit key makes ("unit:" + a 32-byte unit id + "/" + a 32-byte key name)
 * behind "status_update@": the retry must still match the command it repeats. */
START_TEST(a_retry_from_the_longest_unit_key_gets_its_reply)
{
    const char *unit = "LONG-UNIT-0123456789-ABCDEFGHIJK";
    const char *name = "tablet.of.the.long-unit.01234567";
    ck_assert_int_eq((int)strlen(unit), 32);
    ck_assert_int_eq((int)strlen(name), 32);
    s_add_unit(unit);
    char path[300], admin[300], args[600], *out = NULL;
    s_path(path, sizeof path, "long.key_secret");
    snprintf(admin, sizeof admin, "%s/admin.key_secret", s_keys);
    snprintf(args, sizeof args, "keys add --role unit --name %s --unit %s --out %s", name, unit,
             path);
    ck_assert_int_eq(s_cli(admin, args, &out), 0);
    free(out);
    void *ctx = zmq_ctx_new();
    void *sock = s_tablet_socket(ctx, path, "long-unit-tablet");
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT, *r;
    Codispatch__V1__Hello hello = CODISPATCH__V1__HELLO__INIT;
    hello.unit_id = (char *)unit;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_HELLO;
    env.hello = &hello;
    r = s_unit_req(sock, &env, "long-hello");
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_WELCOME);
    codispatch__v1__envelope__free_unpacked(r, NULL);
    for (int attempt = 0; attempt < 2; attempt++) { /* the command, then its retry */
        r = s_out_of_service(sock, "long-status-1");
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(r->body_case == CODISPATCH__V1__ENVELOPE__BODY_UNIT, "attempt %d: %s",
                      attempt,
                      r->body_case == CODISPATCH__V1__ENVELOPE__BODY_ERROR ? r->error->message
                                                                           : "not a unit");
        ck_assert_str_eq(r->unit->unit_id, unit);
        codispatch__v1__envelope__free_unpacked(r, NULL);
    }
    zmq_close(sock);
    zmq_ctx_term(ctx);
    ck_assert_int_eq(harness_sql_count(h, "SELECT count(*) FROM events WHERE kind = 'unit.status' "
                                          "AND unit_id = 'LONG-UNIT-0123456789-ABCDEFGHIJK'"),
                     1);
}
END_TEST

START_TEST(request_ids_are_scoped_per_key)
{
    Codispatch__V1__Envelope req, *r;
    Codispatch__V1__CreateCall cc;
    s_create_req(&req, &cc);
    req.request_id = "shared-request-id-1";
    r = s_as(s_disp, &req, 5000);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
    r = harness_call(h, &req, 5000); /* the admin, same id: not the dispatcher's reply */
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__CONFLICT);
    cdc_envelope_free(r);
    r = s_as(s_disp, &req, 5000); /* the dispatcher's own retry: the original answer */
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
}
END_TEST

START_TEST(non_loopback_bind_needs_security_or_insecure)
{
    char cmd[1024], *out = NULL;
    /* Security off on a wildcard bind: refused before anything starts. */
    snprintf(cmd, sizeof cmd,
             "%s --data-dir %s/nokeys --security off --control tcp://0.0.0.0:1 2>&1; echo rc=$?",
             harness_bin("codispatchd"), harness_dir(h));
    harness_sh(cmd, &out);
    ck_assert_ptr_nonnull(strstr(out, "refusing to start"));
    ck_assert_ptr_nonnull(strstr(out, "--insecure"));
    ck_assert_ptr_nonnull(strstr(out, "rc=2"));
    free(out);
    /* auto (the default) on a wildcard bind turns security on, and there are no keys here. */
    snprintf(cmd, sizeof cmd, "%s --data-dir %s/nokeys --units tcp://*:1 2>&1; echo rc=$?",
             harness_bin("codispatchd"), harness_dir(h));
    harness_sh(cmd, &out);
    ck_assert_ptr_nonnull(strstr(out, "keys init"));
    ck_assert_ptr_nonnull(strstr(out, "rc=2"));
    free(out);
    /* --security nonsense is a usage error naming the flag. */
    snprintf(cmd, sizeof cmd, "%s --security maybe 2>&1; echo rc=$?", harness_bin("codispatchd"));
    harness_sh(cmd, &out);
    ck_assert_ptr_nonnull(strstr(out, "--security must be"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("security");
    TCase *tc = tcase_create("security");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, unknown_key_gets_no_connection);
    tcase_add_test(tc, status_names_the_key_and_role);
    tcase_add_test(tc, roles_are_enforced_on_the_control_socket);
    tcase_add_test(tc, a_unit_key_speaks_for_its_own_unit_only);
    tcase_add_test(tc, a_taken_over_route_does_not_carry_the_unit);
    tcase_add_test(tc, viewers_never_see_caller_pii);
    tcase_add_test(tc, a_revoked_key_stops_at_its_next_message);
    tcase_add_test(tc, request_ids_are_scoped_per_key);
    tcase_add_test(tc, a_retry_from_the_longest_unit_key_gets_its_reply);
    tcase_add_test(tc, report_roles);
    tcase_add_test(tc, every_action_has_its_actor);
    tcase_add_test(tc, non_loopback_bind_needs_security_or_insecure);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
