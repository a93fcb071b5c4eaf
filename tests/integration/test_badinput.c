/* Integration: malformed, oversized, unknown and invalid messages get an Error naming what is
 * wrong, and the server keeps serving everyone else. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "harness.h"

static harness_t *h;

static void suite_setup(void)
{
    h = harness_new();
    ck_assert_int_eq(harness_start_server(h), 0);
}

static void suite_teardown(void)
{
    ck_assert_int_eq(harness_stop_server(h, SIGTERM), 0);
    harness_destroy(&h);
}

/* The server still answers a well-formed request from someone else. */
static void s_still_serving(void)
{
    Codispatch__V1__Envelope *r = harness_create_call(h, NULL, "other", 4, 34, -118);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
    cdc_envelope_free(r);
}

/* Sends one raw frame and returns the decoded Error reply. */
static Codispatch__V1__Envelope *s_raw_one(const void *data, size_t len)
{
    const void *frames[] = {data};
    size_t lens[] = {len}, rlen = 0;
    void *raw = harness_raw(h, frames, lens, 1, &rlen, 5000);
    ck_assert_msg(raw != NULL, "no reply to a bad frame");
    Codispatch__V1__Envelope *env = codispatch__v1__envelope__unpack(NULL, rlen, raw);
    free(raw);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->body_case, CODISPATCH__V1__ENVELOPE__BODY_ERROR);
    return env;
}

static void s_expect(Codispatch__V1__Envelope *env, int code, const char *field, const char *needle)
{
    ck_assert_int_eq(env->error->code, code);
    if (field)
        ck_assert_str_eq(env->error->field ? env->error->field : "", field);
    ck_assert_msg(env->error->message && strstr(env->error->message, needle), "'%s' lacks '%s'",
                  env->error->message, needle);
    cdc_envelope_free(env);
}

static uint8_t *s_pack(Codispatch__V1__Envelope *env, size_t *len)
{
    *len = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len + 1);
    codispatch__v1__envelope__pack(env, buf);
    return buf;
}

START_TEST(garbage_frame)
{
    const char junk[] = "\x0a\xff\xff\xff\xff\x0f this is not protobuf";
    s_expect(s_raw_one(junk, sizeof junk), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "envelope",
             "not a valid protobuf Envelope");
    s_still_serving();
}
END_TEST

START_TEST(oversized_frame)
{
    size_t n = 100 * 1024;
    char *big = malloc(n);
    memset(big, 'x', n);
    s_expect(s_raw_one(big, n), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "envelope",
             "the limit is 65536 bytes");
    free(big);
    s_still_serving();
}
END_TEST

START_TEST(wrong_version_unknown_body_missing_request_id)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    env.has_version = true;
    env.version = 2;
    env.request_id = "v2";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    env.status = &st;
    size_t len;
    uint8_t *buf = s_pack(&env, &len);
    Codispatch__V1__Envelope *r = s_raw_one(buf, len);
    ck_assert_str_eq(r->request_id, "v2"); /* the error still names the request */
    s_expect(r, CODISPATCH__V1__CODE__UNSUPPORTED_VERSION, "version", "version 2");
    free(buf);

    const uint8_t unknown[] = {0x08, 0x01, 0x12, 0x01, 'u', 0xd2, 0x05, 0x00};
    s_expect(s_raw_one(unknown, sizeof unknown), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "body",
             "does not know");

    env.version = 1;
    env.request_id = "";
    buf = s_pack(&env, &len);
    s_expect(s_raw_one(buf, len), CODISPATCH__V1__CODE__INVALID_ARGUMENT, "request_id",
             "request_id is required");
    free(buf);
    s_still_serving();
}
END_TEST

START_TEST(too_many_frames)
{
    const void *frames[] = {"a", "b", "c"};
    size_t lens[] = {1, 1, 1}, rlen;
    void *raw = harness_raw(h, frames, lens, 3, &rlen, 5000);
    ck_assert_ptr_nonnull(raw);
    Codispatch__V1__Envelope *env = codispatch__v1__envelope__unpack(NULL, rlen, raw);
    free(raw);
    s_expect(env, CODISPATCH__V1__CODE__INVALID_ARGUMENT, "envelope", "one frame");
    s_still_serving();
}
END_TEST

