#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "cd_z85.h"

/* `  name = "value"` -> name and value; false for other lines. */
static bool s_pair(char *line, char **name, char **value)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return false;
    *eq = '\0';
    char *n = line;
    while (*n == ' ' || *n == '\t')
        n++;
    char *end = n + strlen(n);
    while (end > n && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    char *v = eq + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    end = v + strlen(v);
    while (end > v && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    if (*v == '"' && end > v + 1 && end[-1] == '"') {
        end[-1] = '\0';
        v++;
    }
    *name = n;
    *value = v;
    return true;
}

static void s_copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src);
}

int keyfile_read(const char *path, keyfile_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
        return -1;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        char *name, *value;
        if (line[0] == '#' || !s_pair(line, &name, &value))
            continue;
        if (strcmp(name, "public-key") == 0)
            s_copy(out->public_key, sizeof out->public_key, value);
        else if (strcmp(name, "secret-key") == 0)
            s_copy(out->secret_key, sizeof out->secret_key, value);
        else if (strcmp(name, "server-key") == 0)
            s_copy(out->server_key, sizeof out->server_key, value);
        else if (strcmp(name, "name") == 0)
            s_copy(out->name, sizeof out->name, value);
        else if (strcmp(name, "role") == 0)
            s_copy(out->role, sizeof out->role, value);
    }
    fclose(f);
    if (!cd_z85_key_valid(out->public_key)) {
        snprintf(err, errlen, "key file %s has no valid public-key line", path);
        return -1;
    }
    if (out->secret_key[0] && !cd_z85_key_valid(out->secret_key)) {
        snprintf(err, errlen, "key file %s has a malformed secret-key line", path);
        return -1;
    }
    if (out->server_key[0] && !cd_z85_key_valid(out->server_key)) {
        snprintf(err, errlen, "key file %s has a malformed server-key line", path);
        return -1;
    }
    return 0;
}

int keyfile_write(const char *path, const keyfile_t *kf, char *err, size_t errlen)
{
    bool secret = kf->secret_key[0] != '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, secret ? 0600 : 0644);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (key files are never overwritten; remove it first)" : "");
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S %Z", localtime(&now));
    fprintf(f, "#   codispatch %s key%s%s, made %s\n", secret ? "secret" : "public",
            kf->name[0] ? " for " : "", kf->name, when);
    if (secret)
        fprintf(f, "#   keep this file private: whoever holds it acts as %s\n",
                kf->name[0] ? kf->name : "this key");
    fprintf(f, "metadata\n");
    if (kf->name[0])
        fprintf(f, "    name = \"%s\"\n", kf->name);
    if (kf->role[0])
        fprintf(f, "    role = \"%s\"\n", kf->role);
    if (kf->server_key[0])
        fprintf(f, "    server-key = \"%s\"\n", kf->server_key);
    fprintf(f, "curve\n    public-key = \"%s\"\n", kf->public_key);
    if (secret)
        fprintf(f, "    secret-key = \"%s\"\n", kf->secret_key);
    if (fflush(f) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

int keyfile_generate(keyfile_t *out)
{
    memset(out, 0, sizeof *out);
    return zmq_curve_keypair(out->public_key, out->secret_key) == 0 ? 0 : -1;
}
