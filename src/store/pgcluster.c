#include "pgcluster.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "cd_text.h"

#define PG_PORT         "5432"
#define FALLBACK_PARENT "/var/lib/codispatch"

struct pgcluster {
    char *dir;      /* the directory in use */
    char *conninfo; /* for the codispatch database */
    char bindir[PATH_MAX];
    uid_t uid; /* account that runs the cluster */
    gid_t gid;
    bool as_other; /* we are root and run the cluster as uid */
};

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------ finding PostgreSQL */

/* dir + "/" + name into out; false (and out empty) if it does not fit. */
static bool s_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return false;
    }
    return true;
}

static bool s_is_exec(const char *path)
{
    return access(path, X_OK) == 0;
}

/* Fills bindir with the directory holding initdb and pg_ctl: PATH first, then the newest
 * /usr/lib/postgresql/N/bin. */
static bool s_find_bindir(char *bindir, size_t cap)
{
    const char *path = getenv("PATH");
    if (path) {
        char *copy = cd_strdup(path), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            char a[PATH_MAX], b[PATH_MAX];
            snprintf(a, sizeof a, "%s/initdb", d);
            snprintf(b, sizeof b, "%s/pg_ctl", d);
            if (*d && s_is_exec(a) && s_is_exec(b)) {
                /* Resolve symlinks so that initdb and pg_ctl come from one installation. */
                char real[PATH_MAX];
                if (realpath(a, real)) {
                    char *slash = strrchr(real, '/');
                    *slash = '\0';
                    if (s_join(b, sizeof b, real, "pg_ctl") && s_is_exec(b)) {
                        snprintf(bindir, cap, "%s", real);
                        free(copy);
                        return true;
                    }
                }
                snprintf(bindir, cap, "%s", d);
                free(copy);
                return true;
            }
        }
        free(copy);
    }
    DIR *dp = opendir("/usr/lib/postgresql");
    int best = -1;
    if (dp) {
        struct dirent *de;
        while ((de = readdir(dp))) {
            char *end;
            long v = strtol(de->d_name, &end, 10);
            char probe[PATH_MAX];
            snprintf(probe, sizeof probe, "/usr/lib/postgresql/%s/bin/pg_ctl", de->d_name);
            if (*end == '\0' && v > best && s_is_exec(probe))
                best = (int)v;
        }
        closedir(dp);
    }
    if (best < 0)
        return false;
    snprintf(bindir, cap, "/usr/lib/postgresql/%d/bin", best);
    return true;
}

bool pgcluster_available(void)
{
    char dir[PATH_MAX];
    return s_find_bindir(dir, sizeof dir);
}

/* ------------------------------------------------------------------ running programs */

/* glibc malloc settings for the cluster's processes (the backends inherit them through
 * pg_ctl and the postmaster).  A backend frees a batch's large allocations (its parameter
 * arrays, the rows unnested from them) when the statement ends, and glibc, past 128 kB free
 * at the top of the heap, gives those pages back to the kernel (brk), so the next batch
 * faults the same pages in again, each one zeroed.  On a virtual machine a page fault is
 * dear: the writer backend spent about a quarter of its CPU time in the kernel that way.
 * Keeping up to 64 MB of freed heap, and serving blocks of up to 32 MB from the heap rather
 * than from mappings of their own (which would fault the same way), took a call's
 * PostgreSQL CPU time from ~36 to ~26 us at 64 consoles (README, Benchmarks).  Memory a
 * backend has used stays its own until it exits, which for a handful of backends is little.
 * An operator's own GLIBC_TUNABLES is kept; ours are added only when it sets neither. */
#define PG_MALLOC_TUNABLES                                                                         \
    "glibc.malloc.trim_threshold=67108864:glibc.malloc.mmap_threshold=33554432"

static void s_set_malloc_tunables(void)
{
    const char *own = getenv("GLIBC_TUNABLES");
    if (!own || !*own) {
        setenv("GLIBC_TUNABLES", PG_MALLOC_TUNABLES, 1);
        return;
    }
    if (strstr(own, "malloc.trim_threshold") || strstr(own, "malloc.mmap_threshold"))
        return;
    char both[1024];
    int n = snprintf(both, sizeof both, "%s:%s", own, PG_MALLOC_TUNABLES);
    if (n > 0 && (size_t)n < sizeof both)
        setenv("GLIBC_TUNABLES", both, 1);
}

