/* Unit tests: envelope decoding and reply encoding (src/wire/wire.c). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static uint8_t *s_pack(Codispatch__V1__Envelope *env, size_t *len)
{
    *len = codispatch__v1__envelope__get_packed_size(env);
    uint8_t *buf = malloc(*len ? *len : 1);
    codispatch__v1__envelope__pack(env, buf);
    return buf;
}

static void s_expect_refusal(const void *buf, size_t len, int code, const char *field,
                             const char *needle)
{
    char rid[CD_REQUEST_ID_MAX + 1];
    cd_error_t err;
    wire_env_t *env = wire_decode(buf, len, rid, &err);
    ck_assert_ptr_null(env);
    ck_assert_int_eq(err.code, code);
    ck_assert_str_eq(err.field, field);
    ck_assert_msg(strstr(err.message, needle), "'%s' lacks '%s'", err.message, needle);
}

START_TEST(valid_request_decodes)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__GetCall m = CODISPATCH__V1__GET_CALL__INIT;
    m.call_id = "C-000001";
    env.has_version = true;
    env.version = 1;
    env.request_id = "abc";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_GET_CALL;
    env.get_call = &m;
    size_t len;
    uint8_t *buf = s_pack(&env, &len);
    char rid[CD_REQUEST_ID_MAX + 1];
    cd_error_t err;
    wire_env_t *got = wire_decode(buf, len, rid, &err);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(rid, "abc");
    ck_assert_str_eq(wire_body_name(got), "get_call");
    ck_assert_str_eq(got->get_call->call_id, "C-000001");
    wire_free(got);
    free(buf);
}
END_TEST

START_TEST(garbage_oversize_and_empty_are_refused)
{
    const char garbage[] = "\xff\xff\xff\xff not protobuf";
    s_expect_refusal(garbage, sizeof garbage, CD_EINVAL, "envelope", "not a valid protobuf");
    s_expect_refusal("", 0, CD_EINVAL, "envelope", "empty message");
    size_t big = WIRE_MAX_MESSAGE + 1;
    uint8_t *buf = calloc(1, big);
    s_expect_refusal(buf, big, CD_EINVAL, "envelope", "the limit is 65536 bytes");
    free(buf);
}
END_TEST

START_TEST(version_request_id_and_body_are_checked)
{
    Codispatch__V1__Envelope env = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
    env.status = &st;
    env.request_id = "r";
    size_t len;
    uint8_t *buf;

    env.has_version = true;
    env.version = 7;
    buf = s_pack(&env, &len);
    s_expect_refusal(buf, len, CD_EVERSION, "version", "version 7 is not supported");
    free(buf);

    env.version = 1;
    env.request_id = "has space";
    buf = s_pack(&env, &len);
    s_expect_refusal(buf, len, CD_EINVAL, "request_id", "printable ASCII");
    free(buf);

    env.request_id = NULL;
    buf = s_pack(&env, &len);
    s_expect_refusal(buf, len, CD_EINVAL, "request_id", "request_id is required");
    free(buf);

    env.request_id = "r";
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY__NOT_SET;
    buf = s_pack(&env, &len);
    s_expect_refusal(buf, len, CD_EINVAL, "body", "no body");
    free(buf);

    Codispatch__V1__Error e = CODISPATCH__V1__ERROR__INIT;
    env.body_case = CODISPATCH__V1__ENVELOPE__BODY_ERROR;
    env.error = &e;
    buf = s_pack(&env, &len);
    s_expect_refusal(buf, len, CD_EINVAL, "body", "is a reply, not a request");
    free(buf);
}
END_TEST

/* A body number this server does not know decodes as "no body". */
START_TEST(unknown_body_is_refused)
{
    /* field 1 (version) = 1, field 2 (request_id) = "r", field 90 (unknown) = empty message */
    const uint8_t raw[] = {0x08, 0x01, 0x12, 0x01, 'r', 0xd2, 0x05, 0x00};
    s_expect_refusal(raw, sizeof raw, CD_EINVAL, "body", "does not know");
}
END_TEST

