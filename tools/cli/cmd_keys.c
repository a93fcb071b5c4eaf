/*  cmd_keys.c — `codispatch keys init | add | revoke | list`: CURVE keys and roles. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cd_key.h"
#include "cli.h"
#include "keyfile.h"

static const char *const USAGE = "codispatch keys init|add|revoke|list ... (see --help)";
static const char *const USAGE_INIT = "codispatch keys init [--data-dir DIR]";
static const char *const USAGE_ADD =
    "codispatch [--key ADMIN_KEY] keys add --role admin|dispatcher|unit|viewer --name N "
    "[--unit ID] [--out FILE]";
static const char *const USAGE_REVOKE = "codispatch [--key ADMIN_KEY] keys revoke NAME";
static const char *const USAGE_LIST = "codispatch [--key ADMIN_KEY] keys list";

static int s_mkdir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "codispatch: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

/* 32 random bytes as hex, in a new file of mode 0600. */
static int s_write_token(const char *path)
{
    unsigned char raw[32];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fprintf(stderr, "codispatch: no randomness for the HTTP token\n");
        return -1;
    }
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "codispatch: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    bool ok = write(fd, hex, 64) == 64 && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

static int s_init(const cli_t *cli, int argc, char **argv)
{
    (void)cli;
    cli_opt_t o[] = {CLI_OPT("data-dir")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), pos, 0, &npos, USAGE_INIT);
    if (rc)
        return rc;
    const char *dir = cli_val(o, CLI_N(o), "data-dir");
    if (!dir)
        dir = getenv("CODISPATCH_DATA_DIR");
    if (!dir || !*dir)
        dir = "./var";
    char keys[4096], path[4200], err[512];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    if (s_mkdir(dir, 0755) != 0 || s_mkdir(keys, 0700) != 0)
        return CLI_REFUSED;
    snprintf(path, sizeof path, "%s/server.key_secret", keys);
    if (access(path, F_OK) == 0) {
        fprintf(stderr,
                "codispatch: %s exists already: this data directory has its keys; nothing was "
                "changed\n",
                path);
        return CLI_REFUSED;
    }
    keyfile_t server, admin;
    if (keyfile_generate(&server) != 0 || keyfile_generate(&admin) != 0) {
        fprintf(stderr, "codispatch: cannot make a CURVE key pair (libzmq without CURVE?)\n");
        return CLI_REFUSED;
    }
    snprintf(server.name, sizeof server.name, "server");
    keyfile_t server_pub = server;
    server_pub.secret_key[0] = '\0';
    snprintf(admin.name, sizeof admin.name, "admin");
    snprintf(admin.role, sizeof admin.role, "admin");
    memcpy(admin.server_key, server.public_key, sizeof admin.server_key);
    keyfile_t admin_pub = admin;
    admin_pub.secret_key[0] = '\0';
    admin_pub.server_key[0] = '\0';
    const struct {
        const char *name;
        const keyfile_t *kf;
    } files[] = {{"server.key_secret", &server},
                 {"server.key", &server_pub},
                 {"admin.key_secret", &admin},
                 {"admin.key", &admin_pub}};
    for (size_t i = 0; i < CLI_N(files); i++) {
        snprintf(path, sizeof path, "%s/%s", keys, files[i].name);
        if (keyfile_write(path, files[i].kf, err, sizeof err) != 0) {
            fprintf(stderr, "codispatch: %s\n", err);
            return CLI_REFUSED;
        }
    }
    snprintf(path, sizeof path, "%s/http.token", keys);
    if (access(path, F_OK) != 0 && s_write_token(path) != 0)
        return CLI_REFUSED;
    if (cli->json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "keys_dir", keys);
        cJSON_AddStringToObject(j, "server_public_key", server.public_key);
        cJSON_AddStringToObject(j, "admin_key_file", "admin.key_secret");
        cli_print_json(j);
        return CLI_OK;
    }
    printf("keys in %s:\n"
           "  server.key_secret  the server's secret key (mode 0600)\n"
           "  server.key         its public key, for clients (--server-key)\n"
           "  admin.key_secret   the first admin key (mode 0600): registered as 'admin' when the\n"
           "                     server starts; use it with --key to add the other keys\n"
           "  http.token         the token the dashboard, /api, /ws and /metrics require\n",
           keys);
    return CLI_OK;
}

static void s_key_json(cJSON *arr, const Codispatch__V1__Key *k)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", k->name ? k->name : "");
    cJSON_AddStringToObject(o, "role", k->role ? k->role : "");
    cJSON_AddStringToObject(o, "unit_id", k->unit_id ? k->unit_id : "");
    cJSON_AddStringToObject(o, "public_key", k->public_key ? k->public_key : "");
    cJSON_AddNumberToObject(o, "created_ms", (double)k->created_ms);
    cJSON_AddNumberToObject(o, "revoked_ms", (double)k->revoked_ms);
    if (cJSON_IsArray(arr))
        cJSON_AddItemToArray(arr, o);
    else
        cli_print_json(o);
}

