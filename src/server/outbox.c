#include "outbox.h"

#include <stdlib.h>
#include <string.h>

#include "cd_text.h"
#include "wire.h"

typedef struct held {
    struct held *next;
    route_t to;
    char request_id[CD_REQUEST_ID_MAX + 1];
    int64_t required;
    uint8_t *payload;
    size_t len;
} held_t;

struct outbox {
    held_t *head, *tail;
    size_t len;
};

outbox_t *outbox_new(void)
{
    return cd_xcalloc(1, sizeof(outbox_t));
}

static held_t *s_pop(outbox_t *self)
{
    held_t *h = self->head;
    self->head = h->next;
    if (!self->head)
        self->tail = NULL;
    self->len--;
    return h;
}

static void s_free(held_t *h)
{
    free(h->payload);
    free(h);
}

void outbox_destroy(outbox_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    outbox_t *self = *self_p;
    while (self->head)
        s_free(s_pop(self));
    free(self);
    *self_p = NULL;
}

void outbox_hold(outbox_t *self, const route_t *to, const char *request_id, int64_t required,
                 uint8_t *payload, size_t len)
{
    held_t *h = cd_xcalloc(1, sizeof *h);
    h->to = *to;
    cd_copy(h->request_id, sizeof h->request_id, request_id);
    h->required = required;
    h->payload = payload;
    h->len = len;
    if (self->tail)
        self->tail->next = h;
    else
        self->head = h;
    self->tail = h;
    self->len++;
}

void outbox_release(outbox_t *self, int64_t committed)
{
    while (self->head && self->head->required <= committed) {
        held_t *h = s_pop(self);
        route_send(&h->to, h->payload, h->len);
        s_free(h);
    }
}

void outbox_fail(outbox_t *self, int64_t committed, const cd_error_t *err)
{
    while (self->head) {
        held_t *h = s_pop(self);
        if (h->required <= committed) {
            route_send(&h->to, h->payload, h->len);
        } else {
            size_t len;
            uint8_t *buf = wire_pack_error(h->request_id, (uint64_t)committed, err, &len);
            route_send(&h->to, buf, len);
            free(buf);
        }
        s_free(h);
    }
}

size_t outbox_len(const outbox_t *self)
{
    return self->len;
}
