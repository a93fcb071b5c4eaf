#include "security.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "keyfile.h"
#include "server_priv.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define TOKEN_MIN    16
#define TOKEN_MAX    256

static const char *const s_domains[] = {
    [SEC_CONTROL] = "control", [SEC_UNITS] = "units", [SEC_STREAM] = "stream"};

/* A committed key, findable by name and by public key. */
typedef struct mkey {
    cd_key_t k;
    UT_hash_handle hh_name, hh_pub;
} mkey_t;

struct security {
    bool on;
    char secret_key[KEYFILE_Z85];
    char admin_key[KEYFILE_Z85]; /* DATA_DIR/keys/admin.key: registered at start ("" none) */
    char token[TOKEN_MAX + 1];   /* HTTP token ("" none) */
    zsock_t *zap;
    mkey_t *by_name, *by_pub;
    /* Counters for /metrics. */
    unsigned long zap_ok, zap_unknown, zap_revoked, zap_socket, zap_bad;
    unsigned long msg_unauth, msg_denied, http_denied;
};

/* ------------------------------------------------------------------ the rule */

/* True for endpoints only this machine can reach. */
static bool s_local_zmq(const char *ep)
{
    if (!ep)
        return true;
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *h = ep + 6;
    return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost:", 10) == 0 ||
           strncmp(h, "[::1]:", 6) == 0 || strncmp(h, "lo:", 3) == 0;
}

static bool s_local_http(const char *addr)
{
    return !addr || strncmp(addr, "127.", 4) == 0 || strncmp(addr, "localhost:", 10) == 0 ||
           strncmp(addr, "[::1]:", 6) == 0;
}

/* The first endpoint that is not loopback, with its flag name; NULL when all are. */
static const char *s_exposed(const config_t *cfg, const char **flag)
{
    if (!s_local_zmq(cfg->control))
        return *flag = "--control", cfg->control;
    if (!s_local_zmq(cfg->units))
        return *flag = "--units", cfg->units;
    if (!s_local_zmq(cfg->stream))
        return *flag = "--stream", cfg->stream;
    if (!s_local_http(cfg->http))
        return *flag = "--http", cfg->http;
    return NULL;
}

static void s_path(const config_t *cfg, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/keys/%s", cfg->data_dir ? cfg->data_dir : ".", name);
}

static void s_server_key_path(const config_t *cfg, char *out, size_t cap)
{
    if (cfg->server_key)
        snprintf(out, cap, "%s", cfg->server_key);
    else
        s_path(cfg, "server.key_secret", out, cap);
}

static void s_token_path(const config_t *cfg, char *out, size_t cap)
{
    if (cfg->http_token)
        snprintf(out, cap, "%s", cfg->http_token);
    else
        s_path(cfg, "http.token", out, cap);
}

/* Reads the HTTP token file: one line, trimmed. */
static int s_read_token(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen,
                 "security is on, so HTTP needs a token, but %s cannot be read (run `codispatch "
                 "keys init`, or give --http-token FILE)",
                 path);
        return -1;
    }
    char line[TOKEN_MAX + 2] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    if (n < TOKEN_MIN || n >= cap) {
        snprintf(err, errlen, "the HTTP token in %s must be %d to %d characters", path, TOKEN_MIN,
                 TOKEN_MAX);
        return -1;
    }
    memcpy(out, line, n + 1);
    return 0;
}

