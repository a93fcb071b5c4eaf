/*  fuzz_envelope.c — one frame as the server receives it on the control or units socket.
 *
 *  The input is the frame.  It goes through wire_decode (size, protobuf, version, request id,
 *  body), then through the server's own request code (control_exec.c, compiled in): every
 *  body's conversion (wire_call_input, wire_add_unit_input, wire_plan_from_pb, ...) and
 *  validation by a real engine seeded with a small roster, a plan, a call and an offer, so
 *  ack/decline/status reach their deeper checks.  Tablet bodies run as unit MH-1.  Replies and
 *  error replies are packed and decoded again.
 *
 *  Properties checked besides ASan/UBSan/leaks: a refused frame or command always has a
 *  sentence; an INVALID_ARGUMENT always names its field; every reply we pack decodes.
 */
#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char rid[CD_REQUEST_ID_MAX + 1];
    cd_error_t err;
    size_t len;
    wire_env_t *env = wire_decode(data, size, rid, &err);
    if (!env) {
        if (getenv("FUZZ_VERBOSE"))
            fprintf(stderr, "undecodable: %s\n", err.message);
        fz_check_error(&err);
        fz_check_packed(wire_pack_error(rid, 0, &err, &len), len);
        return 0;
    }
    (void)wire_body_name(env);
    server_t server;
    memset(&server, 0, sizeof server);
    server.engine = fz_seed(NULL);
    uint8_t *buf = NULL;
    int rc = fz_execute(&server, env, "MH-1", &buf, &len, &err);
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "%s: %s %s\n", wire_body_name(env), rc == CD_OK ? "ok" : cd_code_name(rc),
                rc == CD_OK ? "" : err.message);
    if (rc != CD_OK) {
        fz_check_error(&err);
        fz_check_packed(wire_pack_error(env->request_id, 0, &err, &len), len);
    } else if (buf) {
        fz_check_packed(buf, len);
    }
    cd_event_log_t log = {0};
    cd_engine_take_events(server.engine, &log);
    fz_render(&server, &log);
    cd_event_log_release(&log);
    cd_engine_destroy(&server.engine);
    wire_free(env);
    return 0;
}
