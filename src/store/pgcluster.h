/*  pgcluster.h — the embedded default database: a private PostgreSQL cluster.
 *
 *  Used when no --db is given, and by the integration tests for their throwaway database.
 *  Everything here is synchronous on purpose: it runs before the loop starts and after it
 *  ends, never on it.
 *
 *  The cluster lives in one directory, listens only on a Unix socket in that directory (no
 *  TCP), and keeps PostgreSQL's default durability (fsync on).  PostgreSQL refuses to run as
 *  root, so a root process runs initdb and pg_ctl as an unprivileged account (`postgres`, or
 *  CODISPATCH_PG_USER) and hands it the directory.  When that account cannot reach the
 *  directory (say it sits under /root), the cluster goes to /var/lib/codispatch/pg-<hash> and
 *  a symlink at the requested place points to it.
 */
#ifndef PGCLUSTER_H
#define PGCLUSTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pgcluster pgcluster_t;

#define PGCLUSTER_DBNAME "codispatch"

/* dir: where the cluster lives (created when missing).  Copied. */
pgcluster_t *pgcluster_new(const char *dir);
/* Does not stop the cluster; call pgcluster_stop first if that is wanted. */
void pgcluster_destroy(pgcluster_t **self_p);

/* Creates the cluster if needed (initdb), starts it — or adopts one already running from an
 * earlier process that died — and creates the codispatch database.  Handles a stale
 * postmaster.pid.  Returns 0, or -1 with a sentence in err. */
int pgcluster_start(pgcluster_t *self, char *err, size_t errlen);

/* Stops the cluster (fast shutdown: open transactions roll back, committed work is kept). */
int pgcluster_stop(pgcluster_t *self, char *err, size_t errlen);

/* libpq conninfo for the codispatch database: "host=<socket dir> dbname=codispatch ...". */
const char *pgcluster_conninfo(const pgcluster_t *self);

/* The directory actually used (after any fallback). */
const char *pgcluster_dir(const pgcluster_t *self);

/* True if initdb/pg_ctl can be found (PATH or /usr/lib/postgresql/N/bin). */
bool pgcluster_available(void);

#endif