/* Each bad field of CreateCall is refused by name, and nothing is stored. */
START_TEST(bad_call_fields)
{
    struct {
        const char *type;
        uint32_t priority;
        double lat;
        const char *summary;
        const char *field, *needle;
    } cases[] = {
        {"mental_health", 9, 34, NULL, "priority", "between 1 (highest) and 4; got 9"},
        {"mental_health", 2, 200, NULL, "lat", "between -90 and 90; got 200"},
        {"ufo", 2, 34, NULL, "type", "'ufo' is not a known call type"},
        {"", 2, 34, NULL, "type", "type is required"},
        {"mental_health", 2, 34, "bad \xff\xfe utf8", "summary", "UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
        Codispatch__V1__CreateCall m = CODISPATCH__V1__CREATE_CALL__INIT;
        m.type = (char *)cases[i].type;
        m.has_priority = m.has_lat = m.has_lon = true;
        m.priority = cases[i].priority;
        m.lat = cases[i].lat;
        m.lon = -118;
        m.summary = (char *)cases[i].summary;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_CREATE_CALL;
        req.create_call = &m;
        Codispatch__V1__Envelope *r = harness_call(h, &req, 5000);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
        s_expect(r, CODISPATCH__V1__CODE__INVALID_ARGUMENT, cases[i].field, cases[i].needle);
    }
    s_still_serving();
}
END_TEST

/* A frame past ZeroMQ's hard limit (1 MiB) makes ZeroMQ drop that peer; nobody else notices. */
START_TEST(huge_frame_drops_only_that_peer)
{
    size_t n = 2 * 1024 * 1024, rlen;
    char *big = calloc(1, n);
    const void *frames[] = {big};
    size_t lens[] = {n};
    void *raw = harness_raw(h, frames, lens, 1, &rlen, 1000);
    ck_assert_ptr_null(raw);
    free(big);
    s_still_serving();
}
END_TEST

/* One peer floods garbage; another's request is still answered, and every garbage message
 * got its error. */
START_TEST(flood_does_not_starve_others)
{
    enum { FLOOD = 3000 };
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(s, harness_control(h));
    for (int i = 0; i < FLOOD; i++)
        zmq_send(s, "\xff\xff\xff", 3, 0);
    s_still_serving();
    int errors = 0;
    Codispatch__V1__Envelope *env;
    while (errors < FLOOD && (env = harness_recv_reply(s, 5000)) != NULL) {
        ck_assert_int_eq(harness_error_code(env), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
        cdc_envelope_free(env);
        errors++;
    }
    ck_assert_int_eq(errors, FLOOD);
    zmq_close(s);
    zmq_ctx_term(ctx);
}
END_TEST

/* A REQ socket (which adds an empty delimiter frame) is answered the same way. */
START_TEST(req_socket_is_answered)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_REQ);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, harness_control(h));
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    env.has_version = true;
    env.version = 1;
    env.request_id = "req-1";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    env.status = &st;
    size_t len;
    uint8_t *buf = s_pack(&env, &len);
    zmq_send(s, buf, len, 0);
    free(buf);
    Codispatch__V1__Envelope *r = harness_recv_reply(s, 5000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->body_case, CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY);
    ck_assert_str_eq(r->request_id, "req-1");
    cdc_envelope_free(r);
    zmq_close(s);
    zmq_ctx_term(ctx);
}
END_TEST

/* The refusals_total series for one socket, code and field. */
static double s_refusals(const char *socket, const char *code, const char *field)
{
    char series[256];
    snprintf(series, sizeof series,
             "codispatch_refusals_total{socket=\"%s\",code=\"%s\",field=\"%s\"}", socket, code,
             field);
    double v = harness_scrape(h, series);
    ck_assert_msg(v >= 0, "/metrics did not answer");
    return v;
}

/* One raw frame to the units endpoint; returns the Error reply. */
static Codispatch__V1__Envelope *s_units_raw(const void *data, size_t len)
{
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_connect(s, harness_units(h));
    zmq_send(s, data, len, 0);
    Codispatch__V1__Envelope *env = harness_recv_reply(s, 5000);
    zmq_close(s);
    zmq_ctx_term(ctx);
    ck_assert_ptr_nonnull(env);
    ck_assert_int_eq(env->body_case, CODISPATCH__V1__ENVELOPE__BODY_ERROR);
    return env;
}

/* Every refusal is counted in /metrics by socket, code and field: undecodable, oversized,
 * multi-frame, wrong version, no body, a bad field, both sockets, and bad HTTP queries. */
