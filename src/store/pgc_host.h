/*  pgc_host.h — the host names of a conninfo, resolved on libuv's thread pool.
 *
 *  libpq resolves a host name with a blocking getaddrinfo() inside PQconnectStart/Poll, and a
 *  slow or dead DNS server would then stop the whole loop on every reconnection.  A pgc
 *  therefore resolves the names first (uv_getaddrinfo) and connects with `hostaddr=` set to
 *  the addresses found, `host=` kept for TLS certificate checks and messages.  A name with
 *  several addresses becomes several entries of libpq's host list, tried in order as libpq
 *  would have tried them.
 *
 *  Nothing is resolved when the conninfo (or PGHOSTADDR) already gives `hostaddr`, or every
 *  host is a Unix socket directory or a numeric address.  Used by pgc.c; public for tests.
 */
#ifndef PGC_HOST_H
#define PGC_HOST_H

#include <uv.h>

/* What to connect to, as libpq keywords; NULL: leave the conninfo's own value. */
typedef struct pgc_hosts {
    const char *host;
    const char *hostaddr;
    const char *port;
} pgc_hosts_t;

typedef struct pgc_resolver pgc_resolver_t;

/* Called once, on the loop, unless cancelled first.  hosts (valid during the call) when at
 * least one host could be used; error otherwise ("cannot resolve the PostgreSQL host ..."). */
typedef void pgc_resolved_fn(const pgc_hosts_t *hosts, const char *error, void *arg);

/* Looks at conninfo's hosts (PGHOST, PGHOSTADDR and PGPORT when it names none).  Returns 0
 * when nothing needs resolving (connect with the conninfo as it is; *out is NULL), 1 when
 * resolving has started (*out set; fn runs later), or a negative libuv error. */
int pgc_host_resolve(uv_loop_t *loop, const char *conninfo, pgc_resolved_fn *fn, void *arg,
                     pgc_resolver_t **out);

/* Abandons a resolution: fn will not run.  The resolver frees itself once the thread pool
 * is done with it.  Nulls *self_p; does nothing when it is NULL. */
void pgc_host_cancel(pgc_resolver_t **self_p);

#endif