int security_decide(const config_t *cfg, char *warn, size_t warnlen, char *err, size_t errlen)
{
    warn[0] = '\0';
    const char *mode = cfg->security ? cfg->security : "auto";
    const char *flag = NULL, *exposed = s_exposed(cfg, &flag);
    int on;
    if (strcmp(mode, "on") == 0)
        on = 1;
    else if (strcmp(mode, "off") == 0)
        on = 0;
    else if (strcmp(mode, "auto") == 0)
        on = exposed && !cfg->insecure;
    else {
        snprintf(err, errlen, "--security must be auto, on or off; got '%s'", mode);
        return -1;
    }
    if (!on && exposed) {
        if (!cfg->insecure) {
            snprintf(err, errlen,
                     "refusing to start: %s %s is not a loopback address and --security is off, "
                     "so anyone who can reach it could read caller PII and dispatch units; "
                     "create keys with `codispatch keys init` and use --security on (or auto), "
                     "or pass --insecure to run without security anyway",
                     flag, exposed);
            return -1;
        }
        snprintf(warn, warnlen,
                 "WARNING: --insecure: %s %s is not loopback and security is off; anyone who "
                 "can reach it can read caller PII and dispatch units (never do this in "
                 "production)",
                 flag, exposed);
    }
    if (!on)
        return 0;
    char path[4096];
    keyfile_t kf;
    char why[512];
    s_server_key_path(cfg, path, sizeof path);
    if (keyfile_read(path, &kf, why, sizeof why) != 0 || !kf.secret_key[0]) {
        snprintf(err, errlen,
                 "security is on%s%s%s, but the server's secret key cannot be used (%s); run "
                 "`codispatch keys init --data-dir %s` first%s",
                 exposed ? " (" : "", exposed ? flag : "", exposed ? " is not loopback)" : "",
                 kf.public_key[0] && !kf.secret_key[0] ? "the file holds no secret-key" : why,
                 cfg->data_dir ? cfg->data_dir : ".",
                 exposed ? ", or pass --insecure to run without security (never in production)"
                         : "");
        return -1;
    }
    char token[TOKEN_MAX + 1];
    s_token_path(cfg, path, sizeof path);
    if (s_read_token(path, token, sizeof token, err, errlen) != 0)
        return -1;
    return 1;
}

/* ------------------------------------------------------------------ the key table */

static void s_clear(security_t *sec)
{
    HASH_CLEAR(hh_pub, sec->by_pub);
    mkey_t *m, *tmp;
    HASH_ITER(hh_name, sec->by_name, m, tmp)
    {
        HASH_DELETE(hh_name, sec->by_name, m);
        free(m);
    }
}

static void s_put(security_t *sec, const cd_key_t *k)
{
    mkey_t *m = NULL;
    HASH_FIND(hh_name, sec->by_name, k->name, strlen(k->name), m);
    if (!m) {
        m = cd_xcalloc(1, sizeof *m);
        m->k = *k;
        HASH_ADD(hh_name, sec->by_name, k.name, strlen(m->k.name), m);
        HASH_ADD(hh_pub, sec->by_pub, k.public_key, strlen(m->k.public_key), m);
        return;
    }
    m->k.revoked_ms = k->revoked_ms; /* names and public keys never change */
    m->k.last_seq = k->last_seq;
}

static const cd_key_t *s_by_name(const security_t *sec, const char *name)
{
    mkey_t *m = NULL;
    if (name)
        HASH_FIND(hh_name, sec->by_name, name, strlen(name), m);
    return m ? &m->k : NULL;
}

static const cd_key_t *s_by_pub(const security_t *sec, const char *z85)
{
    mkey_t *m = NULL;
    HASH_FIND(hh_pub, sec->by_pub, z85, strlen(z85), m);
    return m ? &m->k : NULL;
}

void security_on_ready(server_t *self)
{
    security_t *sec = self->security;
    if (!sec)
        return;
    /* Right after a load the engine holds exactly the committed state. */
    s_clear(sec);
    size_t n = cd_engine_key_count(self->engine);
    const cd_key_t **all = cd_xcalloc(n ? n : 1, sizeof *all);
    n = cd_engine_list_keys(self->engine, all, n);
    for (size_t i = 0; i < n; i++)
        s_put(sec, all[i]);
    free(all);
    /* The first admin key (from `keys init`) is registered once, by the system. */
    if (sec->admin_key[0] && !cd_engine_find_key(self->engine, "admin") &&
        !cd_engine_find_public_key(self->engine, sec->admin_key)) {
        cd_key_t k = {.role = CD_ROLE_ADMIN};
        cd_copy(k.name, sizeof k.name, "admin");
        cd_copy(k.public_key, sizeof k.public_key, sec->admin_key);
        cd_ctx_t ctx = {.now_ms = server_now_ms(), .actor = "system", .request_id = NULL};
        cd_error_t err;
        if (cd_engine_add_key(self->engine, &ctx, &k, NULL, &err) != CD_OK)
            fprintf(stderr, "codispatchd: cannot register the first admin key: %s\n", err.message);
        else
            fprintf(stderr, "codispatchd: registered the first admin key (name admin)\n");
    }
}

