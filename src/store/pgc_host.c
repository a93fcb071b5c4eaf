/*  pgc_host.c — a conninfo's host names resolved off the loop (see pgc_host.h).
 *
 *  The hosts of the list are taken one after the other: a numeric address or a Unix socket
 *  directory is kept as it is, a name is resolved with uv_getaddrinfo and replaced by one
 *  entry per address.  A name that does not resolve is left out (libpq skips a host it cannot
 *  reach and tries the next); only when none is left is the attempt an error.
 */
#include "pgc_host.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "cd_text.h"

#define PGC_HOST_MAX       16 /* entries of a host list that are resolved here */
#define PGC_HOST_ADDRS_MAX 8  /* addresses kept per name */

/* A comma-separated list being built, in libpq's list syntax. */
typedef struct s_list {
    char *text;
    size_t len, cap;
    int n;
} s_list_t;

struct pgc_resolver {
    uv_loop_t *loop;
    uv_getaddrinfo_t req;
    pgc_resolved_fn *fn; /* NULL once cancelled */
    void *arg;
    char *hosts[PGC_HOST_MAX];
    int n_hosts;
    char *ports[PGC_HOST_MAX];
    int n_ports;
    int next; /* the host being resolved */
    s_list_t host, hostaddr, port;
    char error[256];
};

static void s_list_add(s_list_t *list, const char *item)
{
    size_t n = strlen(item);
    if (list->len + n + 2 > list->cap) {
        list->cap = (list->len + n + 2) * 2;
        list->text = cd_xrealloc(list->text, list->cap);
    }
    if (list->n++ > 0)
        list->text[list->len++] = ',';
    memcpy(list->text + list->len, item, n);
    list->len += n;
    list->text[list->len] = '\0';
}

/* Splits libpq's comma-separated list into copies.  -1 when it is longer than max or uses
 * backslash escapes (rare enough to leave to libpq). */
