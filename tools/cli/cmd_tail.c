/*  cmd_tail.c — `codispatch tail`: follow the live stream (the ZeroMQ guide's Clone pattern).
 *
 *  Subscribe first, then take a snapshot over the control socket; stream messages at or below
 *  the snapshot's seq are already in it and are dropped, the rest are printed.  When every
 *  topic is followed, seqs arrive one by one, so a jump means messages were lost (a slow
 *  subscriber past the server's high-water mark): print that and take a new snapshot.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "cli.h"

static const char *const USAGE =
    "codispatch tail [--topic PREFIX] [--stream-endpoint EP] [--max N]\n"
    "  PREFIX: call. | unit. | alert. | plan. | call.C-000123 ...";

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* The snapshot; returns CLI_OK and its seq, having printed its summary. */
static int s_snapshot(const cli_t *cli, uint64_t *seq, char *stream, size_t cap, bool want_ep)
{
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__Envelope *reply;
    int rc;
    if (want_ep) {
        Codispatch__V1__StatusRequest st = CODISPATCH__V1__STATUS_REQUEST__INIT;
        req.body_case = CODISPATCH__V1__ENVELOPE__BODY_STATUS;
        req.status = &st;
        if ((rc = cli_request(cli, &req, &reply)) != CLI_OK)
            return rc;
        if (reply->body_case == CODISPATCH__V1__ENVELOPE__BODY_STATUS_REPLY &&
            reply->status_reply->stream_endpoint)
            snprintf(stream, cap, "%s", reply->status_reply->stream_endpoint);
        cdc_envelope_free(reply);
        return CLI_OK;
    }
    Codispatch__V1__SnapshotRequest sr = CODISPATCH__V1__SNAPSHOT_REQUEST__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT;
    req.snapshot = &sr;
    req.request_id = NULL;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT_REPLY,
                                 &reply)) != CLI_OK)
        return rc;
    const Codispatch__V1__Snapshot *s = reply->snapshot_reply;
    *seq = s->seq;
    size_t available = 0, pending = 0;
    for (size_t i = 0; i < s->n_units; i++)
        available += s->units[i]->status == CODISPATCH__V1__UNIT_STATUS__UNIT_AVAILABLE;
    for (size_t i = 0; i < s->n_calls; i++)
        pending += s->calls[i]->status == CODISPATCH__V1__CALL_STATUS__CALL_PENDING;
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "snapshot");
        cJSON_AddNumberToObject(o, "seq", (double)s->seq);
        cJSON_AddNumberToObject(o, "units", (double)s->n_units);
        cJSON_AddNumberToObject(o, "units_available", (double)available);
        cJSON_AddNumberToObject(o, "open_calls", (double)s->n_calls);
        cJSON_AddNumberToObject(o, "pending_calls", (double)pending);
        cJSON_AddNumberToObject(o, "alerts", (double)s->n_alerts);
        cli_print_json(o);
    } else {
        printf("snapshot at seq %llu: %zu units (%zu available), %zu open calls (%zu pending), "
               "%zu active alerts\n",
               (unsigned long long)s->seq, s->n_units, available, s->n_calls, pending, s->n_alerts);
    }
    fflush(stdout);
    cdc_envelope_free(reply);
    return CLI_OK;
}

/* One line per change. */
static void s_print_change(const cli_t *cli, const char *topic, uint64_t seq,
                           const Codispatch__V1__StreamChange *c)
{
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "change");
        cJSON_AddNumberToObject(o, "seq", (double)seq);
        cJSON_AddNumberToObject(o, "at_ms", (double)c->at_ms);
        if (c->has_committed_us)
            cJSON_AddNumberToObject(o, "committed_us", (double)c->committed_us);
        cJSON_AddStringToObject(o, "topic", topic);
        cJSON_AddStringToObject(o, "kind", c->kind ? c->kind : "");
        if (c->call) {
            cJSON_AddStringToObject(o, "call_id", c->call->call_id);
            cJSON_AddStringToObject(o, "call_status", cdc_call_status_name(c->call->status));
        }
        if (c->unit) {
            cJSON_AddStringToObject(o, "unit_id", c->unit->unit_id);
            cJSON_AddStringToObject(o, "unit_status", cli_unit_status_name(c->unit->status));
        }
        if (c->alert)
            cJSON_AddStringToObject(o, "alert", c->alert->message ? c->alert->message : "");
        cli_print_json(o);
        fflush(stdout);
        return;
    }
    char when[16] = "--:--:--";
    time_t t = (time_t)(c->at_ms / 1000);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%H:%M:%S", &tm);
    char what[256] = "";
    if (c->alert)
        snprintf(what, sizeof what, "%s", c->alert->message ? c->alert->message : "");
    else if (c->call && c->unit)
        snprintf(what, sizeof what, "%s is %s; call %s", c->unit->unit_id,
                 cli_unit_status_name(c->unit->status), cdc_call_status_name(c->call->status));
    else if (c->call)
        snprintf(what, sizeof what, "%s P%u %s", c->call->type, c->call->priority,
                 cdc_call_status_name(c->call->status));
    else if (c->unit)
        snprintf(what, sizeof what, "%s %s", c->unit->type, cli_unit_status_name(c->unit->status));
    else if (c->has_alert_cleared)
        snprintf(what, sizeof what, "alert %llu cleared", (unsigned long long)c->alert_cleared);
    printf("%8llu  %s  %-22s %-24s %s\n", (unsigned long long)seq, when, topic,
           c->kind ? c->kind : "", what);
    fflush(stdout);
}