void security_on_committed(server_t *self, const cd_event_log_t *events)
{
    security_t *sec = self->security;
    if (!sec || !events)
        return;
    for (size_t i = 0; i < events->len; i++) {
        const cd_event_t *ev = &events->items[i];
        if (ev->kind == CD_EV_KEY_ADDED) {
            cd_key_t k;
            cd_error_t err;
            if (cd_key_from_json(ev->payload, &k, &err) != CD_OK)
                continue;
            k.created_ms = ev->at_ms;
            k.last_seq = ev->seq;
            s_put(sec, &k);
        } else if (ev->kind == CD_EV_KEY_REVOKED) {
            const cd_key_t *have = s_by_name(
                sec, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev->payload, "name")));
            if (have) {
                cd_key_t k = *have;
                k.revoked_ms = ev->at_ms;
                k.last_seq = ev->seq;
                s_put(sec, &k);
                units_on_key_revoked(self, k.name);
                if (sec->on)
                    live_drop_subscribers(self);
            }
        }
    }
}

/* ------------------------------------------------------------------ ZAP */

static bool s_role_may_connect(cd_role_t role, sec_socket_t which)
{
    switch (which) {
    case SEC_CONTROL:
        return true; /* a unit key may ask for status; the rest is checked per message */
    case SEC_UNITS:
        return role == CD_ROLE_UNIT;
    case SEC_STREAM:
        return role == CD_ROLE_ADMIN || role == CD_ROLE_DISPATCHER || role == CD_ROLE_VIEWER;
    }
    return false;
}

/* ZAP request (RFC 27): version, request id, domain, address, routing id, mechanism,
 * credentials (CURVE: the 32-byte public key).  Reply: version, request id, status code,
 * status text, user id, metadata. */
static void s_on_zap(zsock_t *sock, zmq_msg_t *frames, size_t n, bool truncated, void *arg)
{
    server_t *self = arg;
    security_t *sec = self->security;
    const char *code = "400", *text = "malformed ZAP request";
    char user[CD_KEY_NAME_MAX + 1] = "";
    char z85[KEYFILE_Z85] = "";
    char domain[16] = "";
    if (n >= 7 && !truncated && zmq_msg_size(&frames[0]) == 3 &&
        memcmp(zmq_msg_data(&frames[0]), "1.0", 3) == 0) {
        size_t dl = zmq_msg_size(&frames[2]);
        if (dl < sizeof domain) {
            memcpy(domain, zmq_msg_data(&frames[2]), dl);
            domain[dl] = '\0';
        }
        bool curve =
            zmq_msg_size(&frames[5]) == 5 && memcmp(zmq_msg_data(&frames[5]), "CURVE", 5) == 0;
        if (curve && zmq_msg_size(&frames[6]) == 32)
            zmq_z85_encode(z85, zmq_msg_data(&frames[6]), 32);
        int which = -1;
        for (int i = 0; i < 3; i++)
            if (strcmp(domain, s_domains[i]) == 0)
                which = i;
        const cd_key_t *k = z85[0] ? s_by_pub(sec, z85) : NULL;
        if (!curve || !z85[0] || which < 0) {
            sec->zap_bad++;
        } else if (!k) {
            sec->zap_unknown++;
            text = "unknown key: not registered on this server";
        } else if (k->revoked_ms) {
            sec->zap_revoked++;
            text = "this key was revoked";
        } else if (!s_role_may_connect(k->role, (sec_socket_t)which)) {
            sec->zap_socket++;
            text = "this key's role may not use this socket";
        } else {
            sec->zap_ok++;
            code = "200";
            text = "OK";
            cd_copy(user, sizeof user, k->name);
        }
        if (code[0] != '2')
            fprintf(stderr, "codispatchd: refused a %s connection: %s (key %.40s)\n",
                    domain[0] ? domain : "?", text, z85[0] ? z85 : "none");
    }
    const void *parts[6] = {"1.0", n >= 2 ? zmq_msg_data(&frames[1]) : "", code, text, user, ""};
    size_t lens[6] = {3, n >= 2 ? zmq_msg_size(&frames[1]) : 0, 3, strlen(text), strlen(user), 0};
    zsock_send(sock, parts, lens, 6);
}

/* ------------------------------------------------------------------ lifecycle */

