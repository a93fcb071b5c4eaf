/* dns_gate.c — an LD_PRELOAD shim for test_dbhost: getaddrinfo("localhost") waits while the
 * file named by CODISPATCH_TEST_DNS_GATE is missing (at most 60 s), standing in for a DNS
 * server that does not answer.  Any other lookup, or without the variable, goes straight to
 * the C library.  Test-only: never linked into codispatch. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef int getaddrinfo_fn(const char *, const char *, const struct addrinfo *, struct addrinfo **);

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    const char *gate = getenv("CODISPATCH_TEST_DNS_GATE");
    if (gate && node && strcmp(node, "localhost") == 0) {
        struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};
        for (int i = 0; i < 6000 && access(gate, F_OK) != 0; i++)
            nanosleep(&tick, NULL);
    }
    getaddrinfo_fn *next = (getaddrinfo_fn *)dlsym(RTLD_NEXT, "getaddrinfo");
    return next ? next(node, service, hints, res) : EAI_FAIL;
}
