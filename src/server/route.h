/*  route.h — where a reply goes: a ROUTER socket and the peer's routing id. */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zsock.h"

#define ROUTE_ID_MAX 255 /* ZeroMQ routing ids are 1..255 bytes */

typedef struct route {
    zsock_t *sock; /* borrowed; NULL once the socket is gone */
    uint8_t id[ROUTE_ID_MAX];
    size_t id_len;
    bool delimiter; /* the peer is a REQ socket: keep the empty delimiter frame */
} route_t;

/* Sends payload to the peer (identity, [empty,] payload).  Returns zsock_send's result. */
int route_send(const route_t *to, const uint8_t *payload, size_t len);

#endif