/* Runs argv (argv[0] a full path) as the cluster's account, in dir, collecting its output in
 * out[outlen].  Returns the exit status, or -1 if it could not run. */
static int s_run(const pgcluster_t *self, char *const argv[], char *out, size_t outlen)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        if (self->as_other) {
            if (setgroups(0, NULL) != 0 || setgid(self->gid) != 0 || setuid(self->uid) != 0) {
                perror("codispatch: cannot switch to the PostgreSQL account");
                _exit(126);
            }
        }
        /* initdb insists on a readable working directory. */
        if (chdir(self->dir) != 0 && chdir("/") != 0)
            _exit(126);
        setenv("LC_ALL", "C", 1);
        unsetenv("PGDATA");
        s_set_malloc_tunables();
        execv(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    for (;;) {
        char buf[4096];
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        /* Keep the tail: the end of the output says what went wrong. */
        for (ssize_t i = 0; i < n && outlen > 1; i++) {
            if (used + 1 >= outlen) {
                memmove(out, out + outlen / 2, used - outlen / 2);
                used -= outlen / 2;
            }
            out[used++] = buf[i];
        }
    }
    if (outlen)
        out[used < outlen ? used : outlen - 1] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* True if the cluster account can reach and create files in `path`'s parent chain. */
static bool s_account_can_reach(const pgcluster_t *self, const char *path)
{
    if (!self->as_other)
        return true;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(self->gid) != 0 || setuid(self->uid) != 0)
            _exit(1);
        _exit(access(path, X_OK) == 0 ? 0 : 1);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return false;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ------------------------------------------------------------------ directories */

static int s_mkdirs(const char *path, mode_t mode)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static uint64_t s_fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Decides which directory the cluster lives in, creating it with the right owner. */
static int s_prepare_dir(pgcluster_t *self, char *err, size_t errlen)
{
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", self->dir);
    char *slash = strrchr(parent, '/');
    if (slash && slash != parent)
        *slash = '\0';
    else if (!slash)
        snprintf(parent, sizeof parent, ".");
    if (s_mkdirs(parent, 0755) != 0)
        return s_fail(err, errlen, "cannot create %s: %s", parent, strerror(errno));

    struct stat st;
    if (lstat(self->dir, &st) == 0 && S_ISLNK(st.st_mode)) {
        /* A fallback chosen on an earlier start. */
        char real[PATH_MAX];
        if (!realpath(self->dir, real))
            return s_fail(err, errlen, "%s is a broken symlink", self->dir);
        free(self->dir);
        self->dir = cd_strdup(real);
    } else if (self->as_other && !s_account_can_reach(self, parent)) {
        char real[PATH_MAX], fallback[PATH_MAX];
        if (!realpath(parent, real))
            snprintf(real, sizeof real, "%s", parent);
        snprintf(fallback, sizeof fallback, "%s/pg-%016llx", FALLBACK_PARENT,
                 (unsigned long long)s_fnv1a(real));
        if (s_mkdirs(FALLBACK_PARENT, 0755) != 0)
            return s_fail(err, errlen, "cannot create %s: %s", FALLBACK_PARENT, strerror(errno));
        fprintf(stderr,
                "codispatchd: the %s account cannot reach %s, so the embedded database lives "
                "in %s (linked from %s)\n",
                getpwuid(self->uid) ? getpwuid(self->uid)->pw_name : "postgres", parent, fallback,
                self->dir);
        if (symlink(fallback, self->dir) != 0 && errno != EEXIST)
            return s_fail(err, errlen, "cannot link %s to %s: %s", self->dir, fallback,
                          strerror(errno));
        free(self->dir);
        self->dir = cd_strdup(fallback);
    }
    if (mkdir(self->dir, 0700) != 0 && errno != EEXIST)
        return s_fail(err, errlen, "cannot create %s: %s", self->dir, strerror(errno));
    if (self->as_other && chown(self->dir, self->uid, self->gid) != 0)
        return s_fail(err, errlen, "cannot give %s to the PostgreSQL account: %s", self->dir,
                      strerror(errno));
    chmod(self->dir, 0700);

    struct sockaddr_un sun;
    if (strlen(self->dir) + strlen("/.s.PGSQL." PG_PORT) >= sizeof sun.sun_path)
        return s_fail(err, errlen,
                      "the data directory path %s is too long for a Unix socket (at most %zu "
                      "bytes); choose a shorter --data-dir",
                      self->dir, sizeof sun.sun_path - strlen("/.s.PGSQL." PG_PORT) - 1);
    return 0;
}

/* ------------------------------------------------------------------ lifecycle */

pgcluster_t *pgcluster_new(const char *dir)
{
    pgcluster_t *self = cd_xcalloc(1, sizeof *self);
    char abs[PATH_MAX];
    if (dir[0] != '/' && getcwd(abs, sizeof abs)) {
        size_t n = strlen(abs);
        while (dir[0] == '.' && dir[1] == '/') /* "./var/pg" reads better as "var/pg" */
            dir += 2;
        snprintf(abs + n, sizeof abs - n, "/%s", dir);
        self->dir = cd_strdup(abs);
    } else {
        self->dir = cd_strdup(dir);
    }
    size_t n = strlen(self->dir);
    while (n > 1 && self->dir[n - 1] == '/')
        self->dir[--n] = '\0';
    self->uid = getuid();
    self->gid = getgid();
    if (geteuid() == 0) {
        const char *name = getenv("CODISPATCH_PG_USER");
        struct passwd *pw = getpwnam(name && *name ? name : "postgres");
        if (pw) {
            self->uid = pw->pw_uid;
            self->gid = pw->pw_gid;
            self->as_other = true;
        }
    }
    return self;
}

void pgcluster_destroy(pgcluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->dir);
    free((*self_p)->conninfo);
    free(*self_p);
    *self_p = NULL;
}