static int s_add(const cli_t *cli, int argc, char **argv)
{
    cli_opt_t o[] = {CLI_OPT("role"), CLI_OPT("name"), CLI_OPT("unit"), CLI_OPT("out")};
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, o, CLI_N(o), pos, 0, &npos, USAGE_ADD);
    if (rc)
        return rc;
    const char *role = cli_val(o, CLI_N(o), "role"), *name = cli_val(o, CLI_N(o), "name"),
               *unit = cli_val(o, CLI_N(o), "unit"), *out = cli_val(o, CLI_N(o), "out");
    if (!role || cd_role_parse(role) == CD_ROLE_NONE)
        return cli_usage_error(USAGE_ADD, "--role must be admin, dispatcher, unit or viewer");
    if (!name || !cd_key_name_valid(name))
        return cli_usage_error(USAGE_ADD, "--name must be 1-32 letters, digits, '.', '_' or '-'");
    if ((strcmp(role, "unit") == 0) != (unit != NULL))
        return cli_usage_error(USAGE_ADD, strcmp(role, "unit") == 0
                                              ? "--unit is required for a unit key"
                                              : "--unit is only for --role unit");
    char path[4096];
    snprintf(path, sizeof path, "%s.key_secret", name);
    if (!out)
        out = path;
    keyfile_t kf;
    if (keyfile_generate(&kf) != 0) {
        fprintf(stderr, "codispatch: cannot make a CURVE key pair\n");
        return CLI_REFUSED;
    }
    snprintf(kf.name, sizeof kf.name, "%s", name);
    snprintf(kf.role, sizeof kf.role, "%s", role);
    if (cli_keys(cli))
        memcpy(kf.server_key, cli_keys(cli)->server_key, sizeof kf.server_key);
    else if (cli->server_key_file) {
        keyfile_t srv;
        char err[512];
        if (keyfile_read(cli->server_key_file, &srv, err, sizeof err) != 0)
            return cli_usage_error(USAGE_ADD, "--server-key: %s", err);
        memcpy(kf.server_key, srv.public_key, sizeof kf.server_key);
    }
    char err[512];
    /* The secret is written first (never overwriting), so a registered key always has it. */
    if (keyfile_write(out, &kf, err, sizeof err) != 0) {
        fprintf(stderr, "codispatch: %s\n", err);
        return CLI_REFUSED;
    }
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__AddKey body = CODISPATCH__V1__ADD_KEY__INIT;
    body.name = (char *)name;
    body.role = (char *)role;
    body.unit_id = (char *)unit;
    body.public_key = kf.public_key;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_ADD_KEY;
    req.add_key = &body;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_KEY, &reply)) !=
        CLI_OK) {
        unlink(out); /* not registered: the file would be a key that opens nothing */
        return rc;
    }
    if (cli->json)
        s_key_json(NULL, reply->key);
    else
        printf("key %s (role %s%s%s) registered; its secret key is in %s (mode 0600)%s\n", name,
               role, unit ? ", unit " : "", unit ? unit : "", out,
               kf.server_key[0] ? "" : "; it names no server key: clients also need --server-key");
    cdc_envelope_free(reply);
    return CLI_OK;
}

static int s_revoke(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 1, &npos, USAGE_REVOKE);
    if (rc)
        return rc;
    if (npos != 1)
        return cli_usage_error(USAGE_REVOKE, "which key? give its name");
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__RevokeKey body = CODISPATCH__V1__REVOKE_KEY__INIT;
    body.name = pos[0];
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_REVOKE_KEY;
    req.revoke_key = &body;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_KEY, &reply)) != CLI_OK)
        return rc;
    if (cli->json)
        s_key_json(NULL, reply->key);
    else
        printf("key %s revoked\n", pos[0]);
    cdc_envelope_free(reply);
    return CLI_OK;
}

static int s_list(const cli_t *cli, int argc, char **argv)
{
    char *pos[1];
    size_t npos;
    int rc = cli_parse(argc, argv, NULL, 0, pos, 0, &npos, USAGE_LIST);
    if (rc)
        return rc;
    Codispatch__V1__Envelope req = CODISPATCH__V1__ENVELOPE__INIT;
    Codispatch__V1__ListKeys body = CODISPATCH__V1__LIST_KEYS__INIT;
    req.body_case = CODISPATCH__V1__ENVELOPE__BODY_LIST_KEYS;
    req.list_keys = &body;
    Codispatch__V1__Envelope *reply;
    if ((rc = cli_request_expect(cli, &req, CODISPATCH__V1__ENVELOPE__BODY_KEY_LIST, &reply)) !=
        CLI_OK)
        return rc;
    const Codispatch__V1__KeyList *l = reply->key_list;
    if (cli->json) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "keys");
        for (size_t i = 0; i < l->n_keys; i++)
            s_key_json(arr, l->keys[i]);
        cli_print_json(o);
    } else {
        printf("%-20s %-10s %-12s %-19s %-19s %s\n", "NAME", "ROLE", "UNIT", "CREATED", "REVOKED",
               "PUBLIC KEY");
        for (size_t i = 0; i < l->n_keys; i++) {
            const Codispatch__V1__Key *k = l->keys[i];
            char created[64], revoked[64] = "-";
            cli_format_time(k->created_ms, created, sizeof created);
            if (k->revoked_ms)
                cli_format_time(k->revoked_ms, revoked, sizeof revoked);
            printf("%-20s %-10s %-12s %-19.19s %-19.19s %s\n", k->name, k->role,
                   k->unit_id && *k->unit_id ? k->unit_id : "-", created, revoked, k->public_key);
        }
    }
    cdc_envelope_free(reply);
    return CLI_OK;
}

int cmd_keys(const cli_t *cli, int argc, char **argv)
{
    static const cli_subcommand_t subs[] = {
        {"init", s_init}, {"add", s_add}, {"revoke", s_revoke}, {"list", s_list}};
    return cli_run_subcommand(cli, argc, argv, "keys", "subcommand", subs, CLI_N(subs), USAGE);
}
