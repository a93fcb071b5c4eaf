/* harness_http.c — HTTP GET on the server's --http address (or another) and reading /metrics
 * samples. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

/* Connects to addr ("HOST:PORT", loopback) and writes request: the socket, its reads and
 * writes timing out after timeout_s; -1 on failure. */
static int s_send(const char *addr, const char *request, int timeout_s)
{
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    ssize_t n = (ssize_t)strlen(request);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || write(fd, request, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

int harness_http_send(harness_t *self, const char *request, int timeout_s)
{
    return s_send(harness_http(self), request, timeout_s);
}

int harness_http_read(int fd, char **resp)
{
    *resp = NULL;
    if (fd < 0)
        return -1;
    size_t cap = 4 << 20, len = 0;
    char *buf = malloc(cap + 1);
    ssize_t got;
    while (len < cap && (got = read(fd, buf + len, cap - len)) > 0)
        len += (size_t)got;
    close(fd);
    buf[len] = '\0';
    for (size_t i = 0; i < len; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    int status = -1;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    *resp = buf;
    return status;
}

/* Sends request to addr and reads the answer (harness_http_read). */
static int s_exchange(const char *addr, const char *request, int timeout_s, char **resp)
{
    return harness_http_read(s_send(addr, request, timeout_s), resp);
}

int harness_http_raw(harness_t *self, const char *request, int timeout_s, char **resp)
{
    return s_exchange(harness_http(self), request, timeout_s, resp);
}

int harness_http_get(harness_t *self, const char *path, char **body)
{
    return harness_http_get_at(harness_http(self), path, body);
}

int harness_http_get_at(const char *addr, const char *path, char **body)
{
    *body = NULL;
    char req[2048], *resp;
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (n < 0 || (size_t)n >= sizeof req)
        return -1;
    int status = s_exchange(addr, req, 10, &resp);
    char *start = resp ? strstr(resp, "\r\n\r\n") : NULL;
    *body = strdup(start ? start + 4 : "");
    free(resp);
    return status;
}

double harness_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return 0;
}

double harness_scrape(harness_t *self, const char *series)
{
    char *body;
    int status = harness_http_get(self, "/metrics", &body);
    double v = status == 200 ? harness_metric(body, series) : -1;
    free(body);
    return v;
}