const char *pgcluster_conninfo(const pgcluster_t *self)
{
    return self->conninfo;
}

const char *pgcluster_dir(const pgcluster_t *self)
{
    return self->dir;
}

static bool s_file_exists(const char *dir, const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static int s_initdb(pgcluster_t *self, char *err, size_t errlen)
{
    char initdb[PATH_MAX], out[2048];
    s_join(initdb, sizeof initdb, self->bindir, "initdb");
    char *argv[] = {initdb,  "-D", self->dir, "-U",          "postgres", "-A",
                    "trust", "-E", "UTF8",    "--no-locale", NULL};
    int rc = s_run(self, argv, out, sizeof out);
    if (rc != 0)
        return s_fail(err, errlen, "initdb failed (exit %d): %s", rc, out);

    /* Only a Unix socket in the cluster directory; PostgreSQL's durability defaults stay. */
    char conf[PATH_MAX];
    snprintf(conf, sizeof conf, "%s/postgresql.conf", self->dir);
    FILE *f = fopen(conf, "a");
    if (!f)
        return s_fail(err, errlen, "cannot write %s: %s", conf, strerror(errno));
    fprintf(f,
            "\n# codispatch embedded cluster\n"
            "listen_addresses = ''\n"
            "unix_socket_directories = '%s'\n"
            "port = " PG_PORT "\n"
            "fsync = on\n"
            "synchronous_commit = on\n"
            "max_connections = 50\n"
            "logging_collector = off\n",
            self->dir);
    fclose(f);
    return 0;
}

/* True if pid is a running PostgreSQL process.  A zombie is not running: in a container
 * without an init that reaps, a killed postmaster stays a zombie and kill(pid, 0) still
 * succeeds, which would make PostgreSQL (and pg_ctl) believe it is alive. */
static bool s_pid_is_live_postgres(long pid)
{
    if (pid <= 0 || kill((pid_t)pid, 0) != 0)
        return false;
    char path[64], stat[512] = "";
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    if (!fgets(stat, sizeof stat, f))
        stat[0] = '\0';
    fclose(f);
    /* "pid (comm) S ...": comm may hold spaces, so find the last ')'. */
    const char *open = strchr(stat, '('), *close = strrchr(stat, ')');
    if (!open || !close || close < open || close[1] != ' ' || close[2] == 'Z')
        return false;
    size_t n = (size_t)(close - open);
    return memmem(open, n, "postgres", 8) || memmem(open, n, "postmaster", 10);
}

/* Removes lock_path if the PID on its first line is not a running PostgreSQL. */
static void s_clear_stale_lock(const char *lock_path)
{
    FILE *f = fopen(lock_path, "r");
    if (!f)
        return;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    if (!s_pid_is_live_postgres(pid))
        unlink(lock_path);
}

/* After a crash, postmaster.pid and the socket's lock file may name a PID that died (or is
 * now someone else's, or a zombie): PostgreSQL would then refuse to start.  Remove them. */
static void s_clear_stale_pidfile(const pgcluster_t *self)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/postmaster.pid", self->dir);
    s_clear_stale_lock(path);
    snprintf(path, sizeof path, "%s/.s.PGSQL." PG_PORT ".lock", self->dir);
    s_clear_stale_lock(path);
}

