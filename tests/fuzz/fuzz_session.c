/*  fuzz_session.c — a sequence of requests on one engine, then a replay check.
 *
 *  The input is up to 32 records: [who][length: 2 bytes, little-endian][frame].  `who` picks
 *  the sender (low two bits: the console, or the tablet of MH-1, VAN-1 or SOB-1) and moves
 *  the clock (the other six bits, times 15 s; the engine's timers then run, as the server's
 *  deadline timer would).  Each frame goes through wire_decode and the server's request
 *  code like fuzz_envelope, but the state carries over, so acks, status changes, timeouts,
 *  re-offers and closes happen in the orders a fuzzer can think of.
 *
 *  At the end, every event (the seed's and the session's) is turned into JSON text and back,
 *  as PostgreSQL stores it, and replayed into a fresh engine: the state must be identical,
 *  or a restart would load something other than what clients were told.
 */
#include "fuzz_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 32

static void s_replay_check(const cd_engine_t *live, const cd_event_log_t *log)
{
    cd_engine_t *fresh = cd_engine_new();
    fz_reference(fresh);
    for (size_t i = 0; i < log->len; i++) {
        char *text = cJSON_PrintUnformatted(log->items[i].payload);
        cd_event_t ev = log->items[i];
        ev.payload = cJSON_Parse(text);
        if (!ev.payload) {
            fprintf(stderr, "event %lld (%s): its JSON does not parse back: %s\n",
                    (long long)ev.seq, cd_event_kind_name(ev.kind), text);
            abort();
        }
        cd_error_t err;
        if (cd_engine_apply(fresh, &ev, &err) != CD_OK) {
            fprintf(stderr, "replay of event %lld (%s) fails: %s\n%s\n", (long long)ev.seq,
                    cd_event_kind_name(ev.kind), err.message, text);
            abort();
        }
        free(text);
        cJSON_Delete(ev.payload);
    }
    cJSON *a = cd_engine_state_json(live), *b = cd_engine_state_json(fresh);
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    if (strcmp(sa, sb) != 0) {
        size_t i = 0;
        while (sa[i] == sb[i])
            i++;
        size_t from = i > 160 ? i - 160 : 0;
        fprintf(stderr, "replayed state differs at byte %zu:\nlive:   %.320s\nreplay: %.320s\n", i,
                sa + from, sb + from);
        abort();
    }
    free(sa);
    free(sb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cd_engine_destroy(&fresh);
}

/* The events recorded since the last take: rendered as the server would, then kept. */
static void s_take(server_t *server, cd_event_log_t *all)
{
    cd_event_log_t log = {0};
    cd_engine_take_events(server->engine, &log);
    fz_render(server, &log);
    cd_event_log_move(all, &log);
    cd_event_log_release(&log);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const units[] = {NULL, "MH-1", "VAN-1", "SOB-1"};
    fz_now = T0 + 60000;
    cd_event_log_t all = {0};
    server_t server;
    memset(&server, 0, sizeof server);
    server.engine = fz_seed(&all);
    size_t pos = 0;
    for (int rec = 0; rec < MAX_RECORDS && pos + 3 <= size; rec++) {
        uint8_t who = data[pos];
        size_t n = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        pos += 3;
        if (n > size - pos)
            n = size - pos;
        const uint8_t *frame = data + pos;
        pos += n;

        fz_now += (int64_t)(who >> 2) * 15000;
        cd_ctx_t tick = {.now_ms = fz_now, .actor = "system", .request_id = NULL};
        cd_engine_tick(server.engine, &tick);
        s_take(&server, &all);

        char rid[CD_REQUEST_ID_MAX + 1];
        cd_error_t err;
        size_t len;
        wire_env_t *env = wire_decode(frame, n, rid, &err);
        if (!env) {
            fz_check_error(&err);
            continue;
        }
        const char *unit = units[who & 3];
        if (!unit && wire_is_tablet_body(env))
            unit = "MH-1"; /* the console cannot send tablet bodies: MH-1 does */
        if (unit && !wire_is_tablet_body(env))
            unit = NULL; /* and a tablet's control body is refused by units.c first */
        uint8_t *buf = NULL;
        int rc = fz_execute(&server, env, unit ? unit : "MH-1", &buf, &len, &err);
        if (rc != CD_OK)
            fz_check_error(&err);
        else if (buf)
            fz_check_packed(buf, len);
        s_take(&server, &all);
        wire_free(env);
    }
    s_replay_check(server.engine, &all);
    cd_event_log_release(&all);
    cd_engine_destroy(&server.engine);
    return 0;
}