static int s_split(const char *text, char **out, int max)
{
    if (strchr(text, '\\'))
        return -1;
    int n = 0;
    for (const char *p = text;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (n == max) {
            while (n > 0)
                free(out[--n]);
            return -1;
        }
        out[n] = cd_xmalloc(len + 1);
        memcpy(out[n], p, len);
        out[n][len] = '\0';
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

/* A Unix socket directory ("/run/pg", "@abstract") or the default socket: no DNS. */
static bool s_is_socket(const char *host)
{
    return host[0] == '\0' || host[0] == '/' || host[0] == '@';
}

static bool s_is_numeric(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static bool s_needs_dns(const char *host)
{
    return !s_is_socket(host) && !s_is_numeric(host);
}

static void s_free(pgc_resolver_t *self)
{
    for (int i = 0; i < self->n_hosts; i++)
        free(self->hosts[i]);
    for (int i = 0; i < self->n_ports; i++)
        free(self->ports[i]);
    free(self->host.text);
    free(self->hostaddr.text);
    free(self->port.text);
    free(self);
}

/* One entry of the list libpq gets: host i reached at addr ("" for a socket directory). */
static void s_emit(pgc_resolver_t *self, int i, const char *addr)
{
    s_list_add(&self->host, self->hosts[i]);
    s_list_add(&self->hostaddr, addr);
    if (self->n_ports > 1)
        s_list_add(&self->port, self->ports[i]);
}

static void s_on_addrinfo(uv_getaddrinfo_t *req, int status, struct addrinfo *res);

/* Goes on from host `next`, copying the entries that need no lookup, until a lookup of a name
 * is under way (1) or the list is done (0).  A lookup that cannot start leaves its host out
 * (libuv's error in *rc). */
static int s_advance(pgc_resolver_t *self, int *rc)
{
    for (; self->next < self->n_hosts; self->next++) {
        const char *host = self->hosts[self->next];
        if (!s_needs_dns(host)) {
            s_emit(self, self->next, s_is_socket(host) ? "" : host);
            continue;
        }
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        *rc = uv_getaddrinfo(self->loop, &self->req, s_on_addrinfo, host, NULL, &hints);
        if (*rc == 0)
            return 1;
        snprintf(self->error, sizeof self->error, "cannot resolve the PostgreSQL host \"%s\": %s",
                 host, uv_strerror(*rc));
    }
    return 0;
}

static void s_on_addrinfo(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    pgc_resolver_t *self = req->data;
    if (!self->fn) { /* cancelled */
        uv_freeaddrinfo(res);
        s_free(self);
        return;
    }
    const char *host = self->hosts[self->next];
    char seen[PGC_HOST_ADDRS_MAX][INET6_ADDRSTRLEN];
    int n = 0;
    for (struct addrinfo *ai = status == 0 ? res : NULL; ai && n < PGC_HOST_ADDRS_MAX;
         ai = ai->ai_next) {
        char addr[INET6_ADDRSTRLEN];
        const void *bytes = ai->ai_family == AF_INET
                                ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                                : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            !inet_ntop(ai->ai_family, bytes, addr, sizeof addr))
            continue;
        bool dup = false;
        for (int k = 0; k < n && !dup; k++)
            dup = strcmp(seen[k], addr) == 0;
        if (dup)
            continue;
        memcpy(seen[n++], addr, sizeof addr);
        s_emit(self, self->next, addr);
    }
    if (n == 0)
        snprintf(self->error, sizeof self->error, "cannot resolve the PostgreSQL host \"%s\": %s",
                 host, status ? uv_strerror(status) : "no address");
    uv_freeaddrinfo(res);
    self->next++;
    int rc;
    if (s_advance(self, &rc))
        return;
    pgc_hosts_t hosts = {
        .host = self->host.text,
        .hostaddr = self->hostaddr.text,
        .port = self->n_ports > 1 ? self->port.text : NULL,
    };
    self->fn(self->host.n > 0 ? &hosts : NULL, self->error, self->arg);
    s_free(self);
}

/* The conninfo's value of keyword, or the environment's when it has none. */
static const char *s_option(PQconninfoOption *opts, const char *keyword, const char *env)
{
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0 && o->val && o->val[0])
            return o->val;
    const char *v = getenv(env);
    return v && v[0] ? v : NULL;
}

int pgc_host_resolve(uv_loop_t *loop, const char *conninfo, pgc_resolved_fn *fn, void *arg,
                     pgc_resolver_t **out)
{
    *out = NULL;
    char *parse_error = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &parse_error);
    if (!opts) { /* libpq reports the syntax error when connecting, before any lookup */
        PQfreemem(parse_error);
        return 0;
    }
    pgc_resolver_t *self = cd_xcalloc(1, sizeof *self);
    const char *host = s_option(opts, "host", "PGHOST");
    const char *port = s_option(opts, "port", "PGPORT");
    bool usable = false; /* lists this code reads; anything else is left to libpq */
    if (host && !s_option(opts, "hostaddr", "PGHOSTADDR")) {
        int n = s_split(host, self->hosts, PGC_HOST_MAX);
        self->n_hosts = n > 0 ? n : 0;
        usable = n > 0;
    }
    if (usable && port) {
        int n = s_split(port, self->ports, PGC_HOST_MAX);
        self->n_ports = n > 0 ? n : 0;
        usable = n > 0;
    }
    PQconninfoFree(opts);
    /* Several ports must match the hosts one for one; libpq says so before any lookup. */
    usable = usable && (self->n_ports <= 1 || self->n_ports == self->n_hosts);
    bool dns = false;
    for (int i = 0; usable && i < self->n_hosts; i++)
        dns = dns || s_needs_dns(self->hosts[i]);
    if (!dns) {
        s_free(self);
        return 0;
    }
    self->loop = loop;
    self->fn = fn;
    self->arg = arg;
    self->req.data = self;
    /* Lookups that cannot even start are reported to the caller, not through fn. */
    int rc = UV_EAI_FAIL;
    if (!s_advance(self, &rc)) {
        s_free(self);
        return rc;
    }
    *out = self;
    return 1;
}

void pgc_host_cancel(pgc_resolver_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pgc_resolver_t *self = *self_p;
    *self_p = NULL;
    self->fn = NULL;
    uv_cancel((uv_req_t *)&self->req); /* s_on_addrinfo still runs (UV_ECANCELED) and frees */
}
