/*  config.h — codispatchd's settings: command-line flags, each also settable through the
 *  environment as CODISPATCH_<NAME> (flags win). */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stdio.h>

typedef struct config {
    char *data_dir;           /* --data-dir: embedded database and local state */
    char *db;                 /* --db: libpq conninfo/URI; NULL means the embedded database */
    char *control;            /* --control: ZeroMQ endpoint for consoles and tools */
    char *units;              /* --units: ZeroMQ endpoint for unit tablets */
    char *stream;             /* --stream: ZeroMQ endpoint for live status */
    char *http;               /* --http: HOST:PORT for the dashboard */
    long max_ws;              /* --max-ws: WebSocket clients at once */
    long request_retention_h; /* --request-retention-hours */
    long max_batch;           /* --max-batch: commands waiting for the next commit */
    long speed_kmh;           /* --speed-kmh: ETA speed */
    long language_bonus_min;  /* --language-bonus-min: worth of a language match */
    long max_missed_acks;     /* --max-missed-acks: before out_of_service */
    long heartbeat_ms;        /* --heartbeat-ms: ZMTP heartbeats on the units socket */
    long unreachable_after_s; /* --unreachable-after-s */
    bool demo_roster;         /* --demo-roster: seed an empty roster with demo units */
    char *security;           /* --security auto|on|off: CURVE keys and roles */
    bool insecure;            /* --insecure: allow a non-loopback bind without security */
    char *server_key;         /* --server-key: the server's secret key file */
    char *http_token;         /* --http-token: file holding the HTTP viewer token */
} config_t;

/* Returns 0 when the server should run, 1 when --help/--version was printed, -1 on a usage
 * error (message in err).  Strings in cfg are malloc'd; release with config_free. */
int config_parse(config_t *cfg, int argc, char **argv, char *err, size_t errlen);
void config_free(config_t *cfg);
void config_usage(FILE *out);

#endif
