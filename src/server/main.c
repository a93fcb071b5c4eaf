/*  codispatchd — the dispatch server.  See README.md and `codispatchd --help`. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>
#ifdef CODISPATCH_MIMALLOC
#include <mimalloc.h>
#endif

#include "config.h"
#include "pgcluster.h"
#include "security.h"
#include "server.h"

typedef struct app {
    server_t *server;
    uv_signal_t sigint, sigterm;
    bool stopping;
} app_t;

static void s_on_signal(uv_signal_t *h, int signum)
{
    app_t *app = h->data;
    if (app->stopping) {
        fprintf(stderr, "codispatchd: already stopping (waiting for the last commit)\n");
        return;
    }
    app->stopping = true;
    fprintf(stderr, "codispatchd: %s received, stopping\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    server_shutdown(app->server);
}

/* The server's memory grows with the open calls and the reply cache, and each first touch of
 * a fresh 4 KiB page is a page fault: about one per three calls at 64 consoles, and in a
 * virtual machine a fault is dear (README, Configuration).  So mimalloc asks the kernel for
 * transparent huge pages (madvise) unless MIMALLOC_LARGE_OS_PAGES says otherwise; where the
 * kernel has none the pages stay small, and either way mimalloc then keeps freed memory rather
 * than returning it (README, Configuration).  A library's constructor has already
 * allocated mimalloc's first segment (32 MiB) before main(), so this covers the segments mapped
 * after it; the environment variable, read when mimalloc starts, covers that one too
 * (tools/run.sh and the Dockerfile set it). */
static void s_tune_allocator(void)
{
#ifdef CODISPATCH_MIMALLOC
    if (!getenv("MIMALLOC_LARGE_OS_PAGES"))
        mi_option_enable(mi_option_large_os_pages);
#endif
}

int main(int argc, char **argv)
{
    s_tune_allocator();
    config_t cfg;
    char err[1024];
    int rc = config_parse(&cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "codispatchd: %s\n", err);
        config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* Security first: a server that must not start should not start its database either. */
    char warn[1024];
    int secure = security_decide(&cfg, warn, sizeof warn, err, sizeof err);
    if (secure < 0) {
        fprintf(stderr, "codispatchd: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (warn[0])
        fprintf(stderr, "codispatchd: %s\n", warn);
    fprintf(stderr, "codispatchd: security %s\n",
            secure ? "on: CURVE keys and roles on every ZeroMQ socket, a token on HTTP"
                   : "off: loopback only, no keys (--security on to require them)");

    /* Start-up, before the loop: the embedded database is started synchronously. */
    pgcluster_t *cluster = NULL;
    const char *conninfo = cfg.db;
    char label[PATH_MAX + 64];
    if (!cfg.db) {
        char dir[PATH_MAX];
        if (mkdir(cfg.data_dir, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "codispatchd: cannot create --data-dir %s: %s\n", cfg.data_dir,
                    strerror(errno));
            config_free(&cfg);
            return 1;
        }
        snprintf(dir, sizeof dir, "%s/pg", cfg.data_dir);
        cluster = pgcluster_new(dir);
        fprintf(stderr, "codispatchd: starting the embedded PostgreSQL in %s\n", dir);
        if (pgcluster_start(cluster, err, sizeof err) != 0) {
            fprintf(stderr, "codispatchd: %s\n", err);
            pgcluster_destroy(&cluster);
            config_free(&cfg);
            return 1;
        }
        conninfo = pgcluster_conninfo(cluster);
        snprintf(label, sizeof label, "embedded PostgreSQL in %s (Unix socket only)",
                 pgcluster_dir(cluster));
    } else {
        snprintf(label, sizeof label,
                 "PostgreSQL at --db (conninfo not shown: it may hold a "
                 "password)");
    }

    uv_loop_t *loop = uv_default_loop();
    app_t app = {0};
    app.server = server_new(loop, &cfg, conninfo, cluster != NULL, label, err, sizeof err);
    int status = 0;
    if (!app.server) {
        fprintf(stderr, "codispatchd: %s\n", err);
        status = 1;
    } else {
        uv_signal_init(loop, &app.sigint);
        uv_signal_init(loop, &app.sigterm);
        app.sigint.data = app.sigterm.data = &app;
        uv_signal_start(&app.sigint, s_on_signal, SIGINT);
        uv_signal_start(&app.sigterm, s_on_signal, SIGTERM);
        /* Signals do not keep the loop alive: it ends when the server has closed its handles,
         * and a second Ctrl-C meanwhile does not cut the orderly stop short. */
        uv_unref((uv_handle_t *)&app.sigint);
        uv_unref((uv_handle_t *)&app.sigterm);
        server_banner(app.server, stdout);
        uv_run(loop, UV_RUN_DEFAULT);
        status = server_exit_status(app.server);
        server_destroy(&app.server);
        uv_close((uv_handle_t *)&app.sigint, NULL);
        uv_close((uv_handle_t *)&app.sigterm, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
    }
    uv_loop_close(loop);

    if (cluster) {
        if (pgcluster_stop(cluster, err, sizeof err) != 0)
            fprintf(stderr, "codispatchd: %s\n", err);
        else
            fprintf(stderr, "codispatchd: embedded PostgreSQL stopped\n");
        pgcluster_destroy(&cluster);
    }
    config_free(&cfg);
    return status;
}