int security_open(server_t *self, const config_t *cfg, char *err, size_t errlen)
{
    char warn[512];
    int on = security_decide(cfg, warn, sizeof warn, err, errlen);
    if (on < 0)
        return -1;
    security_t *sec = cd_xcalloc(1, sizeof *sec);
    self->security = sec;
    sec->on = on == 1;
    char path[4096], why[512];
    keyfile_t kf;
    /* The first admin key is registered even with security off, so it is there when
     * security is turned on. */
    s_path(cfg, "admin.key", path, sizeof path);
    if (keyfile_read(path, &kf, why, sizeof why) == 0)
        cd_copy(sec->admin_key, sizeof sec->admin_key, kf.public_key);
    if (!sec->on)
        return 0;
    s_server_key_path(cfg, path, sizeof path);
    if (keyfile_read(path, &kf, err, errlen) != 0)
        return -1;
    cd_copy(sec->secret_key, sizeof sec->secret_key, kf.secret_key);
    s_token_path(cfg, path, sizeof path);
    if (s_read_token(path, sec->token, sizeof sec->token, err, errlen) != 0)
        return -1;
    sec->zap = zsock_new(self->loop, self->zctx, ZMQ_REP, s_on_zap, self);
    if (!sec->zap) {
        snprintf(err, errlen, "cannot create the ZAP handler socket");
        return -1;
    }
    zsock_set_max_frames(sec->zap, ZSOCK_FRAMES_CAP);
    return zsock_bind(sec->zap, ZAP_ENDPOINT, err, errlen);
}

void security_close(server_t *self)
{
    security_t *sec = self->security;
    if (!sec)
        return;
    zsock_destroy(&sec->zap);
    s_clear(sec);
    free(sec);
    self->security = NULL;
}

bool security_on(const server_t *self)
{
    return self->security && self->security->on;
}

void security_apply(server_t *self, void *raw, sec_socket_t which)
{
    if (!security_on(self))
        return;
    int one = 1;
    zmq_setsockopt(raw, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, self->security->secret_key, 40);
    zmq_setsockopt(raw, ZMQ_ZAP_DOMAIN, s_domains[which], strlen(s_domains[which]));
}

/* ------------------------------------------------------------------ per message */

bool security_identify(server_t *self, const route_t *to, const char *rid, zmq_msg_t *body,
                       sec_peer_t *peer)
{
    memset(peer, 0, sizeof *peer);
    security_t *sec = self->security;
    if (!sec || !sec->on)
        return true;
    const char *user = zmq_msg_gets(body, "User-Id");
    const cd_key_t *k = s_by_name(sec, user);
    if (!k || k->revoked_ms) {
        sec->msg_unauth++;
        char msg[CD_ERROR_MESSAGE_MAX];
        if (k)
            snprintf(msg, sizeof msg,
                     "key %s (role %s) was revoked; this connection may send nothing more", k->name,
                     cd_role_name(k->role));
        else
            snprintf(msg, sizeof msg, "this connection's key is not registered on this server");
        server_refuse(self, to, rid, CD_EUNAUTH, "key", msg);
        return false;
    }
    peer->secured = true;
    cd_copy(peer->name, sizeof peer->name, k->name);
    peer->role = k->role;
    cd_copy(peer->unit_id, sizeof peer->unit_id, k->unit_id);
    return true;
}

/* What each role may send on the control socket. */
static bool s_control_allowed(cd_role_t role, Codispatch__V1__Envelope__BodyCase body,
                              const char **needs)
{
    switch (body) {
    case CODISPATCH__V1__ENVELOPE__BODY_STATUS:
        return true;
    case CODISPATCH__V1__ENVELOPE__BODY_SNAPSHOT:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_UNITS:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_PLANS:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_ALERTS:
    case CODISPATCH__V1__ENVELOPE__BODY_REPORT: /* aggregates, small cells suppressed */
        *needs = "a viewer, dispatcher or admin key";
        return role == CD_ROLE_VIEWER || role == CD_ROLE_DISPATCHER || role == CD_ROLE_ADMIN;
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_UPDATE_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_REMOVE_UNIT:
    case CODISPATCH__V1__ENVELOPE__BODY_SET_PLAN:
    case CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY:
    case CODISPATCH__V1__ENVELOPE__BODY_REVOKE_KEY:
    case CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS:
        *needs = "an admin key";
        return role == CD_ROLE_ADMIN;
    default: /* calls, dispatch, notes, close, recommend, demographics, export (they carry or
              * act on caller data; exact locations in an export need admin: control_reports.c) */
        *needs = "a dispatcher or admin key";
        return role == CD_ROLE_DISPATCHER || role == CD_ROLE_ADMIN;
    }
}