int cmd_tail(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("topic"), CLI_OPT("stream-endpoint"), CLI_OPT("max")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), pos, 0, &npos, USAGE);
    if (rc)
        return rc;
    const char *topic = cli_val(o, CLI_N(o), "topic");
    long max = 0;
    if (cli_val(o, CLI_N(o), "max") &&
        (!cli_parse_long(cli_val(o, CLI_N(o), "max"), &max) || max < 1))
        return cli_usage_error(USAGE, "--max must be a positive number of changes");
    char stream[256] = "";
    if (cli_val(o, CLI_N(o), "stream-endpoint"))
        snprintf(stream, sizeof stream, "%s", cli_val(o, CLI_N(o), "stream-endpoint"));
    else if ((rc = s_snapshot(cli, NULL, stream, sizeof stream, true)) != CLI_OK)
        return rc;
    if (!stream[0]) {
        fprintf(stderr, "codispatch: the server did not say where its stream is; give "
                        "--stream-endpoint\n");
        return CLI_UNREACHABLE;
    }
    void *ctx = zmq_ctx_new(), *sub = zmq_socket(ctx, ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic ? topic : "", topic ? strlen(topic) : 0);
    if (cli_keys(cli))
        cdc_keys_apply(sub, cli_keys(cli));
    if (zmq_connect(sub, stream) != 0) {
        zmq_close(sub);
        zmq_ctx_term(ctx);
        return cli_usage_error(USAGE, "cannot connect to the stream at '%s'", stream);
    }
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    uint64_t last = 0;
    /* Subscribed first, so nothing between the snapshot and the first message is missed. */
    if ((rc = s_snapshot(cli, &last, NULL, 0, false)) != CLI_OK)
        goto out;
    long shown = 0;
    while (!s_stop && (!max || shown < max)) {
        zmq_pollitem_t it = {.socket = sub, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, 500) <= 0)
            continue;
        /* A change is three frames: the topic, the seq as text and the StreamChange.  Anything
         * else is read to its end and skipped. */
        zmq_msg_t parts[3];
        int n = 0, frames = 0;
        bool more = true;
        while (more) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sub, 0) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            if (frames++ < 3) {
                zmq_msg_init(&parts[n]);
                zmq_msg_move(&parts[n++], &m);
            }
            zmq_msg_close(&m);
        }
        if (frames == 3 && n == 3) {
            char topic_text[128] = "";
            snprintf(topic_text, sizeof topic_text, "%.*s", (int)zmq_msg_size(&parts[0]),
                     (const char *)zmq_msg_data(&parts[0]));
            char seq_text[24] = "";
            snprintf(seq_text, sizeof seq_text, "%.*s", (int)zmq_msg_size(&parts[1]),
                     (const char *)zmq_msg_data(&parts[1]));
            uint64_t seq = strtoull(seq_text, NULL, 10);
            Codispatch__V1__StreamChange *c = codispatch__v1__stream_change__unpack(
                NULL, zmq_msg_size(&parts[2]), zmq_msg_data(&parts[2]));
            if (c && c->stats) { /* figures, not an event: no gap check */
                const Codispatch__V1__StreamStats *st = c->stats;
                if (cli->json) {
                    cJSON *js = cJSON_CreateObject();
                    cJSON_AddStringToObject(js, "type", "stats");
                    cJSON_AddNumberToObject(js, "seq", (double)seq);
                    cJSON_AddNumberToObject(js, "open_calls", st->open_calls);
                    cJSON_AddNumberToObject(js, "units_available", st->units_available);
                    cJSON_AddNumberToObject(js, "oldest_pending_s", st->oldest_pending_s);
                    cli_print_json(js);
                } else {
                    printf("%8llu  stats: %u open calls, %u of %u units available, oldest wait "
                           "%us, %u alerts\n",
                           (unsigned long long)seq, st->open_calls, st->units_available, st->units,
                           st->oldest_pending_s, st->active_alerts);
                }
                fflush(stdout);
                shown++;
            } else if (c && seq > last) {
                if (!topic && seq != last + 1) {
                    fprintf(stderr,
                            "codispatch: missed changes %llu..%llu; taking a new "
                            "snapshot\n",
                            (unsigned long long)last + 1, (unsigned long long)seq - 1);
                    if ((rc = s_snapshot(cli, &last, NULL, 0, false)) != CLI_OK) {
                        codispatch__v1__stream_change__free_unpacked(c, NULL);
                        for (int i = 0; i < n; i++)
                            zmq_msg_close(&parts[i]);
                        goto out;
                    }
                }
                if (seq > last) {
                    s_print_change(cli, topic_text, seq, c);
                    last = seq;
                    shown++;
                }
            }
            if (c)
                codispatch__v1__stream_change__free_unpacked(c, NULL);
        }
        for (int i = 0; i < n; i++)
            zmq_msg_close(&parts[i]);
    }
    rc = CLI_OK;
out:
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return rc;
}
