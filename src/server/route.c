#include "route.h"

int route_send(const route_t *to, const uint8_t *payload, size_t len)
{
    if (!to->sock)
        return -1;
    const void *parts[3];
    size_t lens[3], n = 0;
    parts[n] = to->id;
    lens[n++] = to->id_len;
    if (to->delimiter) {
        parts[n] = "";
        lens[n++] = 0;
    }
    parts[n] = payload;
    lens[n++] = len;
    return zsock_send(to->sock, parts, lens, n);
}