bool security_permit(server_t *self, const route_t *to, const char *rid, const sec_peer_t *peer,
                     const wire_env_t *env, sec_socket_t which)
{
    if (!peer->secured)
        return true;
    const char *needs = "";
    bool ok;
    if (which == SEC_UNITS) {
        needs = "a unit key";
        ok = peer->role == CD_ROLE_UNIT;
        if (ok && env->body_case == CODISPATCH__V1__ENVELOPE__BODY_HELLO && env->hello->unit_id &&
            strcmp(env->hello->unit_id, peer->unit_id) != 0) {
            char msg[CD_ERROR_MESSAGE_MAX];
            snprintf(msg, sizeof msg,
                     "key %s (role unit) speaks for unit %s only; it may not say Hello for %.32s",
                     peer->name, peer->unit_id, env->hello->unit_id);
            self->security->msg_denied++;
            server_refuse(self, to, rid, CD_EPERM, "unit_id", msg);
            return false;
        }
    } else {
        ok = s_control_allowed(peer->role, env->body_case, &needs);
    }
    if (ok)
        return true;
    self->security->msg_denied++;
    metrics_count_command(self, (int)env->body_case, CD_EPERM);
    char msg[CD_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg,
             "key %s has role %s, which may not send %s on the %s socket; it needs %s", peer->name,
             cd_role_name(peer->role), wire_body_name(env), s_domains[which], needs);
    server_refuse(self, to, rid, CD_EPERM, "body", msg);
    return false;
}

void security_actor(const sec_peer_t *peer, const char *unit_id, char *out, size_t cap)
{
    if (unit_id && peer->secured)
        snprintf(out, cap, "unit:%s/%s", unit_id, peer->name);
    else if (unit_id)
        snprintf(out, cap, "unit:%s", unit_id);
    else if (peer->secured)
        snprintf(out, cap, "%s:%s", cd_role_name(peer->role), peer->name);
    else
        snprintf(out, cap, "console");
}

/* ------------------------------------------------------------------ HTTP */

bool security_http_required(const server_t *self)
{
    return security_on(self) && self->security->token[0];
}

bool security_http_token_ok(const server_t *self, const char *token)
{
    security_t *sec = self->security;
    if (!security_http_required(self))
        return true;
    size_t a = strlen(sec->token), b = token ? strlen(token) : 0;
    unsigned char diff = a != b;
    for (size_t i = 0; i < a; i++)
        diff |= (unsigned char)(sec->token[i] ^ (i < b ? token[i] : 0));
    if (diff)
        sec->http_denied++;
    return diff == 0;
}

char *security_metrics(const server_t *self)
{
    const security_t *sec = self->security;
    char *out = cd_xmalloc(2048);
    if (!sec) {
        out[0] = '\0';
        return out;
    }
    snprintf(out, 2048,
             "# HELP codispatch_security_on 1 when CURVE keys and roles are enforced.\n"
             "# TYPE codispatch_security_on gauge\ncodispatch_security_on %d\n"
             "# HELP codispatch_auth_handshakes_total ZAP decisions on CURVE handshakes.\n"
             "# TYPE codispatch_auth_handshakes_total counter\n"
             "codispatch_auth_handshakes_total{result=\"accepted\"} %lu\n"
             "codispatch_auth_handshakes_total{result=\"unknown_key\"} %lu\n"
             "codispatch_auth_handshakes_total{result=\"revoked\"} %lu\n"
             "codispatch_auth_handshakes_total{result=\"wrong_socket\"} %lu\n"
             "codispatch_auth_handshakes_total{result=\"malformed\"} %lu\n"
             "# HELP codispatch_auth_refusals_total Messages refused for who sent them.\n"
             "# TYPE codispatch_auth_refusals_total counter\n"
             "codispatch_auth_refusals_total{code=\"UNAUTHENTICATED\"} %lu\n"
             "codispatch_auth_refusals_total{code=\"PERMISSION_DENIED\"} %lu\n"
             "codispatch_auth_refusals_total{code=\"HTTP_TOKEN\"} %lu\n",
             sec->on ? 1 : 0, sec->zap_ok, sec->zap_unknown, sec->zap_revoked, sec->zap_socket,
             sec->zap_bad, sec->msg_unauth, sec->msg_denied, sec->http_denied);
    return out;
}