START_TEST(refusals_are_counted)
{
    double garbage0 = s_refusals("control", "INVALID_ARGUMENT", "envelope");
    double version0 = s_refusals("control", "UNSUPPORTED_VERSION", "version");
    double body0 = s_refusals("control", "INVALID_ARGUMENT", "body");
    double type0 = s_refusals("control", "INVALID_ARGUMENT", "type");
    double units_env0 = s_refusals("units", "INVALID_ARGUMENT", "envelope");
    double units_auth0 = s_refusals("units", "UNAUTHENTICATED", "unit_id");
    double query0 = s_refusals("http", "INVALID_ARGUMENT", "query");
    double path0 = s_refusals("http", "NOT_FOUND", "path");

    /* Control: undecodable, oversized (64 KiB < n < 1 MiB) and three frames: "envelope". */
    const char junk[] = "\xff\xff\xff";
    cdc_envelope_free(s_raw_one(junk, 3));
    size_t big_n = 100 * 1024;
    char *big = calloc(1, big_n);
    cdc_envelope_free(s_raw_one(big, big_n));
    free(big);
    const void *frames[] = {"a", "b", "c"};
    size_t lens[] = {1, 1, 1}, rlen;
    free(harness_raw(h, frames, lens, 3, &rlen, 5000));
    /* Wrong version; no body. */
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    env.has_version = true;
    env.version = 7;
    env.request_id = "count-v7";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    env.status = &st;
    size_t len;
    uint8_t *buf = s_pack(&env, &len);
    cdc_envelope_free(s_raw_one(buf, len));
    free(buf);
    env.version = 1;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY__NOT_SET;
    buf = s_pack(&env, &len);
    cdc_envelope_free(s_raw_one(buf, len));
    free(buf);
    /* A bad field of a command. */
    Codispatch__V1__Envelope *r = harness_create_call(h, NULL, "Not A Type", 3, 34, -118);
    ck_assert_int_eq(harness_error_code(r), CODISPATCH__V1__CODE__INVALID_ARGUMENT);
    cdc_envelope_free(r);
    /* Units: garbage, and a tablet request before Hello. */
    cdc_envelope_free(s_units_raw(junk, 3));
    Codispatch__V1__Ack ack = CODISPATCH__V1__ACK__INIT;
    env.request_id = "count-ack";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ACK;
    env.ack = &ack;
    buf = s_pack(&env, &len);
    Codispatch__V1__Envelope *e = s_units_raw(buf, len);
    ck_assert_int_eq(e->error->code, CODISPATCH__V1__CODE__UNAUTHENTICATED);
    cdc_envelope_free(e);
    free(buf);
    /* HTTP: a malformed query (a parameter named twice, one without a name) and a 404. */
    char *body;
    ck_assert_int_eq(harness_http_get(h, "/metrics?a=1&a=2", &body), 400);
    ck_assert_msg(strstr(body, "a is given more than once"), "400 body: %s", body);
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/healthz?=x", &body), 400);
    ck_assert_msg(strstr(body, "no name"), "400 body: %s", body);
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/no-such-page", &body), 404);
    free(body);
    ck_assert_int_eq(harness_http_get(h, "/healthz?from=1&limit=10", &body), 200);
    free(body);

    ck_assert_double_eq(s_refusals("control", "INVALID_ARGUMENT", "envelope"), garbage0 + 3);
    ck_assert_double_eq(s_refusals("control", "UNSUPPORTED_VERSION", "version"), version0 + 1);
    ck_assert_double_eq(s_refusals("control", "INVALID_ARGUMENT", "body"), body0 + 1);
    ck_assert_double_eq(s_refusals("control", "INVALID_ARGUMENT", "type"), type0 + 1);
    ck_assert_double_eq(s_refusals("units", "INVALID_ARGUMENT", "envelope"), units_env0 + 1);
    ck_assert_double_eq(s_refusals("units", "UNAUTHENTICATED", "unit_id"), units_auth0 + 1);
    ck_assert_double_eq(s_refusals("http", "INVALID_ARGUMENT", "query"), query0 + 2);
    ck_assert_double_eq(s_refusals("http", "NOT_FOUND", "path"), path0 + 1);
    s_still_serving();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("badinput");
    TCase *tc = tcase_create("badinput");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, garbage_frame);
    tcase_add_test(tc, oversized_frame);
    tcase_add_test(tc, wrong_version_unknown_body_missing_request_id);
    tcase_add_test(tc, too_many_frames);
    tcase_add_test(tc, bad_call_fields);
    tcase_add_test(tc, huge_frame_drops_only_that_peer);
    tcase_add_test(tc, flood_does_not_starve_others);
    tcase_add_test(tc, req_socket_is_answered);
    tcase_add_test(tc, refusals_are_counted);
    suite_add_tcase(s, tc);
    return harness_run_suite(s);
}