static int s_pg_ctl(pgcluster_t *self, const char *action, char *out, size_t outlen)
{
    char pg_ctl[PATH_MAX], log[PATH_MAX];
    s_join(pg_ctl, sizeof pg_ctl, self->bindir, "pg_ctl");
    snprintf(log, sizeof log, "%s/postgres.log", self->dir);
    if (strcmp(action, "start") == 0) {
        char *argv[] = {pg_ctl, "start", "-w", "-t", "60", "-D", self->dir, "-l", log, NULL};
        return s_run(self, argv, out, outlen);
    }
    if (strcmp(action, "stop") == 0) {
        char *argv[] = {pg_ctl, "stop", "-w", "-t", "60", "-m", "fast", "-D", self->dir, NULL};
        return s_run(self, argv, out, outlen);
    }
    char *argv[] = {pg_ctl, "status", "-D", self->dir, NULL};
    return s_run(self, argv, out, outlen);
}

/* Creates the codispatch database if it does not exist yet (start-up only: synchronous). */
static int s_create_database(pgcluster_t *self, char *err, size_t errlen)
{
    char conninfo[PATH_MAX + 64];
    snprintf(conninfo, sizeof conninfo, "host=%s port=" PG_PORT " dbname=postgres user=postgres",
             self->dir);
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        s_fail(err, errlen, "cannot connect to the embedded PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    const char *params[] = {PGCLUSTER_DBNAME};
    PGresult *r = PQexecParams(c, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, params,
                               NULL, NULL, 0);
    bool exists = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    int rc = 0;
    if (!exists) {
        r = PQexec(c, "CREATE DATABASE " PGCLUSTER_DBNAME);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            rc = s_fail(err, errlen, "cannot create the database: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

int pgcluster_start(pgcluster_t *self, char *err, size_t errlen)
{
    if (!s_find_bindir(self->bindir, sizeof self->bindir))
        return s_fail(err, errlen,
                      "PostgreSQL server programs (initdb, pg_ctl) were not found on PATH or in "
                      "/usr/lib/postgresql/*/bin; install postgresql or pass --db");
    if (s_prepare_dir(self, err, errlen) != 0)
        return -1;
    if (!s_file_exists(self->dir, "PG_VERSION") && s_initdb(self, err, errlen) != 0)
        return -1;

    char out[2048];
    s_clear_stale_pidfile(self);
    /* pg_ctl status: 0 running (left by a process that died: adopt it), 3 not running. */
    if (s_pg_ctl(self, "status", out, sizeof out) != 0) {
        int rc = s_pg_ctl(self, "start", out, sizeof out);
        if (rc != 0) {
            char log[PATH_MAX];
            snprintf(log, sizeof log, "%s/postgres.log", self->dir);
            return s_fail(err, errlen, "PostgreSQL did not start (pg_ctl exit %d; see %s): %s", rc,
                          log, out);
        }
    }
    free(self->conninfo);
    size_t n = strlen(self->dir) + 128;
    self->conninfo = cd_xmalloc(n);
    snprintf(self->conninfo, n,
             "host=%s port=" PG_PORT " dbname=" PGCLUSTER_DBNAME " user=postgres", self->dir);
    return s_create_database(self, err, errlen);
}

int pgcluster_stop(pgcluster_t *self, char *err, size_t errlen)
{
    char out[2048];
    if (!self->bindir[0] && !s_find_bindir(self->bindir, sizeof self->bindir))
        return s_fail(err, errlen, "pg_ctl not found");
    if (s_pg_ctl(self, "status", out, sizeof out) != 0)
        return 0; /* not running */
    int rc = s_pg_ctl(self, "stop", out, sizeof out);
    if (rc != 0)
        return s_fail(err, errlen, "pg_ctl stop failed (exit %d): %s", rc, out);
    return 0;
}