START_TEST(call_reply_hides_pii_when_asked)
{
    cd_call_t *c = cd_call_new();
    strcpy(c->id, "C-000042");
    strcpy(c->type, "substance");
    c->priority = 1;
    c->status = CD_CALL_PENDING;
    c->risk = CD_RISK_MEDICAL;
    cd_call_set_text(&c->caller_name, "Sam");
    strcpy(c->callback, "555 0100");
    for (int pii = 0; pii <= 1; pii++) {
        size_t len;
        uint8_t *buf = wire_pack_call("r9", 12, c, pii, &len);
        Codispatch__V1__Envelope *env = codispatch__v1__envelope__unpack(NULL, len, buf);
        ck_assert_ptr_nonnull(env);
        ck_assert_str_eq(env->request_id, "r9");
        ck_assert_int_eq(env->seq, 12);
        ck_assert_int_eq(env->body_case, CODISPATCH__V1__ENVELOPE__BODY_CALL);
        ck_assert_str_eq(env->call->call_id, "C-000042");
        ck_assert(env->call->medical && !env->call->weapon);
        ck_assert_int_eq(env->call->status, CODISPATCH__V1__CALL_STATUS__CALL_PENDING);
        if (pii) {
            ck_assert_str_eq(env->call->caller_name, "Sam");
            ck_assert_str_eq(env->call->callback, "555 0100");
        } else {
            ck_assert_ptr_null(env->call->caller_name);
            ck_assert_ptr_null(env->call->callback);
        }
        codispatch__v1__envelope__free_unpacked(env, NULL);
        free(buf);
    }
    cd_call_destroy(&c);
}
END_TEST

START_TEST(error_codes_map_both_ways)
{
    for (int c = CD_EINVAL; c >= CD_EINTERNAL; c--)
        ck_assert_int_eq(wire_cd_code(wire_code(c)), c);
    cd_error_t err;
    cd_error_set(&err, CD_EBUSY, "", "queue full");
    size_t len;
    uint8_t *buf = wire_pack_error("x", 3, &err, &len);
    Codispatch__V1__Envelope *env = codispatch__v1__envelope__unpack(NULL, len, buf);
    ck_assert_int_eq(env->error->code, CODISPATCH__V1__CODE__BUSY);
    ck_assert_str_eq(env->error->message, "queue full");
    ck_assert_ptr_null(env->error->field);
    codispatch__v1__envelope__free_unpacked(env, NULL);
    free(buf);
}
END_TEST

/* A packed StreamChange gets committed_us appended at its commit, in the room left for it;
 * the longest varint (a negative number: ten bytes) must fit too, which ASan would catch. */
START_TEST(changes_are_stamped_at_commit)
{
    cd_engine_t *e = cd_engine_new();
    const int64_t stamps[] = {1795465668564123, -1, INT64_MIN};
    for (size_t i = 0; i < sizeof stamps / sizeof stamps[0]; i++) {
        size_t len;
        uint8_t *pb = wire_pack_stats(7, e, 1795465668000, &len);
        size_t stamped = wire_stamp_change(pb, len, stamps[i]);
        ck_assert_uint_gt(stamped, len);
        ck_assert_uint_le(stamped, len + WIRE_STAMP_MAX);
        Codispatch__V1__StreamChange *c = codispatch__v1__stream_change__unpack(NULL, stamped, pb);
        ck_assert_ptr_nonnull(c);
        ck_assert_uint_eq(c->seq, 7); /* the rest is as packed */
        ck_assert_str_eq(c->kind, "stats");
        ck_assert_int_eq(c->at_ms, 1795465668000);
        ck_assert_ptr_nonnull(c->stats);
        ck_assert(c->has_committed_us);
        ck_assert_int_eq(c->committed_us, stamps[i]);
        codispatch__v1__stream_change__free_unpacked(c, NULL);
        free(pb);
    }
    cd_engine_destroy(&e);
    char *j = wire_json_stamp("{\"type\":\"change\",\"seq\":3}", 1795465668564123);
    ck_assert_str_eq(j, "{\"type\":\"change\",\"seq\":3,\"committed_us\":1795465668564123}");
    free(j);
    j = wire_json_stamp("{}", 5);
    ck_assert_str_eq(j, "{\"committed_us\":5}");
    free(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("envelope");
    tcase_add_test(tc, valid_request_decodes);
    tcase_add_test(tc, garbage_oversize_and_empty_are_refused);
    tcase_add_test(tc, version_request_id_and_body_are_checked);
    tcase_add_test(tc, unknown_body_is_refused);
    tcase_add_test(tc, call_reply_hides_pii_when_asked);
    tcase_add_test(tc, error_codes_map_both_ways);
    tcase_add_test(tc, changes_are_stamped_at_commit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
